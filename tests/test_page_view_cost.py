# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import time

from odoo import Command
from odoo.tests import tagged
from odoo.tests.common import HOST

from odoo.addons.website.tests.test_performance import UtilPerf
from odoo.addons.website.tools import MockRequest

from ..engine import tokens as tracking_token
from .common import TrackingCase

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"

# Odoo's test_15_perf_sql_queries_page (website/tests/test_performance.py): a tracked
# page in a read/write request.
ODOO_SELECTS = {
    "base_registry_signaling": 1,
    "ir_attachment": 1,
    "website_page": 2,
    "website": 1,
    "ir_ui_view": 1,
}
ODOO_INSERTS = {"website_visitor": 1}
ODOO_QUERIES = 7
# A page view of a browser with the tracking cookie (readme/USAGE.md, "Tracking and
# privacy"), here of a visitor with two leads (the cookie's, with a partner, and
# another): the visitor's leads (1), then _record_url_visited: the leads exist (1),
# their opt-out (2), their partners' opt-out (2), one deduplicated insert per lead (2).
TRACKED_SELECTS = {
    **ODOO_SELECTS,
    "crm_lead_website_visitor_rel": 1,
    "crm_lead": 2,
    "mail_blacklist": 2,
    "res_partner": 1,
}
TRACKED_INSERTS = {**ODOO_INSERTS, "crm_lead_event": 2}
TRACKED_QUERIES = ODOO_QUERIES + 6 + 2


