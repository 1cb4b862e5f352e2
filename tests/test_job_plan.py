# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Mass edits: the jobs are planned in the write and created by the dispatcher."""

from contextlib import closing
from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api
from odoo.sql_db import db_connect
from odoo.tests import tagged

from .common import NOW, AutomationCase, CommittedPipelineCase, run_on_two_connections

THRESHOLD = "crm_pipeline_automation.job_plan_threshold"
IMMEDIATE = "crm_pipeline_automation.immediate_run_threshold"


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestJobPlan(AutomationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Plan = cls.env["crm.automation.job.plan"]
        cls.env["ir.config_parameter"].set_param(THRESHOLD, 10)

    def _leads(self, count, **vals):
        return self.env["crm.lead"].create(
            [
                {
                    "name": f"Mass {i}",
                    "team_id": self.team.id,
                    "stage_id": self.stage_new.id,
                    **vals,
                }
                for i in range(count)
            ]
        )

    def test_mass_edit_plans_then_dispatcher_creates_jobs(self):
        now_rule = self._rule(self.stage_qualified)
        later = self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        deadline = self.env["ir.model.fields"]._get("crm.lead", "date_deadline")
        relative = self._rule(
            self.stage_qualified,
            timing="date_field",
            date_field_id=deadline.id,
            date_direction="before",
            delay_count=2,
            delay_unit="days",
        )
        leads = self.env["crm.lead"]
        for i in range(25):
            leads |= self._leads(1, date_deadline=f"2026-02-{i + 1:02d}")
        leads.write({"stage_id": self.stage_qualified.id})
        # The write stored one plan and no job row; it logged the entries and woke
        # the dispatcher.
        self.assertFalse(self.Job.search_count([("lead_id", "in", leads.ids)]))
        plan = self.Plan.search([])
        self.assertEqual(len(plan), 1)
        self.assertEqual(plan.job_count, 75)
        self.assertEqual(
            self.Log.search_count(
                [
                    ("lead_id", "in", leads.ids),
                    ("kind", "=", "stage_entered"),
                    ("stage_id", "=", self.stage_qualified.id),
                ]
            ),
            25,
        )
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_automation_run_jobs")
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id), ("call_at", "<=", NOW)])
        )
        # The dispatcher creates the jobs (same rows as a small write would have made)
        # and runs the due ones.
        run = self._dispatch()
        self.assertFalse(self.Plan.search([]))
        self.assertEqual(len(run), 25)
        for lead in leads:
            self.assertEqual(self._jobs(lead, now_rule).state, "done")
            self.assertIn(self.tag_hot, lead.tag_ids)
            job = self._jobs(lead, later)
            self.assertEqual(
                (job.state, job.run_at, job.visit, job.entered_at),
                ("pending", NOW + timedelta(hours=1), lead.automation_visit, NOW),
            )
            # Due times that depend on the lead are kept per lead.
            self.assertEqual(
                self._jobs(lead, relative).run_at, self.Plan._rule_run_at(relative, lead, NOW)
            )
        self.assertEqual(len(self.Job.search([("lead_id", "in", leads.ids)])), 75)
        # Nothing twice: another run has nothing to create or run.
        self.assertFalse(self._dispatch())
        self.assertEqual(len(self.Job.search([("lead_id", "in", leads.ids)])), 75)

    def test_leads_gone_before_the_dispatcher(self):
        """Leads that left the stage or were lost before the expansion get their jobs
        cancelled, with the ledger rows the move would have written; rules that keep
        running stay pending."""
        later = self._rule(self.stage_qualified, timing="delay", delay_count=2, delay_unit="days")
        keeps = self._rule(
            self.stage_qualified,
            timing="delay",
            delay_count=3,
            delay_unit="days",
            keep_running=True,
        )
        leads = self._leads(25)
        leads.write({"stage_id": self.stage_qualified.id})
        self.assertEqual(self.Plan.search([]).job_count, 50)
        moved, lost, staying = leads[:3], leads[3:5], leads[5:]
        moved.write({"stage_id": self.stage_proposal.id})
        lost.action_archive()
        self._dispatch()
        self.assertFalse(self.Plan.search([]))
        for lead in staying:
            self.assertEqual(self._jobs(lead, later).state, "pending")
        for lead in moved:
            job = self._jobs(lead, later)
            self.assertEqual(job.state, "cancelled")
            self.assertTrue(job.done_at)
            entry = self._logs(lead, "job_cancelled")
            self.assertEqual((entry.job_id, entry.rule_id), (job, later))
            self.assertEqual(entry.stage_id, self.stage_qualified)
            self.assertEqual(entry.message, "The lead left the stage.")
            self.assertEqual(self._jobs(lead, keeps).state, "pending")
        for lead in lost:
            self.assertEqual(
                self._jobs(lead.with_context(active_test=False), later).state, "cancelled"
            )
            messages = self._logs(lead, "job_cancelled").mapped("message")
            self.assertEqual(messages, ["The lead is lost (archived)."] * 2)
        # The pending jobs run at their time, the cancelled ones never.
        with freeze_time(NOW + timedelta(days=2, minutes=1)):
            run = self.Job.browse(self._dispatch())
        self.assertEqual(run.lead_id, staying)
        self.assertEqual(run.rule_id, later)

    def test_small_writes_keep_creating_jobs(self):
        """A write of a few leads runs its due jobs at once, whatever the number of
        jobs: the salesperson sees the result on save."""
        rules = self.env["crm.automation.rule"]
        for _i in range(6):
            rules |= self._rule(self.stage_qualified)
        leads = self._leads(2)
        leads.write({"stage_id": self.stage_qualified.id})
        self.assertFalse(self.Plan.search([]))
        jobs = self.Job.search([("lead_id", "in", leads.ids)])
        self.assertEqual(len(jobs), 12)
        self.assertEqual(set(jobs.mapped("state")), {"done"})

    def test_under_threshold_creates_jobs_in_the_write(self):
        self.env["ir.config_parameter"].set_param(THRESHOLD, 5000)
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        leads = self._leads(25)
        leads.write({"stage_id": self.stage_qualified.id})
        self.assertFalse(self.Plan.search([]))
        self.assertEqual(len(self.Job.search([("lead_id", "in", leads.ids)])), 25)

    def test_progress_counts_waiting_plans(self):
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        self._leads(30).write({"stage_id": self.stage_qualified.id})
        cron, progress = self.env.ref(
            "crm_pipeline_automation.ir_cron_crm_automation_run_jobs"
        )._add_progress()
        self.Job.with_context(ir_cron_progress_id=progress.id)._dispatch_due_jobs(time_budget=0)
        self.assertEqual(progress.remaining, 30)
        self.assertTrue(self.Plan.search([]))

    def test_dry_run_matches_a_mass_edit(self):
        """The dry-run's decisions are the jobs the dispatcher creates for a mass edit."""
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        self._rule(self.stage_qualified, tag_add_ids=[Command.link(self.tag_cold.id)])
        leads = self._leads(25)
        planned = self.Plan._plan_jobs(
            [(rule, leads) for rule in self.stage_qualified.automation_rule_ids], NOW
        )
        expected = {
            (rule_id, lead_id, run_at) for rule_id, lead_id, run_at, _m in planned.decisions()
        }
        leads.write({"stage_id": self.stage_qualified.id})
        self.Plan._expand_waiting()
        jobs = self.Job.search([("lead_id", "in", leads.ids)])
        self.assertEqual({(job.rule_id.id, job.lead_id.id, job.run_at) for job in jobs}, expected)


