"""Reliability harness: a real Odoo with 2 HTTP workers and 2 cron workers, under load
and faults, checked for lost or doubled work.

Run it with `make reliability ARGS='--part all'` (or `python3 tools/cpa.py script
bench/reliability.py [--part load|crash|order|fuzz|all] [--duration SECONDS] [--leads N]
[--http-clients N] [--rpc-clients N] [--cases N]`). It builds a throwaway PostgreSQL
cluster and database, starts `odoo-bin --workers=2 --max-cron-threads=2`, and:

- load: for a fixed time, concurrent HTTP clients hit the open pixel, click, beacon and
  call webhook routes for the leads (with deliberate duplicate deliveries) while XML-RPC
  clients move the leads between stages and the cron workers dispatch immediate and
  delayed jobs; afterwards every accepted event is stored exactly once, every due job
  ran exactly once (side effects counted), none is stuck in "running", no HTTP 500;
- crash: thousands of due jobs with side effects (activity, copy to another pipeline,
  email); `kill -9` of the cron worker in the middle of a dispatch batch; after the
  restart every job is done and no side effect happened twice; then thousands of queued
  pixel requests and `kill -9` of the cron worker in the middle of a batch of the
  tracking ingest processor: every accepted open is stored exactly once;
- order: webhook events out of order (the later stage's first) and late (old timestamp
  inside the replay window), each delivered by several threads at once, and concurrent
  calls from unknown numbers: no lead moves backwards, one event per call, one move, one
  lead per unknown caller;
- fuzz: hypothesis over every public route (bench/reliability_fuzz.py), at least
  `--cases` cases each: no 5xx, no traceback, no lead data, no foreign redirect.

It prints the figures, a summary table, and exits non-zero when an invariant is
broken. Not part of `make test` (it needs minutes and a multi-process server).
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import xmlrpc.client
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import cpa  # the project's own set-up code: cluster, config, paths
import reliability_http as http_parts

ADMIN = ("admin", "admin")
LOG_RECORD_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
# What Odoo retries by itself (odoo.service.model.PG_CONCURRENCY_EXCEPTIONS_TO_RETRY,
# the dispatcher and the held events cron): not a failure unless a client saw one.
RETRIED_CONFLICTS = (
    "could not serialize access",
    "deadlock detected",
    "could not obtain lock",
    "current transaction is aborted",
    "concurrent update",
)


def log(msg):
    print(f"[reliability] {msg}", flush=True)


class Server:
    """A throwaway cluster + database + multi-worker Odoo."""

    def __init__(self, workdir, workers=2):
        self.workdir = workdir
        self.workers = workers
        self.src = cpa.odoo_src()
        self.venv = cpa.venv_dir()
        self.pg = cpa.Postgres(workdir / "pg" / "data", persistent=False)
        self.dbname = "cpa_reliability"
        self.port = cpa.free_port()
        self.proc = None
        self.logfile = workdir / "odoo.log"
        self.config = None

    def setup(self):
        self.pg.start()
        self.config = cpa.write_config(
            self.workdir / "odoo.conf",
            self.src,
            self.pg,
            {
                "http_port": self.port,
                "db_name": self.dbname,
                "dbfilter": f"^{self.dbname}$",
                "workers": self.workers,
                "max_cron_threads": 2,
                "limit_time_real": 300,
                "limit_time_cpu": 240,
                "data_dir": str(self.workdir / "filestore"),
                "logfile": str(self.logfile),
                "log_level": "info",
            },
        )
        log("creating the database (module installed, no demo data) ...")
        subprocess.run(
            cpa.odoo_cmd(
                self.venv,
                self.src,
                self.config,
                "-d",
                self.dbname,
                "-i",
                cpa.MODULE,
                "--without-demo=all",
                "--stop-after-init",
                "--workers=0",
                "--max-cron-threads=0",
            ),
            check=True,
        )

    def start(self):
        self.proc = subprocess.Popen(
            cpa.odoo_cmd(self.venv, self.src, self.config, "-d", self.dbname),
            start_new_session=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/web/login", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(1)
        raise RuntimeError("Odoo did not start")

    def is_worker(self, pid):
        """Whether ``pid`` is a worker process forked by our Odoo master (never kill
        anything else, nor the master itself)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        return bool(self.proc) and pid != self.proc.pid and ppid == self.proc.pid

    def alive(self):
        try:
            with urllib.request.urlopen(f"{self.url}/web/health", timeout=10) as resp:
                return resp.status == 200
        except OSError:
            return False

    def log_tail(self, count):
        if not self.logfile.exists():
            return []
        lines = self.logfile.read_text(errors="replace").splitlines()
        return [line[:200] for line in lines[-count:]]

    def restart(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.pg.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # -- clients
    def rpc(self):
        return Rpc(self.url, self.dbname)

    def sql(self, query, params=None):
        kw = {
            "host": self.pg.host,
            "port": self.pg.port,
            "user": self.pg.user,
            "dbname": self.dbname,
        }
        with psycopg2.connect(**kw) as cn, cn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None

    def log_lines(self):
        """Number of lines of the server log so far (start of a part)."""
        if not self.logfile.exists():
            return 0
        return len(self.logfile.read_text(errors="replace").splitlines())

    def log_errors(self, since=0):
        """(errors, retried conflicts, HTTP 500 lines) of the server log after line
        ``since``.

        A "could not serialize access" (or a deadlock, or a lock timeout) is
        PostgreSQL refusing one of two concurrent updates of a row; Odoo retries the
        whole request or cron batch and logs the failed attempt at ERROR level (a
        "bad query" record, the query spread over several lines): counted apart, the
        clients' errors say whether a request finally failed.
        """
        text = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
        lines = text.splitlines()[since:]
        # One record = a line starting with a timestamp and its continuation lines.
        records, current = [], None
        for line in lines:
            if LOG_RECORD_RE.match(line):
                current = [line]
                records.append(current)
            elif current is not None:
                current.append(line)
        errors, conflicts = [], 0
        for index, record in enumerate(records):
            head = record[0]
            if " ERROR " not in head and " CRITICAL " not in head:
                continue
            following = records[index + 1][0] if index + 1 < len(records) else ""
            body = "\n".join(record + [following])
            if any(marker in body for marker in RETRIED_CONFLICTS):
                conflicts += 1
            else:
                errors.append(" | ".join(record)[:600])
        http_500 = [line for line in lines if '" 500 ' in line]
        return errors, conflicts, http_500


class Rpc:
    def __init__(self, url, dbname):
        self.dbname = dbname
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
        self.uid = common.authenticate(dbname, *ADMIN, {})
        self.models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def __call__(self, model, method, *args, **kwargs):
        return self.models.execute_kw(
            self.dbname, self.uid, ADMIN[1], model, method, list(args), kwargs
        )


# --------------------------------------------------------------------------- fixtures


def make_pipeline(rpc, name, stage_names):
    team = rpc("crm.team", "create", [{"name": name, "use_leads": False}])[0]
    stages = rpc(
        "crm.stage",
        "create",
        [
            {"name": f"{name} {s}", "sequence": i + 1, "team_id": team}
            for i, s in enumerate(stage_names)
        ],
    )
    return team, dict(zip(stage_names, stages, strict=True))


def make_leads(rpc, team, stage, count, prefix, phone_prefix=None):
    """``count`` opportunities; with ``phone_prefix``, lead i has the number
    http_parts.phone(phone_prefix, i) (webhook calls find it)."""
    ids = []
    for start in range(0, count, 500):
        ids += rpc(
            "crm.lead",
            "create",
            [
                {
                    "name": f"{prefix} {i}",
                    "type": "opportunity",
                    "team_id": team,
                    "stage_id": stage,
                    "user_id": rpc.uid,
                    "email_from": f"{prefix.lower()}{i}@example.com",
                    "phone": http_parts.phone(phone_prefix, i)
                    if phone_prefix is not None
                    else False,
                }
                for i in range(start, min(start + 500, count))
            ],
        )
    return ids


def todo_type(rpc):
    return rpc("mail.activity.type", "search", [("category", "=", "default")], limit=1)[0]


def wait_jobs_settled(server, timeout):
    """Wait until no job is due and pending or running; return the seconds waited."""
    start = time.time()
    while time.time() - start < timeout:
        (busy,) = server.sql(
            "SELECT count(*) FROM crm_automation_job WHERE state = 'running' "
            "OR (state = 'pending' AND run_at <= now() AT TIME ZONE 'UTC')"
        )[0]
        if not busy:
            return time.time() - start
        time.sleep(2)
    return None


def percentile(values, pct):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- parts


def disable_network_crons(rpc):
    """Odoo's IAP crons need the internet, which this machine has not: not our errors."""
    crons = rpc("ir.cron", "search", [("cron_name", "ilike", "IAP")])
    if crons:
        rpc("ir.cron", "write", crons, {"active": False})


def make_load_pipeline(rpc, call_trigger=True):
    """The load part's pipeline A/B/C: an immediate tag rule and a 1-minute delayed
    activity rule on B, an immediate activity rule on C, "link clicked -> B" and (with
    ``call_trigger``) "incoming call -> C"; returns (team, {stage name: id})."""
    team, stages = make_pipeline(rpc, "Load", ["A", "B", "C"])
    tag = rpc("crm.tag", "create", [{"name": "touched B"}])[0]
    activity_type = todo_type(rpc)
    rpc(
        "crm.automation.rule",
        "create",
        [
            {
                "name": "tag on B",
                "stage_id": stages["B"],
                "action_type": "tags",
                "timing": "immediate",
                "tag_add_ids": [(6, 0, [tag])],
            },
            {
                "name": "follow up B",
                "stage_id": stages["B"],
                "action_type": "activity",
                "timing": "delay",
                "delay_count": 1,
                "delay_unit": "minutes",
                "activity_type_id": activity_type,
                "activity_summary": "LOAD follow up B",
            },
            {
                "name": "enter C",
                "stage_id": stages["C"],
                "action_type": "activity",
                "timing": "immediate",
                "activity_type_id": activity_type,
                "activity_summary": "LOAD enter C",
            },
        ],
    )
    # Engagement moves leads too, concurrently with the XML-RPC moves (forward only).
    triggers = [{"name": "load click", "stage_id": stages["B"], "event_type": "link_click"}]
    if call_trigger:
        triggers.append(
            {"name": "load call", "stage_id": stages["C"], "event_type": "call_incoming"}
        )
    rpc("crm.stage.trigger", "create", triggers)
    return team, stages


def part_load(server, duration, nb_leads, clients=2, http_clients=6):
    rpc = server.rpc()
    disable_network_crons(rpc)
    log_start = server.log_lines()
    team, stages = make_load_pipeline(rpc)
    link_ids = http_parts.setup_public_routes(rpc)
    lead_ids = make_leads(rpc, team, stages["A"], nb_leads, "Load", phone_prefix=0)
    phones = {lead: http_parts.phone(0, i) for i, lead in enumerate(lead_ids)}
    tracking = http_parts.TrackingLoad(server, lead_ids, phones, link_ids, clients=http_clients)
    log(
        f"load: {http_clients} HTTP clients (pixel, click, beacon, webhook) and {clients} "
        f"XML-RPC clients moving leads, on {nb_leads} leads for {duration}s ..."
    )
    latencies, errors, moves = [], [], [0]
    lock = threading.Lock()
    stop_at = time.time() + duration

    def client(seed):
        rnd = random.Random(seed)
        own = Rpc(server.url, server.dbname)
        while time.time() < stop_at:
            batch = rnd.sample(lead_ids, rnd.choice((1, 1, 1, 5, 25)))
            stage = stages[rnd.choice("ABC")]
            t0 = time.perf_counter()
            try:
                own("crm.lead", "write", batch, {"stage_id": stage})
            except (xmlrpc.client.Fault, OSError) as exc:
                with lock:
                    errors.append(str(exc)[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)
                moves[0] += len(batch)

    started = time.time()
    tracking.start(stop_at)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tracking.join()
    elapsed = time.time() - started
    log("load: waiting for the held clicks to pass their burst window ...")
    tracking.wait_held(timeout=180)
    log("load: waiting for the due jobs to be dispatched (delayed ones need a minute) ...")
    time.sleep(65)
    waited = wait_jobs_settled(server, 300)

    rows = dict(server.sql("SELECT state, count(*) FROM crm_automation_job GROUP BY state"))
    (running,) = server.sql("SELECT count(*) FROM crm_automation_job WHERE state='running'")[0]
    (dupes,) = server.sql(
        "SELECT count(*) FROM (SELECT rule_id, lead_id, visit FROM crm_automation_job "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
    )[0]
    side = {}
    for summary in ("LOAD follow up B", "LOAD enter C"):
        (jobs_done,) = server.sql(
            "SELECT count(*) FROM crm_automation_job j JOIN crm_automation_rule r "
            "ON r.id = j.rule_id WHERE j.state = 'done' AND r.activity_summary = %s",
            (summary,),
        )[0]
        (activities,) = server.sql(
            "SELECT count(*) FROM mail_activity WHERE summary = %s AND res_model = 'crm.lead'",
            (summary,),
        )[0]
        side[summary] = (jobs_done, activities)
    (jobs_window,) = server.sql(
        "SELECT extract(epoch FROM max(done_at) - min(done_at)) FROM crm_automation_job "
        "WHERE state = 'done'"
    )[0]
    srv_errors, conflicts, http_500 = server.log_errors(log_start)
    done = rows.get("done", 0)
    tracking_figures, tracking_problems = tracking.check()
    figures = {
        "duration_s": round(elapsed, 1),
        "moves": moves[0],
        "write_calls": len(latencies),
        "moves_per_s": round(moves[0] / elapsed, 1),
        "write_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "write_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "client_errors": len(errors),
        "jobs": rows,
        "jobs_per_s": round(done / float(jobs_window), 1) if jobs_window else None,
        "settled_after_s": None if waited is None else round(waited, 1),
        "server_errors": len(srv_errors),
        "retried_conflicts": conflicts,
        "http_500": len(http_500),
        "routes": tracking_figures,
    }
    log("load: " + json.dumps(figures, default=float))
    problems = list(tracking_problems)
    if errors:
        problems.append(f"{len(errors)} client errors, e.g. {errors[0]}")
    if running:
        problems.append(f"{running} jobs stuck in running")
    if dupes:
        problems.append(f"{dupes} (rule, lead, visit) with more than one job")
    if waited is None:
        problems.append("due jobs still pending after 5 minutes")
    for summary, (jobs_done, activities) in side.items():
        if jobs_done != activities:
            problems.append(f"'{summary}': {jobs_done} jobs done but {activities} activities")
    if srv_errors or http_500:
        problems.append(f"server log: {len(srv_errors)} errors, {len(http_500)} HTTP 500")
        for line in (srv_errors + http_500)[:5]:
            log("  " + line[:300])
    return figures, problems


def find_dispatching_worker(server, table="crm_automation_job"):
    """PIDs of the cron worker processes busy while rows of ``table`` (jobs, or the
    tracking ingest queue) are claimed right now.

    The application name of a connection is "odoo-<pid>" of the process that opened
    the database, and the registry is opened by the master before it forks
    (preload): the cursor holding the claimed job rows is named after the master, so
    killing that PID killed the whole server. Each cron worker also opens its own
    connection (named after itself) to lock the ir.cron row it runs: those are the
    busy cron workers, one of them in the middle of the dispatch batch.
    """
    (claimed,) = server.sql(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = %s AND l.mode = 'RowShareLock'",
        (table,),
    )[0]
    if not claimed:
        return []
    rows = server.sql(
        "SELECT DISTINCT a.application_name FROM pg_locks l "
        "JOIN pg_class c ON c.oid = l.relation JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE c.relname = 'ir_cron' AND l.mode = 'RowShareLock' "
        "AND a.application_name LIKE 'odoo-%%'"
    )
    pids = [int(name.split("-", 1)[1]) for (name,) in rows]
    return [pid for pid in pids if server.is_worker(pid)]


def part_crash(server, nb_leads):
    rpc = server.rpc()
    disable_network_crons(rpc)
    team, stages = make_pipeline(rpc, "Crash", ["Start", "Rules", "Copies"])
    model_id = rpc("ir.model", "search", [("model", "=", "crm.lead")])[0]
    template = rpc(
        "mail.template",
        "create",
        [
            {
                "name": "Crash mail",
                "model_id": model_id,
                "subject": "CRASH mail {{ object.name }}",
                "body_html": "<p>Hello</p>",
                "email_to": "{{ object.email_from }}",
            }
        ],
    )[0]
    rule_ids = rpc(
        "crm.automation.rule",
        "create",
        [
            {
                "name": "crash activity",
                "stage_id": stages["Rules"],
                "action_type": "activity",
                "timing": "immediate",
                "activity_type_id": todo_type(rpc),
                "activity_summary": "CRASH side effect",
            },
            {
                "name": "crash copy",
                "stage_id": stages["Rules"],
                "action_type": "copy_lead",
                "timing": "immediate",
                "target_team_id": team,
                "target_stage_id": stages["Copies"],
            },
            {
                "name": "crash email",
                "stage_id": stages["Rules"],
                "action_type": "email",
                "timing": "immediate",
                "mail_template_id": template,
            },
        ],
    )
    lead_ids = make_leads(rpc, team, stages["Start"], nb_leads, "Crash")
    total = 3 * nb_leads
    # The move is a mass edit: its jobs go through a plan that the cron workers expand
    # (crm.automation.job.plan), then run; the kill comes in the middle of a batch.
    rpc(
        "ir.config_parameter",
        "set_param",
        "crm_pipeline_automation.job_plan_threshold",
        str(total // 2),
    )
    log(f"crash: moving {nb_leads} leads into a stage with 3 rules ({total} jobs) ...")
    rpc("crm.lead", "write", lead_ids, {"stage_id": stages["Rules"]})
    log_start = server.log_lines()
    killed = []
    deadline = time.time() + 300
    while time.time() < deadline and not killed:
        (done,) = server.sql(
            "SELECT count(*) FROM crm_automation_job WHERE state='done' AND rule_id = ANY(%s)",
            (rule_ids,),
        )[0]
        if done >= total:
            break
        pids = find_dispatching_worker(server) if done >= 100 else []
        for pid in pids:
            log(f"crash: kill -9 worker {pid} in the middle of a batch ({done}/{total} done)")
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.05)
    if not killed:
        return {"killed": 0}, ["could not catch a worker in the middle of a batch"]
    time.sleep(2)
    if not server.alive():
        return {"killed": len(killed)}, ["the server died with the killed worker"]
    log("crash: waiting for the restarted cron workers to finish the jobs ...")
    waited = wait_jobs_settled(server, 600)
    states = dict(
        server.sql(
            "SELECT state, count(*) FROM crm_automation_job WHERE rule_id = ANY(%s) GROUP BY state",
            (rule_ids,),
        )
    )
    twice = {}
    twice["activities"] = server.sql(
        "SELECT count(*) FROM (SELECT res_id FROM mail_activity WHERE res_model='crm.lead' "
        "AND summary = 'CRASH side effect' GROUP BY res_id HAVING count(*) > 1) d"
    )[0][0]
    twice["copies"] = server.sql(
        "SELECT count(*) FROM (SELECT automation_origin_lead_id FROM crm_lead "
        "WHERE automation_origin_lead_id = ANY(%s) GROUP BY 1 HAVING count(*) > 1) d",
        (lead_ids,),
    )[0][0]
    twice["emails"] = server.sql(
        "SELECT count(*) FROM (SELECT res_id FROM mail_message WHERE model='crm.lead' "
        "AND subject LIKE 'CRASH mail %%' GROUP BY res_id HAVING count(*) > 1) d"
    )[0][0]
    once = {
        "activities": server.sql(
            "SELECT count(DISTINCT res_id) FROM mail_activity WHERE res_model='crm.lead' "
            "AND summary = 'CRASH side effect'"
        )[0][0],
        "copies": server.sql(
            "SELECT count(DISTINCT automation_origin_lead_id) FROM crm_lead "
            "WHERE automation_origin_lead_id = ANY(%s)",
            (lead_ids,),
        )[0][0],
        "emails": server.sql(
            "SELECT count(DISTINCT res_id) FROM mail_message WHERE model='crm.lead' "
            "AND subject LIKE 'CRASH mail %%'"
        )[0][0],
    }
    expanded = [
        line
        for line in server.logfile.read_text(errors="replace").splitlines()[log_start:]
        if "jobs of a mass edit" in line
    ]
    figures = {
        "jobs": total,
        "plans_expanded": len(expanded),
        "killed_workers": len(killed),
        "states": states,
        "leads_with_side_effect": once,
        "leads_with_side_effect_twice": twice,
        "settled_after_s": None if waited is None else round(waited, 1),
    }
    log("crash: the tracking ingest processor killed in the middle of a batch ...")
    figures["ingest"], problems = http_parts.crash_ingest(
        server, rpc, lead_ids, lambda: find_dispatching_worker(server, "crm_lead_event_ingest")
    )
    log("crash: " + json.dumps(figures, default=float))
    if not expanded:
        problems.append("the mass edit did not go through a plan of jobs")
    if states.get("done", 0) != total:
        problems.append(f"{states} instead of {total} done")
    for kind, count in once.items():
        if count != nb_leads:
            problems.append(f"{kind}: {count} leads instead of {nb_leads}")
    for kind, count in twice.items():
        if count:
            problems.append(f"{kind}: {count} leads got it twice")
    return figures, problems


def part_order(server, senders):
    rpc = server.rpc()
    disable_network_crons(rpc)
    log_start = server.log_lines()
    log(f"order: late and out-of-order calls, each delivered by {senders} threads at once ...")
    figures, problems = http_parts.part_order(
        server, rpc, make_pipeline, make_leads, senders=senders
    )
    log("order: " + json.dumps(figures, default=float))
    return figures, problems + server_log_problems(server, log_start)


def part_fuzz(server, cases, targets=None):
    import reliability_fuzz  # hypothesis is only needed by this part

    targets = targets or reliability_fuzz.TARGETS

    rpc = server.rpc()
    disable_network_crons(rpc)
    log_start = server.log_lines()
    log(f"fuzz: {cases} hypothesis cases per public route over HTTP ...")
    figures, problems = reliability_fuzz.part_fuzz(
        server, rpc, make_pipeline, make_leads, cases=cases, targets=targets
    )
    log("fuzz: " + json.dumps(figures, default=float))
    return figures, problems + server_log_problems(server, log_start)


def server_log_problems(server, since):
    errors, _conflicts, http_500 = server.log_errors(since)
    if not errors and not http_500:
        return []
    for line in (errors + http_500)[:5]:
        log("  " + line[:300])
    return [f"server log: {len(errors)} errors, {len(http_500)} HTTP 500"]


ALL_PARTS = ("load", "crash", "order", "fuzz")
SUMMARY = {
    "load": lambda f: (
        f"{f['routes']['events_per_s']} events/s stored ({f['routes']['accepted_per_s']} "
        f"requests/s accepted); "
        + ", ".join(
            f"{route} p50/p99 {v['p50_ms']}/{v['p99_ms']} ms"
            for route, v in f["routes"]["latency"].items()
        )
        + f"; {f['moves_per_s']} moves/s (p50/p99 {f['write_p50_ms']}/{f['write_p99_ms']} ms);"
        f" {f['jobs_per_s']} jobs/s; errors {f['routes']['http_errors'] + f['client_errors']},"
        f" HTTP 500 {f['http_500'] + f['routes']['http_500']}"
    ),
    "crash": lambda f: (
        f"{f['jobs']} jobs, {f['killed_workers']} worker(s) killed; side effects twice: "
        f"{sum(f['leads_with_side_effect_twice'].values())}; settled in {f['settled_after_s']} s"
        f"; ingest: {f['ingest'].get('accepted')} opens, {f['ingest'].get('killed_workers')} "
        f"processor(s) killed, missing {f['ingest'].get('missing')}, twice "
        f"{f['ingest'].get('twice')}"
    ),
    "order": lambda f: (
        f"{f['deliveries']} deliveries ({f['deliveries_per_s']}/s); {f['moves']} moves for "
        f"{f['leads']} leads; {f['late_events_blocked']} late events blocked; "
        f"{f['leads_for_unknown_callers']} leads for {f['unknown_callers']} unknown callers"
    ),
    "fuzz": lambda f: (
        ", ".join(f"{route} {n}" for route, n in f["cases"].items())
        + f" cases; {f['requests_per_s']} requests/s"
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--part",
        default="all",
        help="load, crash, order, fuzz, a comma-separated list of them, or all (default)",
    )
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--http-clients", type=int, default=6, help="load: route clients")
    parser.add_argument("--rpc-clients", type=int, default=2, help="load: XML-RPC movers")
    parser.add_argument("--senders", type=int, default=4, help="order: threads per delivery")
    parser.add_argument("--cases", type=int, default=1000, help="fuzz: cases per route")
    parser.add_argument(
        "--fuzz-targets",
        help="fuzz: comma-separated among pixel_click, beacon, webhook, website_form, paths"
        " (default all)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    parts = ALL_PARTS if args.part == "all" else tuple(args.part.split(","))
    if not parts or set(parts) - set(ALL_PARTS):
        parser.error(f"--part: choose among {', '.join(ALL_PARTS)} or all")
    workdir = Path(tempfile.mkdtemp(prefix="cpa-reliability-"))
    os.chmod(workdir, 0o755)
    server = Server(workdir)
    results = {}
    try:
        server.setup()
        server.start()
        runners = {
            "load": lambda: part_load(
                server, args.duration, args.leads, args.rpc_clients, args.http_clients
            ),
            "crash": lambda: part_crash(server, max(args.leads, 1000)),
            "order": lambda: part_order(server, args.senders),
            "fuzz": lambda: part_fuzz(
                server,
                args.cases,
                tuple(args.fuzz_targets.split(",")) if args.fuzz_targets else None,
            ),
        }
        for part in parts:
            started = time.time()
            if not server.alive():
                log(f"the server does not answer any more: restarting it for {part}")
                log("  last lines of its log: " + " | ".join(server.log_tail(5)))
                server.restart()
            try:
                figures, problems = runners[part]()
            except Exception as exc:  # a broken part must not hide the others
                log(f"{part}: aborted: {exc!r}")
                figures, problems = None, [f"aborted: {exc!r}"]
            results[part] = (figures, problems, time.time() - started)
            log(f"{part}: {'ok' if not problems else 'FAILED'} in {time.time() - started:.0f}s")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"work folder kept: {workdir}")
    log("summary:")
    log(f"  {'part':<6} {'result':<7} {'time':>6}  figures")
    for part, (figures, problems, seconds) in results.items():
        try:
            line = SUMMARY[part](figures) if figures else "-"
        except (KeyError, TypeError) as exc:
            line = f"(figures incomplete: {exc!r})"
        result = "ok" if not problems else "FAILED"
        log(f"  {part:<6} {result:<7} {seconds:>5.0f}s  {line}")
    failed = {part: p for part, (_f, p, _s) in results.items() if p}
    for part, items in failed.items():
        for item in items:
            log(f"FAIL {part}: {item}")
    log("all invariants held" if not failed else "invariants broken")
    return 1 if failed or len(results) < len(parts) else 0


if __name__ == "__main__":
    sys.exit(main())
