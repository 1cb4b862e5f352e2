# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The "Condition" of rules and triggers: a domain on crm.lead kept as text."""

from odoo.tools.safe_eval import safe_eval


def condition_domain(record):
    """Domain of ``record.filter_domain`` ([] when empty), evaluated with ``uid`` and
    ``user`` of the record's environment."""
    record.ensure_one()
    if not record.filter_domain:
        return []
    return safe_eval(record.filter_domain, {"uid": record.env.uid, "user": record.env.user})
