#!/usr/bin/env python3
"""`make test-upgrade`: install, update, uninstall and reinstall the addon on a throwaway
database, through Odoo's real entry points, and check what each step leaves behind.

1. install the addon with demo data; create a stage trigger, a rule with a delayed job, an
   activity template, an email through the mail gateway (event, move, pending job, ledger
   row, template activity) and record the counts and ids of the addon's records;
2. ``-u crm_pipeline_automation`` keeps them all (same ids); with ``--from REV`` step 1
   runs the addon as it was at the git revision REV (a released version) and step 2
   upgrades it to this checkout: every row is kept (same ids; the new version's demo may
   add rows), through the migration scripts of ``migrations/``;
3. uninstall (``button_immediate_uninstall``): every record the module's xml ids named is
   gone (crons, system parameters, views...), its tables and columns are dropped, no
   ``crm_pipeline_automation.*`` parameter is left; Odoo CRM still works: a lead is created
   and moved, a chatter email is sent, the website contact form creates a lead over HTTP,
   ``/cpa/o/<garbage>`` is a 404 like any unknown path, and the pipeline opens in
   Chromium without a JavaScript error;
4. reinstall the addon: a lead moves again.

The outer part is standard library only (system Python, helpers of tools/cpa.py); the
steps that talk to Odoo run with the project's Python (``--inner STEP``).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpa

MODULE = cpa.MODULE
TABLES = [
    "crm_automation_rule",
    "crm_stage_trigger",
    "crm_automation_job",
    "crm_lead_event",
    "crm_automation_log",
    "crm_activity_template",
]

# Names of the database objects the addon creates (tables of its models, and what its
# init() methods make with SQL: indexes, the caller claim table...).
RELATION_PREFIXES = [
    "crm_automation",
    "crm_stage_trigger",
    "crm_lead_event",
    "crm_activity_template",
    "crm_activity_deadline",
]


# =========================================================================== inner steps
# Run with the project's Python: python upgrade_check.py --inner STEP CONFIG DB STATE


def _env(config, dbname):
    import odoo

    odoo.tools.config.parse_config(["-c", config, "-d", dbname])
    registry = odoo.modules.registry.Registry(dbname)
    return odoo, registry


def _snapshot(env):
    cr = env.cr
    snap = {}
    for table in TABLES:
        cr.execute(f"SELECT id FROM {table} ORDER BY id")
        snap[table] = [row[0] for row in cr.fetchall()]
    cr.execute("SELECT id FROM mail_activity WHERE activity_template_id IS NOT NULL ORDER BY id")
    snap["template activities"] = [row[0] for row in cr.fetchall()]
    return snap


def inner_seed(env, state):
    """Records made through the engine's entry points; then the counts and ids."""
    from odoo import Command

    team = env.ref("sales_team.team_sales_department")
    stages = env["crm.stage"].search(
        ["|", ("team_id", "=", False), ("team_id", "=", team.id)], order="sequence, id"
    )
    stage_new, stage_b = stages[0], stages[1]
    tag = env["crm.tag"].create({"name": "Upgrade check"})
    template = env["crm.activity.template"].create(
        {
            "name": "Upgrade check: call",
            "activity_type_id": env.ref("mail.mail_activity_data_call").id,
            "summary": "Call {contact_name}",
            "deadline_count": 2,
            "deadline_unit": "hours",
            "event_key": "lead_created",
        }
    )
    rule = env["crm.automation.rule"].create(
        {
            "name": "Upgrade check: tag after a day",
            "stage_id": stage_b.id,
            "action_type": "tags",
            "tag_add_ids": [Command.link(tag.id)],
            "timing": "delay",
            "delay_count": 1,
            "delay_unit": "days",
        }
    )
    trigger = env["crm.stage.trigger"].create(
        {
            "name": "Upgrade check: customer wrote",
            "stage_id": stage_b.id,
            "event_type": "email_received",
        }
    )
    # A document trigger (contacts becoming companies: no sale app needed) keeps a
    # base.automation, which must survive -u and go with the addon. Versions of the
    # addon without document triggers (--from REV) have none.
    # (base_automation is a dependency since then: older versions run without it.)
    automation = env.get("base.automation")
    if automation is not None and "document_model" in env["crm.stage.trigger"]._fields:
        automation = (
            env["crm.stage.trigger"]
            .create(
                {
                    "name": "Upgrade check: the customer is a company",
                    "stage_id": stage_b.id,
                    "event_type": "document",
                    "document_model": "res.partner",
                    "document_domain": "[('is_company', '=', True)]",
                    "document_lead_path": "opportunity_ids",
                }
            )
            .automation_id
        )
    customer = env["res.partner"].create(
        {"name": "Upgrade Customer", "email": "upgrade.customer@example.com"}
    )
    lead = env["crm.lead"].create(
        {
            "name": "Upgrade check lead",
            "type": "opportunity",
            "team_id": team.id,
            "user_id": env.ref("base.user_admin").id,
            "partner_id": customer.id,
            "stage_id": stage_new.id,
        }
    )
    env.flush_all()
    # An email from the customer through the mail gateway: an email_received event.
    raw = (
        "From: Upgrade Customer <upgrade.customer@example.com>\r\n"
        "To: sales@example.com\r\n"
        "Subject: Re: your offer\r\n"
        f"Message-ID: <upgrade-check-{lead.id}@example.com>\r\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "We are interested, please call us.\r\n"
    )
    env["mail.thread"].message_process("crm.lead", raw, thread_id=lead.id)
    env.flush_all()
    # A second lead moved by hand into the rule's stage: a pending delayed job.
    lead2 = env["crm.lead"].create(
        {"name": "Upgrade check lead 2", "type": "opportunity", "team_id": team.id}
    )
    lead2.write({"stage_id": stage_b.id})
    env.flush_all()
    # An administrator saves the settings once (parameters without xml ids).
    env["res.config.settings"].create({}).execute()
    snap = _snapshot(env)
    checks = {
        "trigger fired on the inbound email (lead moved)": lead.stage_id == stage_b,
        "event recorded from the mail gateway": bool(
            env["crm.lead.event"].search_count(
                [("lead_id", "=", lead.id), ("event_type", "=", "email_received")]
            )
        ),
        "pending delayed job": bool(
            env["crm.automation.job"].search_count([("rule_id", "=", rule.id)])
        ),
        "ledger rows": bool(snap["crm_automation_log"]),
        "template activity on the new lead": bool(
            env["mail.activity"].search_count(
                [("activity_template_id", "=", template.id), ("res_id", "in", (lead | lead2).ids)]
            )
        ),
    }
    if automation:
        checks["document trigger: its automation rule (base.automation)"] = automation.active
    env.cr.commit()
    state["ids"] = {"rule": rule.id, "trigger": trigger.id, "template": template.id}
    state["automations"] = automation.ids if automation is not None else []
    state["before_update"] = snap
    return checks


