# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from odoo import Command, fields
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .tracking_common import TrackingMixin


@tagged("post_install", "-at_install")
class TestLivechatTrigger(TrackingMixin, TransactionCase):
    """Live chat sessions: first visitor message, operator's first answer, late answer
    (cron), keywords; linked to leads by partner or by the lead created from the chat."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_tracking()
        cls.livechat = cls.env["im_livechat.channel"].create(
            {"name": "Website chat", "user_ids": [Command.link(cls.salesman.id)]}
        )
        cls.operator = cls.salesman.partner_id

    def _chat(self, customer=None):
        customer = customer or self.partner
        return self.env["discuss.channel"].create(
            {
                "name": "Visitor chat",
                "channel_type": "livechat",
                "livechat_channel_id": self.livechat.id,
                "livechat_operator_id": self.operator.id,
                "channel_member_ids": [
                    Command.create({"partner_id": self.operator.id}),
                    Command.create({"partner_id": customer.id}),
                ],
            }
        )

    def _say(self, chat, author, text):
        return chat.message_post(
            body=text, author_id=author.id, message_type="comment", subtype_xmlid="mail.mt_comment"
        )

    def test_started_and_accepted(self):
        started = self._trigger(
            self.stage_qualified, "chat_started", livechat_channel_id=self.livechat.id
        )
        accepted = self._trigger(self.stage_proposition, "chat_accepted")
        lead = self._lead()
        chat = self._chat()
        self._say(chat, self.partner, "Hello")
        self.assertMovedBy(lead, self.stage_qualified, started, self.salesman)
        self._say(chat, self.partner, "Anyone there?")
        self.assertEqual(
            len(lead.cpa_event_ids.filtered(lambda e: e.event_type == "chat_started")), 1
        )
        self._say(chat, self.operator, "Hi, how can I help?")
        self.assertEqual(lead.stage_id, self.stage_proposition)
        self.assertIn(accepted.name, self._notes(lead)[0].body)
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "chat_accepted")
        self.assertEqual(event.channel_id, chat)

    def test_keywords_case_and_accent_insensitive(self):
        trigger = self._trigger(self.stage_proposition, "chat_keyword", keywords="devis, prix")
        lead = self._lead()
        chat = self._chat()
        self._say(chat, self.partner, "Bonjour")
        self.assertFalse(lead.cpa_event_ids.filtered(lambda e: e.event_type == "chat_keyword"))
        self._say(chat, self.operator, "Un DÉVIS ?")  # the operator's words do not count
        self.assertEqual(lead.stage_id, self.stage_new)
        self._say(chat, self.partner, "Je voudrais un DÉVIS, s'il vous plaît")
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        self.assertIn(
            "DÉVIS", lead.cpa_event_ids.filtered(lambda e: e.event_type == "chat_keyword").text
        )

    def test_response_late_by_cron(self):
        trigger = self._trigger(self.stage_qualified, "chat_response_late", response_seconds=120)
        lead = self._lead()
        chat = self._chat()
        self._say(chat, self.partner, "Hello?")
        self.env["discuss.channel"]._cron_cpa_chat_response_late()
        self.assertEqual(lead.stage_id, self.stage_new)
        chat.cpa_first_visitor_message_date = fields.Datetime.now() - timedelta(seconds=180)
        self.env["discuss.channel"]._cron_cpa_chat_response_late()
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.env["discuss.channel"]._cron_cpa_chat_response_late()
        self.assertEqual(
            len(lead.cpa_event_ids.filtered(lambda e: e.event_type == "chat_response_late")), 1
        )
        # an answered chat is never late
        other = self._lead(partner_id=self.env["res.partner"].create({"name": "Quick"}).id)
        chat2 = self._chat(other.partner_id)
        self._say(chat2, other.partner_id, "Hi")
        self._say(chat2, self.operator, "Hello!")
        chat2.cpa_first_visitor_message_date = fields.Datetime.now() - timedelta(seconds=500)
        self.env["discuss.channel"]._cron_cpa_chat_response_late()
        self.assertEqual(other.stage_id, self.stage_new)

    def test_lead_created_from_the_chat(self):
        self._trigger(self.stage_qualified, "chat_started")
        visitor = self.env["res.partner"].create({"name": "Anonymous visitor"})
        chat = self._chat(visitor)
        self._say(chat, visitor, "I need 30 chairs")
        lead = chat._convert_visitor_to_lead(self.operator, "/lead 30 chairs")
        self.assertEqual(lead.cpa_channel_id, chat)
        self.assertTrue(lead.cpa_event_ids.filtered(lambda e: e.event_type == "chat_started"))
