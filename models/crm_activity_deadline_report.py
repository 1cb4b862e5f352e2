# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models, tools
from odoo.tools import SQL


class CrmActivityDeadlineReport(models.Model):
    """One row per activity created from a template on a lead (open or done).

    A SQL view, so "open late now" is evaluated when the report is read.
    """

    _name = "crm.activity.deadline.report"
    _description = "Activity Deadlines Report"
    _auto = False
    _order = "deadline_datetime desc"
    _rec_name = "summary"

    activity_id = fields.Many2one("mail.activity", readonly=True)
    summary = fields.Char(readonly=True)
    template_id = fields.Many2one("crm.activity.template", "Template", readonly=True)
    activity_type_id = fields.Many2one("mail.activity.type", readonly=True)
    user_id = fields.Many2one("res.users", "Assigned to", readonly=True)
    lead_id = fields.Many2one("crm.lead", "Lead", readonly=True)
    team_id = fields.Many2one("crm.team", "Sales team", readonly=True)
    salesperson_id = fields.Many2one("res.users", "Salesperson", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    create_date = fields.Datetime("Created on", readonly=True)
    deadline_datetime = fields.Datetime("Deadline", readonly=True)
    done_datetime = fields.Datetime("Done on", readonly=True)
    status = fields.Selection(
        [
            ("open", "Open, on time"),
            ("open_late", "Open, late"),
            ("done_on_time", "Done on time"),
            ("done_late", "Done late"),
        ],
        readonly=True,
    )
    done_on_time_count = fields.Integer("Done on time", readonly=True, aggregator="sum")
    done_late_count = fields.Integer("Done late", readonly=True, aggregator="sum")
    open_late_count = fields.Integer("Open late now", readonly=True, aggregator="sum")
    open_count = fields.Integer("Open", readonly=True, aggregator="sum")
    completion_hours = fields.Float(
        "Average time to complete (hours)",
        readonly=True,
        aggregator="avg",
        help="From creation to done; empty for open activities.",
    )

    def _query(self):
        # Late = done after the deadline, or open past it now (UTC, like the columns).
        return SQL(
            """
            SELECT a.id, a.id AS activity_id, a.summary, a.activity_template_id AS template_id,
                   a.activity_type_id, a.user_id, l.id AS lead_id, l.team_id,
                   l.user_id AS salesperson_id, l.company_id, a.create_date,
                   a.deadline_datetime, a.done_datetime,
                   CASE WHEN a.done_datetime IS NULL AND a.deadline_datetime < n.now
                        THEN 'open_late'
                        WHEN a.done_datetime IS NULL THEN 'open'
                        WHEN a.done_datetime > a.deadline_datetime THEN 'done_late'
                        ELSE 'done_on_time' END AS status,
                   (a.done_datetime IS NOT NULL
                    AND a.done_datetime <= a.deadline_datetime)::int AS done_on_time_count,
                   (a.done_datetime > a.deadline_datetime)::int AS done_late_count,
                   (a.done_datetime IS NULL
                    AND a.deadline_datetime < n.now)::int AS open_late_count,
                   (a.done_datetime IS NULL)::int AS open_count,
                   (EXTRACT(EPOCH FROM a.done_datetime - a.create_date)
                    / 3600.0)::float8 AS completion_hours
              FROM mail_activity a
              JOIN crm_lead l ON a.res_model = 'crm.lead' AND l.id = a.res_id
             CROSS JOIN (SELECT now() AT TIME ZONE 'UTC' AS now) n
             WHERE a.activity_template_id IS NOT NULL
            """
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query())
        )