def inner_after_update(env, state):
    snap = _snapshot(env)
    state["after_update"] = snap
    checks = {}
    if state.get("automations"):
        kept = env["base.automation"].browse(state["automations"]).exists()
        checks["document trigger: its automation rule kept, active"] = (
            kept.ids == state["automations"] and all(kept.mapped("active")),
            f"kept {kept.ids}",
        )
    for key, ids in state["before_update"].items():
        now = snap[key]
        if state.get("from"):
            # Another version's demo data may add rows; none may be lost.
            lost = sorted(set(ids) - set(now))
            checks[f"{key}: all {len(ids)} rows kept"] = (not lost, f"lost ids {lost[:10]}")
        else:
            checks[f"{key}: {len(ids)} rows kept, same ids"] = (
                now == ids,
                f"now {len(now)} rows",
            )
    return checks


def inner_before_uninstall(env, state):
    """What the module created: its xml ids' records, stored fields and tables."""
    cr = env.cr
    cr.execute("SELECT model, res_id, name FROM ir_model_data WHERE module=%s", (MODULE,))
    state["xmlids"] = [list(row) for row in cr.fetchall()]
    cr.execute(
        """SELECT f.model, f.name FROM ir_model_fields f
           JOIN ir_model_data d ON d.model='ir.model.fields' AND d.res_id=f.id AND d.module=%s
           WHERE f.store""",
        (MODULE,),
    )
    state["fields"] = [
        [model, name, env[model]._table if model in env else model.replace(".", "_")]
        for model, name in cr.fetchall()
    ]
    cr.execute("SELECT key FROM ir_config_parameter WHERE key LIKE %s", (f"{MODULE}.%",))
    state["params_before"] = sorted(row[0] for row in cr.fetchall())
    return {f"{len(state['xmlids'])} xml ids, {len(state['fields'])} stored fields recorded": True}


