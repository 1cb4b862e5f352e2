#!/usr/bin/env python3
# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Benchmark: the reminder / overdue cron over 5,000 and 50,000 open activities.

Both runs have the same number of due notices (DUE_REMINDERS + DUE_OVERDUE); only the
number of open, not yet due activities grows. The cron claims due rows through partial
indexes, so its time should not grow with the table: target ratio <= 2.

Run from the repository root (after `make test-dev` once, which builds the database):

    python3 bench/bench_activity_reminders.py

It takes the test lock, starts the `make test-dev` PostgreSQL cluster, runs itself inside
Odoo's virtual environment on this checkout's test-dev database, and rolls everything back.
"""

import sys
import time
from pathlib import Path

SIZES = (5_000, 50_000)
DUE_REMINDERS = 100
DUE_OVERDUE = 100
REPO = Path(__file__).resolve().parent.parent


def outer():
    sys.path.insert(0, str(REPO / "tools"))
    import cpa

    return cpa.run_inner_on_dev_database(__file__)


def insert_activities(env, lead, user, template, total, now):
    """``total`` open template activities: the due ones plus many due in 1-30 days."""
    from odoo.tools import SQL

    not_due = total - DUE_REMINDERS - DUE_OVERDUE
    env.cr.execute(
        SQL(
            """
        INSERT INTO mail_activity
            (res_model_id, res_model, res_id, res_name, activity_type_id, summary,
             date_deadline, user_id, active, automated, activity_template_id,
             deadline_datetime, reminder_datetime, create_uid, create_date, write_uid, write_date)
        SELECT %(model)s, 'crm.lead', %(lead)s, 'bench', %(type)s, 'bench ' || g,
               (d.deadline)::date, %(user)s, TRUE, TRUE, %(template)s,
               d.deadline, d.deadline - interval '1 hour', %(user)s, %(now)s, %(user)s, %(now)s
          FROM generate_series(1, %(total)s) g,
               LATERAL (SELECT CASE
                   WHEN g <= %(due_r)s THEN %(now)s::timestamp + interval '30 minutes'
                   WHEN g <= %(due_r)s + %(due_o)s THEN %(now)s::timestamp - interval '5 minutes'
                   ELSE %(now)s::timestamp + (1 + mod(g, 30)) * interval '1 day'
                       + mod(g, 1440) * interval '1 minute'
                   END AS deadline) d
            """,
            model=env["ir.model"]._get_id("crm.lead"),
            lead=lead.id,
            type=template.activity_type_id.id,
            user=user.id,
            template=template.id,
            now=now,
            total=total,
            due_r=DUE_REMINDERS,
            due_o=DUE_OVERDUE,
        )
    )
    # The overdue ones had their reminder already: only their overdue notice is due.
    env.cr.execute(
        SQL(
            "UPDATE mail_activity SET reminder_sent_at = %s WHERE summary LIKE %s "
            "AND deadline_datetime < %s",
            now,
            "bench %",
            now,
        )
    )
    env.cr.execute(SQL("ANALYZE mail_activity"))
    assert not_due > 0


def inner(config, dbname):
    import odoo
    from odoo import fields
    from odoo.tools import SQL

    odoo.tools.config.parse_config(["-c", config, "-d", dbname])
    registry = odoo.modules.registry.Registry(dbname)
    # Test mode (set once the registry is loaded): the cron then does not commit its
    # batches (automation_dispatch.in_test_mode), and the benchmark is rolled back.
    odoo.tools.config["test_enable"] = True
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        user = env["res.users"].create(
            {"name": "Bench Seller", "login": "cpa_bench_seller", "notification_type": "inbox"}
        )
        env["crm.activity.template"].search([]).action_archive()
        template = env["crm.activity.template"].create(
            {
                "name": "Bench",
                "deadline_count": 1,
                "deadline_unit": "days",
                "reminder_count": 1,
                "reminder_unit": "hours",
            }
        )
        lead = env["crm.lead"].create({"name": "Bench lead", "user_id": user.id})
        Activity = env["mail.activity"]
        # Notices already due in the database (demo data) are sent first, untimed.
        Activity._cron_send_deadline_notices()
        results = {}
        for total in SIZES:
            now = fields.Datetime.now()
            insert_activities(env, lead, user, template, total, now)
            env.invalidate_all()
            start = time.perf_counter()
            sent = Activity._cron_send_deadline_notices()
            env.flush_all()
            elapsed = time.perf_counter() - start
            results[total] = elapsed
            open_rows = Activity.search_count([("activity_template_id", "=", template.id)])
            print(
                f"{open_rows:>6} open activities: {sent} notices sent in {elapsed:.3f} s",
                flush=True,
            )
            assert sent == DUE_REMINDERS + DUE_OVERDUE, sent
            plan = env.execute_query(
                SQL(
                    "EXPLAIN SELECT id FROM mail_activity WHERE reminder_sent_at IS NULL "
                    "AND reminder_datetime IS NOT NULL AND active AND reminder_datetime <= %s",
                    now,
                )
            )
            index_lines = [row[0].strip(" ->") for row in plan if "Index" in row[0]]
            print("  claim plan:", "; ".join(index_lines) or plan[0][0].strip(), flush=True)
            env.cr.execute(SQL("DELETE FROM mail_activity WHERE summary LIKE %s", "bench %"))
        ratio = results[SIZES[1]] / results[SIZES[0]]
        print(f"ratio {SIZES[1]:,} / {SIZES[0]:,}: {ratio:.2f} (target <= 2)", flush=True)
        cr.rollback()
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        sys.exit(inner(sys.argv[2], sys.argv[3]))
    sys.exit(outer())
