# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from contextlib import closing
from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .common import NOW, AutomationCase, run_on_two_connections


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
class TestJobDispatchConcurrency(TransactionCase):
    """Two dispatchers on two real database connections run every job exactly once."""

    JOBS = 40

    def _setup_committed(self):
        """Create the data on its own connection and commit it (threads must see it)."""
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            team = env["crm.team"].create({"name": "Concurrency team"})
            stage_a = env["crm.stage"].create(
                {"name": "Conc A", "sequence": 201, "team_id": team.id}
            )
            stage_b = env["crm.stage"].create(
                {"name": "Conc B", "sequence": 202, "team_id": team.id}
            )
            tag = env["crm.tag"].create({"name": "Concurrency"})
            rule = env["crm.automation.rule"].create(
                {
                    "name": "Tag later",
                    "stage_id": stage_b.id,
                    "action_type": "tags",
                    "tag_add_ids": [Command.link(tag.id)],
                    "timing": "delay",
                    "delay_count": 1,
                    "delay_unit": "hours",
                }
            )
            leads = env["crm.lead"].create(
                [
                    {"name": f"Conc {i}", "team_id": team.id, "stage_id": stage_a.id}
                    for i in range(self.JOBS)
                ]
            )
            leads.write({"stage_id": stage_b.id})
            jobs = env["crm.automation.job"].search([("rule_id", "=", rule.id)])
            jobs.sudo().write({"run_at": fields.Datetime.now() - timedelta(minutes=1)})
            # Committed on purpose: the dispatchers' own connections must see it.
            cr.commit()  # pylint: disable=invalid-commit
            return {
                "team": team.id,
                "stages": (stage_a | stage_b).ids,
                "tag": tag.id,
                "rule": rule.id,
                "leads": leads.ids,
                "jobs": jobs.ids,
            }

    def _cleanup(self, data):
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            # Ledger rows and jobs go with their leads (ON DELETE CASCADE).
            env["crm.lead"].with_context(active_test=False).browse(data["leads"]).unlink()
            env["crm.automation.rule"].browse(data["rule"]).unlink()
            env["crm.stage"].browse(data["stages"]).unlink()
            env["crm.team"].browse(data["team"]).unlink()
            env["crm.tag"].browse(data["tag"]).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    def test_two_dispatchers_exactly_once(self):
        dbname = self.env.cr.dbname
        data = self._setup_committed()
        try:
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
        finally:
            self._cleanup(data)
