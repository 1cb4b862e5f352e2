# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

from .crm_automation_rule import STATES


class CrmStageTrigger(models.Model):
    _inherit = "crm.stage.trigger"

    # Default "active" (code, data, lists); the automation board creates drafts.
    state = fields.Selection(
        STATES,
        default="active",
        required=True,
        copy=False,
        help="Draft: designed but not firing. Only active (not archived) triggers fire.",
    )

    def action_activate(self):
        self.state = "active"
        return True

    def action_set_draft(self):
        self.state = "draft"
        return True
