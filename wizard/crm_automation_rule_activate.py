# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import UserError


class CrmAutomationRuleActivate(models.TransientModel):
    _name = "crm.automation.rule.activate"
    _description = "Activate an automation rule"

    rule_id = fields.Many2one("crm.automation.rule", required=True, ondelete="cascade")
    stage_id = fields.Many2one(related="rule_id.stage_id")
    lead_count = fields.Integer(
        "Leads in the stage",
        compute="_compute_lead_count",
        help="Leads now in the stage, matching the rule's condition, that the rule has not "
        "run for during their current stay.",
    )
    apply_existing = fields.Boolean(
        "Also apply to leads already in this stage",
        help="Schedule the rule for them as if they entered the stage now.",
    )

    @api.depends("rule_id")
    def _compute_lead_count(self):
        for wizard in self:
            wizard.lead_count = len(wizard.rule_id._leads_already_in_stage())

    def action_confirm(self):
        self.ensure_one()
        if not self.env.user.has_group("crm_pipeline_automation.group_automation_manager"):
            raise UserError(_("Only automation managers can activate rules."))
        count = self.rule_id._activate(apply_existing=self.apply_existing)
        if not count:
            return {"type": "ir.actions.act_window_close"}
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _(
                    "%(rule)s is active and scheduled for %(count)s leads.",
                    rule=self.rule_id.name,
                    count=count,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