@tagged("post_install", "-at_install")
class TestPageViewCost(TrackingCase, UtilPerf):
    """A page view of a visitor without the tracking cookie costs Odoo's queries and not
    one more; with the cookie, a bounded number (readme/USAGE.md); the cookie is set wherever a
    visitor becomes a lead's in its own browser (form, live chat)."""

    # Pages are tracked in read/write requests only (Odoo's tests measure both).
    readonly_enabled = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.website = cls.env["website"].browse(1)
        cls.website.crm_default_team_id = cls.team
        cls.website.crm_default_user_id = cls.salesman
        cls.page = cls.env["website.page"].create(
            {
                "url": "/cpa_sql_page",
                "name": "cpa_sql_page",
                "type": "qweb",
                "arch": '<t name="cpa_sql_page" t-name="website.page_test_cpa_sql_page">'
                '<t t-call="website.layout"><div id="wrap"><div class="oe_structure"/>'
                "</div></t></t>",
                "key": "website.page_test_cpa_sql_page",
                "is_published": True,
                "website_id": cls.website.id,
                "track": True,
            }
        )

    def _public_browser(self):
        """A public session in a browser (python-requests is a robot to the tracking)."""
        self.authenticate(None, None)
        self.opener.headers["User-Agent"] = BROWSER

    def _set_cookie(self, value):
        """The browser carries the tracking cookie ``value`` (as the server sets it)."""
        self.opener.cookies.set("cpa_t", value, domain=HOST, path="/")

    def _visitor(self):
        """The website visitor of this test's browser (the newest: the test's own)."""
        visitor = self.env["website.visitor"].search([], order="id desc", limit=1)
        self.assertTrue(visitor)
        return visitor

    def _visits(self, leads):
        return self.env["crm.lead.event"].search(
            [("lead_id", "in", leads.ids), ("event_type", "=", "url_visited")]
        )

    def test_page_view_without_cookie_costs_odoo_queries(self):
        self._public_browser()
        self._check_url_hot_query(self.page.url, ODOO_QUERIES, ODOO_SELECTS, ODOO_INSERTS)
        # The visitor is a lead's, but its browser has no cookie: still no query more
        # (such visitors are tracked from their next click, form or chat).
        lead = self._lead()
        lead.visitor_ids = self._visitor()
        self._trigger(self.stage_proposition, "url_visited", url_patterns="/cpa_sql_page*")
        self._check_url_hot_query(self.page.url, ODOO_QUERIES, ODOO_SELECTS, ODOO_INSERTS)
        self.assertFalse(self._visits(lead))
        # A forged or expired cookie is no cookie.
        lead_token = lead._cpa_lead_token()
        tampered = lead_token[:-1] + ("1" if lead_token.endswith("0") else "0")
        old = tracking_token.sign(self.env, "lead", [lead.id, int(time.time()) - 400 * 86400])
        for cookie in (tampered, old, "not-a-token"):
            self._set_cookie(cookie)
            self._check_url_hot_query(self.page.url, ODOO_QUERIES, ODOO_SELECTS, ODOO_INSERTS)
        self.assertFalse(self._visits(lead))

    def test_page_view_with_cookie_costs_bounded_queries(self):
        trigger = self._trigger(
            self.stage_proposition, "url_visited", url_patterns="/cpa_sql_page*"
        )
        self._public_browser()
        lead = self._lead()
        other = self._lead(name="Chairs", partner_id=False, email_from="x@chairs.example.com")
        self.url_open(self.page.url)
        other.visitor_ids = self._visitor()  # e.g. an earlier form of the same visitor
        self._set_cookie(lead._cpa_lead_token())
        self._check_url_hot_query(self.page.url, TRACKED_QUERIES, TRACKED_SELECTS, TRACKED_INSERTS)
        # the cookie's lead and the visitor's other lead: once per URL and hour
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        self.assertMovedBy(other, self.stage_proposition, trigger, self.salesman)
        events = self._visits(lead | other)
        self.assertEqual(len(events), 2)
        self.assertEqual(set(events.mapped("source")), {"website"})
        self.assertTrue(all("/cpa_sql_page" in url for url in events.mapped("url")))

    def _cookie(self):
        cookie = self.opener.cookies.get("cpa_t")
        return cookie and tracking_token.verify(self.env, "lead", cookie, 2)[0]

    def _post_form(self, **params):
        data = {
            "contact_name": "Nina Novak",
            "email_from": "nina@novak.example.com",
            "name": "Standing desks",
        }
        data.update(params)
        response = self.url_open(
            "/website/form/crm.lead",
            data=data,
            headers={"Referer": f"{self.base_url()}/contactus"},
        )
        self.assertEqual(response.status_code, 200, response.text)
        return response, self.env["crm.lead"].browse(json.loads(response.text)["id"])

    def test_form_sets_the_cookie(self):
        self._public_browser()
        response, lead = self._post_form()
        set_cookie = response.headers.get("Set-Cookie", "")
        self.assertIn("cpa_t=", set_cookie)
        for flag in ("HttpOnly", "SameSite=Lax", f"Max-Age={180 * 86400}"):
            self.assertIn(flag, set_cookie)
        self.assertNotIn("Secure", set_cookie)  # http here; https sets Secure
        self.assertEqual(self._cookie(), lead.id)
        # A second form: the cookie names the new lead, the visitor keeps both.
        _response, second = self._post_form(name="Chairs")
        self.assertEqual(self._cookie(), second.id)
        trigger = self._trigger(self.stage_proposition, "url_visited", url_patterns="/cpa_sql*")
        self.url_open(self.page.url)
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        self.assertMovedBy(second, self.stage_proposition, trigger, self.salesman)

    def test_click_cookie_kept_by_a_form_of_another_lead(self):
        self._public_browser()
        clicked = self._lead()
        self.url_open(self.page.url)
        self._set_cookie(clicked._cpa_lead_token())
        _response, lead = self._post_form()
        self.assertEqual(self._cookie(), lead.id)
        self.assertIn(clicked, self._visitor().lead_ids)

    def test_cookie_is_secure_on_https(self):
        lead = self._lead()
        with MockRequest(self.env, website=self.website) as request:
            request.httprequest.scheme = "https"
            self.assertTrue(self.env["website.visitor"]._cpa_set_tracking_cookie(lead))
            set_cookie = request.future_response.headers["Set-Cookie"]
        for flag in ("Secure", "HttpOnly", "SameSite=Lax", f"Max-Age={180 * 86400}"):
            self.assertIn(flag, set_cookie)
        token = set_cookie.split(";")[0].split("=", 1)[1]
        self.assertEqual(tracking_token.verify(self.env, "lead", token, 2)[0], lead.id)

    def test_opted_out_form_sets_no_cookie(self):
        self.env["mail.blacklist"].sudo()._add("nina@novak.example.com")
        self._public_browser()
        response, lead = self._post_form()
        self.assertTrue(lead)
        self.assertNotIn("cpa_t=", response.headers.get("Set-Cookie", ""))
        self.assertFalse(self._cookie())

    def test_visitor_chat_message_sets_the_cookie(self):
        self.salesman.password = "cpa_trk_seller"
        livechat = self.env["im_livechat.channel"].create(
            {"name": "Website chat", "user_ids": [Command.link(self.salesman.id)]}
        )
        self.env["bus.presence"].create({"user_id": self.salesman.id, "status": "online"})
        self._public_browser()
        self.url_open(self.page.url)
        visitor = self._visitor()
        data = self.make_jsonrpc_request(
            "/im_livechat/get_session",
            {"anonymous_name": "Visitor", "channel_id": livechat.id, "persisted": True},
        )
        chat = self.env["discuss.channel"].browse(data["discuss.channel"][0]["id"])
        self.assertEqual(chat.livechat_visitor_id, visitor)

        def post(text):
            self.make_jsonrpc_request(
                "/mail/message/post",
                {
                    "thread_model": "discuss.channel",
                    "thread_id": chat.id,
                    "post_data": {
                        "body": text,
                        "message_type": "comment",
                        "subtype_xmlid": "mail.mt_comment",
                    },
                },
            )

        post("Hello")
        self.assertFalse(self._cookie(), "no lead yet, no cookie")
        # The operator makes a lead of the chat (/lead): the visitor's next message
        # gives its browser the cookie of that lead.
        lead = chat.with_user(self.salesman)._convert_visitor_to_lead(
            self.salesman.partner_id, "/lead 30 chairs"
        )
        post("I need 30 chairs")
        self.assertEqual(self._cookie(), lead.id)
