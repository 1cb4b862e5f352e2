# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.mail.tests.common import MockEmail
from odoo.addons.sms.tests.common import SMSCase

from .common import NOW, AutomationCase

# The Brussels 9-17 calendar of AutomationCase: NOW is Monday 11:00 local.
SATURDAY = datetime(2026, 1, 17, 12, 0)  # 13:00 local, closed
MONDAY_OPENING = datetime(2026, 1, 19, 8, 0)  # 9:00 local


@tagged("post_install", "-at_install")
class TestTriggerBusinessHours(AutomationCase):
    """A trigger fires only inside, or only outside, the working time of a calendar."""

    def _form(self, lead):
        return self.env["crm.lead.event"]._record(lead, "form_submitted", "form")

    def _trigger(self, **vals):
        return self.env["crm.stage.trigger"].create(
            {
                "name": "After-hours form",
                "stage_id": self.stage_qualified.id,
                "event_type": "form_submitted",
                **vals,
            }
        )

    def test_outside_hours_of_the_company_calendar(self):
        self._trigger(hours_condition="outside")
        with freeze_time(NOW):
            lead = self._lead()
            event = self._form(lead)
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(event.state, "blocked")
        self.assertIn("inside the business hours of Brussels 9-17", event.verdict_reason)
        with freeze_time(SATURDAY):
            late = self._lead(name="Saturday form")
            self.assertEqual(self._form(late).state, "fired")
        self.assertEqual(late.stage_id, self.stage_qualified)

    def test_inside_hours_of_a_chosen_calendar_holidays_are_outside(self):
        paris = self._calendar("Paris 9-17", "Europe/Paris")
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Public holiday",
                "calendar_id": paris.id,
                "date_from": datetime(2026, 1, 18, 23, 0),
                "date_to": datetime(2026, 1, 19, 22, 59, 59),
            }
        )
        self._trigger(hours_condition="inside", hours_calendar_id=paris.id)
        cases = [
            (datetime(2026, 1, 19, 10, 0), False),  # holiday Monday 11:00
            (datetime(2026, 1, 20, 7, 59), False),  # 8:59 local
            (datetime(2026, 1, 20, 8, 0), True),  # opening minute
            (datetime(2026, 1, 20, 11, 30), False),  # lunch break
            (datetime(2026, 1, 20, 15, 59), True),
            (datetime(2026, 1, 20, 16, 0), False),  # closing minute
        ]
        for at, moved in cases:
            with self.subTest(at=at), freeze_time(at):
                lead = self._lead(name=f"Form {at}")
                self._form(lead)
                self.assertEqual(lead.stage_id == self.stage_qualified, moved)

    def test_event_time_counts_not_arrival(self):
        """A call made on Saturday and reported on Monday is an after-hours call."""
        self._trigger(hours_condition="outside", event_type="call_missed")
        lead = self._lead()
        with freeze_time(NOW):
            self.env["crm.lead.event"]._record(lead, "call_missed", "webhook", date=SATURDAY)
        self.assertEqual(lead.stage_id, self.stage_qualified)

    def test_board_and_dry_run(self):
        trigger = self._trigger(hours_condition="outside")
        Board = self.env["crm.automation.board"]
        board = Board.get_board(self.team.id)
        values = next(
            t for stage in board["stages"] for t in stage["triggers"] if t["id"] == trigger.id
        )
        self.assertEqual(values["hours"], "Only outside business hours (company calendar)")
        self.assertEqual(trigger.hours_description, values["hours"])
        lead = self._lead()
        with freeze_time(NOW):
            result = Board._dry_run(lead.id, "form_submitted")
        self.assertEqual(result["trigger"]["state"], "blocked")
        self.assertIn("inside the business hours of Brussels 9-17", result["trigger"]["reason"])
        with freeze_time(SATURDAY):
            result = Board._dry_run(lead.id, "form_submitted")
        self.assertEqual(result["trigger"]["state"], "fired")
        self.assertEqual(lead.stage_id, self.stage_new, "a test: nothing written")


