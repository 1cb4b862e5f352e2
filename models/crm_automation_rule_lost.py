# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Rules run when a lead is lost (Exact Spotter: "after discarding a lead in Filter 2,
'Recover the lead' in 3 months"), limited to the stages the lead was lost from."""

from odoo import api, fields, models, tools
from odoo.tools import SQL


class CrmAutomationRule(models.Model):
    _inherit = "crm.automation.rule"

    run_on = fields.Selection(
        [("stage_entry", "A lead enters the stage"), ("lead_lost", "A lead is lost")],
        "Runs when",
        default="stage_entry",
        required=True,
        help="Stage entry: when a lead enters the rule's stage. Lead lost: when a lead of "
        "the rule's pipeline is marked lost (from the stages below); its jobs run on the "
        "lost lead and are cancelled if the lead is restored.",
    )
    lost_stage_ids = fields.Many2many(
        "crm.stage",
        "crm_automation_rule_lost_stage_rel",
        "rule_id",
        "stage_id",
        "Only when lost from",
        help="Lead lost: only for leads lost from one of these stages; empty: from any "
        "stage of the pipeline.",
    )

    @api.depends("run_on", "lost_stage_ids")
    def _compute_timing_description(self):
        result = super()._compute_timing_description()
        for rule in self.filtered(lambda r: r.run_on == "lead_lost"):
            if rule.lost_stage_ids:
                rule.timing_description = self.env._(
                    "When lost from %(stages)s: %(timing)s",
                    stages=", ".join(rule.lost_stage_ids.mapped("name")),
                    timing=rule.timing_description,
                )
            else:
                rule.timing_description = self.env._(
                    "When lost: %(timing)s", timing=rule.timing_description
                )
        return result

    @api.model
    @tools.ormcache()
    def _lost_rule_exists(self):
        """Whether some rule (archived, draft too) runs on lost leads: else marking a
        lead lost costs no query (cleared with the registry cache: ``run_on`` is a
        config field of crm.automation.config.mixin)."""
        return bool(
            self.sudo()
            .with_context(active_test=False)
            .search_count([("run_on", "=", "lead_lost")], limit=1)
        )

    def _lost_applies(self, lead):
        """Whether this "lead lost" rule runs for ``lead``, lost from its stage."""
        self.ensure_one()
        if self.team_id and self.team_id != lead.team_id:
            return False
        return not self.lost_stage_ids or lead.stage_id in self.lost_stage_ids

    @api.model
    def _rules_when_lost(self, leads):
        """[(rule, leads)] of the active "lead lost" rules for ``leads`` (lost, in the
        stage they were lost from); reads only (the dry-run calls it too)."""
        if not leads or not self._lost_rule_exists():
            return []
        rules = self.sudo().search([("run_on", "=", "lead_lost"), ("state", "=", "active")])
        rule_leads = []
        for rule in rules:
            matching = leads.filtered(rule._lost_applies)
            if matching:
                rule_leads.append((rule, matching))
        return rule_leads

    @api.model
    def _schedule_when_lost(self, leads):
        """``leads`` were just marked lost: schedule the "lead lost" rules for them
        through the engine's job path (due ones run now, like a small stage entry)."""
        rule_leads = self._rules_when_lost(leads)
        if not rule_leads:
            return
        lost = leads.browse(list({lead.id for _rule, matching in rule_leads for lead in matching}))
        # A new stay: the loss ends the stage visit (its jobs were cancelled by the
        # archive), the jobs of the loss belong to the next one, which a restore and
        # any move end (same UPDATE as a stage entry).
        self.env.execute_query(
            SQL(
                "UPDATE crm_lead SET automation_visit = COALESCE(automation_visit, 0) + 1 "
                "WHERE id = ANY(%s)",
                lost.ids,
            )
        )
        lost.invalidate_recordset(["automation_visit"])
        due_ids = (
            self.env["crm.automation.job.plan"]
            .sudo()
            ._schedule_jobs(rule_leads, fields.Datetime.now(), return_due=True)
        )
        if due_ids:
            self.env["crm.automation.job"]._run_ids_now(due_ids)
