# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fixtures and factories of the automation tests, reusable by other modules' tests."""

import threading
from contextlib import closing
from datetime import datetime

from odoo import SUPERUSER_ID, Command, api
from odoo.sql_db import db_connect
from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase

# A Monday, 10:00 UTC (11:00 in Brussels, winter time).
NOW = datetime(2026, 1, 12, 10, 0, 0)


class AutomationCase(TransactionCase):
    """A private pipeline (New, Qualified, Proposal, Won) with a salesperson, a
    leader and a Brussels 9-17 calendar; factories for rules, leads and dispatch."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        cls.leader = new_test_user(
            cls.env,
            login="cpa_leader",
            name="Lea Leader",
            groups="sales_team.group_sale_manager",
            tz="Europe/Brussels",
        )
        cls.salesman = new_test_user(
            cls.env,
            login="cpa_seller",
            name="Sam Seller",
            groups="sales_team.group_sale_salesman",
            tz="Europe/Brussels",
        )
        cls.salesman2 = new_test_user(
            cls.env,
            login="cpa_seller2",
            name="Sue Seller",
            groups="sales_team.group_sale_salesman",
            tz="Europe/Brussels",
        )
        cls.team = cls.env["crm.team"].create(
            {"name": "Automation team", "user_id": cls.leader.id, "use_leads": True}
        )
        cls.env["crm.team.member"].create(
            [
                {"crm_team_id": cls.team.id, "user_id": cls.salesman.id},
                {"crm_team_id": cls.team.id, "user_id": cls.salesman2.id},
            ]
        )
        Stage = cls.env["crm.stage"]
        cls.stage_new = Stage.create({"name": "A New", "sequence": 101, "team_id": cls.team.id})
        cls.stage_qualified = Stage.create(
            {"name": "B Qualified", "sequence": 102, "team_id": cls.team.id}
        )
        cls.stage_proposal = Stage.create(
            {"name": "C Proposal", "sequence": 103, "team_id": cls.team.id}
        )
        cls.stage_won = Stage.create(
            {"name": "D Won", "sequence": 104, "team_id": cls.team.id, "is_won": True}
        )
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Brussels 9-17",
                "tz": "Europe/Brussels",
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
        cls.env.company.resource_calendar_id = cls.calendar
        cls.tag_hot = cls.env["crm.tag"].create({"name": "Hot"})
        cls.tag_cold = cls.env["crm.tag"].create({"name": "Cold"})
        cls.partner = cls.env["res.partner"].create(
            {"name": "Laura Chen", "email": "laura@acme.example.com", "phone": "+32 470 12 34 56"}
        )
        cls.Job = cls.env["crm.automation.job"]
        cls.Log = cls.env["crm.automation.log"]

    @classmethod
    def _rule(cls, stage, action_type="tags", **vals):
        values = {
            "name": f"{action_type} on {stage.name}",
            "stage_id": stage.id,
            "action_type": action_type,
        }
        if action_type == "tags" and "tag_add_ids" not in vals:
            values["tag_add_ids"] = [Command.link(cls.tag_hot.id)]
        values.update(vals)
        return cls.env["crm.automation.rule"].create(values)

    @classmethod
    def _lead(cls, stage=None, **vals):
        values = {
            "name": "Office desks",
            "type": "opportunity",
            "team_id": cls.team.id,
            "user_id": cls.salesman.id,
            "partner_id": cls.partner.id,
            "partner_name": "Acme Logistics",
            "contact_name": "Laura Chen",
            "stage_id": (stage or cls.stage_new).id,
        }
        values.update(vals)
        return cls.env["crm.lead"].create(values)

    def _jobs(self, lead, rule=None):
        domain = [("lead_id", "=", lead.id)]
        if rule:
            domain.append(("rule_id", "=", rule.id))
        return self.Job.search(domain, order="id")

    def _logs(self, lead, kind=None):
        domain = [("lead_id", "=", lead.id)]
        if kind:
            domain.append(("kind", "=", kind))
        return self.Log.search(domain, order="id")

    def _dispatch(self):
        """Run the dispatcher as the cron does; return the ids of the jobs run."""
        return self.Job._dispatch_due_jobs()


def run_on_two_connections(registry, dbname, work):
    """Run ``work(env)`` at the same moment in two threads, each on its own database
    connection, both transactions held open until both are done (as two workers), then
    committed; return {"one": result or exception, "two": ...}."""
    start, barrier = threading.Barrier(2, timeout=60), threading.Barrier(2, timeout=120)
    results = {}

    def worker(name):
        threading.current_thread().dbname = dbname
        with closing(db_connect(dbname).cursor()) as cr:
            # The test runner holds the registry lock: give the cursor its transaction
            # directly instead of letting Environment look it up.
            cr.transaction = api.Transaction(registry)
            env = api.Environment(cr, SUPERUSER_ID, {})
            try:
                start.wait()
                results[name] = work(env)
                barrier.wait()
                cr.commit()  # pylint: disable=invalid-commit
            except Exception as exc:
                results[name] = exc
                barrier.abort()
                cr.rollback()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=150)
    return results


class CommittedPipelineCase(TransactionCase):
    """Data other database connections must see: created and committed on a connection
    of its own, deleted again when the test ends."""

    def _committed_pipeline(self, name, count, rule_vals, move):
        """A team with stages "<name> A" and "<name> B", a rule on B (values returned by
        ``rule_vals(env)``) and ``count`` leads in A; ``move(env, leads, stage_b)`` runs
        in the same transaction and returns more ids to keep (jobs, plans, tags).

        :return: dict of ids: team, stages, rule, leads, and what ``move`` returned
        """
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            team = env["crm.team"].create({"name": f"{name} team"})
            stage_a = env["crm.stage"].create(
                {"name": f"{name} A", "sequence": 201, "team_id": team.id}
            )
            stage_b = env["crm.stage"].create(
                {"name": f"{name} B", "sequence": 202, "team_id": team.id}
            )
            rule = env["crm.automation.rule"].create(
                {"name": f"{name} rule", "stage_id": stage_b.id, **rule_vals(env)}
            )
            leads = env["crm.lead"].create(
                [
                    {"name": f"{name} {i}", "team_id": team.id, "stage_id": stage_a.id}
                    for i in range(count)
                ]
            )
            data = {
                "team": team.id,
                "stages": (stage_a | stage_b).ids,
                "rule": rule.id,
                "leads": leads.ids,
                **move(env, leads, stage_b),
            }
            # Committed on purpose: the other connections must see it.
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._delete_committed, data)
        return data

    def _delete_committed(self, data):
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["crm.automation.job.plan"].browse(data.get("plans", [])).exists().unlink()
            # Ledger rows and jobs go with their leads (ON DELETE CASCADE).
            env["crm.lead"].with_context(active_test=False).browse(data["leads"]).unlink()
            env["crm.automation.rule"].browse(data["rule"]).unlink()
            env["crm.stage"].browse(data["stages"]).unlink()
            env["crm.team"].browse(data["team"]).unlink()
            env["crm.tag"].browse(data.get("tags", [])).unlink()
            cr.commit()  # pylint: disable=invalid-commit
