# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
from datetime import datetime

from freezegun import freeze_time

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.sms.tests.common import SMSCase

from .common import BROWSER, BRUSSELS, TrackingCase

# Brussels 9-17 company calendar (Monday to Friday, 9-12 and 13-17 local time).
SATURDAY_EVENING = datetime(2026, 1, 17, 19, 30)  # 20:30 local
MONDAY_OPENING = datetime(2026, 1, 19, 8, 0)  # 9:00 local
FRIDAY_MORNING = datetime(2026, 1, 16, 9, 30)  # 10:30 local


@tagged("post_install", "-at_install")
class TestAfterHoursRecipe(TrackingCase, SMSCase):
    """The "After-hours callback" recipe, as a visitor and the cron live it: a website
    form posted after hours moves the lead to "Call back"; at the next opening hour the
    salesperson gets an SMS (SMSCase is an HttpCase)."""

    fixture_calendar = ("Brussels 9-17", BRUSSELS)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.be")
        cls.salesman.partner_id.mobile = "0470 11 22 33"
        website = cls.env["website"].get_current_website()
        website.crm_default_team_id = cls.team
        website.crm_default_user_id = cls.salesman

    def _post_form(self, name):
        self.authenticate(None, None)
        response = self.url_open(
            "/website/form/crm.lead",
            data={
                "contact_name": "Nina Novak",
                "email_from": "nina@novak.example.com",
                "phone": "+32 470 98 76 54",
                "name": name,
            },
            headers={"User-Agent": BROWSER, "Referer": f"{self.base_url()}/contactus"},
        )
        self.assertEqual(response.status_code, 200, response.text)
        return self.env["crm.lead"].browse(json.loads(response.text)["id"])

    def test_after_hours_form_gets_a_callback_sms_at_opening(self):
        wizard = self.env["crm.automation.import.wizard"].create(
            {"source": "recipe", "recipe": "after_hours_callback", "team_id": self.team.id}
        )
        stages = {"new": self.stage_new, "callback": self.stage_qualified}
        for line in wizard.line_ids:
            line.target_stage_id = stages[line.key]
        wizard.action_apply()
        trigger, rule = wizard.trigger_ids, wizard.rule_ids
        self.assertEqual(
            (trigger.hours_condition, trigger.stage_id), ("outside", self.stage_qualified)
        )
        self.assertEqual((rule.action_type, rule.recipient_target), ("sms", "salesperson"))

        with freeze_time(FRIDAY_MORNING):
            in_hours = self._post_form("Desks, during office hours")
        self.assertNotEqual(in_hours.stage_id, self.stage_qualified)

        with freeze_time(SATURDAY_EVENING):
            lead = self._post_form("Desks, after hours")
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        job = self.env["crm.automation.job"].search([("lead_id", "=", lead.id)])
        self.assertEqual((job.rule_id, job.state), (rule, "pending"))
        self.assertEqual(job.run_at, MONDAY_OPENING)

        with freeze_time(MONDAY_OPENING.replace(minute=1)), self.mockSMSGateway():
            self.env["crm.automation.job"]._cron_run_jobs()
        self.assertEqual(job.state, "done", job.last_error)
        sms = self._new_sms
        self.assertEqual(sms.partner_id, self.salesman.partner_id)
        self.assertEqual(sms.number, "+32470112233")
        self.assertEqual(
            sms.body,
            "After-hours request: call back Nina Novak (+32 470 98 76 54) about "
            "Desks, after hours.",
        )
        self.assertEqual(len(self._sms), 1, "the form sent during office hours sent nothing")


