# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The set-wise plan of a batch of queued opens, clicks and visits (no ORM here).

The processor (crm.lead.event.ingest) turns a claimed batch of rows into engagement
events. Row by row, each row reads its lead, the blacklist, its partner and template,
its click's recent events, and inserts its event: a dozen queries per row. Set-wise, the
model reads all of that once for the batch (a few queries, see
crm.lead.event._record_ingested) and :func:`plan` decides here, in arrival order per
lead and in memory, what the rows one by one would have recorded: the same verdicts at
received time, dedup keys, held clicks and burst re-marks. The events are then inserted
in one statement, scored and fired by the model.

What the plan cannot reproduce exactly raises :class:`NotSetwise`: the batch is then
processed one row at a time (the fallback of a failing batch).
"""

from datetime import timedelta

from . import events as lead_events
from . import urls
from . import verdict as verdicts

# Kinds of rows the set-wise path records (calls find or create their leads: row by row).
SETWISE_KINDS = ("open", "click", "visit")


class NotSetwise(Exception):
    """The batch needs the row by row path to keep its exact semantics."""


def received(row):
    """Received time of a queued row as its event's date (whole seconds, as
    fields.Datetime.now())."""
    return row[4].replace(microsecond=0)


def lead_of(row):
    """Lead id of a queued open, click or visit (its payload: the token's numbers)."""
    kind, payload = row[1], row[3]
    return int(payload["lead"] if kind == "visit" else payload["n"][0])


def token_ids(rows):
    """({partner ids}, {mail template ids}, {link ids}) named by the rows' tokens."""
    partners, templates, links = set(), set(), set()
    for row in rows:
        if row[1] in ("open", "click"):
            numbers = row[3]["n"]
            partners.add(numbers[2])
            templates.add(numbers[3])
            if row[1] == "click":
                links.add(numbers[6])
    return partners - {0}, templates - {0}, links - {0}


def client_values(payload):
    """Stored client of a row (crm.lead.event._cpa_client_values)."""
    return lead_events.client_values(payload.get("ua"), payload.get("ip"))


def _open_key(numbers, verdict):
    lead_id, message_id, partner_id = numbers[0], numbers[1], numbers[2]
    return lead_events.lead_key(lead_events.open_key(message_id, partner_id, verdict), lead_id)


def _click_key(numbers, verdict):
    lead_id, message_id, partner_id, link_id = numbers[0], numbers[1], numbers[2], numbers[6]
    return lead_events.lead_key(
        lead_events.click_key(message_id, partner_id, link_id, verdict), lead_id
    )


def _visit_key(payload, date):
    return lead_events.lead_key(lead_events.visit_key(payload["u"], date), int(payload["lead"]))


def candidate_keys(rows):
    """The dedup keys the rows' events may have (a click's verdict depends on the
    batch's earlier clicks: both keys), to read which are already recorded."""
    keys = set()
    for row in rows:
        kind, payload = row[1], row[3]
        if kind == "visit":
            if isinstance(payload["u"], str):
                keys.add(_visit_key(payload, received(row)))
        elif kind == "open":
            keys.update(
                _open_key(payload["n"], v)
                for v in (verdicts.HUMAN, verdicts.MACHINE, verdicts.UNKNOWN)
            )
        else:
            keys.update(_click_key(payload["n"], v) for v in (verdicts.HUMAN, verdicts.MACHINE))
    return keys


def plan(rows, *, tracked, partners, templates, links, thresholds, existing, recent):
    """Decide the events of ``rows`` as the row by row processor would.

    :param rows: claimed rows (id, kind, key, payload, received_at, attempts) of kinds
        SETWISE_KINDS, grouped by key, each key's rows in arrival order
    :param tracked: ids of the leads that exist and are not opted out
    :param partners: ids of the token's partners that exist
    :param templates: ids of the token's mail templates that exist
    :param links: {link tracker id: URL} of the links that exist
    :param thresholds: verdict thresholds (crm.lead.event._thresholds)
    :param existing: dedup keys already recorded (among candidate_keys)
    :param recent: recorded clicks of the rows' leads and messages that may be in a
        burst window: dicts with id, lead_id, message_ref, partner_id, link_tracker_id,
        date, verdict
    :return: (events, remarks): ``events``, [(values, held)] in arrival order per lead
        (values as crm.lead.event._create_dedup takes them, dedup key included);
        ``remarks``, {recorded event id: reason} of the earlier clicks a burst turned
        machine
    :raise NotSetwise: a burst turns machine a click of the batch already decided
    """
    events, remarks = [], {}
    seen = set(existing)
    # (lead, message, partner stored) -> clicks, recorded or planned, as dicts with
    # link, date, verdict and for those of this batch their values ("vals").
    clicks = {}
    for event in recent:
        clicks.setdefault(
            (event["lead_id"], event["message_ref"], event["partner_id"] or False), []
        ).append(
            {
                "id": event["id"],
                "link": event["link_tracker_id"],
                "date": event["date"],
                "verdict": event["verdict"],
            }
        )
    window = thresholds["verdict_burst_window_seconds"]
    for row in rows:
        kind, payload = row[1], row[3]
        date = received(row)
        client = (payload.get("ua") or "", payload.get("ip") or "")
        if kind == "visit":
            values = _visit(payload, date, client, tracked)
            hold = False
        elif kind == "open":
            values = _open(payload["n"], date, client, tracked, partners, templates, thresholds)
            hold = False
        elif kind == "click":
            values, hold = _click(
                payload["n"],
                date,
                client,
                tracked,
                partners,
                templates,
                links,
                thresholds,
                clicks,
                window,
                remarks,
            )
        else:
            raise ValueError(f"unknown kind {kind}")
        if values is None or values["dedup_key"] in seen:
            continue  # nothing to record, or the fact is recorded: dropped
        seen.add(values["dedup_key"])
        values["state"] = "held" if hold else "new"
        events.append((values, hold))
        if kind == "click":
            numbers = payload["n"]
            clicks.setdefault((numbers[0], numbers[1], values["partner_id"]), []).append(
                {"link": numbers[6], "date": date, "verdict": values["verdict"], "vals": values}
            )
    return events, remarks


def _visit(payload, date, client, tracked):
    """crm.lead.event._record_url_visited of a beacon."""
    url = payload["u"]
    lead_id = int(payload["lead"])
    if not urls.is_http_url(url) or lead_id not in tracked:
        return None
    if verdicts.ua_family(client[0]).startswith("robot"):
        return None
    return {
        "lead_id": lead_id,
        "event_type": "url_visited",
        "source": "beacon",
        "dedup_key": _visit_key(payload, date),
        "date": date,
        "verdict": verdicts.HUMAN,
        "url": url[:2000],
        **client_values(payload),
    }


def _open(numbers, date, client, tracked, partners, templates, thresholds):
    """crm.lead.event._record_email_open of a pixel."""
    lead_id, message_id, partner_id, template_id, sent_at = numbers
    if lead_id not in tracked:
        return None
    verdict, reason = verdicts.open_verdict(
        *client, lead_events.timestamp(date) - sent_at, thresholds
    )
    return {
        "lead_id": lead_id,
        "event_type": "email_open",
        "source": "email",
        "dedup_key": _open_key(numbers, verdict),
        "date": date,
        "verdict": verdict,
        "verdict_reason": reason,
        "message_ref": message_id,
        "partner_id": partner_id if partner_id in partners else False,
        "mail_template_id": template_id if template_id in templates else False,
        **client_values({"ua": client[0], "ip": client[1]}),
    }


def _click(
    numbers,
    date,
    client,
    tracked,
    partners,
    templates,
    links,
    thresholds,
    clicks,
    window,
    remarks,
):
    """crm.lead.event._record_link_click of a click: (values or None, held)."""
    lead_id, message_id, partner_id, template_id, sent_at, link_count, link_id = numbers
    if link_id not in links or lead_id not in tracked:
        return None, False
    since = date - timedelta(seconds=window)
    recent = [
        click
        for click in clicks.get((lead_id, message_id, partner_id or False), ())
        if click["date"] >= since
    ]
    recent_links = len({click["link"] for click in recent if click["link"]} | {link_id})
    verdict, reason = verdicts.click_verdict(
        *client, lead_events.timestamp(date) - sent_at, recent_links, link_count, thresholds
    )
    if verdict == verdicts.MACHINE and reason.startswith("burst"):
        # The earlier clicks of the burst were the same scanner.
        for click in recent:
            if click["verdict"] == verdicts.MACHINE:
                continue
            click["verdict"] = verdicts.MACHINE
            if "vals" not in click:
                remarks[click["id"]] = reason
            elif click["vals"]["state"] != "held":
                # Row by row it was scored and fired before this click came: the plan
                # would fire it as machine.
                raise NotSetwise("burst over a click decided in the same batch")
            else:
                click["vals"].update(verdict=verdicts.MACHINE, verdict_reason=reason)
    hold = verdict != verdicts.MACHINE and verdicts.burst_possible(link_count, thresholds)
    return {
        "lead_id": lead_id,
        "event_type": "link_click",
        "source": "email",
        "dedup_key": _click_key(numbers, verdict),
        "date": date,
        "verdict": verdict,
        "verdict_reason": reason,
        "url": links[link_id],
        "link_tracker_id": link_id,
        "message_ref": message_id,
        "partner_id": partner_id if partner_id in partners else False,
        "mail_template_id": template_id if template_id in templates else False,
        **client_values({"ua": client[0], "ip": client[1]}),
    }, hold


def rounds(items, lead_of_item):
    """``items`` (in arrival order per lead) as rounds: the first item of each lead,
    then the second of each lead, etc. A round holds at most one item per lead: it may be
    scored and fired set-wise while each lead still sees its items in order."""
    positions, result = {}, []
    for item in items:
        lead_id = lead_of_item(item)
        index = positions.get(lead_id, 0)
        positions[lead_id] = index + 1
        if index == len(result):
            result.append([])
        result[index].append(item)
    return result
