# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, freeze_time, tagged

from ..models.crm_lead import CrmLead
from .common import TrackingCase


class LeadTriggerCase(TrackingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_vip = cls.env["crm.tag"].create({"name": "CPA VIP"})
        cls.tag_cold = cls.env["crm.tag"].create({"name": "CPA Cold"})
        cls.tag_hot = cls.env["crm.tag"].create({"name": "CPA Hot"})
        # The manager sells in the team too: a lead assigned to him stays in it.
        cls.env["crm.team.member"].create({"crm_team_id": cls.team.id, "user_id": cls.manager.id})

    def _field_trigger(self, stage, field, change="any", value=False, **vals):
        return self._trigger(
            stage,
            "field_changed",
            watch_field=field,
            watch_change=change,
            watch_value=value,
            **vals,
        )

    def _events(self, lead, event_type):
        return lead.cpa_event_ids.filtered(lambda e: e.event_type == event_type)


@tagged("post_install", "-at_install")
class TestFieldChangedTrigger(LeadTriggerCase):
    def test_tag_added_moves_tag_removed_moves_further(self):
        added = self._field_trigger(self.stage_qualified, "tag_ids", "to", "cpa vip")
        removed = self._field_trigger(self.stage_proposition, "tag_ids", "from", "CPA Cold")
        lead = self._lead(tag_ids=[Command.link(self.tag_cold.id)])
        lead.write({"tag_ids": [Command.link(self.tag_hot.id)]})
        self.assertEqual(lead.stage_id, self.stage_new, "another tag added: no move")
        lead.with_user(self.salesman).write({"tag_ids": [Command.link(self.tag_vip.id)]})
        self.assertMovedBy(lead, self.stage_qualified, added, self.salesman)
        event = self._events(lead, "field_changed")
        self.assertEqual(event.state, "fired")
        self.assertIn("CPA VIP", event.text)
        lead.write({"tag_ids": [Command.unlink(self.tag_cold.id)]})
        self.assertMovedBy(lead, self.stage_proposition, removed, self.salesman)

    def test_salesperson_changed_to(self):
        trigger = self._field_trigger(
            self.stage_qualified, "user_id", "to", self.manager.name, user_id=self.manager.id
        )
        lead = self._lead()
        lead.user_id = self.manager
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.manager)

    def test_priority_and_revenue_reached(self):
        priority = self._field_trigger(self.stage_qualified, "priority", "reached", "High")
        revenue = self._field_trigger(self.stage_proposition, "expected_revenue", "reached", "5000")
        lead = self._lead(expected_revenue=1000, priority="0")
        lead.priority = "1"
        self.assertEqual(lead.stage_id, self.stage_new, "below the threshold")
        lead.priority = "3"
        self.assertMovedBy(lead, self.stage_qualified, priority, self.salesman)
        lead.expected_revenue = 6000
        self.assertEqual(lead.stage_id, self.stage_proposition)
        self.assertIn(revenue.name, self._notes(lead)[0].body)
        # Already above: changing it again does not cross the threshold.
        other = self._lead(expected_revenue=6000)
        other.expected_revenue = 7000
        self.assertEqual(other.stage_id, self.stage_new)
        self.assertFalse(self._events(other, "field_changed"))

    def test_engagement_score_reached_by_events(self):
        trigger = self._field_trigger(self.stage_qualified, "engagement_score", "reached", "10")
        lead = self._lead()
        self.Event._record(lead, "email_received", "mail_gateway")  # 5 points
        self.assertEqual(lead.stage_id, self.stage_new)
        self.Event._record(lead, "email_received", "mail_gateway")  # 10 points
        self.assertEqual(lead.engagement_score, 10)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)

    def test_backward_and_condition_kept(self):
        self._field_trigger(self.stage_qualified, "priority", "to", "3")
        lead = self._lead(self.stage_proposition)
        lead.priority = "3"
        self.assertEqual(lead.stage_id, self.stage_proposition)
        event = self._events(lead, "field_changed")
        self.assertEqual(event.state, "blocked")
        self.assertIn("not after", event.verdict_reason)
        conditional = self._field_trigger(
            self.stage_qualified,
            "priority",
            "to",
            "2",
            allow_backward=True,
            filter_domain=f"[('user_id', '=', {self.manager.id})]",
        )
        lead.priority = "2"
        self.assertEqual(lead.stage_id, self.stage_proposition, "condition not met")
        lead.write({"user_id": self.manager.id, "priority": "1"})
        lead.priority = "2"
        self.assertMovedBy(lead, self.stage_qualified, conditional, self.manager)

    def test_won_lost_and_other_pipeline_untouched(self):
        self._field_trigger(self.stage_qualified, "priority")
        won = self._lead(self.stage_won)
        won.priority = "3"
        self.assertEqual(won.stage_id, self.stage_won)
        other_team = self.env["crm.team"].create({"name": "Elsewhere"})
        other = self._lead(team_id=other_team.id, stage_id=self.stage_new.id)
        other.priority = "3"
        self.assertFalse(self._events(other, "field_changed"))

    def test_automatic_changes_only_when_asked(self):
        trigger = self._field_trigger(self.stage_proposition, "tag_ids", "to", "CPA VIP")
        self.env["crm.automation.rule"].create(
            {
                "name": "Tag VIP",
                "stage_id": self.stage_qualified.id,
                "action_type": "tags",
                "tag_add_ids": [Command.link(self.tag_vip.id)],
            }
        )
        lead = self._lead()
        lead.stage_id = self.stage_qualified
        self.assertIn(self.tag_vip, lead.tag_ids, "the rule ran")
        self.assertEqual(lead.stage_id, self.stage_qualified, "the engine's own change")
        trigger.fire_on_automatic = True
        lead2 = self._lead()
        lead2.stage_id = self.stage_qualified
        self.assertMovedBy(lead2, self.stage_proposition, trigger, self.salesman)

    def test_mass_write_is_set_wise(self):
        """The cost of a mass write does not grow with the number of leads."""
        self._field_trigger(self.stage_qualified, "tag_ids", "to", "CPA VIP")
        few = self.env["crm.lead"].concat(*(self._lead(name=f"few {i}") for i in range(5)))
        many = self.env["crm.lead"].concat(*(self._lead(name=f"many {i}") for i in range(40)))

        def cost(leads):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            leads.write({"tag_ids": [Command.link(self.tag_cold.id)]})
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        self.assertEqual(cost(few), cost(many))
        many.write({"tag_ids": [Command.link(self.tag_vip.id)]})
        self.assertEqual(set(many.mapped("stage_id")), {self.stage_qualified})

    def test_unwatched_write_costs_what_crm_costs(self):
        self._field_trigger(self.stage_qualified, "priority")
        lead = self._lead()
        core = self._core(lead)

        def cost(write, vals):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            write(vals)
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        for _round in range(2):
            addon = cost(lead.write, {"description": "addon"})
            crm = cost(core.write, {"description": "crm"})
        self.assertEqual(addon, crm)

    def test_export_import_keeps_the_new_parameters(self):
        field = self._field_trigger(self.stage_qualified, "tag_ids", "to", "CPA VIP")
        field.fire_on_automatic = True
        self._trigger(
            self.stage_proposition,
            "activity_late",
            activity_type_id=self.env.ref("mail.mail_activity_data_call").id,
            activity_action="notify",
        )
        Exchange = self.env["crm.automation.exchange"]
        data = json.loads(Exchange._export_json(self.team))
        own = self.stage_new | self.stage_qualified | self.stage_proposition | self.stage_won
        self.Trigger.search([("stage_id", "in", own.ids)]).unlink()
        shared = self.env["crm.stage"].search([("team_id", "=", False)])
        by_name = {stage.name: stage for stage in own | shared}
        stage_map = {item["key"]: by_name[item["key"]] for item in data["stages"]}
        plan = Exchange._plan_import(data, self.team, stage_map)
        triggers = Exchange._apply_import(plan, mode="add")["triggers"]
        imported = triggers.filtered(lambda t: t.event_type == "field_changed")
        self.assertEqual(
            (imported.watch_field, imported.watch_change, imported.watch_value_key),
            ("tag_ids", "to", str(self.tag_vip.id)),
        )
        self.assertTrue(imported.fire_on_automatic)
        late = triggers.filtered(lambda t: t.event_type == "activity_late")
        self.assertEqual(late.activity_type_id, self.env.ref("mail.mail_activity_data_call"))
        self.assertEqual(late.activity_action, "notify")
        self.assertEqual(json.loads(Exchange._export_json(self.team)), data)

    def _core(self, lead):
        """``lead`` as crm.lead without the addon's overrides."""
        return super(CrmLead, lead)

    def test_parameters_checked(self):
        with self.assertRaises(ValidationError):
            self._field_trigger(self.stage_qualified, "tag_ids", "to", "No such tag")
        with self.assertRaises(ValidationError):
            self._field_trigger(self.stage_qualified, "user_id", "reached", "3")
        with self.assertRaises(ValidationError):
            self._field_trigger(self.stage_qualified, "expected_revenue", "reached", "lots")
        with self.assertRaises(ValidationError):
            self._trigger(self.stage_qualified, "field_changed")

    def test_trigger_form(self):
        form = Form(self.env["crm.stage.trigger"])
        form.name = "VIP customers"
        form.event_type = "field_changed"
        form.watch_field = "tag_ids"
        form.watch_change = "to"
        form.watch_value = "CPA VIP"
        form.stage_id = self.stage_qualified
        trigger = form.save()
        self.assertEqual(trigger.watch_value_key, str(self.tag_vip.id))
        lead = self._lead()
        lead.tag_ids = [Command.link(self.tag_vip.id)]
        self.assertEqual(lead.stage_id, self.stage_qualified)


