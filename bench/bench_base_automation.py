"""Side by side: Odoo's base_automation time-based automation vs this addon's delayed
rule, doing the same work ("1 day after entering the stage -> schedule an activity") on
N leads (default 10,000), in one run.

Run it with `python3 tools/cpa.py script bench/bench_base_automation.py [--leads 10000]`
(it takes the test lock). It uses a kept database `cpa_bench_ba_<checkout>` in the
development cluster with this addon and base_automation installed (no demo data), and
runs each side in its own process (fresh caches):

- base_automation: a time-based automation on crm.lead (trigger "Based on date field",
  Last Stage Update + 1 day, applied to the leads of the target stage) whose action
  schedules a To-Do; N leads created in the target stage with their stage update moved
  back by a day and a minute; measured: Odoo's cron method ``base.automation._check``;
- this addon: a rule "1 day after entering the stage -> To-Do activity" on the target
  stage; N leads moved there by one mass edit (measured apart: the write, then the
  dispatcher creating the job rows of the plan), their jobs made due by moving run_at
  back; measured: the dispatcher (``_dispatch_due_jobs``).

Printed: seconds, SQL queries per lead and activities created, for both. Figures only
(no target). Bench records are deleted at the end of each side.
"""

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
import cpa  # noqa: E402  the project's set-up code: cluster, config, paths
from bench_engine import (  # noqa: E402
    PREFIX,
    cleanup,
    make_leads,
    make_pipeline,
    odoo_env,
    run_child,
)
from bench_engine import prepare_database as bench_prepare_database  # noqa: E402

SUMMARY = PREFIX + "follow up"


def log(msg):
    print(f"[bench_base_automation] {msg}", file=sys.stderr, flush=True)


def prepare_database():
    """The bench database ``cpa_bench_ba_<checkout>``, with base_automation (bench_engine's
    has none)."""
    pg, _src, _venv, config, dbname = bench_prepare_database(("base_automation",), "cpa_bench_ba")
    return pg, config, dbname


def bench_cleanup(env):
    env.cr.execute(
        "DELETE FROM mail_activity WHERE res_model = 'crm.lead' AND summary = %s", [SUMMARY]
    )
    # (its server action goes with it: ON DELETE CASCADE)
    env.cr.execute("DELETE FROM base_automation WHERE name->>'en_US' LIKE %s", [PREFIX + "%"])
    env.cr.commit()
    cleanup(env)


def leads_in(env, team, stage, count):
    leads = make_leads(env, team, stage, count)
    # Both sides assign the activity to the lead's salesperson.
    env.cr.execute(
        "UPDATE crm_lead SET user_id = %s WHERE id = ANY(%s)",
        [env.ref("base.user_admin").id, leads.ids],
    )
    env.cr.commit()
    env.invalidate_all()
    return leads


def activities(env, leads):
    env.cr.execute(
        "SELECT count(*) FROM mail_activity WHERE res_model = 'crm.lead' AND res_id = ANY(%s)"
        " AND summary = %s",
        [leads.ids, SUMMARY],
    )
    return env.cr.fetchone()[0]


def measured(env, function):
    """(seconds, queries) of ``function()``."""
    queries = env.cr.sql_log_count
    started = time.perf_counter()
    function()
    seconds = time.perf_counter() - started
    env.cr.commit()
    return seconds, env.cr.sql_log_count - queries


def side_base_automation(env, count):
    bench_cleanup(env)
    team, _start, target, _rules = make_pipeline(env, rules=0)
    todo = env.ref("mail.mail_activity_data_todo")
    model = env["ir.model"]._get("crm.lead")
    automation = env["base.automation"].create(
        {
            "name": PREFIX + "1 day after entering the stage",
            "model_id": model.id,
            "trigger": "on_time",
            "trg_date_id": env["ir.model.fields"]._get("crm.lead", "date_last_stage_update").id,
            "trg_date_range": 1,
            "trg_date_range_type": "day",
            "filter_domain": repr([("stage_id", "=", target.id)]),
        }
    )
    env["ir.actions.server"].create(
        {
            "name": PREFIX + "schedule a to-do",
            "model_id": model.id,
            "base_automation_id": automation.id,
            "state": "next_activity",
            "activity_type_id": todo.id,
            "activity_summary": SUMMARY,
            "activity_user_type": "generic",
            "activity_user_field_name": "user_id",
        }
    )
    env.cr.commit()
    try:
        leads = leads_in(env, team, target, count)
        env.cr.execute(
            "UPDATE crm_lead SET date_last_stage_update = now() at time zone 'UTC'"
            " - interval '1 day 1 minute' WHERE id = ANY(%s)",
            [leads.ids],
        )
        env.cr.commit()
        env.invalidate_all()
        log(f"base_automation: time-based automation on {count} due leads ...")
        seconds, queries = measured(env, lambda: env["base.automation"]._check(automatic=True))
        return {
            "run_seconds": round(seconds, 2),
            "run_queries_per_lead": round(queries / count, 2),
            "activities": activities(env, leads),
        }
    finally:
        bench_cleanup(env)