def inner_uninstall(env, state):
    module = env["ir.module.module"].search([("name", "=", MODULE)])
    module.button_immediate_uninstall()
    env.cr.commit()
    return {"button_immediate_uninstall": True}


def _exists(cr, table):
    cr.execute("SELECT 1 FROM information_schema.tables WHERE table_name=%s", (table,))
    return bool(cr.fetchone())


def _column(cr, table, column):
    cr.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name=%s AND column_name=%s",
        (table, column),
    )
    return bool(cr.fetchone())


def inner_after_uninstall(env, state):
    cr = env.cr
    checks = {}
    module = env["ir.module.module"].search([("name", "=", MODULE)])
    checks["module state is uninstalled"] = (module.state == "uninstalled", module.state)
    left = []
    for model, res_id, name in state["xmlids"]:
        if model not in env:
            continue
        table = env[model]._table
        if not _exists(cr, table):
            continue
        cr.execute(f'SELECT 1 FROM "{table}" WHERE id=%s', (res_id,))
        if not cr.fetchone():
            continue
        # Shared records stay by design: the ir.model of crm.lead, a field that another
        # module defines too... Odoo keeps what another module's xml id still names.
        cr.execute("SELECT 1 FROM ir_model_data WHERE model=%s AND res_id=%s", (model, res_id))
        if not cr.fetchone():
            left.append(f"{model} {MODULE}.{name} (id {res_id})")
    checks["every record of the module's xml ids is gone (crons, views, params...)"] = (
        not left,
        "; ".join(left[:15]) + (f" ... ({len(left)} in all)" if len(left) > 15 else ""),
    )
    cr.execute(
        "SELECT model, name FROM ir_model_data WHERE module=%s ORDER BY model, name", (MODULE,)
    )
    rows = [f"{model} {name}" for model, name in cr.fetchall()]
    checks["no ir_model_data row of the module"] = (not rows, "; ".join(rows[:15]))
    cr.execute("SELECT key FROM ir_config_parameter WHERE key LIKE %s", (f"{MODULE}.%",))
    params = sorted(row[0] for row in cr.fetchall())
    checks["no crm_pipeline_automation.* system parameter"] = (not params, ", ".join(params))
    cr.execute("SELECT count(*) FROM ir_ui_view WHERE key LIKE %s", (f"{MODULE}.%",))
    checks["no ir.ui.view with a crm_pipeline_automation.* key"] = (cr.fetchone()[0] == 0, "")
    tables = [t for t in TABLES if _exists(cr, t)]
    checks["the addon's tables are dropped"] = (not tables, ", ".join(tables))
    # Tables, views, indexes, sequences the addon made itself (init(), raw SQL).
    cr.execute(
        """SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace
            WHERE n.nspname = 'public' AND relkind IN ('r', 'v', 'm', 'i', 'S')
              AND relname ~ %s ORDER BY relname""",
        (f"^({'|'.join(RELATION_PREFIXES)})|(^|_)cpa_",),
    )
    relations = [row[0] for row in cr.fetchall()]
    checks["no table, view, index or sequence of the addon left"] = (
        not relations,
        ", ".join(relations),
    )
    columns = sorted(
        {f"{table}.{name}" for model, name, table in state["fields"] if _column(cr, table, name)}
    )
    checks["the addon's columns are dropped"] = (not columns, ", ".join(columns[:30]))
    # base_automation stays installed: the rules of document triggers (their code calls
    # the addon) must have gone with it (hooks.uninstall_hook).
    cr.execute(
        "SELECT count(*) FROM ir_act_server WHERE state = 'code' AND code LIKE %s",
        ("%crm.lead.event%",),
    )
    actions = cr.fetchone()[0]
    rules = (
        env["base.automation"].with_context(active_test=False).browse(state.get("automations", []))
        if "base.automation" in env
        else []
    )
    checks["no automation rule or server action of document triggers left"] = (
        not rules and not actions or not rules.exists() and not actions,
        f"{len(rules and rules.exists())} rules, {actions} code actions",
    )
    # Odoo CRM still works.
    team = env.ref("sales_team.team_sales_department")
    stages = env["crm.stage"].search([], order="sequence, id")
    partner = env["res.partner"].create(
        {"name": "After Uninstall", "email": "after.uninstall@example.com"}
    )
    lead = env["crm.lead"].create(
        {
            "name": "After uninstall",
            "type": "opportunity",
            "team_id": team.id,
            "partner_id": partner.id,
            "stage_id": stages[0].id,
        }
    )
    lead.write({"stage_id": stages[1].id})
    env.flush_all()
    checks["a lead is created and moved"] = (lead.stage_id == stages[1], "")
    message = lead.message_post(
        body="Hello after uninstall",
        partner_ids=[partner.id],
        message_type="comment",
        subtype_xmlid="mail.mt_comment",
    )
    env.flush_all()
    mails = env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
    checks["a chatter email to the customer is queued"] = (bool(mails), f"{len(mails)} mail.mail")
    env.cr.commit()
    return checks


