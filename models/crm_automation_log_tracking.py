# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class CrmAutomationLog(models.Model):
    _inherit = "crm.automation.log"

    kind = fields.Selection(
        selection_add=[
            ("trigger_fired", "Trigger fired"),
            ("trigger_blocked", "Trigger blocked"),
        ],
        ondelete={"trigger_fired": "cascade", "trigger_blocked": "cascade"},
    )
