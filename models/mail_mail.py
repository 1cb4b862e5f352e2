# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import re
import time

from markupsafe import Markup

from odoo import models

from ..engine import tokens as tracking_token

# href="http(s)://..." of an email body (double or single quotes).
HREF_RE = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'\s<>]{1,2000})\2""", re.IGNORECASE
)
# Links we never rewrite: our own routes and Odoo's mail links (unsubscribe, view...).
UNTRACKED_PATHS = ("/cpa/", "/mail/", "/web/", "/unsubscribe", "/odoo/")


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _personalize_outgoing_body(self, body, partner=False, recipients_follower_status=None):
        """Emails about a lead (chatter, templates, automation rules): open pixel and
        signed click links, per recipient."""
        body = super()._personalize_outgoing_body(body, partner, recipients_follower_status)
        if self.model != "crm.lead" or not self.res_id:
            return body
        if "mailing_id" in self._fields and self.mailing_id:
            return body  # mass mailings have their own tracking
        if partner and partner.sudo().user_ids.filtered(lambda user: not user.share):
            return body  # colleagues notified about the lead are not the customer
        lead = self.env["crm.lead"].sudo().browse(self.res_id).exists()
        if not lead:
            return body
        return self._cpa_track_body(
            lead,
            body,
            self.mail_message_id.id,
            partner.id if partner else 0,
            self.cpa_template_id.id,
        )

    def _cpa_track_body(self, lead, body, message_id, partner_id, template_id=0):
        """``body`` with an open pixel and links rewritten to the signed click route,
        for one recipient of one message about ``lead``.

        Tokens carry (lead, message, recipient, template, send time[, link]): they are
        valid although the mail.mail (and sometimes the mail.message) are deleted
        after sending.

        :param partner_id: recipient partner id, 0 for plain email addresses
        """
        lead.ensure_one()
        if not body or not lead._cpa_trackable():
            return body
        base = lead.get_base_url()
        body = str(body)
        numbers = [lead.id, message_id or 0, partner_id or 0, template_id or 0, int(time.time())]
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
