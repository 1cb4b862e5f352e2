from . import crm_automation_rule
from . import crm_automation_rule_update
from . import crm_automation_job
from . import crm_automation_log
from . import crm_lead
from . import crm_stage
