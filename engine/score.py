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
