# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The ingest queue of the tracking routes (crm.lead.event.ingest): "ingest first,
decide after".

The pixel, click, beacon and call webhook routes validate their request, then append
one row here in their own short transaction: one INSERT, no lead row read for update,
no write on crm_lead. The processor (a cron woken by the routes) claims the rows and
turns them into engagement events, verdicts, scores and stage moves.

Exactly once, in arrival order per key (a lead, or a caller's number):

* a row is claimed with ``FOR UPDATE SKIP LOCKED`` and stays ``new`` until the
  transaction that records its events also marks it ``done`` (same commit): a processor
  killed mid-batch rolls back both, the rows are claimed again by the next run;
* only the oldest unfinished row of a key is claimable (``NOT EXISTS`` an earlier
  ``new`` row of the same key); the claimer then takes the key's later rows too, which
  no other claimer can take while that oldest row is ``new`` (see :func:`claim`).
"""

import json
import threading
import time

from odoo.tools import SQL

TABLE = "crm_lead_event_ingest"
KINDS = [("open", "Email open"), ("click", "Link click"), ("visit", "Visit"), ("call", "Call")]
STATES = [("new", "To process"), ("done", "Processed"), ("failed", "Failed")]

# The processor only reads the rows still to process: both indexes are partial, they
# hold the queue (a few rows when it keeps up), not the history kept until the GC.
# - (id): the claim's "ORDER BY id LIMIT n" walks the queue in arrival order;
# - (key, id): the "earlier unfinished row of the same key" probe of the claim and of
#   the held clicks cron (crm.lead.event._cron_fire_held_events).
# The GC's "state = 'done' AND received_at < x" has no index: it runs once a day over a
# table that holds a few days of traffic.
INDEXES = (
    SQL(
        "CREATE INDEX IF NOT EXISTS crm_lead_event_ingest_new_idx "
        "ON crm_lead_event_ingest (id) WHERE state = 'new'"
    ),
    SQL(
        "CREATE INDEX IF NOT EXISTS crm_lead_event_ingest_new_key_idx "
        "ON crm_lead_event_ingest (key, id) WHERE state = 'new'"
    ),
    # One call (source:external id) is ingested once whatever the number of retries of
    # the telephony system and of workers receiving them: append() uses ON CONFLICT on it.
    SQL(
        "CREATE UNIQUE INDEX IF NOT EXISTS crm_lead_event_ingest_external_ref_uniq "
        "ON crm_lead_event_ingest (external_ref) WHERE external_ref IS NOT NULL"
    ),
)


def lead_key(lead_id):
    """Queue key of the events of one lead (opens, clicks, visits)."""
    return str(int(lead_id))


def caller_key(phone_e164):
    """Queue key of the calls of one number (their leads are found when processed)."""
    return f"tel:{phone_e164}"


def append(cr, kind, key, payload, external_ref=None):
    """Append one row to the queue; return its id, or None when ``external_ref`` is
    already queued (a retried call).

    One INSERT in the request's transaction: no lock other than the new row's own (and,
    for a call, the unique index entry of its external id: a concurrent retry of the same
    call waits for this transaction, then does nothing).

    :param payload: dict, stored as JSON (the token's numbers, client, URL, call)

    ``received_at`` is the clock at the insert (not the transaction's start: a request
    retried after a serialization failure, a test transaction).
    """
    cr.execute(_insert(kind, key, payload, external_ref))
    row = cr.fetchone()
    return row[0] if row else None


def _insert(kind, key, payload, external_ref=None, condition=None):
    """The INSERT of one queue row when ``condition`` (SQL, default none) holds,
    returning its id."""
    return SQL(
        """
        INSERT INTO crm_lead_event_ingest
               (kind, key, payload, external_ref, state, attempts, received_at)
        SELECT %s, %s, %s, %s, 'new', 0, clock_timestamp() AT TIME ZONE 'UTC'
         WHERE %s
        ON CONFLICT (external_ref) WHERE external_ref IS NOT NULL DO NOTHING
        RETURNING id
        """,
        kind,
        key,
        SQL("%s::jsonb", _json(payload)),
        external_ref,
        condition or SQL("TRUE"),
    )


def _json(payload):
    return json.dumps(_without_nul(payload))


def _without_nul(value):
    """``value`` (JSON data from a public request) without NUL characters, which
    PostgreSQL refuses in a jsonb string (and in a key)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def claim(cr, limit, skip_keys=()):
    """Lock and return up to ``limit`` rows to process, (id, kind, key, payload,
    received_at, attempts), grouped by key, each key's rows in arrival order.

    ``skip_keys``: keys left alone (whose row failed earlier in the same run: tried
    again by the next run, not at once).

    First the heads: the oldest ``new`` row of each key, ``FOR UPDATE SKIP LOCKED``, so
    concurrent claimers take distinct keys without waiting for each other. A row whose
    key has an earlier ``new`` row is not a head: while a claimer holds a head (locked,
    still ``new`` until its commit) no other claimer can take any later row of that key,
    whatever its snapshot (it sees the head ``new``, or, once it is ``done``, the
    concurrent update makes the lock attempt fail and the run starts again with a fresh
    snapshot). Then the later ``new`` rows of the claimed keys, locked too (nobody else
    can hold them: see above; ``SKIP LOCKED`` anyway, never wait in a claim).
    """
    cr.execute(
        SQL(
            """
        SELECT e.id FROM crm_lead_event_ingest e
         WHERE e.state = 'new'
           AND e.key <> ALL(%s)
           AND NOT EXISTS (
                SELECT 1 FROM crm_lead_event_ingest p
                 WHERE p.key = e.key AND p.state = 'new' AND p.id < e.id)
         ORDER BY e.id
         LIMIT %s
           FOR UPDATE SKIP LOCKED
            """,
            list(skip_keys),
            limit,
        )
    )
    heads = [row[0] for row in cr.fetchall()]
    if not heads:
        return []
    cr.execute(
        SQL(
            """
        SELECT e.id, e.kind, e.key, e.payload, e.received_at, e.attempts
          FROM crm_lead_event_ingest e
         WHERE e.state = 'new'
           AND e.key IN (SELECT key FROM crm_lead_event_ingest WHERE id = ANY(%s))
         ORDER BY e.key, e.id
         LIMIT %s
           FOR UPDATE SKIP LOCKED
            """,
            heads,
            max(limit, len(heads)) * 4,
        )
    )
    rows = cr.fetchall()
    # A key whose head was cut off by the LIMIT would start at a later row: keep only
    # keys whose first row returned is a claimed head.
    heads, kept, current = set(heads), [], None
    for row in rows:
        if row[2] != current:
            current = row[2]
            valid = row[0] in heads
        if valid:
            kept.append(row)
    return kept


# The lead ``l`` is not opted out: neither its normalised email nor its customer's is on
# the (active) mail blacklist, which is what mail.thread.blacklist's is_blacklisted
# computes for both. One definition for the click route (whether to queue the click
# and set the cookie) and the processor (tracked_leads).
NOT_OPTED_OUT = SQL(
    """NOT EXISTS (
        SELECT 1 FROM mail_blacklist b
         WHERE b.active AND b.email IN (
             l.email_normalized,
             (SELECT p.email_normalized FROM res_partner p WHERE p.id = l.partner_id)))"""
)


def click(cr, link_id, lead_id, payload):
    """Look a click up and queue it, in one statement (the click route redirects at
    once: reads and one INSERT, no lock): (stored URL of the link, whether the lead is
    tracked); (None, False) when the link does not exist. The click is queued (kind
    ``click``, the lead's key, ``payload``) only when the link exists and the lead is
    tracked.

    "Tracked" is crm.lead._cpa_trackable() in SQL: the lead exists and is not opted
    out (NOT_OPTED_OUT).
    """
    # Scalar subqueries on primary keys: half the planning time of the same joins.
    cr.execute(
        SQL(
            """
        WITH target AS (
            SELECT (SELECT url FROM link_tracker WHERE id = %s) AS url,
                   EXISTS (SELECT 1 FROM crm_lead l WHERE l.id = %s AND %s) AS tracked
        ), queued AS (%s)
        SELECT url, tracked FROM target
            """,
            link_id,
            lead_id,
            NOT_OPTED_OUT,
            _insert(
                "click",
                lead_key(lead_id),
                payload,
                condition=SQL("(SELECT url IS NOT NULL AND tracked FROM target)"),
            ),
        )
    )
    # PostgreSQL runs a data-modifying WITH (queued) whether or not the query reads it.
    url, tracked = cr.fetchone()
    return (url, tracked) if url else (None, False)


def split_setwise(rows, kinds):
    """(rows of the keys whose rows are all of ``kinds``, the other rows): claimed rows
    grouped by key stay so, each key's rows in arrival order on one side."""
    by_key = {}
    for row in rows:
        by_key.setdefault(row[2], []).append(row)
    setwise, others = [], []
    for key_rows in by_key.values():
        if all(row[1] in kinds for row in key_rows):
            setwise += key_rows
        else:
            others += key_rows
    return setwise, others


def tracked_leads(cr, lead_ids):
    """The ids of ``lead_ids`` that are tracked: the lead exists and is not opted out
    (crm.lead._cpa_trackable() in SQL: NOT_OPTED_OUT, as in :func:`click`), in one
    query for a batch of the processor."""
    if not lead_ids:
        return set()
    cr.execute(
        SQL(
            """
        SELECT l.id FROM crm_lead l WHERE l.id = ANY(%s) AND %s
            """,
            list(lead_ids),
            NOT_OPTED_OUT,
        )
    )
    return {row[0] for row in cr.fetchall()}


def link_urls(cr, link_ids):
    """{link tracker id: stored URL} of the links of ``link_ids`` that exist."""
    if not link_ids:
        return {}
    cr.execute(SQL("SELECT id, url FROM link_tracker WHERE id = ANY(%s)", list(link_ids)))
    return dict(cr.fetchall())


def mark(cr, ids, state, error=None):
    """Set the state of claimed rows (in the transaction of their events)."""
    if not ids:
        return
    cr.execute(
        SQL(
            "UPDATE crm_lead_event_ingest SET state = %s, error = %s, "
            "processed_at = clock_timestamp() AT TIME ZONE 'UTC' WHERE id = ANY(%s)",
            state,
            error,
            list(ids),
        )
    )


def fail_attempt(cr, row_id, error, max_attempts):
    """Count a failed attempt of a claimed row; ``failed`` after ``max_attempts``.

    :return: True if the row is now ``failed`` (its key's later rows may go on)
    """
    cr.execute(
        SQL(
            """
        UPDATE crm_lead_event_ingest
           SET attempts = attempts + 1,
               error = %s,
               state = CASE WHEN attempts + 1 >= %s THEN 'failed' ELSE 'new' END,
               processed_at = clock_timestamp() AT TIME ZONE 'UTC'
         WHERE id = %s
     RETURNING state
            """,
            (error or "")[:500],
            max_attempts,
            row_id,
        )
    )
    return cr.fetchone()[0] == "failed"


def no_pending_within(table, seconds):
    """SQL condition on the crm_lead_event rows of ``table`` (SQL alias): no request of
    the event's lead still queued that was received up to ``seconds`` after the event
    (probe of the (key, id) partial index)."""
    return SQL(
        "NOT EXISTS (SELECT 1 FROM crm_lead_event_ingest i WHERE i.state = 'new' "
        "AND i.key = %s.lead_id::varchar "
        "AND i.received_at <= %s.date + make_interval(secs => %s))",
        table,
        table,
        seconds,
    )


def count_new(cr):
    cr.execute(SQL("SELECT count(*) FROM crm_lead_event_ingest WHERE state = 'new'"))
    return cr.fetchone()[0]


def gc(cr, days):
    """Delete the processed rows received more than ``days`` days ago (failed rows are
    kept for the administrator). :return: rows deleted"""
    cr.execute(
        SQL(
            "DELETE FROM crm_lead_event_ingest WHERE state = 'done' "
            "AND received_at < now() AT TIME ZONE 'UTC' - make_interval(days => %s)",
            days,
        )
    )
    return cr.rowcount


# Waking the processor: one ir_cron_trigger row (and one NOTIFY) per second and per
# worker process at most, instead of one per request (10,000 requests of a campaign
# would be 10,000 triggers). A request that does not wake it is still processed in time:
# the run woken by the last trigger (created less than WAKE_INTERVAL before) keeps
# polling the queue for LINGER_SECONDS > WAKE_INTERVAL after its last row, and a
# trigger created while the processor runs survives that run (Odoo deletes only the
# triggers older than the run's start) and starts another one.
WAKE_INTERVAL = 1.0
LINGER_SECONDS = 2.0
_last_wake = {}
_wake_lock = threading.Lock()


# Bursts: a campaign's pixels fetched on delivery (Apple Mail prefetches every image), a
# link scanner following every link: thousands of requests within minutes on the HTTP
# workers that also serve the salespeople. While the routes receive BURST_RATE requests
# per second or more, the processor leaves the machine to them: it processes only the
# rows that have waited ``ingest_burst_delay_seconds`` (oldest first), and the rest once
# the burst is over. A lone request (an open, a click of a person) is processed at once.
# During a burst the processor's batches hold at most BURST_RATE keys: a batch keeps its
# leads' rows locked until its commit, and the salespeople write the same leads.
BURST_RATE = 50


def burst_state(cr, delay):
    """(in a burst, seconds the processor should wait before it claims rows).

    In a burst: the BURST_RATE latest requests were received within the last second.
    The processor waits while the oldest row to process has waited less than ``delay``
    seconds; never outside a burst, nor with ``delay`` 0 (then nothing is read).

    Two index probes: the latest rows (primary key, backwards) and the oldest row to
    process (partial index of the queue).
    """
    if delay <= 0:
        return False, 0.0
    cr.execute(
        SQL(
            """
        SELECT (SELECT count(*) FROM (
                    SELECT received_at FROM crm_lead_event_ingest ORDER BY id DESC LIMIT %s
                ) latest
                 WHERE received_at > clock_timestamp() AT TIME ZONE 'UTC' - interval '1 second'),
               EXTRACT(EPOCH FROM clock_timestamp() AT TIME ZONE 'UTC' - (
                    SELECT received_at FROM crm_lead_event_ingest
                     WHERE state = 'new' ORDER BY id LIMIT 1))
            """,
            BURST_RATE,
        )
    )
    recent, waited = cr.fetchone()
    if recent < BURST_RATE or waited is None:
        return False, 0.0
    return True, max(0.0, delay - float(waited))


def should_wake(dbname, now=None):
    """Whether this process should create a trigger now (at most once per
    WAKE_INTERVAL per database); records the wake."""
    now = time.monotonic() if now is None else now
    with _wake_lock:
        last = _last_wake.get(dbname)
        if last is not None and now - last < WAKE_INTERVAL:
            return False
        _last_wake[dbname] = now
        return True
