# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from odoo import api, fields, models
from odoo.http import request
from odoo.osv import expression
from odoo.tools import html2plaintext

from ..engine import events as lead_events


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    cpa_first_visitor_message_date = fields.Datetime(
        "First visitor message", readonly=True, help="Start of the live chat (chat_started)."
    )
    cpa_first_operator_answer_date = fields.Datetime(
        "First operator answer",
        readonly=True,
        help="The operator accepted the chat (chat_accepted).",
    )

    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        if (
            self.channel_type == "livechat"
            and message.message_type == "comment"
            # a rule's post (as the operator) is not the operator answering the visitor
            and not self.env.context.get("crm_automation_auto")
        ):
            self._cpa_livechat_message(message)
            self._cpa_visitor_tracking_cookie(message)
        return result

    def _convert_visitor_to_lead(self, partner, key):
        """A lead created from the chat (/lead) is the chat's lead: it gets chat_started."""
        lead = super()._convert_visitor_to_lead(partner, key)
        lead.sudo().cpa_channel_id = self
        if self.cpa_first_visitor_message_date:
            self._cpa_record(lead, "chat_started", f"chat_started{self.id}")
        return lead

    def _cpa_leads(self):
        """Leads of the chat: created from it, of its website visitor, of its customers."""
        self.ensure_one()
        # sudo: the chat's participants (public visitors, operators) may not read leads;
        # only events are written, nothing is returned to them.
        Lead = self.env["crm.lead"].sudo()
        leads = Lead.search([("cpa_channel_id", "=", self.id)])
        if "livechat_visitor_id" in self._fields and self.livechat_visitor_id:
            leads |= self.sudo().livechat_visitor_id.lead_ids
        customers = self.sudo().channel_partner_ids.filtered(
            lambda p: p != self.livechat_operator_id and p.partner_share and not p.is_public
        )
        if customers:
            leads |= Lead.search([("partner_id", "in", customers.ids)])
        return leads.filtered("active")

    @api.model
    def _cpa_open_livechat(self, lead):
        """The lead's live chat still open (the visitor has not left): the chat the lead
        was created from, a chat of its website visitors or of its customer; the latest.

        :param lead: crm.lead record
        :return: discuss.channel (superuser environment: the rule posts in it)
        """
        lead.ensure_one()
        links = []
        # sudo: the chat links of the lead, whoever runs the rule.
        lead = lead.sudo()
        if lead.cpa_channel_id:
            links.append([("id", "=", lead.cpa_channel_id.id)])
        if "visitor_ids" in lead._fields and lead.visitor_ids:
            links.append([("livechat_visitor_id", "in", lead.visitor_ids.ids)])
        if lead.partner_id:
            links.append([("channel_partner_ids", "in", lead.partner_id.ids)])
        if not links:
            return self.browse()
        return self.sudo().search(
            [("channel_type", "=", "livechat"), ("livechat_active", "=", True)]
            + expression.OR(links),
            order="id desc",
            limit=1,
        )

    def _cpa_visitor_tracking_cookie(self, message):
        """The visitor's own message in a chat that has a lead: the visitor's browser
        gets the tracking cookie of that lead (its page views are tracked from then
        on). Nothing when the browser has a valid cookie already: the page views
        track the leads of its website visitor, the lead made of the chat among them."""
        if (
            not request
            or not request.env
            or not request.env.uid
            or request.env.user._is_internal()
            or (message.author_id and message.author_id == self.sudo().livechat_operator_id)
        ):
            return
        Visitor = self.env["website.visitor"]
        if Visitor._cpa_cookie_lead_id():
            return
        # sudo: the visitor may not read leads; only its own cookie is set.
        lead = (
            self.env["crm.lead"]
            .sudo()
            .search([("cpa_channel_id", "=", self.id)], order="id desc", limit=1)
        )
        if not lead and self.sudo().livechat_visitor_id:
            lead = self.sudo().livechat_visitor_id.lead_ids.sorted("id", reverse=True)[:1]
        if lead:
            Visitor._cpa_set_tracking_cookie(lead)

    def _cpa_record(self, leads, event_type, dedup_key, **values):
        return (
            self.env["crm.lead.event"]
            .sudo()
            ._record(
                leads,
                event_type,
                "livechat",
                dedup_key=dedup_key,
                channel_id=self.id,
                livechat_channel_id=self.livechat_channel_id.id,
                **values,
            )
        )

    def _cpa_livechat_message(self, message):
        """First visitor message, operator's first answer, keywords."""
        channel = self.sudo()
        is_operator = bool(message.author_id) and message.author_id == channel.livechat_operator_id
        now = fields.Datetime.now()
        leads = None
        if not is_operator:
            if not channel.cpa_first_visitor_message_date:
                channel.cpa_first_visitor_message_date = now
                leads = self._cpa_leads()
                self._cpa_record(leads, "chat_started", f"chat_started{self.id}")
                self._cpa_schedule_late_check(now)
            text = html2plaintext(message.body or "")
            triggers = self._cpa_keyword_triggers(text) if text.strip() else None
            if triggers:
                leads = self._cpa_leads() if leads is None else leads
                # The event keeps an excerpt: the one holding the words that matched.
                excerpt = lead_events.keyword_excerpt(
                    text, [trigger._keyword_patterns() for trigger in triggers]
                )
                self._cpa_record(leads, "chat_keyword", f"chat_keyword{message.id}", text=excerpt)
        elif channel.cpa_first_visitor_message_date and not channel.cpa_first_operator_answer_date:
            channel.cpa_first_operator_answer_date = now
            waited = int((now - channel.cpa_first_visitor_message_date).total_seconds())
            self._cpa_record(
                self._cpa_leads(), "chat_accepted", f"chat_accepted{self.id}", seconds=waited
            )

    def _cpa_keyword_triggers(self, text):
        """Active chat_keyword triggers whose keywords are in ``text``, the whole message
        (chat text is only stored when a trigger looks for it)."""
        triggers = (
            self.env["crm.stage.trigger"].sudo().search([("event_type", "=", "chat_keyword")])
        )
        if not triggers:
            return triggers
        probe = self.env["crm.lead.event"].new(
            {
                "event_type": "chat_keyword",
                "text": text,
                "livechat_channel_id": self.livechat_channel_id.id,
            }
        )
        return triggers.filtered(lambda t: t._match(probe))

    def _cpa_schedule_late_check(self, start):
        """Wake the late-answer cron when the shortest delay is over."""
        delays = (
            self.env["crm.stage.trigger"].sudo().search([("event_type", "=", "chat_response_late")])
        )
        if delays:
            cron = self.env.ref(
                "crm_pipeline_automation.ir_cron_crm_tracking_chat_late", raise_if_not_found=False
            )
            if cron:
                cron.sudo()._trigger(
                    at=start + timedelta(seconds=min(delays.mapped("response_seconds")))
                )

    def _cron_cpa_chat_response_late(self):
        """chat_response_late for live chats whose first visitor message waits longer
        than a trigger's delay for an operator's answer."""
        delays = sorted(
            set(
                self.env["crm.stage.trigger"]
                .search([("event_type", "=", "chat_response_late")])
                .mapped("response_seconds")
            )
        )
        if not delays:
            return
        now = fields.Datetime.now()
        channels = self.search(
            [
                ("channel_type", "=", "livechat"),
                ("cpa_first_visitor_message_date", "!=", False),
                ("cpa_first_operator_answer_date", "=", False),
                ("cpa_first_visitor_message_date", "<=", now - timedelta(seconds=delays[0])),
                # older chats were handled (or abandoned) long ago
                ("cpa_first_visitor_message_date", ">=", now - timedelta(days=2)),
            ]
        )
        for channel in channels:
            waited = int((now - channel.cpa_first_visitor_message_date).total_seconds())
            leads = channel._cpa_leads()
            for delay in delays:
                if waited >= delay:
                    channel._cpa_record(
                        leads, "chat_response_late", f"chat_late{channel.id}.{delay}", seconds=delay
                    )
