# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from .common import AutomationCase, TrackingCase
from .screenshots import TourScreenshotMixin

# Lead fields compared before the change and after its undo.
STATE_FIELDS = (
    "stage_id",
    "user_id",
    "team_id",
    "tag_ids",
    "engagement_score",
    "priority",
    "expected_revenue",
    "date_deadline",
    "active",
)


def lead_state(lead):
    lead.invalidate_recordset()
    return {
        name: lead[name].ids
        if name in ("tag_ids",)
        else (lead[name].id if hasattr(lead[name], "ids") else lead[name])
        for name in STATE_FIELDS
    }


@tagged("post_install", "-at_install")
class TestUndo(AutomationCase):
    """Every undoable kind round-trips: the state after the undo is the state before
    the change, field by field; changed values refuse with field, expected, found."""

    def _enter(self, rule, **lead_vals):
        lead = self._lead(**lead_vals)
        before = lead_state(lead)
        lead.stage_id = rule.stage_id
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "done", job.last_error)
        row = self._logs(lead, "rule_done").filtered(lambda r: r.rule_id == rule)
        self.assertEqual(len(row), 1)
        return lead, row, before

    def _undo(self, row, user=None):
        row.with_user(user or self.leader).action_undo()

    def _back_to(self, lead, before, ignore=("stage_id",)):
        after = lead_state(lead)
        for name in STATE_FIELDS:
            if name not in ignore:
                self.assertEqual(after[name], before[name], name)

    def _line(self, fname, value):
        field = self.env["ir.model.fields"]._get("crm.lead", fname)
        return Command.create({"field_id": field.id, "value": value})

    def test_tags_added_removed_round_trip(self):
        rule = self._rule(
            self.stage_qualified,
            "tags",
            tag_add_ids=[Command.link(self.tag_hot.id)],
            tag_remove_ids=[Command.link(self.tag_cold.id)],
        )
        lead, row, before = self._enter(rule, tag_ids=[Command.link(self.tag_cold.id)])
        self.assertEqual(lead.tag_ids, self.tag_hot)
        self.assertEqual(row.undo_state, "undoable")
        self.assertEqual(
            row.undo_data["tags"], {"added": [self.tag_hot.id], "removed": [self.tag_cold.id]}
        )
        self._undo(row)
        self._back_to(lead, before)
        self.assertEqual(lead.stage_id, self.stage_qualified, "only the action is undone")
        undone = self._logs(lead, "undone")
        self.assertEqual(undone.undo_of_id, row)
        self.assertIn("does not re-run automation", undone.message)
        row.invalidate_recordset()
        self.assertEqual(row.undo_state, "undone")
        with self.assertRaisesRegex(UserError, "already undone"):
            self._undo(row)

    def test_score_delta_round_trip(self):
        rule = self._rule(self.stage_qualified, "tags", tag_add_ids=False, score_delta=7)
        lead, row, before = self._enter(rule, engagement_score=5)
        self.assertEqual(lead.engagement_score, 12)
        self._undo(row)
        self._back_to(lead, before)

    def test_assign_round_trip_user_and_team(self):
        other = self.env["crm.team"].create({"name": "Other team", "user_id": self.leader.id})
        self.env["crm.team.member"].create({"crm_team_id": other.id, "user_id": self.salesman2.id})
        self.env["crm.team.member"].search(
            [("crm_team_id", "=", self.team.id), ("user_id", "=", self.salesman2.id)]
        ).unlink()
        rule = self._rule(
            self.stage_qualified, "assign", assign_mode="user", assign_user_id=self.salesman2.id
        )
        lead, row, before = self._enter(rule)
        self.assertEqual((lead.user_id, lead.team_id), (self.salesman2, other))
        self.assertEqual(set(row.undo_data["fields"]), {"user_id", "team_id"})
        self._undo(row)
        self._back_to(lead, before)

    def test_field_update_round_trip(self):
        rule = self._rule(
            self.stage_qualified,
            "update",
            update_line_ids=[
                self._line("priority", "3"),
                self._line("expected_revenue", "2500.5"),
                self._line("date_deadline", "2026-03-01"),
                self._line("tag_ids", str(self.tag_cold.id)),
            ],
        )
        lead, row, before = self._enter(
            rule, priority="1", expected_revenue=10, tag_ids=[Command.link(self.tag_hot.id)]
        )
        self.assertEqual(lead.priority, "3")
        self._undo(row)
        self._back_to(lead, before)

    def test_stage_move_by_update_rule_round_trip_no_rerun(self):
        """The move made by an ``update`` rule is undone from its stage_entered row:
        the old stage is back, the rules of the restored stage do not run again and
        the jobs planned by the undone move are cancelled."""
        move = self._rule(
            self.stage_qualified,
            "update",
            update_line_ids=[self._line("stage_id", str(self.stage_proposal.id))],
        )
        tags_on_qualified = self._rule(self.stage_qualified, "tags", sequence=1)
        later = self._rule(self.stage_proposal, "tags", timing="delay", delay_count=2)
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        self.assertEqual(lead.stage_id, self.stage_proposal)
        self.assertEqual(self._jobs(lead, later).state, "pending")
        row = self._logs(lead, "stage_entered").filtered(lambda r: r.rule_id == move)
        self.assertEqual(
            row.undo_data["fields"]["stage_id"], [self.stage_qualified.id, self.stage_proposal.id]
        )
        lead.tag_ids = False
        self._undo(row)
        self.assertEqual(lead.stage_id, self.stage_qualified)
        self.assertFalse(lead.tag_ids, "rules of the restored stage do not run again")
        self.assertEqual(len(self._jobs(lead, tags_on_qualified)), 1)
        self.assertEqual(self._jobs(lead, later).state, "cancelled")
        restored = self._logs(lead, "stage_entered")[-1]
        self.assertFalse(restored.automatic)
        self.assertIn("does not re-run automation", restored.message)

    def test_activity_created_round_trip(self):
        rule = self._rule(self.stage_qualified, "activity", activity_summary="Call")
        lead, row, before = self._enter(rule)
        activity = lead.activity_ids
        self.assertEqual(row.undo_data["activity_id"], activity.id)
        self._undo(row)
        self.assertFalse(activity.exists())
        self._back_to(lead, before)

    def test_activity_done_since_refuses(self):
        rule = self._rule(self.stage_qualified, "activity", activity_summary="Call")
        lead, row, _before = self._enter(rule)
        lead.activity_ids.action_feedback("done")
        with self.assertRaisesRegex(UserError, "no longer open"):
            self._undo(row)

    def test_repeat_lead_round_trip_archives_untouched(self):
        rule = self._rule(self.stage_won, "repeat_lead", target_stage_id=self.stage_new.id)
        lead, row, _before = self._enter(rule)
        repeat = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
        self.assertEqual(row.undo_data["lead_id"], repeat.id)
        self._undo(row)
        self.assertFalse(repeat.active)

    def test_copy_lead_touched_since_refuses(self):
        rule = self._rule(self.stage_won, "copy_lead", target_stage_id=self.stage_new.id)
        lead, row, _before = self._enter(rule)
        copy = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
        # Edited later (another transaction: a later write date).
        self.env.cr.execute(
            "UPDATE crm_lead SET write_date = write_date + interval '1 hour' WHERE id = %s",
            [copy.id],
        )
        copy.invalidate_recordset()
        with self.assertRaisesRegex(UserError, "changed since"):
            self._undo(row)
        self.assertTrue(copy.active)

    def test_changed_since_refuses_naming_field_expected_found(self):
        rule = self._rule(
            self.stage_qualified, "assign", assign_mode="user", assign_user_id=self.salesman2.id
        )
        lead, row, _before = self._enter(rule)
        lead.user_id = self.leader
        with self.assertRaises(UserError) as caught:
            self._undo(row)
        message = str(caught.exception)
        for part in ("Salesperson", "Sue Seller", "Lea Leader"):
            self.assertIn(part, message)
        self.assertEqual(lead.user_id, self.leader, "nothing written")
        self.assertFalse(self._logs(lead, "undone"))

    def test_only_managers_undo(self):
        rule = self._rule(self.stage_qualified, "tags")
        lead, row, _before = self._enter(rule, user_id=self.salesman.id)
        with self.assertRaisesRegex(UserError, "automation managers"):
            self._undo(row, self.salesman)
        self.assertEqual(lead.tag_ids, self.tag_hot)

    def test_not_undoable_rows_say_why(self):
        rule = self._rule(
            self.stage_qualified,
            "notify",
            notify_target="users",
            notify_user_ids=[Command.set(self.leader.ids)],
            notify_message="hello",
        )
        lead, row, _before = self._enter(rule)
        self.assertEqual(row.undo_state, "irreversible")
        with self.assertRaisesRegex(UserError, "Cannot be taken back"):
            self._undo(row)
        # A row of before this version (no undo data): not undoable.
        tags = self._rule(self.stage_proposal, "tags")
        lead.stage_id = self.stage_proposal
        legacy = self._logs(lead, "rule_done").filtered(lambda r: r.rule_id == tags)
        self.env.cr.execute(
            "UPDATE crm_automation_log SET undo_data = NULL WHERE id = %s", [legacy.id]
        )
        legacy.invalidate_recordset()
        self.assertEqual(legacy.undo_state, "legacy")
        with self.assertRaisesRegex(UserError, "before undo existed"):
            self._undo(legacy)

    def test_bulk_wizard_preview_then_run(self):
        rule = self._rule(
            self.stage_qualified, "assign", assign_mode="user", assign_user_id=self.salesman2.id
        )
        notify = self._rule(
            self.stage_qualified,
            "notify",
            notify_target="users",
            notify_user_ids=[Command.set(self.leader.ids)],
            notify_message="hello",
        )
        leads = self.env["crm.lead"]
        for _i in range(3):
            leads |= self._lead()
        leads.stage_id = self.stage_qualified
        self.assertEqual(leads.user_id, self.salesman2)
        leads[0].user_id = self.leader  # changed since
        now = fields.Datetime.now()
        wizard = (
            self.env["crm.automation.undo.wizard"]
            .with_user(self.leader)
            .create(
                {
                    "rule_id": rule.id,
                    "date_from": now - timedelta(hours=1),
                    "date_to": now + timedelta(hours=1),
                }
            )
        )
        wizard.action_preview()
        self.assertEqual((wizard.count_undoable, wizard.count_changed), (2, 1))
        self.assertIn("Assign a salesperson", wizard.preview)
        self.assertIn("Lea Leader", wizard.preview)
        self.assertEqual(leads[1].user_id, self.salesman2, "the preview writes nothing")
        wizard.action_run()
        self.assertEqual(wizard.state, "done")
        self.assertEqual(leads[0].user_id, self.leader)
        self.assertEqual((leads[1] | leads[2]).user_id, self.salesman)
        # The notifications are listed as such, never silently skipped.
        wizard2 = (
            self.env["crm.automation.undo.wizard"]
            .with_user(self.leader)
            .create(
                {"rule_id": notify.id, "date_from": wizard.date_from, "date_to": wizard.date_to}
            )
        )
        wizard2.action_preview()
        self.assertEqual(wizard2.count_not_undoable, 3)
        self.assertIn("Cannot be taken back", wizard2.preview)

    def test_bulk_unwinds_chained_changes_in_order(self):
        """Two rules changed the same field of the same lead: the bulk undo restores
        the value before the first."""
        first = self._rule(
            self.stage_qualified, "assign", assign_mode="user", assign_user_id=self.salesman2.id
        )
        second = self._rule(self.stage_proposal, "assign", assign_mode="team_leader")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        lead.stage_id = self.stage_proposal
        self.assertEqual(lead.user_id, self.leader)
        rows = self._logs(lead, "rule_done").filtered(lambda r: r.rule_id in (first | second))
        self.env["crm.automation.undo"].with_user(self.leader)._undo(rows)
        self.assertEqual(lead.user_id, self.salesman)
        # The undone rows are listed once each.
        self.assertEqual(len(self._logs(lead, "undone")), 2)