@tagged("post_install", "-at_install")
class TestLivechatMessageHttp(TrackingCase, HttpCase):
    """A rule posts in the visitor's live chat opened through Odoo's livechat routes;
    once the visitor has left, the next post is skipped and the ledger says why."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.livechat = cls.env["im_livechat.channel"].create(
            {"name": "Website chat", "user_ids": [Command.link(cls.salesman.id)]}
        )
        cls.env["bus.presence"].create({"user_id": cls.salesman.id, "status": "online"})

    def test_post_in_the_visitor_chat_then_skip_when_left(self):
        rule = self.env["crm.automation.rule"].create(
            {
                "name": "Tell the visitor",
                "stage_id": self.stage_qualified.id,
                "action_type": "message",
                "message_body": "Thanks {contact_name}, {user} prepares your quote.",
            }
        )
        lead = self._lead(partner_id=False, contact_name="Nina Novak")
        chat = self._visitor_chat(lead, self.livechat)

        lead.stage_id = self.stage_qualified
        job = self.env["crm.automation.job"].search([("lead_id", "=", lead.id)])
        self.assertEqual(job.state, "done", job.last_error)
        # What the visitor's browser reads from the chat.
        result = self.make_jsonrpc_request("/discuss/channel/messages", {"channel_id": chat.id})
        bodies = [m["body"] for m in result["data"]["mail.message"]]
        self.assertIn("<p>Thanks Nina Novak, Sam Seller prepares your quote.</p>", bodies)
        self.assertFalse(
            self.env["crm.lead.event"].search(
                [("lead_id", "=", lead.id), ("event_type", "=", "chat_accepted")]
            ),
            "the automation's post is not the operator's answer",
        )

        self.make_jsonrpc_request("/im_livechat/visitor_leave_session", {"channel_id": chat.id})
        self.assertFalse(chat.livechat_active)
        lead.stage_id = self.stage_new
        lead.stage_id = self.stage_qualified
        skipped = self.env["crm.automation.job"].search(
            [("lead_id", "=", lead.id), ("state", "=", "cancelled")]
        )
        self.assertEqual(skipped.rule_id, rule)
        log = self.env["crm.automation.log"].search(
            [("job_id", "=", skipped.id), ("kind", "=", "rule_skipped")]
        )
        self.assertIn("No open live chat", log.message)


@tagged("post_install", "-at_install")
class TestMessagesBoardTour(HttpCase):
    """In Chromium: the trigger and rule forms of the board set the business-hours
    condition and a channel post; cards and dry-run describe them."""

    def test_board_builds_after_hours_trigger_and_channel_post(self):
        manager = new_test_user(
            self.env,
            login="cpa_msg_manager",
            password="cpa_msg_manager",
            name="Max Msg",
            groups="sales_team.group_sale_manager",
        )
        team = self.env["crm.team"].create(
            {"name": "Msg team", "use_leads": True, "user_id": manager.id, "sequence": 0}
        )
        self.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": manager.id})
        Stage = self.env["crm.stage"]
        new = Stage.create({"name": "Msg New", "sequence": 301, "team_id": team.id})
        callback = Stage.create({"name": "Msg Call back", "sequence": 302, "team_id": team.id})
        channel = self.env["discuss.channel"].create(
            {"name": "msg-floor", "channel_type": "channel"}
        )
        self.env["crm.automation.rule"].create(
            {
                "name": "SMS the salesperson",
                "stage_id": callback.id,
                "action_type": "sms",
                "recipient_target": "salesperson",
                "message_body": "Call back {contact_name}",
            }
        )
        self.env["crm.lead"].create(
            {
                "name": "Msg lead",
                "type": "opportunity",
                "team_id": team.id,
                "stage_id": new.id,
                "user_id": manager.id,
            }
        )
        self.start_tour(
            "/odoo/crm", "crm_pipeline_automation_messages_board_tour", login=manager.login
        )
        trigger = self.env["crm.stage.trigger"].search([("name", "=", "Form sent after hours")])
        self.assertEqual(
            (trigger.stage_id, trigger.event_type, trigger.hours_condition),
            (callback, "form_submitted", "outside"),
        )
        rule = self.env["crm.automation.rule"].search([("name", "=", "Tell the sales floor")])
        self.assertEqual(
            (rule.action_type, rule.message_target, rule.message_channel_id, rule.message_body),
            ("message", "channel", channel, "{name}: call back {contact_name} first thing"),
        )
