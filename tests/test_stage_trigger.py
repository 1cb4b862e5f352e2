# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from ..models.crm_stage_trigger import wildcard_match
from .common import TrackingCase


@tagged("post_install", "-at_install")
class TestStageTrigger(TrackingCase):
    def _click(self, lead, url="https://example.com/pricing", **values):
        return self.Event._record(lead, "link_click", "email", url=url, **values)

    def test_link_click_moves_forward_as_salesperson(self):
        trigger = self._trigger(self.stage_qualified, link_url="https://example.com/pricing*")
        lead = self._lead()
        event = self._click(lead, url="https://example.com/pricing?plan=pro")
        self.assertEqual(event.state, "fired")
        self.assertEqual(event.trigger_id, trigger)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertEqual(lead.write_uid, self.salesman)

    def test_change_stage_as_user(self):
        trigger = self._trigger(self.stage_qualified, user_id=self.manager.id)
        lead = self._lead()
        self._click(lead)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.manager)

    def test_other_url_does_not_move(self):
        self._trigger(self.stage_qualified, link_url="https://example.com/pricing")
        lead = self._lead()
        event = self._click(lead, url="https://example.com/blog")
        self.assertEqual(event.state, "no_trigger")
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_forward_only_by_default(self):
        self._trigger(self.stage_qualified)
        lead = self._lead(self.stage_proposition)
        event = self._click(lead)
        self.assertEqual(lead.stage_id, self.stage_proposition)
        self.assertEqual(event.state, "blocked")
        self.assertIn("not after", event.verdict_reason)
        self.assertFalse(self._notes(lead))

    def test_backward_allowed(self):
        trigger = self._trigger(self.stage_qualified, allow_backward=True)
        lead = self._lead(self.stage_proposition)
        self._click(lead)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)

    def test_furthest_stage_wins(self):
        self._trigger(self.stage_qualified)
        far = self._trigger(self.stage_proposition)
        lead = self._lead()
        self._click(lead)
        self.assertMovedBy(lead, self.stage_proposition, far, self.salesman)

    def test_condition(self):
        self._trigger(self.stage_qualified, filter_domain="[('expected_revenue', '>=', 1000)]")
        small = self._lead(expected_revenue=10)
        big = self._lead(expected_revenue=5000)
        self._click(small)
        self._click(big)
        self.assertEqual(small.stage_id, self.stage_new)
        self.assertIn("condition", small.cpa_event_ids.verdict_reason)
        self.assertEqual(big.stage_id, self.stage_qualified)
        with self.assertRaises(ValidationError):
            self._trigger(self.stage_qualified, filter_domain="[('no_such_field', '=', 1)]")

    def test_won_and_lost_untouched(self):
        self._trigger(self.stage_qualified, allow_backward=True)
        won = self._lead(self.stage_won)
        lost = self._lead()
        lost.action_set_lost()
        self._click(won)
        self._click(lost)
        self.assertEqual(won.stage_id, self.stage_won)
        self.assertEqual(lost.stage_id, self.stage_new)
        self.assertFalse(lost.active)
        self.assertEqual(won.cpa_event_ids.state, "blocked")
        self.assertEqual(lost.with_context(active_test=False).cpa_event_ids.state, "blocked")
        self.assertIn("won or lost", self._ledger(won, "trigger_blocked").message)
        self.assertTrue(self._ledger(lost, "trigger_blocked"))

    def test_loop_guard_respected(self):
        self._trigger(self.stage_qualified)
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.loop_max_moves_per_hour", 0
        )
        lead = self._lead()
        event = self._click(lead)
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(event.state, "blocked")
        self.assertTrue(self._ledger(lead, "loop_stopped"))
        self.assertIn("loop guard", self._ledger(lead, "trigger_blocked").message)

    def test_move_runs_the_stage_rules_and_ledger_names_the_trigger(self):
        trigger = self._trigger(self.stage_qualified, user_id=self.manager.id)
        tag = self.env["crm.tag"].create({"name": "Engaged"})
        self.env["crm.automation.rule"].create(
            {
                "name": "Tag engaged leads",
                "stage_id": self.stage_qualified.id,
                "action_type": "tags",
                "timing": "immediate",
                "tag_add_ids": [Command.link(tag.id)],
                "score_delta": 20,
            }
        )
        lead = self._lead()
        self._click(lead)
        self.assertEqual(lead.stage_id, self.stage_qualified)
        self.assertIn(tag, lead.tag_ids)
        self.assertEqual(lead.engagement_score, 3 + 20)  # the click, then the rule
        entered = self._ledger(lead, "stage_entered").filtered(
            lambda r: r.stage_id == self.stage_qualified
        )
        self.assertTrue(entered.automatic)
        self.assertEqual(entered.user_id, self.manager)
        self.assertIn(trigger.name, entered.origin)

    def test_other_pipeline_triggers_ignored(self):
        other_team = self.env["crm.team"].create({"name": "Other"})
        other_stage = self.env["crm.stage"].create(
            {"name": "Other", "sequence": 300, "team_id": other_team.id}
        )
        self._trigger(other_stage)
        lead = self._lead()
        self._click(lead)
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_archived_trigger_ignored(self):
        self._trigger(self.stage_qualified, active=False)
        lead = self._lead()
        self._click(lead)
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_duplicates_deduplicated(self):
        self._trigger(self.stage_qualified)
        lead = self._lead()
        first = self._click(lead, dedup_key="click-1")
        second = self._click(lead, dedup_key="click-1")
        self.assertTrue(first)
        self.assertFalse(second)
        self.assertEqual(lead.cpa_event_count, 1)
        self.assertEqual(len(self._notes(lead)), 1)

    def test_opted_out_not_tracked(self):
        self._trigger(self.stage_qualified)
        self.env["mail.blacklist"].sudo()._add(self.partner.email)
        lead = self._lead()
        self.assertFalse(self._click(lead))
        self.assertFalse(lead.cpa_event_ids)
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(lead.engagement_score, 0)

    def test_machine_events_kept_not_fired(self):
        self._trigger(self.stage_qualified)
        lead = self._lead()
        event = self._click(lead, verdict="machine", verdict_reason="Proofpoint URL Defense")
        self.assertEqual(event.state, "ignored")
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertEqual(lead.engagement_score, 0)

    def test_engagement_score(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.score_link_click", 7
        )
        lead = self._lead()
        self._click(lead, dedup_key="a")
        self._click(lead, dedup_key="b")
        self.assertEqual(lead.engagement_score, 14)

    def test_retention_autovacuum(self):
        lead = self._lead()
        old = self._click(lead, dedup_key="old")
        new = self._click(lead, dedup_key="new")
        self.env.cr.execute(
            "UPDATE crm_lead_event SET date = now() - interval '40 days' WHERE id = %s", [old.id]
        )
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.event_retention_days", 30
        )
        self.Event._gc_events()
        self.assertFalse(old.exists())
        self.assertTrue(new.exists())

    def test_events_follow_lead_access(self):
        other = new_test_user(
            self.env, login="cpa_trk_other", groups="sales_team.group_sale_salesman"
        )
        lead = self._lead()
        event = self._click(lead)
        self.assertEqual(
            self.Event.with_user(self.salesman).search([("lead_id", "=", lead.id)]), event
        )
        self.assertFalse(self.Event.with_user(other).search([("lead_id", "=", lead.id)]))
        self.assertEqual(
            self.Event.with_user(self.manager).search([("lead_id", "=", lead.id)]), event
        )
        with self.assertRaises(AccessError):
            self.Trigger.with_user(self.salesman).create(
                {"name": "x", "stage_id": self.stage_new.id, "event_type": "email_open"}
            )

    def test_parameters_checked(self):
        with self.assertRaises(ValidationError):
            self._trigger(self.stage_qualified, "url_visited")
        with self.assertRaises(ValidationError):
            self._trigger(self.stage_qualified, "chat_keyword")

    def test_keyword_and_wildcard_matching(self):
        trigger = self._trigger(
            self.stage_qualified, "chat_keyword", keywords="prix, devis signé\nquote"
        )
        lead = self._lead()
        for text, expected in (
            ("Quel est le PRIX ?", True),
            ("je veux un DEVIS SIGNE", True),
            ("Could I get a Quote please", True),
            ("quotes", False),
            ("surprise", False),
        ):
            event = self.Event.new({"lead_id": lead.id, "event_type": "chat_keyword", "text": text})
            self.assertEqual(trigger._match(event), expected, text)
        self.assertTrue(wildcard_match("/pricing*", "https://example.com/pricing/pro"))
        self.assertTrue(wildcard_match("https://EXAMPLE.com/*", "https://example.com/a"))
        self.assertFalse(wildcard_match("/pricing", "https://example.com/pricing/pro"))
        self.assertFalse(wildcard_match("https://example.com/[a]", "https://example.com/a"))
