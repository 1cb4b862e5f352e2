# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class CrmStage(models.Model):
    _inherit = "crm.stage"

    automation_rule_ids = fields.One2many(
        "crm.automation.rule",
        "stage_id",
        "Automation rules",
        help="What happens when a lead enters this stage, now or later.",
    )
    trigger_ids = fields.One2many(
        "crm.stage.trigger",
        "stage_id",
        "Triggers",
        help="Engagement events that move a lead to this stage.",
    )
    automation_rule_count = fields.Integer(compute="_compute_automation_rule_count")

    def _compute_automation_rule_count(self):
        for stage in self:
            stage.automation_rule_count = len(stage.automation_rule_ids)
