# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The JSON format of a pipeline's automation (readme/CONTRACTS.md, "Automation file format"): its
envelope, sections and exported fields, and the checks of a file before import."""

import ast
import json

from odoo.exceptions import UserError

FORMAT = "crm_pipeline_automation"
VERSION = 1
# Bound on uploaded files: a pipeline's automation is a few hundred kilobytes at most.
MAX_FILE_BYTES = 5 * 1024 * 1024

# The exported fields of each model, in output order. Adding a field to the format is
# one line here (its value is converted by its type; references as described above).
# ``company_id`` is left out on purpose: the importing company owns the records.
EXPORT_FIELDS = {
    "crm.activity.template": [
        "name",
        "sequence",
        "active",
        "description",
        "activity_type_id",
        "summary",
        "note",
        "deadline_count",
        "deadline_unit",
        "deadline_base",
        "date_field_id",
        "date_direction",
        "business_hours",
        "calendar_source",
        "resource_calendar_id",
        "reminder_count",
        "reminder_unit",
        "notify_leader_overdue",
        "auto_done_on_stage_change",
        "user_source",
        "user_id",
        "scope",
        "team_ids",
        "group_ids",
        "event_key",
        "lost_stage_ids",
    ],
    "crm.stage.trigger": [
        "name",
        "sequence",
        "active",
        "state",
        "stage_id",
        "event_type",
        "link_url",
        "url_patterns",
        "form_name",
        "mail_template_id",
        "line_numbers",
        "livechat_channel_id",
        "response_seconds",
        "keywords",
        "idle_days",
        "filter_domain",
        "hours_condition",
        "hours_calendar_id",
        "user_id",
        "allow_backward",
        "watch_field",
        "watch_change",
        "watch_value",
        "fire_on_automatic",
        "activity_type_id",
        "activity_action",
        "document_preset",
        "document_model",
        "document_domain",
        "document_lead_path",
        "move_when_gate_met",
    ],
    "crm.automation.rule": [
        "name",
        "sequence",
        "active",
        "state",
        "stage_id",
        "run_on",
        "lost_stage_ids",
        "action_type",
        "filter_domain",
        "timing",
        "delay_count",
        "delay_unit",
        "date_field_id",
        "date_direction",
        "business_hours",
        "calendar_source",
        "resource_calendar_id",
        "keep_running",
        "run_when_skipped",
        "activity_template_id",
        "activity_type_id",
        "activity_summary",
        "activity_note",
        "activity_deadline_count",
        "activity_deadline_unit",
        "activity_user_source",
        "activity_user_id",
        "activity_done_on_exit",
        "lead_name_template",
        "target_team_id",
        "target_stage_id",
        "target_user_source",
        "target_user_id",
        "mail_template_id",
        "sms_template_id",
        "recipient_target",
        "message_target",
        "message_channel_id",
        "message_body",
        "tag_add_ids",
        "tag_remove_ids",
        "score_delta",
        "assign_mode",
        "assign_user_id",
        "assign_team_id",
        "notify_target",
        "notify_user_ids",
        "notify_message",
        "update_line_ids",
        "server_action_id",
    ],
    "crm.automation.rule.update": ["sequence", "field_id", "value"],
}
# File section of each model.
SECTIONS = {
    "activity_templates": "crm.activity.template",
    "triggers": "crm.stage.trigger",
    "rules": "crm.automation.rule",
}
STAGE_KEYS = ("key", "name", "sequence", "is_won", "fold", "match")
# Domain leaves whose ids are stages: translated to stage keys of the file.
STAGE_DOMAIN_FIELDS = ("stage_id", "stage_id.id")


class Placeholder:
    """A record the import creates (stage, activity template of the file, tag)."""

    __slots__ = ("kind", "key")

    def __init__(self, kind, key):
        self.kind, self.key = kind, key


def domain_text(leaves, real):
    """Text of a condition given as leaves, ids of created records filled by ``real``."""

    def value(v):
        return [real(i) for i in v] if isinstance(v, list) else real(v)

    return str(
        [(leaf[0], leaf[1], value(leaf[2])) if isinstance(leaf, tuple) else leaf for leaf in leaves]
    )


def dedupe(key, used):
    """``key``, or ``key (2)``, ``key (3)``... when already in ``used`` (then added)."""
    candidate, count = key, 1
    while candidate in used:
        count += 1
        candidate = f"{key} ({count})"
    used.add(candidate)
    return candidate


def stage_ids_value(value):
    """True when ``value`` of a domain leaf is stage ids (an id or a list of ids)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def export_domain(text, stage_ref):
    """A condition as text, or as a list when stage ids had to become stage keys
    (``stage_ref(stage id)`` gives the reference of a stage)."""
    if not text:
        return None
    try:
        domain = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # uses uid, user, ...: kept as it is
    if not isinstance(domain, list):
        return text
    converted, changed = [], False
    for leaf in domain:
        if (
            isinstance(leaf, list | tuple)
            and len(leaf) == 3
            and leaf[0] in STAGE_DOMAIN_FIELDS
            and stage_ids_value(leaf[2])
        ):
            value = leaf[2]
            ids = [value] if isinstance(value, int) else list(value)
            refs = [stage_ref(i) for i in ids]
            leaf = [leaf[0], leaf[1], refs[0] if isinstance(value, int) else refs]
            changed = True
        elif isinstance(leaf, tuple):
            leaf = list(leaf)
        converted.append(leaf)
    return converted if changed else text


def parse(env, raw):
    """Decode and check the envelope of an automation file; UserError if invalid.

    :param raw: bytes or str of the file
    :return: dict
    """
    if isinstance(raw, bytes):
        if len(raw) > MAX_FILE_BYTES:
            raise UserError(env._("The file is too large for an automation file."))
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserError(env._("The file is not UTF-8 text: %(error)s", error=exc)) from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise UserError(env._("The file is not valid JSON: %(error)s", error=exc)) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(
            env._(
                "This is not a CRM pipeline automation file (expected " '"format": "%(format)s").',
                format=FORMAT,
            )
        )
    if data.get("version") != VERSION:
        raise UserError(
            env._(
                "Version %(version)s of the automation format is not supported (this "
                "database reads version %(supported)s).",
                version=data.get("version"),
                supported=VERSION,
            )
        )
    for section in ("stages", *SECTIONS):
        items = data.setdefault(section, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise UserError(env._('"%(section)s" must be a list of objects.', section=section))
    keys = [stage.get("key") for stage in data["stages"]]
    if not all(isinstance(key, str) and key for key in keys) or len(set(keys)) != len(keys):
        raise UserError(env._("Every stage needs a unique text key."))
    for stage in data["stages"]:
        unknown = set(stage) - set(STAGE_KEYS)
        if unknown:
            raise UserError(
                env._(
                    "Stage %(stage)s: unknown keys %(keys)s.",
                    stage=stage["key"],
                    keys=", ".join(sorted(unknown)),
                )
            )
    keys = [item.get("key") for item in data["activity_templates"]]
    if not all(isinstance(key, str) and key for key in keys) or len(set(keys)) != len(keys):
        raise UserError(env._("Every activity template needs a unique text key."))
    return data


def used_stage_keys(data):
    """Stage keys of the file used by its records (``{"stage": key}`` references)."""
    keys = set()

    def walk(value):
        if isinstance(value, dict):
            if set(value) == {"stage"}:
                keys.add(value["stage"])
            else:
                for inner in value.values():
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for section in SECTIONS:
        walk(data[section])
    return keys
