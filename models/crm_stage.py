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
    gate_line_ids = fields.One2many(
        "crm.stage.gate",
        "stage_id",
        "Gate",
        help="What a lead needs before it may enter this stage: a salesperson's move is "
        "refused with what is missing, an automatic move is held.",
    )
    automation_idle_days = fields.Integer(
        "Rotting after (days)",
        default=0,
        help="A lead nobody touched (no stage change, no activity done, no message or "
        "note of a user) for longer than this many days in this stage is rotting: a "
        "badge on its card, the 'Rotting' filter and the 'Lead idle' trigger event. "
        "0: leads never rot here.",
    )

    def _compute_automation_rule_count(self):
        for stage in self:
            stage.automation_rule_count = len(stage.automation_rule_ids)
