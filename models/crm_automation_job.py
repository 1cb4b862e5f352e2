# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import time
from collections import defaultdict
from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine import batch as automation_batch
from ..engine import dispatch as automation_dispatch
from ..engine import params, wakeup

_logger = logging.getLogger(__name__)

# A dispatcher run stops claiming after this many seconds (less under a short cron
# time limit: automation_dispatch.run_time_budget) and reports the rest as remaining,
# so that Odoo's cron runner calls it again (and other crons get a turn).
RUN_TIME_BUDGET = 120


def visit_left_sql(job, lead):
    """SQL twin of ``crm.automation.job._visit_left`` for the tables aliased ``job``
    and ``lead``."""
    return SQL(
        "%s <> COALESCE(%s, 0)",
        SQL.identifier(job, "visit"),
        SQL.identifier(lead, "automation_visit"),
    )


class CrmAutomationJob(models.Model):
    _name = "crm.automation.job"
    _description = "CRM Automation Job"
    _order = "run_at desc, id desc"
    _rec_name = "rule_id"
    # No create/write uid and date columns (like mail.notification): a bulk write
    # inserts 100,000s of job rows and each user column costs a foreign-key check per
    # row. The job has its own times (entered_at, run_at, done_at) and the ledger
    # records who moved the lead.
    _log_access = False

    rule_id = fields.Many2one(
        "crm.automation.rule", required=True, ondelete="cascade", readonly=True
    )
    # No index of its own: the unique key (lead_id, visit, rule_id) leads with it, and
    # every index costs on the 100,000s of rows a bulk write inserts.
    lead_id = fields.Many2one("crm.lead", required=True, ondelete="cascade", readonly=True)
    # Related, not stored: a bulk write inserts 100,000s of job rows and each stored
    # many2one costs a foreign-key check per row (the stage is the rule's).
    stage_id = fields.Many2one(related="rule_id.stage_id")
    action_type = fields.Selection(related="rule_id.action_type")
    visit = fields.Integer(
        readonly=True, help="Stage visit of the lead this job belongs to (re-entry = new visit)."
    )
    entered_at = fields.Datetime(readonly=True, help="When the lead entered the stage.")
    run_at = fields.Datetime(
        readonly=True, required=True, help="When the job is due (next try after a failure)."
    )
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
            ("failed", "Failed"),
        ],
        default="pending",
        required=True,
        readonly=True,
    )
    attempts = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)
    done_at = fields.Datetime(readonly=True)
    result = fields.Char(readonly=True, help="What the action did.")
    # Indexed: every completed activity (done = deleted) nulls this reference; without
    # an index each one would scan the whole job table.
    activity_id = fields.Many2one(
        "mail.activity",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Activity created by the job.",
    )
    company_id = fields.Many2one(related="lead_id.company_id")

    _sql_constraints = [
        (
            "rule_lead_visit_uniq",
            "unique(lead_id, visit, rule_id)",
            "A rule runs once per stage visit of a lead.",
        ),
    ]

    def _auto_init(self):
        res = super()._auto_init()
        # Replaced by the unique key (lead_id, visit, rule_id); Odoo keeps old indexes.
        self._cr.execute(
            "DROP INDEX IF EXISTS crm_automation_job_lead_id_index,"
            " crm_automation_job__lead_id_index"
        )
        # The dispatcher's only hot query scans due pending jobs; done and cancelled
        # rows pile up and must not slow it down: partial index on pending rows.
        tools.create_index(
            self._cr,
            "crm_automation_job_pending_run_at_idx",
            self._table,
            ["run_at", "id"],
            where="state = 'pending'",
        )
        return res

    # ------------------------------------------------------------------
    # Buttons (managers)
    # ------------------------------------------------------------------

    def action_run_now(self):
        """Run the selected pending jobs now, unless another worker holds them."""
        self._check_manager()
        claimed = self._claim(self.ids)
        if not claimed:
            raise UserError(
                _("These jobs are no longer pending (already run, running or cancelled).")
            )
        claimed._run_claimed()
        return True

    def action_cancel(self):
        self._check_manager()
        jobs = self._claim(self.ids)
        jobs._set_cancelled("job_cancelled", _("Cancelled by %(user)s.", user=self.env.user.name))
        return True

    def action_retry(self):
        self._check_manager()
        jobs = self.filtered(lambda j: j.state in ("failed", "cancelled"))
        now = fields.Datetime.now()
        jobs.sudo().write({"state": "pending", "attempts": 0, "run_at": now, "last_error": False})
        for job in jobs:
            self.env["crm.automation.log"]._log(
                job.lead_id,
                "job_retried",
                rule=job.rule_id,
                job=job,
                stage=job.stage_id,
                message=_("Retried by %(user)s.", user=self.env.user.name),
            )
        self._wake_dispatcher([now])
        return True

    def _check_manager(self):
        if not self.env.user.has_group("crm_pipeline_automation.group_automation_manager"):
            raise UserError(_("Only automation managers can run, cancel or retry jobs."))

    # ------------------------------------------------------------------
    # Dispatcher
    # ------------------------------------------------------------------

    @api.model
    def _cron_run_jobs(self):
        """Cron: run due jobs in batches (see _dispatch_due_jobs)."""
        return len(self._dispatch_due_jobs())

    @api.model
    def _dispatch_due_jobs(self, batch_size=None, time_budget=None):
        """Claim and run due jobs batch by batch; return the ids run.

        One savepoint per job, commit per batch outside tests (a crash loses at most
        the current batch, which is then pending again: the commit is what releases
        the claimed rows to ``done``).
        """
        batch_size = batch_size or params.get_int(self.env, "job_batch_size")
        commit = automation_dispatch.may_commit(self.env)
        if time_budget is None:
            time_budget = automation_dispatch.run_time_budget(RUN_TIME_BUDGET)
        deadline = time.monotonic() + time_budget
        # Jobs planned by mass edits first: they become rows, the due ones run below.
        expanded = self.env["crm.automation.job.plan"].sudo()._expand_waiting(deadline, commit)
        run_ids, seen, after = [], set(), None
        last_batch_seconds = 0.0
        # A batch is not claimed if, as long as the last one, it would end past the
        # budget: the run stays within it instead of overshooting by one batch.
        while time.monotonic() + last_batch_seconds < deadline:
            batch_started = time.monotonic()
            now = fields.Datetime.now()
            # The claim reads the table directly: write pending ORM changes first.
            self.env.flush_all()
            try:
                with self.env.cr.savepoint(flush=False):
                    rows = automation_dispatch.claim_due(self.env.cr, now, batch_size, after)
            except psycopg2.errors.SerializationFailure:
                # A row of our snapshot was run and committed by another worker
                # meanwhile: retry with a fresh snapshot, or leave it to the next run.
                if not commit:
                    break
                self.env.cr.rollback()
                continue
            ids = [row[0] for row in rows]
            if not ids or not seen.isdisjoint(ids):
                # Nothing due, or a job we ran is due again (retry in the past):
                # leave it to the next run rather than loop.
                break
            seen.update(ids)
            after = rows[-1][1], rows[-1][0]
            self.browse(ids)._run_claimed()
            run_ids += ids
            if commit:
                # Release the batch: its rows become done/failed for every worker, and
                # a crash later loses at most the next batch (pending again).
                self.env.cr.commit()  # pylint: disable=invalid-commit
                self.env["crm.automation.log"]._loop_guard_reset()
            last_batch_seconds = time.monotonic() - batch_started
        self.env.flush_all()
        remaining = (
            automation_dispatch.count_due(self.env.cr, fields.Datetime.now())
            + self.env["crm.automation.job.plan"]._waiting_jobs()
        )
        self.env["ir.cron"]._notify_progress(done=len(run_ids), remaining=remaining)
        self._wake_for_next_due(remaining if (run_ids or expanded) else 0)
        return run_ids

    @api.model
    def _claim(self, job_ids):
        self.env.flush_all()
        return self.browse(automation_dispatch.claim_ids(self.env.cr, job_ids))

    @api.model
    def _run_ids_now(self, job_ids):
        """Claim and run ``job_ids`` in this transaction (small immediate writes)."""
        self._claim(job_ids)._run_claimed()

    @api.model
    def _wake_dispatcher(self, run_ats):
        """Wake the dispatcher cron when new jobs fall due (engine/wakeup.py): trigger
        rows rounded up to the due second (minute when far), not doubled, and this
        process's alarm for the first one within the look-ahead."""
        if not run_ats:
            return
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_automation_run_jobs", False)
        if not cron:
            return
        now = fields.Datetime.now()
        moments = wakeup.trigger_moments(run_ats, now)
        known = wakeup.existing_triggers(self.env.cr, cron.id, moments)
        new = [moment for moment in moments if moment not in known]
        if new:
            # Past moments: Odoo notifies the cron workers when this transaction commits.
            cron.sudo()._trigger(new)
        soon = [moment for moment in moments if now < moment <= now + wakeup.HORIZON]
        if soon:
            self._arm_alarm(soon[0])

    @api.model
    def _arm_alarm(self, moment):
        """Notify the cron workers at ``moment`` once this transaction commits (the jobs
        and the trigger row exist for them then); never from tests."""
        if automation_dispatch.in_test_mode():
            return
        dbname = self.env.cr.dbname
        self.env.cr.postcommit.add(lambda: wakeup.arm(dbname, moment))

    @api.model
    def _wake_for_next_due(self, remaining):
        """End of a dispatcher run: chain to the next pending job.

        Due work left (``remaining``, given only when this run made progress, so that
        a plan that cannot be expanded is not retried every second): Odoo's runner
        calls again, up to MAX_BATCH_PER_CRON_JOB times, then waits for its next poll:
        the alarm wakes a cron worker a second after this run instead. Next job due
        within the look-ahead: trigger row and alarm at its due second.
        """
        now = fields.Datetime.now()
        next_at = wakeup.next_pending_run_at(self.env.cr)
        if remaining or (next_at and next_at <= now):
            # (a job falling due since ``remaining`` was counted is due work too)
            self._arm_alarm(now)
        elif next_at and next_at <= now + wakeup.HORIZON:
            self._wake_dispatcher([next_at])

    # ------------------------------------------------------------------
    # Running one job
    # ------------------------------------------------------------------

    def _run_claimed(self):
        """Run jobs already claimed (locked) by this transaction, set-wise: grouped by
        rule (engine/batch.py), each group in one savepoint through the rule's set-wise
        executor; a group that raises runs again one job at a time."""
        # Actions run as superuser: rules are configured by automation managers and
        # act on leads the triggering salesperson may not see (other pipelines); the
        # acting user stays env.uid, so chatter authorship and the ledger name them.
        jobs = self.sudo()
        groups = automation_batch.group_jobs(
            [(job.id, job.lead_id.id, job.rule_id.id) for job in jobs]
        )
        last_mail = automation_dispatch.last_mail_id(self.env.cr)
        done = []
        for _rule_id, job_ids in groups:
            done += jobs.browse(job_ids)._run_group()
        self._log_done(done)
        self._wake_mail_queue(last_mail)

    @api.model
    def _wake_mail_queue(self, last_mail):
        """The actions queue their emails (``mail_notify_force_send``: see
        _job_context): wake Odoo's email queue for them (hourly by default), as
        Odoo's event registrations do."""
        if automation_dispatch.mail_queued_since(self.env.cr, last_mail):
            cron = self.env.ref("mail.ir_cron_mail_scheduler_action", False)
            if cron:
                cron.sudo()._trigger()

    def _job_context(self):
        """Context of the action of the job's rule: its moves are automatic (loop
        guard) and their ledger rows name the rule."""
        rule = self.rule_id
        return {
            # Emails and notices are queued, not sent within the batch's transaction,
            # as Odoo's server actions do (ir.actions.server _get_eval_context): a
            # rollback cannot follow an email out, and the batch does not wait on SMTP.
            "mail_notify_force_send": False,
            "crm_automation_auto": True,
            "crm_automation_origin": f"{rule._description}: {rule.name}",
            "crm_automation_rule_id": rule.id,
        }

    def _run_group(self):
        """Run the claimed jobs ``self`` of one rule, one lead each; return [(job,
        result)] of those done.

        Runnability is checked here, just before the group runs: the groups before it
        may have moved its leads (jobs cancelled, conditions no longer met).
        """
        jobs = self._refuse_not_runnable()
        if not jobs:
            return []
        rule = jobs.rule_id
        if len(jobs) < 2 or not rule._runs_set_wise():
            return jobs._run_one_by_one()
        ctx = jobs[:1]._job_context()
        Undo = self.env["crm.automation.undo"]
        leads = (
            self.env["crm.lead"]
            .with_context(active_test=False, **ctx)
            .browse([job.lead_id.id for job in jobs])
        )
        try:
            # One savepoint for the group: all its jobs are done, or none (the group
            # is then run again job by job, each in its own savepoint).
            with self.env.cr.savepoint():
                before = Undo._probe_many(rule, leads)
                results = rule.with_context(**ctx)._execute_batch(leads, jobs)
                activity_ids = [activity_id for _result, activity_id in results]
                Undo._capture_many(rule, leads, jobs, before, activity_ids)
                # The UPDATE below reads no ORM value of the jobs: written set-wise.
                self.flush_model()
                automation_batch.mark_done(
                    self.env.cr,
                    fields.Datetime.now(),
                    [
                        (job.id, str(result), activity_id)
                        for job, (result, activity_id) in zip(jobs, results, strict=False)
                    ],
                )
                jobs.invalidate_recordset(
                    ["state", "done_at", "attempts", "last_error", "result", "activity_id"]
                )
        except Exception as exc:
            _logger.info(
                "Automation rule %s: group of %s jobs failed (%s: %s), running them one by one",
                rule.id,
                len(jobs),
                type(exc).__name__,
                exc,
            )
            for job in jobs:
                Undo._pop_job_data(job)
            return jobs._run_one_by_one()
        return [(job, str(result)) for job, (result, _activity) in zip(jobs, results, strict=False)]

    def _run_one_by_one(self):
        done = []
        for job in self:
            result = job._run_one(checked=True)
            if result is not None:
                done.append((job, result))
        return done

    def _log_done(self, done):
        """Ledger rows and chatter notes of the jobs of a batch that ran, written
        together: one INSERT and one message batch per round instead of per job (the
        chatter note was half of the cost of a job)."""
        if not done:
            return
        Undo = self.env["crm.automation.undo"]
        self.env["crm.automation.log"]._log_many(
            [
                {
                    "lead_id": job.lead_id.id,
                    "kind": "rule_done",
                    "rule_id": job.rule_id.id,
                    "job_id": job.id,
                    "stage_id": job.stage_id.id,
                    "message": result,
                    # what the action replaced (crm.automation.undo)
                    "undo_data": Undo._pop_job_data(job),
                }
                for job, result in done
            ]
        )
        # One note per action: a lead with several jobs in the batch gets one message
        # per round.
        rounds = []
        for job, result in done:
            body = Markup("<p>%s</p>") % _(
                "Automation rule %(rule)s: %(result)s", rule=job.rule_id.name, result=result
            )
            for bodies in rounds:
                if job.lead_id.id not in bodies:
                    bodies[job.lead_id.id] = body
                    break
            else:
                rounds.append({job.lead_id.id: body})
        Lead = self.env["crm.lead"].sudo().with_context(active_test=False)
        for bodies in rounds:
            Lead.browse(list(bodies))._message_log_batch(bodies)

    def _check_runnable(self, condition=True):
        """Why the job must not run now: (kind, message), or None when it may run.

        :param condition: also check the rule's condition (else checked set-wise by
            the caller, see _refuse_not_runnable)
        """
        lead, rule = (
            self.lead_id.with_context(active_test=False),
            self.rule_id.with_context(active_test=False),
        )
        if not lead.active and rule.run_on != "lead_lost":
            return "job_cancelled", _("The lead is lost (archived).")
        if lead.active and rule.run_on == "lead_lost":
            return "job_cancelled", _("The lead was restored.")
        if not rule.active:
            return "job_cancelled", _("The rule is archived.")
        if rule.state != "active":
            return "job_cancelled", _("The rule was set back to draft.")
        if self._visit_left() and not rule.keep_running:
            return "job_cancelled", _("The lead left the stage.")
        if condition and not rule._filter_leads(lead):
            return rule._condition_refusal()
        return None

    def _refuse_not_runnable(self):
        """Cancel the jobs of ``self`` that must not run now, as _check_runnable says
        (same ledger rows), with one condition query per rule; return the others.

        A job no longer pending (cancelled meanwhile by a move of its lead made by a
        job run before it, with its ledger row) is left out.
        """
        refusals = defaultdict(list)  # (kind, message): [job id]
        by_rule = defaultdict(list)  # rule: [job]
        for job in self:
            if job.state != "pending":
                continue
            refusal = job._check_runnable(condition=False)
            if refusal:
                refusals[refusal].append(job.id)
            else:
                by_rule[job.rule_id.with_context(active_test=False)].append(job)
        runnable = []
        for rule, jobs in by_rule.items():
            leads = self.env["crm.lead"].with_context(active_test=False)
            matching = set(rule._filter_leads(leads.browse({job.lead_id.id for job in jobs})).ids)
            for job in jobs:
                if job.lead_id.id in matching:
                    runnable.append(job.id)
                else:
                    refusals[rule._condition_refusal()].append(job.id)
        for (kind, message), job_ids in refusals.items():
            self.browse(job_ids)._set_cancelled(kind, message)
        runnable = set(runnable)
        return self.browse([job.id for job in self if job.id in runnable])

    def _run_one(self, checked=False):
        """Run one claimed job in a savepoint; return what it did, or None.

        :param checked: runnability already checked (_refuse_not_runnable)
        """
        self.ensure_one()
        refusal = None if checked else self._check_runnable()
        if refusal:
            kind, message = refusal
            self._set_cancelled(kind, message)
            return None
        rule = self.rule_id
        lead = self.lead_id.with_context(active_test=False)
        try:
            with self.env.cr.savepoint():
                ctx = self._job_context()
                Undo = self.env["crm.automation.undo"]
                before = Undo._probe(rule, lead)
                result = rule.with_context(**ctx)._execute(lead.with_context(**ctx), self) or ""
                Undo._capture(rule, lead, self, before)
                self.write(
                    {
                        "state": "done",
                        "done_at": fields.Datetime.now(),
                        "attempts": self.attempts + 1,
                        "last_error": False,
                        "result": str(result)[:250],
                    }
                )
        except automation_dispatch.ActionSkipped as skipped:
            self._set_skipped(str(skipped))
            return None
        except Exception as exc:
            self._register_failure(exc)
            return None
        return str(result)

    def _set_skipped(self, reason):
        """The action could not apply to the lead (nothing was done): cancel the job,
        saying why in the job, the ledger and the lead's chatter."""
        self._set_cancelled("rule_skipped", reason)
        self.write({"result": reason[:250]})
        self.lead_id.with_context(active_test=False)._message_log(
            body=Markup("<p>%s</p>")
            % _("Automation rule %(rule)s: %(reason)s", rule=self.rule_id.name, reason=reason),
        )

    def _register_failure(self, exc):
        """Count a failed attempt: retry later with exponential backoff, or fail."""
        max_attempts = params.get_int(self.env, "job_max_attempts")
        base_minutes = params.get_int(self.env, "job_retry_base_minutes")
        attempts = self.attempts + 1
        error = f"{type(exc).__name__}: {exc}"
        _logger.warning(
            "Automation job %s (rule %s, lead %s) failed, attempt %s/%s: %s",
            self.id,
            self.rule_id.id,
            self.lead_id.id,
            attempts,
            max_attempts,
            error,
        )
        if attempts >= max_attempts:
            self.write({"state": "failed", "attempts": attempts, "last_error": error})
            self.env["crm.automation.log"]._log(
                self.lead_id,
                "job_failed",
                rule=self.rule_id,
                job=self,
                stage=self.stage_id,
                message=error,
            )
            self.lead_id.with_context(active_test=False)._message_log(
                body=Markup("<p>%s</p>")
                % _(
                    "Automation rule %(rule)s failed after %(count)s attempts: %(error)s",
                    rule=self.rule_id.name,
                    count=attempts,
                    error=error,
                ),
            )
            return
        next_try = fields.Datetime.now() + timedelta(minutes=base_minutes * 2 ** (attempts - 1))
        self.write({"attempts": attempts, "last_error": error, "run_at": next_try})
        self.env["crm.automation.log"]._log(
            self.lead_id,
            "job_retry",
            rule=self.rule_id,
            job=self,
            stage=self.stage_id,
            message=_(
                "Attempt %(n)s failed, next try at %(at)s UTC: %(error)s",
                n=attempts,
                at=next_try,
                error=error,
            ),
        )
        self._wake_dispatcher([next_try])

    def _done_on_exit(self):
        """Complete the activities of the jobs whose rule asks so (lead left stage); an
        activity already done (archived, kept for the reports) is left as it is."""
        for job in self:
            activity = job.activity_id.with_context(active_test=False)
            if activity.exists() and activity.active and job.rule_id.activity_done_on_exit:
                activity.action_feedback(
                    feedback=_(
                        "Done automatically: the lead left %(stage)s.", stage=job.stage_id.name
                    )
                )
                self.env["crm.automation.log"]._log(
                    job.lead_id,
                    "activity_done",
                    rule=job.rule_id,
                    job=job,
                    stage=job.stage_id,
                    message=_("Activity completed: the lead left the stage."),
                )

    def _set_cancelled(self, kind, message):
        """Cancel pending jobs of ``self`` and write one ledger row each."""
        if not self:
            return
        self.sudo().write({"state": "cancelled", "done_at": fields.Datetime.now()})
        self.env["crm.automation.log"]._log_many(
            [
                {
                    "lead_id": job.lead_id.id,
                    "kind": kind,
                    "rule_id": job.rule_id.id,
                    "job_id": job.id,
                    "stage_id": job.stage_id.id,
                    "message": message,
                }
                for job in self
            ]
        )

    # ------------------------------------------------------------------
    # Leads leaving their stage, pending jobs of the cards
    # ------------------------------------------------------------------

    def _visit_left(self):
        """The lead left the stay in the stage the job was planned for (its visit
        changed since). The one place "the lead left the stage" is decided; the rule's
        ``keep_running`` says what the job does then. SQL twin: ``visit_left_sql``."""
        self.ensure_one()
        return self.visit != self.lead_id.with_context(active_test=False).automation_visit

    @api.model
    def _on_visits_left(self, leads):
        """``leads`` left their stage (visit already incremented): cancel the pending
        jobs of the visits left (unless the rule keeps running) and complete their
        activities (when the rule says so)."""
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
               AND %(left)s AND NOT COALESCE(r.keep_running, FALSE)
            RETURNING j.id, j.lead_id, j.rule_id, r.stage_id
                """,
                now=fields.Datetime.now(),
                ids=leads.ids,
                left=visit_left_sql("j", "l"),
            )
        )
        self.invalidate_model()
        # Out of the comprehension: _() finds the language in the caller's ``self``.
        message = _("The lead left the stage.")
        self.env["crm.automation.log"]._log_many(
            [
                {
                    "lead_id": lead_id,
                    "kind": "job_cancelled",
                    "rule_id": rule_id,
                    "job_id": job_id,
                    "stage_id": stage_id,
                    "message": message,
                }
                for job_id, lead_id, rule_id, stage_id in rows
            ]
        )
        done_jobs = self.search(
            [
                ("lead_id", "in", leads.ids),
                ("activity_id", "!=", False),
                ("rule_id.activity_done_on_exit", "=", True),
            ]
        ).filtered(lambda job: job._visit_left())
        if done_jobs:
            done_jobs._done_on_exit()

    @api.model
    def _next_by_lead(self, lead_ids):
        """{lead id: (run_at, rule id)} of the earliest pending job of each lead (one
        query for a page of cards, through _search so that the record rules apply)."""
        if not lead_ids:
            return {}
        query = self._search([("lead_id", "in", lead_ids), ("state", "=", "pending")])
        table = query.table
        # Column order (not the ORM's, which orders a many2one by its model's _order):
        # DISTINCT ON needs lead_id first.
        query.order = SQL(
            "%s, %s, %s",
            SQL.identifier(table, "lead_id"),
            SQL.identifier(table, "run_at"),
            SQL.identifier(table, "id"),
        )
        return {
            lead_id: (run_at, rule_id)
            for lead_id, run_at, rule_id in self.env.execute_query(
                query.select(
                    SQL(
                        "DISTINCT ON (%s) %s, %s, %s",
                        SQL.identifier(table, "lead_id"),
                        SQL.identifier(table, "lead_id"),
                        SQL.identifier(table, "run_at"),
                        SQL.identifier(table, "rule_id"),
                    )
                )
            )
        }

    @api.model
    def _on_leads_lost(self, leads):
        """Archived (lost) ``leads``: cancel all their pending jobs, say so in the ledger."""
        if not leads:
            return
        jobs = self.search([("lead_id", "in", leads.ids), ("state", "=", "pending")])
        jobs = jobs._claim(jobs.ids)
        jobs._set_cancelled("job_cancelled", _("The lead is lost (archived)."))
        self.env["crm.automation.log"]._log(
            leads, "lead_lost", message=self.env.context.get("crm_automation_origin")
        )
