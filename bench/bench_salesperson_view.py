#!/usr/bin/env python3
# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Benchmark: the salesperson's pipeline page and the restricted-pipeline record rules.

On LEADS leads (half of them in a pipeline restricted to its members) with EVENTS
engagement events and one pending job each, as a salesperson ("all documents", not a
member of the restricted pipeline):

- reading the 80 cards of a kanban page with the badge fields (time, SQL queries);
- counting the leads they can see, with the restriction on and off (time, ratio).

Run from the repository root (after `make test-dev` once, which builds the database):

    python3 bench/bench_salesperson_view.py

It takes the test lock, starts the `make test-dev` PostgreSQL cluster, runs itself inside
Odoo's virtual environment on this checkout's test-dev database, and rolls everything back.
"""

import sys
import time
from pathlib import Path

LEADS = 20_000
EVENTS_PER_LEAD = 5
CARDS = 80
REPEAT = 5
REPO = Path(__file__).resolve().parent.parent


def outer():
    sys.path.insert(0, str(REPO / "tools"))
    import cpa

    return cpa.run_inner_on_dev_database(__file__)


def populate(env, seller, teams, stage, rule):
    """LEADS leads alternating between the teams, their events and pending jobs (SQL:
    the ORM would take minutes and is not what is measured)."""
    from odoo.tools import SQL

    now = env.cr.now()
    env.cr.execute(
        SQL(
            """
        INSERT INTO crm_lead (name, type, team_id, stage_id, active, company_id,
                              automation_visit, create_uid, create_date, write_uid, write_date)
        SELECT 'bench ' || g, 'opportunity', (%(teams)s::int[])[1 + mod(g, 2)], %(stage)s,
               TRUE, %(company)s, 1, %(uid)s, %(now)s, %(uid)s, %(now)s
          FROM generate_series(1, %(leads)s) g
            """,
            teams=teams.ids,
            stage=stage.id,
            company=env.company.id,
            uid=seller.id,
            now=now,
            leads=LEADS,
        )
    )
    env.cr.execute(
        SQL(
            """
        INSERT INTO crm_lead_event (lead_id, event_type, date, source, verdict, state,
                                    create_uid, create_date, write_uid, write_date)
        SELECT l.id, (ARRAY['email_open', 'link_click', 'url_visited'])[1 + mod(e, 3)],
               %(now)s::timestamp - (e * interval '3 days'),
               'manual', CASE WHEN e = 1 THEN 'machine' ELSE 'human' END, 'new',
               1, %(now)s, 1, %(now)s
          FROM crm_lead l, generate_series(1, %(events)s) e
         WHERE l.name LIKE %(pattern)s
            """,
            now=now,
            events=EVENTS_PER_LEAD,
            pattern="bench %",
        )
    )
    env.cr.execute(
        SQL(
            """
        INSERT INTO crm_automation_job (rule_id, lead_id, visit, entered_at, run_at, state,
                                        attempts, create_uid, create_date, write_uid, write_date)
        SELECT %(rule)s, l.id, 1, %(now)s, %(now)s::timestamp + interval '2 days', 'pending',
               0, 1, %(now)s, 1, %(now)s
          FROM crm_lead l WHERE l.name LIKE %(pattern)s
            """,
            rule=rule.id,
            pattern="bench %",
            now=now,
        )
    )
    for table in ("crm_lead", "crm_lead_event", "crm_automation_job"):
        env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))
    env.invalidate_all()


def timed(env, func):
    """Best of REPEAT runs: (seconds, SQL queries, result)."""
    best, queries, result = None, None, None
    for _i in range(REPEAT):
        env.invalidate_all()
        start_queries = env.cr.sql_log_count
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        queries = env.cr.sql_log_count - start_queries
        best = elapsed if best is None else min(best, elapsed)
    return best, queries, result


def inner(config, dbname):
    import odoo
    from odoo import Command

    odoo.tools.config.parse_config(["-c", config, "-d", dbname])
    registry = odoo.modules.registry.Registry(dbname)
    odoo.tools.config["test_enable"] = True
    card_fields = [
        "name",
        "engagement_last_open",
        "engagement_last_click",
        "engagement_last_visit",
        "engagement_recent_score",
        "automation_next_run_at",
        "automation_next_rule_id",
        "activity_deadline_next",
    ]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        seller = env["res.users"].create(
            {
                "name": "Bench Seller",
                "login": "cpa_bench_sp_seller",
                "groups_id": [Command.link(env.ref("sales_team.group_sale_salesman_all_leads").id)],
            }
        )
        restricted = env["crm.team"].create(
            {"name": "Bench restricted", "pipeline_members_only": True}
        )
        open_team = env["crm.team"].create({"name": "Bench open"})
        env["crm.team.member"].create({"crm_team_id": open_team.id, "user_id": seller.id})
        stage = env["crm.stage"].create({"name": "Bench stage", "sequence": 999})
        rule = env["crm.automation.rule"].create(
            {
                "name": "Bench rule",
                "stage_id": stage.id,
                "action_type": "tags",
                "timing": "delay",
                "delay_count": 2,
                "delay_unit": "days",
                "active": False,
            }
        )
        populate(env, seller, open_team | restricted, stage, rule)
        Lead = env["crm.lead"].with_user(seller)
        domain = [("name", "like", "bench %")]

        def page():
            leads = Lead.search(domain, limit=CARDS)
            return leads.read(card_fields)

        seconds, queries, rows = timed(env, page)
        print(
            f"kanban page of {len(rows)} cards with the badges: {seconds * 1000:.1f} ms, "
            f"{queries} SQL queries",
            flush=True,
        )
        assert len(rows) == CARDS
        counts = {}
        for flag in (False, True):
            restricted.pipeline_members_only = flag
            env.flush_all()
            seconds, _queries, count = timed(env, lambda: Lead.search_count(domain))
            counts[flag] = seconds
            print(
                f"search_count as a salesperson, restriction {'on ' if flag else 'off'}: "
                f"{count} of {LEADS} leads in {seconds * 1000:.1f} ms",
                flush=True,
            )
        print(f"ratio on / off: {counts[True] / counts[False]:.2f}", flush=True)
        cr.rollback()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        sys.exit(inner(sys.argv[2], sys.argv[3]))
    sys.exit(outer())
