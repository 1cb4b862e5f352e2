# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from contextlib import closing
from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.sql_db import db_connect
from odoo.tests import tagged

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
