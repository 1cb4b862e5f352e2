# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import date, timedelta

from odoo import Command, fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.mail.tests.common import MockEmail
from odoo.addons.sms.tests.common import SMSCase

from .common import AutomationCase


@tagged("post_install", "-at_install")
class TestAutomationActions(AutomationCase, MockEmail):
    """Every action_type, run through a stage entry."""

    def _enter(self, rule, **lead_vals):
        lead = self._lead(**lead_vals)
        lead.stage_id = rule.stage_id
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "done", job.last_error)
        return lead, job

    def test_activity(self):
        call = self.env.ref("mail.mail_activity_data_call")
        rule = self._rule(
            self.stage_qualified,
            "activity",
            activity_type_id=call.id,
            activity_summary="Call about the contract",
            activity_deadline_count=2,
            activity_user_source="team_leader",
            activity_done_on_exit=True,
        )
        lead, job = self._enter(rule)
        activity = lead.activity_ids
        self.assertEqual(job.activity_id, activity)
        self.assertEqual(activity.activity_type_id, call)
        self.assertEqual(activity.summary, "Call about the contract")
        self.assertEqual(activity.user_id, self.leader)
        today = fields.Date.context_today(lead.with_user(self.leader))
        self.assertEqual(activity.date_deadline, today + timedelta(days=2))
        # Leaving the stage completes it.
        lead.stage_id = self.stage_proposal
        self.assertFalse(lead.activity_ids)
        self.assertTrue(self._logs(lead, "activity_done"))
        done = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", lead.id),
                ("mail_activity_type_id", "=", call.id),
            ]
        )
        self.assertTrue(done)

    def test_activity_summary_and_note_placeholders(self):
        rule = self._rule(
            self.stage_qualified,
            "activity",
            activity_summary="Call {contact_name} of {partner_name}",
            activity_note="<p>Ask {contact_name} about {name} ({stage}) {unknown}</p>",
        )
        lead, job = self._enter(rule)
        activity = lead.activity_ids
        self.assertEqual(activity.summary, "Call Laura Chen of Acme Logistics")
        self.assertIn("Ask Laura Chen about Office desks (B Qualified) {unknown}", activity.note)
        self.assertIn("Call Laura Chen of Acme Logistics", job.result)
        self.assertIn("Call Laura Chen of Acme Logistics", self._logs(lead, "rule_done").message)

    def test_activity_kept_when_not_done_on_exit(self):
        rule = self._rule(
            self.stage_qualified,
            "activity",
            activity_user_source="user",
            activity_user_id=self.salesman2.id,
        )
        lead, _job = self._enter(rule)
        lead.stage_id = self.stage_proposal
        self.assertEqual(lead.activity_ids.user_id, self.salesman2)

    def test_repeat_lead(self):
        rule = self._rule(
            self.stage_won,
            "repeat_lead",
            lead_name_template="Renewal: {partner_name} / {contact_name} ({name}) {unknown}",
            target_stage_id=self.stage_new.id,
            target_user_source="user",
            target_user_id=self.salesman2.id,
        )
        lead, _job = self._enter(rule)
        repeat = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
        self.assertEqual(
            repeat.name, "Renewal: Acme Logistics / Laura Chen (Office desks) {unknown}"
        )
        self.assertEqual(repeat.stage_id, self.stage_new)
        self.assertEqual(repeat.team_id, self.team)
        self.assertEqual(repeat.user_id, self.salesman2)
        self.assertEqual(repeat.partner_id, self.partner)

    def test_copy_lead(self):
        other_team = self.env["crm.team"].create(
            {"name": "Installation", "user_id": self.salesman2.id}
        )
        to_schedule = self.env["crm.stage"].create(
            {"name": "To schedule", "sequence": 1, "team_id": other_team.id}
        )
        rule = self._rule(
            self.stage_won,
            "copy_lead",
            target_team_id=other_team.id,
            target_stage_id=to_schedule.id,
            target_user_source="team_leader",
        )
        lead, _job = self._enter(
            rule, tag_ids=[Command.link(self.tag_cold.id)], expected_revenue=1200
        )
        copy = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
        self.assertEqual(copy.name, "Office desks (copy)")
        self.assertEqual(
            (copy.team_id, copy.stage_id, copy.user_id), (other_team, to_schedule, self.salesman2)
        )
        self.assertEqual(copy.tag_ids, self.tag_cold)
        self.assertEqual(copy.partner_id, self.partner)
        self.assertEqual(copy.expected_revenue, 1200)
        self.assertIn("Copied", self._logs(lead, "rule_done").message)

    def test_copy_lead_keeps_the_chosen_salesperson_of_an_unassigned_lead(self):
        """Odoo's copy_data() drops the salesperson when the origin has no active one:
        the rule's choice (a user, the team leader) must stay."""
        other_team = self.env["crm.team"].create(
            {"name": "Installation", "user_id": self.salesman2.id}
        )
        to_schedule = self.env["crm.stage"].create(
            {"name": "To schedule", "sequence": 1, "team_id": other_team.id}
        )
        for source, expected in (
            ("team_leader", self.salesman2),
            ("user", self.leader),
            ("none", self.env["res.users"]),
        ):
            with self.subTest(source=source):
                rule = self._rule(
                    self.stage_won,
                    "copy_lead",
                    name=f"Copy {source}",
                    target_team_id=other_team.id,
                    target_stage_id=to_schedule.id,
                    target_user_source=source,
                    target_user_id=self.leader.id,
                )
                lead, _job = self._enter(rule, user_id=False)
                copy = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
                self.assertEqual(
                    (copy.team_id, copy.stage_id, copy.user_id),
                    (other_team, to_schedule, expected),
                )
                rule.unlink()

    def test_copy_lead_fires_target_stage_rules(self):
        to_schedule = self.stage_proposal
        self._rule(to_schedule)
        rule = self._rule(self.stage_won, "copy_lead", target_stage_id=to_schedule.id)
        lead, _job = self._enter(rule)
        copy = self.env["crm.lead"].search([("automation_origin_lead_id", "=", lead.id)])
        self.assertEqual(self._jobs(copy).state, "done")
        self.assertIn(self.tag_hot, copy.tag_ids)

    def test_email(self):
        template = self.env["mail.template"].create(
            {
                "name": "Welcome",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "subject": "Welcome {{ object.contact_name }}",
                "body_html": "<p>Hello {{ object.contact_name }}</p>",
                "partner_to": "{{ object.partner_id.id }}",
            }
        )
        rule = self._rule(self.stage_qualified, "email", mail_template_id=template.id)
        with self.mock_mail_gateway():
            lead, _job = self._enter(rule)
            # Queued by the rule, as Odoo's server actions do, then sent by Odoo's
            # email queue (which the dispatcher wakes).
            self.assertFalse(self._mails)
            self.env["mail.mail"].process_email_queue()
        message = lead.message_ids.filtered(lambda m: m.subject == "Welcome Laura Chen")
        self.assertTrue(message)
        self.assertIn(self.partner, message.partner_ids)
        sent = [mail for mail in self._mails if mail["subject"] == "Welcome Laura Chen"]
        self.assertEqual(len(sent), 1)
        self.assertIn("laura@acme.example.com", " ".join(sent[0]["email_to"]))

    def test_add_remove_tags(self):
        rule = self._rule(
            self.stage_qualified,
            "tags",
            tag_add_ids=[Command.link(self.tag_hot.id)],
            tag_remove_ids=[Command.link(self.tag_cold.id)],
        )
        lead, _job = self._enter(rule, tag_ids=[Command.link(self.tag_cold.id)])
        self.assertEqual(lead.tag_ids, self.tag_hot)

    def test_score_floor_is_said(self):
        """The score never goes below 0: ledger and chatter say what really happened."""
        rule = self._rule(self.stage_qualified, "tags", score_delta=-5)
        lead, job = self._enter(rule)
        self.assertEqual(lead.engagement_score, 0)
        expected = "Engagement score unchanged at 0 (floor 0; -5 requested)."
        self.assertIn(expected, job.result)
        self.assertIn(expected, self._logs(lead, "rule_done").message)
        self.assertTrue(lead.message_ids.filtered(lambda m: expected in (m.body or "")))
        self.assertNotIn("Engagement score -5.", self._logs(lead, "rule_done").message)
        # Partly applied: 3 points left, 5 requested.
        lead, job = self._enter(rule, engagement_score=3)
        self.assertEqual(lead.engagement_score, 0)
        self.assertIn("Engagement score -3 (floor 0 reached; -5 requested).", job.result)
        # Fully applied: said as before.
        lead, job = self._enter(rule, engagement_score=12)
        self.assertEqual(lead.engagement_score, 7)
        self.assertIn("Engagement score -5.", job.result)
        rule.score_delta = 4
        lead, job = self._enter(rule)
        self.assertEqual(lead.engagement_score, 4)
        self.assertIn("Engagement score +4.", job.result)

    def test_score_only_rule_says_only_the_score(self):
        """A rule giving points without tags ("score instead of tags"): the ledger says
        what happened to the score, not "Tags added: -; removed: -." (acceptance story 8)."""
        rule = self._rule(self.stage_qualified, "tags", tag_add_ids=[], score_delta=-5)
        lead, job = self._enter(rule)
        expected = "Engagement score unchanged at 0 (floor 0; -5 requested)."
        self.assertEqual(job.result, expected)
        self.assertEqual(self._logs(lead, "rule_done").message, expected)
        lead, job = self._enter(rule, engagement_score=12)
        self.assertEqual(job.result, "Engagement score -5.")

    def test_assign_user_and_team_leader(self):
        rule = self._rule(
            self.stage_qualified, "assign", assign_mode="user", assign_user_id=self.salesman2.id
        )
        lead, _job = self._enter(rule)
        self.assertEqual(lead.user_id, self.salesman2)
        rule2 = self._rule(self.stage_proposal, "assign", assign_mode="team_leader")
        lead.stage_id = self.stage_proposal
        self.assertEqual(self._jobs(lead, rule2).state, "done")
        self.assertEqual(lead.user_id, self.leader)

    def test_assign_round_robin_is_fair(self):
        rule = self._rule(self.stage_qualified, "assign", assign_mode="round_robin")
        users = []
        for _i in range(4):
            lead, _job = self._enter(rule, user_id=False)
            users.append(lead.user_id)
        members = (self.salesman | self.salesman2).sorted("id")
        self.assertEqual(users, [members[0], members[1], members[0], members[1]])
        self.assertEqual(rule.assign_last_user_id, members[1])

    def test_notify(self):
        rule = self._rule(
            self.stage_qualified,
            "notify",
            notify_target="users",
            notify_user_ids=[Command.set((self.leader | self.salesman2).ids)],
            notify_message="{name} of {partner_name} is qualified",
        )
        lead, _job = self._enter(rule)
        message = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", lead.id),
                ("message_type", "=", "user_notification"),
            ]
        )
        self.assertEqual(message.partner_ids, (self.leader | self.salesman2).partner_id)
        self.assertIn("Office desks of Acme Logistics is qualified", message.body)
        # Salesperson / team leader targets.
        rule.notify_target = "team_leader"
        self.assertEqual(rule._get_notify_users(lead), self.leader)
        rule.notify_target = "salesperson"
        self.assertEqual(rule._get_notify_users(lead), self.salesman)

    def test_update(self):
        fields_model = self.env["ir.model.fields"]
        rule = self._rule(
            self.stage_qualified,
            "update",
            update_line_ids=[
                Command.create(
                    {"field_id": fields_model._get("crm.lead", "priority").id, "value": "3"}
                ),
                Command.create(
                    {
                        "field_id": fields_model._get("crm.lead", "expected_revenue").id,
                        "value": "2500.5",
                    }
                ),
                Command.create(
                    {"field_id": fields_model._get("crm.lead", "user_id").id, "value": "Sue Seller"}
                ),
                Command.create(
                    {
                        "field_id": fields_model._get("crm.lead", "date_deadline").id,
                        "value": "2026-03-01",
                    }
                ),
                Command.create(
                    {
                        "field_id": fields_model._get("crm.lead", "tag_ids").id,
                        "value": str(self.tag_cold.id),
                    }
                ),
                Command.create(
                    {"field_id": fields_model._get("crm.lead", "description").id, "value": ""}
                ),
            ],
        )
        lead, _job = self._enter(rule, description="<p>old</p>")
        self.assertEqual(lead.priority, "3")
        self.assertEqual(lead.expected_revenue, 2500.5)
        self.assertEqual(lead.user_id, self.salesman2)
        self.assertEqual(lead.date_deadline, date(2026, 3, 1))
        self.assertEqual(lead.tag_ids, self.tag_cold)
        self.assertFalse(lead.description)

    def test_update_values_are_validated(self):
        fields_model = self.env["ir.model.fields"]
        for fname, value in (
            ("priority", "9"),
            ("expected_revenue", "a lot"),
            ("user_id", "Nobody"),
            ("date_deadline", "tomorrow"),
            ("tag_ids", "999999"),
        ):
            with self.subTest(field=fname), self.assertRaises(ValidationError):
                self._rule(
                    self.stage_qualified,
                    "update",
                    update_line_ids=[
                        Command.create(
                            {"field_id": fields_model._get("crm.lead", fname).id, "value": value}
                        )
                    ],
                )

    def test_update_stage_by_name_stays_in_the_pipeline(self):
        """Stage names repeat in every pipeline ("Won", "New"): a stage given by name is
        the one of the lead's pipeline, never one of another (even archived) team."""
        stage_field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        elsewhere = self.env["crm.team"].create({"name": "Elsewhere"})
        archived = self.env["crm.team"].create({"name": "Archived team"})
        self.env["crm.stage"].create(
            [
                {"name": self.stage_won.name, "sequence": 1, "team_id": elsewhere.id},
                {"name": self.stage_won.name, "sequence": 0, "team_id": archived.id},
            ]
        )
        archived.active = False
        rule = self._rule(
            self.stage_qualified,
            "update",
            update_line_ids=[Command.create({"field_id": stage_field.id, "value": "D Won"})],
        )
        lead, _job = self._enter(rule)
        self.assertEqual(lead.stage_id, self.stage_won)
        self.assertEqual(lead.team_id, self.team)
        # A rule that also sets the sales team: the stage of the new pipeline.
        team_field = self.env["ir.model.fields"]._get("crm.lead", "team_id")
        rule = self._rule(
            self.stage_proposal,
            "update",
            update_line_ids=[
                Command.create({"field_id": stage_field.id, "value": "D Won"}),
                Command.create({"field_id": team_field.id, "value": str(elsewhere.id)}),
            ],
        )
        lead, _job = self._enter(rule)
        self.assertEqual((lead.team_id, lead.stage_id.name), (elsewhere, "D Won"))
        self.assertEqual(lead.stage_id.team_id, elsewhere)

    def test_update_stage_by_name_prefers_the_pipeline_own_stage(self):
        """Odoo's demo has a "Won" shared by all teams and a pipeline's own "Won" (Direct
        Sales): "Won" is the pipeline's own stage, the shared one only when the pipeline
        has none of that name (acceptance story 2)."""
        stage_field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        shared = self.env["crm.stage"].create(
            {"name": self.stage_won.name, "sequence": 0, "team_id": False, "is_won": True}
        )
        rule = self._rule(
            self.stage_qualified,
            "update",
            update_line_ids=[Command.create({"field_id": stage_field.id, "value": "D Won"})],
        )
        lead, _job = self._enter(rule)
        self.assertEqual(lead.stage_id, self.stage_won)
        # A pipeline without its own "D Won": the shared one.
        bare = self.env["crm.team"].create({"name": "Bare"})
        bare_stage = self.env["crm.stage"].create({"name": "Bare New", "team_id": bare.id})
        rule = self._rule(
            bare_stage,
            "update",
            update_line_ids=[Command.create({"field_id": stage_field.id, "value": "D Won"})],
        )
        lead = self._lead(team_id=bare.id, stage_id=bare_stage.id)
        self.assertEqual(self._jobs(lead, rule).state, "done")
        self.assertEqual(lead.stage_id, shared)

    def test_update_stage_by_name_unknown_or_ambiguous_is_refused(self):
        stage_field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        elsewhere = self.env["crm.team"].create({"name": "Elsewhere"})
        self.env["crm.stage"].create({"name": "Installed", "sequence": 1, "team_id": elsewhere.id})
        twins = self.env["crm.stage"].create(
            [
                {"name": "Twin", "sequence": 150, "team_id": self.team.id},
                {"name": "Twin", "sequence": 151, "team_id": self.team.id},
            ]
        )
        for value, expected in (
            # Only in another pipeline: unknown here; the message lists this pipeline's.
            ("Installed", ["Installed", "A New", "D Won"]),
            ("Nowhere", ["Nowhere", "A New", "D Won"]),
            # Twice in the pipeline: both candidates, with their ids.
            ("Twin", [f"Twin (id {twins[0].id})", f"Twin (id {twins[1].id})"]),
        ):
            with self.subTest(value=value), self.assertRaises(ValidationError) as caught:
                self._rule(
                    self.stage_qualified,
                    "update",
                    update_line_ids=[Command.create({"field_id": stage_field.id, "value": value})],
                )
            for text in expected:
                self.assertIn(text, str(caught.exception))
        # An id picks one of the twins.
        rule = self._rule(
            self.stage_qualified,
            "update",
            update_line_ids=[
                Command.create({"field_id": stage_field.id, "value": str(twins[1].id)})
            ],
        )
        lead, _job = self._enter(rule)
        self.assertEqual(lead.stage_id, twins[1])

    def test_server_action(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "Mark",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "state": "code",
                "code": "model_name = env.context['active_model']\n"
                "record.write({'name': record.name + ' [' + model_name + ']'})",
            }
        )
        rule = self._rule(self.stage_qualified, "server_action", server_action_id=action.id)
        lead, _job = self._enter(rule)
        self.assertEqual(lead.name, "Office desks [crm.lead]")


