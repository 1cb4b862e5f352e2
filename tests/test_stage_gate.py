# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import TrackingCase
from .screenshots import TourScreenshotMixin


class GateCase(TrackingCase):
    """T Proposition is gated: expected revenue, the checklist item "Signed quote" and a
    planned activity."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Gate = cls.env["crm.stage.gate"]
        revenue = cls.env["ir.model.fields"]._get("crm.lead", "expected_revenue")
        cls.gate_revenue = cls.Gate.create(
            {"stage_id": cls.stage_proposition.id, "kind": "field", "field_id": revenue.id}
        )
        cls.gate_quote = cls.Gate.create(
            {"stage_id": cls.stage_proposition.id, "kind": "checklist", "name": "Signed quote"}
        )
        cls.gate_activity = cls.Gate.create(
            {"stage_id": cls.stage_proposition.id, "kind": "activity"}
        )

    def _meet(self, lead, revenue=True, quote=True, activity=True):
        if revenue:
            lead.expected_revenue = 5000
        if quote:
            lead.automation_gate_check_ids = [Command.link(self.gate_quote.id)]
        if activity:
            lead.activity_schedule("mail.mail_activity_data_todo", summary="Call")


@tagged("post_install", "-at_install")
class TestStageGate(GateCase):
    def test_salesperson_move_refused_with_each_missing_item(self):
        lead = self._lead().with_user(self.salesman)
        with self.assertRaises(UserError) as refusal:
            lead.write({"stage_id": self.stage_proposition.id})
        message = str(refusal.exception)
        self.assertIn("Office desks", message)
        self.assertIn("T Proposition", message)
        for item in ("Expected Revenue", "Signed quote", "a planned activity"):
            self.assertIn(item, message)
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_only_the_missing_items_are_named(self):
        lead = self._lead().with_user(self.salesman)
        self._meet(lead, quote=False)
        with self.assertRaisesRegex(UserError, "missing Signed quote$"):
            lead.stage_id = self.stage_proposition

    def test_move_allowed_when_the_gate_is_met(self):
        lead = self._lead().with_user(self.salesman)
        self._meet(lead)
        lead.stage_id = self.stage_proposition
        self.assertEqual(lead.stage_id, self.stage_proposition)

    def test_fields_given_with_the_move_count(self):
        lead = self._lead().with_user(self.salesman)
        self._meet(lead, revenue=False, quote=False)
        lead.write(
            {
                "stage_id": self.stage_proposition.id,
                "expected_revenue": 100,
                "automation_gate_check_ids": [Command.link(self.gate_quote.id)],
            }
        )
        self.assertEqual(lead.stage_id, self.stage_proposition)

    def test_create_in_a_gated_stage_refused(self):
        Lead = self.env["crm.lead"].with_user(self.salesman)
        vals = {"name": "Quick", "team_id": self.team.id, "stage_id": self.stage_proposition.id}
        with self.assertRaisesRegex(UserError, "Expected Revenue"):
            Lead.create(vals)
        # Superuser code (website forms, mail gateway) creates leads where it must.
        self.assertEqual(Lead.sudo().create(vals).stage_id, self.stage_proposition)

    def test_other_stages_and_archived_gates_are_free(self):
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        (self.gate_revenue | self.gate_quote | self.gate_activity).active = False
        lead.stage_id = self.stage_proposition
        self.assertEqual(lead.stage_id, self.stage_proposition)

    def test_bypass_key_for_automation_managers_only(self):
        manager = new_test_user(
            self.env,
            login="cpa_gate_admin",
            groups="sales_team.group_sale_manager,crm_pipeline_automation.group_automation_manager",
        )
        ctx = {"crm_automation_gate_bypass": True}
        lead = self._lead()
        with self.assertRaises(UserError):
            lead.with_user(self.salesman).with_context(**ctx).stage_id = self.stage_proposition
        lead.with_user(manager).with_context(**ctx).stage_id = self.stage_proposition
        self.assertEqual(lead.stage_id, self.stage_proposition)

    def test_requirement_needs_its_field_or_name(self):
        with self.assertRaises(ValidationError):
            self.Gate.create({"stage_id": self.stage_won.id, "kind": "field"})
        with self.assertRaises(ValidationError):
            self.Gate.create({"stage_id": self.stage_won.id, "kind": "checklist"})

    def test_trigger_move_held_and_logged(self):
        trigger = self._trigger(self.stage_proposition)
        lead = self._lead()
        event = self.Event._record(lead, "link_click", "email", url="https://example.com")
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(event.state, "blocked")
        self.assertIn("gate of T Proposition", event.verdict_reason)
        log = self._ledger(lead, "gate_blocked")
        self.assertEqual(len(log), 1)
        self.assertIn(
            "blocked by the gate of T Proposition: missing Expected Revenue, Signed quote",
            log.message,
        )
        self.assertFalse(self._ledger(lead))
        self.assertFalse(self._notes(lead))
        self.assertFalse(self.env["crm.stage.gate.hold"].search([("lead_id", "=", lead.id)]))
        # The gate met later: without the option, nothing moves.
        self._meet(lead)
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertTrue(trigger)

    def test_held_move_made_when_the_gate_is_met(self):
        trigger = self._trigger(self.stage_proposition, move_when_gate_met=True)
        lead = self._lead()
        self.Event._record(lead, "link_click", "email", url="https://example.com")
        hold = self.env["crm.stage.gate.hold"].search([("lead_id", "=", lead.id)])
        self.assertEqual(hold.state, "waiting")
        self.assertIn("moves when the gate is met", self._ledger(lead, "gate_blocked").message)
        seller_lead = lead.with_user(self.salesman)
        self._meet(seller_lead, quote=False)
        self.assertEqual(lead.stage_id, self.stage_new, "still missing the checklist item")
        self.assertEqual(hold.state, "waiting")
        seller_lead.automation_gate_check_ids = [Command.link(self.gate_quote.id)]
        self.assertEqual(hold.state, "moved")
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        self.assertEqual(hold.event_id.state, "fired")

    def test_held_move_made_when_the_activity_is_planned(self):
        trigger = self._trigger(self.stage_proposition, move_when_gate_met=True)
        lead = self._lead()
        self.Event._record(lead, "link_click", "email", url="https://example.com")
        seller_lead = lead.with_user(self.salesman)
        self._meet(seller_lead, activity=False)
        self.assertEqual(lead.stage_id, self.stage_new)
        seller_lead.activity_schedule("mail.mail_activity_data_todo", summary="Send the quote")
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)

    def test_held_move_cancelled_when_the_lead_moved_on(self):
        self._trigger(self.stage_proposition, move_when_gate_met=True)
        lead = self._lead()
        self.Event._record(lead, "link_click", "email", url="https://example.com")
        hold = self.env["crm.stage.gate.hold"].search([("lead_id", "=", lead.id)])
        lead.stage_id = self.stage_won
        lead.name = "Office desks (won)"
        self.assertEqual(hold.state, "cancelled")
        self.assertEqual(lead.stage_id, self.stage_won)

    def test_rule_move_held(self):
        stage_field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        self.env["crm.automation.rule"].create(
            {
                "name": "Straight to proposition",
                "stage_id": self.stage_qualified.id,
                "action_type": "update",
                "update_line_ids": [
                    Command.create(
                        {"field_id": stage_field.id, "value": str(self.stage_proposition.id)}
                    )
                ],
            }
        )
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        self.assertEqual(lead.stage_id, self.stage_qualified)
        log = self._ledger(lead, "gate_blocked")
        self.assertIn("missing Expected Revenue", log.message)
        self.assertEqual(log.rule_id.name, "Straight to proposition")

    def test_dry_run_shows_the_gate(self):
        self._trigger(self.stage_proposition)
        lead = self._lead()
        result = lead.automation_dry_run(lead.id, event_type="link_click")
        self.assertEqual(
            result["gate_missing"], ["Expected Revenue", "Signed quote", "a planned activity"]
        )
        self.assertFalse(result["rules"])

    def test_board_lists_the_gate(self):
        board = self.env["crm.automation.board"].get_board(self.team.id)
        stage = next(s for s in board["stages"] if s["id"] == self.stage_proposition.id)
        self.assertEqual(stage["gate"], ["Expected Revenue", "Signed quote", "a planned activity"])
        self.assertEqual(stage["idle_days"], 0)

    def test_gates_cost_nothing_to_moves_elsewhere(self):
        """A move to a stage without a gate costs what it costs with no gate at all."""
        Lead = self.env["crm.lead"]

        def cost():
            counts = []
            for _round in range(2):  # the second round, with warm caches, counts
                lead = Lead.create({"name": "Cost", "team_id": self.team.id})
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                lead.write({"stage_id": self.stage_qualified.id})
                self.env.flush_all()
                counts.append(self.env.cr.sql_log_count - before)
            return counts[-1]

        with_gates = cost()
        self.Gate.search([]).unlink()
        self.assertEqual(with_gates, cost())


@tagged("post_install", "-at_install")
class TestStageGateRpc(HttpCase):
    """The kanban's drag and drop saves the stage with ``web_save``: refused over
    JSON-RPC with the list of what is missing; a write over XML-RPC too."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seller = new_test_user(
            cls.env,
            login="cpa_gate_rpc",
            password="cpa_gate_rpc",
            groups="sales_team.group_sale_salesman",
        )
        team = cls.env["crm.team"].create({"name": "Gate RPC team"})
        cls.stage_a = cls.env["crm.stage"].create({"name": "Gate A", "team_id": team.id})
        cls.stage_b = cls.env["crm.stage"].create({"name": "Gate B", "team_id": team.id})
        cls.env["crm.stage.gate"].create(
            {"stage_id": cls.stage_b.id, "kind": "checklist", "name": "NDA signed"}
        )
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "RPC lead",
                "team_id": team.id,
                "stage_id": cls.stage_a.id,
                "user_id": cls.seller.id,
                "type": "opportunity",
            }
        )

    def test_kanban_save_refused_with_missing_items(self):
        self.authenticate("cpa_gate_rpc", "cpa_gate_rpc")
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "model": "crm.lead",
                "method": "web_save",
                "args": [[self.lead.id], {"stage_id": self.stage_b.id}],
                "kwargs": {"specification": {"stage_id": {}}},
            },
        }
        response = self.url_open(
            "/web/dataset/call_kw/crm.lead/web_save",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        error = response.json()["error"]["data"]
        self.assertEqual(error["name"], "odoo.exceptions.UserError")
        self.assertIn("Gate B: missing NDA signed", error["message"])
        self.lead.invalidate_recordset()
        self.assertEqual(self.lead.stage_id, self.stage_a)

    def test_xmlrpc_write_refused(self):
        with self.assertRaisesRegex(Exception, "NDA signed"):
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                self.seller.id,
                "cpa_gate_rpc",
                "crm.lead",
                "write",
                [[self.lead.id], {"stage_id": self.stage_b.id}],
            )


