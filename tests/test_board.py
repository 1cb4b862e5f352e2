# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL

from .common import NOW, AutomationCase
from .screenshots import TourScreenshotMixin

PRICING = "https://example.com/pricing?plan=pro"


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestAutomationState(AutomationCase):
    """Draft and active triggers and rules; activation with "also apply to leads
    already in this stage"; the timing in words."""

    def test_draft_rule_does_not_run_until_activated(self):
        rule = self._rule(self.stage_qualified, state="draft")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        self.assertFalse(self._jobs(lead, rule))
        lead.stage_id = self.stage_proposal
        self.assertEqual(rule.action_activate(), True, "no lead waiting: activated at once")
        self.assertEqual(rule.state, "active")
        other = self._lead()
        other.stage_id = self.stage_qualified
        self.assertEqual(self._jobs(other, rule).state, "done")

    def test_rule_set_back_to_draft_cancels_its_pending_jobs(self):
        rule = self._rule(self.stage_qualified, timing="delay", delay_count=1, delay_unit="hours")
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "pending")
        rule.action_set_draft()
        with freeze_time(NOW + timedelta(hours=2)):
            self._dispatch()
        self.assertEqual(job.state, "cancelled")
        self.assertIn("draft", self._logs(lead, "job_cancelled").message)
        self.assertNotIn(self.tag_hot, lead.tag_ids)

    def test_draft_trigger_does_not_fire(self):
        trigger = self.env["crm.stage.trigger"].create(
            {
                "name": "Pricing clicked",
                "stage_id": self.stage_qualified.id,
                "event_type": "link_click",
                "state": "draft",
            }
        )
        lead = self._lead()
        event = self.env["crm.lead.event"]._record(lead, "link_click", "email", url=PRICING)
        self.assertEqual(event.state, "no_trigger")
        self.assertEqual(lead.stage_id, self.stage_new)
        trigger.action_activate()
        event = self.env["crm.lead.event"]._record(lead, "link_click", "email", url=PRICING)
        self.assertEqual(event.trigger_id, trigger)
        self.assertEqual(lead.stage_id, self.stage_qualified)

    def test_activate_applies_once_to_leads_already_in_stage(self):
        big = self._lead(self.stage_qualified, expected_revenue=5000)
        big2 = self._lead(self.stage_qualified, expected_revenue=8000)
        small = self._lead(self.stage_qualified, expected_revenue=10)
        self._lead(self.stage_new, expected_revenue=9000)
        rule = self._rule(
            self.stage_qualified, state="draft", filter_domain="[('expected_revenue', '>=', 1000)]"
        )
        action = rule.action_activate()
        self.assertEqual(action["res_model"], "crm.automation.rule.activate")
        self.assertEqual(rule.state, "draft", "nothing changes before the confirmation")
        wizard = (
            self.env[action["res_model"]]
            .with_context(**action["context"])
            .create({"apply_existing": True})
        )
        self.assertEqual(wizard.lead_count, 2)
        wizard.action_confirm()
        self.assertEqual(rule.state, "active")
        for lead in big | big2:
            job = self._jobs(lead, rule)
            self.assertEqual(job.state, "done")
            self.assertEqual(job.visit, lead.automation_visit)
            self.assertIn(self.tag_hot, lead.tag_ids)
        self.assertFalse(self._jobs(small, rule))
        # Set back to draft and activated again: the leads had their run for this
        # visit; nobody is waiting, nothing runs twice (unique key respected).
        rule.action_set_draft()
        self.assertEqual(rule.action_activate(), True)
        self.assertEqual(len(self._jobs(big, rule)), 1)
        self.assertEqual(len(self._jobs(big2, rule)), 1)

    def test_activate_without_applying_to_existing_leads(self):
        lead = self._lead(self.stage_qualified)
        rule = self._rule(self.stage_qualified, state="draft")
        action = rule.action_activate()
        wizard = self.env[action["res_model"]].with_context(**action["context"]).create({})
        self.assertEqual(wizard.lead_count, 1)
        wizard.action_confirm()
        self.assertEqual(rule.state, "active")
        self.assertFalse(self._jobs(lead, rule))

    def test_automation_button_shares_the_kanban_header(self):
        """Another module's kanban header (crm_iap_mine adds "Generate Leads" the same
        way) does not hide the Automation button, nor the other way round."""
        self.env["ir.ui.view"].create(
            {
                "name": "another module's kanban button",
                "model": "crm.lead",
                "inherit_id": self.env.ref("crm.crm_case_kanban_view_leads").id,
                "arch": '<xpath expr="//kanban" position="inside"><header>'
                '<button name="action_archive" type="object" string="Other module button"/>'
                "</header></xpath>",
            }
        )
        manager = new_test_user(
            self.env,
            login="cpa_header_manager",
            groups="sales_team.group_sale_manager,"
            "crm_pipeline_automation.group_automation_manager",
        )
        view = self.env.ref("crm.crm_case_kanban_view_leads")
        arch = (
            self.env["crm.lead"]
            .with_user(manager)
            .get_views([(view.id, "kanban")])["views"]["kanban"]["arch"]
        )
        self.assertEqual(arch.count("<header"), 1, arch)
        self.assertIn('name="action_open_automation_board"', arch)
        self.assertIn("Other module button", arch)

    def test_salesperson_cannot_activate(self):
        rule = self._rule(self.stage_qualified, state="draft")
        with self.assertRaises(AccessError):
            rule.with_user(self.salesman).action_activate()
        trigger = self.env["crm.stage.trigger"].create(
            {"name": "Form", "stage_id": self.stage_qualified.id, "event_type": "form_submitted"}
        )
        with self.assertRaises(AccessError):
            trigger.with_user(self.salesman).action_set_draft()

    def test_timing_in_words(self):
        meeting = self.env["ir.model.fields"]._get("crm.lead", "date_deadline")
        cases = [
            ({}, "Immediately"),
            ({"timing": "delay", "delay_count": 6, "delay_unit": "months"}, "after 6 months"),
            ({"timing": "delay", "delay_count": 1, "delay_unit": "days"}, "after 1 day"),
            (
                {
                    "timing": "date_field",
                    "date_field_id": meeting.id,
                    "date_direction": "before",
                    "delay_count": 120,
                    "delay_unit": "minutes",
                    "business_hours": True,
                },
                f"120 min before {meeting.field_description}, business hours",
            ),
            (
                {
                    "timing": "delay",
                    "delay_count": 2,
                    "delay_unit": "hours",
                    "business_hours": True,
                    "calendar_source": "salesperson",
                },
                "after 2 hours, salesperson's business hours",
            ),
        ]
        for values, expected in cases:
            self.assertEqual(
                self._rule(self.stage_qualified, **values).timing_description, expected
            )


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestAutomationDryRun(AutomationCase):
    """The dry-run takes the engine's decisions, writes nothing; the engine then does
    exactly what it said."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trigger = cls.env["crm.stage.trigger"].create(
            {
                "name": "Pricing clicked",
                "stage_id": cls.stage_proposal.id,
                "event_type": "link_click",
                "link_url": "https://example.com/pricing*",
            }
        )
        cls.rule_waiting = cls._rule(
            cls.stage_new, timing="delay", delay_count=3, delay_unit="days", name="Nudge"
        )
        cls.rule_now = cls._rule(cls.stage_proposal, name="Tag hot")
        cls.rule_business = cls._rule(
            cls.stage_proposal,
            name="Call in business hours",
            timing="delay",
            delay_count=7,
            delay_unit="hours",
            business_hours=True,
        )
        cls.rule_condition = cls._rule(
            cls.stage_proposal,
            name="Big deals only",
            filter_domain="[('expected_revenue', '>=', 1e6)]",
        )
        cls.rule_date = cls._rule(
            cls.stage_proposal,
            name="Before closing",
            timing="date_field",
            date_field_id=cls.env["ir.model.fields"]._get("crm.lead", "date_deadline").id,
            date_direction="before",
            delay_count=1,
            delay_unit="days",
        )
        cls.rule_draft = cls._rule(cls.stage_proposal, name="Not yet", state="draft")
        cls.rule_skipped_over = cls._rule(
            cls.stage_qualified,
            name="Qualify anyway",
            run_when_skipped=True,
            timing="delay",
            delay_count=1,
            delay_unit="days",
        )
        cls.rule_not_opted_in = cls._rule(cls.stage_qualified, name="Qualified only")

    def _counts(self):
        """Rows of every table the engine writes: count, last id, and what an update
        would change (lead write dates, pending jobs)."""
        self.env.flush_all()
        counts = {}
        for table in (
            "crm_lead",
            "crm_automation_job",
            "crm_automation_log",
            "mail_activity",
            "mail_message",
            "crm_lead_event",
            "mail_mail",
        ):
            self.env.cr.execute(SQL("SELECT count(*), max(id) FROM %s", SQL.identifier(table)))
            counts[table] = self.env.cr.fetchone()
        self.env.cr.execute("SELECT max(write_date), sum(automation_visit) FROM crm_lead")
        counts["crm_lead updates"] = self.env.cr.fetchone()
        self.env.cr.execute("SELECT count(*) FROM crm_automation_job WHERE state = 'pending'")
        counts["pending jobs"] = self.env.cr.fetchone()
        return counts

    def test_dry_run_matches_engine_for_event(self):
        lead = self._lead(expected_revenue=500)
        pending = self._jobs(lead, self.rule_waiting)
        self.assertEqual(pending.state, "pending")
        before = self._counts()
        Board = self.env["crm.automation.board"]
        event = Board._dry_run_event(lead, "link_click", PRICING)
        dry = Board._dry_run_decisions(lead, event=event)
        as_json = self.env["crm.lead"].automation_dry_run(
            lead.id, event_type="link_click", detail=PRICING
        )
        self.assertEqual(self._counts(), before, "the dry-run wrote nothing")
        self.assertEqual(lead.stage_id, self.stage_new)

        decision = dry["decision"]
        self.assertEqual(decision["state"], "fired")
        self.assertEqual(decision["trigger"], self.trigger)
        self.assertEqual(dry["entered"], self.stage_proposal)
        planned = {(rule, run_at) for rule, run_at, skipped in dry["rules"] if not skipped}
        skipped = {(rule, message) for rule, run_at, message in dry["rules"] if message}
        self.assertEqual(
            {rule for rule, _run_at in planned},
            set(self.rule_now | self.rule_business | self.rule_skipped_over),
        )
        self.assertEqual(
            {rule for rule, _message in skipped}, set(self.rule_condition | self.rule_date)
        )
        self.assertEqual(dry["cancelled"], pending)
        # Monday 11:00 Brussels + 7 working hours (9-12, 13-17) = Tuesday 11:00 (10:00 UTC).
        self.assertIn((self.rule_business, NOW.replace(day=13, hour=10)), planned)
        self.assertEqual(as_json["trigger"]["trigger"], self.trigger.name)
        self.assertEqual(as_json["entered"]["id"], self.stage_proposal.id)
        self.assertEqual(len(as_json["rules"]), 5)
        self.assertTrue(
            next(r for r in as_json["rules"] if r["rule_id"] == self.rule_skipped_over.id)[
                "skipped_over"
            ]
        )

        # The engine, for real, on the same lead and event.
        real = self.env["crm.lead.event"]._record(lead, "link_click", "email", url=PRICING)
        self.assertEqual(real.state, decision["state"])
        self.assertEqual(real.trigger_id, decision["trigger"])
        self.assertEqual(lead.stage_id, dry["entered"])
        jobs = self.Job.search([("lead_id", "=", lead.id), ("visit", "=", lead.automation_visit)])
        self.assertEqual({(job.rule_id, job.run_at) for job in jobs}, planned)
        self.assertEqual(
            {(log.rule_id, log.message) for log in self._logs(lead, "rule_skipped")},
            skipped,
        )
        self.assertEqual(self._logs(lead, "job_cancelled").job_id, dry["cancelled"])
        self.assertEqual(pending.state, "cancelled")

    def test_dry_run_matches_engine_when_not_moved(self):
        lead = self._lead(self.stage_won)
        before = self._counts()
        Board = self.env["crm.automation.board"]
        dry = Board._dry_run_decisions(
            lead, event=Board._dry_run_event(lead, "link_click", PRICING)
        )
        self.assertEqual(self._counts(), before)
        decision = dry["decision"]
        self.assertEqual(decision["state"], "blocked")
        self.assertFalse(dry["entered"])
        self.assertFalse(dry["rules"])
        real = self.env["crm.lead.event"]._record(lead, "link_click", "email", url=PRICING)
        self.assertEqual(real.state, decision["state"])
        self.assertIn(decision["reason"], real.verdict_reason)
        self.assertEqual(lead.stage_id, self.stage_won)

        other = self._lead()
        dry = Board._dry_run_decisions(
            other, event=Board._dry_run_event(other, "link_click", "https://example.com/blog")
        )
        self.assertEqual(dry["decision"]["state"], "no_trigger")
        real = self.env["crm.lead.event"]._record(
            other, "link_click", "email", url="https://example.com/blog"
        )
        self.assertEqual(real.state, "no_trigger")

    def test_dry_run_matches_engine_for_stage_entry(self):
        lead = self._lead(expected_revenue=2e6, date_deadline=NOW.date() + timedelta(days=10))
        before = self._counts()
        dry = self.env["crm.automation.board"]._dry_run_decisions(lead, stage=self.stage_proposal)
        as_json = self.env["crm.lead"].automation_dry_run(lead.id, stage_id=self.stage_proposal.id)
        self.assertEqual(self._counts(), before)
        self.assertIsNone(dry["decision"])
        self.assertEqual(as_json["entered"]["name"], self.stage_proposal.name)
        planned = {(rule, run_at) for rule, run_at, skipped in dry["rules"] if not skipped}
        self.assertFalse([item for item in dry["rules"] if item[2]])
        lead.stage_id = self.stage_proposal
        jobs = self.Job.search([("lead_id", "=", lead.id), ("visit", "=", lead.automation_visit)])
        self.assertEqual({(job.rule_id, job.run_at) for job in jobs}, planned)
        self.assertEqual(len(jobs), 5)

    def test_dry_run_bad_input(self):
        lead = self._lead()
        with self.assertRaises(UserError):
            self.env["crm.lead"].automation_dry_run(lead.id)
        with self.assertRaises(UserError):
            self.env["crm.lead"].automation_dry_run(lead.id, event_type="no_such_event")
        with self.assertRaises(UserError):
            self.env["crm.lead"].automation_dry_run(0, event_type="link_click")
        with self.assertRaises(UserError):
            self.env["crm.lead"].automation_dry_run(
                lead.id, event_type="chat_response_late", detail="soon"
            )
        other = self._lead(user_id=self.salesman2.id)
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(self.salesman).automation_dry_run(
                other.id, event_type="link_click"
            )


@tagged("post_install", "-at_install")
class TestAutomationAnalysis(AutomationCase):
    """Design-time warnings of the board: loops, rules that never run, other pipelines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Board = cls.env["crm.automation.board"]
        cls.template = cls.env["mail.template"].create(
            {
                "name": "Welcome",
                "model_id": cls.env["ir.model"]._get_id("crm.lead"),
                "subject": "Welcome",
                "body_html": "<p>Hello</p>",
            }
        )
        cls.stage_field = cls.env["ir.model.fields"]._get("crm.lead", "stage_id")
        # Shared stages (no team) belong to every pipeline: leave the demo automation
        # out of this pipeline's analysis.
        for model in ("crm.automation.rule", "crm.stage.trigger"):
            cls.env[model].search([("stage_id.team_id", "!=", cls.team.id)]).active = False

    def _back_to(self, stage, target, **values):
        return self._rule(
            stage,
            "update",
            name=f"Back to {target.name}",
            update_line_ids=[
                Command.create({"field_id": self.stage_field.id, "value": str(target.id)})
            ],
            **values,
        )

    def _warnings(self, kind):
        return [w for w in self.Board._analyze(self.team) if w["kind"] == kind]

    def test_loop_through_email_reaction_and_rule(self):
        email = self._rule(
            self.stage_new,
            "email",
            name="Welcome email",
            mail_template_id=self.template.id,
            timing="delay",
            delay_count=2,
        )
        trigger = self.env["crm.stage.trigger"].create(
            {
                "name": "Welcome opened",
                "stage_id": self.stage_qualified.id,
                "event_type": "email_open",
                "state": "draft",
            }
        )
        self.assertFalse(self._warnings("loop"), "no way back yet")
        back = self._back_to(self.stage_qualified, self.stage_new)
        loops = self._warnings("loop")
        self.assertEqual(len(loops), 1)
        self.assertEqual(loops[0]["trigger_ids"], trigger.ids)
        self.assertEqual(loops[0]["rule_ids"], sorted((email | back).ids))
        self.assertIn("A New → B Qualified → A New", loops[0]["message"])
        self.assertIn("(draft)", loops[0]["message"])
        # A trigger waiting for another template's email is no way round.
        trigger.mail_template_id = self.env["mail.template"].create(
            {"name": "Other", "model_id": self.env["ir.model"]._get_id("crm.lead")}
        )
        self.assertFalse(self._warnings("loop"))

    def test_loop_of_rules_and_copies(self):
        self._back_to(self.stage_qualified, self.stage_proposal)
        self._back_to(self.stage_proposal, self.stage_qualified)
        self.assertEqual(len(self._warnings("loop")), 1)
        copy = self._rule(self.stage_won, "copy_lead", target_stage_id=self.stage_won.id)
        loops = [w for w in self._warnings("loop") if copy.id in w["rule_ids"]]
        self.assertEqual(len(loops), 1)
        self.assertIn("creates a new lead", loops[0]["message"])

    def test_server_action_may_move(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "Custom move",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "state": "code",
                "code": "records.write({'stage_id': 1})",
            }
        )
        rule = self._rule(self.stage_new, "server_action", server_action_id=action.id)
        (warning,) = self._warnings("may_move")
        self.assertEqual(warning["rule_ids"], rule.ids)
        self.assertIn("Custom move", warning["message"])

    def test_rules_that_never_run(self):
        impossible = self._rule(self.stage_new, filter_domain="[('id', '=', 0)]")
        other_stage = self._rule(
            self.stage_new, filter_domain=f"[('stage_id', '=', {self.stage_won.id})]"
        )
        waiting = self._rule(self.stage_qualified, timing="delay", delay_count=2)
        self._rule(self.stage_qualified, timing="delay", delay_count=2, keep_running=True)
        self._rule(self.stage_new, filter_domain="[('expected_revenue', '>', 0)]")
        self._back_to(self.stage_qualified, self.stage_proposal)
        never = {w["rule_ids"][0]: w["message"] for w in self._warnings("never_runs")}
        self.assertEqual(set(never), {impossible.id, other_stage.id, waiting.id})
        self.assertIn("never true", never[impossible.id])
        self.assertIn("another stage", never[other_stage.id])
        self.assertIn("Keep running after exit", never[waiting.id])

    def test_trigger_to_another_pipeline(self):
        other_team = self.env["crm.team"].create({"name": "Installation"})
        elsewhere = self.env["crm.stage"].create({"name": "To schedule", "team_id": other_team.id})
        trigger = self.env["crm.stage.trigger"].create(
            {
                "name": "Installation form",
                "stage_id": elsewhere.id,
                "event_type": "form_submitted",
                "filter_domain": f"[('team_id', '=', {self.team.id})]",
            }
        )
        self._back_to(self.stage_new, elsewhere)
        warnings = self._warnings("other_pipeline")
        self.assertEqual(len(warnings), 2)
        self.assertEqual(warnings[0]["trigger_ids"], trigger.ids)
        self.assertIn("never fires", warnings[0]["message"])
        self.assertIn("leave their pipeline", warnings[1]["message"])

    def test_board_data_and_edits(self):
        trigger = self.env["crm.stage.trigger"].create(
            {"name": "Form", "stage_id": self.stage_qualified.id, "event_type": "form_submitted"}
        )
        first = self._rule(self.stage_qualified, name="First", sequence=1)
        second = self._rule(
            self.stage_qualified,
            name="Second",
            sequence=2,
            timing="delay",
            delay_count=6,
            delay_unit="months",
        )
        self._back_to(self.stage_proposal, self.stage_new)
        self._rule(
            self.stage_proposal,
            timing="date_field",
            date_field_id=self.env["ir.model.fields"]._get("crm.lead", "date_deadline").id,
        )
        self.assertTrue(self.Board.with_user(self.leader).get_board(self.team.id)["can_edit"])
        board = self.Board.with_user(self.salesman).get_board(self.team.id)
        self.assertFalse(board["can_edit"])
        stage = next(s for s in board["stages"] if s["id"] == self.stage_qualified.id)
        self.assertEqual([t["id"] for t in stage["triggers"]], trigger.ids)
        self.assertEqual([r["name"] for r in stage["rules"]], ["First", "Second"])
        self.assertEqual(stage["rules"][1]["timing"], "after 6 months")
        with self.assertRaises(AccessError):
            self.Board.with_user(self.salesman).toggle_state("crm.automation.rule", first.id)
        with self.assertRaises(AccessError):
            self.Board.with_user(self.salesman).resequence(
                "crm.automation.rule", [second.id, first.id]
            )
        Board = self.Board.with_user(self.leader)
        Board.resequence("crm.automation.rule", [second.id, first.id])
        self.assertLess(second.sequence, first.sequence)
        self.assertFalse(Board.toggle_state("crm.automation.rule", first.id))
        self.assertEqual(first.state, "draft")
        self.assertFalse(Board.toggle_state("crm.stage.trigger", trigger.id))
        self.assertEqual(trigger.state, "draft")
        with self.assertRaises(UserError):
            Board.resequence("res.users", [1])
        with self.assertRaises(UserError):
            Board.get_board(999999)


