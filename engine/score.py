# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Engagement score of a lead: points added by the ``tags`` action, floored at 0."""

from odoo.tools import SQL

FLOOR = 0


def add_points(env, lead_id, points):
    """Add ``points`` (negative: remove) to the engagement score of lead ``lead_id``,
    never going below ``FLOOR``.

    One relative UPDATE on the locked row: concurrent tracking events of the lead add up
    with it, and the old score returned is the one the new score was computed from.

    :return: (points really added, new score)
    """
    ((before, after),) = env.execute_query(
        SQL(
            """
        WITH old AS (
            SELECT id, COALESCE(engagement_score, 0) AS score
              FROM crm_lead WHERE id = %s FOR UPDATE
        )
        UPDATE crm_lead l SET engagement_score = GREATEST(old.score + %s, %s)
          FROM old WHERE l.id = old.id
        RETURNING old.score, l.engagement_score
            """,
            lead_id,
            points,
            FLOOR,
        )
    )
    env["crm.lead"].browse(lead_id).invalidate_recordset(["engagement_score"])
    return after - before, after
