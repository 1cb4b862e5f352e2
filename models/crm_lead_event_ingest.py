# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import time

import psycopg2

from odoo import api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import groupby

from ..engine import calls, ingest, ingest_batch, params
from ..engine import dispatch as automation_dispatch

_logger = logging.getLogger(__name__)

# The keys of a call payload (engine/calls.py parse_call, parse_time).
CALL_KEYS = ("id", "type", "from", "to", "time", "duration")
# Seconds one processor run may spend (further bounded by the cron worker's time
# limit: engine/dispatch.py run_time_budget).
MAX_RUN_SECONDS = 30
# Write conflicts (a lead written by a salesperson, the dispatcher) tolerated per run
# before the rest is left to the next run.
MAX_CONFLICTS = 5
# Seconds between two polls of an empty queue while the run lingers.
POLL_SECONDS = 0.2


class CrmLeadEventIngest(models.Model):
    """What the tracking routes received, queued for the processor: one row per
    request (open pixel, click, visit beacon, call webhook), appended by the route in
    its own short transaction; the processor turns it into engagement events.

    Written only by the routes and the processor, in SQL (engine/ingest.py); managers
    may read it to watch the queue.
    """

    _name = "crm.lead.event.ingest"
    _description = "CRM Tracking Ingest Queue"
    _order = "id desc"
    # Hot insert of the public routes: no create/write uid (foreign keys to res_users)
    # nor dates; received_at says when.
    _log_access = False

    kind = fields.Selection(ingest.KINDS, required=True, readonly=True)
    key = fields.Char(
        readonly=True,
        required=True,
        help="Lead id (opens, clicks, visits) or tel:<E.164 number> (calls): the rows "
        "of one key are processed one after the other, in arrival order.",
    )
    payload = fields.Json(readonly=True, help="What the request carried, validated.")
    external_ref = fields.Char(
        "External id", readonly=True, help="source:id of a call: one call is queued once."
    )
    received_at = fields.Datetime("Received", required=True, readonly=True)
    processed_at = fields.Datetime(
        "Processed",
        readonly=True,
        help="End of the last attempt (processed_at - received_at: the queue's delay).",
    )
    state = fields.Selection(ingest.STATES, required=True, default="new", readonly=True)
    attempts = fields.Integer(readonly=True)
    error = fields.Char(readonly=True)

    def init(self):
        for index in ingest.INDEXES:
            self.env.cr.execute(index)

    @api.depends("kind", "key")
    def _compute_display_name(self):
        """ "Link click · 42": what was received, for which lead or number."""
        labels = dict(self._fields["kind"]._description_selection(self.env))
        for row in self:
            row.display_name = f"{labels.get(row.kind, row.kind)} · {row.key}"

    # ------------------------------------------------------------------
    # Routes
    # ------------------------------------------------------------------

    @api.model
    def _cpa_ingest(self, kind, key, payload, external_ref=None):
        """Queue one received event and wake the processor (called by the public
        routes once the request is validated; no lead is read for update or written).

        :return: the row id, or None if ``external_ref`` was already queued
        """
        row_id = ingest.append(self.env.cr, kind, key, payload, external_ref)
        if row_id:
            self._cpa_wake_processor()
        return row_id

    @api.model
    def _cpa_ingest_click(self, lead_id, link_id, payload):
        """Queue a click of a verified token and return where it goes: (stored URL of
        the link or None, lead token for the tracking cookie or None when the lead is
        not tracked). One statement (engine/ingest.py, click): the link's URL, whether
        the lead is tracked and the queue row (only for a tracked lead and an existing
        link); the click route answers at once."""
        self.env.flush_all()  # nothing pending in a request: no query
        url, tracked = ingest.click(self.env.cr, link_id, lead_id, payload)
        if not url or not tracked:
            return url, None
        self._cpa_wake_processor()
        return url, self.env["crm.lead"].browse(lead_id)._cpa_lead_token()

    @api.model
    def _cpa_ingest_call(self, source, data):
        """Queue a call of a verified webhook payload.

        Decided at once, without a lock: "duplicate" when its external id is already
        queued; "no_lead" when no open lead has the caller's number and the source does
        not create leads; else "recorded" (queued: the event, and the lead of an unknown
        caller, are created by the processor within seconds).

        :raise ValueError: invalid payload (HTTP 400)
        """
        Event = self.env["crm.lead.event"]
        external_id, _kind, customer, _line, _duration = calls.parse_call(data)
        phone = Event._phone_e164(customer)
        if not phone:
            raise ValueError("customer number")
        calls.parse_time(data.get("time"), fields.Datetime.now())
        if not Event._cpa_call_source_param(source, "create_lead") and not Event._leads_by_phone(
            phone
        ):
            return "no_lead"
        row_id = self._cpa_ingest(
            "call",
            ingest.caller_key(phone),
            # The keys a call is made of (validated above), nothing else of the body.
            {"source": source, "data": {k: data[k] for k in CALL_KEYS if k in data}},
            external_ref=f"{source}:{external_id}",
        )
        return "recorded" if row_id else "duplicate"

    @api.model
    def _cpa_wake_processor(self):
        """Trigger the processor cron now, at most once per second per process
        (engine/ingest.py should_wake)."""
        if not ingest.should_wake(self.env.cr.dbname):
            return
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_lead_event_ingest", False)
        if cron:
            cron.sudo()._trigger()

    # ------------------------------------------------------------------
    # Processor
    # ------------------------------------------------------------------

    @api.model
    def _cron_process_ingest(self, limit=None):
        """Turn the queued rows into engagement events, verdicts, scores and moves,
        exactly once, in arrival order per key.

        Batches of ``ingest_batch_size`` rows claimed with ``FOR UPDATE SKIP LOCKED``
        (several runs may work at once, on distinct keys); one savepoint per batch of
        opens, clicks and visits (per row as its fallback, and for calls); the
        rows are marked ``done`` in the transaction of their events, committed per batch
        outside tests: a run killed mid-batch leaves its rows ``new`` and their events
        unrecorded, for the next run. A row failing ``ingest_max_attempts`` times is
        ``failed`` (logged, kept) and its key's later rows go on.

        Once the queue is empty the run keeps polling it for a moment (see
        engine/ingest.py, WAKE_INTERVAL): requests that did not create a trigger of
        their own are processed by it. While the routes are in a burst, the rows wait
        up to ``ingest_burst_delay_seconds``, in batches of at most BURST_RATE keys
        (engine/ingest.py, burst_state).

        :return: number of rows processed
        """
        limit = limit or params.get_int(self.env, "ingest_batch_size")
        max_attempts = params.get_int(self.env, "ingest_max_attempts")
        commit = automation_dispatch.may_commit(self.env)
        # Tests process what they queued at once (no burst deferral, no lingering).
        burst_delay = params.get_int(self.env, "ingest_burst_delay_seconds") if commit else 0
        budget = automation_dispatch.run_time_budget(MAX_RUN_SECONDS)
        cr = self.env.cr
        started = last_rows = time.monotonic()
        done, conflicts, failing = 0, 0, set()
        while conflicts <= MAX_CONFLICTS and time.monotonic() - started < budget:
            self.env.flush_all()
            in_burst, wait = ingest.burst_state(cr, burst_delay)
            if wait:
                # The routes are in a burst: the rows wait (up to burst_delay), the
                # HTTP workers get the machine. Nothing written: end the transaction
                # (fresh snapshot at the next poll).
                cr.rollback()
                time.sleep(min(wait, POLL_SECONDS))
                last_rows = time.monotonic()
                continue
            try:
                with cr.savepoint(flush=False):
                    rows = ingest.claim(
                        cr, min(limit, ingest.BURST_RATE) if in_burst else limit, failing
                    )
            except psycopg2.errors.SerializationFailure:
                # A row was processed by another run after our snapshot: start again
                # with a fresh snapshot.
                if not commit:
                    break
                cr.rollback()
                conflicts += 1
                continue
            if not rows:
                if commit and time.monotonic() - last_rows < ingest.LINGER_SECONDS:
                    # Nothing written in this transaction: end it so that the next
                    # claim sees the rows committed since (new snapshot).
                    cr.rollback()
                    time.sleep(POLL_SECONDS)
                    continue
                break
            last_rows = time.monotonic()
            processed, conflict = self._process_ingest_rows(rows, max_attempts, failing)
            done += processed
            if conflict:
                conflicts += 1
            if commit:
                # Commit per batch: the events of the batch and their rows marked done
                # together; the claims (row locks) end here.
                self.env.cr.commit()  # pylint: disable=invalid-commit
            elif conflict:
                break
        self.env.flush_all()
        self.env["ir.cron"]._notify_progress(done=done, remaining=ingest.count_new(cr))
        return done

    def _process_ingest_rows(self, rows, max_attempts, failing=None):
        """Process claimed rows (grouped by key, each key in arrival order).

        The opens, clicks and visits set-wise, in one savepoint
        (crm.lead.event._record_ingested), marked ``done`` in it; if that batch raises
        (a row that cannot be processed, a write conflict, a case the set-wise plan does
        not reproduce: engine/ingest_batch.py), it is rolled back and its rows are
        processed one at a time with the others (calls): see
        ``_process_ingest_rows_one_by_one``.

        :param failing: set, receives the keys of rows that failed and may be tried
            again (by the next run)

        :return: (rows done or failed for good, whether a write conflict stopped the
            batch)
        """
        setwise, others = ingest.split_setwise(rows, ingest_batch.SETWISE_KINDS)
        if not setwise:
            return self._process_ingest_rows_one_by_one(rows, max_attempts, failing)
        try:
            # One savepoint for the batch: its events, scores, moves and its rows marked
            # done together, or nothing of them.
            with self.env.cr.savepoint():
                # sudo: the routes verified each request's signed token: the
                # authorization of recording these facts.
                self.env["crm.lead.event"].sudo()._record_ingested(setwise)
                ingest.mark(self.env.cr, [row[0] for row in setwise], "done")
        except Exception as error:  # every row is tried again below
            _logger.info(
                "Tracking ingest: batch of %s rows processed one row at a time (%r)",
                len(setwise),
                error,
            )
            return self._process_ingest_rows_one_by_one(rows, max_attempts, failing)
        processed, conflict = self._process_ingest_rows_one_by_one(others, max_attempts, failing)
        return len(setwise) + processed, conflict

    def _process_ingest_rows_one_by_one(self, rows, max_attempts, failing=None):
        """Process claimed rows one at a time, each in its own savepoint (see
        ``_process_ingest_rows``): a failing row counts an attempt, the others go on."""
        cr = self.env.cr
        done_ids, finished, conflict = [], 0, False
        for key, group in groupby(rows, key=lambda row: row[2]):
            for row_id, kind, _row_key, payload, received_at, _attempts in group:
                try:
                    with cr.savepoint():
                        self._process_ingest_row(kind, payload, received_at)
                except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                    # The lead was written by another transaction after our snapshot:
                    # rolled back to the savepoint, the row stays new and is tried
                    # again with a fresh snapshot after this batch's commit.
                    conflict = True
                    break
                except Exception as error:
                    _logger.exception("Tracking ingest row %s could not be processed", row_id)
                    if ingest.fail_attempt(cr, row_id, repr(error), max_attempts):
                        finished += 1
                        continue
                    # Tried again by the next run; the key's later rows wait for it (order).
                    if failing is not None:
                        failing.add(key)
                    break
                done_ids.append(row_id)
            if conflict:
                break
        ingest.mark(cr, done_ids, "done")
        return finished + len(done_ids), conflict

    @api.model
    def _process_ingest_row(self, kind, payload, received_at):
        """Record the events of one queued request, dated when it was received."""
        # sudo: the route verified the request's signed token (or signature): the
        # authorization of recording this one fact.
        Event = self.env["crm.lead.event"].sudo()
        # Event dates are whole seconds (as fields.Datetime.now()).
        received_at = received_at.replace(microsecond=0)
        client = (payload.get("ua") or "", payload.get("ip") or "")
        if kind == "open":
            Event._record_email_open(*payload["n"], *client, received_at=received_at)
        elif kind == "click":
            Event._record_link_click(*payload["n"], *client, received_at=received_at)
        elif kind == "visit":
            Event._record_url_visited(
                payload["lead"], payload["u"], "beacon", *client, received_at=received_at
            )
        elif kind == "call":
            Event._record_call(payload["source"], payload["data"], received_at=received_at)
        else:
            raise ValueError(f"unknown kind {kind}")

    @api.autovacuum
    def _gc_ingest(self):
        """Delete processed rows after ``ingest_retention_days`` (failed rows stay)."""
        days = params.get_int(self.env, "ingest_retention_days")
        count = ingest.gc(self.env.cr, days)
        _logger.info("Tracking ingest: %s processed rows older than %s days deleted", count, days)
