# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from ..engine import condition_words
from .common import NOW, AutomationCase

PRICING = "https://example.com/pricing"


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestConditionWords(AutomationCase):
    """Conditions of triggers and rules read in words, as Odoo shows domains elsewhere
    ("Stage is Qualified", "Tags contain VIP"), on the board, in the dry-run and in the
    ledger; never a domain literal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_vip = cls.env["crm.tag"].create({"name": "VIP"})
        cls.in_qualified = f"[('stage_id', '=', {cls.stage_qualified.id})]"
        cls.with_vip = f"[('tag_ids', 'in', [{cls.tag_vip.id}])]"

    def _words(self, domain):
        return condition_words.describe(self.env, "crm.lead", domain)

    def test_board_rpc_shows_conditions_in_words(self):
        trigger = self.env["crm.stage.trigger"].create(
            {
                "name": "Pricing clicked",
                "stage_id": self.stage_proposal.id,
                "event_type": "link_click",
                "filter_domain": self.in_qualified,
            }
        )
        rule = self._rule(self.stage_proposal, name="VIP only", filter_domain=self.with_vip)
        plain = self._rule(self.stage_proposal, name="Everyone")
        board = self.env["crm.automation.board"].with_user(self.salesman).get_board(self.team.id)
        stage = next(s for s in board["stages"] if s["id"] == self.stage_proposal.id)
        (shown_trigger,) = [t for t in stage["triggers"] if t["id"] == trigger.id]
        self.assertEqual(shown_trigger["condition"], "Stage is B Qualified")
        conditions = {r["id"]: r["condition"] for r in stage["rules"]}
        self.assertEqual(conditions[rule.id], "Tags contain VIP")
        # No condition: an empty text (XML-RPC marshals it; None it would not).
        self.assertEqual(conditions[plain.id], "")

    def test_words_of_common_conditions(self):
        hot, cold = self.tag_hot, self.tag_cold
        cases = {
            self.in_qualified: "Stage is B Qualified",
            self.with_vip: "Tags contain VIP",
            f"[('tag_ids', 'in', [{hot.id}, {cold.id}])]": "Tags contain one of Hot, Cold",
            f"[('tag_ids', 'not in', [{hot.id}])]": "Tags do not contain Hot",
            f"[('stage_id', 'in', [{self.stage_new.id}, {self.stage_qualified.id}])]": (
                "Stage is in A New, B Qualified"
            ),
            "[('expected_revenue', '>=', 1e6)]": "Expected Revenue is at least 1,000,000",
            "[('priority', '=', '3')]": "Priority is Very High",
            "[('email_from', 'ilike', 'acme')]": "Email contains “acme”",
            "[('user_id', '=', False)]": "Salesperson is not set",
            "[('date_deadline', '<', '2026-01-31')]": "Expected Closing is before 01/31/2026",
            f"['|', ('tag_ids', 'in', [{self.tag_vip.id}]), ('expected_revenue', '>', 500)]": (
                "Tags contain VIP or Expected Revenue is more than 500"
            ),
            f"[('type', '=', 'opportunity'), '|', ('priority', '=', '2'), "
            f"('stage_id', '=', {self.stage_qualified.id})]": (
                "Type is Opportunity and (Priority is High or Stage is B Qualified)"
            ),
            "[('partner_id.country_id.code', '=', 'BE')]": (
                "Customer › Country › Country Code is “BE”"
            ),
            "[('id', '=', 0)]": "ID is 0",
            "[]": "",
            "": "",
        }
        for domain, words in cases.items():
            with self.subTest(domain=domain):
                self.assertEqual(self._words(domain), words)

    def test_unreadable_conditions_stay_as_written(self):
        # What cannot be read in words is shown as written: never an error on the board.
        self.assertEqual(self._words("[('no_such_field', '=', 1)]"), "('no_such_field', '=', 1)")
        self.assertEqual(
            self._words("[('name', '=', context_today())]"), "[('name', '=', context_today())]"
        )
        # A record deleted since keeps its id.
        tag = self.env["crm.tag"].create({"name": "Gone"})
        domain = f"[('tag_ids', 'in', [{tag.id}])]"
        tag.unlink()
        self.assertEqual(self._words(domain), f"Tags contain #{tag.id}")

    def test_dry_run_and_ledger_say_conditions_in_words(self):
        trigger = self.env["crm.stage.trigger"].create(
            {
                "name": "Pricing clicked by a VIP",
                "stage_id": self.stage_proposal.id,
                "event_type": "link_click",
                "filter_domain": self.with_vip,
            }
        )
        rule = self._rule(
            self.stage_qualified,
            name="Qualified VIP",
            filter_domain=f"[('tag_ids', 'in', [{self.tag_vip.id}])]",
        )
        lead = self._lead()
        Lead = self.env["crm.lead"]
        dry = Lead.automation_dry_run(lead.id, event_type="link_click", detail=PRICING)
        self.assertEqual(dry["trigger"]["state"], "blocked")
        self.assertIn("condition not met: Tags contain VIP", dry["trigger"]["reason"])
        self.assertNotIn("tag_ids", dry["trigger"]["reason"])
        real = self.env["crm.lead.event"]._record(lead, "link_click", "email", url=PRICING)
        self.assertIn("condition not met: Tags contain VIP", real.verdict_reason)
        self.assertNotEqual((real.state, real.trigger_id), ("fired", trigger))

        dry = Lead.automation_dry_run(lead.id, stage_id=self.stage_qualified.id)
        (shown,) = [r for r in dry["rules"] if r["rule_id"] == rule.id]
        self.assertEqual(shown["skipped"], "Condition not met at entry: Tags contain VIP")
        lead.stage_id = self.stage_qualified
        self.assertEqual(
            self._logs(lead, "rule_skipped").filtered(lambda log: log.rule_id == rule).message,
            "Condition not met at entry: Tags contain VIP",
        )

    def test_ledger_says_condition_at_run_time_in_words(self):
        rule = self._rule(
            self.stage_qualified,
            name="VIP a day later",
            timing="delay",
            delay_count=1,
            delay_unit="days",
            filter_domain=self.with_vip,
        )
        lead = self._lead(tag_ids=[(4, self.tag_vip.id)])
        lead.stage_id = self.stage_qualified
        lead.tag_ids = [(3, self.tag_vip.id)]
        with freeze_time(NOW + timedelta(days=1)):
            self._dispatch()
        self.assertEqual(self._jobs(lead, rule).state, "cancelled")
        self.assertEqual(
            self._logs(lead, "rule_skipped").message,
            "Condition not met at run time: Tags contain VIP",
        )

    def test_never_true_warning_in_words(self):
        impossible = self._rule(self.stage_new, filter_domain="[('id', '=', 0)]")
        warnings = self.env["crm.automation.board"]._analyze(self.team)
        (warning,) = [w for w in warnings if w["rule_ids"] == impossible.ids]
        self.assertIn("its condition ID is 0 is never true", warning["message"])
        self.assertNotIn("[(", warning["message"])
