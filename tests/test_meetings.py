# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Meetings of a lead (Exact Spotter: "Meeting confirmation 120 minutes before the
meeting"), scheduled, moved and cancelled through calendar.event as the calendar
views of a lead do (the context of crm.lead.action_schedule_meeting)."""

from datetime import datetime

from odoo import Command
from odoo.tests import freeze_time, tagged

from .common import NOW as MONDAY
from .common import ActivityTemplateCase, TrackingCase

TUESDAY_2PM = datetime(2026, 1, 13, 14, 0)


class MeetingMixin:
    def _schedule(self, lead, user, start=TUESDAY_2PM, **vals):
        """A meeting created from the lead's "Meeting" button, as ``user``."""
        context = lead.with_user(user).action_schedule_meeting()["context"]
        values = {
            "name": "Demo",
            "start": start,
            "stop": start.replace(hour=start.hour + 1),
            **vals,
        }
        return self.env["calendar.event"].with_user(user).with_context(**context).create(values)

    def _ledger_rows(self, lead, kind):
        return self.env["crm.automation.log"].search(
            [("lead_id", "=", lead.id), ("kind", "=", kind)], order="id"
        )


@tagged("post_install", "-at_install")
class TestMeetingActivities(MeetingMixin, ActivityTemplateCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.confirm = cls._template(
            name="Meeting confirmation",
            summary="Confirm the meeting with {contact_name}",
            event_key="meeting_scheduled",
            deadline_base="meeting",
            date_direction="before",
            deadline_count=120,
            deadline_unit="minutes",
            reminder_count=30,
            reminder_unit="minutes",
        )

    @freeze_time(MONDAY)
    def test_confirmation_120_minutes_before_the_meeting(self):
        lead = self._lead()
        meeting = self._schedule(lead, self.salesman)
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "meeting_scheduled")
        self.assertEqual(len(event), 1)
        self.assertEqual(
            (event.source, event.text, event.user_id), ("calendar", "Demo", self.salesman)
        )
        activity = self._activities(lead, self.confirm)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.summary, "Confirm the meeting with Laura Chen")
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 13, 12, 0))
        self.assertEqual(activity.reminder_datetime, datetime(2026, 1, 13, 11, 30))
        self.assertEqual(activity.cpa_meeting_id, meeting)
        self.assertEqual(activity.user_id, self.salesman)
        # Saving the meeting again (other fields) schedules nothing more.
        meeting.with_user(self.salesman).write({"name": "Demo of the chairs"})
        self.assertEqual(len(self._activities(lead, self.confirm)), 1)

    @freeze_time(MONDAY)
    def test_each_meeting_counts_from_its_own_start(self):
        lead = self._lead()
        self._schedule(lead, self.salesman)
        later = self._schedule(lead, self.salesman, start=datetime(2026, 1, 20, 9, 0))
        activities = self._activities(lead, self.confirm)
        self.assertEqual(
            activities.mapped("deadline_datetime"),
            [datetime(2026, 1, 13, 12, 0), datetime(2026, 1, 20, 7, 0)],
        )
        self.assertEqual(activities[1].cpa_meeting_id, later)

    @freeze_time(MONDAY)
    def test_rescheduling_moves_the_deadline_and_its_reminder(self):
        lead = self._lead()
        meeting = self._schedule(lead, self.salesman)
        activity = self._activities(lead, self.confirm)
        meeting.with_user(self.salesman).write(
            {"start": datetime(2026, 1, 15, 9, 0), "stop": datetime(2026, 1, 15, 10, 0)}
        )
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 15, 7, 0))
        self.assertEqual(activity.reminder_datetime, datetime(2026, 1, 15, 6, 30))
        self.assertEqual(str(activity.date_deadline), "2026-01-15")
        row = self._ledger_rows(lead, "activity_moved")
        self.assertEqual(len(row), 1)
        self.assertIn("Meeting Demo moved", row.message)

    @freeze_time(MONDAY)
    def test_deleting_or_archiving_the_meeting_cancels_the_activity(self):
        lead = self._lead()
        deleted = self._schedule(lead, self.salesman)
        archived = self._schedule(lead, self.salesman, start=datetime(2026, 1, 14, 9, 0))
        self.assertEqual(len(self._activities(lead, self.confirm)), 2)
        deleted.with_user(self.salesman).unlink()
        self.assertEqual(
            self._activities(lead, self.confirm, active_test=False).cpa_meeting_id, archived
        )
        archived.with_user(self.salesman).action_archive()
        # An archive cancels when the transaction commits (still archived then).
        self.assertTrue(self._activities(lead, self.confirm))
        self.env.cr.precommit.run()
        self.assertFalse(self._activities(lead, self.confirm, active_test=False))
        rows = self._ledger_rows(lead, "activity_cancelled")
        self.assertEqual(len(rows), 2)
        self.assertIn(
            "Meeting Demo deleted: activity 'Confirm the meeting with Laura Chen' cancelled",
            rows[0].message,
        )
        self.assertIn("archived", rows[1].message)

    @freeze_time(MONDAY)
    def test_a_recurring_meeting_is_scheduled_once(self):
        lead = self._lead()
        self._schedule(
            lead,
            self.salesman,
            recurrency=True,
            rrule_type="weekly",
            tue=True,
            end_type="count",
            count=3,
        )
        self.assertEqual(
            len(self.env["calendar.event"].search([("opportunity_id", "=", lead.id)])), 3
        )
        self.assertEqual(len(self._activities(lead, self.confirm)), 1)

    @freeze_time(MONDAY)
    def test_free_when_no_template_counts_from_a_meeting(self):
        lead = self._lead()
        meeting = self._schedule(lead, self.salesman)
        self.assertTrue(meeting._cpa_meeting_activities())
        self.confirm.deadline_base = "create"
        meeting._cpa_meeting_activities()  # the cached answer, read once
        with self.assertQueryCount(0):
            self.assertFalse(meeting._cpa_meeting_activities())

    @freeze_time(MONDAY)
    def test_moving_all_events_of_a_recurring_meeting_keeps_the_activity(self):
        """The calendar archives the events of the recurrence and restores the first
        one with the new time: its activity moves, it is not cancelled."""
        lead = self._lead()
        meeting = self._schedule(
            lead,
            self.salesman,
            recurrency=True,
            rrule_type="weekly",
            tue=True,
            end_type="count",
            count=3,
        )
        activity = self._activities(lead, self.confirm)
        meeting.with_user(self.salesman).write(
            {
                "start": datetime(2026, 1, 13, 16, 0),
                "stop": datetime(2026, 1, 13, 17, 0),
                "recurrence_update": "all_events",
            }
        )
        self.env.cr.precommit.run()
        self.assertTrue(activity.exists())
        self.assertEqual(activity.deadline_datetime, datetime(2026, 1, 13, 14, 0))
        self.assertFalse(self._ledger_rows(lead, "activity_cancelled"))

    @freeze_time(MONDAY)
    def test_meetings_of_other_records_are_ignored(self):
        lead = self._lead()
        self.env["calendar.event"].with_user(self.salesman).create(
            {"name": "Team lunch", "start": TUESDAY_2PM, "stop": TUESDAY_2PM.replace(hour=15)}
        )
        self.assertFalse(lead.cpa_event_ids)
        self.assertFalse(self._activities(lead, self.confirm))

    @freeze_time(MONDAY)
    def test_stage_entry_rule_counts_from_the_next_meeting(self):
        lead = self._lead()
        self._schedule(lead, self.salesman, start=datetime(2026, 1, 16, 9, 0))
        self._schedule(lead, self.salesman, start=datetime(2026, 1, 14, 9, 0))
        rule = self.env["crm.automation.rule"].create(
            {
                "name": "Prepare the next meeting",
                "stage_id": self.stage_qualified.id,
                "action_type": "activity",
                "activity_template_id": self.confirm.id,
            }
        )
        lead.stage_id = self.stage_qualified
        activities = self._activities(lead, self.confirm)
        self.assertEqual(len(activities), 3)
        self.assertEqual(activities[-1].deadline_datetime, datetime(2026, 1, 14, 7, 0))
        # Without any upcoming meeting the job says why there is no activity.
        other = self._lead(name="No meeting yet")
        other.stage_id = self.stage_qualified
        job = self.env["crm.automation.job"].search(
            [("lead_id", "=", other.id), ("rule_id", "=", rule.id)]
        )
        self.assertIn("no upcoming meeting", job.result)

    @freeze_time(MONDAY)
    def test_dry_run_shows_the_deadline(self):
        lead = self._lead()
        self._schedule(lead, self.salesman)
        result = self.env["crm.lead"].automation_dry_run(lead.id, "meeting_scheduled")
        self.assertEqual(
            result["activities"],
            [
                {
                    "template_id": self.confirm.id,
                    "template": "Meeting confirmation",
                    "user": "Sam Seller",
                    "description": "120 minutes before the lead's next meeting",
                    "deadline": "2026-01-13 12:00:00",
                    "skipped": False,
                }
            ],
        )
        alone = self._lead(name="No meeting")
        result = self.env["crm.lead"].automation_dry_run(alone.id, "meeting_scheduled")
        self.assertEqual(result["activities"][0]["skipped"], "the lead has no upcoming meeting")


