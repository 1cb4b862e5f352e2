# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fixtures of the activity template tests: a Brussels 9-17 calendar with a holiday,
a sales team with a leader and two salespeople, and factories."""

from datetime import datetime

from odoo import Command
from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase

# A Monday, 10:00 UTC (11:00 in Brussels, winter time).
MONDAY = datetime(2026, 1, 12, 10, 0, 0)
# A public holiday of the calendar: Monday 19 January 2026, all day in Brussels.
HOLIDAY = (datetime(2026, 1, 18, 23, 0, 0), datetime(2026, 1, 19, 23, 0, 0))


class ActivityTemplateCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        # Demo templates react to lead creation and loss: keep them out of the fixtures.
        cls.env["crm.activity.template"].search([]).action_archive()
        cls.leader = new_test_user(
            cls.env,
            login="cpa_act_leader",
            name="Lea Leader",
            groups="sales_team.group_sale_manager",
            tz="Europe/Brussels",
            email="lea@example.com",
        )
        cls.salesman = new_test_user(
            cls.env,
            login="cpa_act_seller",
            name="Sam Seller",
            groups="sales_team.group_sale_salesman",
            tz="Europe/Brussels",
            email="sam@example.com",
        )
        cls.salesman2 = new_test_user(
            cls.env,
            login="cpa_act_seller2",
            name="Sue Seller",
            groups="sales_team.group_sale_salesman",
            tz="America/New_York",
            email="sue@example.com",
        )
        cls.team = cls.env["crm.team"].create(
            {"name": "Deadline team", "user_id": cls.leader.id, "use_leads": True}
        )
        cls.env["crm.team.member"].create(
            [
                {"crm_team_id": cls.team.id, "user_id": cls.salesman.id},
                {"crm_team_id": cls.team.id, "user_id": cls.salesman2.id},
            ]
        )
        cls.other_team = cls.env["crm.team"].create({"name": "Other team", "use_leads": True})
        Stage = cls.env["crm.stage"]
        cls.stage_new = Stage.create({"name": "D New", "sequence": 201, "team_id": cls.team.id})
        cls.stage_qualified = Stage.create(
            {"name": "D Qualified", "sequence": 202, "team_id": cls.team.id}
        )
        cls.stage_proposal = Stage.create(
            {"name": "D Proposal", "sequence": 203, "team_id": cls.team.id}
        )
        cls.calendar = cls._calendar("Brussels 9-17", "Europe/Brussels")
        cls.env["resource.calendar.leaves"].create(
            {
                "name": "Public holiday",
                "calendar_id": cls.calendar.id,
                "date_from": HOLIDAY[0],
                "date_to": HOLIDAY[1],
            }
        )
        cls.env.company.resource_calendar_id = cls.calendar
        cls.activity_type = cls.env.ref("mail.mail_activity_data_todo")

    @classmethod
    def _calendar(cls, name, tz):
        """Monday to Friday, 9-12 and 13-17 in ``tz``."""
        return cls.env["resource.calendar"].create(
            {
                "name": name,
                "tz": tz,
                "attendance_ids": [
                    Command.create(
                        {
                            "name": f"{day} {period}",
                            "dayofweek": str(day),
                            "hour_from": start,
                            "hour_to": stop,
                            "day_period": period,
                        }
                    )
                    for day in range(5)
                    for start, stop, period in ((9, 12, "morning"), (13, 17, "afternoon"))
                ],
            }
        )

    @classmethod
    def _template(cls, **vals):
        values = {
            "name": "Call the customer",
            "activity_type_id": cls.activity_type.id,
            "summary": "Call {contact_name} of {partner_name}",
            "deadline_count": 2,
            "deadline_unit": "hours",
        }
        values.update(vals)
        return cls.env["crm.activity.template"].create(values)

    @classmethod
    def _lead(cls, **vals):
        values = {
            "name": "Office chairs",
            "type": "opportunity",
            "team_id": cls.team.id,
            "user_id": cls.salesman.id,
            "partner_name": "Acme Logistics",
            "contact_name": "Laura Chen",
            "stage_id": cls.stage_new.id,
        }
        values.update(vals)
        return cls.env["crm.lead"].create(values)

    def _activities(self, lead, template=None, active_test=True):
        domain = [("res_model", "=", "crm.lead"), ("res_id", "=", lead.id)]
        if template:
            domain.append(("activity_template_id", "=", template.id))
        return (
            self.env["mail.activity"]
            .with_context(active_test=active_test)
            .search(domain, order="id")
        )