@tagged("post_install", "-at_install")
class TestAutomationBoardTour(TourScreenshotMixin, HttpCase):
    """A manager builds automation on the board, in headless Chromium."""

    def test_manager_builds_trigger_and_delayed_rule_and_sees_loop(self):
        manager = new_test_user(
            self.env,
            login="cpa_board_manager",
            password="cpa_board_manager",
            name="Bea Board",
            groups="sales_team.group_sale_manager",
        )
        team = self.env["crm.team"].create(
            {"name": "Board team", "use_leads": True, "user_id": manager.id, "sequence": 0}
        )
        self.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": manager.id})
        Stage = self.env["crm.stage"]
        new = Stage.create({"name": "Board New", "sequence": 301, "team_id": team.id})
        qualified = Stage.create({"name": "Board Qualified", "sequence": 302, "team_id": team.id})
        self.env["mail.template"].create(
            {
                "name": "Board welcome",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "subject": "Welcome",
            }
        )
        self.env["crm.automation.rule"].create(
            {
                "name": "Back to Board New",
                "stage_id": qualified.id,
                "action_type": "update",
                "update_line_ids": [
                    Command.create(
                        {
                            "field_id": self.env["ir.model.fields"]._get("crm.lead", "stage_id").id,
                            "value": str(new.id),
                        }
                    )
                ],
            }
        )
        # Conditions the board shows in words; a title longer than the column (at
        # 1366 px the state badge next to it used to shrink to "Ac…").
        vip = self.env["crm.tag"].create({"name": "VIP"})
        self.env["crm.automation.rule"].create(
            {
                "name": "Welcome the VIP customers personally",
                "stage_id": qualified.id,
                "action_type": "tags",
                "tag_add_ids": [Command.link(vip.id)],
                "filter_domain": f"[('tag_ids', 'in', [{vip.id}])]",
            }
        )
        self.env["crm.stage.trigger"].create(
            {
                "name": "Pricing form sent",
                "stage_id": qualified.id,
                "event_type": "form_submitted",
                "filter_domain": f"[('stage_id', '=', {new.id})]",
            }
        )
        lead = self.env["crm.lead"].create(
            {"name": "Board lead", "type": "opportunity", "team_id": team.id, "stage_id": new.id}
        )
        self.start_tour("/odoo/crm", "crm_pipeline_automation_board_tour", login=manager.login)
        trigger = self.env["crm.stage.trigger"].search([("name", "=", "Welcome email opened")])
        self.assertEqual(trigger.stage_id, qualified)
        self.assertEqual(trigger.state, "draft")
        rule = self.env["crm.automation.rule"].search([("name", "=", "Send the welcome email")])
        self.assertEqual((rule.stage_id, rule.timing, rule.delay_count), (new, "delay", 2))
        self.assertEqual(rule.state, "draft")
        warnings = self.env["crm.automation.board"]._analyze(team)
        self.assertTrue([w for w in warnings if w["kind"] == "loop"])
        # The dry-run of the tour changed nothing (created where no rule was: no visit).
        self.assertEqual(lead.stage_id, new)
        self.assertEqual(lead.automation_visit, 0)
        self.assertFalse(lead.automation_job_ids)


