# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import xmlrpc.client

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import TransactionCase

LEAD_MODELS = ("crm.lead.event", "crm.automation.log", "crm.automation.job")


class RestrictedPipelineCommon:
    """A pipeline restricted to its members (leader + one member), an open pipeline,
    and salespeople of both salesman groups inside and outside the restricted team."""

    @classmethod
    def _setup_pipelines(cls, env):
        cls.member = new_test_user(
            env, login="cpa_rp_member", groups="sales_team.group_sale_salesman"
        )
        cls.outsider = new_test_user(
            env, login="cpa_rp_outsider", groups="sales_team.group_sale_salesman"
        )
        cls.outsider_all = new_test_user(
            env, login="cpa_rp_outsider_all", groups="sales_team.group_sale_salesman_all_leads"
        )
        cls.member_all = new_test_user(
            env, login="cpa_rp_member_all", groups="sales_team.group_sale_salesman_all_leads"
        )
        cls.leader = new_test_user(
            env, login="cpa_rp_leader", groups="sales_team.group_sale_salesman_all_leads"
        )
        cls.manager = new_test_user(
            env, login="cpa_rp_manager", groups="sales_team.group_sale_manager"
        )
        cls.restricted = env["crm.team"].create(
            {
                "name": "Key accounts",
                "use_leads": True,
                "user_id": cls.leader.id,
                "pipeline_members_only": True,
            }
        )
        cls.open_team = env["crm.team"].create({"name": "Inside sales", "use_leads": True})
        env["crm.team.member"].create(
            [
                {"crm_team_id": cls.restricted.id, "user_id": cls.member.id},
                {"crm_team_id": cls.restricted.id, "user_id": cls.member_all.id},
                {"crm_team_id": cls.open_team.id, "user_id": cls.outsider.id},
                {"crm_team_id": cls.open_team.id, "user_id": cls.outsider_all.id},
            ]
        )
        cls.stage = env["crm.stage"].create(
            {"name": "RP New", "sequence": 201, "team_id": cls.restricted.id}
        )
        cls.stage_next = env["crm.stage"].create(
            {"name": "RP Next", "sequence": 202, "team_id": cls.restricted.id}
        )
        # A delayed rule: entering the stage leaves a pending job and ledger rows.
        cls.rule = env["crm.automation.rule"].create(
            {
                "name": "RP follow-up",
                "stage_id": cls.stage_next.id,
                "action_type": "tags",
                "tag_add_ids": [Command.create({"name": "RP hot"})],
                "timing": "delay",
                "delay_count": 2,
                "delay_unit": "days",
            }
        )
        Lead = env["crm.lead"].with_context(tracking_disable=True)
        # Unassigned: CRM's "own documents" rule alone would show it to every salesperson.
        cls.secret_lead = Lead.create(
            {
                "name": "RP secret deal",
                "type": "opportunity",
                "team_id": cls.restricted.id,
                "user_id": False,
            }
        )
        cls.secret_lead.stage_id = cls.stage_next
        cls.secret_assigned = Lead.create(
            {
                "name": "RP secret deal of the member",
                "type": "opportunity",
                "team_id": cls.restricted.id,
                "user_id": cls.member.id,
            }
        )
        cls.open_lead = Lead.create(
            {
                "name": "RP open deal",
                "type": "opportunity",
                "team_id": cls.open_team.id,
                "user_id": False,
            }
        )
        cls.teamless_lead = Lead.create(
            {"name": "RP no team", "type": "opportunity", "user_id": False}
        )
        cls.teamless_lead.team_id = False
        env["crm.lead.event"]._record(cls.secret_lead | cls.open_lead, "email_open", "manual")


