"""End-to-end benchmark: a mass edit over XML-RPC on the server `make run` starts, until
every job it made is done.

Run it with `python3 tools/cpa.py script bench/bench_end_to_end.py [--leads 1000]
[--rounds 5] [--mode run|workers]`. It builds a throwaway PostgreSQL cluster and
database (module installed, no demo data) and starts Odoo the way `make run` does
(tools/cpa.py cmd_run: threaded server, Odoo's default cron threads and limits;
`--mode workers`: `--workers=2 --max-cron-threads=2` as bench/reliability.py). Over
XML-RPC it creates a pipeline whose stage B has an immediate "add tag" rule and an
immediate "schedule activity" rule, N leads in stage A, then per round one `write`
moving all N into B and, as soon as it returns, polls the database until all 2 x N jobs
are done. Between rounds the leads go back to A (no rules there).

Printed per round and as p50/p99 over the rounds: the write's own duration, the
wake-up (write returned -> first job done), the completion (write returned -> all jobs
done; target <= 7 s for 1,000 leads), jobs/s, and where the time went according to the
server log (dispatcher calls: start, jobs done, remaining). Not part of `make test`.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import cpa  # the project's set-up code: cluster, config, paths
from reliability import (  # the multi-worker server of the reliability harness
    Server,
    disable_network_crons,
    make_leads,
    make_pipeline,
    percentile,
    todo_type,
)

CRON_NAME = "CRM Automation: run due jobs"
LOG_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def log(msg):
    print(f"[bench_end_to_end] {msg}", flush=True)


class RunServer(Server):
    """Odoo started as `make run` starts it (tools/cpa.py cmd_run: only the port and the
    database in the configuration, so Odoo's defaults: threaded server, 2 cron threads,
    its time limits), or, ``mode="workers"``, as the reliability harness does."""

    def __init__(self, workdir, mode="run"):
        super().__init__(workdir)
        self.mode = mode
        self.dbname = "cpa_bench_e2e"

    def setup(self):
        super().setup()  # cluster, database, module (no demo data)
        if self.mode == "run":
            self.config = cpa.write_config(
                self.workdir / "odoo.conf",
                self.src,
                self.pg,
                {
                    "http_port": self.port,
                    "db_name": self.dbname,
                    "dbfilter": f"^{self.dbname}$",
                    # not cmd_run's: a throwaway filestore and a log to read
                    "data_dir": str(self.workdir / "filestore"),
                    "logfile": str(self.logfile),
                    "log_level": "info",
                },
            )


def start_server(mode, prefix):
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(workdir, 0o755)
    server = RunServer(workdir, mode)
    server.setup()
    server.start()
    return server


def stop_server(server, keep=False):
    server.stop()
    if keep:
        log(f"work folder kept: {server.workdir}")
    else:
        shutil.rmtree(server.workdir, ignore_errors=True)


def wait_idle(server, timeout=300):
    """Wait until no job is pending and due and no plan waits."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        (busy,) = server.sql(
            "SELECT (SELECT count(*) FROM crm_automation_job WHERE state = 'pending'"
            " AND run_at <= now() AT TIME ZONE 'UTC')"
            " + (SELECT count(*) FROM crm_automation_job_plan)"
        )[0]
        if not busy:
            return True
        time.sleep(0.5)
    return False


def dispatcher_calls(server, since_line):
    """[(seconds since epoch, message)] of the dispatcher cron in the log after
    ``since_line``."""
    lines = server.logfile.read_text(errors="replace").splitlines()[since_line:]
    calls = []
    for line in lines:
        if CRON_NAME not in line:
            continue
        match = LOG_TIME_RE.match(line)
        if not match:
            continue
        moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        calls.append((moment, line.split(f"'{CRON_NAME}'", 1)[-1].strip()))
    return calls


