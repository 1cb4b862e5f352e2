# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import threading
import time
from contextlib import closing

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger

from .common import TrackingCase, run_on_two_connections, signed_headers


@tagged("post_install", "-at_install")
class TestCalls(TrackingCase, HttpCase):
    """Call events through the signed webhook (real HTTP)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_calls()

    def _call(self, payload, source="pbx", **sign):
        """Post a call, then run the processor: the webhook only queues it."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        response = self.url_open(
            f"/cpa/webhook/call/{source}", data=body, headers=signed_headers(body, **sign)
        )
        self.process_ingest()
        return response

    def test_incoming_outgoing_missed(self):
        lead = self._lead(phone="0470 12 34 56")  # local Belgian format
        cases = (
            ("incoming", self.stage_qualified, {"from": "+32470123456", "to": "+3225550000"}),
            (
                "outgoing",
                self.stage_proposition,
                {"from": "02 555 00 00", "to": "0032 470 12 34 56"},
            ),
            ("missed", self.stage_won, {"from": "+32 470 12 34 56", "to": "+3225550000"}),
        )
        for kind, stage, numbers in cases:
            trigger = self._trigger(
                stage, f"call_{kind}", line_numbers="+32 2 555 00 00, +32 2 555 99 99"
            )
            response = self._call(
                {"id": f"c-{kind}", "type": kind, "time": int(time.time()) - 30, **numbers}
            )
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.json(), {"status": "recorded"})
            self.assertEqual(lead.stage_id, stage, kind)
            self.assertIn(trigger.name, self._notes(lead)[0].body)
            if stage.is_won:
                break
        events = lead.cpa_event_ids
        self.assertEqual(set(events.mapped("phone")), {"+32470123456"})
        self.assertEqual(set(events.mapped("line_number")), {"+3225550000"})
        self.assertEqual(
            set(events.mapped("external_ref")), {"pbx:c-incoming", "pbx:c-outgoing", "pbx:c-missed"}
        )

    def test_mobile_matches_and_other_line_does_not_move(self):
        lead = self._lead(phone=False, mobile="+32 470 99 88 77")
        self._trigger(self.stage_qualified, "call_incoming", line_numbers="+3225550000")
        response = self._call(
            {"id": "x1", "type": "incoming", "from": "0470998877", "to": "+3229999999"}
        )
        self.assertEqual(response.json(), {"status": "recorded"})
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(lead.cpa_event_ids.state, "no_trigger")

    def test_numbers_whose_last_eight_digits_begin_with_00(self):
        """Odoo's phone search reads a leading "00" as an international prefix: callers
        are matched on the E.164 number instead, exactly."""
        spain = self.env.ref("base.es")
        # Without customer: crm shares a lead's phone with its customer's other leads.
        lead = self._lead(phone="+34 600 123 456", partner_id=False)
        local = self._lead(partner_id=False, mobile="600 123 457", country_id=spain.id)
        # Same last nine digits, another country: not the caller.
        self._lead(phone="+33 6 00 12 34 56", partner_id=False)
        self.assertEqual(lead.cpa_phone_e164, "+34600123456")
        self.assertEqual(local.cpa_mobile_e164, "+34600123457")
        for number, expected in (("+34600123456", lead), ("0034 600 123 457", local)):
            response = self._call({"id": f"zero-{number}", "type": "incoming", "from": number})
            self.assertEqual(response.json(), {"status": "recorded"}, number)
            self.assertEqual(len(expected.cpa_event_ids), 1, number)
        self.assertEqual(
            self.Event._leads_by_phone("+34600123456"), lead, "exact: not the French number"
        )
        # Changing the number moves the match.
        lead.phone = "+34 600 123 999"
        self.assertFalse(self.Event._leads_by_phone("+34600123456"))
        self.assertEqual(self.Event._leads_by_phone("+34600123999"), lead)

    def test_idempotent_external_id(self):
        lead = self._lead(phone="+32470123456")
        payload = {"id": "same-1", "type": "incoming", "from": "+32470123456"}
        self.assertEqual(self._call(payload).json(), {"status": "recorded"})
        self.assertEqual(self._call(payload).json(), {"status": "duplicate"})
        self.assertEqual(len(lead.cpa_event_ids), 1)

    def test_unknown_caller_creates_a_lead_when_asked(self):
        payload = {"id": "u-1", "type": "incoming", "from": "+32 491 00 00 01"}
        self.assertEqual(self._call(payload).json(), {"status": "no_lead"})
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("crm_pipeline_automation.call_source.pbx.create_lead", "1")
        params.set_param("crm_pipeline_automation.call_source.pbx.team_id", str(self.team.id))
        self._trigger(self.stage_qualified, "call_incoming")
        self.assertEqual(self._call(dict(payload, id="u-2")).json(), {"status": "recorded"})
        lead = self.env["crm.lead"].search([("phone", "=", "+32491000001")])
        self.assertEqual(len(lead), 1)
        self.assertEqual(lead.team_id, self.team)
        self.assertEqual(lead.stage_id, self.stage_qualified)
        self.assertEqual(self._call(dict(payload, id="u-2")).json(), {"status": "duplicate"})
        self.assertEqual(self.env["crm.lead"].search_count([("phone", "=", "+32491000001")]), 1)

    def test_signatures_and_bad_input(self):
        lead = self._lead(phone="+32470123456")
        payload = json.dumps({"id": "s-1", "type": "incoming", "from": "+32470123456"}).encode()
        url = "/cpa/webhook/call/pbx"
        self.assertEqual(
            self.url_open(url, data=payload, headers=signed_headers(payload, "wrong")).status_code,
            403,
        )
        old = signed_headers(payload, timestamp=int(time.time()) - 3600)
        self.assertEqual(self.url_open(url, data=payload, headers=old).status_code, 403)
        self.assertEqual(self.url_open(url, data=payload).status_code, 403)
        tampered = signed_headers(payload)
        self.assertEqual(
            self.url_open(url, data=payload.replace(b"s-1", b"s-2"), headers=tampered).status_code,
            403,
        )
        self.assertEqual(self._call(payload, source="nope").status_code, 404)
        self.assertEqual(self._call(payload, source="Bad Source!").status_code, 404)
        self.assertEqual(self._call(b"{not json").status_code, 400)
        self.assertEqual(self._call([1, 2]).status_code, 400)
        self.assertEqual(
            self._call({"id": "s-3", "type": "fax", "from": "+32470123456"}).status_code, 400
        )
        self.assertEqual(
            self._call({"id": "s-4", "type": "incoming", "from": "hello"}).status_code, 400
        )
        self.assertEqual(
            self._call(
                {"id": "s-5", "type": "incoming", "from": "+32470123456", "time": "yesterday"}
            ).status_code,
            400,
        )
        self.assertEqual(self._call({"type": "incoming", "from": "+32470123456"}).status_code, 400)
        self.assertEqual(
            self._call(
                {"id": "s-6", "type": "incoming", "from": "+32470123456", "pad": "x" * 9000}
            ).status_code,
            413,
        )
        self.assertFalse(lead.cpa_event_ids)


