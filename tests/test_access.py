# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Who can reach the automation models: over the ORM and over real RPC (JSON-RPC
``/web/dataset/call_kw`` and XML-RPC ``/xmlrpc/2/object``).

The models are enumerated from the registry (every model the addon defines), so a new
model is covered without touching this file.
"""

import inspect
import json
import xmlrpc.client

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from ..engine import ingest
from .common import TrackingCase

MODULE = "crm_pipeline_automation"
# A refusal: AccessError, or the UserError of a model that refuses everyone (the ledger
# is append-only) or of a manager-only button.
REFUSALS = ("odoo.exceptions.AccessError", "odoo.exceptions.UserError")
# XML-RPC fault codes (odoo/addons/base/controllers/rpc.py).
FAULT_USER_ERROR, FAULT_ACCESS_DENIED, FAULT_ACCESS_ERROR = 2, 3, 4
PASSWORD = "Access-test-pw-1"
# Models the managers configure: salespeople read them, never change them.
CONFIGURATION = (
    "crm.stage.trigger",
    "crm.automation.rule",
    "crm.automation.rule.update",
    "crm.activity.template",
)
# ORM entry points an RPC client can call on any model.
ORM_CALLS = (
    ("search_read", lambda ids: ([], ["id"]), {}),
    ("read", lambda ids: (ids,), {}),
    ("search", lambda ids: ([],), {}),
    ("search_count", lambda ids: ([],), {}),
    ("name_search", lambda ids: (), {"name": ""}),
    ("read_group", lambda ids: ([], ["id:count"], []), {}),
    ("web_search_read", lambda ids: ([], {"id": {}}), {}),
    ("write", lambda ids: (ids, {}), {}),
    ("unlink", lambda ids: (ids,), {}),
    ("copy", lambda ids: (ids,), {}),
    ("create", lambda ids: ({},), {}),
)


def addon_models(env):
    """Names of the (non-abstract) models defined by this addon."""
    return sorted(
        name
        for name, model in env.registry.items()
        if model._original_module == MODULE and not model._abstract
    )


def addon_public_methods(env, model_name):
    """Public methods that this addon adds to ``model_name`` and that take no argument
    besides the records (what a button or an RPC client can call)."""
    methods = []
    for name in dir(type(env[model_name])):
        if name.startswith("_"):
            continue
        func = getattr(type(env[model_name]), name, None)
        if not inspect.isfunction(func) or not func.__module__.startswith(f"odoo.addons.{MODULE}."):
            continue
        if getattr(func, "_api_model", False) or getattr(func, "_api", None) == "model":
            continue
        params = list(inspect.signature(func).parameters.values())[1:]
        if any(
            p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            for p in params
        ):
            continue
        if name in ("create", "write", "unlink", "init", "copy"):
            continue
        methods.append(name)
    return methods


@tagged("post_install", "-at_install")
class TestAccess(TrackingCase, HttpCase):
    """Portal and public users never reach automation data; salespeople read the
    configuration and never change it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal = new_test_user(
            cls.env, login="cpa_acc_portal", password=PASSWORD, groups="base.group_portal"
        )
        cls.seller = new_test_user(
            cls.env,
            login="cpa_acc_seller",
            password=PASSWORD,
            groups="sales_team.group_sale_salesman",
        )
        cls.public = cls.env.ref("base.public_user")
        # One record of every model, so that record methods have something to act on.
        cls.lead = cls._lead(name="Access secret lead 7731", phone="+32470123456")
        cls.trigger = cls._trigger(cls.stage_qualified, "link_click")
        cls.rule = cls.env["crm.automation.rule"].create(
            {
                "name": "Access rule",
                "stage_id": cls.stage_qualified.id,
                "action_type": "update",
                "timing": "delay",
                "delay_count": 1,
                "delay_unit": "days",
                "update_line_ids": [
                    Command.create(
                        {
                            "field_id": cls.env["ir.model.fields"]._get("crm.lead", "priority").id,
                            "value": "2",
                        }
                    )
                ],
            }
        )
        cls.template = cls.env["crm.activity.template"].create(
            {
                "name": "Access template",
                "activity_type_id": cls.env.ref("mail.mail_activity_data_todo").id,
            }
        )
        cls.lead.write({"stage_id": cls.stage_qualified.id})
        # A stage gate and a move it holds.
        gate = cls.env["crm.stage.gate"].create(
            {"stage_id": cls.stage_won.id, "kind": "checklist", "name": "Access checklist"}
        )
        cls.env["crm.stage.gate.hold"].create(
            {"lead_id": cls.lead.id, "stage_id": gate.stage_id.id, "trigger_id": cls.trigger.id}
        )
        cls.Event._record(cls.lead, "url_visited", "manual", url="https://shop.example.com/a")
        # A tracking request waiting in the queue of the processor.
        ingest.append(
            cls.env.cr, "visit", ingest.lead_key(cls.lead.id), {"lead": cls.lead.id, "u": "x"}
        )
        # The wizards of managers (transient records), created as the superuser.
        cls.env["crm.automation.rule.activate"].create({"rule_id": cls.rule.id})
        cls.env["crm.automation.export.wizard"].create({"team_id": cls.team.id})
        cls.env["crm.automation.undo.wizard"].create({"rule_id": cls.rule.id})
        import_wizard = cls.env["crm.automation.import.wizard"].create(
            {"source": "recipe", "team_id": cls.team.id}
        )
        cls.env["crm.automation.import.stage"].create(
            {"wizard_id": import_wizard.id, "key": "new", "target_stage_id": cls.stage_new.id}
        )
        # A mass edit's plan of jobs (waiting for the dispatcher).
        cls.env["crm.automation.job.plan"].create(
            {"entered_at": "2026-01-12 10:00:00", "job_count": 0, "plan": {"groups": []}}
        )
        cls.records = {}
        for name in addon_models(cls.env):
            cls.records[name] = cls.env[name].sudo().search([], limit=1).ids

    # ------------------------------------------------------------------ helpers

    def _jsonrpc(self, model, method, args=(), kwargs=None):
        """Raw JSON-RPC call_kw: the decoded body (error or result)."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "model": model,
                "method": method,
                "args": list(args),
                "kwargs": kwargs or {},
            },
        }
        response = self.url_open(
            "/web/dataset/call_kw",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("Access secret lead", response.text)
        return response.json()

    def assertRpcRefused(self, body, what, errors=REFUSALS):
        self.assertNotIn("result", body, f"{what}: answered {str(body)[:300]}")
        self.assertIn(body["error"]["data"]["name"], errors, what)

    def assertRefused(self, func, what):
        """``func()`` raises an access refusal (ORM level)."""
        try:
            func()
        except (AccessError, UserError):
            return
        self.fail(f"{what} was not refused")

    def assertFaultRefused(self, func, what):
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            func()
        fault = caught.exception
        self.assertIn(fault.faultCode, (FAULT_ACCESS_ERROR, FAULT_USER_ERROR), what)
        self.assertNotIn("Access secret lead", fault.faultString)
        self.assertNotIn("Traceback", fault.faultString)

    def _xmlrpc(self, login, model, method, args, kwargs=None):
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, PASSWORD, {})
        self.assertTrue(uid, f"{login} can log in over XML-RPC")
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, PASSWORD, model, method, list(args), kwargs or {}
        )

    # ------------------------------------------------------------------ tests

    def test_models_enumerated(self):
        models = addon_models(self.env)
        for name in (
            "crm.stage.trigger",
            "crm.automation.rule",
            "crm.automation.rule.update",
            "crm.lead.event",
            "crm.automation.job",
            "crm.activity.template",
            "crm.automation.log",
        ):
            self.assertIn(name, models)
        for name in models:
            self.assertTrue(self.records[name], f"fixture has a {name} record")

    def test_portal_and_public_refused_by_the_orm(self):
        for user in (self.portal, self.public):
            for name in addon_models(self.env):
                Model = self.env[name].with_user(user)
                records = Model.browse(self.records[name])
                for operation in ("read", "write", "create", "unlink"):
                    with (
                        self.subTest(user=user.login, model=name, operation=operation),
                        self.assertRaises(AccessError),
                    ):
                        records.check_access(operation)
                with (
                    self.subTest(user=user.login, model=name, operation="search"),
                    self.assertRaises(AccessError),
                ):
                    Model.search([])
                for method in addon_public_methods(self.env, name):
                    with self.subTest(user=user.login, model=name, method=method):
                        self.assertRefused(getattr(records, method), f"{name}.{method}")

    def test_portal_refused_over_jsonrpc(self):
        Job = self.env["crm.automation.job"]
        pending = Job.search_count([("state", "=", "pending")])
        self.authenticate(self.portal.login, PASSWORD)
        for name in addon_models(self.env):
            ids = self.records[name]
            for method, args, kwargs in ORM_CALLS:
                with self.subTest(model=name, method=method):
                    body = self._jsonrpc(name, method, args(ids), kwargs)
                    self.assertRpcRefused(body, f"{name}.{method}")
            for method in addon_public_methods(self.env, name):
                with self.subTest(model=name, method=method):
                    self.assertRpcRefused(self._jsonrpc(name, method, [ids]), f"{name}.{method}")
        # Nothing changed behind the refusals.
        self.assertTrue(self.trigger.exists() and self.rule.exists() and self.template.exists())
        self.assertEqual(Job.search_count([("state", "=", "pending")]), pending)

    def test_portal_refused_over_xmlrpc(self):
        for name in addon_models(self.env):
            ids = self.records[name]
            for method, args, kwargs in ORM_CALLS:
                call_args = args(ids)
                with self.subTest(model=name, method=method):
                    self.assertFaultRefused(
                        lambda n=name, m=method, a=call_args, k=kwargs: self._xmlrpc(
                            self.portal.login, n, m, a, k
                        ),
                        f"{name}.{method}",
                    )

    def test_public_without_session_gets_no_data(self):
        for name in addon_models(self.env):
            for method in ("search_read", "read", "write"):
                with self.subTest(model=name, method=method):
                    args = ([], ["id"]) if method == "search_read" else (self.records[name], {})
                    if method == "read":
                        args = (self.records[name],)
                    body = self._jsonrpc(name, method, args)
                    self.assertRpcRefused(
                        body, f"{name}.{method}", ("odoo.http.SessionExpiredException",)
                    )
        # The public user has no password: XML-RPC refuses it before any model.
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                self.public.id,
                "",
                "crm.automation.log",
                "search_read",
                [[]],
                {},
            )
        self.assertEqual(caught.exception.faultCode, FAULT_ACCESS_DENIED)

    def test_salesperson_reads_configuration_only(self):
        for name in CONFIGURATION:
            Model = self.env[name].with_user(self.seller)
            records = Model.browse(self.records[name])
            with self.subTest(model=name, operation="read"):
                self.assertTrue(records.read(["display_name"]))
            for operation in ("write", "create", "unlink"):
                with self.subTest(model=name, operation=operation), self.assertRaises(AccessError):
                    records.check_access(operation)
            with self.subTest(model=name, operation="write call"), self.assertRaises(AccessError):
                records.write({"sequence": 99} if "sequence" in Model._fields else {})
            with self.subTest(model=name, operation="unlink call"), self.assertRaises(AccessError):
                records.unlink()
        with self.assertRaises(AccessError):
            self.env["crm.stage.trigger"].with_user(self.seller).create(
                {
                    "name": "Seller trigger",
                    "stage_id": self.stage_won.id,
                    "event_type": "email_open",
                }
            )
        with self.assertRaises(AccessError):
            self.env["crm.activity.template"].with_user(self.seller).create(
                {"name": "Seller template"}
            )
        # Jobs: run, cancel and retry are for managers.
        job = (
            self.env["crm.automation.job"]
            .with_user(self.seller)
            .browse(self.records["crm.automation.job"])
        )
        for method in ("action_run_now", "action_cancel", "action_retry"):
            with self.subTest(method=method):
                self.assertRefused(getattr(job, method), method)
        self.assertEqual(job.sudo().state, "pending")

    def test_salesperson_refused_over_rpc(self):
        self.authenticate(self.seller.login, PASSWORD)
        for name in CONFIGURATION:
            ids = self.records[name]
            with self.subTest(model=name, method="read"):
                body = self._jsonrpc(name, "read", [ids, ["display_name"]])
                self.assertEqual(body["result"][0]["id"], ids[0])
            for method, args in (
                ("write", [ids, {"name": "renamed by a seller"}]),
                ("unlink", [ids]),
                ("create", [{"name": "created by a seller"}]),
                ("copy", [ids]),
            ):
                with self.subTest(model=name, method=method, rpc="json"):
                    self.assertRpcRefused(self._jsonrpc(name, method, args), f"{name}.{method}")
                with self.subTest(model=name, method=method, rpc="xml"):
                    self.assertFaultRefused(
                        lambda n=name, m=method, a=args: self._xmlrpc(self.seller.login, n, m, a),
                        f"{name}.{method}",
                    )
        self.assertEqual(self.trigger.name, "link_click to T Qualified")
        self.assertEqual(self.rule.name, "Access rule")
        self.assertEqual(self.template.name, "Access template")
