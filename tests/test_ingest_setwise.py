# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The tracking ingest processor set-wise: a batch of queued opens, clicks and visits
records what the rows one by one would have recorded (events, verdicts, scores, moves,
in arrival order per lead), in a few queries per batch; a batch that raises is
processed one row at a time."""

import time

from odoo.tests import TransactionCase, tagged

from ..engine import ingest
from .common import BROWSER, TrackingCase

LOGGER = "odoo.addons.crm_pipeline_automation.models.crm_lead_event_ingest"
MPP = "Mozilla/5.0"  # Apple Mail Privacy Protection: a machine open


@tagged("post_install", "-at_install")
class TestIngestSetwise(TrackingCase, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Ingest = cls.env["crm.lead.event.ingest"]
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.verdict_min_seconds_after_send", 0
        )
        cls.links = cls.env["link.tracker"].create(
            [{"url": f"https://example.com/s{i}", "title": f"s{i}"} for i in range(3)]
        )

    def _queue(self, lead, kind, number, ua=BROWSER, link=0, link_count=1, url=None):
        """Queue a request as the routes do; ``number``: the message (opens, clicks)."""
        sent = int(time.time()) - 600
        client = {"ua": ua, "ip": "198.51.100.0"}
        if kind == "open":
            payload = {"n": [lead.id, number, self.partner.id, 0, sent], **client}
        elif kind == "click":
            link_id = self.links[link].id
            payload = {"n": [lead.id, number, 0, 0, sent, link_count, link_id], **client}
        else:
            payload = {"lead": lead.id, "u": url or f"https://shop.example.com/p{number}", **client}
        return self.Ingest._cpa_ingest(kind, ingest.lead_key(lead.id), payload)

    def _scenario(self, leads):
        """The same mixed requests on each of the 4 ``leads``, interleaved between
        leads (as they arrive)."""
        a, b, c, d = leads
        self._queue(a, "open", 1)  # moves A to Qualified
        self._queue(b, "click", 2)  # moves B to Qualified
        self._queue(a, "click", 1)  # A already in Qualified: refused (new stage seen)
        self._queue(b, "open", 2, ua=MPP)  # machine
        self._queue(a, "visit", 1)
        self._queue(b, "open", 2, ua=MPP)  # duplicate delivery: one event
        self._queue(c, "visit", 3)
        self._queue(c, "visit", 3)  # same URL, same hour: one event
        for link in range(3):  # a scanner clicking every link of a 3-link email
            self._queue(c, "click", 30, link=link, link_count=3)
        self._queue(d, "open", 4)  # opted out: not tracked
        self._queue(a, "open", 5)  # second human open of A: scored, refused

    def _result_of(self, leads):
        """Per lead: stage, score and events (type, verdict, reason, state, dedup key
        without the lead), in order."""
        self.env.invalidate_all()
        result = []
        for lead in leads:
            events = lead.cpa_event_ids.sorted("id")
            result.append(
                (
                    lead.stage_id,
                    lead.engagement_score,
                    [
                        (
                            e.event_type,
                            e.verdict,
                            e.verdict_reason,
                            e.state,
                            e.dedup_key.rsplit(":", 1)[0],
                        )
                        for e in events
                    ],
                )
            )
        return result

    def _leads(self, name):
        leads = [self._lead(name=f"{name} {i}") for i in range(3)]
        leads.append(
            self._lead(
                name=f"{name} opted out", partner_id=False, email_from=f"{name}@out.example.com"
            )
        )
        self.env["mail.blacklist"].sudo()._add(f"{name}@out.example.com")
        return leads

    def test_batch_is_what_rows_one_by_one_record(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.score_email_open", 3
        )
        opened = self._trigger(self.stage_qualified, "email_open")
        self._trigger(self.stage_qualified, "link_click")
        setwise, one_by_one = self._leads("Setwise"), self._leads("Rows")
        # Set-wise: one run, one batch.
        self._scenario(setwise)
        self.assertEqual(self.process_ingest(), 13)
        # The same requests one row at a time (the fallback path).
        self._scenario(one_by_one)
        rows = ingest.claim(self.env.cr, 500)
        self.assertEqual(len(rows), 13)
        self.Ingest._process_ingest_rows_one_by_one(rows, 5)
        self.assertEqual(ingest.count_new(self.env.cr), 0)
        got, expected = self._result_of(setwise), self._result_of(one_by_one)
        self.assertEqual(got, expected)
        a, b, c, d = setwise
        # What that is, spelled out.
        stage, score, events = got[0]
        self.assertEqual(stage, self.stage_qualified)
        self.assertMovedBy(a, self.stage_qualified, opened, self.salesman)
        self.assertEqual(
            [(e[0], e[3]) for e in events],
            [
                ("email_open", "fired"),
                ("link_click", "blocked"),
                ("url_visited", "no_trigger"),
                ("email_open", "blocked"),
            ],
        )
        self.assertIn("already in", events[1][2])
        stage, score, events = got[1]
        self.assertEqual(stage, self.stage_qualified)
        self.assertEqual(
            [(e[0], e[1], e[3]) for e in events][1], ("email_open", "machine", "ignored")
        )
        self.assertEqual(len(events), 2, "the duplicate delivery recorded once")
        stage, score, events = got[2]
        self.assertEqual(stage, self.stage_new)
        self.assertEqual([e[0] for e in events], ["url_visited", *["link_click"] * 3])
        self.assertEqual({e[1] for e in events[1:]}, {"machine"}, "the burst, all of it")
        self.assertEqual(got[3], (self.stage_new, 0, []), "the opted-out lead is not tracked")
        self.assertEqual(a.engagement_score, expected[0][1])
        self.assertTrue(a.engagement_score >= 6, "two human opens of 3 points")

    def test_row_raising_in_a_batch_falls_back(self):
        """A row that raises: the batch is rolled back and processed one row at a time,
        the other leads' rows are done, the bad row's attempt is counted and its lead's
        later rows wait for it."""
        good, bad = self._lead(name="Good"), self._lead(name="Bad")
        self._queue(good, "open", 1)
        wrong = self.Ingest._cpa_ingest("open", ingest.lead_key(bad.id), {"n": [bad.id, 1]})
        later = self._queue(bad, "visit", 2)
        self._queue(good, "visit", 3)
        with self.assertLogs(LOGGER, "ERROR") as logs:
            self.assertEqual(self.process_ingest(), 2)
        self.assertIn("could not be processed", "\n".join(logs.output))
        self.assertEqual(len(good.cpa_event_ids), 2)
        rows = self.Ingest.browse([wrong, later])
        self.assertEqual(rows.mapped("state"), ["new", "new"])
        self.assertEqual(rows.mapped("attempts"), [1, 0])
        self.assertFalse(bad.cpa_event_ids)

    def test_duplicates_in_a_batch_one_event(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.score_email_open", 3
        )
        lead = self._lead()
        self._queue(lead, "open", 7)
        self.process_ingest()
        self.assertEqual(len(lead.cpa_event_ids), 1)
        score = lead.engagement_score
        for _i in range(3):  # the same open again: within one batch, and as recorded
            self._queue(lead, "open", 7)
        self._queue(lead, "open", 8)
        self.assertEqual(self.process_ingest(), 4)
        self.assertEqual(len(lead.cpa_event_ids), 2)
        self.assertEqual(lead.engagement_score - score, 3, "the new open only")

    def test_queries_per_row_bounded(self):
        """50 opens of 10 leads, refused by their trigger (already in its stage): the
        batch costs a few queries, not the dozen per row of the rows one by one."""
        trigger = self._trigger(self.stage_qualified, "email_open")
        leads = [self._lead(self.stage_qualified, name=f"Q {i}") for i in range(10)]
        for i in range(50):
            self._queue(leads[i % 10], "open", 100 + i)
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        self.assertEqual(self.Ingest._cron_process_ingest(), 50)
        queries = self.env.cr.sql_log_count - before
        self.assertLessEqual(queries, 50, f"{queries} queries for 50 rows: at most 1 per row")
        self.env.invalidate_all()
        events = self.Event.search([("lead_id", "in", [lead.id for lead in leads])])
        self.assertEqual(len(events), 50)
        self.assertEqual(set(events.mapped("state")), {"blocked"})
        self.assertIn("already in", events[0].verdict_reason)
        # A move costs what Odoo's write, chatter note and ledger cost, per lead.
        mover = self._lead(name="Mover")
        self._queue(mover, "open", 200)
        self.assertEqual(self.process_ingest(), 1)
        self.assertMovedBy(mover, self.stage_qualified, trigger, self.salesman)

    def test_watched_score_fires_per_event(self):
        """A "field value changed" trigger watching the score sees each event's points
        (the batch goes row by row): the open that reaches the value moves the lead."""
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.score_email_open", 3
        )
        self._trigger(
            self.stage_proposition,
            "field_changed",
            watch_field="engagement_score",
            watch_change="reached",
            watch_value="6",
        )
        lead = self._lead()
        for number in (1, 2, 3):
            self._queue(lead, "open", number)
        self.assertEqual(self.process_ingest(), 3)
        self.assertEqual(lead.engagement_score, 9)
        self.assertEqual(lead.stage_id, self.stage_proposition)
        changes = lead.cpa_event_ids.filtered(lambda e: e.event_type == "field_changed")
        self.assertEqual(len(changes), 1, "reached once, by the second open")
        self.assertEqual((float(changes.old_value), float(changes.new_value)), (3, 6))
