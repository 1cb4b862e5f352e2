"""The tracking ingest processor alone: rows/s and SQL queries per row, per kind.

Run: `python3 tools/cpa.py script bench/bench_ingest.py [--rows 5000] [--leads 500]
[--kinds open,click,visit]` (takes the test lock; uses bench/bench_engine.py's kept
database `cpa_bench_<checkout>` in the development cluster).

For each kind, in a fresh process: ``--rows`` requests queued on ``--leads`` leads
through the routes' own append (crm.lead.event.ingest ``_cpa_ingest``, payloads as
controllers/tracking.py builds them: open pixel and one-link click tokens' numbers, a
browser user agent, the truncated address; visit beacons with a new URL each), committed,
then drained by ``_cron_process_ingest`` (as the cron calls it, committing per batch of
``ingest_batch_size``); prints the seconds, rows/s and queries per row of the drain.

The leads are in the first stage of a bench pipeline whose triggers "email opened ->
Opened" and "link clicked -> Clicked" move each lead on its first human open / click
(ledger row, chatter note); its later ones are refused ("already in"). Every row is a
new fact (new message id, new URL): each makes one event.

The processor keeps polling an empty queue for ``LINGER_SECONDS`` (requests arriving
without a wake of their own): the bench sets it to 0 so that the drain's end is timed.
The rows are queued faster than a burst (engine/ingest.py, burst_state): the bench sets
``ingest_burst_delay_seconds`` to 0 for the drain, so that it measures the processor,
not the burst delay.
Bench data are deleted at the end. Not part of `make test`.
"""

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tools"))
import bench_engine  # noqa: E402  prepare_database, odoo_env, run_child, cleanup
import cpa  # noqa: E402

KINDS = ("open", "click", "visit")
PREFIX = bench_engine.PREFIX
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
LINK_URL = "https://shop.example.com/bench-ingest"


def log(msg):
    print(f"[bench_ingest] {msg}", file=sys.stderr, flush=True)


def make_fixtures(env, nb_leads):
    """Bench team (stages New, Opened, Clicked, triggers), leads, one tracked link."""
    bench_engine.cleanup(env)
    env.cr.execute("DELETE FROM crm_lead_event_ingest")
    team = env["crm.team"].create({"name": PREFIX + "ingest team"})
    stages = env["crm.stage"].create(
        [
            {"name": f"{PREFIX}{name}", "sequence": 900 + i, "team_id": team.id}
            for i, name in enumerate(("New", "Opened", "Clicked"))
        ]
    )
    env["crm.stage.trigger"].create(
        [
            {"name": PREFIX + "opened", "stage_id": stages[1].id, "event_type": "email_open"},
            {"name": PREFIX + "clicked", "stage_id": stages[2].id, "event_type": "link_click"},
        ]
    )
    link = env["link.tracker"].search([("url", "=", LINK_URL)], limit=1) or env[
        "link.tracker"
    ].create({"url": LINK_URL, "title": "bench"})
    leads = bench_engine.make_leads(env, team, stages[0], nb_leads)
    env.cr.commit()
    return leads.ids, link.id


def payload(kind, lead_id, fact, link_id, sent):
    client = {"ua": USER_AGENT, "ip": "198.51.100.0"}
    if kind == "open":
        return {"n": [lead_id, fact, 0, 0, sent], **client}
    if kind == "click":
        return {"n": [lead_id, fact, 0, 0, sent, 1, link_id], **client}
    return {"lead": lead_id, "u": f"{LINK_URL}/{fact}", **client}


def phase(env, kind, nb_rows, nb_leads):
    from odoo.addons.crm_pipeline_automation.engine import ingest

    ingest.LINGER_SECONDS = 0  # see the module's docstring
    burst_key = "crm_pipeline_automation.ingest_burst_delay_seconds"
    env["ir.config_parameter"].sudo().set_param(burst_key, "0")
    lead_ids, link_id = make_fixtures(env, nb_leads)
    Ingest = env["crm.lead.event.ingest"].sudo()
    sent = int(time.time()) - 3600
    for i in range(nb_rows):
        lead_id = lead_ids[i % len(lead_ids)]
        Ingest._cpa_ingest(
            kind, ingest.lead_key(lead_id), payload(kind, lead_id, 10**7 + i, link_id, sent)
        )
    env.cr.commit()
    env.invalidate_all()
    env.registry.clear_cache()
    cr = env.cr
    queries, started, done = cr.sql_log_count, time.perf_counter(), 0
    while ingest.count_new(cr):
        done += Ingest._cron_process_ingest()
        env.cr.commit()
    seconds = time.perf_counter() - started
    queries = cr.sql_log_count - queries
    cr.execute("SELECT count(*) FROM crm_lead_event WHERE lead_id = ANY(%s)", [lead_ids])
    events = cr.fetchone()[0]
    cr.execute(
        "SELECT count(*) FROM crm_lead_event_ingest WHERE state <> 'done'",
    )
    not_done = cr.fetchone()[0]
    cr.execute("DELETE FROM crm_lead_event_ingest")
    cr.execute("DELETE FROM crm_lead_event WHERE lead_id = ANY(%s)", [lead_ids])
    env["ir.config_parameter"].sudo().set_param(burst_key, False)
    bench_engine.cleanup(env)
    return {
        "kind": kind,
        "rows": nb_rows,
        "done": done,
        "not_done": not_done,
        "events": events,
        "seconds": round(seconds, 3),
        "rows_per_s": round(nb_rows / seconds, 1),
        "queries_per_row": round(queries / nb_rows, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows queued per kind")
    parser.add_argument("--leads", type=int, default=500)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--phase", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        env = bench_engine.odoo_env(cpa.odoo_src(), args.config, args.db)
        try:
            result = phase(env, args.phase, args.rows, args.leads)
        finally:
            env.cr.close()
        print(json.dumps(result))
        return
    _pg, _src, _venv, config, dbname = bench_engine.prepare_database()
    for kind in args.kinds.split(","):
        result = bench_engine.run_child(
            __file__,
            "bench_ingest",
            "--phase",
            kind,
            "--rows",
            args.rows,
            "--leads",
            args.leads,
            "--config",
            config,
            "--db",
            dbname,
        )
        log(
            f"{kind:5}: {result['rows']} rows on {args.leads} leads drained in "
            f"{result['seconds']:.2f} s: {result['rows_per_s']:.0f} rows/s, "
            f"{result['queries_per_row']:.2f} queries/row ({result['events']} events, "
            f"{result['not_done']} rows not done)"
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
