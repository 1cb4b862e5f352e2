# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.tools import SQL

from ..engine import params

STATES = [("draft", "Draft"), ("active", "Active")]


class CrmAutomationRule(models.Model):
    _inherit = "crm.automation.rule"

    # Default "active": rules made in code, data files and the lists take effect as
    # before; the automation board creates its new rules with default_state=draft.
    state = fields.Selection(
        STATES,
        default="active",
        required=True,
        copy=False,
        help="Draft: designed but not running. Only active (not archived) rules run.",
    )
    timing_description = fields.Char(
        "When",
        compute="_compute_timing_description",
        help="When the rule runs, in words.",
    )

    @api.depends(
        "timing",
        "delay_count",
        "delay_unit",
        "date_field_id",
        "date_direction",
        "business_hours",
        "calendar_source",
        "resource_calendar_id",
    )
    @api.depends_context("lang")
    def _compute_timing_description(self):
        for rule in self:
            rule.timing_description = rule._describe_timing()

    def _describe_delay(self):
        """'6 months', '120 min', '1 day' (translated)."""
        count = self.delay_count
        words = {
            "minutes": _("%(count)s min", count=count),
            "hours": _("1 hour") if count == 1 else _("%(count)s hours", count=count),
            "days": _("1 day") if count == 1 else _("%(count)s days", count=count),
            "weeks": _("1 week") if count == 1 else _("%(count)s weeks", count=count),
            "months": _("1 month") if count == 1 else _("%(count)s months", count=count),
        }
        return words[self.delay_unit]

    def _describe_timing(self):
        """The rule's timing in words: 'after 6 months', '120 min before Meeting date,
        business hours' (one line, for the board and the rule list)."""
        self.ensure_one()
        if self.timing == "immediate":
            return _("Immediately")
        if self.timing == "date_field":
            # sudo: field labels (ir.model.fields) are readable by administrators only.
            field = self.date_field_id.sudo().field_description or "?"
            if not self.delay_count:
                text = _("At %(field)s", field=field)
            elif self.date_direction == "before":
                text = _("%(delay)s before %(field)s", delay=self._describe_delay(), field=field)
            else:
                text = _("%(delay)s after %(field)s", delay=self._describe_delay(), field=field)
        elif not self.delay_count:
            text = _("Immediately")
        else:
            text = _("after %(delay)s", delay=self._describe_delay())
        if self.business_hours:
            if self.resource_calendar_id:
                hours = _("business hours (%(calendar)s)", calendar=self.resource_calendar_id.name)
            elif self.calendar_source == "salesperson":
                hours = _("salesperson's business hours")
            else:
                hours = _("business hours")
            text = _("%(timing)s, %(hours)s", timing=text, hours=hours)
        return text

    # ------------------------------------------------------------------
    # Draft / active
    # ------------------------------------------------------------------

    def action_activate(self):
        """Activate the rule; when leads already wait in its stage, ask first whether
        the rule applies to them too (wizard)."""
        self.ensure_one()
        if self.state == "active":
            return True
        if not self._leads_already_in_stage():
            self.state = "active"
            return True
        return {
            "type": "ir.actions.act_window",
            "name": _("Activate %(rule)s", rule=self.name),
            "res_model": "crm.automation.rule.activate",
            "view_mode": "form",
            "target": "new",
            "context": {"default_rule_id": self.id},
        }

    def action_set_draft(self):
        """Stop the rules: their pending jobs are cancelled when due (ledger)."""
        self.state = "draft"
        return True

    def _leads_already_in_stage(self):
        """Leads now in the rule's stage that match its condition and have no job of
        this rule for their current visit (what "apply to leads already in this stage"
        would schedule)."""
        self.ensure_one()
        # The manager's configuration applies to every lead of the stage, whoever may
        # read them: count and schedule as superuser (one search, ids only).
        leads = self.env["crm.lead"].sudo().search([("stage_id", "=", self.stage_id.id)])
        leads = self.sudo()._filter_leads(leads)
        if not leads:
            return leads
        done = {
            (job.lead_id.id, job.visit)
            for job in self.env["crm.automation.job"]
            .sudo()
            .search([("rule_id", "=", self.id), ("lead_id", "in", leads.ids)])
        }
        return leads.filtered(lambda lead: (lead.id, lead.automation_visit) not in done)

    def _activate(self, apply_existing=False):
        """Activate; with ``apply_existing``, schedule the rule for the leads already in
        its stage, counted from now, through the engine's own job path (one job per
        lead and visit: the unique key holds, leads that have one are left out).

        :return: number of leads the rule was applied to
        """
        self.ensure_one()
        # Serialize two managers activating the same rule: the second one sees the
        # jobs of the first and schedules nothing twice.
        self.env.cr.execute(
            SQL("SELECT id FROM crm_automation_rule WHERE id = %s FOR UPDATE", self.id)
        )
        self.state = "active"
        if not apply_existing:
            return 0
        leads = self._leads_already_in_stage()
        if not leads:
            return 0
        Lead = self.env["crm.lead"]
        threshold = params.get_int(self.env, "immediate_run_threshold")
        small = len(leads) <= threshold
        due_ids = self.sudo()._schedule_jobs([(self.sudo(), leads)], fields.Datetime.now(), small)
        if due_ids and small:
            self.env["crm.automation.job"]._run_ids_now(due_ids)
        Lead.invalidate_model(["automation_job_ids"])
        return len(leads)
