# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import select
import time
from contextlib import closing
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.sql_db import db_connect
from odoo.tests import TransactionCase, tagged

from ..engine import wakeup
from .common import NOW, AutomationCase, CommittedPipelineCase, run_on_two_connections


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestJobDispatch(AutomationCase):
    """Batches, progress reporting, time budget."""

    def _due_jobs(self, count):
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        leads = self.env["crm.lead"].create(
            [
                {"name": f"L{i}", "team_id": self.team.id, "stage_id": self.stage_new.id}
                for i in range(count)
            ]
        )
        leads.write({"stage_id": self.stage_qualified.id})
        return self.Job.search([("lead_id", "in", leads.ids)])

    def test_batches_and_progress(self):
        jobs = self._due_jobs(5)
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_automation_run_jobs")
        cron, progress = cron._add_progress()
        with freeze_time(NOW + timedelta(hours=1)):
            self.env["ir.config_parameter"].set_param("crm_pipeline_automation.job_batch_size", 2)
            done = self.Job.with_context(ir_cron_progress_id=progress.id)._cron_run_jobs()
        self.assertEqual(done, 5)
        self.assertEqual(set(jobs.mapped("state")), {"done"})
        self.assertEqual((progress.done, progress.remaining), (5, 0))

    def test_time_budget_reports_remaining(self):
        self._due_jobs(3)
        cron, progress = self.env.ref(
            "crm_pipeline_automation.ir_cron_crm_automation_run_jobs"
        )._add_progress()
        with freeze_time(NOW + timedelta(hours=1)):
            run = self.Job.with_context(ir_cron_progress_id=progress.id)._dispatch_due_jobs(
                time_budget=0
            )
        self.assertFalse(run)
        self.assertEqual(progress.remaining, 3)

    def test_not_due_jobs_wait(self):
        jobs = self._due_jobs(2)
        self.assertFalse(self._dispatch())
        self.assertEqual(set(jobs.mapped("state")), {"pending"})


