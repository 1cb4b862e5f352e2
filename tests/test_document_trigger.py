# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Document triggers on real quotations, orders and invoices: `make test` installs the
test companion crm_pipeline_automation_sale_test (sale_crm, account) next to the addon
(tests/companion/)."""

import json
import unittest
import xmlrpc.client

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tests.common import get_db_name

from ..hooks import uninstall_hook
from .common import TrackingCase


@tagged("post_install", "-at_install")
class TestDocumentTrigger(TrackingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "sale.order" not in cls.env or "sale_line_ids" not in cls.env["account.move.line"]:
            raise unittest.SkipTest(
                "needs sale_crm and account (crm_pipeline_automation_sale_test)"
            )
        cls.Automation = cls.env["base.automation"].with_context(active_test=False)
        cls.product = cls.env["product.product"].create(
            {
                "name": "Desk assembly",
                "type": "service",
                "invoice_policy": "order",
                "list_price": 100.0,
            }
        )

    def _order(self, lead, user=None):
        return (
            self.env["sale.order"]
            .with_user(user or self.salesman)
            .create(
                {
                    "partner_id": self.partner.id,
                    "opportunity_id": lead.id,
                    "order_line": [Command.create({"product_id": self.product.id})],
                }
            )
        )

    def _document_events(self, lead):
        return self.Event.search([("lead_id", "=", lead.id), ("event_type", "=", "document")])

    def _pay(self, invoice):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()

    # ------------------------------------------------------------------
    # Documents move leads
    # ------------------------------------------------------------------

    def test_order_confirmed_moves_lead(self):
        trigger = self._trigger(
            self.stage_proposition,
            "document",
            name="Order confirmed",
            document_preset="sale_confirmed",
        )
        lead = self._lead()
        order = self._order(lead)
        self.assertEqual(lead.stage_id, self.stage_new, "a quotation moves nothing")
        order.action_confirm()
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)
        event = self._document_events(lead)
        self.assertRecordValues(
            event,
            [
                {
                    "state": "fired",
                    "source": "document",
                    "trigger_id": trigger.id,
                    "document_model": "sale.order",
                    "document_id": order.id,
                    "document_trigger_id": trigger.id,
                }
            ],
        )
        ledger = self._ledger(lead)
        self.assertIn(order.name, ledger.message)
        self.assertIn("Sales Order", ledger.message, "the state reached, as users read it")
        # Saving the confirmed order again is no new fact.
        order.write({"note": "Deliver on Monday"})
        self.assertEqual(len(self._document_events(lead)), 1)

    def test_quotation_sent_then_confirmed(self):
        sent = self._trigger(
            self.stage_qualified, "document", name="Quote sent", document_preset="quotation_sent"
        )
        confirmed = self._trigger(
            self.stage_proposition,
            "document",
            name="Order confirmed",
            document_preset="sale_confirmed",
        )
        lead = self._lead()
        order = self._order(lead)
        order.with_user(self.salesman).action_quotation_sent()
        self.assertMovedBy(lead, self.stage_qualified, sent, self.salesman)
        self.assertIn(order.name, self._ledger(lead).message)
        order.with_user(self.salesman).action_confirm()
        self.assertMovedBy(lead, self.stage_proposition, confirmed, self.salesman)

    def test_invoice_paid_moves_lead(self):
        trigger = self._trigger(
            self.stage_won, "document", name="Invoice paid", document_preset="invoice_paid"
        )
        self.assertEqual(trigger.document_model, "account.move")
        lead = self._lead()
        order = self._order(lead)
        order.action_confirm()
        invoice = order.sudo()._create_invoices()
        invoice.action_post()
        self.assertEqual(lead.stage_id, self.stage_new, "a posted, unpaid invoice moves nothing")
        self._pay(invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertMovedBy(lead, self.stage_won, trigger, self.salesman)
        message = self._ledger(lead).message
        self.assertIn(invoice.name, message)
        self.assertIn("Payment Status", message)

    def test_forward_only_and_condition(self):
        """The normal event path decides: forward-only, the trigger's lead condition."""
        self._trigger(self.stage_qualified, "document", document_preset="quotation_sent")
        lead = self._lead(self.stage_proposition)
        self._order(lead).action_quotation_sent()
        self.assertEqual(lead.stage_id, self.stage_proposition)
        event = self._document_events(lead)
        self.assertEqual(event.state, "blocked")
        self.assertIn("is not after", event.verdict_reason)

        self._trigger(
            self.stage_proposition,
            "document",
            document_preset="sale_confirmed",
            filter_domain="[('priority', '=', '3')]",
        )
        other = self._lead()
        self._order(other).action_confirm()
        self.assertEqual(other.stage_id, self.stage_new)
        self.assertIn("condition not met", self._document_events(other).verdict_reason)

    def test_lost_lead_not_moved_ledger_says_why(self):
        self._trigger(self.stage_proposition, "document", document_preset="sale_confirmed")
        lead = self._lead()
        order = self._order(lead)
        lead.action_set_lost()
        order.action_confirm()
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(self._document_events(lead).state, "blocked")
        self.assertIn(order.name, self._ledger(lead, "trigger_blocked").message)

    def test_opted_out_lead_still_moves_on_documents(self):
        self.env["mail.blacklist"].sudo()._add(self.partner.email)
        trigger = self._trigger(
            self.stage_proposition, "document", document_preset="sale_confirmed"
        )
        lead = self._lead()
        self._order(lead).action_confirm()
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)

    def test_custom_document_trigger(self):
        """The generic form: any model, domain and path (here: orders over 500)."""
        trigger = self._trigger(
            self.stage_proposition,
            "document",
            document_model="sale.order",
            document_domain="[('state', '=', 'sale'), ('amount_untaxed', '>', 500)]",
            document_lead_path="opportunity_id",
        )
        small, big = self._lead(), self._lead(name="Big desks")
        self._order(small).action_confirm()
        order = self._order(big)
        order.order_line.product_uom_qty = 10
        order.action_confirm()
        self.assertEqual(small.stage_id, self.stage_new)
        self.assertMovedBy(big, self.stage_proposition, trigger, self.salesman)

    # ------------------------------------------------------------------
    # The base.automation follows the trigger
    # ------------------------------------------------------------------

    def test_automation_follows_trigger(self):
        trigger = self._trigger(
            self.stage_proposition, "document", document_preset="sale_confirmed"
        )
        automation = trigger.automation_id
        self.assertRecordValues(
            automation,
            [
                {
                    "model_name": "sale.order",
                    "trigger": "on_create_or_write",
                    "active": True,
                    "cpa_trigger_id": trigger.id,
                    "filter_domain": "[('state', '=', 'sale')]",
                    "filter_pre_domain": "['!', ('state', '=', 'sale')]",
                }
            ],
        )
        self.assertEqual(automation.action_server_ids.state, "code")
        trigger.action_set_draft()
        self.assertFalse(automation.active, "a draft trigger does not watch")
        trigger.action_activate()
        self.assertTrue(automation.active)
        trigger.active = False
        self.assertFalse(automation.active, "archived with the trigger")
        trigger.active = True
        self.assertTrue(automation.active)
        trigger.document_preset = "quotation_sent"
        self.assertEqual(automation.filter_domain, "[('state', '=', 'sent')]")
        trigger.document_preset = "invoice_paid"
        self.assertFalse(automation.exists(), "another model: a new automation rule")
        self.assertEqual(trigger.automation_id.model_name, "account.move")
        automation = trigger.automation_id
        trigger.event_type = "link_click"
        self.assertFalse(automation.exists(), "not a document trigger any more")
        self.assertFalse(trigger.automation_id)

        other = self._trigger(self.stage_qualified, "document", document_preset="quotation_sent")
        automation = other.automation_id
        actions = automation.action_server_ids
        other.unlink()
        self.assertFalse(automation.exists(), "deleted with the trigger")
        self.assertFalse(actions.exists())

    def test_form_presets(self):
        with Form(self.Trigger) as form:
            form.stage_id = self.stage_won
            form.event_type = "document"
            form.document_preset = "invoice_paid"
            self.assertEqual(form.name, "Customer invoice paid")
            self.assertEqual(form.document_model, "account.move")
            self.assertEqual(form.document_model_known, "account.move")
        trigger = form.record
        self.assertEqual(trigger.automation_id.model_name, "account.move")
        self.assertEqual(trigger.document_description, "Journal Entry: Customer invoice paid")
        form = Form(trigger)
        form.document_preset = "custom"
        form.document_model = "sale.ordr"
        self.assertFalse(form.document_model_known, "the condition editor needs a real model")

    def test_copy_gets_own_automation(self):
        trigger = self._trigger(
            self.stage_proposition, "document", document_preset="sale_confirmed"
        )
        copy = trigger.copy()
        self.assertTrue(copy.automation_id)
        self.assertNotEqual(copy.automation_id, trigger.automation_id)
        self.assertEqual(copy.automation_id.cpa_trigger_id, copy)

    def test_manager_manages_automation_through_trigger(self):
        """Automation managers are no administrators: the trigger keeps its rule anyway."""
        manager = self.env["res.users"].create(
            {
                "name": "Aude Automation",
                "login": "cpa_doc_manager",
                "groups_id": [
                    Command.link(self.env.ref("sales_team.group_sale_manager").id),
                    Command.link(
                        self.env.ref("crm_pipeline_automation.group_automation_manager").id
                    ),
                ],
            }
        )
        Trigger = self.Trigger.with_user(manager)
        trigger = Trigger.create(
            {
                "name": "Order confirmed",
                "stage_id": self.stage_proposition.id,
                "event_type": "document",
                "document_preset": "sale_confirmed",
            }
        )
        self.assertTrue(trigger.sudo().automation_id.active)
        trigger.active = False
        self.assertFalse(trigger.sudo().automation_id.active)
        automation = trigger.sudo().automation_id
        trigger.unlink()
        self.assertFalse(automation.exists())

    def test_uninstall_hook_leaves_no_automation(self):
        self._trigger(self.stage_proposition, "document", document_preset="sale_confirmed")
        self._trigger(self.stage_won, "document", document_preset="invoice_paid", active=False)
        own = self.Automation.create(
            {
                "name": "Someone else's rule",
                "model_id": self.env["ir.model"]._get_id("sale.order"),
                "trigger": "on_create_or_write",
            }
        )
        self.assertEqual(self.Automation.search_count([("cpa_trigger_id", "!=", False)]), 2)
        uninstall_hook(self.env)
        self.assertFalse(self.Automation.search([("cpa_trigger_id", "!=", False)]))
        self.assertTrue(own.exists(), "other automation rules are left alone")

    def test_export_import_keeps_document_trigger(self):
        self._trigger(
            self.stage_won, "document", name="Invoice paid", document_preset="invoice_paid"
        )
        Exchange = self.env["crm.automation.exchange"]
        data = json.loads(Exchange._export_json(self.team))
        item = next(t for t in data["triggers"] if t["name"] == "Invoice paid")
        self.assertEqual(item["document_model"], "account.move")
        team = self.env["crm.team"].create({"name": "CPA imported"})
        stages = self.env["crm.stage"].create(
            [
                {"name": f"Imported {index}", "sequence": 400 + index, "team_id": team.id}
                for index in range(4)
            ]
        )
        source = self.stage_new | self.stage_qualified | self.stage_proposition | self.stage_won
        mapping = dict(zip(source.mapped("name"), stages, strict=True))
        shared = {
            stage.name: stage for stage in self.env["crm.stage"].search([("team_id", "=", False)])
        }
        stage_map = {
            item["key"]: mapping.get(item["key"]) or shared.get(item["key"], self.env["crm.stage"])
            for item in data["stages"]
        }
        Exchange._apply_import(Exchange._plan_import(data, team, stage_map))
        imported = self.Trigger.search([("stage_id", "=", stages[3].id)])
        self.assertRecordValues(
            imported,
            [
                {
                    "event_type": "document",
                    "document_model": "account.move",
                    "document_lead_path": "invoice_line_ids.sale_line_ids.order_id.opportunity_id",
                }
            ],
        )
        self.assertEqual(imported.automation_id.cpa_trigger_id, imported)
        self.assertEqual(imported.automation_id.model_name, "account.move")

    # ------------------------------------------------------------------
    # Bad input
    # ------------------------------------------------------------------

    def test_bad_configuration_is_refused(self):
        model = "sale.order"
        cases = {
            "no model": {"document_lead_path": "opportunity_id"},
            "unknown model": {
                "document_model": "sale.ordr",
                "document_lead_path": "opportunity_id",
            },
            "wizard": {"document_model": "account.payment.register", "document_lead_path": "x"},
            "path to a partner": {"document_model": model, "document_lead_path": "partner_id"},
            "unknown field": {"document_model": model, "document_lead_path": "lead_id"},
            "bad condition": {
                "document_model": model,
                "document_lead_path": "opportunity_id",
                "document_domain": "[('no_such_field', '=', 1)]",
            },
        }
        for case, values in cases.items():
            with self.subTest(case), self.assertRaises(ValidationError):
                self._trigger(self.stage_proposition, "document", **values)
        self.assertFalse(self.Automation.search([("cpa_trigger_id", "!=", False)]))

    # ------------------------------------------------------------------
    # Board and dry-run
    # ------------------------------------------------------------------

    def test_board_and_dry_run(self):
        trigger = self._trigger(
            self.stage_proposition,
            "document",
            name="Order confirmed",
            document_preset="sale_confirmed",
        )
        board = self.env["crm.automation.board"].get_board(self.team.id)
        stage = next(s for s in board["stages"] if s["id"] == self.stage_proposition.id)
        card = stage["triggers"][0]
        self.assertEqual(card["event"], "Document reached a state")
        self.assertEqual(card["detail"], "Sales Order: Sales order confirmed")
        self.assertIn(("document", "Document reached a state"), board["event_types"])

        lead = self._lead()
        result = self.env["crm.lead"].automation_dry_run(lead.id, "document")
        self.assertEqual(result["trigger"]["state"], "fired")
        self.assertEqual(result["trigger"]["trigger"], "Order confirmed")
        self.assertEqual(result["trigger"]["detail"], "Sales Order: Sales order confirmed")
        # With a document as detail: only when that document is the lead's and matches.
        order = self._order(lead)
        result = self.env["crm.lead"].automation_dry_run(lead.id, "document", detail=order.name)
        self.assertEqual(result["trigger"]["state"], "no_trigger", "a quotation, not confirmed")
        order.action_confirm()
        self.assertEqual(lead.stage_id, self.stage_proposition, "(the real run moved it)")
        lead.stage_id = self.stage_new
        result = self.env["crm.lead"].automation_dry_run(lead.id, "document", detail=order.name)
        self.assertEqual(result["trigger"]["state"], "fired")
        self.assertEqual(result["trigger"]["trigger_id"], trigger.id)
        self.assertEqual(lead.stage_id, self.stage_new, "a dry-run writes nothing")