def round_once(server, rpc, lead_ids, rule_ids, target, back):
    expected = len(lead_ids) * len(rule_ids)
    (before,) = server.sql(
        "SELECT count(*) FROM crm_automation_job WHERE rule_id = ANY(%s) AND state = 'done'",
        (rule_ids,),
    )[0]
    since_line = server.log_lines()
    started = time.time()
    rpc("crm.lead", "write", lead_ids, {"stage_id": target})
    returned = time.time()
    first_done = all_done = None
    deadline = returned + 600
    while time.time() < deadline:
        (done, pending) = server.sql(
            "SELECT count(*) FILTER (WHERE state = 'done'),"
            " count(*) FILTER (WHERE state = 'pending')"
            " FROM crm_automation_job WHERE rule_id = ANY(%s)",
            (rule_ids,),
        )[0]
        (planned,) = server.sql("SELECT count(*) FROM crm_automation_job_plan")[0]
        now = time.time()
        if done > before and first_done is None:
            first_done = now
        if done - before >= expected or (not pending and not planned and done > before):
            all_done = now
            break
        time.sleep(0.05)
    calls = dispatcher_calls(server, since_line)
    figures = {
        "write": returned - started,
        "wake": (first_done or deadline) - returned,
        "done": (all_done or deadline) - returned,
        "jobs": expected,
        "finished": all_done is not None,
        "calls": [(moment - returned, message) for moment, message in calls],
    }
    figures["jobs_per_s"] = expected / figures["done"] if figures["done"] else 0.0
    # Back to A for the next round (no rules there), then let the queue settle.
    rpc("crm.lead", "write", lead_ids, {"stage_id": back})
    wait_idle(server)
    return figures


def setup_pipeline(rpc, count):
    disable_network_crons(rpc)
    team, stages = make_pipeline(rpc, "E2E", ["A", "B"])
    tag = rpc("crm.tag", "create", [{"name": "E2E moved"}])[0]
    rule_ids = rpc(
        "crm.automation.rule",
        "create",
        [
            {
                "name": "E2E tag",
                "stage_id": stages["B"],
                "action_type": "tags",
                "timing": "immediate",
                "tag_add_ids": [(6, 0, [tag])],
            },
            {
                "name": "E2E activity",
                "stage_id": stages["B"],
                "action_type": "activity",
                "timing": "immediate",
                "activity_type_id": todo_type(rpc),
                "activity_summary": "E2E follow up",
            },
        ],
    )
    lead_ids = make_leads(rpc, team, stages["A"], count, "E2E")
    return lead_ids, rule_ids, stages


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mode", choices=("run", "workers"), default="run")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    server = start_server(args.mode, "cpa-e2e-")
    try:
        rpc = server.rpc()
        lead_ids, rule_ids, stages = setup_pipeline(rpc, args.leads)
        # Odoo's own crons of a new database run in the first minutes: let them pass.
        wait_idle(server)
        results = []
        for index in range(args.rounds):
            figures = round_once(server, rpc, lead_ids, rule_ids, stages["B"], stages["A"])
            results.append(figures)
            log(
                f"round {index + 1}: write {figures['write']:.2f}s, first job done "
                f"+{figures['wake']:.2f}s, all {figures['jobs']} jobs done "
                f"+{figures['done']:.2f}s ({figures['jobs_per_s']:.0f} jobs/s)"
                + ("" if figures["finished"] else " NOT FINISHED")
            )
            for offset, message in figures["calls"]:
                log(f"    {offset:+7.2f}s dispatcher {message}")
        print()
        print(
            f"End to end ({args.mode} server), {args.leads} leads x {len(rule_ids)} immediate"
            f" rules, {args.rounds} rounds:"
        )
        for key, label in (
            ("write", "write returns after"),
            ("wake", "first job done (after the write)"),
            ("done", "all jobs done (after the write)"),
            ("jobs_per_s", "jobs/s"),
        ):
            values = [figures[key] for figures in results]
            p50, p99 = percentile(values, 50), percentile(values, 99)
            print(f"  {label:34s} p50 {p50:7.2f}  p99 {p99:7.2f}")
        unfinished = [i + 1 for i, figures in enumerate(results) if not figures["finished"]]
        if unfinished:
            print(f"  rounds not finished within 600 s: {unfinished}")
            return 1
        return 0
    finally:
        stop_server(server, args.keep)


if __name__ == "__main__":
    sys.exit(main())
