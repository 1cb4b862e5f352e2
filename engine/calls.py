# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Calls of the signed webhook: payload checks, times, and the claim of an unknown
caller's number (the serialization point of concurrent webhook calls from it)."""

from datetime import datetime, timedelta, timezone

import phonenumbers

from odoo.tools import SQL

CALL_KINDS = ("incoming", "outgoing", "missed")


def parse_call(data):
    """Check a call payload.

    :param data: {"id": external id, "type": incoming|outgoing|missed, "from": number,
        "to": number, "time": unix seconds or ISO 8601 (optional), "duration": seconds}
    :return: (external id, kind, customer number, our line number, duration)
    :raise ValueError: invalid payload, naming the faulty key (HTTP 400)
    """
    if not isinstance(data, dict):
        raise ValueError("object expected")
    external_id, kind = data.get("id"), data.get("type")
    if (
        not isinstance(external_id, str | int)
        or not str(external_id).strip()
        or len(str(external_id)) > 128
    ):
        raise ValueError("id")
    if kind not in CALL_KINDS:
        raise ValueError("type")
    numbers = {}
    for key in ("from", "to"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            raise ValueError(key)
        numbers[key] = value
    customer, line = (
        (numbers["to"], numbers["from"]) if kind == "outgoing" else (numbers["from"], numbers["to"])
    )
    duration = data.get("duration") or 0
    if not isinstance(duration, int) or not 0 <= duration < 10**6:
        raise ValueError("duration")
    return external_id, kind, customer, line, duration


def parse_time(value, now):
    """Datetime (naive UTC) of a webhook time: unix seconds or ISO 8601; ``now`` (naive
    UTC) if absent; ValueError("time") if invalid, more than a day ahead or before 2000."""
    if value is None:
        return now
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            date = datetime.fromtimestamp(value, tz=timezone.utc)
        elif isinstance(value, str) and len(value) <= 40:
            date = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if date.tzinfo is None:
                date = date.replace(tzinfo=timezone.utc)
        else:
            raise ValueError("time")
    except (ValueError, OverflowError, OSError) as error:
        raise ValueError("time") from error
    date = date.astimezone(timezone.utc).replace(tzinfo=None)
    if date > now + timedelta(days=1) or date.year < 2000:
        raise ValueError("time")
    return date


# One row per unknown caller number for which a lead is being created. Not a model:
# nobody reads it, the autovacuum empties it.
CLAIM_TABLE = SQL(
    "CREATE TABLE IF NOT EXISTS crm_lead_event_caller_claim "
    "(phone varchar PRIMARY KEY, claimed_at timestamp NOT NULL)"
)


def claim_caller(cr, phone):
    """Serialize the creation of a lead for the unknown caller ``phone``.

    Two webhook requests for calls from the same unknown number, in two workers, would
    both find no lead and create one each. Both upsert the number's claim row: the
    second waits for the first transaction, then (repeatable read: the row changed after
    its snapshot) fails with a serialization error; Odoo retries that request with a
    fresh snapshot, which finds the lead just created.
    """
    cr.execute(
        SQL(
            "INSERT INTO crm_lead_event_caller_claim (phone, claimed_at) "
            "VALUES (%s, now() AT TIME ZONE 'UTC') "
            "ON CONFLICT (phone) DO UPDATE SET claimed_at = EXCLUDED.claimed_at",
            phone,
        )
    )


def gc_caller_claims(cr):
    """Claims of unknown callers only matter while their transaction runs."""
    cr.execute(
        SQL(
            "DELETE FROM crm_lead_event_caller_claim "
            "WHERE claimed_at < now() AT TIME ZONE 'UTC' - interval '1 day'"
        )
    )


def phone_e164(number, region):
    """``number`` in E.164 (``region``: default country code, e.g. "BE"), or None if it
    is not a possible phone number."""
    if not number or len(number) > 64:
        return None
    try:
        parsed = phonenumbers.parse(number, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