def side_addon(env, count):
    bench_cleanup(env)
    team, start, target, _rules = make_pipeline(env, rules=0)
    env["crm.automation.rule"].create(
        {
            "name": PREFIX + "1 day after entering the stage",
            "stage_id": target.id,
            "timing": "delay",
            "delay_count": 1,
            "delay_unit": "days",
            "action_type": "activity",
            "activity_type_id": env.ref("mail.mail_activity_data_todo").id,
            "activity_summary": SUMMARY,
        }
    )
    env.cr.commit()
    try:
        leads = leads_in(env, team, start, count)
        log(f"addon: mass edit of {count} leads into the stage ...")
        write_s, write_q = measured(env, lambda: leads.write({"stage_id": target.id}))
        env.invalidate_all()
        Plan = env["crm.automation.job.plan"]
        expand_s, expand_q = measured(env, lambda: Plan._expand_waiting(commit=True))
        env.cr.execute(
            "UPDATE crm_automation_job SET run_at = now() at time zone 'UTC' - interval '1 minute'"
            " WHERE state = 'pending' AND lead_id = ANY(%s)",
            [leads.ids],
        )
        env.cr.commit()
        env.invalidate_all()
        log(f"addon: dispatching {count} due jobs ...")
        Job = env["crm.automation.job"]
        run_s, run_q = measured(env, lambda: Job._dispatch_due_jobs(time_budget=10**6))
        return {
            "write_seconds": round(write_s, 2),
            "write_queries_per_lead": round(write_q / count, 2),
            "expand_seconds": round(expand_s, 2),
            "expand_queries_per_lead": round(expand_q / count, 3),
            "run_seconds": round(run_s, 2),
            "run_queries_per_lead": round(run_q / count, 2),
            "activities": activities(env, leads),
        }
    finally:
        bench_cleanup(env)


def run_side(args):
    env = odoo_env(cpa.odoo_src(), args.config, args.db)
    try:
        side = side_base_automation if args.side == "base_automation" else side_addon
        result = side(env, args.count)
    finally:
        env.cr.close()
    print(json.dumps(result))


def child(config, dbname, side, count):
    return run_child(
        __file__,
        "bench_base_automation",
        *("--side", side, "--count", count, "--config", config, "--db", dbname),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10000)
    parser.add_argument("--side", choices=("base_automation", "addon"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return run_side(args)
    pg, config, dbname = prepare_database()
    try:
        results = {
            side: child(config, dbname, side, args.leads) for side in ("base_automation", "addon")
        }
    finally:
        pg.stop()
    base, ours = results["base_automation"], results["addon"]
    print(f"\n1 day after entering the stage -> schedule an activity, {args.leads} due leads")
    print(f"{'':34} {'seconds':>8} {'queries/lead':>13} {'activities':>11}")
    print(
        f"{'base_automation (_check)':34} {base['run_seconds']:>8.2f}"
        f" {base['run_queries_per_lead']:>13.2f} {base['activities']:>11}"
    )
    print(
        f"{'this addon (dispatcher)':34} {ours['run_seconds']:>8.2f}"
        f" {ours['run_queries_per_lead']:>13.2f} {ours['activities']:>11}"
    )
    print(
        f"  (at entry, not in base_automation: mass edit {ours['write_seconds']:.2f} s,"
        f" {ours['write_queries_per_lead']:.2f} queries/lead; plan -> job rows"
        f" {ours['expand_seconds']:.2f} s)"
    )
    ratio = base["run_seconds"] / ours["run_seconds"] if ours["run_seconds"] else 0
    print(f"base_automation / addon time: {ratio:.1f}x")
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    out = results_dir / f"base-automation-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