@tagged("post_install", "-at_install")
class TestConcurrentCallers(TransactionCase):
    """Calls from one unknown number in two workers at once create one lead."""

    PHONE = "+34600777001"  # its last eight digits begin with 00

    def _committed(self, func):
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            result = func(api.Environment(cr, SUPERUSER_ID, {}))
            cr.commit()  # pylint: disable=invalid-commit
        return result

    def _cleanup(self, env):
        Lead = env["crm.lead"].with_context(active_test=False)
        Lead.search([("phone", "=", self.PHONE)]).unlink()
        env["ir.config_parameter"].search(
            [("key", "=like", "crm_pipeline_automation.call_source.pbxc.%")]
        ).unlink()
        env.cr.execute("DELETE FROM crm_lead_event_caller_claim WHERE phone = %s", [self.PHONE])

    def test_one_lead_for_simultaneous_calls_from_an_unknown_number(self):
        def setup(env):
            env["ir.config_parameter"].set_param(
                "crm_pipeline_automation.call_source.pbxc.create_lead", "1"
            )

        def call(env, call_id):
            return env["crm.lead.event"]._record_call(
                "pbxc", {"id": call_id, "type": "incoming", "from": "+34 600 777 001"}
            )

        def count(env):
            leads = env["crm.lead"].search([("phone", "=", self.PHONE)])
            return len(leads), len(leads.cpa_event_ids)

        self._committed(setup)
        self.addCleanup(self._committed, self._cleanup)
        # mute: the serialization failure of the second worker is logged as a bad query
        with mute_logger("odoo.sql_db"):
            results = run_on_two_connections(
                self.registry,
                self.env.cr.dbname,
                lambda env: call(env, f"n-{threading.current_thread().name}"),
                retry=True,
            )
        self.assertEqual(sorted(map(str, results.values())), ["recorded", "recorded"])
        self.assertEqual(self._committed(count), (1, 2))
        # The next call finds the lead too.
        self.assertEqual(self._committed(lambda env: call(env, "later")), "recorded")
        self.assertEqual(self._committed(count), (1, 3))
