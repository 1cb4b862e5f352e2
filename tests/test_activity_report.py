# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime, timedelta

from odoo.tests import tagged
from odoo.tools import SQL

from .common import ActivityTemplateCase


@tagged("post_install", "-at_install")
class TestActivityReport(ActivityTemplateCase):
    """The report reads the database clock ("open late now"): the fixture is placed
    around the real current time, not a frozen one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = datetime.utcnow().replace(second=0, microsecond=0)
        cls.call = cls._template(name="Call")
        cls.visit = cls._template(name="Visit")
        cls.lead = cls._lead()
        cls.lead2 = cls._lead(name="Second", user_id=cls.salesman2.id, team_id=cls.other_team.id)
        day = timedelta(days=1)
        hour = timedelta(hours=1)
        # (template, lead, assignee, created, deadline, done or None)
        rows = [
            # Sam: 2 on time (2 h and 4 h to complete), 1 late (9 h), 1 open late, 1 open.
            (
                cls.call,
                cls.lead,
                cls.salesman,
                cls.now - 10 * day,
                cls.now - 9 * day,
                cls.now - 10 * day + 2 * hour,
            ),
            (
                cls.call,
                cls.lead,
                cls.salesman,
                cls.now - 10 * day,
                cls.now - 9 * day,
                cls.now - 10 * day + 4 * hour,
            ),
            (
                cls.visit,
                cls.lead,
                cls.salesman,
                cls.now - 40 * day,
                cls.now - 40 * day + 8 * hour,
                cls.now - 40 * day + 9 * hour,
            ),
            (cls.visit, cls.lead, cls.salesman, cls.now - 3 * day, cls.now - 1 * day, None),
            (cls.call, cls.lead, cls.salesman, cls.now - 1 * day, cls.now + 1 * day, None),
            # Sue: 1 late (3 h), 1 open late.
            (
                cls.call,
                cls.lead2,
                cls.salesman2,
                cls.now - 5 * day,
                cls.now - 5 * day + 2 * hour,
                cls.now - 5 * day + 3 * hour,
            ),
            (cls.call, cls.lead2, cls.salesman2, cls.now - 5 * day, cls.now - 2 * hour, None),
        ]
        for template, lead, user, created, deadline, done in rows:
            activity = template._create_activities(lead)
            activity.write({"user_id": user.id, "deadline_datetime": deadline})
            if done:
                activity.action_feedback(feedback="done")
            activity.flush_recordset()
            # Creation and completion moments of the fixture, exactly.
            cls.env.cr.execute(
                SQL(
                    "UPDATE mail_activity SET create_date = %s, done_datetime = %s WHERE id = %s",
                    created,
                    done,
                    activity.id,
                )
            )
        cls.env.invalidate_all()
        # A plain activity (no template) is not in the report.
        cls.lead.activity_schedule("mail.mail_activity_data_todo", user_id=cls.salesman.id)

    def _figures(self, groupby, domain=None):
        Report = self.env["crm.activity.deadline.report"]
        # Only the fixture's templates: the demo data has template activities too.
        groups = Report._read_group(
            [("template_id", "in", (self.call | self.visit).ids)] + (domain or []),
            [groupby],
            [
                "done_on_time_count:sum",
                "done_late_count:sum",
                "open_late_count:sum",
                "open_count:sum",
                "completion_hours:avg",
                "__count",
            ],
        )
        return {key: tuple(values) for key, *values in groups}

    def test_figures_by_salesperson(self):
        figures = self._figures("user_id")
        self.assertEqual(figures[self.salesman], (2, 1, 1, 2, 5.0, 5))
        self.assertEqual(figures[self.salesman2], (0, 1, 1, 1, 3.0, 2))
        self.assertEqual(set(figures), {self.salesman, self.salesman2})

    def test_figures_by_team_and_template(self):
        by_team = self._figures("team_id")
        self.assertEqual(by_team[self.team][:3], (2, 1, 1))
        self.assertEqual(by_team[self.other_team][:3], (0, 1, 1))
        by_template = self._figures("template_id")
        self.assertEqual(by_template[self.call], (2, 1, 1, 2, (2 + 4 + 3) / 3, 5))
        self.assertEqual(by_template[self.visit], (0, 1, 1, 1, 9.0, 2))

    def test_figures_by_period_and_status(self):
        statuses = self._figures("status")
        self.assertEqual(statuses["done_on_time"][-1], 2)
        self.assertEqual(statuses["done_late"][-1], 2)
        self.assertEqual(statuses["open_late"][-1], 2)
        self.assertEqual(statuses["open"][-1], 1)
        by_day = self._figures("deadline_datetime:day", [("user_id", "=", self.salesman.id)])
        self.assertEqual(sum(values[-1] for values in by_day.values()), 5)
        self.assertEqual(len(by_day), 4)