@tagged("post_install", "-at_install")
class TestStageGateTour(TourScreenshotMixin, HttpCase):
    """The salesperson drags a lead into a gated column: refused with what is missing;
    ticks the checklist on the form; the move then goes through."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        seller = new_test_user(
            cls.env,
            login="cpa_gate_tour",
            password="cpa_gate_tour",
            groups="sales_team.group_sale_salesman",
        )
        team = cls.env["crm.team"].create({"name": "Gate tour pipeline"})
        cls.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": seller.id})
        stage_a = cls.env["crm.stage"].create(
            {"name": "Gate tour new", "sequence": -2, "team_id": team.id}
        )
        cls.stage_b = cls.env["crm.stage"].create(
            {"name": "Gate tour quote", "sequence": -1, "team_id": team.id}
        )
        # A lead already there (before the gate): the column shows in the pipeline.
        cls.env["crm.lead"].create(
            {
                "name": "Gate tour signed lead",
                "type": "opportunity",
                "team_id": team.id,
                "stage_id": cls.stage_b.id,
                "user_id": seller.id,
            }
        )
        cls.env["crm.stage.gate"].create(
            {"stage_id": cls.stage_b.id, "kind": "checklist", "name": "Quote signed"}
        )
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Gate tour lead",
                "type": "opportunity",
                "team_id": team.id,
                "stage_id": stage_a.id,
                "user_id": seller.id,
            }
        )

    def test_refused_drag_then_checklist(self):
        self.start_tour("/odoo/crm", "crm_pipeline_automation_gate_tour", login="cpa_gate_tour")
        self.assertEqual(self.lead.stage_id, self.stage_b)
        self.assertEqual(self.lead.automation_gate_check_ids.name, "Quote signed")