@tagged("post_install", "-at_install")
class TestMessageRecipients(AutomationCase, MockEmail, SMSCase):
    """Email, SMS and notify actions address the customer or internal people."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman.partner_id.write(
            {"email": "sam@company.example.com", "mobile": "0470 11 22 33"}
        )
        cls.leader.partner_id.write(
            {"email": "lea@company.example.com", "phone": "+32 2 555 01 01"}
        )
        cls.env.company.country_id = cls.env.ref("base.be")
        cls.mail_template = cls.env["mail.template"].create(
            {
                "name": "Hot lead",
                "model_id": cls.env["ir.model"]._get_id("crm.lead"),
                "subject": "Hot lead {{ object.name }}",
                "body_html": "<p>Call {{ object.contact_name }} now.</p>",
                "email_to": "{{ object.email_from }}",
                "partner_to": "{{ object.partner_id.id }}",
            }
        )

    def _enter(self, rule):
        lead = self._lead()
        lead.stage_id = rule.stage_id
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "done", job.last_error)
        return lead, job

    def test_sms_to_the_salesperson_not_the_customer(self):
        rule = self._rule(
            self.stage_qualified,
            "sms",
            recipient_target="salesperson",
            message_body="Call back {contact_name} ({phone}) about {name}",
        )
        self.assertEqual(rule.action_description, "SMS “text of the rule” to the salesperson")
        with self.mockSMSGateway():
            # The salesperson moves the lead: the immediate job's author is them.
            lead = self._lead(phone="+32 470 12 34 56")
            lead.with_user(self.salesman).stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "done", job.last_error)
        self.assertEqual(self._new_sms.partner_id, self.salesman.partner_id)
        self.assertEqual(self._new_sms.number, "+32470112233")
        self.assertEqual(
            self._new_sms.body, "Call back Laura Chen (+32 470 12 34 56) about Office desks"
        )
        self.assertIn("Sam Seller", job.result)

    def test_sms_to_chosen_users_without_number_fails_clearly(self):
        nobody = self.env["res.users"].create({"name": "No Phone", "login": "cpa_no_phone"})
        rule = self._rule(
            self.stage_qualified,
            "sms",
            recipient_target="users",
            notify_user_ids=[Command.set(nobody.ids)],
            message_body="Hello",
        )
        lead = self._lead()
        with self.mockSMSGateway():
            lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "pending", "retried later")
        self.assertIn("No Phone has no address to send to", job.last_error)
        self.assertFalse(self._new_sms)

    def test_email_to_the_team_leader_only(self):
        rule = self._rule(
            self.stage_qualified,
            "email",
            mail_template_id=self.mail_template.id,
            recipient_target="team_leader",
        )
        with self.mock_mail_gateway():
            lead, job = self._enter(rule)
        mail = self._new_mails
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.recipient_ids, self.leader.partner_id)
        self.assertFalse(mail.email_to)
        self.assertEqual(mail.subject, "Hot lead Office desks")
        self.assertNotIn(self.partner, mail.partner_ids)
        self.assertIn("Lea Leader", job.result)

    def test_email_to_the_customer_unchanged(self):
        rule = self._rule(self.stage_qualified, "email", mail_template_id=self.mail_template.id)
        self.assertEqual(rule.recipient_target, "customer")
        with self.mock_mail_gateway():
            lead, _job = self._enter(rule)
        message = lead.message_ids.filtered(lambda m: m.subject == "Hot lead Office desks")
        self.assertIn(self.partner, message.partner_ids)

    def test_notify_the_customer(self):
        rule = self._rule(
            self.stage_qualified, "notify", notify_target="customer", notify_message="Hi {name}"
        )
        self.assertEqual(rule.action_description, "Notification to the customer")
        lead, job = self._enter(rule)
        notice = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", lead.id),
                ("message_type", "=", "user_notification"),
            ]
        )
        self.assertEqual(notice.partner_ids, self.partner)
        self.assertIn("Laura Chen", job.result)

    def test_internal_emails_move_nothing_on_the_board(self):
        """Opens and clicks of colleagues are not tracked: no move edge, no loop."""
        self.env["crm.stage.trigger"].create(
            {
                "name": "Opened",
                "stage_id": self.stage_proposal.id,
                "event_type": "email_open",
            }
        )
        rule = self._rule(self.stage_qualified, "email", mail_template_id=self.mail_template.id)
        Board = self.env["crm.automation.board"]
        stages = Board._pipeline_stages(self.team)
        triggers = self.env["crm.stage.trigger"].search([("stage_id", "in", stages.ids)])
        self.assertTrue(Board._move_edges(stages, triggers, rule)[0])
        rule.recipient_target = "salesperson"
        self.assertFalse(Board._move_edges(stages, triggers, rule)[0])

    def test_descriptions_on_the_board_and_dry_run(self):
        rule = self._rule(
            self.stage_qualified,
            "email",
            mail_template_id=self.mail_template.id,
            recipient_target="salesperson",
        )
        Board = self.env["crm.automation.board"]
        values = next(
            r
            for stage in Board.get_board(self.team.id)["stages"]
            for r in stage["rules"]
            if r["id"] == rule.id
        )
        self.assertEqual(values["detail"], "Email “Hot lead” to the salesperson")
        lead = self._lead()
        result = Board._dry_run(lead.id, stage_id=self.stage_qualified.id)
        line = next(r for r in result["rules"] if r["rule_id"] == rule.id)
        self.assertEqual(line["action"], "Email “Hot lead” to the salesperson (Sam Seller)")


@tagged("post_install", "-at_install")
class TestChannelMessage(AutomationCase):
    """The message action posts in a Discuss channel, or in the lead's open live chat
    (else the job is skipped and the ledger says why)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channel = cls.env["discuss.channel"].create(
            {"name": "sales-floor", "channel_type": "channel"}
        )
        cls.livechat = cls.env["im_livechat.channel"].create(
            {"name": "Website chat", "user_ids": [Command.link(cls.salesman.id)]}
        )

    def _chat(self, active=True):
        operator = self.salesman.partner_id
        return self.env["discuss.channel"].create(
            {
                "name": "Laura Chen, Sam Seller",
                "channel_type": "livechat",
                "livechat_active": active,
                "livechat_channel_id": self.livechat.id,
                "livechat_operator_id": operator.id,
                "channel_member_ids": [
                    Command.create({"partner_id": operator.id}),
                    Command.create({"partner_id": self.partner.id}),
                ],
            }
        )

    def test_post_in_a_discuss_channel(self):
        rule = self._rule(
            self.stage_qualified,
            "message",
            message_target="channel",
            message_channel_id=self.channel.id,
            message_body="{name} of {partner_name} is qualified\n({user})",
        )
        self.assertEqual(rule.action_description, "Post in #sales-floor")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        self.assertEqual(self._jobs(lead, rule).state, "done")
        post = self.channel.message_ids[:1]
        self.assertEqual(
            str(post.body), "<p>Office desks of Acme Logistics is qualified<br>(Sam Seller)</p>"
        )

    def test_post_in_the_open_live_chat(self):
        rule = self._rule(
            self.stage_qualified, "message", message_body="Hello {contact_name}, {user} here."
        )
        chat = self._chat()
        closed = self._chat(active=False)
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "done", job.last_error)
        post = chat.message_ids[:1]
        self.assertEqual(str(post.body), "<p>Hello Laura Chen, Sam Seller here.</p>")
        self.assertEqual(post.author_id, self.salesman.partner_id)
        self.assertFalse(closed.message_ids)
        # The rule's post is not the operator accepting the chat.
        self.assertFalse(chat.cpa_first_operator_answer_date)

    def test_no_open_live_chat_skipped_with_reason(self):
        rule = self._rule(self.stage_qualified, "message", message_body="Hello")
        self._chat(active=False)
        lead = self._lead()
        result = self.env["crm.automation.board"]._dry_run(
            lead.id, stage_id=self.stage_qualified.id
        )
        self.assertEqual(
            result["rules"][0]["action"],
            "Post in the lead's live chat: none is open now (skipped)",
        )
        lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual((job.state, job.attempts), ("cancelled", 0))
        skipped = self._logs(lead, "rule_skipped")
        self.assertIn("No open live chat", skipped.message)
        self.assertFalse(self._logs(lead, "job_retry"))

    def test_salesperson_reads_the_board_of_a_restricted_channel_rule(self):
        """The card names the channel even for users who may not read it."""
        secret = self.env["discuss.channel"].create(
            {
                "name": "managers-only",
                "channel_type": "channel",
                "group_public_id": self.env.ref("base.group_system").id,
            }
        )
        rule = self._rule(
            self.stage_qualified,
            "message",
            message_target="channel",
            message_channel_id=secret.id,
            message_body="Hello",
        )
        self.env.invalidate_all()  # the names read as the salesperson, not from the cache
        board = self.env["crm.automation.board"].with_user(self.salesman).get_board(self.team.id)
        values = next(r for stage in board["stages"] for r in stage["rules"] if r["id"] == rule.id)
        self.assertEqual(values["detail"], "Post in #managers-only")

    def test_configuration_errors(self):
        with self.assertRaises(ValidationError):
            self._rule(self.stage_qualified, "message", message_target="channel", message_body="x")
        with self.assertRaises(ValidationError):
            self._rule(self.stage_qualified, "message", message_body=" ")
        with self.assertRaises(ValidationError):
            self._rule(self.stage_qualified, "sms", recipient_target="users", message_body="x")
