# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Jobs planned by a bulk write, created by the dispatcher.

A mass edit that moves 10,000 leads into a stage with 20 rules plans 200,000 jobs. The
decisions (which rule, which lead, which visit, when) are taken in the user's write, as
for any write (``crm.automation.rule._plan_jobs``), and stored as one row here; the
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

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..engine import params
from .crm_automation_job import visit_left_sql

_logger = logging.getLogger(__name__)

# Writes planning more (rule, lead) jobs than this hand the job rows to the dispatcher.


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
    # Planning (the user's write)
    # ------------------------------------------------------------------

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
