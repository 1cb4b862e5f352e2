# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Rotting deals: leads nobody touched for longer than the idle limit of their stage.

"Last touched" is computed from columns the lead already has: Odoo's
``date_last_stage_update`` (every stage change, automatic ones too) and the addon's
``automation_touch_date`` (activity done, message or note of an internal user). No
write of the automation resets it, no column is added, and the cards read it in the
query that reads them.
"""

from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# SQL of "last touched" of crm_lead row ``l``.
# (Odoo sets date_last_stage_update on create; imports may give it in the past.)
IDLE_SINCE = SQL(
    "COALESCE(GREATEST(l.automation_touch_date, l.date_last_stage_update), l.create_date)"
)
OPERATORS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "=": "=", "!=": "<>"}


def idle_days(since, limit, now):
    """Whole days a lead last touched at ``since`` is rotting with a stage ``limit``
    in days (0: not rotting)."""
    if not since or not limit or now - since <= timedelta(days=limit):
        return 0
    return (now - since).days


class CrmLeadRotting(models.AbstractModel):
    _name = "crm.lead.rotting"
    _description = "CRM Rotting Leads"

    @api.model
    def _compute_idle(self, leads):
        now = fields.Datetime.now()
        for lead in leads:
            since = max(
                filter(None, [lead.automation_touch_date, lead.date_last_stage_update]),
                default=lead.create_date or False,
            )
            lead.automation_idle_since = since
            stage = lead.stage_id
            active = lead.active and not stage.is_won
            limit = stage.automation_idle_days if active else 0
            lead.automation_idle_days = idle_days(since, limit, now)

    @api.model
    def _rotting_sql(self, now):
        """SQL condition: crm_lead ``l`` in stage ``s`` is rotting at ``now``."""
        return SQL(
            "l.active AND s.automation_idle_days > 0 AND NOT COALESCE(s.is_won, FALSE) "
            "AND %s < %s - s.automation_idle_days * INTERVAL '1 day'",
            IDLE_SINCE,
            now,
        )

    @api.model
    def _days_sql(self, now):
        """SQL of the rotting days of crm_lead ``l`` in stage ``s`` (0: not rotting)."""
        return SQL(
            "CASE WHEN %s THEN FLOOR(EXTRACT(EPOCH FROM %s - %s) / 86400)::int ELSE 0 END",
            self._rotting_sql(now),
            now,
            IDLE_SINCE,
        )

    @api.model
    def _search_idle_days(self, operator, value):
        """Domain of ``automation_idle_days <operator> value``."""
        if operator not in OPERATORS or not isinstance(value, int) or isinstance(value, bool):
            raise NotImplementedError(f"Unsupported search on rotting days: {operator} {value}")
        now = fields.Datetime.now()
        query = SQL(
            "SELECT l.id FROM crm_lead l LEFT JOIN crm_stage s ON s.id = l.stage_id "
            "WHERE %s " + OPERATORS[operator] + " %s",
            self._days_sql(now),
            value,
        )
        return [("id", "in", [row[0] for row in self.env.execute_query(query)])]

    # ------------------------------------------------------------------
    # "Lead idle" events (cron)
    # ------------------------------------------------------------------

    @api.model
    def _cron_record_idle(self, limit=1000):
        """Record a ``lead_idle`` event for each lead that passed, since it was last
        touched, the idle limit of its stage or the days of an active "Lead idle"
        trigger; the event fires the triggers (which may move the lead) and the
        activity templates created on that event. Once per threshold and idle period:
        the next touch starts a new period.

        :return: number of events recorded
        """
        now = fields.Datetime.now()
        triggers = self.env["crm.stage.trigger"].search(
            [("event_type", "=", "lead_idle"), ("state", "=", "active")]
        )
        days = sorted({days for days in triggers.mapped("idle_days") if days > 0})
        rows = self.env.execute_query(
            SQL(
                """
            WITH leads AS (
                SELECT l.id, %(since)s AS since, s.automation_idle_days AS stage_days
                  FROM crm_lead l JOIN crm_stage s ON s.id = l.stage_id
                 WHERE l.active AND NOT COALESCE(s.is_won, FALSE)
            ), thresholds AS (
                SELECT id, since, stage_days AS days FROM leads WHERE stage_days > 0
                 UNION
                SELECT id, since, t.days FROM leads CROSS JOIN unnest(%(days)s::int[]) t(days)
            )
            SELECT th.id, th.since, th.days FROM thresholds th
             WHERE th.since < %(now)s - th.days * INTERVAL '1 day'
               AND NOT EXISTS (
                   SELECT 1 FROM crm_lead_event e
                    WHERE e.lead_id = th.id AND e.event_type = 'lead_idle'
                      AND e.seconds = th.days * 86400 AND e.date >= th.since)
             ORDER BY th.since, th.id LIMIT %(limit)s
                """,
                since=IDLE_SINCE,
                days=days,
                now=now,
                limit=limit,
            )
        )
        Event = self.env["crm.lead.event"]
        Lead = self.env["crm.lead"]
        count = 0
        for lead_id, since, threshold in rows:
            count += len(
                Event._record(
                    Lead.browse(lead_id),
                    "lead_idle",
                    "cron",
                    dedup_key=f"idle:{threshold}:{int(since.timestamp())}",
                    seconds=threshold * 86400,
                    text=f"{(now - since).days}",
                )
            )
        return count
