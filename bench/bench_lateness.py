"""Lateness benchmark: how long after its due time a delayed job runs, on a real server
with Odoo's default cron settings.

Run it with `python3 tools/cpa.py script bench/bench_lateness.py [--leads 300]
[--spread 120] [--mode workers|run]`. It builds a throwaway cluster and database and
starts Odoo like bench/bench_end_to_end.py (`--mode workers`, the default:
`--workers=2 --max-cron-threads=2` as bench/reliability.py; `--mode run`: as `make run`,
threaded with Odoo's default 2 cron threads). Stage B has three delayed rules: "1 minute
after entering" (activity), "2 minutes after entering" (tag) and "0 minutes after
Conversion Date" (activity; each lead's date is set 10 to 150 s after its entry). Over
``--spread`` seconds, an XML-RPC client moves the leads into B a few at a time at random
moments; then the bench waits until no job is pending and prints, per rule and over
all jobs, lateness = done_at - run_at (seconds, to the second as Odoo stores them):
p50 / p95 / p99 / max, and the number of dispatcher runs. Target: p95 <= 60 s.
Not part of `make test`.
"""

import argparse
import random
import sys
import time
from datetime import datetime, timedelta

from bench_end_to_end import start_server, stop_server
from reliability import disable_network_crons, make_leads, make_pipeline, percentile, todo_type

TARGET_P95 = 60


def log(msg):
    print(f"[bench_lateness] {msg}", flush=True)


def setup(rpc, count):
    disable_network_crons(rpc)
    team, stages = make_pipeline(rpc, "Late", ["A", "B"])
    tag = rpc("crm.tag", "create", [{"name": "Late 2 min"}])[0]
    activity_type = todo_type(rpc)
    date_field = rpc(
        "ir.model.fields",
        "search",
        [("model", "=", "crm.lead"), ("name", "=", "date_conversion")],
    )[0]
    rpc(
        "crm.automation.rule",
        "create",
        [
            {
                "name": "1 min after entry",
                "stage_id": stages["B"],
                "action_type": "activity",
                "timing": "delay",
                "delay_count": 1,
                "delay_unit": "minutes",
                "activity_type_id": activity_type,
                "activity_summary": "LATE 1 min",
            },
            {
                "name": "2 min after entry",
                "stage_id": stages["B"],
                "action_type": "tags",
                "timing": "delay",
                "delay_count": 2,
                "delay_unit": "minutes",
                "tag_add_ids": [(6, 0, [tag])],
            },
            {
                "name": "at Conversion Date",
                "stage_id": stages["B"],
                "action_type": "activity",
                "timing": "date_field",
                "date_field_id": date_field,
                "date_direction": "after",
                "delay_count": 0,
                "delay_unit": "minutes",
                "activity_type_id": activity_type,
                "activity_summary": "LATE at date",
            },
        ],
    )
    return make_leads(rpc, team, stages["A"], count, "Late"), stages


def move_spread(rpc, lead_ids, stage, spread, seed=7):
    """Move the leads into ``stage`` 1 to 5 at a time, at random moments over
    ``spread`` seconds, each with a Conversion Date 10 to 150 s after its move."""
    rnd = random.Random(seed)
    pending = list(lead_ids)
    rnd.shuffle(pending)
    batches = []
    while pending:
        size = min(len(pending), rnd.randint(1, 5))
        batches.append(pending[:size])
        pending = pending[size:]
    started = time.time()
    moments = sorted(rnd.uniform(0, spread) for _batch in batches)
    for batch, moment in zip(batches, moments, strict=True):
        delay = started + moment - time.time()
        if delay > 0:
            time.sleep(delay)
        for lead_id in batch:
            at = datetime.utcnow() + timedelta(seconds=rnd.uniform(10, 150))
            rpc(
                "crm.lead",
                "write",
                [lead_id],
                {"date_conversion": at.strftime("%Y-%m-%d %H:%M:%S")},
            )
        rpc("crm.lead", "write", batch, {"stage_id": stage})
    return time.time() - started


def wait_done(server, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        (pending,) = server.sql("SELECT count(*) FROM crm_automation_job WHERE state = 'pending'")[
            0
        ]
        if not pending:
            return True
        time.sleep(2)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--spread", type=int, default=120, help="seconds over which leads move")
    parser.add_argument("--mode", choices=("run", "workers"), default="workers")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    server = start_server(args.mode, "cpa-lateness-")
    try:
        rpc = server.rpc()
        lead_ids, stages = setup(rpc, args.leads)
        (cron_id,) = server.sql(
            "SELECT res_id FROM ir_model_data WHERE module = 'crm_pipeline_automation'"
            " AND name = 'ir_cron_crm_automation_run_jobs'"
        )[0]
        (runs_before,) = server.sql(
            "SELECT count(*) FROM ir_cron_progress WHERE cron_id = %s", (cron_id,)
        )[0]
        log(f"moving {len(lead_ids)} leads into B over {args.spread}s ({args.mode} server) ...")
        moved = move_spread(rpc, lead_ids, stages["B"], args.spread)
        log(f"moved in {moved:.0f}s; waiting for the delayed jobs (up to 2.5 min after) ...")
        finished = wait_done(server, 150 + 300)
        (runs,) = server.sql(
            "SELECT count(*) FROM ir_cron_progress WHERE cron_id = %s", (cron_id,)
        )[0]
        rows = server.sql(
            "SELECT r.name->>'en_US', EXTRACT(EPOCH FROM j.done_at - j.run_at)::float, j.state"
            " FROM crm_automation_job j JOIN crm_automation_rule r ON r.id = j.rule_id"
            " WHERE j.lead_id = ANY(%s)",
            (lead_ids,),
        )
        print()
        print(
            f"Lateness of delayed jobs ({args.mode} server, {len(lead_ids)} leads moved over"
            f" {args.spread}s, {runs - runs_before} dispatcher runs), done_at - run_at in s:"
        )
        by_rule = {}
        for name, lateness, state in rows:
            if state == "done":
                by_rule.setdefault(name, []).append(lateness)
                by_rule.setdefault("all jobs", []).append(lateness)
        for name, values in sorted(by_rule.items(), key=lambda item: item[0] == "all jobs"):
            print(
                f"  {name:20s} {len(values):5d} jobs  p50 {percentile(values, 50):5.1f}"
                f"  p95 {percentile(values, 95):5.1f}  p99 {percentile(values, 99):5.1f}"
                f"  max {max(values):5.1f}"
            )
        states = {}
        for _name, _lateness, state in rows:
            states[state] = states.get(state, 0) + 1
        print(f"  job states: {states}")
        p95 = percentile(by_rule.get("all jobs", []), 95)
        ok = finished and states.get("done", 0) == len(rows) and p95 <= TARGET_P95
        print(f"  p95 {p95:.1f}s (target <= {TARGET_P95}s): {'ok' if ok else 'NOT MET'}")
        return 0 if ok else 1
    finally:
        stop_server(server, args.keep)


if __name__ == "__main__":
    sys.exit(main())