@tagged("post_install", "-at_install")
class TestMeetingTrigger(MeetingMixin, TrackingCase):
    @freeze_time(MONDAY)
    def test_meeting_scheduled_moves_the_lead(self):
        trigger = self._trigger(self.stage_qualified, "meeting_scheduled", name="Meeting booked")
        lead = self._lead()
        self._schedule(lead, self.salesman)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "meeting_scheduled")
        self.assertEqual((event.state, event.trigger_id), ("fired", trigger))
        # Dry-run on another lead: the same trigger, with a readable event name.
        other = self._lead(name="Second")
        result = self.env["crm.lead"].automation_dry_run(other.id, "meeting_scheduled")
        self.assertEqual(result["trigger"]["state"], "fired")
        self.assertEqual(result["trigger"]["trigger"], "Meeting booked")
        board = self.env["crm.automation.board"].get_board(self.team.id)
        cards = [t for stage in board["stages"] for t in stage["triggers"] if t["id"] == trigger.id]
        self.assertEqual(cards[0]["event"], "Meeting scheduled")

    @freeze_time(MONDAY)
    def test_linking_a_meeting_later_schedules_it(self):
        trigger = self._trigger(self.stage_qualified, "meeting_scheduled")
        lead = self._lead()
        meeting = (
            self.env["calendar.event"]
            .with_user(self.salesman)
            .create(
                {
                    "name": "Call",
                    "start": TUESDAY_2PM,
                    "stop": TUESDAY_2PM.replace(hour=15),
                    "partner_ids": [Command.link(self.salesman.partner_id.id)],
                }
            )
        )
        self.assertEqual(lead.stage_id, self.stage_new)
        meeting.with_user(self.salesman).write({"opportunity_id": lead.id})
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
