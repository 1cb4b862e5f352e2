# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from .common import TrackingCase


@tagged("post_install", "-at_install")
class TestLivechatTrigger(TrackingCase):
    """Live chat sessions: first visitor message, operator's first answer, late answer
    (cron), keywords; linked to leads by partner or by the lead created from the chat."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
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

    def test_keyword_late_in_a_long_message(self):
        """Keywords are matched in the whole message, and the event's excerpt shows them."""
        quote = self._trigger(self.stage_qualified, "chat_keyword", keywords="devis")
        price = self._trigger(self.stage_proposition, "chat_keyword", keywords="price list")
        lead = self._lead()
        chat = self._chat()
        filler = "We are moving offices and need new furniture for the whole team. " * 10
        self._say(chat, self.partner, f"{filler}Could you send a Devis?")
        self.assertGreater(len(filler), 500)
        self.assertMovedBy(lead, self.stage_qualified, quote, self.salesman)
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "chat_keyword")
        self.assertIn("Devis", event.text)
        self.assertLessEqual(len(event.text), 200)
        # Two keywords far apart, both past the excerpt length: the excerpt keeps both.
        other = self._lead(partner_id=self.env["res.partner"].create({"name": "Far"}).id)
        chat2 = self._chat(other.partner_id)
        self._say(chat2, other.partner_id, f"{filler}a devis {filler}and your PRICE\nlist too")
        self.assertEqual(other.stage_id, self.stage_proposition)
        event = other.cpa_event_ids.filtered(lambda e: e.event_type == "chat_keyword")
        self.assertIn("devis", event.text)
        self.assertIn("PRICE", event.text)
        self.assertLessEqual(len(event.text), 200)
        self.assertTrue(quote._match(event) and price._match(event))

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


@tagged("post_install", "-at_install")
class TestLivechatTriggerHttp(TrackingCase, HttpCase):
    """The same chat as a website visitor and an operator make it: the livechat routes of
    Odoo over real HTTP, the chat linked to the lead through the website visitor."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman.password = "cpa_trk_seller"
        cls.livechat = cls.env["im_livechat.channel"].create(
            {"name": "Website chat", "user_ids": [Command.link(cls.salesman.id)]}
        )
        # The operator is online: the livechat channel only opens chats with them then.
        cls.env["bus.presence"].create({"user_id": cls.salesman.id, "status": "online"})

    def _post(self, chat_id, text):
        return self.make_jsonrpc_request(
            "/mail/message/post",
            {
                "thread_model": "discuss.channel",
                "thread_id": chat_id,
                "post_data": {
                    "body": text,
                    "message_type": "comment",
                    "subtype_xmlid": "mail.mt_comment",
                },
            },
        )

    def test_visitor_chat_moves_the_visitor_lead(self):
        started = self._trigger(
            self.stage_qualified, "chat_started", livechat_channel_id=self.livechat.id
        )
        keyword = self._trigger(self.stage_proposition, "chat_keyword", keywords="quote, devis")
        lead = self._lead(partner_id=False)
        chat = self._visitor_chat(lead, self.livechat)
        self._post(chat.id, "Hello, anyone there?")
        lead.invalidate_recordset()
        self.assertMovedBy(lead, self.stage_qualified, started, self.salesman)
        # Keywords: case- and accent-insensitive, in the visitor's words only.
        self._post(chat.id, "Could I get a QUOTE for 30 chairs?")
        lead.invalidate_recordset()
        self.assertMovedBy(lead, self.stage_proposition, keyword, self.salesman)
        # A keyword far in a long message (a pasted request) counts too.
        late = self._trigger(self.stage_won, "chat_keyword", keywords="purchase order")
        filler = "We need desks, chairs and lamps for our new office in Brussels. " * 8
        self._post(chat.id, f"{filler}Our purchase order follows.")
        lead.invalidate_recordset()
        self.assertEqual(lead.stage_id, self.stage_won)
        self.assertIn(late.name, self._notes(lead)[0].body)
        # The operator answers from the backend: the chat is accepted.
        self.authenticate("cpa_trk_seller", "cpa_trk_seller")
        self._post(chat.id, "Sure, I am preparing it.")
        events = self.env["crm.lead.event"].search([("lead_id", "=", lead.id)])
        self.assertEqual(
            sorted(events.mapped("event_type")),
            ["chat_accepted", "chat_keyword", "chat_keyword", "chat_started"],
        )
        self.assertEqual(set(events.mapped("channel_id")), {chat})
