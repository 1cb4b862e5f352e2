# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Engagement events (crm.lead.event): their types, sources and states, and the
insert that records one fact once whatever the number of workers receiving it."""

from odoo.tools import SQL

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
    ("meeting_scheduled", "Meeting scheduled"),
]
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
    ("manual", "Manual"),
]
STATES = [
    ("new", "Recorded"),
    ("held", "Waiting for the burst window"),
    ("fired", "Moved the lead"),
    ("no_trigger", "No matching trigger"),
    ("blocked", "Blocked"),
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
