# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tests.common import TransactionCase

from .screenshots import TourScreenshotMixin

MODULE = "crm_pipeline_automation"


@tagged("post_install", "-at_install")
class TestDemoHistory(TransactionCase):
    """The demo's history, made by the engine at install: what a new user sees on the
    demo leads (issue #14's "done when")."""

    def setUp(self):
        super().setUp()
        self.sales = self.env.ref(f"{MODULE}.crm_team_direct_sales_demo", False)
        if not self.sales:
            self.skipTest("demo data not installed")
        self.installation = self.env.ref(f"{MODULE}.crm_team_installation_demo")
        self.leads = (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search([("team_id", "in", (self.sales + self.installation).ids)])
        )

    def test_ledger_rows_of_six_kinds(self):
        logs = self.env["crm.automation.log"].search([("lead_id", "in", self.leads.ids)])
        self.assertGreaterEqual(len(logs), 20)
        kinds = set(logs.mapped("kind"))
        self.assertGreaterEqual(len(kinds), 6, kinds)
        self.assertTrue(
            {"stage_entered", "trigger_fired", "rule_done", "job_cancelled"} <= kinds, kinds
        )

    def test_events_of_six_types_with_machine_verdicts(self):
        events = self.env["crm.lead.event"].search([("lead_id", "in", self.leads.ids)])
        self.assertGreaterEqual(len(events), 10)
        self.assertGreaterEqual(len(set(events.mapped("event_type"))), 6)
        machine = events.filtered(lambda e: e.verdict == "machine")
        reasons = " ".join(machine.mapped("verdict_reason"))
        self.assertIn("Apple Mail Privacy Protection", reasons)
        self.assertIn("burst", reasons)
        self.assertTrue(all(machine.mapped("verdict_reason")))
        self.assertEqual(set(machine.mapped("state")), {"ignored"})
        # Every entry point of the demo left its event, dated in the past.
        for event_type in (
            "email_sent",
            "email_open",
            "link_click",
            "url_visited",
            "call_missed",
            "chat_keyword",
            "email_received",
            "form_submitted",
        ):
            typed = events.filtered(lambda e, t=event_type: e.event_type == t)
            self.assertTrue(typed, event_type)
            self.assertLess(min(typed.mapped("date")), fields.Datetime.now(), event_type)
        self.assertTrue(events.filtered(lambda e: e.state == "fired"))

    def test_pending_jobs_wait(self):
        jobs = self.env["crm.automation.job"].search(
            [("lead_id", "in", self.leads.ids), ("state", "=", "pending")]
        )
        self.assertGreaterEqual(len(jobs), 3)
        self.assertGreater(min(jobs.mapped("run_at")), fields.Datetime.now())

    def test_template_activities_late_and_on_time_and_report(self):
        activities = self.env["mail.activity"].search(
            [
                ("res_model", "=", "crm.lead"),
                ("res_id", "in", self.leads.ids),
                ("activity_template_id", "!=", False),
            ]
        )
        now = fields.Datetime.now()
        self.assertTrue(activities.filtered(lambda a: a.deadline_datetime < now))
        self.assertTrue(activities.filtered(lambda a: a.deadline_datetime > now))
        report = self.env["crm.activity.deadline.report"].search(
            [("lead_id", "in", self.leads.ids)]
        )
        self.assertTrue(report)
        self.assertEqual(
            {"open", "open_late", "done_on_time", "done_late"} - set(report.mapped("status")),
            set(),
        )
        # Created and completed in one consistent past: never done before created.
        done = report.filtered("done_datetime")
        self.assertGreaterEqual(min(done.mapped("completion_hours")), 0)

    def test_leads_created_by_rules_show_where_from(self):
        created = self.leads.filtered("automation_origin_lead_id")
        self.assertTrue(created.filtered(lambda lead: lead.team_id == self.sales), "repeat")
        self.assertTrue(
            created.filtered(lambda lead: lead.team_id == self.installation), "copied deal"
        )

    def test_a_rotting_deal(self):
        """Orbit School sits in Contract approval (idle limit 14 days) untouched for 20
        days: its card shows the rotting badge and the "Rotting" filter finds it."""
        orbit = self.env.ref(f"{MODULE}.crm_lead_orbit_school_demo")
        self.assertGreaterEqual(orbit.automation_idle_days, 14)
        rotting = self.env["crm.lead"].search(
            [("id", "in", self.leads.ids), ("automation_idle_days", ">", 0)]
        )
        self.assertIn(orbit, rotting)

    def test_each_salesperson_sees_their_own_work(self):
        for xmlid in (
            "base.user_admin",
            f"{MODULE}.res_users_sales_rep_demo",
            f"{MODULE}.res_users_installer_demo",
        ):
            user = self.env.ref(xmlid)
            mine = self.env["crm.lead"].with_user(user).search([("user_id", "=", user.id)])
            logs = (
                self.env["crm.automation.log"].with_user(user).search([("lead_id", "in", mine.ids)])
            )
            self.assertTrue(logs, xmlid)

    def test_no_closed_deal_and_idempotent(self):
        self.assertFalse(self.leads.filtered(lambda lead: not lead.active or lead.stage_id.is_won))
        Log = self.env["crm.automation.log"]
        count = Log.search_count([])
        self.assertFalse(self.env["crm.automation.demo"]._build_demo_history())
        self.assertEqual(Log.search_count([]), count)


@tagged("post_install", "-at_install")
class TestDemoTour(TourScreenshotMixin, HttpCase):
    """README's 5-minute tour on the demo, in headless Chromium: no step may show an
    empty state (`make screenshots` takes the README images from it)."""

    def test_five_minute_tour_as_admin(self):
        if not self.env.ref(f"{MODULE}.crm_team_direct_sales_demo", False):
            self.skipTest("demo data not installed")
        self.start_tour("/odoo/crm", "crm_pipeline_automation_demo_tour", login="admin")
