# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The public entry points for integrators, called as integrators call them: XML-RPC
(``/xmlrpc/2/object``), which refuses None and sends dates as strings."""

from odoo.tests import HttpCase, tagged
from odoo.tests.common import get_db_name

from .common import AutomationCase

PRICING = "https://example.com/pricing?plan=pro"


def nones(value, path="result"):
    """Paths of the None values in ``value`` (dicts, lists, tuples)."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in nones(item, f"{path}.{key}")]
    if isinstance(value, list | tuple):
        return [found for i, item in enumerate(value) for found in nones(item, f"{path}[{i}]")]
    return []


def _timeless(result):
    """``result`` without the due times of the rules that run at once (now)."""
    return {
        **result,
        "rules": [{**rule, "run_at": rule["now"] or rule["run_at"]} for rule in result["rules"]],
    }


@tagged("post_install", "-at_install")
class TestXmlRpc(AutomationCase, HttpCase):
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
        cls.waiting = cls._rule(
            cls.stage_new, timing="delay", delay_count=3, delay_unit="days", name="Nudge"
        )
        cls._rule(cls.stage_proposal, name="Tag hot")
        cls._rule(
            cls.stage_proposal,
            name="Big deals only",
            filter_domain="[('expected_revenue', '>=', 1e6)]",
        )
        cls.admin = cls.env.ref("base.user_admin")

    def _rpc(self, model, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(
            get_db_name(), self.admin.id, "admin", model, method, list(args), kwargs
        )

    def test_dry_run_over_xmlrpc(self):
        lead = self._lead(expected_revenue=500)
        self.assertEqual(self._jobs(lead, self.waiting).state, "pending")
        won = self._lead(self.stage_won)
        Lead = self.env["crm.lead"]
        cases = {
            "fired": (lead.id, {"event_type": "link_click", "detail": PRICING}),
            "no trigger": (lead.id, {"event_type": "link_click", "detail": "https://x.example"}),
            "blocked": (won.id, {"event_type": "link_click", "detail": PRICING}),
            "stage entered": (lead.id, {"stage_id": self.stage_proposal.id}),
            "same stage": (lead.id, {"stage_id": self.stage_new.id}),
        }
        for case, (lead_id, kwargs) in cases.items():
            with self.subTest(case=case):
                local = Lead.automation_dry_run(lead_id, **kwargs)
                self.assertEqual(nones(local), [])
                remote = self._rpc("crm.lead", "automation_dry_run", lead_id, **kwargs)
                self.assertEqual(_timeless(remote), _timeless(local))
        fired = self._rpc("crm.lead", "automation_dry_run", lead.id, **cases["fired"][1])
        self.assertEqual(fired["trigger"]["trigger"], self.trigger.name)
        self.assertEqual(fired["entered"]["id"], self.stage_proposal.id)
        self.assertIsInstance(fired["cancelled"][0]["run_at"], str)
        self.assertTrue(all(isinstance(rule["run_at"], str | bool) for rule in fired["rules"]))
        same = self._rpc("crm.lead", "automation_dry_run", lead.id, stage_id=self.stage_new.id)
        self.assertFalse(same["trigger"])
        self.assertFalse(same["entered"])
        self.assertFalse(same["loop_stopped"])

    def test_board_over_xmlrpc(self):
        self._lead()
        board = self._rpc("crm.automation.board", "get_board", self.team.id)
        self.assertEqual(nones(board), [])
        self.assertEqual(board["team"]["id"], self.team.id)
        rules = [rule["id"] for stage in board["stages"] for rule in stage["rules"]]
        self.assertTrue(
            self._rpc("crm.automation.board", "resequence", "crm.automation.rule", rules)
        )
        self.assertIs(
            self._rpc("crm.automation.board", "toggle_state", "crm.stage.trigger", self.trigger.id),
            False,
        )
        self.assertEqual(self.trigger.state, "draft")

    def test_buttons_over_xmlrpc(self):
        """The buttons of the addon's forms, called by an integrator."""
        lead = self._lead()
        job = self._jobs(lead, self.waiting)
        calls = [
            ("crm.lead", method, [lead.id])
            for method in (
                "action_view_automation",
                "action_view_automation_jobs",
                "action_view_cpa_events",
                "action_open_automation_board",
            )
        ] + [
            ("crm.stage.trigger", "action_view_events", [self.trigger.id]),
            ("crm.stage.trigger", "action_set_draft", [self.trigger.id]),
            ("crm.stage.trigger", "action_activate", [self.trigger.id]),
            ("crm.automation.rule", "action_view_jobs", [self.waiting.id]),
            ("crm.automation.job", "action_cancel", [job.id]),
            ("crm.automation.job", "action_retry", [job.id]),
            ("crm.automation.rule", "action_set_draft", [self.waiting.id]),
            ("crm.automation.rule", "action_activate", [self.waiting.id]),
            ("crm.team", "action_import_automation", [self.team.id]),
            ("crm.team", "action_export_automation", [self.team.id]),
        ]
        for model, method, ids in calls:
            with self.subTest(model=model, method=method):
                self.assertTrue(self._rpc(model, method, ids))
        self.assertEqual(job.state, "pending")