@tagged("post_install", "-at_install")
class TestActivityTrigger(LeadTriggerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.call = cls.env.ref("mail.mail_activity_data_call")
        cls.todo = cls.env.ref("mail.mail_activity_data_todo")
        cls.cron = cls.env.ref("crm_pipeline_automation.ir_cron_crm_activity_deadline_notices")

    def _activity(self, lead, activity_type, **vals):
        return lead.activity_schedule(
            activity_type_id=activity_type.id, user_id=self.salesman.id, **vals
        )

    def _run_cron(self, at):
        with freeze_time(at):
            return self.env["mail.activity"]._cron_send_deadline_notices()

    def test_activity_done_of_a_type_moves(self):
        trigger = self._trigger(
            self.stage_qualified, "activity_done", activity_type_id=self.call.id
        )
        lead = self._lead()
        self._activity(lead, self.todo).action_feedback(feedback="done")
        self.assertEqual(lead.stage_id, self.stage_new, "another type")
        self._activity(lead, self.call).with_user(self.salesman).action_feedback(feedback="ok")
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertEqual(self._events(lead, "activity_done")[0].activity_type_id, self.call)

    def test_activity_done_any_type_with_action_done(self):
        trigger = self._trigger(self.stage_qualified, "activity_done")
        lead = self._lead()
        self._activity(lead, self.todo).action_done()
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)

    def test_activity_done_by_a_stage_change_does_not_fire(self):
        self._trigger(self.stage_proposition, "activity_done")
        template = self.env["crm.activity.template"].create(
            {
                "name": "Qualify",
                "activity_type_id": self.todo.id,
                "summary": "Qualify {name}",
                "deadline_count": 2,
                "deadline_unit": "hours",
                "auto_done_on_stage_change": True,
            }
        )
        lead = self._lead()
        activity = template._create_activities(lead)
        lead.stage_id = self.stage_qualified
        self.assertFalse(activity.active, "completed by the stage change")
        self.assertEqual(lead.stage_id, self.stage_qualified, "not work of a user: no move")
        self.assertFalse(self._events(lead, "activity_done"))

    def test_activity_trigger_forward_only_unless_allowed(self):
        self._trigger(self.stage_qualified, "activity_done")
        lead = self._lead(self.stage_proposition)
        self._activity(lead, self.call).action_feedback()
        self.assertEqual(lead.stage_id, self.stage_proposition)
        self.assertEqual(self._events(lead, "activity_done").state, "blocked")
        back = self._trigger(self.stage_qualified, "activity_done", allow_backward=True)
        self._activity(lead, self.call).action_feedback()
        self.assertMovedBy(lead, self.stage_qualified, back, self.salesman)

    def test_activity_late_moves_once(self):
        trigger = self._trigger(
            self.stage_qualified, "activity_late", activity_type_id=self.call.id
        )
        lead = self._lead()
        now = fields.Datetime.now()
        activity = self._activity(lead, self.call, deadline_datetime=now + timedelta(hours=1))
        # The cron is woken at the deadline.
        calls = self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)])
        self.assertIn(activity.deadline_datetime, calls.mapped("call_at"))
        self._run_cron(now + timedelta(minutes=59))
        self.assertEqual(lead.stage_id, self.stage_new, "not late yet")
        self._run_cron(now + timedelta(hours=2))
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertTrue(activity.late_fired_at)
        lead.stage_id = self.stage_new
        self._run_cron(now + timedelta(hours=3))
        self.assertEqual(lead.stage_id, self.stage_new, "once per activity")
        self.assertEqual(len(self._events(lead, "activity_late")), 1)

    def test_plain_activity_late_after_the_end_of_its_day(self):
        self.salesman.tz = "Europe/Brussels"
        trigger = self._trigger(self.stage_qualified, "activity_late")
        lead = self._lead()
        day = fields.Date.today() + timedelta(days=2)
        self._activity(lead, self.todo, date_deadline=day)
        # 23:59 in Brussels (UTC+1 in winter, +2 in summer) is at the latest 22:59 UTC.
        self._run_cron(f"{day} 21:00:00")
        self.assertEqual(lead.stage_id, self.stage_new)
        self._run_cron(f"{day} 23:30:00")
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)

    def test_activity_late_notifies_the_salesperson(self):
        trigger = self._trigger(self.stage_new, "activity_late", activity_action="notify")
        lead = self._lead()
        now = fields.Datetime.now()
        self._activity(lead, self.call, deadline_datetime=now + timedelta(minutes=5))
        self._run_cron(now + timedelta(hours=1))
        self.assertEqual(lead.stage_id, self.stage_new)
        message = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", lead.id),
                ("partner_ids", "in", self.salesman.partner_id.ids),
                ("body", "ilike", trigger.name),
            ]
        )
        self.assertEqual(len(message), 1)
        self.assertEqual(self._events(lead, "activity_late").state, "notified")
        self.assertTrue(self._ledger(lead, "trigger_notified"))
        # Not in the trigger's stage any more: no notification.
        other = self._lead(self.stage_qualified)
        self._activity(other, self.call, deadline_datetime=now + timedelta(minutes=5))
        self._run_cron(now + timedelta(hours=1))
        self.assertFalse(self._ledger(other, "trigger_notified"))

    def test_no_late_trigger_no_claim(self):
        lead = self._lead()
        now = fields.Datetime.now()
        activity = self._activity(lead, self.call, deadline_datetime=now + timedelta(minutes=5))
        self._run_cron(now + timedelta(hours=1))
        self.assertFalse(activity.late_fired_at)
        with self.assertQueryCount(0):
            self.env["mail.activity"]._claim_late(now)

    def test_trigger_form(self):
        form = Form(self.env["crm.stage.trigger"])
        form.name = "Call done"
        form.event_type = "activity_done"
        form.activity_type_id = self.call
        form.stage_id = self.stage_qualified
        trigger = form.save()
        self.assertEqual(trigger.activity_action, "move")


