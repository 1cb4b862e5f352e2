# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import Command, models
from odoo.http import request
from odoo.tools import SQL

from ..engine import tokens as tracking_token

# The tracking cookie: a signed lead token (crm.lead._cpa_lead_token).
COOKIE = "cpa_t"


class WebsiteVisitor(models.Model):
    _inherit = "website.visitor"

    def _upsert_visitor(self, access_token, force_track_values=None):
        """Remember the visitor of the request (no search for it again later)."""
        result = super()._upsert_visitor(access_token, force_track_values)
        if request:
            request.cpa_visitor_id = result[0]
        return result

    def _handle_webpage_dispatch(self, website_page):
        """A tracked page of the Odoo website was viewed: url_visited for the lead of the
        tracking cookie and the other leads of the visitor.

        Only a browser carrying the cookie is looked at: the page view of any other
        visitor costs no query more than Odoo's own. The cookie is set wherever a
        visitor becomes a lead's in its own browser (click route, website form, live
        chat); with it, the view costs the queries documented in readme/USAGE.md.
        """
        result = super()._handle_webpage_dispatch(website_page)
        lead_id = self._cpa_cookie_lead_id()
        if lead_id:
            httprequest = request.httprequest
            # sudo: visitors' leads are not readable by the public user; the page view
            # of this visitor is what is recorded.
            self.env["crm.lead.event"].sudo()._record_url_visited(
                self._cpa_visitor_lead_ids(lead_id),
                httprequest.url,
                "website",
                httprequest.user_agent.string,
                httprequest.remote_addr,
            )
        return result

    def _cpa_cookie_lead_id(self):
        """The lead of a valid, unexpired tracking cookie of the request, else None
        (no query: the database secret and the validity are cached parameters)."""
        cookie = request.httprequest.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            numbers = tracking_token.verify(self.env, "lead", cookie, 2)
        except tracking_token.BadToken:
            return None
        if not numbers or self.env["crm.lead.event"]._cpa_token_expired(numbers[1]):
            return None
        return numbers[0]

    def _cpa_visitor_lead_ids(self, lead_id):
        """``lead_id`` and the active leads of the request's visitor (one query; the
        visitor is the one Odoo's upsert returned for this request)."""
        visitor_id = getattr(request, "cpa_visitor_id", None)
        if not visitor_id:
            return [lead_id]
        field = self._fields["lead_ids"]
        rows = self.env.execute_query(
            SQL(
                "SELECT rel.%s FROM %s rel JOIN crm_lead lead ON lead.id = rel.%s "
                "WHERE rel.%s = %s AND lead.active",
                SQL.identifier(field.column2),
                SQL.identifier(field.relation),
                SQL.identifier(field.column2),
                SQL.identifier(field.column1),
                visitor_id,
            )
        )
        return sorted({lead_id, *(row[0] for row in rows)})

    def _cpa_set_tracking_cookie(self, lead):
        """Give the browser of this request the tracking cookie of ``lead`` (the
        visitor just became the lead's: click, form, chat), unless the lead is opted
        out. A valid cookie of another lead is not lost: that lead joins the leads of
        the request's visitor (whose page views track them all).
        """
        lead = lead.sudo()
        if not lead or not lead._cpa_trackable():
            return False
        previous = self._cpa_cookie_lead_id()
        if previous == lead.id:
            return False
        visitor_id = getattr(request, "cpa_visitor_id", None)
        if previous and visitor_id:
            previous_lead = self.env["crm.lead"].sudo().browse(previous).exists()
            if previous_lead:
                # sudo: the public visitor may not write leads of visitors.
                self.sudo().browse(visitor_id).lead_ids = [Command.link(previous_lead.id)]
        self._cpa_set_cookie(lead._cpa_lead_token())
        return True

    def _cpa_set_cookie(self, lead_token, response=None):
        """Set the tracking cookie ``lead_token`` on ``response`` (else on the request's
        future response): HttpOnly, SameSite=Lax, Secure on https, as long as tokens
        are valid (token_validity_days)."""
        (response or request.future_response).set_cookie(
            COOKIE,
            lead_token,
            max_age=self.env["crm.lead.event"]._cpa_token_validity_seconds(),
            expires=None,
            httponly=True,
            samesite="Lax",
            secure=request.httprequest.scheme == "https",
        )
