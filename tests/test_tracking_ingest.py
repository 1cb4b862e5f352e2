# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Ingest first, decide after: the tracking routes queue what they receive
(crm.lead.event.ingest) without locking or writing the lead; the processor records
it exactly once, in arrival order per lead."""

import time
from contextlib import closing
from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.exceptions import AccessError
from odoo.sql_db import db_connect
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..engine import ingest
from ..engine import tokens as tracking_token
from .common import BROWSER, CommittedPipelineCase, TrackingCase, run_on_two_connections


def _open_numbers(lead_id, sent_at=None):
    return [lead_id, 0, 0, 0, int(sent_at or time.time() - 60)]


def _click_numbers(lead_id, link_id, link_count=1, message_id=0):
    return [lead_id, message_id, 0, 0, int(time.time()) - 60, link_count, link_id]


@tagged("post_install", "-at_install")
class TestTrackingIngest(TrackingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Ingest = cls.env["crm.lead.event.ingest"]
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.verdict_min_seconds_after_send", 0
        )

    def _rows(self, lead):
        return self.Ingest.search([("key", "=", str(lead.id))], order="id")

    def _pixel(self, lead, **headers):
        token = tracking_token.sign(self.env, "open", _open_numbers(lead.id))
        return self.url_open(f"/cpa/o/{token}", headers={"User-Agent": BROWSER, **headers})

    def test_pixel_queues_without_writing_the_lead(self):
        trigger = self._trigger(self.stage_qualified, "email_open")
        lead = self._lead()
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT write_date, engagement_score FROM crm_lead WHERE id = %s", [lead.id]
        )
        before = self.env.cr.fetchone()
        response = self._pixel(lead)
        self.assertEqual(response.status_code, 200)
        self.env.cr.execute(
            "SELECT write_date, engagement_score FROM crm_lead WHERE id = %s", [lead.id]
        )
        self.assertEqual(self.env.cr.fetchone(), before, "the route wrote nothing on the lead")
        row = self._rows(lead)
        self.assertEqual((row.kind, row.state, row.attempts), ("open", "new", 0))
        self.assertEqual(row.payload["ua"], BROWSER)
        self.assertEqual(row.payload["ip"], "127.0.0.0", "the network only, never the address")
        self.assertFalse(lead.cpa_event_ids)
        self.assertEqual(self.process_ingest(), 1)
        self.assertEqual(row.state, "done")
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        event = lead.cpa_event_ids
        self.assertEqual(event.ip_network, "127.0.0.0/24")
        self.assertEqual(event.date, row.received_at.replace(microsecond=0))
        self.assertEqual(self.process_ingest(), 0, "processed once")
        self.assertEqual(len(lead.cpa_event_ids), 1)

    def test_pixel_answers_while_the_lead_row_is_locked(self):
        """A salesperson's transaction (another connection) holds the lead's row: the
        pixel still answers at once (it used to wait for that transaction to end)."""
        dbname = self.env.cr.dbname
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            lead_id = env["crm.lead"].create({"name": "Locked lead"}).id
            cr.commit()  # pylint: disable=invalid-commit

        def delete():
            with closing(db_connect(dbname).cursor()) as cr:
                cr.execute("DELETE FROM crm_lead WHERE id = %s", [lead_id])
                cr.commit()  # pylint: disable=invalid-commit

        self.addCleanup(delete)
        with closing(db_connect(dbname).cursor()) as locker:
            locker.execute("SELECT id FROM crm_lead WHERE id = %s FOR UPDATE", [lead_id])
            token = tracking_token.sign(self.env, "open", _open_numbers(lead_id))
            started = time.monotonic()
            response = self.url_open(f"/cpa/o/{token}", headers={"User-Agent": BROWSER}, timeout=20)
            elapsed = time.monotonic() - started
            locker.rollback()
        self.assertEqual(response.status_code, 200)
        self.assertLess(elapsed, 5, "the request did not wait for the lead's lock")
        self.assertEqual(self.Ingest.search([("key", "=", str(lead_id))]).state, "new")

    def test_click_redirects_at_once_and_opted_out_lead_is_not_queued(self):
        lead = self._lead()
        link = self.env["link.tracker"].create({"url": "https://example.com/a", "title": "a"})
        token = tracking_token.sign(self.env, "click", _click_numbers(lead.id, link.id))
        response = self.url_open(
            f"/cpa/c/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"], "https://example.com/a")
        self.assertIn("cpa_t=", response.headers.get("Set-Cookie", ""))
        self.assertEqual(self._rows(lead).kind, "click")
        self.env["mail.blacklist"].sudo()._add(self.partner.email)
        other = self._lead()
        token = tracking_token.sign(self.env, "click", _click_numbers(other.id, link.id))
        response = self.url_open(
            f"/cpa/c/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False
        )
        self.assertEqual(response.status_code, 302)
        self.assertNotIn("cpa_t=", response.headers.get("Set-Cookie", ""))
        self.assertFalse(self._rows(other), "an opted-out lead is not tracked")
        # Opted out by the lead's own address (no customer), and a deleted lead.
        alone = self._lead(partner_id=False, email_from="Nina <NINA@novak.example.com>")
        self.env["mail.blacklist"].sudo()._add("nina@novak.example.com")
        gone = self._lead()
        gone_id = gone.id
        gone.unlink()
        for lead_id in (alone.id, gone_id):
            token = tracking_token.sign(self.env, "click", _click_numbers(lead_id, link.id))
            response = self.url_open(
                f"/cpa/c/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False
            )
            self.assertEqual(response.headers["Location"], "https://example.com/a")
            self.assertNotIn("cpa_t=", response.headers.get("Set-Cookie", ""))
            self.assertFalse(self.Ingest.search([("key", "=", str(lead_id))]))

    def test_click_of_a_deleted_link_is_404_and_not_queued(self):
        """A token naming a link that no longer exists: 404, no redirect, no cookie,
        nothing queued (the lookup and the queue row are one statement)."""
        lead = self._lead()
        link = self.env["link.tracker"].create({"url": "https://example.com/gone", "title": "g"})
        token = tracking_token.sign(self.env, "click", _click_numbers(lead.id, link.id))
        link.unlink()
        response = self.url_open(
            f"/cpa/c/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False
        )
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("Location", response.headers)
        self.assertNotIn("cpa_t=", response.headers.get("Set-Cookie", ""))
        self.assertFalse(self._rows(lead))

    def test_order_per_lead_and_failed_rows(self):
        """A lead's rows are processed in arrival order; a row that keeps failing is
        "failed" after ingest_max_attempts and the lead's later rows go on."""
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.ingest_max_attempts", 2
        )
        lead = self._lead()
        link = self.env["link.tracker"].create({"url": "https://example.com/b", "title": "b"})
        cr = self.env.cr
        bad = ingest.append(cr, "open", str(lead.id), {"n": [lead.id, 1]})  # not 5 numbers
        opened = ingest.append(cr, "open", str(lead.id), {"n": _open_numbers(lead.id)})
        clicked = ingest.append(
            cr, "click", str(lead.id), {"n": _click_numbers(lead.id, link.id), "ua": BROWSER}
        )
        with mute_logger("odoo.addons.crm_pipeline_automation.models.crm_lead_event_ingest"):
            self.assertEqual(self.process_ingest(), 0, "the first row failed: the others wait")
            rows = self.Ingest.browse([bad, opened, clicked])
            self.assertEqual(rows.mapped("state"), ["new", "new", "new"])
            self.assertEqual(rows[0].attempts, 1)
            self.assertFalse(lead.cpa_event_ids)
            self.assertEqual(self.process_ingest(), 3)
        self.assertEqual(rows.mapped("state"), ["failed", "done", "done"])
        self.assertIn("TypeError", rows[0].error)
        events = lead.cpa_event_ids.sorted("id")
        self.assertEqual(events.mapped("event_type"), ["email_open", "link_click"])

    def test_burst_window_waits_for_queued_clicks(self):
        """A held click is not fired while clicks of its lead received within its
        window are still queued: the burst they make is seen first."""
        self._trigger(self.stage_qualified, link_url="https://example.com/l0")
        lead = self._lead()
        links = [
            self.env["link.tracker"].create({"url": f"https://example.com/l{i}", "title": "l"})
            for i in range(3)
        ]
        cr = self.env.cr
        first = ingest.append(
            cr,
            "click",
            str(lead.id),
            {"n": _click_numbers(lead.id, links[0].id, 3, 7), "ua": BROWSER},
        )
        self.Ingest._process_ingest_rows(ingest.claim(cr, 1), 5)
        self.assertEqual(self.Ingest.browse(first).state, "done")
        self.assertEqual(lead.cpa_event_ids.state, "held")
        for link in links[1:]:
            ingest.append(
                cr,
                "click",
                str(lead.id),
                {"n": _click_numbers(lead.id, link.id, 3, 7), "ua": BROWSER},
            )
        with freeze_time(fields.Datetime.now() + timedelta(seconds=7)):
            self.assertEqual(self.Event._cron_fire_held_events(), 0, "clicks still queued")
            self.process_ingest()
            self.Event._cron_fire_held_events()
        clicks = lead.cpa_event_ids
        self.assertEqual(len(clicks), 3)
        self.assertEqual(set(clicks.mapped("verdict")), {"machine"})
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_processor_killed_mid_batch_loses_nothing(self):
        """The rows are marked done in the transaction of their events: a processor
        killed before its commit leaves both undone, the next run records them once."""
        lead = self._lead()
        self._pixel(lead)

        class Killed(Exception):
            pass

        with self.assertRaises(Killed), self.env.cr.savepoint():
            self.assertEqual(self.Ingest._cron_process_ingest(), 1)
            self.assertTrue(lead.cpa_event_ids)
            raise Killed()
        self.env.invalidate_all()
        self.assertEqual(self._rows(lead).state, "new")
        self.assertFalse(lead.cpa_event_ids)
        self.assertEqual(self.process_ingest(), 1)
        self.assertEqual(len(lead.cpa_event_ids), 1)

    def test_wake_once_per_second(self):
        self.assertTrue(ingest.should_wake("cpa-test", 100.0))
        self.assertFalse(ingest.should_wake("cpa-test", 100.5))
        self.assertTrue(ingest.should_wake("cpa-test", 101.1))
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_lead_event_ingest")
        Trigger = self.env["ir.cron.trigger"].sudo()
        ingest._last_wake.pop(self.env.cr.dbname, None)
        before = Trigger.search_count([("cron_id", "=", cron.id)])
        lead = self._lead()
        started = time.monotonic()
        for _i in range(3):
            self._pixel(lead)
        elapsed = time.monotonic() - started
        self.assertEqual(len(self._rows(lead)), 3)
        triggers = Trigger.search_count([("cron_id", "=", cron.id)]) - before
        self.assertGreaterEqual(triggers, 1, "the processor is woken")
        self.assertLessEqual(triggers, 1 + int(elapsed), "at most one trigger per second")

    def test_burst_defers_the_processor_a_bounded_time(self):
        """While the routes receive BURST_RATE requests a second, the processor waits
        until the oldest queued row has waited the burst delay; a lone request, or a row
        that has waited long enough, is processed at once."""
        cr = self.env.cr
        lead = self._lead()

        def queue(count):
            return [
                ingest.append(cr, "open", str(lead.id), {"n": _open_numbers(lead.id)})
                for _i in range(count)
            ]

        queue(1)
        self.assertEqual(ingest.burst_state(cr, 10), (False, 0), "a lone request: no wait")
        queue(ingest.BURST_RATE)
        in_burst, wait = ingest.burst_state(cr, 10)
        self.assertTrue(in_burst)
        self.assertGreater(wait, 8, "a burst: the rows wait up to the delay")
        self.assertLessEqual(wait, 10)
        self.assertEqual(ingest.burst_state(cr, 0), (False, 0), "delay 0: never deferred")
        # The oldest row has waited 12 s: processed now, burst or not.
        cr.execute(
            "UPDATE crm_lead_event_ingest SET received_at = received_at - interval '12 seconds' "
            "WHERE id = (SELECT min(id) FROM crm_lead_event_ingest WHERE state = 'new')"
        )
        self.assertEqual(ingest.burst_state(cr, 10), (True, 0), "processed in the burst")
        self.assertAlmostEqual(ingest.burst_state(cr, 15)[1], 3, delta=0.5)
        # The burst is over (the latest requests are 2 s old): processed at once.
        cr.execute(
            "UPDATE crm_lead_event_ingest SET received_at = received_at - interval '2 seconds'"
        )
        self.assertEqual(ingest.burst_state(cr, 30), (False, 0))
        # Tests (no commit per batch) never defer: what is queued is processed.
        self.assertEqual(self.process_ingest(), ingest.BURST_RATE + 1)

    def test_gc_and_access(self):
        lead = self._lead()
        cr = self.env.cr
        ids = [ingest.append(cr, "open", str(lead.id), {"n": []}) for _i in range(3)]
        ingest.mark(cr, ids[:1], "done")
        ingest.mark(cr, ids[1:2], "failed")
        cr.execute(
            "UPDATE crm_lead_event_ingest SET received_at = received_at - interval '8 days' "
            "WHERE id = ANY(%s)",
            [ids],
        )
        self.Ingest._gc_ingest()
        self.assertEqual(self.Ingest.browse(ids).exists().mapped("state"), ["failed", "new"])
        manager = new_test_user(
            self.env,
            "cpa_ingest_manager",
            groups="base.group_user,crm_pipeline_automation.group_automation_manager",
        )
        rows = self.Ingest.with_user(manager).search([("id", "in", ids)])
        self.assertEqual(len(rows), 2, "managers watch the queue")
        with self.assertRaises(AccessError):
            rows.write({"state": "done"})
        with self.assertRaises(AccessError):
            rows.unlink()
        with self.assertRaises(AccessError):
            self.Ingest.with_user(self.salesman).search([])


