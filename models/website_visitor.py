# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models
from odoo.http import request

from ..engine import tokens as tracking_token


class WebsiteVisitor(models.Model):
    _inherit = "website.visitor"

    def _handle_webpage_dispatch(self, website_page):
        """A tracked page of the Odoo website was viewed: url_visited for the leads of
        the visitor and of the tracking cookie set by our click route."""
        result = super()._handle_webpage_dispatch(website_page)
        visitor = self._get_visitor_from_request()
        leads = visitor.lead_ids
        cookie = request.httprequest.cookies.get("cpa_t")
        if cookie:
            try:
                numbers = tracking_token.verify(self.env, "lead", cookie, 2)
            except tracking_token.BadToken:
                numbers = None
            Event = self.env["crm.lead.event"]
            if numbers and not Event._cpa_token_expired(numbers[1]):
                leads |= self.env["crm.lead"].sudo().browse(numbers[0])
        if leads:
            # sudo: visitors' leads are not readable by the public user; the page view
            # of this visitor is what is recorded.
            self.env["crm.lead.event"].sudo()._record_url_visited(
                leads.sudo(),
                request.httprequest.url,
                "website",
                request.httprequest.user_agent.string,
                request.httprequest.remote_addr,
            )
        return result