@tagged("post_install", "-at_install")
class TestAutomationSms(AutomationCase, SMSCase):
    """The sms action sends the template through the (mocked) IAP gateway."""

    def test_sms(self):
        template = self.env["sms.template"].create(
            {
                "name": "Qualified",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "body": "Hello {{ object.contact_name }}, we will call you.",
            }
        )
        rule = self._rule(self.stage_qualified, "sms", sms_template_id=template.id)
        lead = self._lead()
        with self.mockSMSGateway():
            lead.stage_id = self.stage_qualified
        self.assertEqual(self._jobs(lead, rule).state, "done", self._jobs(lead, rule).last_error)
        self.assertEqual(len(self._sms), 1)
        self.assertEqual(self._sms[0]["body"], "Hello Laura Chen, we will call you.")

    def _sms_rule(self):
        template = self.env["sms.template"].create(
            {
                "name": "Qualified",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "body": "Hello {{ object.contact_name }}, we will call you.",
            }
        )
        return self._rule(self.stage_qualified, "sms", sms_template_id=template.id)

    def test_sms_to_lead_without_contact_goes_to_its_mobile(self):
        rule = self._sms_rule()
        lead = self._lead(partner_id=False, mobile="+32 470 11 22 33", phone="+32 2 555 12 12")
        with self.mockSMSGateway():
            lead.stage_id = self.stage_qualified
        job = self._jobs(lead, rule)
        self.assertEqual(job.state, "done", job.last_error)
        self.assertSMS(
            self.env["res.partner"], "+32470112233", "pending", content="Hello Laura Chen"
        )
        self.assertSMSIapSent(["+32470112233"], content="Hello Laura Chen")
        self.assertIn("+32470112233", job.result)
        self.assertIn("+32470112233", self._logs(lead, "rule_done").message)
        # Without a mobile: its phone.
        other = self._lead(partner_id=False, phone="+32 2 555 12 12")
        with self.mockSMSGateway():
            other.stage_id = self.stage_qualified
        self.assertEqual(self._jobs(other, rule).state, "done")
        self.assertSMSIapSent(["+3225551212"], content="Hello Laura Chen")

    def test_sms_without_number_is_skipped_not_sent(self):
        rule = self._sms_rule()
        for vals in ({}, {"phone": "call me"}):
            with self.subTest(**vals):
                lead = self._lead(partner_id=False, **vals)
                with self.mockSMSGateway():
                    lead.stage_id = self.stage_qualified
                job = self._jobs(lead, rule)
                self.assertEqual(job.state, "cancelled")
                self.assertIn("No SMS", job.result)
                self.assertFalse(self._new_sms)
                self.assertFalse(self._sms)
                self.assertFalse(self._logs(lead, "rule_done"))
                skipped = self._logs(lead, "rule_skipped")
                self.assertEqual(len(skipped), 1)
                self.assertIn("No SMS", skipped.message)
                self.assertNotIn("sent", skipped.message)
                note = lead.message_ids.filtered(lambda m: "No SMS" in (m.body or ""))
                self.assertEqual(len(note), 1)
