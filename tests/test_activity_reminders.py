# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime

from odoo.tests import freeze_time, tagged

from .common import NOW as MONDAY
from .common import ActivityTemplateCase


@tagged("post_install", "-at_install")
class TestActivityReminders(ActivityTemplateCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cron = cls.env.ref("crm_pipeline_automation.ir_cron_crm_activity_deadline_notices")
        # Deadline 12:00 UTC, reminder 11:30, for an activity created Monday 10:00.
        cls.template = cls._template(
            deadline_count=2,
            deadline_unit="hours",
            reminder_count=30,
            reminder_unit="minutes",
            notify_leader_overdue=True,
        )

    def _run_cron(self, at):
        with freeze_time(at):
            return self.env["mail.activity"]._cron_send_deadline_notices()

    def _notices(self, lead, prefix, user):
        messages = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", lead.id),
                ("subject", "=like", f"{prefix}:%"),
                ("partner_ids", "in", user.partner_id.ids),
            ]
        )
        mails = self.env["mail.mail"].search([("mail_message_id", "in", messages.ids)])
        return messages, mails

    def _create(self, lead=None):
        with freeze_time(MONDAY):
            return self.template._create_activities(lead or self._lead())

    def test_reminder_and_overdue_sent_once_at_their_minute(self):
        self.salesman.notification_type = "inbox"
        activity = self._create()
        lead = self.env["crm.lead"].browse(activity.res_id)
        self.assertEqual(activity.reminder_datetime, datetime(2026, 1, 12, 11, 30))
        # The cron is woken at both minutes.
        triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)])
        self.assertIn(datetime(2026, 1, 12, 11, 30), triggers.mapped("call_at"))
        self.assertIn(datetime(2026, 1, 12, 12, 0), triggers.mapped("call_at"))

        self._run_cron("2026-01-12 11:29:59")
        self.assertFalse(self._notices(lead, "Reminder", self.salesman)[0])
        self._run_cron("2026-01-12 11:30:00")
        messages, mails = self._notices(lead, "Reminder", self.salesman)
        self.assertEqual(len(messages), 1, "one inbox notification")
        self.assertEqual(len(mails), 1, "and one email")
        self.assertIn("Call Laura Chen of Acme Logistics", messages.body)
        self.assertEqual(activity.reminder_sent_at, datetime(2026, 1, 12, 11, 30))
        self._run_cron("2026-01-12 11:45:00")
        self.assertEqual(len(self._notices(lead, "Reminder", self.salesman)[0]), 1, "sent once")

        self._run_cron("2026-01-12 11:59:00")
        self.assertFalse(self._notices(lead, "Overdue", self.salesman)[0])
        self._run_cron("2026-01-12 12:00:00")
        self.assertEqual(len(self._notices(lead, "Overdue", self.salesman)[0]), 1)
        self.assertEqual(len(self._notices(lead, "Overdue", self.leader)[0]), 1, "leader told")
        self._run_cron("2026-01-12 13:00:00")
        self.assertEqual(len(self._notices(lead, "Overdue", self.salesman)[0]), 1, "sent once")
        self.assertEqual(activity.overdue_sent_at, datetime(2026, 1, 12, 12, 0))

    def test_no_leader_notice_unless_the_template_says_so(self):
        self.template.notify_leader_overdue = False
        activity = self._create()
        lead = self.env["crm.lead"].browse(activity.res_id)
        self._run_cron("2026-01-12 12:00:00")
        self.assertEqual(len(self._notices(lead, "Overdue", self.salesman)[0]), 1)
        self.assertFalse(self._notices(lead, "Overdue", self.leader)[0])

    def test_nothing_for_activities_done_in_time(self):
        activity = self._create()
        lead = self.env["crm.lead"].browse(activity.res_id)
        with freeze_time("2026-01-12 11:00:00"):
            activity.action_feedback(feedback="Done early")
        self.assertFalse(activity.done_late)
        self.assertEqual(self._run_cron("2026-01-12 11:30:00"), 0)
        self.assertEqual(self._run_cron("2026-01-12 12:00:00"), 0)
        self.assertFalse(self._notices(lead, "Reminder", self.salesman)[0])
        self.assertFalse(self._notices(lead, "Overdue", self.salesman)[0])

    def test_done_after_the_reminder_gets_no_overdue_notice(self):
        activity = self._create()
        lead = self.env["crm.lead"].browse(activity.res_id)
        self._run_cron("2026-01-12 11:30:00")
        with freeze_time("2026-01-12 11:50:00"):
            activity.action_done()
        self._run_cron("2026-01-12 12:00:00")
        self.assertEqual(len(self._notices(lead, "Reminder", self.salesman)[0]), 1)
        self.assertFalse(self._notices(lead, "Overdue", self.salesman)[0])

    def test_late_cron_sends_the_overdue_notice_only(self):
        """A cron that wakes after the deadline skips the stale reminder."""
        activity = self._create()
        lead = self.env["crm.lead"].browse(activity.res_id)
        self._run_cron("2026-01-12 12:10:00")
        self.assertFalse(self._notices(lead, "Reminder", self.salesman)[0])
        self.assertEqual(len(self._notices(lead, "Overdue", self.salesman)[0]), 1)
        self.assertTrue(activity.reminder_sent_at)

    def test_moved_deadline_is_notified_at_the_new_time(self):
        activity = self._create()
        lead = self.env["crm.lead"].browse(activity.res_id)
        with freeze_time("2026-01-12 11:00:00"):
            activity.deadline_datetime = datetime(2026, 1, 12, 15, 0)
        self.assertEqual(activity.reminder_datetime, datetime(2026, 1, 12, 14, 30))
        self.assertEqual(self._run_cron("2026-01-12 12:00:00"), 0)
        self._run_cron("2026-01-12 14:30:00")
        self.assertEqual(len(self._notices(lead, "Reminder", self.salesman)[0]), 1)

    def test_claims_are_set_wise_and_once(self):
        activities = self._create() | self._create() | self._create()
        Activity = self.env["mail.activity"]
        first = Activity._claim_due("reminder", datetime(2026, 1, 12, 11, 30))
        self.assertEqual(first, activities)
        self.assertFalse(Activity._claim_due("reminder", datetime(2026, 1, 12, 11, 31)))