@tagged("post_install", "-at_install")
class TestAutomationBoardSpanishTour(TourScreenshotMixin, HttpCase):
    """The board of a Spanish-speaking manager, in headless Chromium."""

    def test_board_renders_in_spanish(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_pipeline_automation"], ["es_ES"], overwrite=True
        )
        self.addCleanup(self.registry.clear_cache)
        manager = new_test_user(
            self.env,
            login="cpa_board_es",
            password="cpa_board_es",
            name="Elena Gestora",
            groups="sales_team.group_sale_manager",
            lang="es_ES",
        )
        team = self.env["crm.team"].create(
            {"name": "Equipo ES", "use_leads": True, "user_id": manager.id, "sequence": 0}
        )
        self.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": manager.id})
        Stage = self.env["crm.stage"]
        Stage.create({"name": "Nuevo", "sequence": 301, "team_id": team.id})
        qualified = Stage.create({"name": "Calificado", "sequence": 302, "team_id": team.id})
        self.env["crm.stage.trigger"].create(
            {"name": "Enlace de precios", "stage_id": qualified.id, "event_type": "link_click"}
        )
        self.env["crm.automation.rule"].create(
            {
                "name": "Llamar al cliente",
                "stage_id": qualified.id,
                "timing": "delay",
                "delay_count": 6,
                "delay_unit": "months",
                "action_type": "tags",
                "tag_add_ids": [Command.create({"name": "Recompra"})],
            }
        )
        self.start_tour(
            "/odoo/action-crm_pipeline_automation.crm_automation_board_action",
            "crm_pipeline_automation_board_es_tour",
            login=manager.login,
        )
