# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Lost from a stage (Exact Spotter: "after discarding a lead in Filter 2, 'Recover the
lead' in 3 months"): "lead lost" templates and rules limited to the stages the lead
was lost from, the lead marked lost through the lost wizard as users do."""

import json
from datetime import datetime

from odoo import Command
from odoo.tests import Form, HttpCase, freeze_time, new_test_user, tagged

from .common import NOW as MONDAY
from .common import ActivityTemplateCase, AutomationCase


class LostMixin:
    def _mark_lost(self, lead, user):
        """The "Lost" button: the crm.lead.lost wizard, with a reason."""
        reason = self.env["crm.lost.reason"].create({"name": "Not interested"})
        action = self.env.ref("crm.crm_lead_lost_action")
        context = {"default_lead_ids": lead.ids, "active_ids": lead.ids, "active_model": "crm.lead"}
        self.assertEqual(action.res_model, "crm.lead.lost")
        with Form(self.env["crm.lead.lost"].with_user(user).with_context(**context)) as wizard:
            wizard.lost_reason_id = reason
        wizard.record.action_lost_reason_apply()
        self.assertFalse(lead.active)


@tagged("post_install", "-at_install")
class TestLostFromStageTemplates(LostMixin, ActivityTemplateCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recover = cls._template(
            name="Recover the lead",
            summary="Recover {partner_name}",
            event_key="lead_lost",
            deadline_count=3,
            deadline_unit="months",
            lost_stage_ids=[Command.set(cls.stage_qualified.ids)],
        )

    @freeze_time(MONDAY)
    def test_only_when_lost_from_the_chosen_stages(self):
        filtered = self._lead(stage=self.stage_qualified)
        self._mark_lost(filtered, self.salesman)
        activity = self._activities(filtered, self.recover)
        self.assertEqual(activity.summary, "Recover Acme Logistics")
        self.assertEqual(activity.deadline_datetime, datetime(2026, 4, 12, 10, 0))
        early = self._lead(name="Lost early")
        self._mark_lost(early, self.salesman)
        self.assertFalse(self._activities(early, self.recover, active_test=False))

    @freeze_time(MONDAY)
    def test_empty_stages_means_any_stage(self):
        self.recover.lost_stage_ids = False
        lead = self._lead()
        self._mark_lost(lead, self.salesman)
        self.assertEqual(len(self._activities(lead, self.recover)), 1)

    @freeze_time(MONDAY)
    def test_dry_run_of_lead_lost(self):
        board = self.env["crm.automation.board"].get_board(self.team.id)
        self.assertIn(["lead_lost", "Lead lost"], board["lead_events"])
        lead = self._lead(stage=self.stage_qualified)
        result = self.env["crm.lead"].automation_dry_run(lead.id, "lead_lost")
        self.assertEqual(result["activities"][0]["deadline"], "2026-04-12 10:00:00")
        self.assertEqual(result["activities"][0]["description"], "within 3 months")
        self.assertTrue(lead.active, "a dry-run changes nothing")
        early = self._lead(name="Lost early")
        result = self.env["crm.lead"].automation_dry_run(early.id, "lead_lost")
        self.assertEqual(
            result["activities"][0]["skipped"], "lost from D New, not from the template's stages"
        )


@tagged("post_install", "-at_install")
class TestLostFromStageRules(LostMixin, AutomationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recover = cls._rule(
            cls.stage_new,
            "repeat_lead",
            name="Recover the lead in 3 months",
            run_on="lead_lost",
            lost_stage_ids=[Command.set(cls.stage_qualified.ids)],
            timing="delay",
            delay_count=3,
            delay_unit="months",
            lead_name_template="Recover {name}",
        )
        cls.tag_lost = cls._rule(cls.stage_new, "tags", name="Tag lost leads", run_on="lead_lost")

    @freeze_time(MONDAY)
    def test_lost_rules_run_for_the_stage_lost_from(self):
        lead = self._lead(stage=self.stage_qualified)
        self._mark_lost(lead, self.salesman)
        job = self._jobs(lead, self.recover)
        self.assertEqual((job.state, job.run_at), ("pending", datetime(2026, 4, 12, 10, 0)))
        # The immediate rule for any stage ran at once, on the lost lead.
        self.assertEqual(self._jobs(lead, self.tag_lost).state, "done")
        self.assertIn(self.tag_hot, lead.tag_ids)
        with freeze_time(datetime(2026, 4, 12, 10, 1)):
            self._dispatch()
        self.assertEqual(job.state, "done")
        repeat = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
        self.assertEqual(repeat.name, f"Recover {lead.name}")
        self.assertTrue(repeat.active)

    def test_free_when_no_rule_runs_on_lost_leads(self):
        lead = self._lead(stage=self.stage_qualified)
        Rule = self.env["crm.automation.rule"]
        self.assertTrue(Rule._rules_when_lost(lead))
        (self.recover | self.tag_lost).write({"run_on": "stage_entry"})
        Rule._rules_when_lost(lead)  # the cached answer, read once
        with self.assertQueryCount(0):
            self.assertFalse(Rule._rules_when_lost(lead))

    @freeze_time(MONDAY)
    def test_other_stages_and_entries_do_not_run_lost_rules(self):
        lead = self._lead()
        # Entering the rules' stage runs no "lead lost" rule.
        lead.stage_id = self.stage_qualified
        lead.stage_id = self.stage_new
        self.assertFalse(self._jobs(lead))
        self._mark_lost(lead, self.salesman)
        self.assertFalse(self._jobs(lead, self.recover))
        self.assertEqual(self._jobs(lead, self.tag_lost).state, "done")

    @freeze_time(MONDAY)
    def test_restoring_the_lead_cancels_the_pending_job(self):
        lead = self._lead(stage=self.stage_qualified)
        self._mark_lost(lead, self.salesman)
        job = self._jobs(lead, self.recover)
        lead.with_user(self.salesman).action_unarchive()
        with freeze_time(datetime(2026, 4, 12, 10, 1)):
            self._dispatch()
        self.assertEqual(job.state, "cancelled")
        self.assertIn("restored", self._logs(lead, "job_cancelled")[-1].message)

    @freeze_time(MONDAY)
    def test_board_and_dry_run_describe_lost_rules(self):
        self.assertEqual(
            self.recover.timing_description, "When lost from B Qualified: after 3 months"
        )
        self.assertEqual(self.tag_lost.timing_description, "When lost: Immediately")
        lead = self._lead()
        result = self.env["crm.lead"].automation_dry_run(lead.id, "lead_lost")
        rules = {rule["name"]: rule for rule in result["rules"]}
        self.assertTrue(rules["Tag lost leads"]["now"])
        self.assertEqual(
            rules["Recover the lead in 3 months"]["skipped"],
            "lost from A New, not from the rule's stages",
        )
        self.assertTrue(lead.active)

    def test_export_import_keeps_the_stages_lost_from(self):
        Exchange = self.env["crm.automation.exchange"]
        data = json.loads(Exchange._export_json(self.team))
        item = next(r for r in data["rules"] if r["name"] == "Recover the lead in 3 months")
        self.assertEqual(
            (item["run_on"], item["lost_stage_ids"]), ("lead_lost", [{"stage": "B Qualified"}])
        )
        team = self.env["crm.team"].create({"name": "Imported"})
        stages = self.env["crm.stage"].create(
            [
                {"name": f"I{index}", "sequence": 300 + index, "team_id": team.id}
                for index in range(4)
            ]
        )
        stage_map = {s["key"]: self.env["crm.stage"] for s in data["stages"]}
        stage_map.update({"A New": stages[0], "B Qualified": stages[1], "C Proposal": stages[2]})
        stage_map["D Won"] = stages[3]
        plan = Exchange._plan_import(data, team, stage_map)
        rules = Exchange._apply_import(plan, mode="add")["rules"]
        recover = rules.filtered(lambda r: r.name == "Recover the lead in 3 months")
        self.assertEqual((recover.run_on, recover.lost_stage_ids), ("lead_lost", stages[1]))

    def test_board_analysis_leaves_lost_rules_out_of_the_stage_moves(self):
        # A delayed rule of A New next to an immediate "lost" rule moving leads on:
        # the lost rule acts on lost leads only, it empties no stage.
        self._rule(
            self.stage_new,
            "update",
            name="Park lost leads",
            run_on="lead_lost",
            update_line_ids=[
                Command.create(
                    {
                        "field_id": self.env.ref("crm.field_crm_lead__stage_id").id,
                        "value": "C Proposal",
                    }
                )
            ],
        )
        self._rule(self.stage_new, name="Later", timing="delay", delay_count=2)
        warnings = self.env["crm.automation.board"]._analyze(self.team)
        self.assertFalse([w for w in warnings if w["kind"] == "never_runs"], warnings)


@tagged("post_install", "-at_install")
class TestLostDryRunTour(HttpCase):
    """The board shows a "lead lost" rule and tests a loss, in headless Chromium."""

    def test_manager_tests_a_loss_on_the_board(self):
        manager = new_test_user(
            self.env,
            login="cpa_lost_manager",
            password="cpa_lost_manager",
            name="Bea Lost",
            groups="sales_team.group_sale_manager",
        )
        team = self.env["crm.team"].create(
            {"name": "Lost team", "use_leads": True, "user_id": manager.id, "sequence": 0}
        )
        self.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": manager.id})
        Stage = self.env["crm.stage"]
        new = Stage.create({"name": "Lost New", "sequence": 301, "team_id": team.id})
        filter2 = Stage.create({"name": "Lost Filter 2", "sequence": 302, "team_id": team.id})
        self.env["crm.automation.rule"].create(
            {
                "name": "Recover later",
                "stage_id": new.id,
                "action_type": "repeat_lead",
                "run_on": "lead_lost",
                "lost_stage_ids": [Command.set(filter2.ids)],
                "timing": "delay",
                "delay_count": 3,
                "delay_unit": "months",
            }
        )
        self.env["crm.activity.template"].search([]).action_archive()
        self.env["crm.activity.template"].create(
            {
                "name": "Recover the lead",
                "event_key": "lead_lost",
                "lost_stage_ids": [Command.set(filter2.ids)],
                "deadline_count": 3,
                "deadline_unit": "months",
            }
        )
        lead = self.env["crm.lead"].create(
            {
                "name": "Discarded lead",
                "type": "opportunity",
                "team_id": team.id,
                "stage_id": filter2.id,
                "user_id": manager.id,
            }
        )
        self.start_tour(
            "/odoo/crm", "crm_pipeline_automation_lost_dry_run_tour", login=manager.login
        )
        self.assertTrue(lead.active, "the dry-run changed nothing")
        self.assertFalse(lead.automation_job_ids or lead.activity_ids)
