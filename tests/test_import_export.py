# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import json

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import AutomationCase


class ExchangeCase(AutomationCase):
    """The test pipeline with every kind of trigger, rule and activity template."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Exchange = cls.env["crm.automation.exchange"]
        crm_lead = cls.env["ir.model"]._get_id("crm.lead")
        cls.mail_template = cls.env["mail.template"].create(
            {"name": "CPA welcome", "model_id": crm_lead, "subject": "Welcome"}
        )
        cls.sms_template = cls.env["sms.template"].create(
            {"name": "CPA qualified", "model_id": crm_lead, "body": "Hello"}
        )
        cls.server_action = cls.env["ir.actions.server"].create(
            {"name": "CPA mark", "model_id": crm_lead, "state": "code", "code": "pass"}
        )
        cls.livechat = cls.env["im_livechat.channel"].create({"name": "CPA support chat"})
        cls.other_team = cls.env["crm.team"].create({"name": "CPA installation"})
        cls.other_stage = cls.env["crm.stage"].create(
            {"name": "CPA to schedule", "team_id": cls.other_team.id, "sequence": 201}
        )
        cls.group = cls.env.ref("sales_team.group_sale_salesman")
        Template = cls.env["crm.activity.template"]
        cls.template_filter = Template.create(
            {
                "name": "CPA filter the lead",
                "activity_type_id": cls.env.ref("mail.mail_activity_data_todo").id,
                "summary": "Filter {name}",
                "note": "<p>Check the budget of {partner_name}.</p>",
                "deadline_count": 30,
                "deadline_unit": "minutes",
                "business_hours": True,
                "resource_calendar_id": cls.calendar.id,
                "reminder_count": 10,
                "reminder_unit": "minutes",
                "notify_leader_overdue": True,
                "auto_done_on_stage_change": True,
                "user_source": "round_robin",
                "scope": "teams",
                "team_ids": [Command.set(cls.team.ids)],
                "event_key": "form_submitted",
                "description": "Inbound SLA",
            }
        )
        cls.template_closing = Template.create(
            {
                "name": "CPA confirm the closing date",
                "activity_type_id": cls.env.ref("mail.mail_activity_data_call").id,
                "deadline_base": "date_field",
                "date_field_id": cls.env["ir.model.fields"]._get("crm.lead", "date_deadline").id,
                "date_direction": "before",
                "deadline_count": 2,
                "deadline_unit": "days",
                "calendar_source": "assignee",
                "user_source": "user",
                "user_id": cls.salesman2.id,
                "scope": "groups",
                "group_ids": [Command.set(cls.group.ids)],
            }
        )
        Trigger = cls.env["crm.stage.trigger"]
        Trigger.create(
            [
                {
                    "name": "CPA link clicked",
                    "stage_id": cls.stage_qualified.id,
                    "event_type": "link_click",
                    "link_url": "https://example.com/offer*",
                    "mail_template_id": cls.mail_template.id,
                    "user_id": cls.leader.id,
                },
                {
                    "name": "CPA pricing visited",
                    "sequence": 20,
                    "stage_id": cls.stage_proposal.id,
                    "event_type": "url_visited",
                    "url_patterns": "/pricing*\n*/pricing*",
                    "filter_domain": str(
                        [
                            ("stage_id", "in", [cls.stage_new.id, cls.stage_qualified.id]),
                            ("expected_revenue", ">", 100),
                        ]
                    ),
                },
                {
                    "name": "CPA form sent",
                    "stage_id": cls.stage_qualified.id,
                    "event_type": "form_submitted",
                    "form_name": "/contactus*",
                    "allow_backward": True,
                },
                {
                    "name": "CPA call",
                    "stage_id": cls.stage_qualified.id,
                    "event_type": "call_incoming",
                    "line_numbers": "+32 2 555 00 00",
                },
                {
                    "name": "CPA chat keyword",
                    "stage_id": cls.stage_proposal.id,
                    "event_type": "chat_keyword",
                    "keywords": "price, quote",
                    "livechat_channel_id": cls.livechat.id,
                },
                {
                    "name": "CPA chat late (archived)",
                    "stage_id": cls.stage_new.id,
                    "event_type": "chat_response_late",
                    "response_seconds": 120,
                    "active": False,
                },
            ]
        )
        rule = cls._rule
        rule(
            cls.stage_new,
            "activity",
            name="CPA filter activity",
            activity_template_id=cls.template_filter.id,
        )
        rule(
            cls.stage_new,
            "tags",
            name="CPA no click",
            timing="delay",
            delay_count=3,
            delay_unit="days",
            business_hours=True,
            calendar_source="salesperson",
            tag_add_ids=[Command.set(cls.tag_hot.ids)],
            tag_remove_ids=[Command.set(cls.tag_cold.ids)],
            score_delta=-5,
            filter_domain="[('user_id', '=', uid)]",
        )
        rule(
            cls.stage_qualified,
            "activity",
            name="CPA call before the deadline",
            timing="date_field",
            date_field_id=cls.env["ir.model.fields"]._get("crm.lead", "date_deadline").id,
            date_direction="before",
            delay_count=2,
            delay_unit="hours",
            resource_calendar_id=cls.calendar.id,
            activity_type_id=cls.env.ref("mail.mail_activity_data_call").id,
            activity_summary="Call {name}",
            activity_note="<p>Before the deadline</p>",
            activity_deadline_count=2,
            activity_deadline_unit="weeks",
            activity_user_source="user",
            activity_user_id=cls.salesman2.id,
            activity_done_on_exit=True,
            keep_running=True,
            run_when_skipped=True,
        )
        rule(
            cls.stage_qualified,
            "activity",
            name="CPA confirm closing",
            activity_template_id=cls.template_closing.id,
        )
        rule(cls.stage_qualified, "email", name="CPA email", mail_template_id=cls.mail_template.id)
        rule(cls.stage_qualified, "sms", name="CPA sms", sms_template_id=cls.sms_template.id)
        rule(
            cls.stage_proposal,
            "assign",
            name="CPA round-robin",
            assign_mode="round_robin",
            assign_team_id=cls.team.id,
        )
        rule(
            cls.stage_proposal,
            "notify",
            name="CPA notify",
            notify_target="users",
            notify_user_ids=[Command.set((cls.leader | cls.salesman).ids)],
            notify_message="{name} in {stage}",
        )
        rule(
            cls.stage_proposal,
            "update",
            name="CPA update",
            update_line_ids=[
                Command.create(
                    {
                        "field_id": cls.env["ir.model.fields"]._get("crm.lead", "priority").id,
                        "value": "2",
                    }
                ),
                Command.create(
                    {
                        "field_id": cls.env["ir.model.fields"]._get("crm.lead", "user_id").id,
                        "value": "Sam Seller",
                    }
                ),
            ],
        )
        rule(
            cls.stage_proposal,
            "server_action",
            name="CPA server action",
            server_action_id=cls.server_action.id,
            active=False,
        )
        rule(
            cls.stage_won,
            "repeat_lead",
            name="CPA repeat",
            timing="delay",
            delay_count=6,
            delay_unit="months",
            lead_name_template="Repeat: {name}",
            target_team_id=cls.team.id,
            target_stage_id=cls.stage_new.id,
            target_user_source="same",
        )
        rule(
            cls.stage_won,
            "copy_lead",
            name="CPA copy to installation",
            target_team_id=cls.other_team.id,
            target_stage_id=cls.other_stage.id,
            target_user_source="user",
            target_user_id=cls.leader.id,
        )

    def _new_team(self, name="CPA imported"):
        team = self.env["crm.team"].create({"name": name, "user_id": self.leader.id})
        stages = self.env["crm.stage"].create(
            [
                {"name": f"{name} {index}", "sequence": 300 + index, "team_id": team.id}
                for index in range(4)
            ]
        )
        stages[-1].is_won = True
        return team, stages

    def _map(self, data, mapping):
        """Stage map of ``data``: ``mapping`` by key, shared stages to themselves."""
        shared = self.env["crm.stage"].search([("team_id", "=", False)])
        by_name = {stage.name: stage for stage in shared}
        return {
            item["key"]: mapping.get(item["key"]) or by_name.get(item["key"], shared.browse())
            for item in data["stages"]
        }

    def _export(self, team):
        return json.loads(self.Exchange._export_json(team))

    def _import(self, data, team, stage_map, mode="add", create_missing=False):
        plan = self.Exchange._plan_import(data, team, stage_map, create_missing=create_missing)
        return self.Exchange._apply_import(plan, mode=mode)

    def _counts(self):
        return {
            model: self.env[model].with_context(active_test=False).search_count([])
            for model in (
                "crm.stage",
                "crm.stage.trigger",
                "crm.automation.rule",
                "crm.automation.rule.update",
                "crm.activity.template",
                "crm.tag",
            )
        }


@tagged("post_install", "-at_install")
class TestImportExport(ExchangeCase):
    """Export then import reproduces the automation; broken files change nothing."""

    def _stage_mapping(self, new_stages):
        source = self.stage_new | self.stage_qualified | self.stage_proposal | self.stage_won
        return dict(zip(source.mapped("name"), new_stages, strict=True))

    def test_export_format(self):
        data = self._export(self.team)
        self.assertEqual((data["format"], data["version"]), ("crm_pipeline_automation", 1))
        self.assertEqual(data["pipeline"], "Automation team")
        keys = [stage["key"] for stage in data["stages"]]
        self.assertIn("A New", keys)
        self.assertEqual(len(data["triggers"]), 6)
        self.assertEqual(len(data["rules"]), 12)
        self.assertEqual(
            [t["name"] for t in data["activity_templates"]],
            ["CPA confirm the closing date", "CPA filter the lead"],
        )
        pricing = next(t for t in data["triggers"] if t["name"] == "CPA pricing visited")
        self.assertEqual(
            pricing["filter_domain"],
            [
                ["stage_id", "in", [{"stage": "A New"}, {"stage": "B Qualified"}]],
                ["expected_revenue", ">", 100],
            ],
        )
        link = next(t for t in data["triggers"] if t["name"] == "CPA link clicked")
        self.assertEqual(link["mail_template_id"], {"name": "CPA welcome"})
        self.assertEqual(link["user_id"], {"login": "cpa_leader"})
        copy = next(r for r in data["rules"] if r["name"] == "CPA copy to installation")
        self.assertEqual(copy["target_team_id"], {"name": "CPA installation"})
        self.assertEqual(
            copy["target_stage_id"], {"name": "CPA to schedule", "pipeline": "CPA installation"}
        )
        repeat = next(r for r in data["rules"] if r["name"] == "CPA repeat")
        self.assertEqual(repeat["target_team_id"], {"pipeline": True})
        filter_rule = data["rules"][0]
        self.assertEqual(filter_rule["activity_template_id"], {"template": "CPA filter the lead"})
        call = next(r for r in data["rules"] if r["name"] == "CPA call before the deadline")
        self.assertEqual(call["date_field_id"], {"field": "date_deadline"})
        self.assertEqual(
            call["activity_type_id"],
            {"xmlid": "mail.mail_activity_data_call", "name": "Call"},
        )
        update = next(r for r in data["rules"] if r["name"] == "CPA update")
        self.assertEqual(
            update["update_line_ids"],
            [
                {"sequence": 10, "field_id": {"field": "priority"}, "value": "2"},
                {"sequence": 10, "field_id": {"field": "user_id"}, "value": "Sam Seller"},
            ],
        )
        self.assertNotIn("company_id", filter_rule)

    def test_export_import_reexport_is_identical(self):
        before = self._export(self.team)
        team, stages = self._new_team()
        mapping = self._stage_mapping(stages)
        stage_map = self._map(before, mapping)
        result = self._import(before, team, stage_map)
        self.assertEqual(len(result["triggers"]), 6)
        self.assertEqual(len(result["rules"]), 12)
        # Scoped to the new team: a new template; the other one is identical: reused.
        self.assertEqual(result["activity_templates"].mapped("name"), ["CPA filter the lead"])
        self.assertEqual(result["activity_templates"].team_ids, team)
        self.assertEqual(result["reused_templates"], self.template_closing)
        self.assertFalse(result["stages"] or result["tags"])
        pricing = result["triggers"].filtered(lambda t: t.name == "CPA pricing visited")
        self.assertEqual(
            pricing._get_domain(),
            [("stage_id", "in", stages[:2].ids), ("expected_revenue", ">", 100)],
        )
        repeat = result["rules"].filtered(lambda r: r.name == "CPA repeat")
        self.assertEqual((repeat.target_team_id, repeat.target_stage_id), (team, stages[0]))
        self.assertFalse(result["rules"].filtered(lambda r: r.name == "CPA server action").active)

        after = self._export(team)
        # Normalise: the new pipeline's name and stage names are the only differences.
        renamed = {stage.name: name for name, stage in mapping.items()}
        text = json.dumps(after)
        for new, old in renamed.items():
            text = text.replace(json.dumps(new), json.dumps(old))
        after = json.loads(text)
        after["pipeline"] = before["pipeline"]
        for section in ("stages",):
            for item in after[section] + before[section]:
                item.pop("sequence")
                item.pop("is_won")
        after["stages"].sort(key=lambda s: s["key"])
        before["stages"].sort(key=lambda s: s["key"])
        self.assertEqual(after, before)

    def test_deleted_automation_comes_back_identical(self):
        """As in a fresh database: the automation and its templates are gone, the file
        brings back exactly the same automation (same export, names included)."""
        before = self._export(self.team)
        own = self.stage_new | self.stage_qualified | self.stage_proposal | self.stage_won
        without_active = self.env(context=dict(self.env.context, active_test=False))
        without_active["crm.automation.rule"].search([("stage_id", "in", own.ids)]).unlink()
        without_active["crm.stage.trigger"].search([("stage_id", "in", own.ids)]).unlink()
        (self.template_filter | self.template_closing).unlink()
        emptied = self._export(self.team)
        self.assertEqual((emptied["rules"], emptied["triggers"]), ([], []))
        self.assertEqual(emptied["activity_templates"], [])
        result = self._import(before, self.team, self._map(before, {s.name: s for s in own}))
        self.assertEqual(len(result["activity_templates"]), 2)
        self.assertEqual(self._export(self.team), before)

    def test_import_creates_missing_stages(self):
        data = self._export(self.team)
        team = self.env["crm.team"].create({"name": "CPA empty pipeline"})
        own = self._map(data, {})
        with self.assertRaisesRegex(UserError, "Stage A New of the file is not mapped"):
            self._import(data, team, own)
        result = self._import(data, team, own, create_missing=True)
        self.assertEqual(
            result["stages"].mapped("name"), ["A New", "B Qualified", "C Proposal", "D Won"]
        )
        self.assertEqual(result["stages"].team_id, team)
        self.assertTrue(result["stages"][-1].is_won)
        self.assertEqual(result["rules"].stage_id, result["stages"])

    def test_missing_references_name_the_item_and_change_nothing(self):
        """The file of another database: its template, user and server action are gone."""
        data = self._export(self.team)
        team, stages = self._new_team()
        stage_map = self._map(data, self._stage_mapping(stages))
        self.env["crm.automation.rule"].search([]).sudo().unlink()
        self.env["crm.stage.trigger"].search([]).sudo().unlink()
        self.mail_template.unlink()
        self.server_action.unlink()
        self.salesman2.login = "cpa_renamed"
        counts = self._counts()
        with self.assertRaises(UserError) as caught:
            self._import(data, team, stage_map)
        message = caught.exception.args[0]
        self.assertIn("nothing was changed", message)
        self.assertIn(
            "Trigger “CPA link clicked”, mail_template_id: Email Templates “CPA welcome” not found",
            message,
        )
        self.assertIn("Rule “CPA email”, mail_template_id", message)
        self.assertIn("Rule “CPA server action”, server_action_id", message)
        self.assertIn("user with login cpa_seller2 not found", message)
        self.assertEqual(self._counts(), counts)

    def test_broken_files_give_clear_errors(self):
        team, stages = self._new_team()
        good = self._export(self.team)
        counts = self._counts()
        cases = [
            (b"not json", "not valid JSON"),
            (b"\xff\xfe", "not UTF-8"),
            (json.dumps({"format": "other"}).encode(), "not a CRM pipeline automation file"),
            (
                json.dumps({"format": "crm_pipeline_automation", "version": 99}).encode(),
                "Version 99",
            ),
            (
                json.dumps(dict(good, rules={"a": 1})).encode(),
                '"rules" must be a list',
            ),
        ]
        for raw, error in cases:
            with self.subTest(error=error), self.assertRaisesRegex(UserError, error):
                self.Exchange._parse(raw)

        def broken(**changes):
            data = json.loads(json.dumps(good))
            rule = data["rules"][1]
            rule.update(changes)
            return data

        stage_map = self._map(good, self._stage_mapping(stages))
        for data, error in [
            (broken(action_type="teleport"), "action_type: 'teleport' is not one of"),
            (broken(delay_count="3"), "delay_count: expected a whole number"),
            (broken(colour="red"), "unknown fields colour"),
            (broken(stage_id={"stage": "Nowhere"}), "unknown stage key Nowhere"),
            (broken(filter_domain="[('nope', '=', 1)]"), "invalid condition"),
            (broken(name=""), "a name is required"),
            (broken(activity_template_id={"template": "ghost"}), "ghost is not in the file"),
        ]:
            with self.subTest(error=error), self.assertRaisesRegex(UserError, error):
                self._import(data, team, stage_map)
        self.assertEqual(self._counts(), counts)

    def test_constraint_error_on_write_rolls_everything_back(self):
        """A value only the model can refuse (copy rule without target) stops it all."""
        data = self._export(self.team)
        team, stages = self._new_team()
        stage_map = self._map(data, self._stage_mapping(stages))
        copy = next(r for r in data["rules"] if r["name"] == "CPA copy to installation")
        copy.update(target_team_id=None, target_stage_id=None)
        counts = self._counts()
        with self.assertRaisesRegex(UserError, "CPA copy to installation.*choose the pipeline"):
            self._import(data, team, stage_map)
        self.assertEqual(self._counts(), counts)

    def test_replace_archives_existing_automation(self):
        data = self._export(self.team)
        old_rules = self.env["crm.automation.rule"].search([("team_id", "=", self.team.id)])
        old_triggers = self.env["crm.stage.trigger"].search([("team_id", "=", self.team.id)])
        own = self.stage_new | self.stage_qualified | self.stage_proposal | self.stage_won
        stage_map = self._map(data, {stage.name: stage for stage in own})
        result = self._import(data, self.team, stage_map, mode="replace")
        self.assertFalse(old_rules.filtered("active") or old_triggers.filtered("active"))
        self.assertEqual(
            self.env["crm.automation.rule"].search([("team_id", "=", self.team.id)]),
            result["rules"].filtered("active"),
        )
        # Identical templates are reused, not duplicated.
        self.assertFalse(result["activity_templates"])
        self.assertEqual(result["reused_templates"], self.template_filter | self.template_closing)

    def test_missing_tag_is_created(self):
        data = self._export(self.team)
        team, stages = self._new_team()
        stage_map = self._map(data, self._stage_mapping(stages))
        self.tag_cold.unlink()
        result = self._import(data, team, stage_map)
        self.assertEqual(result["tags"].mapped("name"), ["Cold"])
        rule = result["rules"].filtered(lambda r: r.name == "CPA no click")
        self.assertEqual(rule.tag_remove_ids, result["tags"])

    def test_wizard_imports_a_file(self):
        content = self.Exchange._export_json(self.team)
        team, stages = self._new_team()
        wizard = self.env["crm.automation.import.wizard"].create(
            {"source": "file", "file": base64.b64encode(content), "team_id": team.id}
        )
        lines = {line.key: line for line in wizard.line_ids}
        self.assertEqual(lines["A New"].target_stage_id, stages[0], "suggested by position")
        self.assertEqual(lines["D Won"].target_stage_id, stages[3], "won stage to won stage")
        self.assertIn("6 triggers", wizard.preview)
        wizard.action_apply()
        self.assertEqual(wizard.state, "done")
        self.assertEqual(len(wizard.rule_ids), 12)
        self.assertEqual(wizard.rule_ids.stage_id, stages)
        action = wizard.action_open_rules()
        self.assertEqual(action["domain"], [("id", "in", wizard.rule_ids.ids)])

    def test_wizard_shows_problems_before_apply(self):
        team = self.env["crm.team"].create({"name": "CPA bad"})
        wizard = self.env["crm.automation.import.wizard"].create(
            {"source": "file", "file": base64.b64encode(b"{oops"), "team_id": team.id}
        )
        self.assertIn("not valid JSON", wizard.preview)
        with self.assertRaisesRegex(UserError, "not valid JSON"):
            wizard.action_apply()

    def test_salesperson_cannot_import_or_export(self):
        with self.assertRaises(AccessError):
            self.env["crm.automation.import.wizard"].with_user(self.salesman).create(
                {"team_id": self.team.id}
            )
        with self.assertRaises(AccessError):
            self.team.with_user(self.salesman).action_export_automation()


@tagged("post_install", "-at_install")
class TestExportDownload(HttpCase):
    """The "Export automation" button of the sales team downloads the JSON file."""

    def test_manager_downloads_the_file(self):
        manager = new_test_user(
            self.env,
            login="cpa_export_manager",
            password="cpa_export_manager",
            groups="sales_team.group_sale_manager",
        )
        team = self.env["crm.team"].create({"name": "CPA download"})
        stage = self.env["crm.stage"].create({"name": "CPA download stage", "team_id": team.id})
        self.env["crm.stage.trigger"].create(
            {"name": "CPA clicked", "stage_id": stage.id, "event_type": "link_click"}
        )
        action = team.with_user(manager).action_export_automation()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.authenticate("cpa_export_manager", "cpa_export_manager")
        response = self.url_open(action["url"])
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response.headers.get("Content-Disposition", ""))
        data = json.loads(response.content)
        self.assertEqual(data["triggers"][0]["name"], "CPA clicked")
        self.assertEqual(data["triggers"][0]["stage_id"], {"stage": "CPA download stage"})
