"""Benchmark of the automation engine: bulk stage moves and job dispatch.

Run it with `python3 tools/cpa.py script bench/bench_engine.py [--scale 1.0]` (it takes
the test lock: no Odoo test suite runs meanwhile). It uses a kept database
`cpa_bench_<checkout>` in the development cluster (installed without demo data on first
use) and prints, measured in one run:

- moving N leads (1,000 and 10,000) between two stages with 20 active rules on the target
  (10 immediate, 10 delayed) vs the same move with those rules archived, three times in
  alternation: median seconds, ratio (target <= 2.0), SQL queries per lead (must not
  grow with N), and the queries per lead of creating N leads in the target stage; such
  a mass edit stores its jobs as one plan that the dispatcher turns into job rows
  (crm.automation.job.plan): that time is printed apart;
- dispatching 10,000 (median of three runs) and 100,000 due jobs: seconds, jobs/s, time
  ratio (target <= 11), peak RSS of the dispatching process;
- set-wise dispatch, one rule per action: 10,000 due jobs of each of tags, score,
  update and activity (target >= 1,000 jobs/s for tags / score / update, >= 500 for
  activity) and 100,000 tag jobs (time ratio 100k / 10k target <= 10.5), with the RSS
  before and the peak RSS of each run (flat: the same for 10k and 100k).

Each measurement runs in its own process (fresh caches, its own peak RSS). Moves are
rolled back after measurement; dispatch data are deleted at the end of their phase.
Results are also written to bench/results/engine-<timestamp>.json (not versioned).
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
import cpa  # noqa: E402  the project's set-up code: cluster, config, paths

PREFIX = "BENCH "


def log(msg):
    print(f"[bench_engine] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- database


def prepare_database(modules=(), prefix="cpa_bench"):
    """Start the dev cluster, install the addon (and ``modules``) in the bench database
    ``<prefix>_<checkout>`` if needed."""
    src, venv = cpa.odoo_src(), cpa.venv_dir()
    pg = cpa.Postgres(cpa.persistent_cluster_dir("pg-dev"), persistent=True).start()
    dbname = f"{prefix}_{cpa.repo_key()}"
    config = cpa.write_config(cpa.cache_dir() / f"odoo-bench-{cpa.repo_key()}.conf", src, pg, {})
    installed = pg.database_exists(venv, dbname) and cpa.module_installed(venv, pg, dbname)
    log(f"{'Updating' if installed else 'Installing'} {cpa.MODULE} in '{dbname}' ...")
    subprocess.run(
        cpa.odoo_cmd(
            venv,
            src,
            config,
            "-d",
            dbname,
            "-u" if installed else "-i",
            ",".join((cpa.MODULE, *modules)),
            "--without-demo=all",
            "--stop-after-init",
            "--log-level=warn",
        ),
        check=True,
    )
    return pg, src, venv, config, dbname


def odoo_env(src, config, dbname):
    sys.path.insert(0, str(src))
    import odoo
    from odoo import api
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(["-c", str(config), "--log-level=warn"])
    registry = Registry(dbname)
    cr = registry.cursor()
    return api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})


# --------------------------------------------------------------------------- fixtures


def make_pipeline(env, rules=20):
    """A bench team with stages Start -> Target and ``rules`` rules on Target."""
    from odoo import Command

    cleanup(env)
    team = env["crm.team"].create({"name": PREFIX + "team"})
    start = env["crm.stage"].create({"name": PREFIX + "start", "sequence": 901, "team_id": team.id})
    target = env["crm.stage"].create(
        {"name": PREFIX + "target", "sequence": 902, "team_id": team.id}
    )
    tags = env["crm.tag"].create([{"name": f"{PREFIX}tag {i}"} for i in range(5)])
    priority = env["ir.model.fields"]._get("crm.lead", "priority")
    vals = []
    for i in range(rules):
        immediate = i < rules // 2
        values = {
            "name": f"{PREFIX}rule {i}",
            "stage_id": target.id,
            "sequence": i,
            "timing": "immediate" if immediate else "delay",
            "delay_count": 0 if immediate else i,
            "delay_unit": "hours",
        }
        if i % 2:
            values.update(action_type="tags", tag_add_ids=[Command.link(tags[i % 5].id)])
        else:
            values.update(
                action_type="update",
                update_line_ids=[Command.create({"field_id": priority.id, "value": str(i % 4)})],
            )
        vals.append(values)
    rules_rs = env["crm.automation.rule"].create(vals)
    env.cr.commit()
    return team, start, target, rules_rs


def make_leads(env, team, stage, count):
    leads = env["crm.lead"].with_context(mail_create_nolog=True, mail_notrack=True)
    created = leads.browse()
    for offset in range(0, count, 2000):
        created |= leads.create(
            [
                {
                    "name": f"{PREFIX}lead {i}",
                    "type": "opportunity",
                    "team_id": team.id,
                    "stage_id": stage.id,
                    "user_id": False,
                }
                for i in range(offset, min(count, offset + 2000))
            ]
        )
        env.cr.commit()
        env.invalidate_all()
    return created


def cleanup(env):
    """Delete every bench record (raw SQL: fast, cascades to jobs and ledger)."""
    cr = env.cr
    cr.execute("SELECT id FROM crm_lead WHERE name LIKE %s", [PREFIX + "%"])
    ids = [row[0] for row in cr.fetchall()]
    if ids:
        cr.execute("DELETE FROM mail_message WHERE model = 'crm.lead' AND res_id = ANY(%s)", [ids])
        cr.execute(
            "DELETE FROM mail_followers WHERE res_model = 'crm.lead' AND res_id = ANY(%s)", [ids]
        )
        cr.execute(
            "DELETE FROM mail_activity WHERE res_model = 'crm.lead' AND res_id = ANY(%s)", [ids]
        )
        cr.execute("DELETE FROM crm_automation_log WHERE lead_id = ANY(%s)", [ids])
        cr.execute("DELETE FROM crm_automation_job WHERE lead_id = ANY(%s)", [ids])
        cr.execute("DELETE FROM crm_lead WHERE id = ANY(%s)", [ids])
    cr.execute("DELETE FROM crm_automation_rule WHERE name->>'en_US' LIKE %s", [PREFIX + "%"])
    cr.execute("DELETE FROM crm_stage WHERE name->>'en_US' LIKE %s", [PREFIX + "%"])
    cr.execute("DELETE FROM crm_tag WHERE name->>'en_US' LIKE %s", [PREFIX + "%"])
    cr.execute("DELETE FROM crm_team WHERE name->>'en_US' LIKE %s", [PREFIX + "%"])
    cr.execute("DELETE FROM ir_cron_trigger WHERE call_at < now() - interval '1 day'")
    cr.commit()
    env.invalidate_all()


# --------------------------------------------------------------------------- phases


def phase_move(env, count, repeat=3):
    """Move ``count`` leads with the rules archived, then active, ``repeat`` times in
    alternation (the median of each is reported: other processes of a shared machine
    slow single runs down); each move is rolled back."""
    team, start, target, rules = make_pipeline(env)
    leads = make_leads(env, team, start, count)
    runs = {"archived": [], "active": []}
    try:
        for _round in range(repeat):
            for label, active in (("archived", False), ("active", True)):
                rules.write({"active": active})
                env.cr.commit()
                env.invalidate_all()
                # The move as a user makes it: with mail tracking (one tracking message
                # per lead), like the kanban or a mass edit.
                leads = env["crm.lead"].with_context(tracking_disable=False).browse(leads.ids)
                queries = env.cr.sql_log_count
                started = time.perf_counter()
                leads.write({"stage_id": target.id})
                env.flush_all()
                seconds = time.perf_counter() - started
                queries = env.cr.sql_log_count - queries
                expand = 0.0
                if active:
                    # Above job_plan_threshold the write stores a plan and the dispatcher
                    # inserts the job rows: timed apart (it is not in the user's write).
                    # The write's mail tracking (one message per lead, posted at commit,
                    # not measured in either move) is done first, untimed.
                    env.cr.precommit.run()
                    started = time.perf_counter()
                    env["crm.automation.job.plan"]._expand_waiting()
                    env.flush_all()
                    expand = time.perf_counter() - started
                    env.cr.execute(
                        "SELECT count(*) FROM crm_automation_job WHERE lead_id = ANY(%s)",
                        [leads.ids],
                    )
                    jobs = env.cr.fetchone()[0]
                else:
                    jobs = 0
                env.cr.rollback()
                env.invalidate_all()
                # The same number of leads created in the target stage (an import).
                creating = env["crm.lead"].with_context(mail_create_nolog=True)
                create_queries = env.cr.sql_log_count
                creating.create(
                    [
                        {"name": f"{PREFIX}new {i}", "team_id": team.id, "stage_id": target.id}
                        for i in range(count)
                    ]
                )
                env.flush_all()
                create_queries = env.cr.sql_log_count - create_queries
                env.cr.rollback()
                env.invalidate_all()
                runs[label].append((seconds, queries, jobs, expand, create_queries))
                log(
                    f"move {count} leads, rules {label}: {seconds:.2f} s, "
                    f"{queries} queries, {jobs} jobs, create: {create_queries} queries"
                    + (f", created by the dispatcher in {expand:.2f} s" if active else "")
                )
    finally:
        cleanup(env)
    result = {}
    for label, values in runs.items():
        seconds = statistics.median(value[0] for value in values)
        queries = max(value[1] for value in values)
        result[label] = {
            "seconds": round(seconds, 3),
            "runs": [round(value[0], 3) for value in values],
            "queries": queries,
            "queries_per_lead": round(queries / count, 3),
            "jobs": values[-1][2],
            "dispatcher_creates_jobs_seconds": round(statistics.median(v[3] for v in values), 3),
            "create_queries_per_lead": round(max(v[4] for v in values) / count, 3),
        }
    return result


def move_and_dispatch(env, leads, target, label):
    """Move ``leads`` into ``target`` (mass edits of 2,000), make the jobs of its delayed
    rules due and dispatch them in one run, committing per batch; the figures."""
    for offset in range(0, len(leads), 2000):
        leads[offset : offset + 2000].write({"stage_id": target.id})
        env.cr.commit()
        env.invalidate_all()
    # Mass edits leave the job rows to the dispatcher (crm.automation.job.plan).
    env["crm.automation.job.plan"]._expand_waiting(commit=True)
    env.cr.commit()
    env.invalidate_all()
    env.cr.execute(
        "UPDATE crm_automation_job SET run_at = now() at time zone 'UTC' - interval '1 minute'"
        " WHERE state = 'pending' AND lead_id = ANY(%s)",
        [leads.ids],
    )
    created = env.cr.rowcount
    env.cr.commit()
    env.invalidate_all()
    log(f"dispatching {created} due {label}jobs ...")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    done = env["crm.automation.job"]._dispatch_due_jobs(time_budget=10**6)
    seconds = time.perf_counter() - started
    env.cr.commit()
    env.cr.execute(
        "SELECT state, count(*) FROM crm_automation_job WHERE lead_id = ANY(%s) GROUP BY state",
        [leads.ids],
    )
    states = dict(env.cr.fetchall())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "jobs": created,
        "run": len(done),
        "states": states,
        "seconds": round(seconds, 2),
        "jobs_per_second": round(len(done) / seconds, 1) if seconds else None,
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_before_mb": round(rss_before / 1024, 1),
    }
    log(
        f"dispatch {created} {label}jobs: {seconds:.1f} s, {result['jobs_per_second']} jobs/s, "
        f"RSS {result['rss_before_mb']} -> {result['peak_rss_mb']} MB, states {states}"
    )
    return result


def phase_dispatch(env, jobs):
    """Dispatch ``jobs`` due jobs (10 delayed rules x jobs/10 leads), committing per batch."""
    team, start, target, rules = make_pipeline(env)
    rules.filtered(lambda r: r.timing == "immediate").write({"active": False})
    env.cr.commit()
    try:
        leads = make_leads(env, team, start, jobs // 10)
        return move_and_dispatch(env, leads, target, "")
    finally:
        cleanup(env)


# Set-wise dispatch: one delayed rule of each action.
ACTIONS = ("tags", "score", "update", "activity")
# Not run by default: the activity run with an assignee notified in Odoo (inbox) instead
# of by email, to see what the email notices cost.
EXTRA_ACTIONS = ("activity-inbox",)


def action_rule_vals(env, action):
    """Values of the one rule of the set-wise dispatch of ``action``."""
    from odoo import Command

    if action == "tags":
        tag = env["crm.tag"].create({"name": PREFIX + "set-wise tag"})
        return {"action_type": "tags", "tag_add_ids": [Command.link(tag.id)]}
    if action == "score":
        return {"action_type": "tags", "score_delta": 3}
    if action == "update":
        priority = env["ir.model.fields"]._get("crm.lead", "priority")
        return {
            "action_type": "update",
            "update_line_ids": [Command.create({"field_id": priority.id, "value": "2"})],
        }
    # An activity for a colleague (not the acting user): Odoo notifies the assignee of
    # each one, as in production (admin: by email; activity-inbox: in Odoo).
    return {
        "action_type": "activity",
        "activity_summary": "Call {name}",
        "activity_deadline_count": 2,
        "activity_user_source": "user",
        "activity_user_id": env.ref("base.user_admin").id,
    }


def phase_dispatch_action(env, action, jobs):
    """Dispatch ``jobs`` due jobs of one delayed rule of ``action`` (one per lead)."""
    team, start, target, rules = make_pipeline(env, rules=0)
    admin = env.ref("base.user_admin")
    notification_type = admin.notification_type
    if action == "activity-inbox":
        admin.notification_type = "inbox"
    env["crm.automation.rule"].create(
        {
            "name": f"{PREFIX}set-wise {action}",
            "stage_id": target.id,
            "timing": "delay",
            "delay_count": 1,
            "delay_unit": "hours",
            **action_rule_vals(env, action),
        }
    )
    env.cr.commit()
    try:
        leads = make_leads(env, team, start, jobs)
        return {"action": action, **move_and_dispatch(env, leads, target, f"{action} ")}
    finally:
        admin.notification_type = notification_type
        cleanup(env)


def run_phase(args):
    _pg, src, _venv, config, dbname = (None, cpa.odoo_src(), None, args.config, args.db)
    env = odoo_env(src, config, dbname)
    try:
        if args.phase == "move":
            result = phase_move(env, args.count)
        elif args.phase == "dispatch":
            result = phase_dispatch(env, args.count)
        else:
            result = phase_dispatch_action(env, args.phase.split(":", 1)[1], args.count)
    finally:
        env.cr.close()
    print(json.dumps(result))


# --------------------------------------------------------------------------- orchestration


def run_child(script, tag, *args):
    """Run ``script`` with ``args`` in a fresh Python of the venv (fresh caches); pass on
    its ``[tag]`` and error lines; return the JSON of its last output line."""
    proc = subprocess.run(
        [str(cpa.venv_dir() / "bin" / "python"), str(script), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stderr.write(
        "\n".join(
            line for line in proc.stderr.splitlines() if f"[{tag}]" in line or "Error" in line
        )[-4000:]
        + "\n"
    )
    if proc.returncode:
        raise SystemExit(
            f"{Path(script).name} {' '.join(map(str, args))}: status {proc.returncode}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child(config, dbname, phase, count):
    return run_child(
        __file__,
        "bench_engine",
        "--phase",
        phase,
        "--count",
        count,
        "--config",
        config,
        "--db",
        dbname,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply all sizes (quick runs)")
    parser.add_argument(
        "--parts",
        default="move,dispatch",
        help="comma-separated: move, dispatch (default both; dispatch includes the set-wise "
        "runs), setwise (only the set-wise runs)",
    )
    parser.add_argument(
        "--actions",
        default=",".join(ACTIONS),
        help="set-wise runs: comma-separated actions among " + ", ".join(ACTIONS + EXTRA_ACTIONS),
    )
    parser.add_argument(
        "--phase",
        choices=(
            "move",
            "dispatch",
            *(f"dispatch:{action}" for action in ACTIONS + EXTRA_ACTIONS),
        ),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return run_phase(args)

    pg, _src, _venv, config, dbname = prepare_database()
    try:
        small, large = int(1000 * args.scale), int(10000 * args.scale)
        jobs_small, jobs_large = int(10000 * args.scale), int(100000 * args.scale)
        move, dispatch, set_wise = {}, {}, {}
        if "move" in args.parts:
            move = {n: child(config, dbname, "move", n) for n in (small, large)}
        if "dispatch" in args.parts:
            # The small run is short, so noisier on a shared machine: median of three
            # (each in its own process), against one large run of 500+ batches.
            small_runs = sorted(
                (child(config, dbname, "dispatch", jobs_small) for _ in range(3)),
                key=lambda res: res["seconds"],
            )
            dispatch = {
                jobs_small: small_runs[1],
                jobs_large: child(config, dbname, "dispatch", jobs_large),
            }
            dispatch[jobs_small]["runs_seconds"] = [res["seconds"] for res in small_runs]
        if "dispatch" in args.parts or "setwise" in args.parts:
            # Set-wise: one rule per action, 10,000 jobs each, and 100,000 tag jobs.
            set_wise = {
                (action, jobs_small): child(config, dbname, f"dispatch:{action}", jobs_small)
                for action in ACTIONS + EXTRA_ACTIONS
                if action in args.actions.split(",")
            }
            if "tags" in args.actions.split(","):
                set_wise[("tags", jobs_large)] = child(config, dbname, "dispatch:tags", jobs_large)
    finally:
        pg.stop()

    print("\nBulk stage move, 20 rules on the target (10 immediate, 10 delayed) vs archived")
    print(
        f"{'leads':>8} {'archived s':>11} {'active s':>9} {'ratio':>6} "
        f"{'q/lead arch':>12} {'q/lead act':>11} {'jobs':>8} {'dispatcher creates s':>21} "
        f"{'create q/lead arch':>19} {'create q/lead act':>18}"
    )
    for n, res in move.items():
        ratio = res["active"]["seconds"] / res["archived"]["seconds"]
        res["ratio"] = round(ratio, 2)
        print(
            f"{n:>8} {res['archived']['seconds']:>11.2f} {res['active']['seconds']:>9.2f} "
            f"{ratio:>6.2f} {res['archived']['queries_per_lead']:>12.3f} "
            f"{res['active']['queries_per_lead']:>11.3f} {res['active']['jobs']:>8} "
            f"{res['active']['dispatcher_creates_jobs_seconds']:>21.2f} "
            f"{res['archived']['create_queries_per_lead']:>19.3f} "
            f"{res['active']['create_queries_per_lead']:>18.3f}"
        )
    print("\nDispatch of due jobs (commit per batch)")
    print(f"{'jobs':>8} {'seconds':>9} {'jobs/s':>8} {'peak RSS MB':>12} {'states'}")
    for n, res in dispatch.items():
        print(
            f"{n:>8} {res['seconds']:>9.1f} {res['jobs_per_second']:>8} "
            f"{res['peak_rss_mb']:>12} {res['states']}"
        )
    time_ratio = None
    if dispatch and jobs_large in dispatch:
        time_ratio = dispatch[jobs_large]["seconds"] / dispatch[jobs_small]["seconds"]
        print(f"\ndispatch time ratio {jobs_large} / {jobs_small}: {time_ratio:.2f} (target <= 11)")
    set_wise_ratio = None
    if set_wise:
        print("\nSet-wise dispatch, one rule per action (commit per batch)")
        print(
            f"{'action':>9} {'jobs':>8} {'seconds':>9} {'jobs/s':>8} {'RSS before MB':>14} "
            f"{'peak RSS MB':>12} {'target':>7}"
        )
        for (action, n), res in set_wise.items():
            target = 500 if action.startswith("activity") else 1000
            print(
                f"{action:>9} {n:>8} {res['seconds']:>9.1f} {res['jobs_per_second']:>8} "
                f"{res['rss_before_mb']:>14} {res['peak_rss_mb']:>12} {'>=' + str(target):>7}"
            )
        if ("tags", jobs_large) in set_wise:
            set_wise_ratio = (
                set_wise[("tags", jobs_large)]["seconds"]
                / set_wise[("tags", jobs_small)]["seconds"]
            )
            print(
                f"\nset-wise tags time ratio {jobs_large} / {jobs_small}: {set_wise_ratio:.2f} "
                "(target <= 10.5)"
            )
    if move:
        worst = max(res["ratio"] for res in move.values())
        print(f"move ratio active / archived (worst): {worst:.2f} (target <= 2.0)")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    out = results / f"engine-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "move": move,
                "dispatch": dispatch,
                "dispatch_time_ratio": time_ratio,
                "set_wise": {f"{action} {n}": res for (action, n), res in set_wise.items()},
                "set_wise_tags_time_ratio": set_wise_ratio,
            },
            indent=2,
        )
    )
    print(f"results: {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
