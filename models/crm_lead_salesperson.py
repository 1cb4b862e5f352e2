# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from collections import defaultdict
from datetime import timedelta

from odoo import fields, models
from odoo.tools import SQL

from ..engine import params
from ..engine import verdict as verdicts

# Event types of the card's "last engagement" signals, with their lead field.
LAST_FIELDS = {
    "email_open": "engagement_last_open",
    "link_click": "engagement_last_click",
    "url_visited": "engagement_last_visit",
}
# Window of the recent engagement score when the system parameter is not set.


class CrmLead(models.Model):
    _inherit = "crm.lead"

    # Salesperson view: computed for the whole batch of cards in a few grouped queries
    # (never stored: events arrive on public routes by the thousand, a stored value
    # would cost a lead write per event).
    engagement_last_open = fields.Datetime(
        "Last opened",
        compute="_compute_engagement_recent",
        help="Last time the customer opened one of our emails (machine opens excluded).",
    )
    engagement_last_click = fields.Datetime(
        "Last clicked",
        compute="_compute_engagement_recent",
        help="Last time the customer clicked a link of our emails (link scanners excluded).",
    )
    engagement_last_visit = fields.Datetime(
        "Last visited",
        compute="_compute_engagement_recent",
        help="Last tracked page view of the customer on the website.",
    )
    engagement_recent_score = fields.Integer(
        "Recent engagement",
        compute="_compute_engagement_recent",
        help="Points of the lead's non-machine events of the last days (system parameter "
        "crm_pipeline_automation.engagement_recent_days, default 30), with the points per "
        "event type of the engagement score.",
    )
    automation_next_run_at = fields.Datetime(
        "Next automation",
        compute="_compute_automation_next",
        help="When the earliest pending automation job of the lead is due.",
    )
    automation_next_rule_id = fields.Many2one(
        "crm.automation.rule",
        "Next automation rule",
        compute="_compute_automation_next",
        help="Rule of the earliest pending automation job of the lead.",
    )
    automation_pending_job_ids = fields.One2many(
        "crm.automation.job",
        "lead_id",
        "Pending automation",
        domain=[("state", "=", "pending")],
        readonly=True,
    )

    def _compute_engagement_recent(self):
        ids = [lead_id for lead_id in self._origin.ids if lead_id]
        last, recent = {}, defaultdict(int)
        if ids:
            Event = self.env["crm.lead.event"]
            human = [("lead_id", "in", ids), ("verdict", "!=", verdicts.MACHINE)]
            # The index (lead_id, event_type, date) answers both grouped queries; the
            # record rules of events follow the lead, so what is shown is readable.
            for lead, event_type, date in Event._read_group(
                [*human, ("event_type", "in", list(LAST_FIELDS))],
                ["lead_id", "event_type"],
                ["date:max"],
            ):
                last[lead.id, event_type] = date
            points = self._engagement_points()
            since = fields.Datetime.now() - timedelta(days=self._engagement_recent_days())
            for lead, event_type, count in Event._read_group(
                [*human, ("date", ">=", since)], ["lead_id", "event_type"], ["__count"]
            ):
                recent[lead.id] += count * points.get(event_type, 0)
        for lead in self:
            lead_id = lead._origin.id
            for event_type, fname in LAST_FIELDS.items():
                lead[fname] = last.get((lead_id, event_type), False)
            lead.engagement_recent_score = recent[lead_id]

    def _compute_automation_next(self):
        ids = [lead_id for lead_id in self._origin.ids if lead_id]
        rows = {}
        if ids:
            Job = self.env["crm.automation.job"]
            # One query for all the cards: the first pending job of each lead, through
            # _search so that the jobs' record rules apply.
            query = Job._search([("lead_id", "in", ids), ("state", "=", "pending")])
            table = query.table
            # Column order (not the ORM's, which orders a many2one by its model's
            # _order): DISTINCT ON needs lead_id first.
            query.order = SQL(
                "%s, %s, %s",
                SQL.identifier(table, "lead_id"),
                SQL.identifier(table, "run_at"),
                SQL.identifier(table, "id"),
            )
            rows = {
                lead_id: (run_at, rule_id)
                for lead_id, run_at, rule_id in self.env.execute_query(
                    query.select(
                        SQL(
                            "DISTINCT ON (%s) %s, %s, %s",
                            SQL.identifier(table, "lead_id"),
                            SQL.identifier(table, "lead_id"),
                            SQL.identifier(table, "run_at"),
                            SQL.identifier(table, "rule_id"),
                        )
                    )
                )
            }
        Rule = self.env["crm.automation.rule"]
        for lead in self:
            run_at, rule_id = rows.get(lead._origin.id, (False, False))
            lead.automation_next_run_at = run_at
            lead.automation_next_rule_id = Rule.browse(rule_id)

    def _engagement_points(self):
        """{event type: points} of the engagement score (system parameters)."""
        return {
            event_type: params.get_int(self.env, f"score_{event_type}")
            for event_type in params.SCORE_DEFAULTS
        }

    def _engagement_recent_days(self):
        return params.get_int(self.env, "engagement_recent_days")
