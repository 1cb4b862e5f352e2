# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Planning of automation jobs: which rules run for which leads and when
(``_plan_jobs``, shared by the engine and the dry-run), and their insertion
(``_schedule_jobs``, called on stage entry). Jobs planned by a bulk write are created
by the dispatcher:

A mass edit that moves 10,000 leads into a stage with 20 rules plans 200,000 jobs. The
decisions (which rule, which lead, which visit, when) are taken in the user's write, as
for any write (``_plan_jobs``), and stored as one row here; the
dispatcher turns the row into the job rows, set-wise, in its own transaction, before it
claims due jobs. The user's write pays for one row instead of 200,000 (each job row costs
two foreign-key checks and three index entries), and nothing can be lost in between: the
plan row is committed with the write, and expanded and deleted in one transaction.

Exactly once: a plan is claimed with ``FOR UPDATE SKIP LOCKED`` and deleted in the
transaction that inserts its jobs, and the unique key (lead, visit, rule) of the jobs
still holds. A lead that left the stage (another visit, unless the rule keeps running)
or was lost before the expansion gets its job inserted as cancelled, with the same
ledger row the move would have written.
"""

import logging
import time
from datetime import datetime
from datetime import time as dt_time

import pytz

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..engine import conditions, params
from ..engine import timing as automation_timing
from ..engine.job_plan import JobPlan
from .crm_automation_job import visit_left_sql

_logger = logging.getLogger(__name__)


class CrmAutomationJobPlan(models.Model):
    _name = "crm.automation.job.plan"
    _description = "CRM Automation Jobs Planned by a Bulk Write"
    _order = "id"

    entered_at = fields.Datetime(required=True, readonly=True)
    job_count = fields.Integer(readonly=True, help="Number of jobs the plan creates.")
    # {"groups": [{"rules": [[rule id, run_at], ...], "leads": [...], "visits": [...]}],
    #  "pairs": {"rules": [...], "leads": [...], "visits": [...], "run_ats": [...]}}
    plan = fields.Json(readonly=True)

    # ------------------------------------------------------------------
    # Planning (the user's write; the dry-run)
    # ------------------------------------------------------------------

    @api.model
    def _plan_jobs(self, rule_leads, entered_at):
        """Which rules run for which leads and when: the one decision function of the
        engine (``_schedule_jobs``) and of the dry-run. Reads only: nothing is written.

        :param rule_leads: list of (rule, leads) pairs (``_automation_rules_to_schedule``)
        :param entered_at: naive UTC datetime of the entry
        :return: JobPlan: ``uniform`` {lead ids: ([rule ids], [run_at])} for rules whose
            due time is the same for all their leads, ``rule_ids`` / ``lead_ids`` /
            ``run_ats`` one per other (rule, lead), ``skipped`` ledger values of the
            (rule, lead) pairs that do not run (condition false, empty date field)
        """
        plan = JobPlan()
        for rule, leads in rule_leads:
            matching = rule._filter_leads(leads)
            not_met = (leads - matching) if len(matching) != len(leads) else ()
            if not_met:
                message = _(
                    "Condition not met at entry: %(domain)s",
                    domain=conditions.condition_words_of(rule),
                )
            for lead in not_met:
                plan.skipped.append(
                    {
                        "lead_id": lead.id,
                        "kind": "rule_skipped",
                        "rule_id": rule.id,
                        "stage_id": rule.stage_id.id,
                        "message": message,
                    }
                )
            if not matching:
                continue
            run_at = self._rule_uniform_run_at(rule, matching, entered_at)
            if run_at is not None:
                group = plan.uniform[tuple(matching.ids)]
                group[0].append(rule.id)
                group[1].append(run_at)
                continue
            run_at_by_lead = self._rule_run_at_batch(rule, matching, entered_at)
            for lead in matching:
                run_at = run_at_by_lead.get(lead.id)
                if run_at is None:
                    plan.skipped.append(
                        {
                            "lead_id": lead.id,
                            "kind": "rule_skipped",
                            "rule_id": rule.id,
                            "stage_id": rule.stage_id.id,
                            "message": _(
                                "%(field)s is empty: nothing to schedule.",
                                field=rule.date_field_id.field_description,
                            ),
                        }
                    )
                    continue
                plan.rule_ids.append(rule.id)
                plan.lead_ids.append(lead.id)
                plan.run_ats.append(run_at)
        return plan

    @api.model
    def _schedule_jobs(self, rule_leads, entered_at, return_due=True):
        """Insert the jobs of stage entries set-wise; return the ids of due jobs.

        :param rule_leads: list of (rule, leads) pairs; the visit is each lead's
            current ``automation_visit``
        :param entered_at: naive UTC datetime of the entry
        :param return_due: return the ids of the jobs due now (small writes run them
            at once); big writes leave them to the dispatcher and skip the RETURNING;
            when they plan more than ``job_plan_threshold`` jobs, the dispatcher also
            inserts the job rows (``crm.automation.job.plan``)
        :return: list of ids of the inserted jobs due now
        """
        Log = self.env["crm.automation.log"]
        plan = self._plan_jobs(rule_leads, entered_at)
        uniform, skipped = plan.uniform, plan.skipped
        rule_ids, lead_ids, run_ats = plan.rule_ids, plan.lead_ids, plan.run_ats
        Log._log_many(skipped)
        if not (uniform or rule_ids):
            return []
        moments = plan.moments()
        if not return_due and plan.job_count() > self._threshold():
            # A mass edit: the jobs are decided here and created by the dispatcher
            # (crm.automation.job.plan), the write pays for one row; the dispatcher
            # starts now to create them.
            self._defer(plan, entered_at)
            self.env["crm.automation.job"]._wake_dispatcher(moments | {entered_at})
            return []
        self.env.flush_all()
        # Raw INSERT ... SELECT: one statement for all (rule, lead) pairs of a bulk
        # write (10 rules x 10,000 leads = 100,000 rows), where the ORM would run one
        # INSERT per 1,000 rows plus per-record computations and checks. Uniform rules
        # send the lead ids once (cross join). No ON CONFLICT: the visit was just
        # incremented (under the lead's row lock), so a (lead, visit, rule) key cannot
        # exist yet; a duplicate would be an engine bug and must fail loudly.
        common = SQL("%(entered_at)s, 'pending', 0", entered_at=entered_at)
        columns = SQL("rule_id, lead_id, visit, run_at, entered_at, state, attempts")
        returning = SQL("RETURNING id, run_at") if return_due else SQL()
        rows = []
        for group_lead_ids, (group_rule_ids, group_run_ats) in uniform.items():
            rows += self.env.execute_query(
                SQL(
                    """
                INSERT INTO crm_automation_job (%(columns)s)
                SELECT r.rule_id, l.id, COALESCE(l.automation_visit, 0), r.run_at, %(common)s
                  FROM unnest(%(rule_ids)s::int[], %(run_ats)s::timestamp[]) AS r(rule_id, run_at)
                 CROSS JOIN crm_lead l
                 WHERE l.id = ANY(%(lead_ids)s)
                %(returning)s
                    """,
                    columns=columns,
                    common=common,
                    rule_ids=group_rule_ids,
                    run_ats=group_run_ats,
                    lead_ids=list(group_lead_ids),
                    returning=returning,
                )
            )
        if rule_ids:
            rows += self.env.execute_query(
                SQL(
                    """
                INSERT INTO crm_automation_job (%(columns)s)
                SELECT u.rule_id, u.lead_id, COALESCE(l.automation_visit, 0), u.run_at, %(common)s
                  FROM unnest(%(rule_ids)s::int[], %(lead_ids)s::int[], %(run_ats)s::timestamp[])
                       AS u(rule_id, lead_id, run_at)
                  JOIN crm_lead l ON l.id = u.lead_id
                %(returning)s
                    """,
                    columns=columns,
                    common=common,
                    rule_ids=rule_ids,
                    lead_ids=lead_ids,
                    run_ats=run_ats,
                    returning=returning,
                )
            )
        self.env["crm.automation.job"].invalidate_model()
        self.env["crm.lead"].invalidate_model(["automation_job_ids"])
        now = fields.Datetime.now()
        if return_due:
            # The caller runs the due jobs in this transaction: wake for the later ones.
            moments = {moment for moment in moments if moment > now}
        self.env["crm.automation.job"]._wake_dispatcher(moments)
        return [job_id for job_id, run_at in rows if run_at <= now]

    @api.model
    def _threshold(self):
        return params.get_int(self.env, "job_plan_threshold")

    @api.model
    def _defer(self, plan, entered_at):
        """Store the jobs of ``plan`` (a ``JobPlan``) for the dispatcher (the caller
        wakes it).

        The visit of each lead is the one it has now (incremented by this write).
        """
        lead_ids = set(plan.lead_ids)
        for group_lead_ids in plan.uniform:
            lead_ids.update(group_lead_ids)
        self.env.flush_all()
        visits = dict(
            self.env.execute_query(
                SQL(
                    "SELECT id, COALESCE(automation_visit, 0) FROM crm_lead WHERE id = ANY(%s)",
                    list(lead_ids),
                )
            )
        )
        to_string = fields.Datetime.to_string
        groups = [
            {
                "rules": [
                    [rule_id, to_string(run_at)]
                    for rule_id, run_at in zip(rule_ids, run_ats, strict=True)
                ],
                "leads": list(group_lead_ids),
                "visits": [visits[lead_id] for lead_id in group_lead_ids],
            }
            for group_lead_ids, (rule_ids, run_ats) in plan.uniform.items()
        ]
        pairs = {
            "rules": plan.rule_ids,
            "leads": plan.lead_ids,
            "visits": [visits[lead_id] for lead_id in plan.lead_ids],
            "run_ats": [to_string(run_at) for run_at in plan.run_ats],
        }
        return self.sudo().create(
            {
                "entered_at": entered_at,
                "job_count": plan.job_count(),
                "plan": {"groups": groups, "pairs": pairs},
            }
        )

    # ------------------------------------------------------------------
    # Expansion (the dispatcher)
    # ------------------------------------------------------------------

    @api.model
    def _expand_waiting(self, deadline=None, commit=False):
        """Expand waiting plans one by one until none is left or ``deadline``
        (``time.monotonic()``) has passed; return the number of jobs created."""
        created, failed = 0, []
        while deadline is None or time.monotonic() < deadline:
            self.env.flush_all()
            rows = self.env.execute_query(
                SQL(
                    "SELECT id FROM crm_automation_job_plan WHERE id <> ALL(%s)"
                    " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                    failed,
                )
            )
            if not rows:
                break
            plan = self.browse(rows[0][0])
            try:
                with self.env.cr.savepoint():
                    created += plan._expand()
            except Exception:
                # An engine bug (e.g. a duplicate job): say it loudly, keep the plan for
                # a fixed version, and do not hold up the other plans and the due jobs.
                _logger.exception("Could not create the jobs of %s", plan)
                failed.append(plan.id)
                continue
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return created

    def _expand(self):
        """Insert the jobs of this (claimed) plan and delete it; return their number."""
        self.ensure_one()
        plan = self.plan or {}
        entered_at = self.entered_at
        cancelled = []
        for group in plan.get("groups", ()):
            rule_ids = [rule_id for rule_id, _run_at in group["rules"]]
            run_ats = [run_at for _rule_id, run_at in group["rules"]]
            source = SQL(
                """
                SELECT r.rule_id, u.lead_id, u.visit, r.run_at
                  FROM unnest(%s::int[], %s::timestamp[]) AS r(rule_id, run_at)
                 CROSS JOIN unnest(%s::int[], %s::int[]) AS u(lead_id, visit)
                """,
                rule_ids,
                run_ats,
                group["leads"],
                group["visits"],
            )
            cancelled += self._insert_jobs(source, entered_at)
        pairs = plan.get("pairs") or {}
        if pairs.get("rules"):
            source = SQL(
                """
                SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], %s::timestamp[])
                    AS p(rule_id, lead_id, visit, run_at)
                """,
                pairs["rules"],
                pairs["leads"],
                pairs["visits"],
                pairs["run_ats"],
            )
            cancelled += self._insert_jobs(source, entered_at)
        messages = {
            "lost": _("The lead is lost (archived)."),
            "left": _("The lead left the stage."),
        }
        self.env["crm.automation.log"]._log_many(
            [
                {
                    "lead_id": lead_id,
                    "kind": "job_cancelled",
                    "rule_id": rule_id,
                    "job_id": job_id,
                    "stage_id": stage_id,
                    "message": messages[reason],
                }
                for job_id, lead_id, rule_id, stage_id, reason in cancelled
            ]
        )
        count = self.job_count
        _logger.info(
            "Created %s jobs of a mass edit (plan %s, %s cancelled)", count, self.id, len(cancelled)
        )
        self.env.execute_query(SQL("DELETE FROM crm_automation_job_plan WHERE id = %s", self.id))
        self.invalidate_recordset()
        self.env["crm.automation.job"].invalidate_model()
        self.env["crm.lead"].invalidate_model(["automation_job_ids"])
        return count

    @api.model
    def _insert_jobs(self, source, entered_at):
        """Insert the jobs of ``source`` (rule_id, lead_id, visit, run_at rows): pending,
        or cancelled when the lead was lost or left that visit meanwhile (as the move
        would have cancelled them). Deleted leads and rules are left out.

        :return: [(job id, lead id, rule id, stage id, "lost" | "left")] of the
            cancelled jobs
        """
        return self.env.execute_query(
            SQL(
                """
            WITH src AS (
                SELECT s.rule_id, s.lead_id, s.visit, s.run_at, ru.stage_id,
                       CASE WHEN NOT l.active THEN 'lost'
                            WHEN %(left)s AND NOT COALESCE(ru.keep_running, FALSE) THEN 'left'
                       END AS gone
                  FROM (%(source)s) AS s
                  JOIN crm_lead l ON l.id = s.lead_id
                  JOIN crm_automation_rule ru ON ru.id = s.rule_id
            ), ins AS (
                INSERT INTO crm_automation_job
                       (rule_id, lead_id, visit, run_at, entered_at, state, attempts, done_at)
                SELECT rule_id, lead_id, visit, run_at, %(entered_at)s,
                       CASE WHEN gone IS NULL THEN 'pending' ELSE 'cancelled' END, 0,
                       CASE WHEN gone IS NULL THEN NULL ELSE %(now)s::timestamp END
                  FROM src
                RETURNING id, rule_id, lead_id, visit, state
            )
            SELECT ins.id, ins.lead_id, ins.rule_id, g.stage_id, g.gone
              FROM ins
              JOIN (SELECT * FROM src WHERE gone IS NOT NULL) AS g
                ON g.lead_id = ins.lead_id AND g.rule_id = ins.rule_id AND g.visit = ins.visit
             WHERE ins.state = 'cancelled'
             ORDER BY ins.id
                """,
                source=source,
                left=visit_left_sql("s", "l"),
                entered_at=entered_at,
                now=fields.Datetime.now(),
            )
        )

    @api.model
    def _waiting_jobs(self):
        """Number of jobs still waiting in plans (dispatcher progress)."""
        return self.env.execute_query(
            SQL("SELECT COALESCE(sum(job_count), 0) FROM crm_automation_job_plan")
        )[0][0]

    # ------------------------------------------------------------------
    # Due times (a rule's timing for a lead entering its stage)
    # ------------------------------------------------------------------

    @api.model
    def _rule_calendar(self, rule, lead):
        """Business-hours calendar and resource (personal leaves) of ``lead``."""
        rule.ensure_one()
        if rule.resource_calendar_id:
            return rule.resource_calendar_id, None
        company = lead.company_id or rule.company_id or self.env.company
        if rule.calendar_source == "salesperson" and lead.user_id:
            resource = lead.user_id.sudo().resource_ids[:1]
            if resource.calendar_id:
                return resource.calendar_id, resource
        return company.resource_calendar_id, None

    @api.model
    def _rule_date_field_start(self, rule, lead):
        """Reference moment (naive UTC) of a date-field rule; None when empty."""
        value = lead[rule.date_field_id.name]
        if not value:
            return None
        if isinstance(value, datetime):
            return value
        # A Date counts from midnight in the calendar's (or the salesperson's) tz.
        calendar, _resource = self._rule_calendar(rule, lead)
        tz = pytz.timezone(calendar.tz or lead.user_id.tz or "UTC")
        return (
            tz.localize(datetime.combine(value, dt_time.min))
            .astimezone(pytz.utc)
            .replace(tzinfo=None)
        )

    @api.model
    def _rule_run_at(self, rule, lead, entered_at):
        """When the job of ``lead`` entering the stage at ``entered_at`` is due.

        :param lead: crm.lead record
        :param entered_at: naive UTC datetime of the stage entry
        :return: naive UTC datetime, or None (date field empty: nothing to run)
        """
        rule.ensure_one()
        if rule.timing == "immediate":
            return entered_at
        count = rule.delay_count
        if rule.timing == "date_field":
            start = self._rule_date_field_start(rule, lead)
            if start is None:
                return None
            if rule.date_direction == "before":
                count = -count
            if not rule.business_hours and not isinstance(lead[rule.date_field_id.name], datetime):
                # A Date plus whole days/months is a local date: midnight local time
                # of the target day, whatever the UTC offset between the two dates.
                calendar, _resource = self._rule_calendar(rule, lead)
                tz = pytz.timezone(calendar.tz or lead.user_id.tz or "UTC")
                local = datetime.combine(lead[rule.date_field_id.name], dt_time.min)
                target = local + automation_timing.calendar_delta(count, rule.delay_unit)
                return tz.localize(target).astimezone(pytz.utc).replace(tzinfo=None)
        else:
            start = entered_at
        if rule.business_hours:
            calendar, resource = self._rule_calendar(rule, lead)
            if calendar:
                return automation_timing.add_business_delay(
                    calendar, start, count, rule.delay_unit, resource=resource
                )
        return automation_timing.add_calendar_delay(start, count, rule.delay_unit)

    @api.model
    def _rule_run_at_batch(self, rule, leads, entered_at):
        """``{lead id: run_at}`` for many leads, computing each distinct case once."""
        rule.ensure_one()
        if rule.timing == "immediate":
            return dict.fromkeys(leads.ids, entered_at)
        if rule.timing == "delay" and (
            not rule.business_hours
            or rule.resource_calendar_id
            or rule.calendar_source == "company"
        ):
            # Same start and same calendar for leads of one company: compute per company.
            by_company = {}
            result = {}
            for lead in leads:
                key = lead.company_id.id
                if key not in by_company:
                    by_company[key] = self._rule_run_at(rule, lead, entered_at)
                result[lead.id] = by_company[key]
            return result
        return {lead.id: self._rule_run_at(rule, lead, entered_at) for lead in leads}

    @api.model
    def _rule_uniform_run_at(self, rule, leads, entered_at):
        """The due time shared by all ``leads``, or None when it depends on the lead."""
        rule.ensure_one()
        if rule.timing == "immediate":
            return entered_at
        if rule.timing != "delay":
            return None
        if not rule.business_hours:
            return automation_timing.add_calendar_delay(
                entered_at, rule.delay_count, rule.delay_unit
            )
        if rule.resource_calendar_id or (
            rule.calendar_source == "company" and len(leads.company_id) <= 1
        ):
            return self._rule_run_at(rule, leads[:1], entered_at)
        return None
