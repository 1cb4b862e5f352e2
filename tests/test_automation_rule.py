# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import NOW, AutomationCase


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestAutomationRule(AutomationCase):
    """Stage entry detection, timing modes, conditions, visits, won/lost, loop guard."""

    def test_immediate_rule_runs_on_entry(self):
        rule = self._rule(self.stage_qualified)
        lead = self._lead()
        self.assertFalse(self._jobs(lead))
        lead.stage_id = self.stage_qualified
        job = self._jobs(lead)
        self.assertEqual(job.state, "done")
        self.assertEqual(job.visit, lead.automation_visit)
        self.assertIn(self.tag_hot, lead.tag_ids)
        # Created in a stage without rules: no ledger row for that entry (free when
        # idle); the entry the rule ran for is in the ledger.
        entered = self._logs(lead, "stage_entered")
        self.assertEqual(entered.mapped("stage_id"), self.stage_qualified)
        self.assertEqual(entered[-1].from_stage_id, self.stage_new)
        self.assertEqual(entered[-1].user_id, self.env.user)
        done = self._logs(lead, "rule_done")
        self.assertEqual(done.rule_id, rule)
        self.assertIn(rule.name, lead.message_ids[0].body)
        self.assertEqual(lead.automation_log_count, 2)

    def test_create_enters_first_stage(self):
        rule = self._rule(self.stage_new)
        lead = self._lead()
        self.assertEqual(self._jobs(lead).rule_id, rule)
        self.assertEqual(lead.automation_visit, 1)

    def test_delay_minutes_hours_days_weeks_months(self):
        lead = self._lead()
        cases = [(90, "minutes"), (2, "hours"), (3, "days"), (2, "weeks"), (6, "months")]
        rules = [
            self._rule(self.stage_qualified, timing="delay", delay_count=count, delay_unit=unit)
            for count, unit in cases
        ]
        lead.stage_id = self.stage_qualified
        expected = [
            NOW + timedelta(minutes=90),
            NOW + timedelta(hours=2),
            NOW + timedelta(days=3),
            NOW + timedelta(weeks=2),
            datetime(2026, 7, 12, 10, 0),
        ]
        for rule, run_at in zip(rules, expected, strict=True):
            job = self._jobs(lead, rule)
            self.assertEqual(job.state, "pending")
            self.assertEqual(job.run_at, run_at, rule.delay_unit)
        self.assertFalse(self._dispatch())
        with freeze_time(NOW + timedelta(minutes=90)):
            self.assertEqual(self._dispatch(), self._jobs(lead, rules[0]).ids)
        self.assertEqual(self._jobs(lead, rules[0]).state, "done")
        self.assertEqual(self._jobs(lead, rules[1]).state, "pending")

    def test_relative_to_date_field(self):
        date_open = self.env["ir.model.fields"]._get("crm.lead", "date_open")
        date_deadline = self.env["ir.model.fields"]._get("crm.lead", "date_deadline")
        before = self._rule(
            self.stage_qualified,
            timing="date_field",
            date_field_id=date_open.id,
            date_direction="before",
            delay_count=120,
            delay_unit="minutes",
        )
        after = self._rule(
            self.stage_qualified,
            timing="date_field",
            date_field_id=date_deadline.id,
            date_direction="after",
            delay_count=6,
            delay_unit="months",
        )
        meeting = datetime(2026, 1, 20, 15, 0)
        lead = self._lead(date_open=meeting, date_deadline="2026-02-01")
        empty = self._lead(date_open=meeting, date_deadline=False)
        (lead | empty).stage_id = self.stage_qualified
        self.assertEqual(self._jobs(lead, before).run_at, meeting - timedelta(minutes=120))
        # A Date counts from midnight in the calendar's time zone (Brussels, UTC+1).
        self.assertEqual(self._jobs(lead, after).run_at, datetime(2026, 7, 31, 22, 0))
        self.assertFalse(self._jobs(empty, after))
        skipped = self._logs(empty, "rule_skipped")
        self.assertEqual(skipped.rule_id, after)
        self.assertIn("empty", skipped.message)

    def test_date_field_in_the_past_runs_at_once(self):
        date_open = self.env["ir.model.fields"]._get("crm.lead", "date_open")
        rule = self._rule(
            self.stage_qualified,
            timing="date_field",
            date_field_id=date_open.id,
            date_direction="before",
            delay_count=2,
            delay_unit="hours",
        )
        lead = self._lead(date_open=NOW + timedelta(minutes=30))
        lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual(job.run_at, NOW - timedelta(minutes=90))
        # Already due: run with the (small) write, like an immediate rule.
        self.assertEqual(job.state, "done")

    def test_condition_at_entry(self):
        rule = self._rule(self.stage_qualified, filter_domain="[('priority', '=', '3')]")
        hot = self._lead(priority="3")
        cold = self._lead(priority="0")
        (hot | cold).stage_id = self.stage_qualified
        self.assertEqual(self._jobs(hot).state, "done")
        self.assertFalse(self._jobs(cold))
        skipped = self._logs(cold, "rule_skipped")
        self.assertEqual(skipped.rule_id, rule)
        # The condition, in words (as the board and the dry-run say it).
        self.assertEqual(skipped.message, "Condition not met at entry: Priority is Very High")

    def test_condition_at_run_time(self):
        rule = self._rule(
            self.stage_qualified,
            timing="delay",
            delay_count=1,
            delay_unit="hours",
            filter_domain="[('priority', '=', '3')]",
        )
        lead = self._lead(priority="3")
        lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "pending")
        lead.priority = "1"
        with freeze_time(NOW + timedelta(hours=1)):
            self._dispatch()
        self.assertEqual(job.state, "cancelled")
        self.assertNotIn(self.tag_hot, lead.tag_ids)
        self.assertIn("run time", self._logs(lead, "rule_skipped").message)

    def test_invalid_condition_rejected(self):
        with self.assertRaises(ValidationError):
            self._rule(self.stage_qualified, filter_domain="[('no_such_field', '=', 1)]")

    def test_leaving_cancels_pending_jobs_unless_keep_running(self):
        cancelled = self._rule(
            self.stage_qualified, timing="delay", delay_count=1, delay_unit="days"
        )
        kept = self._rule(
            self.stage_qualified,
            timing="delay",
            delay_count=1,
            delay_unit="days",
            keep_running=True,
        )
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        lead.stage_id = self.stage_proposal
        self.assertEqual(self._jobs(lead, cancelled).state, "cancelled")
        self.assertEqual(self._jobs(lead, kept).state, "pending")
        log = self._logs(lead, "job_cancelled")
        self.assertEqual(log.rule_id, cancelled)
        self.assertIn("left the stage", log.message)
        with freeze_time(NOW + timedelta(days=1)):
            self._dispatch()
        self.assertEqual(self._jobs(lead, kept).state, "done")

    def test_leaving_logs_the_cancellation_in_the_users_language(self):
        """The ledger message of a job cancelled by leaving the stage is translated in
        the language of the environment (none was found: warning, text untranslated)."""
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        with self.assertNoLogs("odoo.tools.translate", "WARNING"):
            lead.stage_id = self.stage_proposal
        self.assertIn("left the stage", self._logs(lead, "job_cancelled").message)

    def test_reentry_is_a_new_visit(self):
        rule = self._rule(self.stage_qualified, timing="delay", delay_count=2, delay_unit="hours")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        lead.stage_id = self.stage_new
        with freeze_time(NOW + timedelta(hours=1)):
            lead.stage_id = self.stage_qualified
        jobs = self._jobs(lead, rule)
        self.assertEqual(jobs.mapped("state"), ["cancelled", "pending"])
        self.assertEqual(jobs[1].visit, lead.automation_visit)
        self.assertEqual(jobs[1].run_at, NOW + timedelta(hours=3))
        with freeze_time(NOW + timedelta(hours=3)):
            self.assertEqual(self._dispatch(), jobs[1].ids)

    def test_same_stage_write_is_not_an_entry(self):
        self._rule(self.stage_qualified)
        lead = self._lead(stage=self.stage_qualified)
        visit = lead.automation_visit
        lead.write({"stage_id": self.stage_qualified.id, "name": "Renamed"})
        self.assertEqual(lead.automation_visit, visit)
        self.assertEqual(len(self._jobs(lead)), 1)

    def test_skipped_stages(self):
        opted = self._rule(self.stage_qualified, run_when_skipped=True)
        not_opted = self._rule(self.stage_qualified, tag_add_ids=[Command.link(self.tag_cold.id)])
        target = self._rule(self.stage_proposal, action_type="update")
        lead = self._lead()
        lead.stage_id = self.stage_proposal
        self.assertEqual(self._jobs(lead).rule_id, opted | target)
        self.assertFalse(self._jobs(lead, not_opted))
        self.assertIn(self.tag_hot, lead.tag_ids)
        # Backward moves do not skip over anything.
        back = self._lead(stage=self.stage_proposal)
        back.stage_id = self.stage_new
        self.assertFalse(self._jobs(back, opted))

    def test_won_fires_rules(self):
        rule = self._rule(self.stage_won)
        lead = self._lead(stage=self.stage_proposal)
        lead.action_set_won()
        self.assertEqual(lead.stage_id, self.stage_won)
        self.assertEqual(self._jobs(lead, rule).state, "done")
        self.assertIn(self.tag_hot, lead.tag_ids)

    def test_lost_cancels_pending_jobs(self):
        rule = self._rule(
            self.stage_qualified,
            timing="delay",
            delay_count=1,
            delay_unit="days",
            keep_running=True,
        )
        lead = self._lead(stage=self.stage_qualified)
        lead.action_set_lost()
        self.assertFalse(lead.active)
        self.assertEqual(self._jobs(lead, rule).state, "cancelled")
        self.assertIn("lost", self._logs(lead, "job_cancelled").message)
        self.assertTrue(self._logs(lead, "lead_lost"))
        with freeze_time(NOW + timedelta(days=2)):
            self.assertFalse(self._dispatch())

    def test_archived_rule_does_not_fire(self):
        rule = self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        rule.active = False
        with freeze_time(NOW + timedelta(hours=2)):
            self._dispatch()
        self.assertEqual(self._jobs(lead).state, "cancelled")
        other = self._lead()
        other.stage_id = self.stage_qualified
        self.assertFalse(self._jobs(other))

    def test_bulk_write_leaves_jobs_to_dispatcher(self):
        self._rule(self.stage_qualified)
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        leads = self.env["crm.lead"].create(
            [
                {"name": f"Lead {i}", "team_id": self.team.id, "stage_id": self.stage_new.id}
                for i in range(25)
            ]
        )
        leads.write({"stage_id": self.stage_qualified.id})
        jobs = self.Job.search([("lead_id", "in", leads.ids)])
        self.assertEqual(len(jobs), 50)
        self.assertEqual(set(jobs.mapped("state")), {"pending"})
        # One row per move into the stage with rules; the creation in a stage without
        # rules leaves none (free when idle).
        self.assertEqual(
            len(self.Log.search([("lead_id", "in", leads.ids), ("kind", "=", "stage_entered")])), 25
        )
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_automation_run_jobs")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self.assertEqual(len(self._dispatch()), 25)
        self.assertTrue(all(self.tag_hot in lead.tag_ids for lead in leads))

    def test_bulk_write_is_set_wise(self):
        """The engine's queries do not grow with the number of leads written."""
        for _i in range(4):
            self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")

        def engine_queries(count):
            leads = self.env["crm.lead"].create(
                [
                    {"name": f"L{i}", "team_id": self.team.id, "stage_id": self.stage_new.id}
                    for i in range(count)
                ]
            )
            self.env.flush_all()
            # Only the engine's work: the hook called as the write calls it.
            old = {lead.id: lead.stage_id for lead in leads}
            self.env.cr.execute(
                "UPDATE crm_lead SET stage_id = %s WHERE id = ANY(%s)",
                [self.stage_qualified.id, leads.ids],
            )
            leads.invalidate_recordset(["stage_id"])
            before = self.env.cr.sql_log_count
            leads._automation_stage_changed(old)
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        small, large = engine_queries(30), engine_queries(300)
        self.assertLessEqual(
            large, small + 2, f"engine queries grow with the batch: {small} vs {large}"
        )
        self.assertLess(large, 40)

    def test_loop_guard_per_transaction(self):
        move = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        self._rule(
            self.stage_new,
            action_type="update",
            update_line_ids=[
                Command.create({"field_id": move.id, "value": str(self.stage_qualified.id)})
            ],
        )
        self._rule(
            self.stage_qualified,
            action_type="update",
            update_line_ids=[
                Command.create({"field_id": move.id, "value": str(self.stage_new.id)})
            ],
        )
        self.env["ir.config_parameter"].set_param(
            "crm_pipeline_automation.loop_max_moves_per_transaction", 4
        )
        lead = self._lead(stage=self.stage_proposal)
        lead.stage_id = self.stage_new
        stopped = self._logs(lead, "loop_stopped")
        self.assertEqual(len(stopped), 1)
        self.assertIn("one transaction", stopped.message)
        automatic = self._logs(lead, "stage_entered").filtered("automatic")
        self.assertEqual(len(automatic), 4)
        self.assertTrue(all(entry.rule_id for entry in automatic))

    def test_loop_guard_per_hour(self):
        move = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        self._rule(
            self.stage_new,
            action_type="update",
            update_line_ids=[
                Command.create({"field_id": move.id, "value": str(self.stage_qualified.id)})
            ],
        )
        self.env["ir.config_parameter"].set_param(
            "crm_pipeline_automation.loop_max_moves_per_hour", 2
        )
        lead = self._lead(stage=self.stage_proposal)
        for _i in range(3):
            self.env["crm.lead"]._automation_reset_transaction_counters()
            lead.stage_id = self.stage_new
        self.assertEqual(len(self._logs(lead, "stage_entered").filtered("automatic")), 2)
        stopped = self._logs(lead, "loop_stopped")
        self.assertEqual(len(stopped), 1)
        self.assertIn("one hour", stopped.message)

    def test_failure_isolated_retried_then_failed(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "Broken",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "state": "code",
                "code": "record.write({'name': 'half done'})\nraise UserError('boom')",
            }
        )
        rule = self._rule(
            self.stage_qualified, action_type="server_action", server_action_id=action.id
        )
        self.env["ir.config_parameter"].set_param("crm_pipeline_automation.job_max_attempts", 3)
        lead = self._lead()
        lead.write({"stage_id": self.stage_qualified.id, "priority": "2"})
        # The write succeeded; the action's partial effect was rolled back.
        self.assertEqual(lead.stage_id, self.stage_qualified)
        self.assertEqual(lead.priority, "2")
        self.assertEqual(lead.name, "Office desks")
        job = self._jobs(lead, rule)
        self.assertEqual((job.state, job.attempts), ("pending", 1))
        self.assertIn("boom", job.last_error)
        self.assertEqual(job.run_at, NOW + timedelta(minutes=5))
        self.assertFalse(self._dispatch())
        with freeze_time(NOW + timedelta(minutes=5)):
            self._dispatch()
        self.assertEqual((job.state, job.attempts), ("pending", 2))
        self.assertEqual(job.run_at, NOW + timedelta(minutes=15))
        with freeze_time(NOW + timedelta(minutes=15)):
            self._dispatch()
        self.assertEqual((job.state, job.attempts), ("failed", 3))
        self.assertEqual(len(self._logs(lead, "job_retry")), 2)
        failed = self._logs(lead, "job_failed")
        self.assertIn("boom", failed.message)
        self.assertIn("failed after 3 attempts", lead.message_ids[0].body)
        self.assertEqual(lead.name, "Office desks")

    def test_manager_buttons(self):
        rule = self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule).with_user(self.leader)
        job.action_run_now()
        self.assertEqual(job.state, "done")
        with self.assertRaises(UserError):
            job.action_run_now()
        self.assertEqual(len(self._logs(lead, "rule_done")), 1)
        lead.stage_id = self.stage_new
        lead.stage_id = self.stage_qualified
        job2 = self._jobs(lead, rule)[-1].with_user(self.leader)
        job2.action_cancel()
        self.assertEqual(job2.state, "cancelled")
        job2.action_retry()
        self.assertEqual((job2.state, job2.run_at), ("pending", NOW))
        with self.assertRaises(UserError):
            job2.with_user(self.salesman).action_run_now()


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestAutomationLedger(AutomationCase):
    """Append-only ledger, retention, access."""

    def test_ledger_is_append_only(self):
        self._rule(self.stage_qualified)
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        log = self._logs(lead)[0]
        with self.assertRaises(UserError):
            log.write({"message": "edited"})
        with self.assertRaises(UserError):
            log.unlink()
        with self.assertRaises(UserError):
            self.Log.with_user(self.leader).create({"lead_id": lead.id, "kind": "rule_done"})

    def test_retention_autovacuum(self):
        lead = self._lead()
        with freeze_time(NOW - timedelta(days=400)):
            self.Log._log(lead, "rule_done", message="old")
        self.Log._log(lead, "rule_done", message="recent")
        self.env["ir.config_parameter"].set_param(
            "crm_pipeline_automation.ledger_retention_days", 365
        )
        self.Log._gc_ledger()
        self.assertEqual(self._logs(lead, "rule_done").mapped("message"), ["recent"])

    def test_salesman_reads_ledger_of_his_leads_only(self):
        self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="days")
        mine = self._lead(user_id=self.salesman.id)
        other = self._lead(user_id=self.salesman2.id)
        (mine | other).stage_id = self.stage_qualified
        Log = self.Log.with_user(self.salesman)
        self.assertEqual(Log.search([("lead_id", "in", (mine | other).ids)]).lead_id, mine)
        self.assertEqual(
            self.Job.with_user(self.salesman)
            .search([("lead_id", "in", (mine | other).ids)])
            .lead_id,
            mine,
        )
        with self.assertRaises(AccessError):
            self._logs(other).with_user(self.salesman).read(["message"])
        # The smart button of the lead form.
        self.assertEqual(mine.with_user(self.salesman).automation_job_pending_count, 1)
        action = mine.with_user(self.salesman).action_view_automation()
        self.assertEqual(action["res_model"], "crm.automation.log")

    def test_rules_managed_by_managers_only(self):
        with self.assertRaises(AccessError):
            self.env["crm.automation.rule"].with_user(self.salesman).create(
                {"name": "x", "stage_id": self.stage_new.id, "action_type": "tags"}
            )
        rule = (
            self.env["crm.automation.rule"]
            .with_user(self.leader)
            .create({"name": "x", "stage_id": self.stage_new.id, "action_type": "tags"})
        )
        self.assertEqual(rule.with_user(self.salesman).name, "x")
        self.assertIn(rule, self.stage_new.automation_rule_ids)