@tagged("post_install", "-at_install")
class TestRestrictedPipeline(RestrictedPipelineCommon, TransactionCase):
    """Record rules of crm.team.pipeline_members_only, through the ORM."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pipelines(cls.env)
        cls.rp_leads = cls.secret_lead | cls.secret_assigned | cls.open_lead | cls.teamless_lead

    def _visible(self, user, model="crm.lead"):
        Model = self.env[model].with_user(user)
        if model == "crm.lead":
            return Model.search([("id", "in", self.rp_leads.ids)])
        return Model.search([("lead_id", "in", self.rp_leads.ids)]).lead_id

    def test_fixture(self):
        for model in LEAD_MODELS:
            self.assertTrue(self.env[model].search([("lead_id", "=", self.secret_lead.id)]), model)

    def test_outsider_cannot_search_or_read_leads(self):
        for user in (self.outsider, self.outsider_all):
            with self.subTest(user=user.login):
                visible = self._visible(user)
                self.assertEqual(visible, self.open_lead | self.teamless_lead)
                with self.assertRaises(AccessError):
                    self.secret_lead.with_user(user).read(["name"])
                with self.assertRaises(AccessError):
                    self.secret_lead.with_user(user).name  # noqa: B018
                self.assertEqual(
                    self.env["crm.lead"]
                    .with_user(user)
                    .search_count([("team_id", "=", self.restricted.id)]),
                    0,
                )

    def test_members_and_leader_see_the_pipeline(self):
        # "Own documents" salesperson: unassigned and own leads of the pipeline.
        self.assertEqual(self._visible(self.member), self.rp_leads)
        # "All documents" member, and the team leader (not a member).
        self.assertEqual(self._visible(self.member_all), self.rp_leads)
        self.assertEqual(self._visible(self.leader), self.rp_leads)
        self.assertEqual(self.secret_lead.with_user(self.leader).name, "RP secret deal")

    def test_own_documents_rule_still_applies_inside_the_pipeline(self):
        other = new_test_user(
            self.env, login="cpa_rp_member2", groups="sales_team.group_sale_salesman"
        )
        self.env["crm.team.member"].create({"crm_team_id": self.restricted.id, "user_id": other.id})
        # Member of the pipeline, but the lead is the other member's.
        self.assertNotIn(self.secret_assigned, self._visible(other))
        self.assertIn(self.secret_lead, self._visible(other))

    def test_manager_sees_everything(self):
        self.assertEqual(self._visible(self.manager), self.rp_leads)
        for model in LEAD_MODELS:
            self.assertIn(self.secret_lead, self._visible(self.manager, model), model)

    def test_open_pipeline_unchanged(self):
        self.restricted.pipeline_members_only = False
        self.assertEqual(self._visible(self.outsider), self.rp_leads - self.secret_assigned)
        self.assertEqual(self._visible(self.outsider_all), self.rp_leads)

    def test_membership_changes_apply_at_once(self):
        membership = self.env["crm.team.member"].create(
            {"crm_team_id": self.restricted.id, "user_id": self.outsider_all.id}
        )
        self.assertEqual(self._visible(self.outsider_all), self.rp_leads)
        membership.active = False
        self.assertEqual(self._visible(self.outsider_all), self.open_lead | self.teamless_lead)
        self.restricted.user_id = self.outsider_all
        self.assertEqual(self._visible(self.outsider_all), self.rp_leads)

    def test_outsider_cannot_create_in_the_pipeline(self):
        Lead = self.env["crm.lead"].with_user(self.outsider_all)
        with self.assertRaises(AccessError):
            Lead.create({"name": "RP sneaky", "team_id": self.restricted.id})
        # Handing a lead over to the restricted team is allowed (rules check the
        # records before a write, as for companies); the lead then leaves their sight.
        self.open_lead.with_user(self.outsider_all).write({"team_id": self.restricted.id})
        self.assertNotIn(self.open_lead, self._visible(self.outsider_all))
        self.assertIn(self.open_lead, self._visible(self.member_all))

    def test_events_jobs_ledger_follow_the_lead(self):
        for model in LEAD_MODELS:
            with self.subTest(model=model):
                records = self.env[model].search([("lead_id", "=", self.secret_lead.id)])
                for user in (self.outsider, self.outsider_all):
                    self.assertNotIn(self.secret_lead, self._visible(user, model))
                    with self.assertRaises(AccessError):
                        records.with_user(user).read(["lead_id"])
                for user in (self.member, self.member_all, self.leader):
                    self.assertIn(self.secret_lead, self._visible(user, model))
                    self.assertTrue(records.with_user(user).read(["lead_id"]))
        # Their own pipelines stay readable.
        events = self.env["crm.lead.event"].with_user(self.outsider)
        self.assertEqual(
            events.search([("lead_id", "=", self.open_lead.id)]).lead_id, self.open_lead
        )

    def test_lost_leads_stay_restricted(self):
        self.secret_lead.action_set_lost()
        Lead = self.env["crm.lead"].with_context(active_test=False)
        self.assertFalse(
            Lead.with_user(self.outsider_all).search([("id", "=", self.secret_lead.id)])
        )
        self.assertTrue(Lead.with_user(self.member).search([("id", "=", self.secret_lead.id)]))
        log = self.env["crm.automation.log"].with_user(self.outsider_all)
        self.assertFalse(log.search([("lead_id", "=", self.secret_lead.id)]))

    def test_activity_analysis_follows_the_pipeline(self):
        # A done activity: its message (with the activity type) feeds the analysis.
        self.secret_lead.activity_schedule(
            "mail.mail_activity_data_call", user_id=self.member_all.id
        ).action_feedback(feedback="RP call done")
        self.env.flush_all()
        Report = self.env["crm.activity.report"]
        self.assertTrue(Report.search([("lead_id", "=", self.secret_lead.id)]), "fixture")
        self.assertTrue(
            Report.with_user(self.member_all).search([("lead_id", "=", self.secret_lead.id)])
        )
        self.assertFalse(
            Report.with_user(self.outsider_all).search([("lead_id", "=", self.secret_lead.id)])
        )


@tagged("post_install", "-at_install")
class TestRestrictedPipelineRpc(RestrictedPipelineCommon, HttpCase):
    """The same rules through JSON-RPC (/web/dataset/call_kw), as the browser calls them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pipelines(cls.env)

    def _call_kw(self, model, method, args, kwargs=None):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        return response.json()

    def _search_read(self, model, domain):
        reply = self._call_kw(model, "search_read", [domain], {"fields": ["id"]})
        self.assertNotIn("error", reply)
        return {row["id"] for row in reply["result"]}

    def test_outsider_rpc(self):
        self.authenticate("cpa_rp_outsider_all", "cpa_rp_outsider_all")
        ids = self._search_read("crm.lead", [("name", "like", "RP %")])
        self.assertIn(self.open_lead.id, ids)
        self.assertNotIn(self.secret_lead.id, ids)
        self.assertNotIn(self.secret_assigned.id, ids)
        reply = self._call_kw("crm.lead", "read", [[self.secret_lead.id], ["name"]])
        self.assertEqual(reply["error"]["data"]["name"], "odoo.exceptions.AccessError")
        self.assertNotIn("RP secret deal", json.dumps(reply))
        reply = self._call_kw(
            "crm.lead",
            "web_search_read",
            [],
            {"domain": [("team_id", "=", self.restricted.id)], "specification": {"name": {}}},
        )
        self.assertEqual(reply["result"]["length"], 0)
        for model in LEAD_MODELS:
            self.assertFalse(
                self._search_read(model, [("lead_id", "=", self.secret_lead.id)]), model
            )
        # Their own pipeline's events stay readable.
        self.assertTrue(self._search_read("crm.lead.event", [("lead_id", "=", self.open_lead.id)]))

    def test_member_rpc(self):
        self.authenticate("cpa_rp_member", "cpa_rp_member")
        ids = self._search_read("crm.lead", [("name", "like", "RP %")])
        self.assertTrue({self.secret_lead.id, self.secret_assigned.id} <= ids)
        reply = self._call_kw("crm.lead", "read", [[self.secret_lead.id], ["name"]])
        self.assertEqual(reply["result"][0]["name"], "RP secret deal")
        for model in LEAD_MODELS:
            self.assertTrue(
                self._search_read(model, [("lead_id", "=", self.secret_lead.id)]), model
            )

    def test_xmlrpc(self):
        db = self.env.cr.dbname
        secret = [("id", "in", [self.secret_lead.id, self.secret_assigned.id])]
        for login, expected in (
            ("cpa_rp_outsider_all", []),
            ("cpa_rp_member_all", sorted([self.secret_lead.id, self.secret_assigned.id])),
        ):
            with self.subTest(login=login):
                uid = self.xmlrpc_common.authenticate(db, login, login, {})
                self.assertTrue(uid)
                found = self.xmlrpc_object.execute_kw(
                    db, uid, login, "crm.lead", "search", [secret], {"order": "id"}
                )
                self.assertEqual(found, expected)
                events = self.xmlrpc_object.execute_kw(
                    db,
                    uid,
                    login,
                    "crm.lead.event",
                    "search_count",
                    [[("lead_id", "=", self.secret_lead.id)]],
                )
                self.assertEqual(bool(events), bool(expected))
        uid = self.xmlrpc_common.authenticate(db, "cpa_rp_outsider_all", "cpa_rp_outsider_all", {})
        with self.assertRaises(xmlrpc.client.Fault) as fault:
            self.xmlrpc_object.execute_kw(
                db,
                uid,
                "cpa_rp_outsider_all",
                "crm.lead",
                "read",
                [[self.secret_lead.id], ["name"]],
            )
        self.assertIn("doesn't have 'read' access", fault.exception.faultString)
        self.assertNotIn("RP secret deal", fault.exception.faultString)
