# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine import params


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
            wizard.lead_count = len(self._leads_already_in_stage(wizard.rule_id))

    def action_confirm(self):
        self.ensure_one()
        if not self.env.user.has_group("crm_pipeline_automation.group_automation_manager"):
            raise UserError(_("Only automation managers can activate rules."))
        count = self._activate(self.rule_id, apply_existing=self.apply_existing)
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

    # ------------------------------------------------------------------
    # Activation (also used by crm.automation.rule.action_activate)
    # ------------------------------------------------------------------

    @api.model
    def _leads_already_in_stage(self, rule):
        """Leads now in ``rule``'s stage that match its condition and have no job of
        this rule for their current visit (what "apply to leads already in this stage"
        would schedule)."""
        rule.ensure_one()
        if rule.run_on == "lead_lost":
            return self.env["crm.lead"]  # runs on leads lost from now on only
        # The manager's configuration applies to every lead of the stage, whoever may
        # read them: count and schedule as superuser (one search, ids only).
        leads = self.env["crm.lead"].sudo().search([("stage_id", "=", rule.stage_id.id)])
        leads = rule.sudo()._filter_leads(leads)
        if not leads:
            return leads
        done = {
            (job.lead_id.id, job.visit)
            for job in self.env["crm.automation.job"]
            .sudo()
            .search([("rule_id", "=", rule.id), ("lead_id", "in", leads.ids)])
        }
        return leads.filtered(lambda lead: (lead.id, lead.automation_visit) not in done)

    @api.model
    def _activate(self, rule, apply_existing=False):
        """Activate ``rule``; with ``apply_existing``, schedule it for the leads already
        in its stage, counted from now, through the engine's own job path (one job per
        lead and visit: the unique key holds, leads that have one are left out).

        :return: number of leads the rule was applied to
        """
        rule.ensure_one()
        # Serialize two managers activating the same rule: the second one sees the
        # jobs of the first and schedules nothing twice.
        self.env.cr.execute(
            SQL("SELECT id FROM crm_automation_rule WHERE id = %s FOR UPDATE", rule.id)
        )
        rule.state = "active"
        if not apply_existing:
            return 0
        leads = self._leads_already_in_stage(rule)
        if not leads:
            return 0
        threshold = params.get_int(self.env, "immediate_run_threshold")
        small = len(leads) <= threshold
        due_ids = (
            self.env["crm.automation.job.plan"]
            .sudo()
            ._schedule_jobs([(rule.sudo(), leads)], fields.Datetime.now(), small)
        )
        if due_ids and small:
            self.env["crm.automation.job"]._run_ids_now(due_ids)
        self.env["crm.lead"].invalidate_model(["automation_job_ids"])
        return len(leads)
