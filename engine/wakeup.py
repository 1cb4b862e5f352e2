# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Waking the dispatcher cron when jobs fall due: which ``ir.cron.trigger`` moments to
create, and a process-local alarm that wakes Odoo's cron runner at the exact moment.

Odoo's cron runner (odoo/service/server.py) wakes on ``NOTIFY cron_trigger`` and
otherwise polls every ``SLEEP_INTERVAL`` (60 s, plus a jitter). ``ir.cron._trigger`` only
notifies for moments already past: a trigger at a future moment is seen by the next
poll, up to a minute after it. Two things keep a delayed job's lateness to seconds:

- trigger moments are rounded UP (to the second near now, to the minute further away):
  a trigger before the job is due finds nothing to run and the job would wait for the
  next poll; the dispatcher claims ``run_at <= now``;
- the first moment within ``HORIZON`` also arms an alarm in this process (one per
  database, the earliest wins) that sends ``NOTIFY cron_trigger`` when it rings. After
  each run the dispatcher looks at its next pending job and arms the alarm again, so
  the chain lives in the cron worker; a lost alarm (worker recycled, server restarted)
  only falls back to Odoo's poll: the trigger row is committed.
"""

import logging
import threading
from datetime import datetime, timedelta

import odoo
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Look ahead this far (two polls of Odoo's cron runner, odoo.service.server
# SLEEP_INTERVAL): the dispatcher runs at least once per poll (minutely cron), so each
# run covers the gap to the next one.
HORIZON = timedelta(seconds=120)
# At most this many trigger rows per call; the minutely cron and the look-ahead after
# each run cover the later moments.
MAX_TRIGGERS = 50
# The alarm rings this long after the moment: Odoo's runner compares call_at with the
# database clock, whole seconds.
ALARM_MARGIN = 0.2
# ... and never sooner than this after being armed, so that the cron worker that armed
# it at the end of a run has released the cron's row lock when its peers wake up.
ALARM_MIN_DELAY = 1.0


def ceil_second(moment):
    """``moment`` rounded up to the whole second (Odoo stores datetimes to the second)."""
    if moment.microsecond:
        return moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def ceil_minute(moment):
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def trigger_moments(run_ats, now, horizon=HORIZON, limit=MAX_TRIGGERS):
    """Sorted distinct moments to trigger the dispatcher at for jobs due at ``run_ats``.

    Due now or past: ``now`` (Odoo notifies the cron workers at commit). Within
    ``horizon``: the due second, rounded up. Later: the due minute, rounded up (one row
    per minute whatever the number of jobs). At most ``limit``, the earliest.
    """
    moments = set()
    for run_at in run_ats:
        if run_at <= now:
            moments.add(now)
        elif run_at - now <= horizon:
            moments.add(ceil_second(run_at))
        else:
            moments.add(ceil_minute(run_at))
    return sorted(moments)[:limit]


def next_pending_run_at(cr):
    """Due time of the earliest pending job, or None (the dispatcher's partial index)."""
    cr.execute(SQL("SELECT min(run_at) FROM crm_automation_job WHERE state = 'pending'"))
    return cr.fetchone()[0]


def existing_triggers(cr, cron_id, moments):
    """The ``moments`` that already have a trigger row of the cron (not doubled)."""
    cr.execute(
        SQL(
            "SELECT DISTINCT call_at FROM ir_cron_trigger WHERE cron_id = %s AND call_at = ANY(%s)",
            cron_id,
            list(moments),
        )
    )
    return {row[0] for row in cr.fetchall()}


# --------------------------------------------------------------------------- alarm

_lock = threading.Lock()
# {database name: (moment, threading.Timer)} of this process
_alarms = {}


def arm(dbname, moment, now=None):
    """Send ``NOTIFY cron_trigger`` for ``dbname`` at ``moment`` (naive UTC), unless an
    alarm of this process rings sooner for that database (the run it wakes arms the
    next one)."""
    now = now or datetime.utcnow()
    delay = max((moment - now).total_seconds() + ALARM_MARGIN, ALARM_MIN_DELAY)
    # The lock guards _alarms: HTTP threads and cron threads of a threaded server.
    with _lock:
        current = _alarms.get(dbname)
        if current and current[0] <= moment and current[1].is_alive():
            return
        if current:
            current[1].cancel()
        timer = threading.Timer(delay, _ring, args=(dbname, moment))
        timer.daemon = True
        timer.name = f"crm_automation_wakeup {dbname}"
        _alarms[dbname] = (moment, timer)
        timer.start()


def _ring(dbname, moment):
    with _lock:
        current = _alarms.get(dbname)
        if current and current[0] == moment:
            del _alarms[dbname]
    try:
        # Same notification as ir.cron._notifydb; the cursor commits on exit, which is
        # what delivers the NOTIFY (no lock taken, nothing else written).
        function = odoo.addons.base.models.ir_cron.ODOO_NOTIFY_FUNCTION
        with odoo.sql_db.db_connect("postgres").cursor() as cr:
            cr.execute(SQL("SELECT %s('cron_trigger', %s)", SQL.identifier(function), dbname))
    except Exception:  # the poll of Odoo's cron runner still comes
        _logger.warning("Could not wake the cron workers of %s", dbname, exc_info=True)


def armed(dbname):
    """Moment of this process's alarm for ``dbname``, or None."""
    with _lock:
        current = _alarms.get(dbname)
        return current[0] if current and current[1].is_alive() else None


def disarm(dbname):
    """Cancel this process's alarm for ``dbname`` (tests)."""
    with _lock:
        current = _alarms.pop(dbname, None)
    if current:
        current[1].cancel()
