# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import time

from odoo.tests import HttpCase, tagged

from ..engine import tokens as tracking_token
from .common import TrackingCase

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
SITE = "https://www.shop.example.com"


@tagged("post_install", "-at_install")
class TestTrackingRoutes(TrackingCase, HttpCase):
    """Website sources through real HTTP: form posts, tracked pages, beacon + CORS."""

    # Page views are only tracked in read/write requests (as in production without a
    # read-only replica); the test cursor would otherwise be read-only for pages.
    readonly_enabled = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.website = cls.env["website"].get_current_website()
        cls.website.crm_default_team_id = cls.team
        cls.website.crm_default_user_id = cls.salesman
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.snippet_domains", "shop.example.com, *.shop.example.com"
        )
        cls.page = cls.env["website.page"].create(
            {
                "name": "Pricing",
                "url": "/cpa-pricing",
                "type": "qweb",
                "arch": '<t t-call="website.layout"><div id="wrap">Prices</div></t>',
                "website_published": True,
                "track": True,
                "website_id": cls.website.id,
            }
        )

    def setUp(self):
        super().setUp()
        self.authenticate(None, None)  # a public session: one website visitor

    def _post_form(self, **params):
        data = {
            "contact_name": "Nina Novak",
            "email_from": "nina@novak.example.com",
            "name": "Standing desks",
            "description": "Need 12 desks",
        }
        data.update(params)
        return self.url_open(
            "/website/form/crm.lead",
            data=data,
            headers={"User-Agent": BROWSER, "Referer": f"{self.base_url()}/contactus"},
        )

    def test_form_submitted_new_lead(self):
        trigger = self._trigger(self.stage_qualified, "form_submitted", form_name="/contactus*")
        response = self._post_form()
        self.assertEqual(response.status_code, 200, response.text)
        lead_id = json.loads(response.text)["id"]
        lead = self.env["crm.lead"].browse(lead_id)
        self.assertEqual(lead.team_id, self.team)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertEqual(lead.cpa_event_ids.form_name, "/contactus")

    def test_form_name_and_visitor_existing_lead(self):
        self._trigger(self.stage_qualified, "form_submitted", form_name="demo-request")
        first = self.env["crm.lead"].browse(
            json.loads(self._post_form(cpa_form="newsletter").text)["id"]
        )
        self.assertNotEqual(first.stage_id, self.stage_qualified)
        second = self.env["crm.lead"].browse(
            json.loads(self._post_form(cpa_form="demo-request", name="Demo").text)["id"]
        )
        self.assertEqual(second.stage_id, self.stage_qualified)
        # the visitor's earlier lead heard of the second form too
        self.assertEqual(first.stage_id, self.stage_qualified)
        self.assertEqual(len(first.cpa_event_ids), 2)

    def test_url_visited_by_the_lead_visitor(self):
        trigger = self._trigger(
            self.stage_proposition, "url_visited", url_patterns="/nothing\n/cpa-pric*"
        )
        lead = self.env["crm.lead"].browse(json.loads(self._post_form().text)["id"])
        self.assertNotEqual(lead.stage_id, self.stage_proposition)
        response = self.url_open("/cpa-pricing", headers={"User-Agent": BROWSER})
        self.assertEqual(response.status_code, 200)
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "url_visited")
        self.assertTrue(event.url.endswith("/cpa-pricing"))
        self.assertEqual(event.source, "website")

    def test_url_visited_with_the_click_cookie(self):
        trigger = self._trigger(self.stage_proposition, "url_visited", url_patterns="*/cpa-pricing")
        lead = self._lead()
        link = self.env["link.tracker"].create({"url": "https://example.com/a", "title": "a"})
        token = tracking_token.sign(
            self.env, "click", [lead.id, 0, 0, 0, int(time.time()) - 60, 1, link.id]
        )
        response = self.url_open(
            f"/cpa/c/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False
        )
        self.assertEqual(response.status_code, 302)
        self.url_open("/cpa-pricing", headers={"User-Agent": BROWSER})
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)

    def test_click_to_snippet_site_carries_the_token(self):
        lead = self._lead()
        link = self.env["link.tracker"].create({"url": f"{SITE}/offer?x=1", "title": "offer"})
        token = tracking_token.sign(
            self.env, "click", [lead.id, 0, 0, 0, int(time.time()) - 60, 1, link.id]
        )
        response = self.url_open(
            f"/cpa/c/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False
        )
        location = response.headers["Location"]
        self.assertTrue(location.startswith(f"{SITE}/offer?x=1&cpa_t="), location)
        lead_token = location.split("cpa_t=")[1]
        self.assertEqual(tracking_token.verify(self.env, "lead", lead_token, 2)[0], lead.id)

    def _beacon(self, body, origin=SITE, **headers):
        headers = {"Content-Type": "text/plain", "User-Agent": BROWSER, **headers}
        if origin:
            headers["Origin"] = origin
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.url_open("/cpa/beacon", data=data, headers=headers)

    def test_beacon_from_snippet_site(self):
        trigger = self._trigger(
            self.stage_proposition, "url_visited", url_patterns=f"{SITE}/pricing*"
        )
        lead = self._lead(self.stage_qualified)
        token = lead._cpa_lead_token()
        response = self._beacon({"t": token, "u": f"{SITE}/pricing/pro"})
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.headers["Access-Control-Allow-Origin"], SITE)
        self.assertFalse(response.content)
        self.assertFalse(lead.cpa_event_ids, "queued: recorded by the processor")
        self.process_ingest()
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        self.assertEqual(lead.cpa_event_ids.source, "beacon")
        # the same page within the hour is the same visit
        self._beacon({"t": token, "u": f"{SITE}/pricing/pro"})
        self.process_ingest()
        self.assertEqual(len(lead.cpa_event_ids), 1)

    def test_beacon_cors_and_bad_input(self):
        lead = self._lead()
        token = lead._cpa_lead_token()
        preflight = self.opener.options(
            f"{self.base_url()}/cpa/beacon",
            headers={
                "Origin": "https://sub.shop.example.com",
                "Access-Control-Request-Method": "POST",
            },
            timeout=10,
        )
        self.assertEqual(preflight.status_code, 204)
        self.assertEqual(
            preflight.headers["Access-Control-Allow-Origin"], "https://sub.shop.example.com"
        )
        evil = self._beacon({"t": token, "u": f"{SITE}/x"}, origin="https://evil.example.net")
        self.assertEqual(evil.status_code, 403)
        self.assertNotIn("Access-Control-Allow-Origin", evil.headers)
        self.assertEqual(self._beacon({"t": token, "u": "x" * 5000}).status_code, 413)
        self.assertEqual(self._beacon("{not json").status_code, 400)
        self.assertEqual(self._beacon({"t": token, "u": "javascript:alert(1)"}).status_code, 400)
        self.assertEqual(self._beacon({"t": token}).status_code, 400)
        self.assertEqual(self._beacon({"t": 12, "u": f"{SITE}/x"}).status_code, 400)
        # A tampered signature (another last hex digit) is well formed but forged: 403.
        tampered = token[:-1] + ("1" if token.endswith("0") else "0")
        self.assertEqual(self._beacon({"t": tampered, "u": f"{SITE}/x"}).status_code, 403)
        forged = tracking_token.sign(self.env, "open", [lead.id, int(time.time())])
        self.assertEqual(self._beacon({"t": forged, "u": f"{SITE}/x"}).status_code, 403)
        old = tracking_token.sign(self.env, "lead", [lead.id, int(time.time()) - 400 * 86400])
        self.assertEqual(self._beacon({"t": old, "u": f"{SITE}/x"}).status_code, 403)
        self.assertEqual(self.process_ingest(), 0, "nothing refused was queued")
        self.assertFalse(lead.cpa_event_ids)

    def test_snippet_is_served(self):
        response = self.url_open("/crm_pipeline_automation/static/src/snippet/cpa_track.js")
        self.assertEqual(response.status_code, 200)
        self.assertIn("data-cpa-endpoint", response.text)
        trigger = self._trigger(self.stage_proposition, "url_visited", url_patterns="/x")
        self.assertIn("/cpa/beacon", trigger.snippet)


@tagged("post_install", "-at_install")
class TestFormEventWithoutRequest(TrackingCase):
    """Entry points of the routes called from code (the demo, a script)."""

    def test_form_submitted_outside_a_request(self):
        """The form's event entry point called without an HTTP request (the demo, a
        script) records the lead's event instead of failing on the missing visitor."""
        lead = self.env["crm.lead"].create({"name": "Form lead", "team_id": self.team.id})
        events = self.env["crm.lead.event"]._record_form_submitted(lead.id, "/contactus")
        self.assertEqual(events.lead_id, lead)
        self.assertEqual(events.form_name, "/contactus")
