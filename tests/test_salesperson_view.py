# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime, timedelta

from lxml import etree

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import AutomationCase
from .screenshots import TourScreenshotMixin


@tagged("post_install", "-at_install")
class TestSalespersonView(AutomationCase):
    """Card badges (recent engagement, next automation) and the lead's Automation page."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["crm.lead.event"]
        cls.now = fields.Datetime.now()

    def _event(self, lead, event_type, ago, verdict="human"):
        return self.Event._record(
            lead, event_type, "manual", fire=False, verdict=verdict, date=self.now - ago
        )

    def test_last_signals_ignore_machines(self):
        lead = self._lead()
        self._event(lead, "email_open", timedelta(hours=5))
        self._event(lead, "email_open", timedelta(hours=2))
        self._event(lead, "email_open", timedelta(minutes=5), verdict="machine")
        self._event(lead, "link_click", timedelta(days=40))
        self._event(lead, "link_click", timedelta(hours=1), verdict="machine")
        lead.invalidate_recordset()
        self.assertEqual(lead.engagement_last_open, self.now - timedelta(hours=2))
        self.assertEqual(lead.engagement_last_click, self.now - timedelta(days=40))
        self.assertFalse(lead.engagement_last_visit)

    def test_recent_score_counts_human_points_of_the_window(self):
        lead = self._lead()
        params = self.env["ir.config_parameter"]
        params.set_param("crm_pipeline_automation.score_email_open", 1)
        params.set_param("crm_pipeline_automation.score_link_click", 3)
        params.set_param("crm_pipeline_automation.score_url_visited", 2)
        self._event(lead, "email_open", timedelta(days=1))  # 1
        self._event(lead, "link_click", timedelta(days=2))  # 3
        self._event(lead, "url_visited", timedelta(days=29))  # 2
        self._event(lead, "url_visited", timedelta(days=31))  # outside the 30 days
        self._event(lead, "link_click", timedelta(hours=1), verdict="machine")  # never
        self._event(lead, "link_click", timedelta(hours=1), verdict="unknown")  # 3
        lead.invalidate_recordset()
        self.assertEqual(lead.engagement_recent_score, 9)
        params.set_param("crm_pipeline_automation.engagement_recent_days", 7)
        lead.invalidate_recordset()
        self.assertEqual(lead.engagement_recent_score, 7)
        params.set_param("crm_pipeline_automation.engagement_recent_days", "garbage")
        lead.invalidate_recordset()
        self.assertEqual(lead.engagement_recent_score, 9)
        self.assertEqual(self._lead().engagement_recent_score, 0)

    def test_next_automation_is_the_earliest_pending_job(self):
        later = self._rule(self.stage_qualified, timing="delay", delay_count=3, delay_unit="days")
        sooner = self._rule(
            self.stage_qualified,
            "tags",
            name="Call soon",
            timing="delay",
            delay_count=2,
            delay_unit="hours",
        )
        lead, idle = self._lead(), self._lead(name="Idle")
        lead.stage_id = self.stage_qualified
        jobs = self._jobs(lead)
        self.assertEqual(len(jobs), 2)
        first = jobs.filtered(lambda j: j.rule_id == sooner)
        lead.invalidate_recordset()
        self.assertEqual(lead.automation_next_rule_id, sooner)
        self.assertEqual(lead.automation_next_run_at, first.run_at)
        self.assertFalse(idle.automation_next_run_at)
        self.assertFalse(idle.automation_next_rule_id)
        first.action_cancel()
        lead.invalidate_recordset()
        self.assertEqual(lead.automation_next_rule_id, later)
        self.assertEqual(lead.automation_pending_job_ids.rule_id, later)

    def test_badges_compute_in_constant_queries(self):
        rule = self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        self.assertTrue(rule)

        def make(count):
            leads = self.env["crm.lead"].create(
                [
                    {
                        "name": f"Card {i}",
                        "type": "opportunity",
                        "team_id": self.team.id,
                        "user_id": self.salesman.id,
                        "stage_id": self.stage_qualified.id,
                    }
                    for i in range(count)
                ]
            )
            for lead in leads:
                self._event(lead, "email_open", timedelta(hours=1))
                self._event(lead, "link_click", timedelta(hours=2))
            self.env.flush_all()
            self.env.invalidate_all()
            return leads.with_user(self.salesman)

        fnames = [
            "engagement_last_open",
            "engagement_last_click",
            "engagement_last_visit",
            "engagement_recent_score",
            "automation_next_run_at",
            "automation_next_rule_id",
        ]
        one = make(1)
        one.read(fnames)  # warm the rule caches (ir.rule, params)
        one.invalidate_recordset()
        queries = {}
        for count in (1, 80):
            leads = make(count)
            leads.read(["name"])
            start = self.env.cr.sql_log_count
            result = leads.read(fnames)
            queries[count] = self.env.cr.sql_log_count - start
            self.assertEqual(len(result), count)
            self.assertTrue(all(row["automation_next_rule_id"] for row in result))
            self.assertTrue(all(row["engagement_recent_score"] for row in result))
        self.assertEqual(queries[80], queries[1], queries)

    def test_timeline_and_jobs_on_the_form(self):
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        seller_lead = lead.with_user(self.salesman)
        kinds = seller_lead.automation_log_ids.mapped("kind")
        self.assertIn("stage_entered", kinds)
        self.assertEqual(len(seller_lead.automation_pending_job_ids), 1)
        # Newest first.
        self.assertEqual(
            seller_lead.automation_log_ids.ids,
            sorted(seller_lead.automation_log_ids.ids, reverse=True),
        )

    def _form_arch(self, user):
        views = self.env["crm.lead"].with_user(user).get_views([(False, "form")])
        return etree.fromstring(views["views"]["form"]["arch"])

    def test_cancel_button_for_managers_only(self):
        seller_arch = self._form_arch(self.salesman)
        leader_arch = self._form_arch(self.leader)
        for arch in (seller_arch, leader_arch):
            self.assertTrue(
                arch.xpath("//page[@name='automation']//field[@name='automation_log_ids']")
            )
        self.assertFalse(
            seller_arch.xpath("//page[@name='automation']//button[@name='action_cancel']")
        )
        self.assertTrue(
            leader_arch.xpath("//page[@name='automation']//button[@name='action_cancel']")
        )

    def test_salesperson_cannot_cancel_a_job(self):
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        job = lead.with_user(self.salesman).automation_pending_job_ids
        with self.assertRaises(UserError):
            job.action_cancel()
        self.assertEqual(job.state, "pending")
        lead.with_user(self.leader).automation_pending_job_ids.action_cancel()
        self.assertEqual(job.state, "cancelled")
        self.assertFalse(lead.automation_pending_job_ids)
        self.assertIn("job_cancelled", lead.automation_log_ids.mapped("kind"))


@tagged("post_install", "-at_install")
class TestSalespersonViewTour(TourScreenshotMixin, HttpCase):
    """A salesperson's pipeline card and lead form, in headless Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seller = new_test_user(
            cls.env,
            login="cpa_sp_seller",
            password="cpa_sp_seller",
            name="Sam Tour",
            groups="sales_team.group_sale_salesman",
            tz="Europe/Brussels",
        )
        team = cls.env["crm.team"].create({"name": "Tour pipeline", "use_leads": True})
        cls.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": cls.seller.id})
        stage_new = cls.env["crm.stage"].create(
            {"name": "Tour new", "sequence": 301, "team_id": team.id}
        )
        cls.stage_hot = cls.env["crm.stage"].create(
            {"name": "Tour hot", "sequence": 302, "team_id": team.id}
        )
        cls.env["crm.automation.rule"].create(
            {
                "name": "Tour: call the customer",
                "stage_id": cls.stage_hot.id,
                "action_type": "tags",
                "tag_add_ids": [Command.create({"name": "Tour tag"})],
                "timing": "delay",
                "delay_count": 2,
                "delay_unit": "days",
            }
        )
        cls.env["crm.stage.trigger"].create(
            {
                "name": "Tour: link clicked",
                "stage_id": cls.stage_hot.id,
                "event_type": "link_click",
                "user_id": cls.seller.id,
            }
        )
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Tour: engaged lead",
                "type": "opportunity",
                "team_id": team.id,
                "stage_id": stage_new.id,
                "user_id": cls.seller.id,
            }
        )
        # The customer clicks: the trigger moves the lead as the salesperson, which
        # schedules the rule's job.
        cls.env["crm.lead.event"]._record(
            cls.lead,
            "link_click",
            "manual",
            url="https://example.com/pricing",
            date=datetime.utcnow() - timedelta(minutes=30),
        )

    def test_salesperson_sees_badges_and_timeline(self):
        self.assertEqual(self.lead.stage_id, self.stage_hot, "the trigger moved the lead")
        self.assertEqual(len(self.lead.automation_pending_job_ids), 1)
        self.start_tour(
            "/odoo/crm", "crm_pipeline_automation_salesperson_tour", login="cpa_sp_seller"
        )

    def test_manager_cancels_a_scheduled_job(self):
        new_test_user(
            self.env,
            login="cpa_sp_manager",
            password="cpa_sp_manager",
            groups="sales_team.group_sale_manager",
        )
        job = self.lead.automation_pending_job_ids
        self.assertEqual(len(job), 1)
        self.start_tour(
            f"/odoo/crm/{self.lead.id}",
            "crm_pipeline_automation_cancel_job_tour",
            login="cpa_sp_manager",
        )
        self.assertEqual(job.state, "cancelled")
