from . import mail_compose_message
from . import crm_automation_rule_activate