@tagged("post_install", "-at_install")
class TestJobDispatchConcurrency(CommittedPipelineCase):
    """Two dispatchers on two real database connections run every job exactly once."""

    JOBS = 40

    def _setup_committed(self):
        """40 leads entered a stage whose rule tags them an hour later; all due now."""

        def rule_vals(env):
            tag = env["crm.tag"].create({"name": "Concurrency"})
            return {
                "action_type": "tags",
                "tag_add_ids": [Command.link(tag.id)],
                "timing": "delay",
                "delay_count": 1,
                "delay_unit": "hours",
            }

        def move(env, leads, stage_b):
            leads.write({"stage_id": stage_b.id})
            jobs = env["crm.automation.job"].search([("lead_id", "in", leads.ids)])
            jobs.sudo().write({"run_at": fields.Datetime.now() - timedelta(minutes=1)})
            tag = stage_b.automation_rule_ids.tag_add_ids
            return {"jobs": jobs.ids, "tag": tag.id, "tags": tag.ids}

        return self._committed_pipeline("Conc", self.JOBS, rule_vals, move)

    def test_two_dispatchers_exactly_once(self):
        dbname = self.env.cr.dbname
        data = self._setup_committed()
        results = run_on_two_connections(
            self.registry,
            dbname,
            lambda env: env["crm.automation.job"]._dispatch_due_jobs(batch_size=3),
        )
        for name in ("one", "two"):
            self.assertIsInstance(results.get(name), list, results.get(name))
        one, two = set(results["one"]), set(results["two"])
        self.assertFalse(one & two, "a job ran in both dispatchers")
        self.assertEqual((one | two) & set(data["jobs"]), set(data["jobs"]))
        self.assertTrue(one and two, "both dispatchers should have taken a share")
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            jobs = env["crm.automation.job"].browse(data["jobs"])
            self.assertEqual(set(jobs.mapped("state")), {"done"})
            self.assertEqual(set(jobs.mapped("attempts")), {1})
            done = env["crm.automation.log"].search(
                [("job_id", "in", data["jobs"]), ("kind", "=", "rule_done")]
            )
            self.assertEqual(sorted(done.job_id.ids), sorted(data["jobs"]))
            self.assertEqual(len(done), self.JOBS)
            leads = env["crm.lead"].browse(data["leads"])
            self.assertTrue(all(data["tag"] in lead.tag_ids.ids for lead in leads))


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestDispatcherWakeUp(AutomationCase):
    """The dispatcher cron is triggered when jobs fall due, not before (engine/wakeup.py):
    the ir_cron_trigger rows made for given due moments."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cron = cls.env.ref("crm_pipeline_automation.ir_cron_crm_automation_run_jobs")

    def setUp(self):
        super().setUp()
        self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).unlink()

    def _calls(self):
        triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)])
        return sorted(triggers.mapped("call_at"))

    def _move(self, count, stage=None):
        leads = self.env["crm.lead"].create(
            [
                {"name": f"W{i}", "team_id": self.team.id, "stage_id": self.stage_new.id}
                for i in range(count)
            ]
        )
        leads.write({"stage_id": (stage or self.stage_qualified).id})
        return leads

    def test_trigger_at_the_due_second_not_the_minute_floor(self):
        self.Job._wake_dispatcher(
            [
                NOW + timedelta(seconds=30, microseconds=500),  # rounded up: due then
                NOW + timedelta(seconds=90),
                NOW - timedelta(minutes=5),  # overdue: now, the workers are notified
            ]
        )
        self.assertEqual(
            self._calls(), [NOW, NOW + timedelta(seconds=31), NOW + timedelta(seconds=90)]
        )

    def test_far_moments_rounded_up_to_the_minute(self):
        self.Job._wake_dispatcher(
            [NOW + timedelta(hours=2, seconds=s) for s in (1, 10, 59)] + [NOW + timedelta(hours=3)]
        )
        self.assertEqual(
            self._calls(), [NOW + timedelta(hours=2, minutes=1), NOW + timedelta(hours=3)]
        )

    def test_delayed_rule_triggers_at_its_due_time(self):
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="minutes")
        self._move(30)
        self.assertEqual(self._calls(), [NOW + timedelta(minutes=1)])
        # Another write due at the same second: no second row.
        self._move(30)
        self.assertEqual(self._calls(), [NOW + timedelta(minutes=1)])

    def test_many_moments_bounded(self):
        # 100,000 jobs spread over a day (a date-relative rule): a bounded number of
        # rows, the earliest first; the runs chain to the later ones.
        moments = [NOW + timedelta(seconds=s) for s in range(1, 86400, 1)]
        self.Job._wake_dispatcher(moments)
        calls = self._calls()
        self.assertEqual(len(calls), wakeup.MAX_TRIGGERS)
        self.assertEqual(calls[0], NOW + timedelta(seconds=1))

    def test_small_write_running_its_jobs_does_not_wake_the_cron(self):
        self._rule(self.stage_qualified)
        leads = self._move(2)
        self.assertIn(self.tag_hot, leads[0].tag_ids, "run in the write")
        self.assertEqual(self._calls(), [])

    def test_mass_edit_wakes_the_dispatcher_at_once(self):
        self._rule(self.stage_qualified)
        self._move(25)
        self.assertEqual(self._calls(), [NOW])

    def test_run_chains_to_the_next_job_due_before_the_next_poll(self):
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="minutes")
        self._move(2)
        self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).unlink()
        with freeze_time(NOW + timedelta(seconds=30)):
            self.assertFalse(self._dispatch())
            self.assertEqual(self._calls(), [NOW + timedelta(minutes=1)])
            # A run that finds it there again does not double the row.
            self.assertFalse(self._dispatch())
            self.assertEqual(self._calls(), [NOW + timedelta(minutes=1)])

    def test_run_leaves_later_jobs_to_the_minutely_cron(self):
        self._rule(self.stage_qualified, timing="delay", delay_count=10, delay_unit="minutes")
        self._move(2)
        self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).unlink()
        self.assertFalse(self._dispatch())
        self.assertEqual(self._calls(), [])
        with freeze_time(NOW + timedelta(minutes=9)):
            self.assertFalse(self._dispatch())
            self.assertEqual(self._calls(), [NOW + timedelta(minutes=10)])


@tagged("post_install", "-at_install")
class TestDispatcherAlarm(TransactionCase):
    """The process-local alarm that wakes Odoo's cron runner at a due moment."""

    def test_alarm_notifies_the_cron_workers(self):
        """The alarm sends Odoo's cron_trigger notification (what wakes cron threads
        and workers) when it rings."""
        dbname = "crm_automation_wakeup_test"
        with closing(db_connect("postgres").cursor()) as cr:
            cr._cnx.autocommit = True
            cr.execute("LISTEN cron_trigger")
            now = datetime.utcnow()
            wakeup.arm(dbname, now + timedelta(seconds=5), now=now)
            # An earlier alarm replaces a later one; a later one is ignored.
            wakeup.arm(dbname, now, now=now)
            wakeup.arm(dbname, now + timedelta(seconds=30), now=now)
            self.assertEqual(wakeup.armed(dbname), now)
            deadline = time.monotonic() + 10
            payloads = []
            while time.monotonic() < deadline and dbname not in payloads:
                select.select([cr._cnx], [], [], 0.5)
                cr._cnx.poll()
                payloads += [n.payload for n in cr._cnx.notifies]
                cr._cnx.notifies.clear()
            wakeup.disarm(dbname)
        self.assertIn(dbname, payloads)
        self.assertIsNone(wakeup.armed(dbname))
