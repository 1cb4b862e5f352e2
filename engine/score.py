# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Engagement score of a lead: points added by the ``tags`` action, floored at 0."""

from odoo.tools import SQL

FLOOR = 0


def add_points(env, lead_ids, points):
    """Add ``points`` (negative: remove) to the engagement score of the leads
    ``lead_ids``, never going below ``FLOOR``.

    One relative UPDATE on the locked rows, whatever the number of leads (set-wise
    dispatch): concurrent tracking events of a lead add up with it, and the old score
    returned is the one the new score was computed from.

    :return: {lead id: (points really added, new score)}
    """
    if not lead_ids:
        return {}
    # Row locks taken in id order: two workers adding points to overlapping sets of
    # leads wait for each other instead of deadlocking; held until the transaction ends.
    rows = env.execute_query(
        SQL(
            """
        WITH old AS (
            SELECT id, COALESCE(engagement_score, 0) AS score
              FROM crm_lead WHERE id = ANY(%s) ORDER BY id FOR UPDATE
        )
        UPDATE crm_lead l SET engagement_score = GREATEST(old.score + %s, %s)
          FROM old WHERE l.id = old.id
        RETURNING l.id, old.score, l.engagement_score
            """,
            list(lead_ids),
            points,
            FLOOR,
        )
    )
    env["crm.lead"].browse(lead_ids).invalidate_recordset(["engagement_score"])
    return {lead_id: (after - before, after) for lead_id, before, after in rows}


def add_event_points(env, points_by_lead):
    """Add the points of engagement events to the leads' scores (no floor: as the row by
    row ``crm.lead.event._add_score``), {lead id: points}, in one relative UPDATE:
    concurrent events of a lead add up, none is lost.

    Row locks taken in id order (the CTE), held until the transaction ends: two
    processors or dispatchers on overlapping leads wait for each other instead of
    deadlocking.
    """
    points_by_lead = {lead_id: points for lead_id, points in points_by_lead.items() if points}
    if not points_by_lead:
        return
    lead_ids = sorted(points_by_lead)
    env.execute_query(
        SQL(
            """
        WITH locked AS (
            SELECT id FROM crm_lead WHERE id = ANY(%s) ORDER BY id FOR UPDATE
        )
        UPDATE crm_lead l
           SET engagement_score = COALESCE(l.engagement_score, 0) + v.points
          FROM locked, unnest(%s::int[], %s::int[]) AS v(id, points)
         WHERE l.id = locked.id AND v.id = l.id
            """,
            lead_ids,
            lead_ids,
            [points_by_lead[lead_id] for lead_id in lead_ids],
        )
    )
    env["crm.lead"].browse(lead_ids).invalidate_recordset(["engagement_score"])
