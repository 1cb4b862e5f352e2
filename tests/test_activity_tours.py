# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime, timedelta

from odoo.tests import HttpCase, new_test_user, tagged

from .screenshots import TourScreenshotMixin


@tagged("post_install", "-at_install")
class TestActivityDeadlineTour(TourScreenshotMixin, HttpCase):
    """The pipeline kanban of a salesperson, in headless Chromium."""

    def test_salesperson_sees_deadline_and_late_badge(self):
        seller = new_test_user(
            self.env,
            login="cpa_tour_seller",
            password="cpa_tour_seller",
            name="Sofia Seller",
            groups="sales_team.group_sale_salesman",
            tz="Europe/Brussels",
        )
        team = self.env["crm.team"].create({"name": "Tour team", "use_leads": True})
        self.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": seller.id})
        stage = self.env["crm.stage"].create({"name": "Tour stage", "team_id": team.id})
        template = self.env["crm.activity.template"].create(
            {"name": "Call back", "deadline_count": 2, "deadline_unit": "hours"}
        )
        leads = self.env["crm.lead"].create(
            [
                {
                    "name": name,
                    "type": "opportunity",
                    "team_id": team.id,
                    "stage_id": stage.id,
                    "user_id": seller.id,
                }
                for name in ("Tour: late lead", "Tour: lead on time")
            ]
        )
        late, on_time = template._create_activities(leads)
        late.deadline_datetime = datetime(2020, 3, 2, 14, 30)
        on_time.deadline_datetime = datetime.utcnow() + timedelta(days=3)
        self.start_tour(
            "/odoo/crm", "crm_pipeline_automation_activity_deadline_tour", login="cpa_tour_seller"
        )
