# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from .common import TrackingCase
from .screenshots import TourScreenshotMixin


def _age(lead, days, touched_days=None):
    """Backdate ``lead``'s last stage change (and work) by ``days`` (raw SQL: what a
    lead untouched for that long looks like)."""
    now = fields.Datetime.now()
    touched = now - timedelta(days=touched_days) if touched_days is not None else None
    lead.env.cr.execute(
        "UPDATE crm_lead SET date_last_stage_update = %s, automation_touch_date = %s "
        "WHERE id = %s",
        (now - timedelta(days=days), touched, lead.id),
    )
    lead.invalidate_recordset()


@tagged("post_install", "-at_install")
class TestRotting(TrackingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stage_qualified.automation_idle_days = 5
        cls.Rotting = cls.env["crm.lead.rotting"]
        # Leads already rotting (the demo's Orbit School) get their idle event now: the
        # counts of the cron below are the test's own leads.
        cls.Rotting._cron_record_idle()

    def _rotting(self):
        return self.env["crm.lead"].search(
            [("automation_idle_days", ">", 0), ("team_id", "=", self.team.id)]
        )

    def test_idle_beyond_the_stage_limit_rots(self):
        lead = self._lead(self.stage_qualified)
        self.assertEqual(lead.automation_idle_days, 0)
        _age(lead, 4)
        self.assertEqual(lead.automation_idle_days, 0)
        self.assertFalse(self._rotting())
        _age(lead, 6)
        self.assertEqual(lead.automation_idle_days, 6)
        self.assertEqual(self._rotting(), lead)
        self.assertEqual(
            lead.automation_idle_since.date(), (fields.Datetime.now() - timedelta(days=6)).date()
        )

    def test_work_of_a_user_and_stage_changes_reset_it(self):
        lead = self._lead(self.stage_qualified)
        _age(lead, 10, touched_days=2)
        self.assertEqual(lead.automation_idle_days, 0, "touched two days ago")
        _age(lead, 10)
        lead.with_user(self.salesman).message_post(body="Called, no answer", message_type="comment")
        lead.invalidate_recordset()
        self.assertEqual(lead.automation_idle_days, 0, "a note is work")
        _age(lead, 10)
        lead.stage_id = self.stage_proposition
        lead.stage_id = self.stage_qualified
        self.assertEqual(lead.automation_idle_days, 0, "a stage change")

    def test_automatic_notes_and_writes_do_not_reset_it(self):
        lead = self._lead(self.stage_qualified)
        _age(lead, 10)
        lead.with_context(crm_automation_auto=True).message_post(body="Automatic note")
        lead.write({"priority": "2", "tag_ids": []})
        lead.invalidate_recordset()
        self.assertEqual(lead.automation_idle_days, 10)
        self.assertEqual(self._rotting(), lead)

    def test_no_limit_won_and_lost_leads_never_rot(self):
        fresh = self._lead()
        won = self._lead(self.stage_won)
        lost = self._lead(self.stage_qualified)
        lost.action_set_lost()
        self.stage_won.automation_idle_days = 1
        for lead in fresh | won | lost:
            _age(lead, 30)
        self.assertEqual((fresh | won | lost).mapped("automation_idle_days"), [0, 0, 0])
        self.assertFalse(self._rotting())

    def test_search_operators(self):
        lead = self._lead(self.stage_qualified)
        other = self._lead(self.stage_qualified)
        _age(lead, 8)
        Lead = self.env["crm.lead"]
        mine = [("team_id", "=", self.team.id)]
        self.assertEqual(Lead.search(mine + [("automation_idle_days", ">=", 8)]), lead)
        self.assertEqual(Lead.search(mine + [("automation_idle_days", "=", 0)]), other)
        self.assertFalse(Lead.search(mine + [("automation_idle_days", ">", 8)]))

    def test_idle_event_fires_the_trigger_once_per_idle_period(self):
        trigger = self._trigger(self.stage_proposition, "lead_idle")
        stays = self._lead(self.stage_qualified, name="Stays")
        lead = self._lead(self.stage_qualified)
        _age(lead, 6)
        self.assertEqual(self.Rotting._cron_record_idle(), 1)
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        self.assertEqual(stays.stage_id, self.stage_qualified)
        event = self.Event.search([("lead_id", "=", lead.id)])
        self.assertEqual(
            (event.event_type, event.seconds, event.state), ("lead_idle", 5 * 86400, "fired")
        )
        self.assertEqual(self.Rotting._cron_record_idle(), 0, "once")

    def test_trigger_with_its_own_days(self):
        trigger = self._trigger(self.stage_proposition, "lead_idle", idle_days=20)
        self.stage_qualified.automation_idle_days = 0
        lead = self._lead(self.stage_qualified)
        _age(lead, 10)
        self.Rotting._cron_record_idle()
        self.assertFalse(self.Event.search_count([("lead_id", "=", lead.id)]), "10 < 20 days")
        _age(lead, 21)
        self.Rotting._cron_record_idle()
        self.assertEqual(self.Event.search_count([("lead_id", "=", lead.id)]), 1)
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)

    def test_idle_template_activity(self):
        template = self.env["crm.activity.template"].create(
            {
                "name": "Wake up the deal",
                "event_key": "lead_idle",
                "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
            }
        )
        lead = self._lead(self.stage_qualified)
        _age(lead, 6)
        self.Rotting._cron_record_idle()
        self.assertEqual(lead.activity_ids.activity_template_id, template)

    def test_board_shows_the_limit(self):
        board = self.env["crm.automation.board"].get_board(self.team.id)
        limits = {stage["id"]: stage["idle_days"] for stage in board["stages"]}
        self.assertEqual(limits[self.stage_qualified.id], 5)
        self.assertEqual(limits[self.stage_new.id], 0)

    def test_badges_read_in_constant_queries(self):
        def make(count):
            leads = self.env["crm.lead"].create(
                [
                    {
                        "name": f"Card {i}",
                        "team_id": self.team.id,
                        "user_id": self.salesman.id,
                        "stage_id": self.stage_qualified.id,
                    }
                    for i in range(count)
                ]
            )
            for lead in leads:
                _age(lead, 9)
            self.env.flush_all()
            self.env.invalidate_all()
            return leads.with_user(self.salesman)

        fnames = [
            "name",
            "stage_id",
            "automation_touch_date",
            "date_last_stage_update",
            "automation_idle_days",
        ]
        make(1).read(fnames)
        queries = {}
        for count in (1, 40):
            leads = make(count)
            start = self.env.cr.sql_log_count
            rows = leads.read(fnames)
            queries[count] = self.env.cr.sql_log_count - start
            self.assertTrue(all(row["automation_idle_days"] == 9 for row in rows))
        self.assertEqual(queries[40], queries[1], queries)


@tagged("post_install", "-at_install")
class TestRottingTour(TourScreenshotMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        seller = new_test_user(
            cls.env,
            login="cpa_rot_tour",
            password="cpa_rot_tour",
            groups="sales_team.group_sale_salesman",
        )
        team = cls.env["crm.team"].create({"name": "Rotting tour pipeline"})
        cls.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": seller.id})
        stage = cls.env["crm.stage"].create(
            {
                "name": "Rotting tour stage",
                # First column, so that the README screenshot shows the badge.
                "sequence": -1,
                "team_id": team.id,
                "automation_idle_days": 3,
            }
        )
        leads = cls.env["crm.lead"].create(
            [
                {
                    "name": name,
                    "type": "opportunity",
                    "team_id": team.id,
                    "stage_id": stage.id,
                    "user_id": seller.id,
                }
                for name in ("Rotting tour lead", "Fresh tour lead")
            ]
        )
        _age(leads[0], 12)

    def test_rotting_badge_and_filter(self):
        self.start_tour("/odoo/crm", "crm_pipeline_automation_rotting_tour", login="cpa_rot_tour")
