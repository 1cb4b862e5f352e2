# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Claiming of automation jobs: the SQL that makes "exactly once" hold.

Every cron worker, HTTP worker ("Run now", immediate jobs of a small write) and host
claims rows the same way: ``SELECT ... FOR UPDATE SKIP LOCKED``. A claimed row stays
locked until the claiming transaction ends (commit per batch in the dispatcher), so
another claimer skips it instead of waiting or running it a second time; once that
transaction commits, the row is no longer ``pending`` and is never claimed again.
"""

from odoo import modules
from odoo.tools import SQL, config

# Odoo's cron runner calls a cron that reports remaining work up to this many times in a
# row (odoo/addons/base/models/ir_cron.py MAX_BATCH_PER_CRON_JOB), all within one
# watchdog period of the cron worker (limit_time_real_cron, else limit_time_real).
CRON_RUNS_PER_WAKEUP = 10


class ActionSkipped(Exception):
    """Raised by a rule action that cannot apply to the lead (e.g. an SMS to a lead
    without a phone number, no open live chat to post in), with the reason as message:
    the job is cancelled, neither reported done nor retried; its result, its ledger row
    (``rule_skipped``) and a chatter note give the reason."""


def run_time_budget(maximum):
    """Seconds one dispatcher run may spend claiming batches.

    Past the cron worker's real-time limit the master kills the worker (its current
    batch is rolled back and run again later, and repeated timeouts count as cron
    failures), and that limit covers all the runs Odoo chains while work remains: keep
    those runs together within half of it.
    """
    limit = config["limit_time_real_cron"]
    if not limit or limit < 0:
        limit = config["limit_time_real"]
    if not limit or limit <= 0:
        return maximum
    return max(1.0, min(maximum, limit * 0.5 / CRON_RUNS_PER_WAKEUP))


def in_test_mode():
    """True when running inside Odoo's test suite: never commit there."""
    return bool(config["test_enable"] or modules.module.current_test)


def may_commit(env):
    """Whether a batch loop (dispatcher, held events, reminders) may commit per batch:
    never in tests, and never while the registry loads (module install or upgrade, e.g.
    the demo history calling a cron method: a commit there would end the savepoint
    Odoo loads the demo data in)."""
    return not in_test_mode() and env.registry.ready


def claim_due(cr, now, limit, after=None):
    """Lock and return up to ``limit`` (id, run_at) of pending jobs due at ``now``.

    ``SKIP LOCKED``: rows claimed by a concurrent transaction are left to it.
    ``after``: (run_at, id) of the last row claimed by this run: keyset pagination, so
    that each batch starts after the previous one in the index instead of walking again
    over the rows already run (dead in the partial index until the next VACUUM; without
    it a run of 100,000 jobs is quadratic).
    """
    after_clause = SQL("AND (run_at, id) > (%s, %s)", *after) if after else SQL()
    cr.execute(
        SQL(
            """
        SELECT id, run_at FROM crm_automation_job
         WHERE state = 'pending' AND run_at <= %s %s
         ORDER BY run_at, id
         LIMIT %s
           FOR UPDATE SKIP LOCKED
            """,
            now,
            after_clause,
            limit,
        )
    )
    return cr.fetchall()


def claim_ids(cr, job_ids):
    """Lock the still-pending jobs among ``job_ids`` ("Run now", immediate jobs)."""
    if not job_ids:
        return []
    cr.execute(
        SQL(
            """
        SELECT id FROM crm_automation_job
         WHERE id = ANY(%s) AND state = 'pending'
         ORDER BY id
           FOR UPDATE SKIP LOCKED
            """,
            list(job_ids),
        )
    )
    return [row[0] for row in cr.fetchall()]


def count_due(cr, now):
    cr.execute(
        SQL(
            "SELECT count(*) FROM crm_automation_job WHERE state = 'pending' AND run_at <= %s",
            now,
        )
    )
    return cr.fetchone()[0]


def last_mail_id(cr):
    """Id of the newest ``mail.mail`` row (one read of the primary key's index)."""
    cr.execute("SELECT max(id) FROM mail_mail")
    return cr.fetchone()[0] or 0


def mail_queued_since(cr, last_id):
    """Whether an outgoing ``mail.mail`` was created after ``last_id`` (by this
    transaction, or committed since): a range read of the primary key's index."""
    cr.execute(
        "SELECT EXISTS(SELECT 1 FROM mail_mail WHERE id > %s AND state = 'outgoing')",
        [last_id],
    )
    return cr.fetchone()[0]
