# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""1,000 random inputs per public route (seeded, reproducible): never a 500, never a
redirect outside the stored URLs, never lead data in a response."""

import json
import random
import time
from urllib.parse import urlsplit

from odoo.tests import HttpCase, tagged

from ..engine import tokens as tracking_token
from . import fuzz_strategies as fuzz
from .common import SECRET, TrackingCase, signed_headers

CASES = 1000


@tagged("post_install", "-at_install")
class TestRouteFuzz(TrackingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.call_source.pbx.secret", SECRET
        )
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.snippet_domains", "shop.example.com"
        )
        cls.lead = cls._lead(name="Secret lead name 4242", phone="+32470123456")
        cls.link = cls.env["link.tracker"].create(
            {"url": "https://example.com/stored", "title": "stored"}
        )

    def setUp(self):
        super().setUp()
        self.rng = random.Random(20260112)

    def _text(self, max_len=80):
        return fuzz.text(self.rng, max_len)

    def _sign(self, scope, numbers):
        return tracking_token.sign(self.env, scope, numbers)

    def _token_like(self, scope, count):
        """Random garbage, or a valid token mutated in one place (see fuzz_strategies)."""
        ids = (self.lead.id, self.link.id, int(time.time()))
        return fuzz.token_like(self.rng, self._sign, scope, count, ids)

    def _check(self, response, what):
        self.assertLess(response.status_code, 500, what)
        self.assertNotIn("Secret lead name", response.text, what)
        self.assertNotIn("Traceback", response.text, what)
        if response.is_redirect:
            location = response.headers["Location"]
            external = urlsplit(location).netloc not in ("", urlsplit(self.base_url()).netloc)
            if external:  # no open redirect: only to a link stored by Odoo's link tracker
                stored = self.env["link.tracker"].sudo().search_count([("url", "=", location)])
                self.assertTrue(stored, (what, location))

    def _segment(self, text):
        """A path segment: the route's parameter cannot contain "/" (other routes)."""
        return fuzz.path_segment(text)

    def test_fuzz_open_pixel(self):
        for _i in range(CASES):
            token = self._token_like("open", self.rng.choice([5, 5, 4, 6]))
            response = self.url_open("/cpa/o/" + self._segment(token), allow_redirects=False)
            self._check(response, token)

    def test_fuzz_click(self):
        for _i in range(CASES):
            token = self._token_like("click", self.rng.choice([7, 7, 6, 8]))
            response = self.url_open("/cpa/c/" + self._segment(token), allow_redirects=False)
            self._check(response, token)

    def test_fuzz_beacon(self):
        url = "/cpa/beacon"
        for _i in range(CASES):
            ids = (self.lead.id, int(time.time()))
            body = fuzz.beacon_body(self.rng, self._sign, self.lead._cpa_lead_token(), ids)
            headers = {"Content-Type": self.rng.choice([*fuzz.CONTENT_TYPES, self._text(20)])}
            if self.rng.random() < 0.5:
                headers["Origin"] = self.rng.choice([*fuzz.ORIGINS, self._text(30)])
            try:
                headers = {
                    k: v.encode("latin-1", "ignore").decode("latin-1") for k, v in headers.items()
                }
                response = self.url_open(url, data=body, headers=headers, allow_redirects=False)
            except ValueError:
                continue  # the client refuses that header; nothing reached the server
            self._check(response, body[:100])

    def test_fuzz_call_webhook(self):
        for _i in range(CASES):
            roll = self.rng.random()
            payload = fuzz.call_payload(self.rng, "+32470123456")
            body = (
                json.dumps(payload).encode()
                if roll < 0.7
                else self._text(200).encode("utf-8", "surrogatepass")
            )
            headers = signed_headers(body)
            if roll > 0.85:
                headers["X-CPA-Signature"] = (
                    "sha256=" + self._text(64).encode("ascii", "ignore").decode()
                )
            if 0.8 < roll <= 0.85:
                headers["X-CPA-Timestamp"] = self.rng.choice(["", "abc", "9" * 30, "-5"])
            source = self.rng.choice(["pbx", "pbx", "other", self._segment(self._text(10)) or "x"])
            try:
                response = self.url_open(f"/cpa/webhook/call/{source}", data=body, headers=headers)
            except ValueError:
                continue
            self._check(response, body[:100])
