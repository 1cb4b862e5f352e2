from . import mail_compose_message
from . import crm_automation_rule_activate
from . import crm_automation_import_wizard
from . import crm_automation_import_stage
from . import crm_automation_export_wizard
from . import crm_automation_undo_wizard
