# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import re
import time

import phonenumbers
from markupsafe import Markup

from odoo import api, fields, models

from ..engine import tokens as tracking_token

_logger = logging.getLogger(__name__)

# href="http(s)://..." of an email body (double or single quotes).
HREF_RE = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'\s<>]{1,2000})\2""", re.IGNORECASE
)
# Links we never rewrite: our own routes and Odoo's mail links (unsubscribe, view...).
UNTRACKED_PATHS = ("/cpa/", "/mail/", "/web/", "/unsubscribe", "/odoo/")


class CrmLead(models.Model):
    _inherit = "crm.lead"

    engagement_score = fields.Integer(
        readonly=True,
        copy=False,
        default=0,
        help="Points of the lead's human engagement events (opens, clicks, visits, forms, "
        "emails, calls, chats); points per type in the CRM settings.",
    )
    cpa_event_ids = fields.One2many("crm.lead.event", "lead_id", "Engagement events")
    cpa_event_count = fields.Integer("Events", compute="_compute_cpa_event_count")
    cpa_channel_id = fields.Many2one(
        "discuss.channel",
        "Created from chat",
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Live chat this lead was created from (its chat events apply to the lead).",
    )

    def _compute_cpa_event_count(self):
        counts = dict(
            self.env["crm.lead.event"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.cpa_event_count = counts.get(lead, 0)

    def action_view_cpa_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_lead_event_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Helpers of the event sources
    # ------------------------------------------------------------------

    def _cpa_trackable(self):
        """Leads that may be tracked: not opted out (email blacklisted, on the lead or
        its partner)."""
        # sudo: the blacklist is readable by internal users only, events come from
        # public routes too; only a boolean leaves this method.
        leads = self.sudo()
        allowed = leads.filtered(
            lambda lead: not lead.is_blacklisted and not lead.partner_id.is_blacklisted
        )
        return self.browse(allowed.ids)

    @api.model
    def _cpa_phone_e164(self, number, country=None):
        """``number`` in E.164 (company country as default region), or None if it is
        not a possible phone number."""
        if not number or len(number) > 64:
            return None
        region = (country or self.env.company.country_id).code or None
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_possible_number(parsed):
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @api.model
    def _cpa_find_by_phone(self, number_e164):
        """Open leads whose phone or mobile is ``number_e164`` once normalised."""
        if not number_e164:
            return self.browse()
        # phone_mobile_search ignores formatting (spaces, dots...) and has a trigram
        # index; the last 8 digits are in every format of the number (local or not).
        candidates = self.search([("phone_mobile_search", "ilike", number_e164[-8:])], limit=200)
        return candidates.filtered(
            lambda lead: number_e164
            in {
                self._cpa_phone_e164(lead.phone, lead.country_id),
                self._cpa_phone_e164(lead.mobile, lead.country_id),
            }
        )

    def _cpa_lead_token(self):
        """Signed identity of the lead for the tracking cookie and the snippet."""
        self.ensure_one()
        return tracking_token.sign(self.env, "lead", [self.id, int(time.time())])

    def _cpa_ledger(self, kind, *, stage=None, from_stage=None, message=None, event=None):
        """Ledger row for each lead (automatic, by the current user)."""
        if "crm.automation.log" not in self.env:
            return
        Log = self.env["crm.automation.log"].sudo().with_context(crm_automation_auto=True)
        Log._log(self, kind, stage=stage, from_stage=from_stage, message=message, automatic=True)

    # ------------------------------------------------------------------
    # Email in / out
    # ------------------------------------------------------------------

    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        if len(self) == 1 and not self.env.context.get("crm_automation_auto"):
            self._cpa_email_event(message)
        return result

    def _cpa_email_event(self, message):
        """email_received (an email from outside) or email_sent (a salesperson's
        message to the customer) for this lead."""
        # sudo: authors and subtypes of a message the current user just posted or received.
        message = message.sudo()
        author_users = message.author_id.user_ids
        internal = bool(author_users.filtered(lambda u: not u._is_public() and not u.share))
        event_type = None
        if message.message_type == "email" and not internal:
            event_type, source = "email_received", "mail_gateway"
        elif (
            message.message_type in ("comment", "email_outgoing")
            and internal
            and message.subtype_id == self.env.ref("mail.mt_comment")
        ):
            event_type, source = "email_sent", "chatter"
        if event_type:
            self.env["crm.lead.event"].sudo()._record(
                self,
                event_type,
                source,
                dedup_key=f"msg{message.id}",
                message_ref=message.id,
                partner_id=message.author_id.id,
                text=message.subject or message.preview,
                user_id=author_users[:1].id if internal else False,
            )

    # ------------------------------------------------------------------
    # Open pixel and click rewriting of outgoing emails
    # ------------------------------------------------------------------

    def _cpa_track_body(self, body, message_id, partner_id, template_id=0):
        """``body`` with an open pixel and links rewritten to the signed click route,
        for one recipient of one message.

        Tokens carry (lead, message, recipient, template, send time[, link]): they are
        valid although the mail.mail (and sometimes the mail.message) are deleted
        after sending.

        :param partner_id: recipient partner id, 0 for plain email addresses
        """
        self.ensure_one()
        if not body or not self._cpa_trackable():
            return body
        base = self.get_base_url()
        body = str(body)
        numbers = [self.id, message_id or 0, partner_id or 0, template_id or 0, int(time.time())]
        links = {}

        def tracked(url):
            return not (
                url.startswith(base) and any(path in url[len(base) :] for path in UNTRACKED_PATHS)
            )

        # The number of tracked links goes in the click tokens: clicking all of them
        # within seconds is a link scanner's burst.
        link_count = len({m.group(3) for m in HREF_RE.finditer(body) if tracked(m.group(3))})

        def rewrite(match):
            url = match.group(3).replace("&amp;", "&")
            if not tracked(match.group(3)):
                return match.group(0)
            if url not in links:
                # sudo: link.tracker is the stored list of redirect targets; the title is
                # given so that no page is fetched while sending.
                links[url] = (
                    self.env["link.tracker"]
                    .sudo()
                    .search_or_create([{"url": url, "title": url[:200]}])
                    .id
                )
            token = tracking_token.sign(self.env, "click", [*numbers, link_count, links[url]])
            return f"{match.group(1)}{match.group(2)}{base}/cpa/c/{token}{match.group(2)}"

        body = HREF_RE.sub(rewrite, body)
        token = tracking_token.sign(self.env, "open", numbers)
        pixel = str(
            Markup('<img src="%s/cpa/o/%s" alt="" width="1" height="1" style="display:none"/>')
            % (base, token)
        )
        if "</body>" in body:
            return body.replace("</body>", f"{pixel}</body>", 1)
        return body + pixel
