#!/usr/bin/env python3
# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Benchmark: bulk undo of 10,000 automatic changes vs. the time the rule took to make
them.

A "tags" rule (add a tag, +5 engagement points) on stage B; N leads are moved from A to
B in one write and the dispatcher runs their jobs: N ledger rows with undo data. The
bulk undo (crm.automation.undo._undo, what the wizard's Run does) then takes them all
back set-wise. Printed: seconds and SQL queries per undone change, and the ratio undo
time / time of the rule (move + dispatch).

Run from the repository root (after `make test-dev` once, which builds the database):

    python3 bench/bench_undo.py

It takes the test lock, starts the `make test-dev` PostgreSQL cluster, runs itself inside
Odoo's virtual environment on this checkout's test-dev database, and rolls everything back.
"""

import sys
import time
from pathlib import Path

N = 10_000
REPO = Path(__file__).resolve().parent.parent


def outer():
    sys.path.insert(0, str(REPO / "tools"))
    import cpa

    return cpa.run_inner_on_dev_database(__file__)


def inner(config, dbname, size=N):
    import odoo
    from odoo.tools import SQL

    odoo.tools.config.parse_config(["-c", config, "-d", dbname])
    registry = odoo.modules.registry.Registry(dbname)
    # Test mode: the dispatcher does not commit; everything is rolled back at the end.
    odoo.tools.config["test_enable"] = True
    with registry.cursor() as cr:
        env = odoo.api.Environment(
            cr, odoo.SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True}
        )
        team = env["crm.team"].create({"name": "Bench undo team"})
        stage_a, stage_b = env["crm.stage"].create(
            [
                {"name": "Bench A", "sequence": 901, "team_id": team.id},
                {"name": "Bench B", "sequence": 902, "team_id": team.id},
            ]
        )
        tag = env["crm.tag"].create({"name": "Bench undo"})
        rule = env["crm.automation.rule"].create(
            {
                "name": "Bench undo tags",
                "stage_id": stage_b.id,
                "action_type": "tags",
                "tag_add_ids": [(4, tag.id)],
                "score_delta": 5,
            }
        )
        env.cr.execute(
            SQL(
                """
            INSERT INTO crm_lead (name, type, team_id, stage_id, active, engagement_score,
                                  create_uid, create_date, write_uid, write_date)
            SELECT 'bench undo ' || g, 'opportunity', %(team)s, %(stage)s, TRUE, 0,
                   1, now() at time zone 'utc', 1, now() at time zone 'utc'
              FROM generate_series(1, %(n)s) g
            """,
                team=team.id,
                stage=stage_a.id,
                n=size,
            )
        )
        env.invalidate_all()
        leads = env["crm.lead"].search([("team_id", "=", team.id)])
        start = time.perf_counter()
        leads.write({"stage_id": stage_b.id})
        Job = env["crm.automation.job"]
        while Job._dispatch_due_jobs(batch_size=1000, time_budget=3600):
            pass
        env.flush_all()
        made = time.perf_counter() - start
        logs = env["crm.automation.log"].search(
            [("rule_id", "=", rule.id), ("kind", "=", "rule_done")]
        )
        print(f"{len(logs):,} changes made by the rule in {made:.2f} s", flush=True)
        env.invalidate_all()
        logs = env["crm.automation.log"].browse(logs.ids)
        queries = cr.sql_log_count
        start = time.perf_counter()
        report = env["crm.automation.undo"]._undo(logs)
        env.flush_all()
        undone_time = time.perf_counter() - start
        queries = cr.sql_log_count - queries
        undone = len(report["undone"])
        print(
            f"{undone:,} changes undone in {undone_time:.2f} s "
            f"({undone_time / max(undone, 1) * 1000:.3f} ms and "
            f"{queries / max(undone, 1):.3f} queries per undone change; {queries} queries)",
            flush=True,
        )
        print(f"ratio undo / rule: {undone_time / made:.2f}", flush=True)
        env.invalidate_all()
        left = env["crm.lead"].search_count([("team_id", "=", team.id), ("tag_ids", "=", tag.id)])
        scores = env["crm.lead"].search_count(
            [("team_id", "=", team.id), ("engagement_score", "!=", 0)]
        )
        print(f"after undo: {left} leads still tagged, {scores} with points", flush=True)
        cr.rollback()
    return 0 if undone == size and not left and not scores else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        sys.exit(inner(sys.argv[2], sys.argv[3], *(int(a) for a in sys.argv[4:5])))
    sys.exit(outer())
