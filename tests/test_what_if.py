# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import xmlrpc.client
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import SQL

from .common import TrackingCase
from .screenshots import TourScreenshotMixin

PRICING = "https://example.com/pricing?plan=pro"
# Tables the what-if must leave as they are.
TABLES = {
    "crm_lead": "crm.lead",
    "crm_automation_log": "crm.automation.log",
    "crm_lead_event": "crm.lead.event",
    "crm_automation_job": "crm.automation.job",
    "mail_message": "mail.message",
    "mail_activity": "mail.activity",
}
# The history replayed: (lead index, event type, values, days ago).
SCRIPT = (
    (0, "link_click", {"url": PRICING}, 10),  # active: New -> Qualified
    (0, "form_submitted", {"form_name": "/contactus"}, 9),  # draft: -> Proposition
    (0, "email_open", {}, 8),  # active, backward: Proposition -> Qualified (loop)
    (1, "form_submitted", {"form_name": "/contactus"}, 7),  # race: draft wins
    (1, "link_click", {"url": PRICING}, 6),  # refused (not after Proposition)
    (2, "link_click", {"url": PRICING}, 5),  # active only
    (3, "email_open", {}, 4),  # active: New -> Qualified
    (3, "form_submitted", {"form_name": "/contactus"}, 3),  # draft: -> Proposition
)


