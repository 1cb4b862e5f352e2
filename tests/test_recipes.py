# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo.tests import HttpCase, new_test_user, tagged

from .common import NOW, AutomationCase
from .screenshots import TourScreenshotMixin

RECIPES = (
    "after_hours_callback",
    "engagement_qualification",
    "inbound_lead_sla",
    "recurring_sales",
    "stalled_deal",
)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestRecipes(AutomationCase):
    """The shipped recipes apply to a pipeline through the wizard and work."""

    def _apply(self, recipe, team=None, **mapping):
        wizard = self.env["crm.automation.import.wizard"].create(
            {"source": "recipe", "recipe": recipe, "team_id": (team or self.team).id}
        )
        for line in wizard.line_ids:
            if line.key in mapping:
                line.target_stage_id = mapping[line.key]
        wizard.action_apply()
        return wizard

    def _notice(self, lead):
        return self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", lead.id),
                ("message_type", "=", "user_notification"),
                ("partner_ids", "in", self.leader.partner_id.ids),
            ]
        )

    def _enter(self, lead, stage):
        lead.stage_id = stage
        return lead

    def test_every_recipe_is_listed_and_valid(self):
        selection = dict(self.env["crm.automation.import.wizard"]._selection_recipe())
        self.assertEqual(tuple(sorted(selection)), RECIPES)
        self.assertEqual(selection["stalled_deal"], "Stalled deal")
        for recipe in RECIPES:
            with self.subTest(recipe=recipe):
                wizard = self.env["crm.automation.import.wizard"].create(
                    {"source": "recipe", "recipe": recipe, "team_id": self.team.id}
                )
                self.assertTrue(wizard.recipe_description)
                self.assertIn("Ready to import", wizard.preview)

    def test_stages_suggested_by_name_then_in_order(self):
        team = self.env["crm.team"].create({"name": "CPA sales"})
        Stage = self.env["crm.stage"]
        stages = Stage.create(
            [
                {"name": name, "sequence": 400 + index, "team_id": team.id, "is_won": won}
                for index, (name, won) in enumerate(
                    [
                        ("New", False),
                        ("Qualified", False),
                        ("Proposition", False),
                        ("Contract approval", False),
                        ("Won", True),
                    ]
                )
            ]
        )
        wizard = self.env["crm.automation.import.wizard"].create(
            {"source": "recipe", "recipe": "recurring_sales", "team_id": team.id}
        )
        self.assertEqual(
            {line.key: line.target_stage_id.name for line in wizard.line_ids},
            {"new": "New", "contract": "Contract approval", "won": "Won"},
        )
        self.assertEqual(wizard.line_ids.target_stage_id, stages[0] | stages[3] | stages[4])
        # The test pipeline has none of those names: in order, won to won.
        wizard.team_id = self.team
        self.assertEqual(
            {line.key: line.target_stage_id for line in wizard.line_ids},
            {"new": self.stage_new, "contract": self.stage_qualified, "won": self.stage_won},
        )

    def test_engagement_qualification(self):
        wizard = self._apply("engagement_qualification", proposition=self.stage_proposal)
        clicked, pricing = wizard.trigger_ids.sorted("sequence")
        self.assertEqual(
            (clicked.name, clicked.event_type, clicked.stage_id),
            ("Link in our email clicked", "link_click", self.stage_qualified),
        )
        self.assertEqual(pricing.stage_id, self.stage_proposal)
        self.assertEqual(pricing._get_domain(), [("stage_id", "=", self.stage_qualified.id)])
        rule = wizard.rule_ids
        self.assertEqual(
            (rule.stage_id, rule.delay_count, rule.delay_unit), (self.stage_new, 3, "days")
        )
        self.assertEqual(rule.tag_add_ids.name, "Call in person")
        self.assertEqual(rule.score_delta, -5)
        # It works: a new lead without click is tagged after 3 days.
        lead = self._lead()
        with freeze_time(NOW + relativedelta(days=3, minutes=1)):
            self.env["crm.automation.job"]._cron_run_jobs()
        self.assertIn(rule.tag_add_ids, lead.tag_ids)

    def test_recurring_sales(self):
        wizard = self._apply("recurring_sales", contract=self.stage_proposal)
        lead = self._lead(self.stage_qualified)
        self._enter(lead, self.stage_proposal)
        call = lead.activity_ids.filtered(
            lambda a: a.summary == "Call the client about the contract terms"
        )
        self.assertEqual(call.user_id, self.salesman)
        self._enter(lead, self.stage_won)
        self.assertFalse(call.exists(), "done when the lead leaves the stage")
        repeat_rule = wizard.rule_ids.filtered(lambda r: r.action_type == "repeat_lead")
        self.assertEqual(
            (repeat_rule.target_team_id, repeat_rule.target_stage_id), (self.team, self.stage_new)
        )
        with freeze_time(NOW + relativedelta(months=6, minutes=1)):
            self.env["crm.automation.job"]._cron_run_jobs()
        repeat = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
        self.assertEqual(repeat.name, "Repeat sale: Acme Logistics (Office desks)")
        self.assertEqual((repeat.stage_id, repeat.user_id), (self.stage_new, self.salesman))

    def test_inbound_lead_sla(self):
        wizard = self._apply("inbound_lead_sla")
        template = wizard.template_ids
        self.assertEqual(
            (template.event_key, template.deadline_count, template.deadline_unit),
            ("form_submitted", 30, "minutes"),
        )
        self.assertTrue(template.business_hours)
        # Applied to another pipeline: the identical template is reused, not duplicated.
        count = self.env["crm.activity.template"].search_count([])
        other = self.env["crm.team"].create({"name": "CPA other"})
        self.env["crm.stage"].create({"name": "CPA other new", "team_id": other.id})
        again = self._apply("inbound_lead_sla", team=other)
        self.assertEqual(again.template_ids, template)
        self.assertEqual(self.env["crm.activity.template"].search_count([]), count)
        # A form lead gets the filter activity, due 30 working minutes later.
        lead = self._lead()
        activity = template._create_for_event(lead, "form_submitted")
        self.assertEqual(activity.deadline_datetime, NOW + relativedelta(minutes=30))
        # Nobody worked on it within 30 working minutes: the team leader is told.
        untouched, touched = lead, self._lead(name="Touched lead")
        touched.with_user(self.salesman).message_post(
            body="Called, left a voicemail", message_type="comment"
        )
        with freeze_time(NOW + relativedelta(minutes=31)):
            self.env["crm.automation.job"]._cron_run_jobs()
        rule = wizard.rule_ids
        self.assertEqual(self._jobs(untouched, rule).state, "done")
        self.assertEqual(self._jobs(touched, rule).state, "cancelled")
        self.assertIn("nobody has worked on it yet", self._notice(untouched).body)
        self.assertFalse(self._notice(touched))

    def test_stalled_deal_end_to_end(self):
        wizard = self._apply("stalled_deal", watched=self.stage_proposal)
        self.assertEqual(wizard.rule_ids.stage_id, self.stage_proposal)
        stalled = self._lead(self.stage_qualified, name="Stalled deal")
        worked = self._lead(self.stage_qualified, name="Worked deal")
        done = self._lead(self.stage_qualified, name="Activity done deal")
        activity = done.activity_schedule("mail.mail_activity_data_call", user_id=self.salesman.id)
        for lead in stalled | worked | done:
            # Worked on in the previous stage: does not count for the new one.
            lead.with_user(self.salesman).message_post(body="Hello", message_type="comment")
            self.assertTrue(lead.automation_touched_in_stage)
            self._enter(lead, self.stage_proposal)
            self.assertFalse(lead.automation_touched_in_stage)
        with freeze_time(NOW + relativedelta(days=2)):
            worked.with_user(self.salesman).message_post(
                body="Sent the revised quote",
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            activity.with_user(self.salesman).action_feedback(feedback="Called")
        self.assertEqual(worked.automation_touch_date, NOW + relativedelta(days=2))
        self.assertTrue(done.automation_touched_in_stage)
        with freeze_time(NOW + relativedelta(days=6, hours=23)):
            self.env["crm.automation.job"]._cron_run_jobs()
        self.assertNotIn("Stalled", stalled.tag_ids.mapped("name"), "not yet 7 days")
        with freeze_time(NOW + relativedelta(days=7, minutes=1)):
            self.env["crm.automation.job"]._cron_run_jobs()
        self.assertEqual(stalled.tag_ids.mapped("name"), ["Stalled"])
        self.assertIn("has had no activity in C Proposal for 7 days", self._notice(stalled).body)
        for lead in worked | done:
            self.assertFalse(lead.tag_ids)
            self.assertEqual(set(self._jobs(lead).mapped("state")), {"cancelled"})
            self.assertTrue(self._logs(lead, "rule_skipped"))

    def test_automatic_notes_are_not_work(self):
        lead = self._lead()
        lead.with_context(crm_automation_auto=True).message_post(
            body="Automatic note", message_type="comment"
        )
        lead.message_post(body="System note", message_type="notification")
        self.assertFalse(lead.automation_touched_in_stage)
        self.assertFalse(lead.automation_touch_date)


@tagged("post_install", "-at_install")
class TestRecipeTour(TourScreenshotMixin, HttpCase):
    """In Chromium: a manager applies "Engagement qualification" with the wizard."""

    def test_apply_engagement_qualification(self):
        new_test_user(
            self.env,
            login="cpa_recipe_manager",
            password="cpa_recipe_manager",
            groups="sales_team.group_sale_manager",
        )
        team = self.env["crm.team"].create({"name": "Tour pipeline"})
        Stage = self.env["crm.stage"]
        stages = {
            name: Stage.create({"name": name, "sequence": 500 + index, "team_id": team.id})
            for index, name in enumerate(
                ["Tour fresh", "Tour engaged", "Tour proposal", "Tour offer"]
            )
        }
        self.start_tour("/odoo", "crm_pipeline_automation_recipe_tour", login="cpa_recipe_manager")
        triggers = self.env["crm.stage.trigger"].search([("team_id", "=", team.id)])
        self.assertEqual(
            {t.name: t.stage_id.name for t in triggers},
            {"Link in our email clicked": "Tour engaged", "Pricing page visited": "Tour offer"},
        )
        pricing = triggers.filtered(lambda t: t.event_type == "url_visited")
        self.assertEqual(pricing._get_domain(), [("stage_id", "=", stages["Tour engaged"].id)])
        rule = self.env["crm.automation.rule"].search([("team_id", "=", team.id)])
        self.assertEqual(rule.name, "No click within 3 days: call in person")
        self.assertEqual(rule.stage_id, stages["Tour fresh"])
