# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Engagement events (crm.lead.event): their types, sources and states, and the
insert that records one fact once whatever the number of workers receiving it."""

import bisect
import hashlib
import re
from datetime import timezone

from odoo.tools import SQL

from . import verdict

EVENT_TYPES = [
    ("email_open", "Email opened"),
    ("link_click", "Link clicked"),
    ("email_received", "Email received"),
    ("email_sent", "Email sent by a salesperson"),
    ("form_submitted", "Website form submitted"),
    ("url_visited", "URL visited"),
    ("call_incoming", "Incoming call"),
    ("call_outgoing", "Outgoing call"),
    ("call_missed", "Missed call"),
    ("chat_started", "Live chat started"),
    ("chat_accepted", "Live chat answered by an operator"),
    ("chat_response_late", "Live chat answer late"),
    ("chat_keyword", "Keyword in live chat"),
    ("field_changed", "Field value changed"),
    ("activity_done", "Activity done"),
    ("activity_late", "Activity late"),
    ("meeting_scheduled", "Meeting scheduled"),
    ("document", "Document reached a state"),
    ("lead_idle", "Lead idle (rotting)"),
]
# Events about the work on the lead (not the customer's engagement): no score, no
# opt-out (they track nobody), recorded by crm.lead.event._record_lead_work.
WORK_EVENT_TYPES = ("field_changed", "activity_done", "activity_late")
# Texts (chat messages, email bodies) are kept as an excerpt of this many characters.
TEXT_EXCERPT = 200
SOURCES = [
    ("email", "Email tracking"),
    ("mail_gateway", "Mail gateway"),
    ("chatter", "Chatter"),
    ("website", "Website"),
    ("beacon", "Website snippet"),
    ("form", "Website form"),
    ("webhook", "Call webhook"),
    ("livechat", "Live chat"),
    ("calendar", "Calendar"),
    ("cron", "Scheduled check"),
    ("field", "Field change"),
    ("activity", "Activity"),
    ("manual", "Manual"),
    ("document", "Document (automation rule)"),
]
STATES = [
    ("new", "Recorded"),
    ("held", "Waiting for the burst window"),
    ("fired", "Moved the lead"),
    ("no_trigger", "No matching trigger"),
    ("blocked", "Blocked"),
    ("notified", "Notified the salesperson"),
    ("ignored", "Ignored (machine)"),
]

# One fact, one row, whatever the number of workers receiving it at the same time: the
# insert below uses ON CONFLICT on this index, so it is unique.
DEDUP_INDEX = SQL(
    "CREATE UNIQUE INDEX IF NOT EXISTS crm_lead_event_dedup_key_uniq "
    "ON crm_lead_event (dedup_key) WHERE dedup_key IS NOT NULL"
)
# Burst detection and engagement lookups read a lead's recent events.
RECENT_INDEX = SQL(
    "CREATE INDEX IF NOT EXISTS crm_lead_event_lead_type_date_idx "
    "ON crm_lead_event (lead_id, event_type, date)"
)


def timestamp(date):
    """Unix time of a naive UTC datetime."""
    return date.replace(tzinfo=timezone.utc).timestamp()


# Dedup keys of the tracking facts, without the lead (crm.lead.event._record appends
# it: lead_key). One definition for the row by row and the set-wise processor: a fact
# recorded by either is the same key, so it is recorded once.
def open_key(message_id, partner_id, verdict_key):
    return f"open{message_id}.{partner_id}.{verdict_key}"


def click_key(message_id, partner_id, link_id, verdict_key):
    return f"click{message_id}.{partner_id}.{link_id}.{verdict_key}"


def visit_key(url, date):
    """One visit per URL and hour (of ``date``, naive UTC)."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"visit{digest}.{int(timestamp(date) // 3600)}"


def lead_key(key, lead_id):
    """The stored dedup key of fact ``key`` for one lead."""
    return f"{key}:{lead_id}"


def client_values(user_agent, ip):
    """Stored client of a request: user agent family and truncated address."""
    return {
        "ua_family": verdict.ua_family(user_agent or ""),
        "ip_network": verdict.truncate_ip(ip or ""),
    }


def insert_unless_duplicate(cr, row):
    """Insert the crm_lead_event ``row`` ({column: value}, a ``dedup_key`` set) unless
    its dedup key is already recorded; return the new id, or None for a duplicate.

    One INSERT ... ON CONFLICT on the unique index (hot path of the tracking routes): the
    database decides which of two concurrent requests records the fact, without an
    error and without a lost event.
    """
    cr.execute(
        SQL(
            """
        INSERT INTO crm_lead_event (%s) VALUES (%s)
        ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
        RETURNING id
            """,
            SQL(", ").join(SQL.identifier(name) for name in row),
            SQL(", ").join(
                SQL("%s", value if value is not False else None) for value in row.values()
            ),
        )
    )
    found = cr.fetchone()
    return found[0] if found else None


def insert_many_unless_duplicate(cr, rows):
    """Insert the crm_lead_event ``rows`` ({column: value}, ``dedup_key`` set and
    distinct; a column missing from a row is NULL) in one statement, skipping those
    whose dedup key is already recorded (by an earlier or a concurrent transaction: as
    :func:`insert_unless_duplicate`, the unique index decides, without an error).

    :return: {dedup key: new id} of the rows inserted
    """
    if not rows:
        return {}
    columns = list(dict.fromkeys(name for row in rows for name in row))
    cr.execute(
        SQL(
            """
        INSERT INTO crm_lead_event (%s) VALUES %s
        ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
        RETURNING dedup_key, id
            """,
            SQL(", ").join(SQL.identifier(name) for name in columns),
            SQL(", ").join(
                SQL(
                    "(%s)",
                    SQL(", ").join(
                        SQL("%s", row.get(name) if row.get(name) is not False else None)
                        for name in columns
                    ),
                )
                for row in rows
            ),
        )
    )
    return dict(cr.fetchall())


def existing_keys(cr, keys):
    """The dedup keys of ``keys`` already recorded (one probe of the unique index)."""
    if not keys:
        return set()
    cr.execute(
        SQL(
            "SELECT dedup_key FROM crm_lead_event WHERE dedup_key = ANY(%s)",
            list(keys),
        )
    )
    return {row[0] for row in cr.fetchall()}


def recent_clicks(cr, lead_ids, message_refs, since):
    """The recorded clicks of ``lead_ids`` on the messages ``message_refs`` dated
    ``since`` or later (burst detection of a batch of clicks; RECENT_INDEX), as dicts of
    id, lead_id, message_ref, partner_id, link_tracker_id, date, verdict."""
    if not lead_ids or not message_refs:
        return []
    cr.execute(
        SQL(
            """
        SELECT id, lead_id, message_ref, partner_id, link_tracker_id, date, verdict
          FROM crm_lead_event
         WHERE lead_id = ANY(%s) AND event_type = 'link_click'
           AND message_ref = ANY(%s) AND date >= %s
         ORDER BY id
            """,
            list(lead_ids),
            list(message_refs),
            since,
        )
    )
    names = ("id", "lead_id", "message_ref", "partner_id", "link_tracker_id", "date", "verdict")
    return [dict(zip(names, row, strict=True)) for row in cr.fetchall()]


def keyword_pattern(keyword):
    """Regex of ``keyword`` as whole words in a text padded with spaces and normalised
    by ``verdict.normalize_text`` (case, accents and spacing do not count)."""
    return rf"(?<!\w){re.escape(verdict.normalize_text(keyword))}(?!\w)"


def keyword_excerpt(text, keyword_groups, size=TEXT_EXCERPT):
    """Excerpt of ``text`` (at most ``size`` characters) keeping, for each group of
    ``keyword_pattern`` regexes, its first match in the text.

    A chat_keyword event stores an excerpt of the message and its triggers match that
    excerpt: the words that fired them must be in it wherever they are in the message
    (and the lead's events show them). The beginning of the text when it holds them all,
    else the words around each match, joined with "…". Matches that do not fit in
    ``size`` together are left out (only with keywords of hundreds of characters).

    :param text: plain text of the message
    :param keyword_groups: list of lists of regexes (one list per trigger)
    :return: str
    """
    text = text or ""
    if len(text) <= size:
        return text
    # Words of the text, with their normalised form: "normalised" is normalize_text(text)
    # and its word i starts at offsets[i].
    words = []
    for match in re.finditer(r"\S+", text):
        word = verdict.normalize_text(match.group())
        if word:
            words.append((match.start(), match.end(), word))
    normalized, offsets = "", []
    for _start, _end, word in words:
        offsets.append(len(normalized) + 1)  # + 1: the padding space below
        normalized = f"{normalized} {word}" if normalized else word
    padded = f" {normalized} "
    hits = []
    for patterns in keyword_groups:
        found = [m for m in (re.search(p, padded) for p in patterns) if m and m.end() > m.start()]
        if found:
            first = min(found, key=lambda m: m.start())
            hits.append(
                (
                    bisect.bisect_right(offsets, first.start()) - 1,
                    bisect.bisect_right(offsets, first.end() - 1) - 1,
                )
            )
    if all(words[last][1] <= size for _first, last in hits):
        return text[:size]

    def render(pieces):
        merged = []
        for first, last in sorted(pieces):
            if merged and first <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
            else:
                merged.append((first, last))
        out = " … ".join(text[words[a][0] : words[b][1]] for a, b in merged)
        if merged[0][0] > 0:
            out = f"… {out}"
        if merged[-1][1] < len(words) - 1:
            out = f"{out} …"
        return merged, out

    pieces = []
    for hit in sorted(hits):
        if len(render([*pieces, hit])[1]) <= size:
            pieces.append(hit)
    if not pieces:
        return text[:size]
    # Context: one more word on each side of each piece while it fits.
    grown = True
    while grown:
        grown = False
        for i in range(len(pieces)):
            for left, right in ((-1, 0), (0, 1)):
                first, last = pieces[i][0] + left, pieces[i][1] + right
                if first >= 0 and last < len(words):
                    trial = [*pieces[:i], (first, last), *pieces[i + 1 :]]
                    if len(render(trial)[1]) <= size:
                        pieces, grown = trial, True
        pieces = render(pieces)[0]
    return render(pieces)[1]
