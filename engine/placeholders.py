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


# Value of each placeholder for a crm.lead record.
_VALUES = {
    "name": lambda lead: lead.name or "",
    "partner_name": lambda lead: lead.partner_name or lead.partner_id.commercial_company_name or "",
    "contact_name": lambda lead: lead.contact_name or lead.partner_id.name or "",
    "email": lambda lead: lead.email_from or "",
    "phone": lambda lead: lead.phone or "",
    "user": lambda lead: lead.user_id.name or "",
    "team": lambda lead: lead.team_id.name or "",
    "stage": lambda lead: lead.stage_id.name or "",
    "date": lambda lead: fields.Date.to_string(fields.Date.context_today(lead)),
}


def render(text, lead):
    """Fill ``{placeholders}`` of ``text`` with values of ``lead`` (a crm.lead record);
    unknown placeholders stay, a malformed text is returned as is. Only the
    placeholders of the text are read (a rule renders it for every lead of a batch)."""
    if not text or "{" not in text:
        return text or ""
    try:
        used = {
            field.split(".")[0].split("[")[0]
            for _literal, field, _spec, _conv in string.Formatter().parse(text)
            if field
        }
        values = _KeepMissing({name: _VALUES[name](lead) for name in used if name in _VALUES})
        return string.Formatter().vformat(text, (), values)
    except (ValueError, IndexError, KeyError):
        return text
