# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The server as the acceptance stories see it (tools/acceptance.py): XML-RPC as the
administrator, HTTP sessions of visitors, and the project's helpers (a pipeline of
one's own, the ledger's "why did this move?")."""

import http.cookiejar
import json
import random
import threading
import time
import urllib.error
import urllib.request
import xmlrpc.client

PARAM = "crm_pipeline_automation."
# A page with a lead form, as the website editor saves it ("Create an Opportunity").
FORM_PAGE = """<t t-call="website.layout"><div id="wrap">
<section class="s_website_form"><div class="container">
<form action="/website/form/" method="post" data-model_name="crm.lead"
      class="s_website_form_send" enctype="multipart/form-data">
<input type="hidden" name="team_id" value="%(team)s"/>%(named)s
<input type="text" name="contact_name"/><input type="email" name="email_from"/>
<input type="text" name="name"/><textarea name="description"/>
</form></div></section></div></t>"""


class StoryFailed(Exception):
    pass


def check(condition, why):
    if not condition:
        raise StoryFailed(why)


def utc(dt):
    return dt.strftime("%Y-%m-%d %H:%M:%S")


class Server:
    """XML-RPC as the admin, plus HTTP sessions (a cookie jar per visitor)."""

    def __init__(self, url, db, login, password):
        self.url, self.db, self.password = url.rstrip("/"), db, password
        common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common")
        self.uid = common.authenticate(db, login, password, {})
        if not self.uid:
            raise SystemExit(f"Cannot log in as {login} on {db} at {url}")
        self.suffix = f"{int(time.time()) % 100000}-{random.randint(100, 999)}"
        self.created = []  # (model, id) in creation order, deleted in reverse at the end
        self._local = threading.local()

    @property
    def _object(self):
        # one proxy per thread: ServerProxy is not thread-safe
        if not hasattr(self._local, "proxy"):
            self._local.proxy = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object")
        return self._local.proxy

    def call(self, model, method, *args, **kwargs):
        return self._object.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kwargs
        )

    def call_none(self, model, method, *args, **kwargs):
        """An Odoo method that returns None or records (e.g. crm's action_set_lost,
        bus.presence's create): XML-RPC cannot send it back, the server answers a Fault
        after committing the work."""
        try:
            return self.call(model, method, *args, **kwargs)
        except xmlrpc.client.Fault as fault:
            if "cannot marshal" not in fault.faultString:
                raise
            return None

    def create(self, model, vals, keep_track=True):
        record_id = self.call(model, "create", vals)
        if keep_track:
            self.created.append((model, record_id))
        return record_id

    def read(self, model, record_id, fields):
        rows = self.call(model, "read", [record_id], fields, context={"active_test": False})
        check(rows, f"{model} {record_id} is gone")
        return rows[0]

    def search_read(self, model, domain, fields, **kw):
        kw.setdefault("context", {"active_test": False})
        return self.call(model, "search_read", domain, fields, **kw)

    def xmlid(self, xmlid):
        module, name = xmlid.split(".")
        rows = self.search_read(
            "ir.model.data", [("module", "=", module), ("name", "=", name)], ["res_id"]
        )
        check(rows, f"no record {xmlid}")
        return rows[0]["res_id"]

    def field_id(self, model, name):
        rows = self.search_read("ir.model.fields", [("model", "=", model), ("name", "=", name)], [])
        return rows[0]["id"]

    def model_id(self, model):
        return self.search_read("ir.model", [("model", "=", model)], ["id"])[0]["id"]

    def set_param(self, key, value):
        rows = self.search_read("ir.config_parameter", [("key", "=", key)], ["id"])
        if rows:
            self.call("ir.config_parameter", "write", [rows[0]["id"]], {"value": value})
        else:
            self.create("ir.config_parameter", {"key": key, "value": value})

    # -- HTTP
    def opener(self):
        jar = http.cookiejar.CookieJar()
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def post(self, path, body, headers, opener=None):
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            opener = opener or urllib.request.build_opener()
            with opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def jsonrpc(self, opener, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        status, text = self.post(
            path, body.encode(), {"Content-Type": "application/json"}, opener=opener
        )
        check(status == 200, f"{path} answered {status}: {text[:300]}")
        answer = json.loads(text)
        check("error" not in answer, f"{path}: {json.dumps(answer.get('error'))[:400]}")
        return answer["result"]

    # -- the project's helpers
    def name(self, label):
        return f"ACC {label} {self.suffix}"

    def pipeline(self, label, stages=("New", "Next", "Last"), won=None):
        """A sales team of our own with its stages (sequences after the demo's)."""
        team = self.create(
            "crm.team", {"name": self.name(label), "user_id": self.uid, "use_leads": True}
        )
        ids = []
        for index, stage in enumerate(stages):
            vals = {"name": stage if stage == won else f"ACC {label} {stage}", "team_id": team}
            vals.update(sequence=900 + index, is_won=stage == won)
            ids.append(self.create("crm.stage", vals))
        return team, ids

    def lead(self, label, team, stage, **vals):
        vals = {"name": self.name(label), "team_id": team, "stage_id": stage, **vals}
        vals.setdefault("type", "opportunity")
        return self.create("crm.lead", vals)

    def stage_of(self, lead):
        return self.read("crm.lead", lead, ["stage_id"])["stage_id"][0]

    def wait_stage(self, lead, stage, seconds=20):
        """A lead moved (at once, or by a job the cron runs a moment later)."""
        deadline = time.time() + seconds
        while True:
            current = self.stage_of(lead)
            if current == stage or time.time() > deadline:
                return current
            time.sleep(1)

    def why(self, lead, stage):
        """The ledger says why the lead entered ``stage``: an automatic entry with its
        origin (rule or trigger)."""
        rows = self.search_read(
            "crm.automation.log",
            [("lead_id", "=", lead), ("kind", "=", "stage_entered"), ("stage_id", "=", stage)],
            ["automatic", "origin", "message"],
        )
        check(rows, f"no ledger row for the move of lead {lead} to stage {stage}")
        check(
            any(r["automatic"] and (r["origin"] or r["message"]) for r in rows),
            f"the ledger does not say why lead {lead} moved: {rows}",
        )

    def ledger(self, lead, kind=None):
        domain = [("lead_id", "=", lead)] + ([("kind", "=", kind)] if kind else [])
        return self.search_read(
            "crm.automation.log", domain, ["kind", "message", "origin", "rule_id"]
        )

    def wait_job(self, lead, rule, seconds=20):
        deadline = time.time() + seconds
        while True:
            jobs = self.search_read(
                "crm.automation.job",
                [("lead_id", "=", lead), ("rule_id", "=", rule)],
                ["state", "result", "last_error"],
            )
            if (jobs and jobs[0]["state"] not in ("pending", "running")) or time.time() > deadline:
                return jobs[0] if jobs else {}
            time.sleep(1)

    # What the stories create, by name ("ACC … <suffix>"), for --purge.
    PURGE = (
        ("crm.automation.rule", "name"),
        ("crm.stage.trigger", "name"),
        ("crm.activity.template", "name"),
        ("website.page", "name"),
        ("mail.template", "name"),
        ("im_livechat.channel", "name"),
        ("discuss.channel", "name"),
        ("crm.stage", "name"),
        ("crm.team", "name"),
        ("crm.tag", "name"),
        ("resource.calendar", "name"),
    )

    def purge(self):
        """Leftovers of earlier runs kept with --keep (or interrupted): every record
        named "ACC …" of the models the stories use, and the leads of those teams."""
        context = {"active_test": False}
        teams = self.call("crm.team", "search", [("name", "=like", "ACC %")], context=context)
        self.created = [("crm.team", team) for team in teams]
        for model, field in self.PURGE:
            if model == "crm.team":
                continue
            domain = [(field, "=like", "ACC %")]
            if model == "crm.stage":  # also the "Won" of a story's own pipeline
                domain = ["|", *domain, ("team_id", "in", teams)]
            ids = self.call(model, "search", domain, context=context)
            # deleted in reverse order: teams last (their stages would become shared)
            self.created += [(model, record_id) for record_id in ids]
        params = self.call(
            "ir.config_parameter", "search", [("key", "=like", f"{PARAM}call_source.acc%")]
        )
        self.created += [("ir.config_parameter", param) for param in params]
        return self.cleanup()

    def cleanup(self):
        failures = []
        leads = [rid for model, rid in self.created if model == "crm.lead"]
        # leads created by the server for us (calls, forms, copies) sit in our teams
        teams = [rid for model, rid in self.created if model == "crm.team"]
        if teams:
            leads += self.call(
                "crm.lead", "search", [("team_id", "in", teams)], context={"active_test": False}
            )
        if leads:
            try:
                self.call("crm.lead", "unlink", sorted(set(leads)))
            except xmlrpc.client.Fault as fault:
                failures.append(f"crm.lead: {fault.faultString.splitlines()[-1]}")
        for model, record_id in reversed(self.created):
            if model == "crm.lead":
                continue
            try:
                self.call(model, "unlink", [record_id])
            except xmlrpc.client.Fault as fault:
                failures.append(f"{model} {record_id}: {fault.faultString.splitlines()[-1]}")
        return failures
