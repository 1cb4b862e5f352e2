# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from odoo.addons.crm_pipeline_automation.engine import timing as automation_timing

from .common import AutomationCase

# Brussels calendar of AutomationCase: Mon-Fri 9-12 and 13-17 local time.
FRIDAY_16H = datetime(2026, 1, 16, 15, 0)  # 16:00 local (UTC+1)
HOLIDAY_MONDAY = (datetime(2026, 1, 18, 23, 0), datetime(2026, 1, 19, 22, 59, 59))


@tagged("post_install", "-at_install")
class TestBusinessHours(AutomationCase):
    """Delays in working time: weekends, holidays, time zones, daylight saving."""

    def _holiday(self, calendar=None, span=HOLIDAY_MONDAY):
        return self.env["resource.calendar.leaves"].create(
            {
                "name": "Public holiday",
                "calendar_id": (calendar or self.calendar).id,
                "date_from": span[0],
                "date_to": span[1],
                "time_type": "leave",
            }
        )

    def _add(self, start, count, unit, calendar=None, resource=None):
        return automation_timing.add_business_delay(
            calendar or self.calendar, start, count, unit, resource=resource
        )

    def test_hours_across_weekend(self):
        # Friday 16:00 + 2 working hours: 1 h on Friday, 1 h on Monday from 9:00.
        self.assertEqual(self._add(FRIDAY_16H, 2, "hours"), datetime(2026, 1, 19, 9, 0))

    def test_hours_across_weekend_and_holiday(self):
        self._holiday()
        self.assertEqual(self._add(FRIDAY_16H, 2, "hours"), datetime(2026, 1, 20, 9, 0))

    def test_minutes_skip_lunch_break(self):
        monday_11h = datetime(2026, 1, 12, 10, 0)
        self.assertEqual(self._add(monday_11h, 90, "minutes"), datetime(2026, 1, 12, 12, 30))

    def test_zero_is_next_working_moment(self):
        saturday = datetime(2026, 1, 17, 12, 0)
        self.assertEqual(self._add(saturday, 0, "minutes"), datetime(2026, 1, 19, 8, 0))
        inside = datetime(2026, 1, 12, 10, 0)
        self.assertEqual(self._add(inside, 0, "hours"), inside)

    def test_working_days_same_local_time(self):
        self.assertEqual(self._add(FRIDAY_16H, 1, "days"), datetime(2026, 1, 19, 15, 0))
        self._holiday()
        self.assertEqual(self._add(FRIDAY_16H, 1, "days"), datetime(2026, 1, 20, 15, 0))
        self.assertEqual(self._add(FRIDAY_16H, 3, "days"), datetime(2026, 1, 22, 15, 0))

    def test_weeks_and_months_then_next_working_moment(self):
        self._holiday()
        # Monday 12th 11:00 local + 1 week = holiday Monday 19th -> Tuesday 9:00 local.
        self.assertEqual(
            self._add(datetime(2026, 1, 12, 10, 0), 1, "weeks"), datetime(2026, 1, 20, 8, 0)
        )
        # Jan 17th (Saturday) + 1 month = Feb 17th (Tuesday), 13:00 local: in hours.
        self.assertEqual(
            self._add(datetime(2026, 1, 17, 12, 0), 1, "months"), datetime(2026, 2, 17, 12, 0)
        )

    def test_daylight_saving_change(self):
        # Brussels goes from UTC+1 to UTC+2 on Sunday March 29th, 2026.
        friday_15h_cet = datetime(2026, 3, 27, 14, 0)
        self.assertEqual(self._add(friday_15h_cet, 1, "days"), datetime(2026, 3, 30, 13, 0))
        friday_16h_cet = datetime(2026, 3, 27, 15, 0)
        self.assertEqual(self._add(friday_16h_cet, 2, "hours"), datetime(2026, 3, 30, 8, 0))
        # One calendar week later, same local time (11:00): 09:00 UTC in summer time.
        self.assertEqual(
            self._add(datetime(2026, 3, 23, 10, 0), 1, "weeks"), datetime(2026, 3, 30, 9, 0)
        )

    def test_negative_delay_before_a_date(self):
        monday_10h = datetime(2026, 1, 19, 9, 0)
        # 120 working minutes before Monday 10:00: 1 h on Monday, 1 h on Friday.
        self.assertEqual(self._add(monday_10h, -120, "minutes"), datetime(2026, 1, 16, 15, 0))

    def test_rule_uses_company_calendar(self):
        rule = self._rule(
            self.stage_qualified,
            timing="delay",
            delay_count=2,
            delay_unit="hours",
            business_hours=True,
        )
        self._holiday()
        with freeze_time(FRIDAY_16H):
            lead = self._lead()
            lead.stage_id = self.stage_qualified
            job = self._jobs(lead, rule)
        self.assertEqual(job.run_at, datetime(2026, 1, 20, 9, 0))

    def test_rule_uses_salesperson_calendar(self):
        new_york = self.env["resource.calendar"].create(
            {
                "name": "New York 9-17",
                "tz": "America/New_York",
                "attendance_ids": [
                    Command.create(
                        {
                            "name": str(day),
                            "dayofweek": str(day),
                            "hour_from": 9,
                            "hour_to": 17,
                            "day_period": "morning",
                        }
                    )
                    for day in range(5)
                ],
            }
        )
        self.env["resource.resource"].create(
            {
                "name": self.salesman.name,
                "user_id": self.salesman.id,
                "calendar_id": new_york.id,
                "tz": "America/New_York",
            }
        )
        rule = self._rule(
            self.stage_qualified,
            timing="delay",
            delay_count=1,
            delay_unit="hours",
            business_hours=True,
            calendar_source="salesperson",
        )
        with freeze_time(FRIDAY_16H):  # 10:00 in New York
            lead = self._lead(user_id=self.salesman.id)
            lead.stage_id = self.stage_qualified
            other = self._lead(user_id=self.salesman2.id)
            other.stage_id = self.stage_qualified
        self.assertEqual(self._jobs(lead, rule).run_at, datetime(2026, 1, 16, 16, 0))
        # No personal calendar: the company's (Friday 16:00 Brussels + 1 h).
        self.assertEqual(self._jobs(other, rule).run_at, datetime(2026, 1, 16, 16, 0))
        self.assertEqual(
            self.env["crm.automation.job.plan"]._rule_calendar(rule, lead)[0], new_york
        )
        self.assertEqual(
            self.env["crm.automation.job.plan"]._rule_calendar(rule, other)[0], self.calendar
        )

    def test_explicit_calendar_and_date_field(self):
        self._holiday()
        date_open = self.env["ir.model.fields"]._get("crm.lead", "date_open")
        rule = self._rule(
            self.stage_qualified,
            timing="date_field",
            date_field_id=date_open.id,
            date_direction="before",
            delay_count=120,
            delay_unit="minutes",
            business_hours=True,
            resource_calendar_id=self.calendar.id,
        )
        with freeze_time(datetime(2026, 1, 12, 10, 0)):
            lead = self._lead(date_open=datetime(2026, 1, 20, 9, 0))  # Tuesday 10:00 local
            lead.stage_id = self.stage_qualified
        # Monday is a holiday: 1 h on Tuesday, 1 h on Friday.
        self.assertEqual(self._jobs(lead, rule).run_at, datetime(2026, 1, 16, 15, 0))
