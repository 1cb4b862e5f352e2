# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The "Field value changed" trigger: lead values as comparable text, and whether a
change from an old to a new value satisfies "changes", "changes to", "changes from"
or "reaches".

Values are kept as text (``canonical``) so that the snapshot taken before a write, the
event recorded after it and the dry-run compare the same way, in memory: a write of
1,000 leads is evaluated without a query per lead.
"""

# Field types a trigger may watch, and those that can "reach" a threshold.
WATCHABLE_TYPES = (
    "many2one",
    "many2many",
    "selection",
    "boolean",
    "integer",
    "float",
    "monetary",
    "char",
)
NUMERIC_TYPES = ("integer", "float", "monetary")
# Never watched: the stage (triggers move it), the engine's own bookkeeping, audit
# fields and mail / activity mixin fields (messages and activities are other triggers).
EXCLUDED_PREFIXES = ("automation_", "message_", "activity_", "website_message", "cpa_")
EXCLUDED_FIELDS = frozenset(
    {"stage_id", "create_uid", "write_uid", "id", "display_name", "company_currency"}
)
CHANGES = [
    ("any", "changes"),
    ("to", "changes to"),
    ("from", "changes from"),
    ("reached", "reaches"),
]


def watchable(field):
    """Whether a crm.lead field (``odoo.fields.Field``) may be watched."""
    return (
        field.store
        and field.type in WATCHABLE_TYPES
        and field.name not in EXCLUDED_FIELDS
        and not field.name.startswith(EXCLUDED_PREFIXES)
    )


def canonical(field, value):
    """``value`` (as read on a record) of ``field`` as comparable text."""
    if field.type == "many2one":
        return str(value.id) if value else ""
    if field.type in ("many2many", "one2many"):
        return ",".join(str(i) for i in sorted(value.ids))
    if field.type == "boolean":
        return "1" if value else "0"
    if field.type in NUMERIC_TYPES:
        return repr(float(value or 0))
    return value or ""


def _ids(text):
    return {int(part) for part in (text or "").split(",") if part}


def _rank(field, env, key):
    """Position of a selection key (priority "0" < "3"), or None."""
    keys = [item[0] for item in field._description_selection(env)]
    return keys.index(key) if key in keys else None


def matches(field, env, change, target, old, new):
    """Whether the change ``old`` -> ``new`` (canonical texts) of ``field`` satisfies
    the trigger's ``change`` with its ``target`` (canonical text, "" when none).

    Relations to many records: "changes to X" is X added, "changes from X" X removed.
    "reaches": the value crosses the threshold upwards (old below it, new at or above).
    """
    if old == new:
        return False
    if change == "any":
        return True
    if field.type in ("many2many", "one2many"):
        wanted, before, after = _ids(target), _ids(old), _ids(new)
        if change == "to":
            return bool(wanted) and wanted <= after and not wanted <= before
        if change == "from":
            return bool(wanted) and wanted <= before and not wanted <= after
        return False
    if change == "to":
        return new == target
    if change == "from":
        return old == target
    if change == "reached":
        if field.type in NUMERIC_TYPES:
            threshold = float(target or 0)
            return float(old or 0) < threshold <= float(new or 0)
        if field.type == "selection":
            limit, before, after = (_rank(field, env, key) for key in (target, old, new))
            if limit is None:
                return False
            before = -1 if before is None else before
            return after is not None and before < limit <= after
    return False


def readable(field, env, text):
    """A canonical value for people: record names, selection labels, numbers."""
    if field.type in ("many2one", "many2many", "one2many"):
        records = env[field.comodel_name].sudo().browse(sorted(_ids(text))).exists()
        return ", ".join(records.mapped("display_name")) or "-"
    if field.type == "selection":
        return dict(field._description_selection(env)).get(text, text) or "-"
    if field.type == "boolean":
        return {"1": "✓", "0": "✗"}.get(text, text)
    if field.type in NUMERIC_TYPES:
        number = float(text or 0)
        return str(int(number)) if number.is_integer() else str(number)
    return text or "-"


def choice_key(choices, text):
    """The key of the selection ``choices`` ([(key, label)]) named ``text`` by its key or
    its label (case ignored), or None."""
    for key, label in choices:
        if text.lower() in (str(key).lower(), str(label).lower()):
            return key
    return None


def boolean_text(text):
    """A yes/no typed by people as canonical text ("1" or "0")."""
    return "1" if text.lower() in ("1", "true", "yes", "y", "✓") else "0"


def number_text(text):
    """A number typed by people (decimal comma accepted) as canonical text; ValueError
    when it is no number."""
    return repr(float(text.replace(",", ".")))


def changes(leads, before):
    """[(lead, field name, old, new)] of the values of ``leads`` that differ from the
    snapshot ``before`` ({lead id: {field name: canonical value}}), read in memory."""
    found = []
    for lead in leads:
        for name, old in before.get(lead.id, {}).items():
            new = canonical(lead._fields[name], lead[name])
            if new != old:
                found.append((lead, name, old, new))
    return found


def watched(triggers):
    """{field name: fires on automatic changes too} of ``triggers`` (field_changed
    triggers: a field is watched on automatic changes when one of its triggers is)."""
    found = {}
    for trigger in triggers:
        if trigger.watch_field:
            found[trigger.watch_field] = found.get(trigger.watch_field, False) or (
                trigger.fire_on_automatic
            )
    return found


def fired_by_rule(watch_field, change, key, added, removed, score_delta):
    """Whether a rule's ``tags`` action (tag ids ``added`` and ``removed`` as text,
    engagement points ``score_delta``) satisfies a trigger watching ``watch_field``
    with ``change`` and its value ``key`` (automation board)."""
    if watch_field == "tag_ids":
        return bool(
            (change == "any" and (added or removed))
            or (change == "to" and key in added)
            or (change == "from" and key in removed)
        )
    if watch_field == "engagement_score":
        return bool(score_delta and (change != "reached" or score_delta > 0))
    return False


def toggle_id(old, target, removed):
    """The canonical ids ``old`` with ``target`` removed (``removed``) or added."""
    ids = _ids(old)
    ids = ids - {int(target)} if removed else ids | {int(target)}
    return ",".join(str(i) for i in sorted(ids))