@tagged("post_install", "-at_install")
class TestJobPlanConcurrency(CommittedPipelineCase):
    """Two dispatchers on two real connections expand each plan once."""

    LEADS = 30

    def _setup_committed(self):
        """Three mass edits of 10 leads into a stage with a delayed rule: three plans."""

        def move(env, leads, stage_b):
            params = env["ir.config_parameter"]
            old = {key: params.get_param(key) for key in (THRESHOLD, IMMEDIATE)}
            params.set_param(THRESHOLD, 5)
            params.set_param(IMMEDIATE, 5)
            for chunk in (leads[:10], leads[10:20], leads[20:]):
                chunk.write({"stage_id": stage_b.id})
            for key, value in old.items():
                params.set_param(key, value)
            return {"plans": env["crm.automation.job.plan"].search([]).ids}

        def rule_vals(env):
            return {
                "action_type": "tags",
                "timing": "delay",
                "delay_count": 1,
                "delay_unit": "days",
            }

        return self._committed_pipeline("Plan", self.LEADS, rule_vals, move)

    def test_two_dispatchers_expand_each_plan_once(self):
        dbname = self.env.cr.dbname
        data = self._setup_committed()
        self.assertEqual(len(data["plans"]), 3)
        results = run_on_two_connections(
            self.registry,
            dbname,
            lambda env: env["crm.automation.job.plan"]._expand_waiting(),
        )
        for name in ("one", "two"):
            self.assertIsInstance(results.get(name), int, results.get(name))
        self.assertEqual(results["one"] + results["two"], self.LEADS)
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.assertFalse(env["crm.automation.job.plan"].browse(data["plans"]).exists())
            jobs = env["crm.automation.job"].search([("rule_id", "=", data["rule"])])
            self.assertEqual(len(jobs), self.LEADS)
            self.assertEqual(sorted(jobs.lead_id.ids), sorted(data["leads"]))
            self.assertEqual(set(jobs.mapped("state")), {"pending"})
