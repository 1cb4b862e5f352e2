# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import date, datetime

from odoo.exceptions import ValidationError
from odoo.tests import freeze_time, tagged

from .common import NOW as MONDAY
from .common import ActivityTemplateCase


@tagged("post_install", "-at_install")
class TestActivityTemplate(ActivityTemplateCase):
    # -- configuration ----------------------------------------------------

    def test_complete_within_at_least_30_minutes(self):
        with self.assertRaisesRegex(ValidationError, "at least 30 minutes"):
            self._template(deadline_count=29, deadline_unit="minutes")
        with self.assertRaisesRegex(ValidationError, "at least 30 minutes"):
            self._template(deadline_count=0, deadline_unit="hours")
        template = self._template(deadline_count=30, deadline_unit="minutes")
        with self.assertRaisesRegex(ValidationError, "at least 30 minutes"):
            template.deadline_count = -1

    # -- deadline arithmetic ----------------------------------------------

    @freeze_time(MONDAY)
    def test_deadline_in_each_unit(self):
        lead = self._lead()
        expected = {
            ("minutes", 45): datetime(2026, 1, 12, 10, 45),
            ("hours", 3): datetime(2026, 1, 12, 13, 0),
            ("days", 2): datetime(2026, 1, 14, 10, 0),
            ("weeks", 1): datetime(2026, 1, 19, 10, 0),
            ("months", 1): datetime(2026, 2, 12, 10, 0),
        }
        for (unit, count), deadline in expected.items():
            with self.subTest(unit=unit):
                template = self._template(deadline_count=count, deadline_unit=unit)
                activity = template._create_activities(lead)
                self.assertEqual(activity.deadline_datetime, deadline)
                self.assertEqual(activity.date_deadline, deadline.date())
                self.assertEqual(activity.activity_template_id, template)
                self.assertEqual(activity.summary, "Call Laura Chen of Acme Logistics")

    @freeze_time("2026-01-12 10:00:37")
    def test_deadline_is_to_the_minute_and_due_date_is_local(self):
        lead = self._lead()
        activity = self._template(deadline_count=13, deadline_unit="hours")._create_activities(lead)
        # 23:00 UTC is already Tuesday in Brussels: the due date is the assignee's day.
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 12, 23, 0))
        self.assertEqual(activity.date_deadline, date(2026, 1, 13))
        # The same moment is still Monday in New York.
        activity.user_id = self.salesman2
        self.assertEqual(activity.date_deadline, date(2026, 1, 12))

    @freeze_time("2026-01-16 15:30:00")
    def test_business_hours_across_weekend_and_holiday(self):
        """Friday 16:30 in Brussels; Monday 19 is a holiday of the calendar."""
        lead = self._lead()
        template = self._template(deadline_count=2, deadline_unit="hours", business_hours=True)
        activity = template._create_activities(lead)
        # 30 minutes on Friday, then Tuesday 9:00-10:30 Brussels (UTC+1).
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 20, 9, 30))
        self.assertEqual(activity.date_deadline, date(2026, 1, 20))
        template.write({"deadline_count": 1, "deadline_unit": "days"})
        activity = template._create_activities(lead)
        # One working day later at the same local time: Tuesday 16:30 Brussels.
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 20, 15, 30))
        template.write({"deadline_count": 45, "deadline_unit": "minutes"})
        activity = template._create_activities(lead)
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 20, 8, 15))

    @freeze_time("2026-01-16 15:30:00")
    def test_business_hours_of_the_assignee_calendar(self):
        lead = self._lead()
        night_shift = self._calendar("UTC 9-17", "UTC")
        self.env["resource.resource"].create(
            {
                "name": self.salesman.name,
                "user_id": self.salesman.id,
                "calendar_id": night_shift.id,
                "tz": "UTC",
            }
        )
        template = self._template(
            deadline_count=1, deadline_unit="hours", business_hours=True, calendar_source="assignee"
        )
        activity = template._create_activities(lead)
        # The assignee works 9-17 UTC (their resource's time zone): Friday 15:30-16:30 UTC.
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 16, 16, 30))

    @freeze_time(MONDAY)
    def test_deadline_before_or_after_a_date_of_the_lead(self):
        closing = self.env.ref("crm.field_crm_lead__date_deadline")
        lead = self._lead(date_deadline=date(2026, 1, 20))
        template = self._template(
            deadline_base="date_field",
            date_field_id=closing.id,
            date_direction="before",
            deadline_count=120,
            deadline_unit="minutes",
        )
        activity = template._create_activities(lead)
        # Midnight of 20 January in Brussels is 23:00 UTC on the 19th; 120 minutes before.
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 19, 21, 0))
        self.assertEqual(activity.date_deadline, date(2026, 1, 19))
        # A datetime field, after.
        assigned = self.env.ref("crm.field_crm_lead__date_open")
        lead.date_open = datetime(2026, 1, 12, 8, 20)
        template.write(
            {"date_field_id": assigned.id, "date_direction": "after", "deadline_count": 90}
        )
        activity = template._create_activities(lead)
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 12, 9, 50))
        # No date: no activity.
        template.date_field_id = closing
        lead.date_deadline = False
        self.assertFalse(template._create_activities(lead))

    # -- assignee and scope ---------------------------------------------

    def test_assignee_sources(self):
        lead = self._lead()
        template = self._template()
        self.assertEqual(template._create_activities(lead).user_id, self.salesman)
        template.write({"user_source": "user", "user_id": self.salesman2.id})
        self.assertEqual(template._create_activities(lead).user_id, self.salesman2)
        template.user_source = "team_leader"
        self.assertEqual(template._create_activities(lead).user_id, self.leader)

    def test_round_robin_in_the_team(self):
        lead = self._lead()
        template = self._template(user_source="round_robin")
        users = [template._create_activities(lead).user_id for _i in range(5)]
        first, second = sorted([self.salesman, self.salesman2], key=lambda u: u.id)
        self.assertEqual(users, [first, second, first, second, first])
        self.assertEqual(template.round_robin_last_user_id, first)
        # A member leaving the team leaves the rotation.
        self.team.crm_team_member_ids.filtered(lambda m: m.user_id == second).active = False
        self.assertEqual(template._create_activities(lead).user_id, first)

    def test_scope_by_team_and_by_group(self):
        lead = self._lead()
        template = self._template(scope="teams", team_ids=[(6, 0, self.other_team.ids)])
        self.assertFalse(template._create_activities(lead))
        template.team_ids = self.team
        self.assertTrue(template._create_activities(lead))
        group = self.env["res.groups"].create({"name": "Key accounts"})
        template.write({"scope": "groups", "group_ids": [(6, 0, group.ids)]})
        self.assertFalse(template._create_activities(lead))
        self.salesman.groups_id = [(4, group.id)]
        self.assertTrue(template._create_activities(lead))
        # Leads without salesperson are out of any restricted scope.
        self.assertFalse(template._create_activities(self._lead(user_id=False)))

    # -- events -----------------------------------------------------------

    @freeze_time(MONDAY)
    def test_activities_on_lead_creation_and_lost(self):
        created = self._template(
            name="Filter 1",
            event_key="lead_created",
            deadline_count=30,
            deadline_unit="minutes",
            business_hours=True,
        )
        lost = self._template(
            name="Recover", event_key="lead_lost", deadline_count=3, deadline_unit="months"
        )
        lead = self._lead()
        activity = self._activities(lead)
        self.assertEqual(activity.activity_template_id, created)
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 12, 10, 30))
        lead.action_set_lost()
        activity = self._activities(lead)
        self.assertEqual(activity.activity_template_id, lost)
        self.assertEqual(activity.deadline_datetime, datetime(2026, 4, 12, 10, 0))

    def test_event_hook_for_the_triggers(self):
        opened = self._template(
            name="Call now", event_key="email_open", deadline_count=30, deadline_unit="minutes"
        )
        leads = self._lead() | self._lead(name="Second")
        activities = self.env["crm.activity.template"]._create_for_event(leads, "email_open")
        self.assertEqual(len(activities), 2)
        self.assertEqual(activities.activity_template_id, opened)
        self.assertFalse(self.env["crm.activity.template"]._create_for_event(leads, "link_click"))
        opened.active = False
        self.assertFalse(self.env["crm.activity.template"]._create_for_event(leads, "email_open"))

    def test_engagement_events_create_template_activities(self):
        """Email opened by a person -> "call now" activity; a machine open -> none."""
        opened = self._template(
            name="Call now", event_key="email_open", deadline_count=30, deadline_unit="minutes"
        )
        lead = self._lead(email_from="laura.chen@acme-logistics.example.com")
        Event = self.env["crm.lead.event"]
        Event._record(lead, "email_open", "email", verdict="machine", dedup_key="open-bot")
        self.assertFalse(self._activities(lead))
        Event._record(lead, "email_open", "email", verdict="human", dedup_key="open-1")
        self.assertEqual(self._activities(lead).activity_template_id, opened)
        # A duplicate delivery of the same open creates nothing more.
        Event._record(lead, "email_open", "email", verdict="human", dedup_key="open-1")
        self.assertEqual(len(self._activities(lead)), 1)

    # -- stage changes and completion ---------------------------------------

    @freeze_time(MONDAY)
    def test_auto_complete_on_stage_change_and_kept_when_done(self):
        lead = self._lead()
        auto = self._template(name="Auto", auto_done_on_stage_change=True)
        manual = self._template(name="Manual")
        auto_activity = auto._create_activities(lead)
        manual_activity = manual._create_activities(lead)
        lead.stage_id = self.stage_qualified
        self.assertFalse(auto_activity.active)
        self.assertEqual(auto_activity.done_datetime, MONDAY)
        self.assertFalse(auto_activity.done_late)
        self.assertTrue(manual_activity.active)
        # Done by hand: kept (archived) for the reports, with its completion time.
        with freeze_time("2026-01-12 12:05:00"):
            manual_activity.action_feedback(feedback="Called")
        self.assertTrue(manual_activity.exists())
        self.assertFalse(manual_activity.active)
        self.assertEqual(manual_activity.done_datetime, datetime(2026, 1, 12, 12, 5))
        self.assertTrue(manual_activity.done_late)
        self.assertTrue(manual_activity.is_late)
        # Activities without template are still deleted when done, as in core.
        plain = lead.activity_schedule("mail.mail_activity_data_todo", user_id=self.salesman.id)
        plain.action_feedback()
        self.assertFalse(plain.exists())

    @freeze_time(MONDAY)
    def test_done_activity_is_not_completed_again(self):
        """An activity done by hand stays done once: a later stage change neither
        completes it again (message, ledger) nor deletes it from the deadline report."""
        template = self._template(auto_done_on_stage_change=True)
        rule = self.env["crm.automation.rule"].create(
            {
                "name": "Plan the call",
                "stage_id": self.stage_qualified.id,
                "action_type": "activity",
                "activity_template_id": template.id,
                "activity_done_on_exit": True,
            }
        )
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        activity = self._activities(lead, template)
        with freeze_time("2026-01-12 10:30:00"):
            activity.with_user(self.salesman).action_feedback(feedback="Called")
        self.assertFalse(activity.active)
        done_messages = lead.message_ids.filtered("mail_activity_type_id")
        self.assertEqual(len(done_messages), 1)
        # Later stage changes, by a person and by code reading archived records too.
        with freeze_time("2026-01-12 11:00:00"):
            lead.stage_id = self.stage_proposal
            lead.with_context(active_test=False).stage_id = self.stage_new
        self.assertTrue(activity.exists(), "a done activity is kept")
        self.assertFalse(activity.active)
        self.assertEqual(activity.done_datetime, datetime(2026, 1, 12, 10, 30))
        lead.invalidate_recordset(["message_ids"])
        self.assertEqual(lead.message_ids.filtered("mail_activity_type_id"), done_messages)
        self.assertFalse(
            self.env["crm.automation.log"].search(
                [
                    ("lead_id", "=", lead.id),
                    ("rule_id", "=", rule.id),
                    ("kind", "=", "activity_done"),
                ]
            )
        )
        report = self.env["crm.activity.deadline.report"].search(
            [("activity_id", "=", activity.id)]
        )
        self.assertEqual(report.status, "done_on_time")
        # An open one is still completed when the lead leaves the stage.
        lead.stage_id = self.stage_qualified
        reopened = self._activities(lead, template) - activity
        self.assertTrue(reopened.active)
        lead.stage_id = self.stage_proposal
        self.assertFalse(reopened.active)
        self.assertTrue(reopened.exists())

    @freeze_time(MONDAY)
    def test_due_date_and_deadline_stay_consistent(self):
        lead = self._lead()
        activity = self._template()._create_activities(lead)
        activity.deadline_datetime = datetime(2026, 1, 15, 16, 45, 30)
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 15, 16, 45))
        self.assertEqual(activity.date_deadline, date(2026, 1, 15))
        # Moving the due date keeps the local time of day (17:45 in Brussels).
        activity.date_deadline = date(2026, 1, 22)
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 22, 16, 45))
        # Activities planned by date only are due at the end of that day, local time.
        plain = lead.activity_schedule(
            "mail.mail_activity_data_todo",
            date_deadline=date(2026, 1, 14),
            user_id=self.salesman.id,
        )
        self.assertEqual(plain.deadline_datetime, datetime(2026, 1, 14, 22, 59))

    @freeze_time(MONDAY)
    def test_late_flag(self):
        lead = self._lead()
        activity = self._template()._create_activities(lead)
        Activity = self.env["mail.activity"]
        self.assertFalse(activity.is_late)
        self.assertNotIn(activity, Activity.search([("is_late", "=", True)]))
        with freeze_time("2026-01-12 12:01:00"):
            activity.invalidate_recordset(["is_late"])
            self.assertTrue(activity.is_late)
            self.assertIn(activity, Activity.search([("is_late", "=", True)]))
            self.assertNotIn(activity, Activity.search([("is_late", "=", False)]))

    @freeze_time(MONDAY)
    def test_lead_kanban_next_deadline(self):
        lead = self._lead()
        self._template(deadline_count=5, deadline_unit="hours")._create_activities(lead)
        self._template(deadline_count=1, deadline_unit="hours")._create_activities(lead)
        self.assertEqual(lead.activity_deadline_next, datetime(2026, 1, 12, 11, 0))
        self.assertFalse(lead.activity_deadline_late)
        with freeze_time("2026-01-12 11:30:00"):
            lead.invalidate_recordset(["activity_deadline_next", "activity_deadline_late"])
            self.assertTrue(lead.activity_deadline_late)

    # -- stage entry (automation rule) ----------------------------------------

    @freeze_time(MONDAY)
    def test_stage_rule_plans_the_template_activity(self):
        template = self._template(
            deadline_count=2,
            deadline_unit="days",
            business_hours=True,
            auto_done_on_stage_change=True,
        )
        rule = self.env["crm.automation.rule"].create(
            {
                "name": "Plan the call",
                "stage_id": self.stage_qualified.id,
                "action_type": "activity",
                "activity_template_id": template.id,
            }
        )
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        activity = self._activities(lead, template)
        self.assertEqual(len(activity), 1)
        # Two working days later, same local time (Wednesday 11:00 Brussels).
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 14, 10, 0))
        job = self.env["crm.automation.job"].search(
            [("rule_id", "=", rule.id), ("lead_id", "=", lead.id)]
        )
        self.assertEqual(job.activity_id, activity)
        # Moving on completes it; the activity of the new entry is not touched.
        lead.stage_id = self.stage_proposal
        self.assertFalse(activity.active)
        # Out of scope: the rule runs, no activity, and says why.
        template.write({"scope": "teams", "team_ids": [(6, 0, self.other_team.ids)]})
        other = self._lead()
        other.stage_id = self.stage_qualified
        self.assertFalse(self._activities(other, template))
        log = self.env["crm.automation.log"].search(
            [("lead_id", "=", other.id), ("rule_id", "=", rule.id)], order="id desc", limit=1
        )
        self.assertIn("outside the scope", log.message or "")