@tagged("post_install", "-at_install")
class TestUndoTrigger(TrackingCase):
    def test_stage_move_by_trigger_round_trip(self):
        trigger = self._trigger(self.stage_qualified)
        lead = self._lead()
        before = lead_state(lead)
        self.Event._record(lead, "link_click", "email", url="https://example.com/x")
        self.assertEqual(lead.stage_id, self.stage_qualified)
        row = self.env["crm.automation.log"].search(
            [("lead_id", "=", lead.id), ("kind", "=", "stage_entered")]
        )[:1]
        self.assertEqual(row.undo_data["trigger_id"], trigger.id)
        self.assertEqual(row.undo_state, "undoable")
        self.assertIs(row.with_user(self.manager).action_undo(), True)
        after = lead_state(lead)
        # The click's engagement points are the event's, not the trigger's change.
        for name in set(STATE_FIELDS) - {"engagement_score"}:
            self.assertEqual(after[name], before[name], name)

    def test_bulk_by_trigger(self):
        trigger = self._trigger(self.stage_qualified)
        leads = self._lead() | self._lead() | self._lead()
        for lead in leads:
            self.Event._record(lead, "link_click", "email", url="https://example.com/x")
        self.assertEqual(leads.stage_id, self.stage_qualified)
        leads[2].stage_id = self.stage_proposition  # changed since
        now = fields.Datetime.now()
        wizard = (
            self.env["crm.automation.undo.wizard"]
            .with_user(self.manager)
            .create(
                {
                    "trigger_id": trigger.id,
                    "date_from": now - timedelta(hours=1),
                    "date_to": now + timedelta(hours=1),
                }
            )
        )
        wizard.action_preview()
        self.assertEqual((wizard.count_undoable, wizard.count_changed), (2, 1))
        self.assertIn("Stage move", wizard.preview)
        wizard.action_run()
        self.assertEqual((leads[0] | leads[1]).stage_id, self.stage_new)
        self.assertEqual(leads[2].stage_id, self.stage_proposition)