def inner_after_reinstall(env, state):
    checks = {}
    module = env["ir.module.module"].search([("name", "=", MODULE)])
    checks["module state is installed"] = (module.state == "installed", module.state)
    team = env.ref("sales_team.team_sales_department")
    stages = env["crm.stage"].search([], order="sequence, id")
    lead = env["crm.lead"].create(
        {"name": "After reinstall", "type": "opportunity", "team_id": team.id}
    )
    lead.write({"stage_id": stages[1].id})
    env.flush_all()
    checks["a lead is created and moved"] = (lead.stage_id == stages[1], "")
    cron = env.ref("crm_pipeline_automation.ir_cron_crm_lead_event_fire_held", False)
    checks["the addon's crons and demo rules are back"] = (
        bool(cron) and bool(env["crm.automation.rule"].search_count([])),
        f"cron {cron}, {env['crm.automation.rule'].search_count([])} rules",
    )
    env.cr.commit()
    return checks


def inner_browser(base_url, shots):
    """The pipeline in headless Chromium (Chrome DevTools Protocol): no JS error."""
    import requests
    import websocket

    session = requests.Session()
    page = session.get(f"{base_url}/web/login", timeout=60).text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    session.post(
        f"{base_url}/web/login",
        data={"login": "admin", "password": "admin", "csrf_token": token},
        timeout=60,
    )
    sid = session.cookies.get("session_id")
    port = cpa.free_port()
    chromium = cpa.ensure_chromium()
    profile = tempfile.mkdtemp(prefix="cpa-chromium-")
    proc = subprocess.Popen(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "--window-size=1366,768",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    errors, found = [], False
    try:
        for _ in range(60):
            try:
                targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=5)
        seq = [0]

        def send(method, **params):
            seq[0] += 1
            ws.send(json.dumps({"id": seq[0], "method": method, "params": params}))
            return seq[0]

        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            send(method)
        host = urllib.parse.urlparse(base_url).hostname
        send("Network.setCookie", name="session_id", value=sid, domain=host, path="/")
        send("Page.navigate", url=f"{base_url}/odoo/crm")
        deadline = time.time() + 120
        probe = None
        next_probe = time.time() + 2
        while time.time() < deadline and not found:
            try:
                msg = json.loads(ws.recv())
            except websocket.WebSocketTimeoutException:
                msg = {}
            method = msg.get("method")
            if method == "Runtime.exceptionThrown":
                details = msg["params"]["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Runtime.consoleAPICalled" and msg["params"]["type"] == "error":
                args = msg["params"]["args"]
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in args))
            elif method == "Log.entryAdded" and msg["params"]["entry"]["level"] == "error":
                entry = msg["params"]["entry"]
                if entry.get("source") != "network":  # a missing image is not a JS error
                    errors.append(f"{entry['text']} {entry.get('url', '')}")
            elif probe is not None and msg.get("id") == probe:
                found = msg.get("result", {}).get("result", {}).get("value") is True
                probe = None
            if probe is None and time.time() > next_probe:
                probe = send(
                    "Runtime.evaluate",
                    expression="!!document.querySelector('.o_kanban_renderer .o_kanban_record')",
                )
                next_probe = time.time() + 1
        if found:
            time.sleep(2)  # late errors of the first render
            ws.settimeout(1)
            try:
                while True:
                    msg = json.loads(ws.recv())
                    if msg.get("method") == "Runtime.exceptionThrown":
                        errors.append(msg["params"]["exceptionDetails"]["text"])
            except websocket.WebSocketTimeoutException:
                pass
            if shots:
                shot = send("Page.captureScreenshot", format="png")
                while True:
                    msg = json.loads(ws.recv())
                    if msg.get("id") == shot:
                        import base64

                        Path(shots).write_bytes(base64.b64decode(msg["result"]["data"]))
                        break
        ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)
    return {
        "the pipeline (/odoo/crm) shows its kanban cards in Chromium": (found, "no card in 120s"),
        "no JavaScript error in Chromium": (not errors, " | ".join(errors)[:600]),
    }


