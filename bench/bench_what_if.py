#!/usr/bin/env python3
# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Benchmark: the what-if replay of a draft trigger over 100,000 events.

LEADS leads of a bench pipeline (New, Qualified, Proposal, Won), EVENTS engagement
events over the last 30 days (clicks on a pricing link, opens, forms, visits; one in
twenty a machine), two active triggers (click -> Qualified; open -> Qualified, backward
allowed), a rule on Proposal and a draft trigger (form -> Proposal). Prints the time of
``crm.automation.what.if.what_if`` on the draft (seconds, events/s, SQL queries) and
its figures.

Run from the repository root (after `make test-dev` once, which builds the database):

    python3 bench/bench_what_if.py

It takes the test lock, starts the `make test-dev` PostgreSQL cluster, runs itself inside
Odoo's virtual environment on this checkout's test-dev database, and rolls everything back.
"""

import sys
import time
from pathlib import Path

LEADS = 10_000
EVENTS = 100_000
DAYS = 30
REPO = Path(__file__).resolve().parent.parent


def outer():
    sys.path.insert(0, str(REPO / "tools"))
    import cpa

    return cpa.run_inner_on_dev_database(__file__)


def populate(env, team, stage):
    """LEADS leads in ``stage`` and EVENTS events spread over DAYS days (SQL: the ORM
    would take minutes and is not what is measured)."""
    from odoo.tools import SQL

    now = env.cr.now()
    env.cr.execute(
        SQL(
            """
        INSERT INTO crm_lead (name, type, team_id, stage_id, active, company_id,
                              automation_visit, create_uid, create_date, write_uid, write_date)
        SELECT 'bench what-if ' || g, 'opportunity', %(team)s, %(stage)s, TRUE, %(company)s,
               1, 1, %(now)s, 1, %(now)s
          FROM generate_series(1, %(leads)s) g
            """,
            team=team.id,
            stage=stage.id,
            company=env.company.id,
            now=now,
            leads=LEADS,
        )
    )
    env.cr.execute(
        SQL(
            """
        WITH leads AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM crm_lead
             WHERE team_id = %(team)s
        )
        INSERT INTO crm_lead_event (lead_id, event_type, date, source, verdict, state, url,
                                    form_name, create_uid, create_date, write_uid, write_date)
        SELECT l.id,
               -- a lead's events have every type (e + e / leads: not one type per lead)
               (ARRAY['link_click', 'email_open', 'form_submitted', 'url_visited'])
                   [1 + mod(e + e / %(leads)s, 4)],
               %(now)s::timestamp - ((%(events)s - e) * (%(days)s * interval '1 day') / %(events)s),
               'manual', CASE WHEN mod(e, 20) = 0 THEN 'machine' ELSE 'human' END, 'new',
               'https://example.com/pricing?e=' || e, '/contactus', 1, %(now)s, 1, %(now)s
          FROM generate_series(1, %(events)s) e
          JOIN leads l ON l.n = mod(e * 7919, %(leads)s)
            """,
            team=team.id,
            now=now,
            events=EVENTS,
            days=DAYS,
            leads=LEADS,
        )
    )
    for table in ("crm_lead", "crm_lead_event"):
        env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))
    env.invalidate_all()


def inner(config, dbname):
    import odoo
    from odoo import Command

    odoo.tools.config.parse_config(["-c", config, "-d", dbname])
    registry = odoo.modules.registry.Registry(dbname)
    odoo.tools.config["test_enable"] = True
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        team = env["crm.team"].create({"name": "Bench what-if", "use_leads": True})
        Stage = env["crm.stage"]
        new, qualified, proposal = (
            Stage.create({"name": f"Bench {name}", "sequence": 900 + i, "team_id": team.id})
            for i, name in enumerate(("New", "Qualified", "Proposal"))
        )
        Trigger = env["crm.stage.trigger"]
        Trigger.create(
            {
                "name": "Bench click",
                "stage_id": qualified.id,
                "event_type": "link_click",
                "link_url": "*pricing*",
            }
        )
        Trigger.create(
            {
                "name": "Bench open",
                "stage_id": qualified.id,
                "event_type": "email_open",
                "allow_backward": True,
            }
        )
        draft = Trigger.create(
            {
                "name": "Bench form",
                "stage_id": proposal.id,
                "event_type": "form_submitted",
                "state": "draft",
            }
        )
        tag = env["crm.tag"].create({"name": "Bench what-if"})
        env["crm.automation.rule"].create(
            {
                "name": "Bench tag",
                "stage_id": proposal.id,
                "action_type": "tags",
                "tag_add_ids": [Command.link(tag.id)],
            }
        )
        populate(env, team, new)
        env.flush_all()
        start_queries = cr.sql_log_count
        start = time.perf_counter()
        result = env["crm.automation.what.if"].what_if("crm.stage.trigger", draft.id, DAYS)
        seconds = time.perf_counter() - start
        queries = cr.sql_log_count - start_queries
        print(
            f"what-if replay of {result['events']} events ({EVENTS} recorded, machine ones "
            f"left out) on {LEADS} leads: {seconds:.2f} s, {result['events'] / seconds:,.0f} "
            f"events/s, {queries} SQL queries",
            flush=True,
        )
        print(
            f"draft: {result['moves']} moves of {result['moved_leads']} leads, "
            f"{result['actions']} actions; all: {result['total_moves']} moves, "
            f"{result['total_actions']} actions; loops {result['loops']}, races "
            f"{result['races']}, guard stops {result['guard_stops']}",
            flush=True,
        )
        cr.rollback()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        sys.exit(inner(sys.argv[2], sys.argv[3]))
    sys.exit(outer())
