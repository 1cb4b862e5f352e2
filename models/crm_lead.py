# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..engine import params

# Context key: set while the engine itself writes leads it already handled.
SKIP_KEY = "crm_automation_skip"
# Cursor-cache key of the per-transaction automatic-move counters (loop guard).
MOVES_KEY = "crm_automation_moves"


class CrmLead(models.Model):
    _inherit = "crm.lead"

    automation_visit = fields.Integer(
        "Stage visit",
        copy=False,
        readonly=True,
        default=0,
        help="Incremented at each stage change: identifies the current stay in the stage.",
    )
    automation_origin_lead_id = fields.Many2one(
        "crm.lead",
        "Created from",
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Lead whose automation rule created this one (repeat or copy).",
    )
    automation_job_ids = fields.One2many("crm.automation.job", "lead_id", "Automation jobs")
    automation_log_ids = fields.One2many("crm.automation.log", "lead_id", "Automation ledger")
    automation_log_count = fields.Integer(compute="_compute_automation_counts")
    automation_job_pending_count = fields.Integer(compute="_compute_automation_counts")

    def _compute_automation_counts(self):
        logs = dict(
            self.env["crm.automation.log"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        jobs = dict(
            self.env["crm.automation.job"]._read_group(
                [("lead_id", "in", self.ids), ("state", "=", "pending")], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.automation_log_count = logs.get(lead, 0)
            lead.automation_job_pending_count = jobs.get(lead, 0)

    def _merge_get_fields_specific(self):
        specific = super()._merge_get_fields_specific()
        specific["automation_origin_lead_id"] = lambda fname, leads: next(
            (lead.automation_origin_lead_id for lead in leads if lead.automation_origin_lead_id),
            False,
        )
        return specific

    # ------------------------------------------------------------------
    # Stage entry detection
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        if not self.env.context.get(SKIP_KEY):
            # A created lead enters its (possibly computed) first stage.
            entered = leads.filtered("stage_id")
            if entered:
                entered._automation_stage_changed({})
        return leads

    def write(self, vals):
        if self.env.context.get(SKIP_KEY) or not ({"stage_id", "active"} & vals.keys()):
            return super().write(vals)
        old_stages = {lead.id: lead.stage_id for lead in self} if "stage_id" in vals else {}
        was_active = self.filtered("active") if vals.get("active") is False else self.browse()
        result = super().write(vals)
        if was_active:
            was_active._automation_lost()
        if old_stages:
            moved = self.filtered(lambda lead: lead.stage_id != old_stages[lead.id])
            if moved:
                moved._automation_stage_changed(old_stages)
        return result

    def _automation_lost(self):
        """Archived (lost) leads: cancel all their pending jobs, say so in the ledger."""
        jobs = (
            self.env["crm.automation.job"]
            .sudo()
            .search([("lead_id", "in", self.ids), ("state", "=", "pending")])
        )
        jobs = jobs._claim(jobs.ids)
        jobs._set_cancelled("job_cancelled", _("The lead is lost (archived)."))
        self.env["crm.automation.log"]._log(
            self, "lead_lost", message=self.env.context.get("crm_automation_origin")
        )

    def _automation_stage_changed(self, old_stages):
        """Handle stage entries of ``self`` (all changed stage), set-wise.

        :param old_stages: {lead id: crm.stage left} (empty for created leads)
        """
        now = fields.Datetime.now()
        Log = self.env["crm.automation.log"]
        # 1. new visit: one UPDATE for all leads (the ORM would write per value).
        self.env.execute_query(
            SQL(
                "UPDATE crm_lead SET automation_visit = COALESCE(automation_visit, 0) + 1 "
                "WHERE id = ANY(%s)",
                self.ids,
            )
        )
        self.invalidate_recordset(["automation_visit"])
        if old_stages:
            self._automation_visits_left()
        # 2. loop guard, only for moves made by the automation.
        leads = self
        if self.env.context.get("crm_automation_auto"):
            leads = self._automation_loop_guard(count=True)
        if not leads:
            return
        # 3. ledger: stage entered (by whom / what).
        Log._log_many(
            [
                {
                    "lead_id": lead.id,
                    "kind": "stage_entered",
                    "stage_id": lead.stage_id.id,
                    "from_stage_id": old_stages.get(lead.id, self.env["crm.stage"]).id,
                }
                for lead in leads
            ]
        )
        # 4. rules of the entered stage, plus opted-in rules of stages jumped over.
        rule_leads = leads._automation_rules_to_schedule(old_stages)
        if not rule_leads:
            return
        threshold = params.get_int(self.env, "immediate_run_threshold")
        small = len(leads) <= threshold
        due_ids = (
            self.env["crm.automation.rule"].sudo()._schedule_jobs(rule_leads, now, return_due=small)
        )
        if due_ids and small:
            # Few leads: the salesperson sees the result on save; each job is isolated
            # in its own savepoint, so a failing action never fails this write.
            self.env["crm.automation.job"]._run_ids_now(due_ids)

    def _automation_visits_left(self):
        """``self`` left their stage (visit already incremented): cancel that visit's
        pending jobs (unless the rule keeps running) and complete its activities."""
        # Raw UPDATE ... RETURNING: one statement whatever the number of leads.
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
            UPDATE crm_automation_job j
               SET state = 'cancelled', done_at = %(now)s
              FROM crm_automation_rule r, crm_lead l
             WHERE j.rule_id = r.id AND l.id = j.lead_id
               AND j.lead_id = ANY(%(ids)s) AND j.state = 'pending'
               AND j.visit < l.automation_visit AND NOT COALESCE(r.keep_running, FALSE)
            RETURNING j.id, j.lead_id, j.rule_id, r.stage_id
                """,
                now=fields.Datetime.now(),
                ids=self.ids,
            )
        )
        self.env["crm.automation.job"].invalidate_model()
        self.env["crm.automation.log"]._log_many(
            [
                {
                    "lead_id": lead_id,
                    "kind": "job_cancelled",
                    "rule_id": rule_id,
                    "job_id": job_id,
                    "stage_id": stage_id,
                    "message": _("The lead left the stage."),
                }
                for job_id, lead_id, rule_id, stage_id in rows
            ]
        )
        done_jobs = (
            self.env["crm.automation.job"]
            .sudo()
            .search(
                [
                    ("lead_id", "in", self.ids),
                    ("activity_id", "!=", False),
                    ("rule_id.activity_done_on_exit", "=", True),
                ]
            )
        )
        done_jobs = done_jobs.filtered(lambda j: j.visit < j.lead_id.automation_visit)
        if done_jobs:
            self.env["crm.automation.rule"].sudo()._on_visits_left(done_jobs)

    def _automation_rules_to_schedule(self, old_stages):
        """[(rule, leads)] to schedule for the entries of ``self``."""
        Stage = self.env["crm.stage"].sudo()
        # Ids in lists, recordsets built once: `|=` in a loop is quadratic on 10,000 leads.
        groups = defaultdict(list)
        for lead in self:
            old = old_stages.get(lead.id, Stage)
            groups[(lead.stage_id, old, lead.team_id)].append(lead.id)
        by_rule = defaultdict(list)
        for (stage, old, team), lead_ids in groups.items():
            for rule in stage.sudo().automation_rule_ids.filtered(
                lambda r: r.active and r.state == "active"
            ):
                by_rule[rule].extend(lead_ids)
            if old and old.sequence < stage.sequence:
                # Forward jump: stages of the pipeline strictly between old and new.
                skipped = Stage.search(
                    [
                        ("id", "not in", (old | stage).ids),
                        ("sequence", ">", old.sequence),
                        ("sequence", "<", stage.sequence),
                        ("team_id", "in", [False, team.id]),
                    ]
                )
                rules = (
                    self.env["crm.automation.rule"]
                    .sudo()
                    .search(
                        [
                            ("stage_id", "in", skipped.ids),
                            ("run_when_skipped", "=", True),
                            ("active", "=", True),
                            ("state", "=", "active"),
                        ]
                    )
                )
                for rule in rules:
                    by_rule[rule].extend(lead_ids)
        return [(rule, self.browse(lead_ids)) for rule, lead_ids in by_rule.items()]

    # ------------------------------------------------------------------
    # Loop guard
    # ------------------------------------------------------------------

    def _automation_loop_guard(self, count=False):
        """Leads of ``self`` still allowed an automatic move; the others get a
        ``loop_stopped`` ledger row.

        :param count: count this move in the per-transaction counter (the engine does
            it on entry; triggers call it without counting before they move)
        :return: crm.lead recordset allowed
        """
        if count:
            counters = self.env.cr.cache.setdefault(MOVES_KEY, defaultdict(int))
            for lead in self:
                counters[lead.id] += 1
        stopped = self._automation_loop_guard_refusals()
        if stopped:
            self.env["crm.automation.log"]._log_many(
                [
                    {
                        "lead_id": lead.id,
                        "kind": "loop_stopped",
                        "stage_id": lead.stage_id.id,
                        "message": stopped[lead.id],
                    }
                    for lead in self
                    if lead.id in stopped
                ]
            )
        return self.filtered(lambda lead: lead.id not in stopped)

    def _automation_loop_guard_refusals(self, extra=0):
        """Why the loop guard stops an automatic move of leads of ``self``; reads only
        (shared by the engine and the dry-run).

        :param extra: moves to add to the per-transaction counters (the dry-run counts
            the entry it simulates without touching them)
        :return: {lead id: reason} of the leads stopped
        """
        max_tx = params.get_int(self.env, "loop_max_moves_per_transaction")
        max_hour = params.get_int(self.env, "loop_max_moves_per_hour")
        counters = self.env.cr.cache.get(MOVES_KEY) or {}
        since = fields.Datetime.now() - timedelta(hours=1)
        ids = [lead_id for lead_id in self.ids if isinstance(lead_id, int)]
        hourly = dict(
            self.env.execute_query(
                SQL(
                    """
                SELECT lead_id, count(*) FROM crm_automation_log
                 WHERE lead_id = ANY(%s) AND kind = 'stage_entered' AND automatic
                   AND create_date >= %s
                 GROUP BY lead_id
                    """,
                    ids,
                    since,
                )
            )
            if ids
            else []
        )
        stopped = {}
        for lead_id in self.ids:
            if counters.get(lead_id, 0) + extra > max_tx:
                stopped[lead_id] = _(
                    "More than %(n)s automatic moves in one transaction.", n=max_tx
                )
            elif hourly.get(lead_id, 0) >= max_hour:
                stopped[lead_id] = _("More than %(n)s automatic moves in one hour.", n=max_hour)
        return stopped

    @api.model
    def _automation_reset_transaction_counters(self):
        """Forget the per-transaction move counters (after a commit)."""
        self.env.cr.cache.pop(MOVES_KEY, None)

    # ------------------------------------------------------------------
    # Smart button
    # ------------------------------------------------------------------

    def action_view_automation(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_automation_log_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"default_lead_id": self.id}
        action["name"] = _("Automation of %(lead)s", lead=self.display_name)
        return action

    def action_view_automation_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_automation_job_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"search_default_filter_pending": 1}
        return action