INNER = {
    "seed": inner_seed,
    "after_update": inner_after_update,
    "before_uninstall": inner_before_uninstall,
    "uninstall": inner_uninstall,
    "after_uninstall": inner_after_uninstall,
    "after_reinstall": inner_after_reinstall,
}


def inner_main(step, config, dbname, state_file):
    state = json.loads(Path(state_file).read_text()) if Path(state_file).is_file() else {}
    if step == "browser":
        checks = inner_browser(config, dbname)  # here: base URL, screenshot path
    else:
        odoo, registry = _env(config, dbname)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            checks = INNER[step](env, state)
    Path(state_file).write_text(json.dumps(state))
    checks = {k: v if isinstance(v, list | tuple) else [v, ""] for k, v in checks.items()}
    print("CPA-CHECKS " + json.dumps(checks))


# =========================================================================== outer part


class Checker:
    def __init__(self):
        self.failed = []
        self.count = 0

    def check(self, name, ok, detail=""):
        self.count += 1
        print(f"  {'ok' if ok else 'FAILED'}  {name}{'' if ok or not detail else ': ' + detail}")
        if not ok:
            self.failed.append(name)
        return ok


class Run:
    def __init__(self, tmp, pg, checker, from_rev=None):
        self.src, self.venv = cpa.odoo_src(), cpa.venv_dir()
        self.tmp, self.pg, self.checker = tmp, pg, checker
        self.dbname = f"cpa_upgrade_{os.getpid()}"
        self.port = cpa.free_port()
        self.conf = cpa.write_config(
            tmp / "odoo.conf",
            self.src,
            pg,
            {
                "data_dir": str(tmp / "data"),
                "http_port": self.port,
                "db_name": self.dbname,
                "dbfilter": f"^{self.dbname}$",
            },
        )
        self.state = tmp / "state.json"
        self.conf_new = self.conf
        if from_rev:
            # The addon as it was at from_rev, in a folder named after the module.
            old = tmp / "old"
            (old / MODULE).mkdir(parents=True)
            archive = subprocess.run(
                ["git", "-C", str(cpa.REPO), "archive", from_rev],
                capture_output=True,
                check=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old / MODULE)], input=archive, check=True)
            self.conf = cpa.write_config(
                tmp / "odoo-old.conf",
                self.src,
                pg,
                {
                    "addons_path": f"{self.src / 'addons'},{old}",
                    "data_dir": str(tmp / "data"),
                    "http_port": self.port,
                    "db_name": self.dbname,
                    "dbfilter": f"^{self.dbname}$",
                },
            )
            self.state.write_text(json.dumps({"from": from_rev}))
        self.logs = cpa.cache_dir() / "logs"
        self.logs.mkdir(exist_ok=True)
        self.timings = {}

    def odoo(self, label, *args):
        log = self.logs / f"upgrade-check-{label}.log"
        t0 = time.time()
        with open(log, "w") as fh:
            rc = subprocess.run(
                cpa.odoo_cmd(
                    self.venv,
                    self.src,
                    self.conf,
                    "-d",
                    self.dbname,
                    "--max-cron-threads=0",
                    "--workers=0",
                    "--stop-after-init",
                    *args,
                ),
                stdout=fh,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=1800,
            ).returncode
        self.timings[label] = time.time() - t0
        text = log.read_text(errors="replace")
        errors = [ln for ln in text.splitlines() if " ERROR " in ln or " CRITICAL " in ln]
        return self.checker.check(
            f"odoo-bin {' '.join(args)} ({self.timings[label]:.0f}s)",
            rc == 0 and not errors,
            f"status {rc}; {' | '.join(errors[:3])} (log: {log})",
        )

    def inner(self, step, *args):
        cmd = [str(self.venv / "bin" / "python"), __file__, "--inner", step]
        cmd += list(args) or [str(self.conf), self.dbname]
        cmd.append(str(self.state))
        log = self.logs / f"upgrade-check-{step}.log"
        t0 = time.time()
        with open(log, "w") as fh:
            proc = subprocess.run(
                cmd,
                stdout=subprocess.PIPE,
                stderr=fh,
                text=True,
                check=False,
                timeout=900,
                env={**os.environ, "PYTHONPATH": str(self.src), "TZ": "UTC"},
            )
        self.timings[step] = time.time() - t0
        checks = None
        for line in proc.stdout.splitlines():
            if line.startswith("CPA-CHECKS "):
                checks = json.loads(line[len("CPA-CHECKS ") :])
        if proc.returncode or checks is None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            self.checker.check(f"{step}", False, f"{' | '.join(tail)} (log: {log})")
            return False
        results = [self.checker.check(k, bool(v[0]), str(v[1])) for k, v in checks.items()]
        return all(results)

    def serve(self):
        log = open(self.logs / "upgrade-check-server.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            cpa.odoo_cmd(
                self.venv,
                self.src,
                self.conf,
                "-d",
                self.dbname,
                "--max-cron-threads=0",
                "--workers=0",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{self.port}"
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/web/health", timeout=5):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(1)
        return proc, log, base

    def stop(self, proc, log):
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()

    def http_checks(self, base, expect_addon):
        c = self.checker
        try:
            urllib.request.urlopen(f"{base}/cpa/o/garbage-token-xyz", timeout=60)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        if expect_addon:
            c.check(f"/cpa/o/<garbage> is served by the addon (status {status})", status != 404)
        else:
            try:
                urllib.request.urlopen(f"{base}/no/such/path-xyz", timeout=60)
                other = 200
            except urllib.error.HTTPError as exc:
                other = exc.code
            c.check(
                f"/cpa/o/<garbage> is a {status} like any unknown path ({other})",
                status == other == 404,
            )
        data = urllib.parse.urlencode(
            {
                "contact_name": "Form Visitor",
                "email_from": "form.visitor@example.com",
                "name": "Contact form after uninstall",
                "description": "Please call me",
            }
        ).encode()
        try:
            with urllib.request.urlopen(
                urllib.request.Request(f"{base}/website/form/crm.lead", data=data), timeout=120
            ) as resp:
                body = json.loads(resp.read().decode())
            c.check("the website contact form creates a lead", bool(body.get("id")), str(body))
        except (urllib.error.URLError, ValueError) as exc:
            c.check("the website contact form creates a lead", False, str(exc))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner_main(*sys.argv[2:6])
        return 0
    from_rev = None
    if len(sys.argv) == 3 and sys.argv[1] == "--from":
        from_rev = sys.argv[2]
    elif len(sys.argv) > 1:
        raise cpa.SetupError("usage: upgrade_check.py [--from GIT_REVISION]")
    checker = Checker()
    cpa.ensure_chromium()
    run = None
    with cpa.test_lock():
        t_start = time.time()  # not counting the wait for the lock
        tmp = Path(tempfile.mkdtemp(prefix=f"{MODULE}-upgrade-"))
        os.chmod(tmp, 0o755)
        pg = cpa.Postgres(tmp / "pg" / "data", persistent=False)
        try:
            pg.start()
            run = Run(tmp, pg, checker, from_rev)
            version = f" as of {from_rev}" if from_rev else ""
            print(f"== 1. install {MODULE}{version} with demo data, create records")
            if run.odoo("install", "-i", MODULE) and run.inner("seed"):
                run.conf = run.conf_new  # from now on, this checkout's addon
                print(f"== 2. -u {MODULE} keeps them")
                run.odoo("update", "-u", MODULE) and run.inner("after_update")
                print("== 3. uninstall: nothing left behind, Odoo CRM still works")
                proc, log, base = run.serve()
                try:
                    run.http_checks(base, expect_addon=True)
                finally:
                    run.stop(proc, log)
                if run.inner("before_uninstall") and run.inner("uninstall"):
                    run.inner("after_uninstall")
                    proc, log, base = run.serve()
                    try:
                        run.http_checks(base, expect_addon=False)
                        run.inner("browser", base, str(run.logs / "upgrade-check-pipeline.png"))
                    finally:
                        run.stop(proc, log)
                print(f"== 4. reinstall {MODULE}")
                run.odoo("reinstall", "-i", MODULE) and run.inner("after_reinstall")
        finally:
            pg.stop()
            if pg.external:
                from odoo_suites import drop_databases

                drop_databases(cpa.venv_dir(), pg, [f"cpa_upgrade_{os.getpid()}"])
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"Timings: {', '.join(f'{k} {v:.0f}s' for k, v in run.timings.items())}; "
        f"total {time.time() - t_start:.0f}s"
    )
    print(f"{checker.count - len(checker.failed)} passed, {len(checker.failed)} failed")
    return 1 if checker.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except cpa.SetupError as exc:
        cpa.say(f"error: {exc}")
        sys.exit(2)
