# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""``{placeholders}`` of lead titles, notifications and activity templates: {name},
{partner_name}, {contact_name}, {email}, {phone}, {user}, {team}, {stage}, {date}."""

import string

from odoo import fields


class _KeepMissing(dict):
    """Format map leaving unknown ``{placeholders}`` untouched."""

    def __missing__(self, key):
        return "{" + key + "}"


def render(text, lead):
    """Fill ``{placeholders}`` of ``text`` with values of ``lead`` (a crm.lead record);
    unknown placeholders stay, a malformed text is returned as is."""
    values = _KeepMissing(
        name=lead.name or "",
        partner_name=lead.partner_name or lead.partner_id.commercial_company_name or "",
        contact_name=lead.contact_name or lead.partner_id.name or "",
        email=lead.email_from or "",
        phone=lead.phone or "",
        user=lead.user_id.name or "",
        team=lead.team_id.name or "",
        stage=lead.stage_id.name or "",
        date=fields.Date.to_string(fields.Date.context_today(lead)),
    )
    try:
        return string.Formatter().vformat(text or "", (), values)
    except (ValueError, IndexError, KeyError):
        return text or ""
