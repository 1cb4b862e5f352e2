# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Delay arithmetic of automation rules, in calendar time or in business hours, and
their timing in words.

Plain functions (no model) so that rules, activity templates and benchmarks share one
implementation. Every datetime in and out is naive UTC, like Odoo stores them.

Business-hours mapping of the delay units (documented in readme/USAGE.md, "Automation rules"):

* ``minutes`` / ``hours``: working time of the calendar, leaves excluded
  (``resource.calendar.plan_hours``); 0 means "the next working moment".
* ``days``: working days: the same local time N working days later (days without any
  work interval, e.g. weekends and public holidays, are not counted), then the next
  working moment if that time is outside the working hours.
* ``weeks`` / ``months``: calendar weeks / months in the calendar's time zone, then the
  next working moment.
"""

from datetime import datetime, time, timedelta

import pytz
from dateutil.relativedelta import relativedelta

DELAY_UNITS = [
    ("minutes", "Minutes"),
    ("hours", "Hours"),
    ("days", "Days"),
    ("weeks", "Weeks"),
    ("months", "Months"),
]

# How far ahead we look for working days before giving up (a calendar without any
# attendance, or a year of leaves): the job then runs at the plain calendar delay.
MAX_SEARCH_DAYS = 400


def calendar_delta(count, unit):
    """Return the relativedelta of ``count`` ``unit`` (negative counts go back)."""
    return relativedelta(**{unit: count})


def add_calendar_delay(start, count, unit):
    """Plain calendar arithmetic on a naive UTC datetime."""
    return start + calendar_delta(count, unit)


def _aware(dt):
    return pytz.utc.localize(dt) if dt.tzinfo is None else dt


def _naive_utc(dt):
    return dt.astimezone(pytz.utc).replace(tzinfo=None)


def next_working_moment(calendar, start, resource=None):
    """First moment >= ``start`` inside a work interval of ``calendar`` (leaves out).

    :param calendar: resource.calendar record
    :param start: naive UTC datetime
    :param resource: optional resource.resource whose own leaves are respected
    :return: naive UTC datetime (``start`` itself when no work is found)
    """
    found = calendar.plan_hours(0, start, compute_leaves=True, resource=resource)
    return found or start


def in_working_time(calendar, at, resource=None):
    """Whether the naive UTC datetime ``at`` is inside a work interval of ``calendar``
    (leaves, e.g. public holidays, are outside; the closing minute is outside).

    :param calendar: resource.calendar record
    :param at: naive UTC datetime
    :param resource: optional resource.resource whose own leaves are respected
    """
    start = _aware(at)
    intervals = calendar._work_intervals_batch(
        start, start + timedelta(seconds=1), resources=resource or None
    )[resource.id if resource else False]
    return any(begin <= start < stop for begin, stop, _meta in intervals)


def working_days(calendar, start_local_date, end_local_date, resource=None):
    """Local dates in [start, end] having at least one work interval (leaves out)."""
    tz = pytz.timezone(calendar.tz or "UTC")
    start_dt = tz.localize(datetime.combine(start_local_date, time.min))
    end_dt = tz.localize(datetime.combine(end_local_date, time.max))
    intervals = calendar._work_intervals_batch(start_dt, end_dt, resources=resource or None, tz=tz)[
        resource.id if resource else False
    ]
    return {start.astimezone(tz).date() for start, _stop, _meta in intervals}


def add_business_delay(calendar, start, count, unit, resource=None):
    """Add ``count`` ``unit`` of business time to ``start`` (see module docstring).

    :param calendar: resource.calendar record (its ``tz`` is the reference)
    :param start: naive UTC datetime
    :param count: int, may be negative (before a date field)
    :param unit: one of DELAY_UNITS keys
    :param resource: optional resource.resource (salesperson) for personal leaves
    :return: naive UTC datetime
    """
    if unit in ("minutes", "hours"):
        hours = count / 60.0 if unit == "minutes" else float(count)
        found = calendar.plan_hours(hours, start, compute_leaves=True, resource=resource)
        return found or add_calendar_delay(start, count, unit)
    tz = pytz.timezone(calendar.tz or "UTC")
    local = _aware(start).astimezone(tz)
    if unit == "days":
        step = 1 if count >= 0 else -1
        horizon = abs(count) * 2 + MAX_SEARCH_DAYS
        first, last = sorted(
            [local.date() + timedelta(days=step), local.date() + timedelta(days=step * horizon)]
        )
        days = working_days(calendar, first, last, resource=resource)
        day, counted = local.date(), 0
        for _i in range(horizon):
            if counted == abs(count):
                break
            day += timedelta(days=step)
            if day in days:
                counted += 1
        else:
            return add_calendar_delay(start, count, unit)
        # Same wall-clock time on the target day: localize() picks the right UTC
        # offset on both sides of a daylight-saving change.
        target = tz.localize(datetime.combine(day, local.time().replace(tzinfo=None)))
    else:
        target = tz.normalize(tz.localize(local.replace(tzinfo=None) + calendar_delta(count, unit)))
    return next_working_moment(calendar, _naive_utc(target), resource=resource)


def describe_delay(env, count, unit):
    """'6 months', '120 min', '1 day' (translated in ``env``'s language)."""
    words = {
        "minutes": env._("%(count)s min", count=count),
        "hours": env._("1 hour") if count == 1 else env._("%(count)s hours", count=count),
        "days": env._("1 day") if count == 1 else env._("%(count)s days", count=count),
        "weeks": env._("1 week") if count == 1 else env._("%(count)s weeks", count=count),
        "months": env._("1 month") if count == 1 else env._("%(count)s months", count=count),
    }
    return words[unit]


def describe_timing(env, timing, count, unit, field="?", direction="after", hours=None):
    """A rule's timing in words: 'after 6 months', '120 min before Meeting date,
    business hours' (one line, for the board and the rule list).

    :param timing: ``immediate``, ``delay`` or ``date_field``
    :param field: label of the date field (``date_field``)
    :param direction: ``before`` or ``after`` the date field
    :param hours: business hours: ``(calendar source, fixed calendar name or None)``;
        ``None`` for calendar time
    """
    if timing == "immediate":
        return env._("Immediately")
    if timing == "date_field":
        delay = describe_delay(env, count, unit)
        if not count:
            text = env._("At %(field)s", field=field)
        elif direction == "before":
            text = env._("%(delay)s before %(field)s", delay=delay, field=field)
        else:
            text = env._("%(delay)s after %(field)s", delay=delay, field=field)
    elif not count:
        text = env._("Immediately")
    else:
        text = env._("after %(delay)s", delay=describe_delay(env, count, unit))
    if hours is None:
        return text
    source, calendar = hours
    if calendar:
        hours_text = env._("business hours (%(calendar)s)", calendar=calendar)
    elif source == "salesperson":
        hours_text = env._("salesperson's business hours")
    else:
        hours_text = env._("business hours")
    return env._("%(timing)s, %(hours)s", timing=text, hours=hours_text)
