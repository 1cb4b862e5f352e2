# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The "Condition" of rules and triggers: a domain on crm.lead kept as text."""

from odoo.osv import expression
from odoo.tools.safe_eval import safe_eval

from . import condition_words


def condition_domain(record):
    """Domain of ``record.filter_domain`` ([] when empty), evaluated with ``uid`` and
    ``user`` of the record's environment."""
    record.ensure_one()
    if not record.filter_domain:
        return []
    return safe_eval(record.filter_domain, {"uid": record.env.uid, "user": record.env.user})


def condition_words_of(record):
    """``record.filter_domain`` in words ("Stage is Qualified"), "" when empty: what
    the board, the dry-run and the ledger show instead of the domain literal."""
    record.ensure_one()
    return condition_words.describe(record.env, "crm.lead", record.filter_domain or "")


def and_leaves(domain):
    """Top-level AND leaves of ``domain`` (a domain with | or ! gives none): what the
    board can read off a condition without evaluating it."""
    normalized = expression.normalize_domain(domain)
    if any(token in ("|", "!") for token in normalized):
        return []
    return [token for token in normalized if isinstance(token, list | tuple)]


def team_ids(domain):
    """Team ids a condition restricts leads to (top-level team_id = / in leaves)."""
    teams = set()
    for field, operator, value in and_leaves(domain):
        if field == "team_id" and operator in ("=", "in"):
            values = value if isinstance(value, list | tuple) else [value]
            teams.update(v for v in values if isinstance(v, int))
    return teams