@tagged("post_install", "-at_install")
class TestWhatIf(TrackingCase):
    """What-if of a draft trigger or rule over a recorded history: the same figures as
    the engine replaying that history live once the draft is active, nothing written."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = cls.env["crm.tag"].create({"name": "What-if"})
        cls.click = cls._trigger(cls.stage_qualified, "link_click", link_url="*pricing*")
        cls.form_q = cls._trigger(cls.stage_qualified, "form_submitted", name="Form qualifies")
        cls.back = cls._trigger(
            cls.stage_qualified, "email_open", name="Opened: qualify", allow_backward=True
        )
        cls.draft = cls._trigger(
            cls.stage_proposition, "form_submitted", name="Form proposes", state="draft"
        )
        cls.rule = cls.env["crm.automation.rule"].create(
            {
                "name": "Tag proposals",
                "stage_id": cls.stage_proposition.id,
                "action_type": "tags",
                "tag_add_ids": [Command.link(cls.tag.id)],
            }
        )
        cls.WhatIf = cls.env["crm.automation.what.if"]

    def _leads(self, count=4):
        return self.env["crm.lead"].concat(*(self._lead() for _i in range(count)))

    def _play(self, leads):
        """Record SCRIPT on ``leads`` through the engine's entry point (as the routes)."""
        now = fields.Datetime.now()
        for index, event_type, values, days in SCRIPT:
            self.Event._record(
                leads[index],
                event_type,
                "manual",
                date=now - timedelta(days=days, minutes=-index),
                **values,
            )
            # Each event is a request of its own: its stage tracking is committed.
            self.env.cr.precommit.run()

    def _snapshot(self):
        self.env.flush_all()
        counts = {}
        for table in TABLES:
            column = "write_date" if self.env[TABLES[table]]._log_access else "id"
            counts[table] = self.env.execute_query(
                SQL(
                    "SELECT count(*), max(%s) FROM %s",
                    SQL.identifier(column),
                    SQL.identifier(table),
                )
            )[0]
        return counts

    def test_trigger_what_if_equals_live_replay_and_writes_nothing(self):
        history = self._leads()
        self._play(history)
        before = self._snapshot()
        result = self.WhatIf.what_if("crm.stage.trigger", self.draft.id)
        self.assertEqual(self._snapshot(), before, "the what-if writes nothing")
        self.assertEqual(self.draft.state, "draft")
        # The same history, live, with the draft active.
        self.draft.action_activate()
        live = self._leads()
        self._play(live)
        Log = self.env["crm.automation.log"]
        fired = Log.search([("lead_id", "in", live.ids), ("kind", "=", "trigger_fired")])
        by_draft = self.Event.search(
            [("lead_id", "in", live.ids), ("trigger_id", "=", self.draft.id)]
        )
        jobs = self.env["crm.automation.job"].search([("lead_id", "in", live.ids)])
        self.assertEqual(result["total_moves"], len(fired))
        self.assertEqual(result["moves"], len(by_draft))
        self.assertEqual(result["moved_leads"], len(by_draft.lead_id))
        self.assertEqual(result["total_actions"], len(jobs))
        self.assertEqual(result["actions"], len(jobs.filtered(lambda j: j.rule_id == self.rule)))
        self.assertEqual((result["moves"], result["moved_leads"], result["actions"]), (3, 3, 3))
        self.assertEqual(result["events"], len(SCRIPT))
        self.assertEqual(result["loops"], 1, result["conflicts"])
        self.assertEqual(result["races"], 3, result["conflicts"])
        loop = [c for c in result["conflicts"] if c["kind"] == "loop"][0]
        self.assertEqual(loop["lead_id"], history[0].id)
        self.assertIn("Opened: qualify", loop["message"])
        self.assertIn("Form proposes", loop["message"])
        # Sample: the leads the draft changed, with the ledger rows it would have written.
        self.assertEqual(
            [s["lead_id"] for s in result["sample"]], [history[0].id, history[1].id, history[3].id]
        )
        kinds = [row["kind"] for row in result["sample"][0]["rows"]]
        self.assertEqual(
            kinds,
            [
                "trigger_fired",
                "stage_entered",
                "trigger_fired",
                "stage_entered",
                "rule_done",
                "trigger_fired",
                "stage_entered",
            ],
        )
        self.assertEqual(result["sample"][0]["lead"], history[0].display_name)

    def test_rule_what_if_counts_entries_of_its_stage(self):
        rule = self.env["crm.automation.rule"].create(
            {
                "name": "Tag qualified",
                "stage_id": self.stage_qualified.id,
                "action_type": "tags",
                "tag_add_ids": [Command.link(self.tag.id)],
                "state": "draft",
            }
        )
        history = self._leads()
        self._play(history)
        before = self._snapshot()
        result = self.WhatIf.what_if("crm.automation.rule", rule.id, 30)
        self.assertEqual(self._snapshot(), before)
        entries = self.env["crm.automation.log"].search(
            [
                ("lead_id", "in", history.ids),
                ("kind", "=", "stage_entered"),
                ("stage_id", "=", self.stage_qualified.id),
            ]
        )
        self.assertEqual(result["moves"], 0)
        self.assertEqual(result["actions"], len(entries))
        self.assertEqual(result["acted_leads"], len(entries.lead_id))
        # Live: the rule active (for new leads only: no wizard), the same history on
        # new leads.
        rule.state = "active"
        live = self._leads()
        self._play(live)
        jobs = self.env["crm.automation.job"].search(
            [("lead_id", "in", live.ids), ("rule_id", "=", rule.id)]
        )
        self.assertEqual(result["actions"], len(jobs))

    def test_people_moves_are_replayed(self):
        """A person's move in the window (ledger entry) is applied in time order, and
        the start stage of the lead is the one before its first move."""
        lead = self._lead()
        lead.stage_id = self.stage_proposition  # a person: a stage with a rule, logged
        self.env.cr.precommit.run()
        now = fields.Datetime.now()
        self.Event._record(lead, "link_click", "manual", date=now, url=PRICING)
        result = self.WhatIf.what_if("crm.stage.trigger", self.draft.id)
        self.assertEqual(result["manual_moves"], 1)
        # The click does not move it back: it already is in Proposition.
        self.assertEqual(result["total_moves"], 0)
        # The person's entry runs the rule of Proposition.
        self.assertEqual(result["total_actions"], 1)
        self.assertEqual(result["events"], 1)
        self.assertEqual(result["sample"], [])

    def test_tracked_people_moves_are_replayed(self):
        """A person's move to a stage without rules (no ledger row) is read from the
        stage tracking of the chatter."""
        lead = self._lead()
        self.env.cr.precommit.run()  # created in an earlier request
        lead.stage_id = self.stage_qualified
        self.env.cr.precommit.run()
        now = fields.Datetime.now()
        self.Event._record(lead, "form_submitted", "manual", date=now, form_name="/contactus")
        result = self.WhatIf.what_if("crm.stage.trigger", self.draft.id)
        self.assertEqual(result["manual_moves"], 1)
        self.assertEqual(result["moves"], 1)
        rows = result["sample"][0]["rows"]
        self.assertEqual(
            [(row["kind"], row["from_stage"], row["stage"]) for row in rows[:3]],
            [
                ("stage_entered", self.stage_new.name, self.stage_qualified.name),
                ("trigger_fired", self.stage_qualified.name, self.stage_proposition.name),
                ("stage_entered", self.stage_qualified.name, self.stage_proposition.name),
            ],
        )

    def test_bad_input(self):
        with self.assertRaises(UserError):
            self.WhatIf.what_if("res.partner", self.draft.id)
        with self.assertRaises(UserError):
            self.WhatIf.what_if("crm.stage.trigger", self.draft.id, days=0)
        with self.assertRaises(UserError):
            self.WhatIf.what_if("crm.stage.trigger", self.draft.id, days="lots")
        with self.assertRaises(UserError):
            self.WhatIf.what_if("crm.stage.trigger", 0)
        with self.assertRaises(AccessError):
            self.WhatIf.with_user(self.salesman).what_if("crm.stage.trigger", self.draft.id)