@tagged("post_install", "-at_install")
class TestLeadTriggerBoard(LeadTriggerCase):
    def test_board_describes_the_new_kinds(self):
        self._field_trigger(self.stage_qualified, "tag_ids", "to", "CPA VIP")
        self._field_trigger(self.stage_qualified, "expected_revenue", "reached", "5000")
        self._trigger(
            self.stage_proposition,
            "activity_late",
            activity_type_id=self.env.ref("mail.mail_activity_data_call").id,
            activity_action="notify",
        )
        board = self.env["crm.automation.board"].get_board(self.team.id)
        details = {t["detail"] for s in board["stages"] for t in s["triggers"]}
        self.assertIn("Tags changes to CPA VIP", details)
        self.assertIn("Expected Revenue reaches 5000", details)
        self.assertIn("Call, Notify the salesperson", details)

    def test_loop_through_tags_and_field_triggers(self):
        up = self._field_trigger(
            self.stage_proposition, "tag_ids", "to", "CPA VIP", fire_on_automatic=True
        )
        down = self._field_trigger(
            self.stage_qualified,
            "tag_ids",
            "from",
            "CPA VIP",
            fire_on_automatic=True,
            allow_backward=True,
        )
        Rule = self.env["crm.automation.rule"]
        add = Rule.create(
            {
                "name": "Tag VIP",
                "stage_id": self.stage_qualified.id,
                "action_type": "tags",
                "tag_add_ids": [Command.link(self.tag_vip.id)],
            }
        )
        remove = Rule.create(
            {
                "name": "Untag VIP",
                "stage_id": self.stage_proposition.id,
                "action_type": "tags",
                "tag_remove_ids": [Command.link(self.tag_vip.id)],
            }
        )
        board = self.env["crm.automation.board"].get_board(self.team.id)
        loops = [w for w in board["warnings"] if w["kind"] == "loop"]
        self.assertEqual(len(loops), 1)
        self.assertEqual(loops[0]["trigger_ids"], sorted((up | down).ids))
        self.assertEqual(loops[0]["rule_ids"], sorted((add | remove).ids))
        # Without "also on automatic changes" the engine's tags fire nothing: no loop.
        (up | down).fire_on_automatic = False
        board = self.env["crm.automation.board"].get_board(self.team.id)
        self.assertFalse([w for w in board["warnings"] if w["kind"] == "loop"])

    def test_dry_run_field_change(self):
        trigger = self._field_trigger(self.stage_qualified, "tag_ids", "to", "CPA VIP")
        lead = self._lead()
        Lead = self.env["crm.lead"]
        result = Lead.automation_dry_run(lead.id, "field_changed", detail="Tags: CPA VIP")
        self.assertEqual(result["trigger"]["state"], "fired")
        self.assertEqual(result["trigger"]["trigger_id"], trigger.id)
        result = Lead.automation_dry_run(lead.id, "field_changed", detail="tag_ids: -CPA VIP")
        self.assertEqual(result["trigger"]["state"], "no_trigger")
        with self.assertRaises(UserError):
            Lead.automation_dry_run(lead.id, "field_changed", detail="Tags")
        with self.assertRaises(UserError):
            Lead.automation_dry_run(lead.id, "field_changed", detail="Tags: Nope")
        self.assertEqual(lead.stage_id, self.stage_new)
        self.assertFalse(lead.cpa_event_ids)

    def test_dry_run_activity(self):
        self._trigger(
            self.stage_qualified,
            "activity_done",
            activity_type_id=self.env.ref("mail.mail_activity_data_call").id,
        )
        self._trigger(self.stage_new, "activity_done", activity_action="notify")
        lead = self._lead()
        Lead = self.env["crm.lead"]
        result = Lead.automation_dry_run(lead.id, "activity_done", detail="call")
        self.assertEqual(result["trigger"]["state"], "fired")
        self.assertTrue(result["notify"])
        result = Lead.automation_dry_run(lead.id, "activity_done", detail="To-Do")
        self.assertEqual(result["trigger"]["state"], "no_trigger")
        with self.assertRaises(UserError):
            Lead.automation_dry_run(lead.id, "activity_done", detail="No such type")