@tagged("post_install", "-at_install")
class TestDocumentTriggerXmlRpc(TrackingCase, HttpCase):
    """Document triggers as integrators use them: XML-RPC, which refuses None."""

    def _rpc(self, model, method, *args, **kwargs):
        admin = self.env.ref("base.user_admin")
        return self.xmlrpc_object.execute_kw(
            get_db_name(), admin.id, "admin", model, method, list(args), kwargs
        )

    def test_create_with_preset_board_and_dry_run(self):
        if "sale.order" not in self.env:
            raise unittest.SkipTest("needs sale_crm (crm_pipeline_automation_sale_test)")
        trigger_id = self._rpc(
            "crm.stage.trigger",
            "create",
            {
                "name": "Order confirmed",
                "stage_id": self.stage_proposition.id,
                "event_type": "document",
                "document_preset": "sale_confirmed",
            },
        )
        [values] = self._rpc(
            "crm.stage.trigger",
            "read",
            [trigger_id],
            ["document_model", "document_domain", "document_lead_path", "document_description"],
        )
        self.assertEqual(values["document_model"], "sale.order")
        self.assertEqual(values["document_lead_path"], "opportunity_id")
        board = self._rpc("crm.automation.board", "get_board", self.team.id)
        self.assertIn("Sales Order: Sales order confirmed", str(board))
        lead = self._lead()
        result = self._rpc("crm.lead", "automation_dry_run", lead.id, "document", False, "S0")
        self.assertEqual(result["trigger"]["state"], "no_trigger", "no such order of the lead")
        result = self._rpc("crm.lead", "automation_dry_run", lead.id, "document")
        self.assertEqual(result["trigger"]["detail"], "Sales Order: Sales order confirmed")
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self._rpc(
                "crm.stage.trigger",
                "create",
                {
                    "name": "Broken",
                    "stage_id": self.stage_proposition.id,
                    "event_type": "document",
                    "document_model": "sale.order",
                    "document_lead_path": "partner_id",
                },
            )
        self.assertIn("does not lead from sale.order to leads", caught.exception.faultString)