@tagged("post_install", "-at_install")
class TestUndoTour(TourScreenshotMixin, AutomationCase, HttpCase):
    """The Undo button of the lead's Automation tab and the bulk wizard's preview, in
    headless Chromium, as an automation manager (the team leader)."""

    def test_undo_button_on_the_lead(self):
        tag = self.env["crm.tag"].create({"name": "Tour hot"})
        rule = self._rule(self.stage_qualified, "tags", tag_add_ids=[Command.link(tag.id)])
        lead = self._lead()
        lead.stage_id = rule.stage_id
        self.assertEqual(lead.tag_ids, tag)
        self.start_tour(
            f"/odoo/crm/{lead.id}", "crm_pipeline_automation_undo_tour", login=self.leader.login
        )
        self.assertFalse(lead.tag_ids)
        self.assertTrue(self._logs(lead, "undone"))

    def test_bulk_wizard_preview(self):
        self._rule(
            self.stage_qualified,
            "assign",
            name="Tour assign",
            assign_mode="user",
            assign_user_id=self.salesman2.id,
        )
        leads = self._lead() | self._lead() | self._lead()
        leads.stage_id = self.stage_qualified
        leads[0].user_id = self.leader
        self.start_tour("/odoo", "crm_pipeline_automation_undo_bulk_tour", login=self.leader.login)
        self.assertEqual((leads[1] | leads[2]).user_id, self.salesman)
        self.assertEqual(leads[0].user_id, self.leader)
