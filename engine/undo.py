# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Undo of automatic changes: what a ledger row records (``undo_data``) and the
set-wise plan of an undo, in plain Python.

``undo_data`` of a ledger row (JSON), every key optional::

    {"fields": {"stage_id": [old, new], "user_id": [old, new], ...},
     "tags": {"added": [tag ids], "removed": [tag ids]},
     "activity_id": id,           # activity created: undo = delete it if still open
     "lead_id": id, "lead_write_date": "...",   # lead created: undo = archive it
     "trigger_id": id}            # the trigger that made the move (bulk undo)

Values are JSON: a many2one is its id (False when empty), a many2many the sorted list
of its ids, dates and datetimes their Odoo string. The plan walks the rows newest first
on a simulated copy of the current values, so that several changes of one field of one
lead (A -> B by one rule, B -> C by another) unwind in order, then groups the final
values by (field, value): one write per group, whatever the number of rows.
"""

from odoo import fields

# Rule actions whose effect leaves the database (or the reader's mind): listed as
# "cannot be taken back", never silently skipped.
IRREVERSIBLE_ACTIONS = frozenset({"email", "sms", "notify", "message", "server_action"})
# Rule actions whose rows are undoable when they recorded their undo data.
UNDOABLE_ACTIONS = frozenset({"tags", "assign", "update", "activity", "repeat_lead", "copy_lead"})
# Fields snapshotted before a rule action runs (besides the update lines' fields).
ACTION_FIELDS = {
    "tags": ("tag_ids", "engagement_score"),
    "assign": ("user_id", "team_id"),
}


def field_value(record, name):
    """JSON value of field ``name`` of ``record`` (see the module docstring)."""
    field = record._fields[name]
    value = record[name]
    if field.type == "many2one":
        return value.id or False
    if field.type in ("many2many", "one2many"):
        return sorted(value.ids)
    if field.type == "date":
        return fields.Date.to_string(value) if value else False
    if field.type == "datetime":
        return fields.Datetime.to_string(value) if value else False
    if field.type == "html":
        return str(value) if value else False
    return value


def snapshot(record, names):
    """{field: JSON value} of ``names`` of ``record``."""
    return {name: field_value(record, name) for name in names}


def diff(before, after):
    """{field: [old, new]} of the fields whose value changed from ``before`` to ``after``."""
    return {name: [old, after[name]] for name, old in before.items() if after.get(name, old) != old}


def write_value(field, value):
    """Value of ``field`` to write back the JSON ``value``."""
    if field.type in ("many2many", "one2many"):
        return [(6, 0, value or [])]
    return value


class Changed(Exception):
    """The value was changed since the automatic change: (field, expected, found)."""

    def __init__(self, field, expected, found):
        super().__init__(field, expected, found)
        self.field, self.expected, self.found = field, expected, found


def plan(rows, current):
    """Simulate the undo of ``rows`` on ``current``, newest row first.

    :param rows: [(row id, lead id, undo_data)] (any order)
    :param current: {(lead id, field): JSON value} of the values now; changed in place
        to the values after the undo ("tag_ids" values are sets)
    :return: {row id: None (undone) or Changed}
    """
    verdicts = {}
    for row_id, lead_id, data in sorted(rows, key=lambda row: row[0], reverse=True):
        try:
            check(lead_id, data, current)
        except Changed as changed:
            verdicts[row_id] = changed
            continue
        for name, (old, _new) in (data.get("fields") or {}).items():
            current[(lead_id, name)] = old
        tags = data.get("tags")
        if tags:
            key = (lead_id, "tag_ids")
            current[key] = (current[key] - set(tags["added"])) | set(tags["removed"])
        verdicts[row_id] = None
    return verdicts


def check(lead_id, data, current):
    """Raise Changed when a value of ``data`` differs from ``current`` (simulated)."""
    for name, (_old, new) in (data.get("fields") or {}).items():
        found = current[(lead_id, name)]
        if found != new:
            raise Changed(name, new, found)
    tags = data.get("tags")
    if tags:
        found = current[(lead_id, "tag_ids")]
        missing = set(tags["added"]) - found
        back = set(tags["removed"]) & found
        if missing or back:
            raise Changed("tag_ids", sorted(missing), sorted(back))


def field_names(rows):
    """Lead fields the undo of ``rows`` reads and writes."""
    names = set()
    for _row_id, _lead_id, data in rows:
        names.update(data.get("fields") or ())
        if data.get("tags"):
            names.add("tag_ids")
    return names