@tagged("post_install", "-at_install")
class TestWhatIfHttp(HttpCase):
    """The board's call over JSON-RPC, as the browser makes it."""

    def test_what_if_rpc(self):
        manager = new_test_user(
            self.env,
            login="cpa_whatif_manager",
            password="cpa_whatif_manager",
            groups="sales_team.group_sale_manager",
        )
        # A pipeline of its own: the replay covers the leads of the draft's pipeline.
        team = self.env["crm.team"].create({"name": "What-if pipeline"})
        stage = self.env["crm.stage"].create(
            {"name": "What-if stage", "sequence": 401, "team_id": team.id}
        )
        trigger = self.env["crm.stage.trigger"].create(
            {
                "name": "What-if draft",
                "stage_id": stage.id,
                "event_type": "email_open",
                "state": "draft",
            }
        )
        self.authenticate(manager.login, manager.login)
        route = "/web/dataset/call_kw/crm.automation.what.if/what_if"

        def call(*args):
            return self.make_jsonrpc_request(
                route,
                {
                    "model": "crm.automation.what.if",
                    "method": "what_if",
                    "args": list(args),
                    "kwargs": {},
                },
            )

        start = self.env["crm.stage"].create(
            {"name": "What-if start", "sequence": 400, "team_id": team.id}
        )
        lead = self.env["crm.lead"].create(
            {
                "name": "What-if lead",
                "type": "opportunity",
                "stage_id": start.id,
                "team_id": team.id,
            }
        )
        self.env["crm.lead.event"]._record(
            lead, "email_open", "email", date=fields.Datetime.now() - timedelta(days=2)
        )
        result = call("crm.stage.trigger", trigger.id, 7)
        self.assertEqual(result["days"], 7)
        self.assertEqual(result["record"]["name"], "What-if draft")
        self.assertEqual((result["moved_leads"], result["sample"][0]["lead"]), (1, "What-if lead"))
        with self.assertRaises(JsonRpcException):
            call("crm.stage.trigger", trigger.id, 1000)
        # XML-RPC: everything marshals (no None).
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, manager.login, manager.login, {})
        result = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            manager.login,
            "crm.automation.what.if",
            "what_if",
            ["crm.stage.trigger", trigger.id],
            {"days": 7},
        )
        self.assertEqual(result["moves"], 1)
        self.assertEqual(result["sample"][0]["rows"][0]["kind"], "trigger_fired")
        with self.assertRaises(xmlrpc.client.Fault):
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                uid,
                manager.login,
                "crm.automation.what.if",
                "what_if",
                ["crm.stage.trigger", trigger.id],
                {"days": "x"},
            )


@tagged("post_install", "-at_install")
class TestWhatIfTour(TourScreenshotMixin, HttpCase):
    """The "What if…" dialog of the board, in headless Chromium."""

    def test_what_if_dialog(self):
        manager = new_test_user(
            self.env,
            login="cpa_whatif_tour",
            password="cpa_whatif_tour",
            name="Wanda Whatif",
            groups="sales_team.group_sale_manager",
        )
        team = self.env["crm.team"].create(
            {"name": "WI team", "use_leads": True, "user_id": manager.id, "sequence": 0}
        )
        self.env["crm.team.member"].create({"crm_team_id": team.id, "user_id": manager.id})
        Stage = self.env["crm.stage"]
        new = Stage.create({"name": "WI New", "sequence": 501, "team_id": team.id})
        proposal = Stage.create({"name": "WI Proposal", "sequence": 502, "team_id": team.id})
        trigger = self.env["crm.stage.trigger"].create(
            {
                "name": "Form proposes",
                "stage_id": proposal.id,
                "event_type": "form_submitted",
                "state": "draft",
            }
        )
        lead = self.env["crm.lead"].create(
            {"name": "WI lead", "type": "opportunity", "team_id": team.id, "stage_id": new.id}
        )
        self.env["crm.lead.event"]._record(
            lead,
            "form_submitted",
            "form",
            date=fields.Datetime.now() - timedelta(days=3),
            form_name="/contactus",
        )
        self.start_tour("/odoo/crm", "crm_pipeline_automation_what_if_tour", login=manager.login)
        self.assertEqual(trigger.state, "draft")
        self.assertEqual(lead.stage_id, new)
