# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""1,000 random inputs per public route (seeded, reproducible): never a 500, never a
redirect outside the stored URLs, never lead data in a response."""

import json
import random
import string
import time
from urllib.parse import quote, urlsplit

from odoo.tests import HttpCase, tagged

from ..models import tracking_token
from .test_calls import SECRET, signed_headers
from .tracking_common import TrackingMixin

CASES = 1000
ALPHABET = string.printable + "éü中\u202e\x00\x7f"


@tagged("post_install", "-at_install")
class TestRouteFuzz(TrackingMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_tracking()
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
        return "".join(self.rng.choice(ALPHABET) for _ in range(self.rng.randint(0, max_len)))

    def _token_like(self, scope, count):
        """Random garbage, or a valid token mutated in one place."""
        roll = self.rng.random()
        numbers = [
            self.rng.choice(
                [0, 1, self.lead.id, self.link.id, 2**31, 2**31 - 1, 10**10, int(time.time())]
            )
            for _ in range(count)
        ]
        token = tracking_token.sign(self.env, scope, numbers)
        if roll < 0.3:
            return self._text(120)
        if roll < 0.6:
            position = self.rng.randrange(len(token))
            return token[:position] + self.rng.choice("0123456789abcdef.x") + token[position + 1 :]
        if roll < 0.8:
            return token  # valid signature, random (maybe absurd) numbers
        return ".".join(str(self.rng.randint(0, 10**12)) for _ in range(self.rng.randint(1, 9)))

    def _check(self, response, what):
        self.assertLess(response.status_code, 500, what)
        self.assertNotIn("Secret lead name", response.text, what)
        self.assertNotIn("Traceback", response.text, what)
        if response.is_redirect:
            location = response.headers["Location"]
            external = urlsplit(location).netloc not in ("", urlsplit(self.base_url()).netloc)
            if external:  # the only external redirect is the stored link
                self.assertTrue(location.startswith("https://example.com/stored"), (what, location))

    def _segment(self, text):
        """A path segment: the route's parameter cannot contain "/" (other routes)."""
        return quote(text.replace("/", ""), safe="")

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
            roll = self.rng.random()
            if roll < 0.3:
                body = self._text(300).encode("utf-8", "surrogatepass")
            elif roll < 0.7:
                body = json.dumps(
                    {
                        "t": self.rng.choice([self._token_like("lead", 2), 5, None, [], {"a": 1}]),
                        "u": self.rng.choice(
                            [
                                "https://shop.example.com/x",
                                self._text(),
                                7,
                                None,
                                "http://" + self._text(),
                            ]
                        ),
                        self._text(5): self._text(20),
                    }
                ).encode()
            else:
                body = json.dumps(
                    self.rng.choice(
                        [
                            [],
                            1,
                            "x",
                            None,
                            {"t": self.lead._cpa_lead_token(), "u": self._text(3000)},
                        ]
                    )
                ).encode()
            headers = {
                "Content-Type": self.rng.choice(
                    [
                        "text/plain",
                        "application/json",
                        "application/x-www-form-urlencoded",
                        self._text(20),
                    ]
                )
            }
            if self.rng.random() < 0.5:
                headers["Origin"] = self.rng.choice(
                    ["https://shop.example.com", "https://evil.example", self._text(30), "null"]
                )
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
            payload = {
                "id": self.rng.choice([self._text(10), 5, None, "x" * 200, []]),
                "type": self.rng.choice(["incoming", "outgoing", "missed", self._text(8), None]),
                "from": self.rng.choice(["+32470123456", self._text(20), 3, None, "+" + "9" * 40]),
                "to": self.rng.choice(["+3225550000", self._text(12), None]),
                "time": self.rng.choice(
                    [None, 0, -1, 10**20, "2026-01-12T10:00:00Z", self._text(10), 1.5, True]
                ),
                "duration": self.rng.choice([0, -5, 10**9, "x", None, 30]),
            }
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
