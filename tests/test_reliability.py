# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Reliability under concurrency, retries, late and out-of-order deliveries (the
multi-worker side of it is in bench/reliability.py)."""

import json
import re
import time
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

from odoo import fields, sql_db
from odoo.tests import HttpCase, tagged
from odoo.tools import config, mute_logger

from odoo.addons.mail.tests.common import MockEmail

from ..engine import dispatch as automation_dispatch
from ..engine import tokens as tracking_token
from .common import BODY, BROWSER, TrackingCase, signed_headers

SERIALIZATION_FAILURE = (
    "DO $$ BEGIN RAISE EXCEPTION 'concurrent update (test)' "
    "USING ERRCODE = 'serialization_failure'; END $$"
)


@tagged("post_install", "-at_install")
class TestReliability(TrackingCase, MockEmail, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_calls()
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.verdict_min_seconds_after_send", 0
        )

    def _call(self, payload, **sign):
        """Post a call, then run the processor: the webhook only queues it."""
        body = json.dumps(payload).encode()
        response = self.url_open(
            "/cpa/webhook/call/pbx", data=body, headers=signed_headers(body, **sign)
        )
        self.process_ingest()
        return response

    # ------------------------------------------------------------------ retries

    def test_webhook_retried_after_serialization_failure_reads_its_body_again(self):
        """Odoo retries a request that hit a serialization failure (two workers
        recording the same call): the retry must see the same signed body, not an
        empty stream (which answered 403 "bad signature" and lost the call)."""
        lead = self._lead(phone="+32470123456")
        # The route queues the call (crm.lead.event.ingest): the failure is injected
        # there, the processor records it afterwards.
        Ingest = type(self.env["crm.lead.event.ingest"])
        original = Ingest._cpa_ingest_call
        attempts = []

        def ingest_call(model, source, data):
            attempts.append(source)
            if len(attempts) == 1:
                # What PostgreSQL raises when a concurrent transaction committed the
                # same row first; Odoo then rolls back and replays the request.
                model.env.cr.execute(SERIALIZATION_FAILURE)
            return original(model, source, data)

        # mute: the injected failure is logged as a "bad query" by odoo.sql_db
        with patch.object(Ingest, "_cpa_ingest_call", ingest_call), mute_logger("odoo.sql_db"):
            response = self._call({"id": "retry-1", "type": "incoming", "from": "+32470123456"})
        self.assertEqual(len(attempts), 2, "the request was retried")
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"status": "recorded"})
        self.process_ingest()
        self.assertEqual(lead.cpa_event_ids.mapped("external_ref"), ["pbx:retry-1"])

    def test_beacon_retried_after_serialization_failure_reads_its_body_again(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.snippet_domains", "shop.example.com"
        )
        lead = self._lead()
        Ingest = type(self.env["crm.lead.event.ingest"])
        original = Ingest._cpa_ingest
        attempts = []

        def ingest_visit(model, *args, **kwargs):
            attempts.append(args)
            if len(attempts) == 1:
                model.env.cr.execute(SERIALIZATION_FAILURE)
            return original(model, *args, **kwargs)

        body = json.dumps({"t": lead._cpa_lead_token(), "u": "https://shop.example.com/p"})
        with (
            patch.object(Ingest, "_cpa_ingest", ingest_visit),
            mute_logger("odoo.sql_db"),
        ):
            response = self.url_open(
                "/cpa/beacon",
                data=body.encode(),
                headers={
                    "Content-Type": "text/plain",
                    "Origin": "https://shop.example.com",
                    "User-Agent": BROWSER,
                },
            )
        self.assertEqual(len(attempts), 2)
        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.process_ingest(), 1, "queued once")
        self.assertEqual(lead.cpa_event_ids.mapped("url"), ["https://shop.example.com/p"])

    # ------------------------------------------------------------------ unknown callers

    def test_unknown_caller_lead_created_once_across_transactions(self):
        """Two workers receiving calls from the same unknown number: the second one
        fails with a serialization error (Odoo retries it and then finds the lead)
        instead of creating a second lead."""
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("crm_pipeline_automation.call_source.pbx.create_lead", "1")
        phone = "+32491777001"
        # Another worker claimed the number and committed (a real second connection).
        other = sql_db.db_connect(self.env.cr.dbname).cursor()
        try:
            other.execute(
                "INSERT INTO crm_lead_event_caller_claim (phone, claimed_at) "
                "VALUES (%s, now()) ON CONFLICT (phone) DO UPDATE SET claimed_at = now()",
                [phone],
            )
            other.commit()
            Lead = self.env["crm.lead"]
            with (
                self.assertRaises(psycopg2.errors.SerializationFailure),
                mute_logger("odoo.sql_db"),
                self.env.cr.savepoint(),
            ):
                self.Event._record_call("pbx", {"id": "u-9", "type": "incoming", "from": phone})
            self.assertFalse(Lead.search([("phone", "=", phone)]))
        finally:
            other.execute("DELETE FROM crm_lead_event_caller_claim WHERE phone = %s", [phone])
            other.commit()
            other.close()
        # Without a concurrent claim: one lead, and the next call finds it.
        self.assertEqual(
            self.Event._record_call("pbx", {"id": "u-10", "type": "incoming", "from": phone}),
            "recorded",
        )
        self.assertEqual(
            self.Event._record_call("pbx", {"id": "u-11", "type": "missed", "from": phone}),
            "recorded",
        )
        lead = self.env["crm.lead"].search([("phone", "=", phone)])
        self.assertEqual(len(lead), 1)
        self.assertEqual(len(lead.cpa_event_ids), 2)

    # ------------------------------------------------------------------ clock and order

    def test_late_and_out_of_order_calls_never_move_backwards(self):
        """A later-stage event first, then an earlier one delivered late (old
        timestamp, still inside the replay window): forward-only holds; redeliveries
        of the same call change nothing."""
        to_proposition = self._trigger(self.stage_proposition, "call_incoming")
        self._trigger(self.stage_qualified, "call_missed")
        lead = self._lead(phone="+32470123456")
        now = int(time.time())
        first = {"id": "o-2", "type": "incoming", "from": "+32470123456", "time": now - 60}
        late = {"id": "o-1", "type": "missed", "from": "+32470123456", "time": now - 240}
        self.assertEqual(self._call(first).json(), {"status": "recorded"})
        self.assertEqual(lead.stage_id, self.stage_proposition)
        response = self._call(late, timestamp=now - 280)  # signed 280 s ago: accepted
        self.assertEqual(response.json(), {"status": "recorded"})
        self.assertEqual(lead.stage_id, self.stage_proposition, "never moved backwards")
        late_event = lead.cpa_event_ids.filtered(lambda e: e.external_ref == "pbx:o-1")
        self.assertEqual(late_event.state, "blocked")
        self.assertIn("is not after", late_event.verdict_reason)
        self.assertEqual(
            late_event.date,
            datetime.fromtimestamp(late["time"], tz=timezone.utc).replace(tzinfo=None),
        )
        # Redeliveries (the telephony system retries): same answer, nothing new.
        for payload in (first, late, first):
            self.assertEqual(self._call(payload).json(), {"status": "duplicate"})
        self.assertEqual(len(lead.cpa_event_ids), 2)
        self.assertEqual(len(self._ledger(lead)), 1)
        self.assertEqual(self._ledger(lead).message.count(to_proposition.name), 1)
        # Outside the replay window: refused, nothing recorded.
        stale = dict(first, id="o-3")
        self.assertEqual(self._call(stale, timestamp=now - 400).status_code, 403)
        self.assertEqual(len(lead.cpa_event_ids), 2)

    # ------------------------------------------------------------------ bursts

    def _send(self, lead):
        with self.mock_mail_gateway(mail_unlink_sent=True):
            lead.with_user(self.salesman).message_post(
                body=BODY,
                partner_ids=self.partner.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        sent = [mail for mail in self._mails if self.partner.email in str(mail["email_to"])]
        return re.findall(r'href="[^"]*(/cpa/c/[^"]+)"', sent[0]["body"])

    def _click(self, link):
        """Click, then run the processor: the route only queues the click."""
        response = self.url_open(link, headers={"User-Agent": BROWSER}, allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        self.process_ingest()

    def _clicks(self, lead):
        return lead.cpa_event_ids.filtered(lambda e: e.event_type == "link_click")

    def _after_window(self, seconds=7):
        return freeze_time(fields.Datetime.now() + timedelta(seconds=seconds))

    def test_first_click_of_a_burst_never_moves_the_lead(self):
        """The first click of what becomes a burst used to fire its trigger before
        the burst was seen: clicks now wait for the burst window."""
        self._trigger(self.stage_qualified, link_url="https://example.com/pricing*")
        lead = self._lead()
        links = self._send(lead)
        self._click(links[0])  # the trigger's link, clicked first by the scanner
        self.assertEqual(lead.stage_id, self.stage_new, "held during the burst window")
        click = self._clicks(lead)
        self.assertEqual((click.state, click.verdict), ("held", "human"))
        self._click(links[1])
        self._click(links[2])
        clicks = self._clicks(lead)
        self.assertEqual(len(clicks), 3)
        self.assertEqual(set(clicks.mapped("verdict")), {"machine"})
        with self._after_window():
            self.Event._cron_fire_held_events()
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(set(clicks.mapped("state")), {"ignored"})
        self.assertEqual(lead.engagement_score, 0, "machines earn no points")
        self.assertFalse(self._notes(lead))

    def test_human_click_moves_once_its_window_has_passed(self):
        trigger = self._trigger(self.stage_qualified, link_url="https://example.com/pricing*")
        lead = self._lead()
        links = self._send(lead)
        self._click(links[0])
        self.assertEqual(self.Event._cron_fire_held_events(), 0, "window still open")
        self.assertEqual(lead.stage_id, self.stage_new)
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_lead_event_fire_held")
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]),
            "the cron is woken when the window closes",
        )
        with self._after_window():
            self.assertEqual(self.Event._cron_fire_held_events(), 1)
            self.assertEqual(self.Event._cron_fire_held_events(), 0, "decided once")
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertEqual(self._clicks(lead).state, "fired")
        self.assertEqual(lead.engagement_score, 3)

    def test_single_link_email_click_is_not_held(self):
        """An email with one link cannot make a burst: its click moves at once."""
        trigger = self._trigger(self.stage_qualified)
        lead = self._lead()
        link = self.env["link.tracker"].create({"url": "https://example.com/one"})
        token = tracking_token.sign(
            self.env, "click", [lead.id, 0, 0, 0, int(time.time()) - 60, 1, link.id]
        )
        self._click(f"/cpa/c/{token}")
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)

    # ------------------------------------------------------------------ cron time limit

    def test_dispatcher_runs_fit_in_the_cron_worker_time_limit(self):
        """Odoo chains up to 10 runs of a cron that reports remaining work within one
        watchdog period of the cron worker: a 120 s budget per run got the worker
        killed (kill -9 by the master, batch rolled back, cron timeouts counted)."""
        budget = automation_dispatch.run_time_budget
        cases = (
            ({"limit_time_real_cron": -1, "limit_time_real": 120}, 6.0),  # Odoo defaults
            ({"limit_time_real_cron": 300, "limit_time_real": 120}, 15.0),
            ({"limit_time_real_cron": 0, "limit_time_real": 3600}, 120),
            ({"limit_time_real_cron": -1, "limit_time_real": 0}, 120),  # no limit
            ({"limit_time_real_cron": 5, "limit_time_real": 0}, 1.0),
        )
        for options, expected in cases:
            with self.subTest(**options), patch.dict(config.options, options):
                self.assertEqual(budget(120), expected)

    def test_held_click_survives_a_write_conflict(self):
        """A held click whose lead is being written by another transaction when the
        cron fires it stays held and fires on the next run (it was marked blocked,
        and lost, before)."""
        trigger = self._trigger(self.stage_qualified, link_url="https://example.com/pricing*")
        lead = self._lead()
        links = self._send(lead)
        self._click(links[0])
        Event = type(self.env["crm.lead.event"])
        original = Event._fire
        calls = []

        def fire(events):
            calls.append(events.ids)
            if len(calls) == 1:
                events.env.cr.execute(SERIALIZATION_FAILURE)
            return original(events)

        with self._after_window(), patch.object(Event, "_fire", fire):
            with mute_logger("odoo.sql_db"):
                self.assertEqual(self.Event._cron_fire_held_events(), 0)
            self.assertEqual(self._clicks(lead).state, "held")
            self.assertEqual(lead.stage_id, self.stage_new)
            self.assertEqual(self.Event._cron_fire_held_events(), 1)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertEqual(lead.engagement_score, 3, "scored once")

    # ------------------------------------------------------------------ hostile paths

    def test_unknown_path_with_a_nul_character_is_a_404(self):
        """Found by the reliability fuzzer: a path matching no route and containing
        %00 went to Odoo's fallback (attachment lookup) and answered 500."""
        for path in ("/cpa/o/1.2%00x/extra", "/cpa/%00", "/shop%00x", "/cpa/c/a%00b/c"):
            with self.subTest(path=path):
                response = self.url_open(path, allow_redirects=False)
                self.assertEqual(response.status_code, 404)
                self.assertNotIn("Traceback", response.text)

    def test_unknown_paths_with_control_characters_are_a_404(self):
        """Found by the reliability fuzzer: unknown paths with a newline, other control
        characters or characters outside the BMP answered 500."""
        for method, path in (
            ("GET", "/cpa/%0A/%29%F3%9E%BB%B0%C2%97%E8%91%9F/%0A/"),
            ("GET", "/cpa/%5Et%0C%24%C3%9F%C3%89%C2%BC~t%3C%C3%80%C2%94v"),
            ("POST", "/cpa/9%F0%90%90%AF%C3%B2%C3%A2%C3%89%5C%C3%AE%0A//"),
            ("HEAD", "/cpa/%3EA%01%C2%BE%C2%81%EF%AD%B0k%F0%B1%B7%8F"),
            ("PUT", "/cpa/%F2%AC%A3%B3/%7BAY/c%0D%C2%81%EE%82%91%C3%90/"),
            ("GET", "/cpa/%0A//%29%F3%9E%BB%B0%C2%97%E8%91%9F/"),
            ("PATCH", "/cpa//%0A/%C3%8C%F0%AA%BF%AFU%F3%A2%AF%AC%F0%A6%B7%A0"),
            (
                "GET",
                "/cpa//%E2%AC%92%04%F3%93%84%8D%C3%B8%F2%B1%B6%BEK%F2%82%81%9C/%0A%F1%9B%A9%BB%3C",
            ),
            (
                "PUT",
                "/cpa//%E2%AC%92%04%F3%93%84%8D%C3%B8%F2%B1%B6%BEK%F2%82%81%9C/%0A%F1%9B%A9%BB%3C",
            ),
            ("GET", "/cpa/%0A"),
            ("GET", "/cpa/%F0%90%90%AF"),
            ("GET", "/cpa/a%01b"),
        ):
            with self.subTest(method=method, path=path):
                response = self.opener.request(
                    method, self.base_url() + path, allow_redirects=False, timeout=30
                )
                self.assertIn(response.status_code, (404, 405), response.text[:300])
                self.assertNotIn("Traceback", response.text)

    def test_website_form_without_subject_creates_a_lead(self):
        """Found by the reliability fuzzer: a lead form post without ``name`` answered
        500 (NOT NULL violation inside Odoo's savepoint)."""
        response = self.url_open(
            "/website/form/crm.lead",
            data={"email_from": "nameless@example.com", "description": "hello"},
            headers={"User-Agent": BROWSER},
        )
        self.assertEqual(response.status_code, 200, response.text[:300])
        lead = self.env["crm.lead"].search([("email_from", "=", "nameless@example.com")])
        self.assertEqual(lead.name, "nameless@example.com")

    def test_nul_characters_in_public_texts_are_dropped(self):
        """Found by the reliability fuzzer: a form name (hidden input cpa_form) with a
        NUL character answered 500 (PostgreSQL refuses NUL in a string)."""
        response = self.url_open(
            "/website/form/crm.lead",
            data={"name": "Nul form", "email_from": "nul@example.com", "cpa_form": "demo\x00x"},
            headers={"User-Agent": BROWSER},
        )
        self.assertEqual(response.status_code, 200, response.text[:300])
        lead = self.env["crm.lead"].search([("email_from", "=", "nul@example.com")])
        self.assertEqual(lead.cpa_event_ids.form_name, "demox")

    def test_nul_characters_in_lead_form_fields_are_dropped(self):
        """Found by the reliability fuzzer: NUL characters in the lead's own fields of
        a form post (contact name, email, custom fields) answered 500."""
        response = self.url_open(
            "/website/form/crm.lead",
            data={
                "name": "Nul\x00 fields",
                "contact_name": "Ann\x00a",
                "email_from": "nul2@exam\x00ple.com",
                "Favourite colour": "bl\x00ue",
            },
            headers={"User-Agent": BROWSER},
        )
        self.assertEqual(response.status_code, 200, response.text[:300])
        lead = self.env["crm.lead"].search([("email_from", "=", "nul2@example.com")])
        self.assertEqual((lead.name, lead.contact_name), ("Nul fields", "Anna"))
        self.assertIn("blue", lead.description)

    def test_webhook_signature_with_non_ascii_characters_is_refused(self):
        """Found by the reliability fuzzer: a signature header with non-ASCII characters
        made the constant-time comparison raise (500) instead of refusing it (403)."""
        body = json.dumps({"event": "call_incoming", "from": "+3247012345"}).encode()
        headers = signed_headers(body)
        headers["X-CPA-Signature"] = "sha256=" + "é" * 64
        response = self.url_open(
            "/cpa/webhook/call/pbx", data=body, headers={k: v.encode() for k, v in headers.items()}
        )
        self.assertEqual(response.status_code, 403)
        self.assertNotIn("Traceback", response.text)
