# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""System parameters of the addon: each name and default declared once, read here.

Keys are ``crm_pipeline_automation.<name>``. The settings page
(``res.config.settings``) and ``data/ir_config_parameter_data.xml`` store them; the
code reads them through :func:`get_int` and :func:`get_str` only.
readme/CONFIGURE.md lists them in one table (tools/doc_check.py checks it).
"""

PREFIX = "crm_pipeline_automation."

# Engagement points per event type (score_<event type>).
SCORE_DEFAULTS = {
    "email_open": 1,
    "link_click": 3,
    "email_received": 5,
    "email_sent": 0,
    "form_submitted": 10,
    "url_visited": 2,
    "call_incoming": 5,
    "call_outgoing": 2,
    "call_missed": 1,
    "chat_started": 5,
    "chat_accepted": 0,
    "chat_response_late": 0,
    "chat_keyword": 3,
    "meeting_scheduled": 10,
    "lead_idle": 0,
}

# name: (default, positive). A positive parameter set to 0 or less falls back to its
# default (a batch of 0 jobs, a validity of 0 days make no sense); the others keep 0
# ("keep all", "no points").
INTEGERS = {
    # Engine: a write moving at most this many leads runs their due jobs on save.
    "immediate_run_threshold": (20, True),
    # Dispatcher: jobs claimed per batch (one commit each).
    "job_batch_size": (200, True),
    # A write planning more jobs than this stores them as one plan for the dispatcher.
    "job_plan_threshold": (5000, True),
    "job_max_attempts": (5, True),
    "job_retry_base_minutes": (5, True),
    # Loop guard.
    "loop_max_moves_per_transaction": (10, True),
    # 0: no automatic move at all.
    "loop_max_moves_per_hour": (30, False),
    # Retention in days (0 keeps all).
    "ledger_retention_days": (365, False),
    "event_retention_days": (365, False),
    # Tracking links, pixels and cookies older than this are refused.
    "token_validity_days": (180, True),
    # Signed call webhook: oldest accepted timestamp.
    "call_replay_window_seconds": (300, True),
    # Tracking ingest queue (crm.lead.event.ingest): rows claimed per batch of the
    # processor, attempts before a row is "failed", days processed rows are kept.
    "ingest_batch_size": (500, True),
    "ingest_max_attempts": (5, True),
    "ingest_retention_days": (7, True),
    # Seconds a queued request may wait while the routes are in a burst (0: never).
    "ingest_burst_delay_seconds": (10, False),
    # Card badges: "recent" engagement.
    "engagement_recent_days": (30, True),
    # Machine verdicts of opens and clicks (engine/verdict.py).
    "verdict_min_seconds_after_send": (10, False),
    "verdict_burst_window_seconds": (5, True),
    "verdict_burst_min_links": (3, True),
    **{f"score_{event_type}": (points, False) for event_type, points in SCORE_DEFAULTS.items()},
}

STRINGS = {
    # Sites allowed to post visit beacons (CORS): comma-separated hosts.
    "snippet_domains": "",
}

# Per call source (call_source.<source>.<name>): secret, create_lead, team_id; no default.
CALL_SOURCE_KEYS = ("secret", "create_lead", "team_id")


def key(name):
    """Full ``ir.config_parameter`` key of ``name``."""
    return PREFIX + name


def default(name):
    """Declared default of the integer parameter ``name``."""
    return INTEGERS[name][0]


def _raw(env, name):
    # sudo: system parameters are readable by administrators only; callers are the
    # engine, crons and public routes, which read their own settings.
    return env["ir.config_parameter"].sudo().get_param(key(name))


def get_int(env, name):
    """Integer parameter ``name``: its declared default when unset or not a number."""
    value_default, positive = INTEGERS[name]
    raw = _raw(env, name)
    if raw in (False, None, ""):
        return value_default  # unset (get_param answers False)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return value_default
    if positive and value <= 0:
        return value_default
    return value


def get_str(env, name):
    """Text parameter ``name`` (declared in STRINGS), its default when unset."""
    return _raw(env, name) or STRINGS[name]


def get_call_source(env, source, name):
    """``call_source.<source>.<name>`` (None when unset)."""
    if name not in CALL_SOURCE_KEYS:
        raise KeyError(name)
    return _raw(env, f"call_source.{source}.{name}") or None