@tagged("post_install", "-at_install")
class TestIngestConcurrency(CommittedPipelineCase):
    """Two processors on two connections at once (as two cron workers)."""

    def test_two_processors_exactly_once_in_order(self):
        def rule_vals(env):
            tag = env["crm.tag"].create({"name": "Ingest"})
            return {"action_type": "tags", "tag_add_ids": [Command.link(tag.id)]}

        def move(env, leads, stage_b):
            return {"tags": stage_b.automation_rule_ids.tag_add_ids.ids}

        data = self._committed_pipeline("Ingest", 6, rule_vals, move)
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            link = env["link.tracker"].create({"url": "https://example.com/c", "title": "c"})
            ids = []
            for lead_id in data["leads"]:
                ids.append(ingest.append(cr, "open", str(lead_id), {"n": _open_numbers(lead_id)}))
                ids.append(
                    ingest.append(
                        cr,
                        "click",
                        str(lead_id),
                        {"n": _click_numbers(lead_id, link.id), "ua": BROWSER},
                    )
                )
                ids.append(
                    ingest.append(
                        cr,
                        "visit",
                        str(lead_id),
                        {"lead": lead_id, "u": "https://example.com/v", "ua": BROWSER},
                    )
                )
            cr.commit()  # pylint: disable=invalid-commit

        def cleanup():
            with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
                cr.execute("DELETE FROM crm_lead_event_ingest WHERE id = ANY(%s)", [ids])
                cr.execute("DELETE FROM link_tracker WHERE id = %s", [link.id])
                cr.commit()  # pylint: disable=invalid-commit

        # Registered after the pipeline's: runs first (the events go with the leads).
        self.addCleanup(cleanup)

        def work(env):
            # Small batches: both processors claim, in turns, until the queue is empty.
            return env["crm.lead.event.ingest"]._cron_process_ingest(limit=2)

        results = run_on_two_connections(self.registry, self.env.cr.dbname, work)
        self.assertTrue(all(isinstance(r, int) for r in results.values()), results)
        self.assertEqual(sum(results.values()), len(ids), results)
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "SELECT count(*) FILTER (WHERE state = 'done'), count(*) "
                "FROM crm_lead_event_ingest WHERE id = ANY(%s)",
                [ids],
            )
            self.assertEqual(cr.fetchone(), (len(ids), len(ids)))
            cr.execute(
                "SELECT lead_id, array_agg(event_type ORDER BY id) FROM crm_lead_event "
                "WHERE lead_id = ANY(%s) GROUP BY lead_id",
                [data["leads"]],
            )
            found = dict(cr.fetchall())
        self.assertEqual(
            found,
            {lead_id: ["email_open", "link_click", "url_visited"] for lead_id in data["leads"]},
            "one event per row, in arrival order per lead",
        )
