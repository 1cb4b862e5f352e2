# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""crm.lead's create / write / _message_post_after_hook: the order of their steps (one
test per ordering rule) and their cost when nothing applies (free when idle)."""

from datetime import timedelta

from odoo import Command
from odoo.tests import freeze_time, tagged

from odoo.addons.crm_pipeline_automation.models.crm_lead import CrmLead

from .common import NOW, AutomationCase


class LeadHookCase(AutomationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Demo templates (lead created, completed on stage change) stay out of the way.
        templates = cls.env["crm.activity.template"].with_context(active_test=False).search([])
        templates.write({"auto_done_on_stage_change": False, "active": False})

    @classmethod
    def _template(cls, **vals):
        values = {
            "name": "Call the customer",
            "activity_type_id": cls.env.ref("mail.mail_activity_data_todo").id,
            "summary": "Call {contact_name}",
            "deadline_count": 2,
            "deadline_unit": "hours",
        }
        values.update(vals)
        return cls.env["crm.activity.template"].create(values)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestLeadHookOrder(LeadHookCase):
    def test_touched_in_stage_is_reset_before_the_rules_check_their_condition(self):
        rule = self._rule(
            self.stage_qualified, filter_domain="[('automation_touched_in_stage', '=', False)]"
        )
        lead = self._lead()
        lead.with_user(self.salesman).message_post(body="Called", message_type="comment")
        self.assertTrue(lead.automation_touched_in_stage)
        lead.stage_id = self.stage_qualified
        self.assertFalse(lead.automation_touched_in_stage)
        self.assertEqual(self._jobs(lead, rule).state, "done")
        self.assertIn(self.tag_hot, lead.tag_ids)

    def test_touched_in_stage_reset_only_for_the_leads_moving(self):
        staying = self._lead(stage=self.stage_qualified)
        moving = self._lead()
        for lead in staying | moving:
            lead.with_user(self.salesman).message_post(body="Called", message_type="comment")
        (staying | moving).write({"stage_id": self.stage_qualified.id})
        self.assertTrue(staying.automation_touched_in_stage)
        self.assertFalse(moving.automation_touched_in_stage)

    def test_old_stage_template_activities_done_entry_ones_stay_open(self):
        template = self._template(auto_done_on_stage_change=True)
        rule = self._rule(
            self.stage_qualified, action_type="activity", activity_template_id=template.id
        )
        lead = self._lead()
        old = template._create_activities(lead)
        self.assertTrue(old.active)
        lead.stage_id = self.stage_qualified
        self.assertFalse(old.active, "the activity of the stage left is done")
        entry = self._jobs(lead, rule).activity_id
        self.assertTrue(entry)
        self.assertTrue(entry.active, "the activity the entry created stays open")

    def test_completed_on_stage_change_is_not_work_of_the_salesperson(self):
        template = self._template(auto_done_on_stage_change=True)
        lead = self._lead()
        template._create_activities(lead)
        lead.with_user(self.salesman).stage_id = self.stage_qualified
        self.assertFalse(lead.automation_touch_date)

    def test_archiving_cancels_jobs(self):
        rule = self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        lead = self._lead(stage=self.stage_qualified)
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "pending")
        lead.write({"active": False})
        self.assertEqual(job.state, "cancelled")
        self.assertIn("lost", self._logs(lead, "job_cancelled").message)
        self.assertTrue(self._logs(lead, "lead_lost"))

    def test_leaving_a_stage_with_rules_for_one_without_cancels_its_jobs(self):
        rule = self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        lead = self._lead(stage=self.stage_qualified)
        visit = lead.automation_visit
        lead.stage_id = self.stage_proposal
        self.assertEqual(self._jobs(lead, rule).state, "cancelled")
        self.assertEqual(self._logs(lead, "job_cancelled").message, "The lead left the stage.")
        self.assertEqual(lead.automation_visit, visit + 1)
        self.assertEqual(self._logs(lead, "stage_entered")[-1].stage_id, self.stage_proposal)
        with freeze_time(NOW + timedelta(days=2)):
            self.assertFalse(self._dispatch())

    def test_moves_where_no_rule_applies_leave_no_trace(self):
        """Documented behaviour: the ledger holds the stage entries the automation
        handles (stages with rules, automatic moves), not every manual move."""
        self._rule(self.stage_won)
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        lead.stage_id = self.stage_proposal
        self.assertEqual(lead.automation_visit, 0)
        self.assertFalse(self._logs(lead))
        lead.stage_id = self.stage_won
        self.assertEqual(lead.automation_visit, 1)
        self.assertEqual(self._logs(lead, "stage_entered").from_stage_id, self.stage_proposal)

    def test_a_rule_created_later_applies_to_the_next_entry(self):
        lead = self._lead()
        lead.stage_id = self.stage_qualified  # caches "no rule anywhere"
        rule = self._rule(self.stage_proposal)
        lead.stage_id = self.stage_proposal
        self.assertEqual(self._jobs(lead, rule).state, "done")
        rule.stage_id = self.stage_won
        lead.stage_id = self.stage_won
        self.assertEqual(len(self._jobs(lead, rule)), 2)

    def test_rule_of_a_skipped_stage_runs_and_is_cancelled_on_leaving(self):
        rule = self._rule(
            self.stage_qualified,
            run_when_skipped=True,
            timing="delay",
            delay_count=1,
            delay_unit="days",
        )
        lead = self._lead()
        lead.stage_id = self.stage_proposal
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "pending")
        lead.stage_id = self.stage_won
        self.assertEqual(job.state, "cancelled")

    def test_create_runs_the_rules_then_the_lead_created_templates(self):
        template = self._template(event_key="lead_created")
        rule = self._rule(self.stage_new)
        lead = self._lead()
        self.assertEqual(self._jobs(lead, rule).state, "done")
        self.assertEqual(lead.activity_ids.activity_template_id, template)

    def test_lead_created_template_scoped_to_a_team_of_the_salesperson(self):
        other_team = self.env["crm.team"].create({"name": "Other team"})
        template = self._template(
            event_key="lead_created", scope="teams", team_ids=[Command.set(other_team.ids)]
        )
        self.assertFalse(self._lead().activity_ids)
        # A new member of the team is in the scope at once (cache cleared).
        self.env["crm.team.member"].create(
            {"crm_team_id": other_team.id, "user_id": self.salesman.id}
        )
        self.assertEqual(self._lead().activity_ids.activity_template_id, template)

    def test_lost_template_after_the_archive(self):
        template = self._template(event_key="lead_lost")
        rule = self._rule(self.stage_new, timing="delay", delay_count=1, delay_unit="days")
        lead = self._lead()
        lead.action_set_lost()
        self.assertEqual(self._jobs(lead, rule).state, "cancelled")
        activity = (
            self.env["mail.activity"]
            .with_context(active_test=False)
            .search([("res_model", "=", "crm.lead"), ("res_id", "=", lead.id)])
        )
        self.assertEqual(activity.activity_template_id, template)

    def test_note_of_a_colleague_is_work_automatic_one_is_not(self):
        lead = self._lead()
        lead.with_context(crm_automation_auto=True).message_post(
            body="Automatic", message_type="comment"
        )
        self.assertFalse(lead.automation_touch_date)
        lead.with_user(self.salesman).message_post(body="Called", message_type="comment")
        self.assertEqual(lead.automation_touch_date, NOW)


@tagged("post_install", "-at_install")
class TestLeadFreeWhenIdle(LeadHookCase):
    """With no rule and no template acting on a lead, the addon's create / write cost
    exactly what crm.lead's own (``super()`` of the addon's class) cost."""

    def _vals(self, name):
        return {
            "name": name,
            "team_id": self.team.id,
            "user_id": self.salesman.id,
            "partner_id": self.partner.id,
            "stage_id": self.stage_new.id,
        }

    def _queries(self, func, *args):
        """Queries of ``func(*args)``, flush included; returns (count, result)."""
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        result = func(*args)
        self.env.flush_all()
        return self.env.cr.sql_log_count - before, result

    def _costs(self):
        """[(addon, core) query counts of a lead create, of a stage write]; "core" is
        crm.lead without the addon's overrides (``super()`` of its class)."""
        Lead = self.env["crm.lead"]
        core = super(CrmLead, Lead)
        vals = {"stage_id": self.stage_qualified.id}
        costs = []
        for _round in range(2):  # the second round, with warm caches, counts
            create_addon, lead_addon = self._queries(Lead.create, [self._vals("Addon")])
            create_core, lead_core = self._queries(core.create, [self._vals("Core")])
            write_addon, _result = self._queries(lead_addon.write, vals)
            write_core, _result = self._queries(super(CrmLead, lead_core).write, vals)
            costs = [(create_addon, create_core), (write_addon, write_core)]
        return costs

    def test_create_and_write_cost_what_crm_costs(self):
        self._rule(self.stage_won)  # rules elsewhere change nothing here
        # A template for leads of another team's salespeople only.
        other_team = self.env["crm.team"].create({"name": "Other team"})
        self._template(
            event_key="lead_created", scope="teams", team_ids=[Command.set(other_team.ids)]
        )
        (create_addon, create_core), (write_addon, write_core) = self._costs()
        self.assertEqual(create_addon, create_core)
        self.assertEqual(write_addon, write_core)

    def test_automation_costs_when_it_applies(self):
        self._rule(self.stage_qualified)
        self._rule(self.stage_new)
        (create_addon, create_core), (write_addon, write_core) = self._costs()
        self.assertGreater(create_addon, create_core)
        self.assertGreater(write_addon, write_core)
