from . import crm_lead_event
from . import crm_stage_trigger
from . import crm_lead_tracking
from . import crm_stage_tracking
from . import mail_mail
from . import website_visitor
