# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Undo of automatic changes from the ledger (one row, or set-wise in bulk).

The ledger rows of automatic changes record what they replaced (``undo_data``, see
engine/undo.py). An undo restores it through normal writes flagged with the context key
``crm_automation_undo``: the addon treats them as a manager's correction, so no rule or
trigger runs again (pending jobs of an undone stage visit are cancelled, as when a
lead leaves a stage), and writes its own ledger row (kind ``undone``).
"""

from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import undo as undo_plan
from .crm_lead import UNDO_KEY

# Cursor-cache key: undo data of the jobs run in this transaction, by job id, until
# their ledger row is written (crm.automation.job._log_done).
JOB_UNDO_KEY = "crm_automation_job_undo"
# Keys of undo_data that something can be undone from.
UNDO_KEYS = frozenset({"fields", "tags", "activity_id", "lead_id"})
MANAGER_GROUP = "crm_pipeline_automation.group_automation_manager"


class CrmAutomationUndo(models.AbstractModel):
    _name = "crm.automation.undo"
    _description = "CRM Automation Undo"

    # ------------------------------------------------------------------
    # Recording (where the changes are logged)
    # ------------------------------------------------------------------

    @api.model
    def _stage_undo_data(self, lead, old_stage):
        """undo_data of the ledger row of an automatic stage move of ``lead``."""
        context = self.env.context
        if not old_stage or not context.get("crm_automation_auto") or context.get(UNDO_KEY):
            return None
        data = {"fields": {"stage_id": [old_stage.id, lead.stage_id.id]}}
        if context.get("crm_automation_trigger_id"):
            data["trigger_id"] = context["crm_automation_trigger_id"]
        return data

    @api.model
    def _stage_undo_message(self):
        """Message of the stage_entered rows of the stage restored by an undo."""
        if not self.env.context.get(UNDO_KEY):
            return None
        return _(
            "Stage restored by an undo (%(user)s); the undo does not re-run automation.",
            user=self.env.user.name,
        )

    @api.model
    def _probe(self, rule, lead):
        """Values of ``lead`` the action of ``rule`` may change, before it runs."""
        return self._probe_many(rule, lead)[0]

    @api.model
    def _probe_many(self, rule, leads):
        """``_probe`` of each of ``leads`` (read together: one query per field set)."""
        if rule.action_type not in undo_plan.UNDOABLE_ACTIONS:
            return [{} for _lead in leads]
        if rule.action_type == "update":
            names = {line.field_id.name for line in rule.update_line_ids} - {"stage_id"}
            if "user_id" in names:
                names.add("team_id")
        else:
            names = set(undo_plan.ACTION_FIELDS.get(rule.action_type, ()))
        names = sorted(names)
        return [undo_plan.snapshot(lead, names) for lead in leads]

    @api.model
    def _capture(self, rule, lead, job, before):
        """Store the undo data of ``job`` (its action just ran on ``lead``) until its
        ledger row is written; None for actions that cannot be taken back."""
        self._capture_many(rule, lead, job, [before], [job.activity_id.id])

    @api.model
    def _capture_many(self, rule, leads, jobs, befores, activity_ids):
        """``_capture`` of ``jobs`` (one per lead of ``leads``, same order), with the
        probes ``befores`` and the ids of the activities the jobs created."""
        if rule.action_type not in undo_plan.UNDOABLE_ACTIONS:
            return
        pending = self.env.cr.cache.setdefault(JOB_UNDO_KEY, {})
        for lead, job, before, activity_id in zip(leads, jobs, befores, activity_ids, strict=False):
            # "action": never empty (an empty JSON reads as no undo data): "nothing to
            # undo"
            data = {"action": rule.action_type, **pending.pop(job.id, {})}
            changes = undo_plan.diff(before, undo_plan.snapshot(lead, list(before)))
            tags = changes.pop("tag_ids", None)
            if tags:
                old, new = set(tags[0]), set(tags[1])
                data["tags"] = {"added": sorted(new - old), "removed": sorted(old - new)}
            if changes:
                data["fields"] = changes
            if rule.action_type == "activity" and activity_id:
                data["activity_id"] = activity_id
            if data.get("lead_id"):
                new_lead = self.env["crm.lead"].browse(data["lead_id"])
                data["lead_write_date"] = fields.Datetime.to_string(new_lead.write_date)
            pending[job.id] = data

    @api.model
    def _created_lead(self, job, lead):
        """The action of ``job`` created ``lead`` (repeat / copy): undo archives it."""
        pending = self.env.cr.cache.setdefault(JOB_UNDO_KEY, {})
        pending[job.id] = {"lead_id": lead.id}

    @api.model
    def _pop_job_data(self, job):
        """undo_data of the ledger row of ``job`` (None: nothing recorded)."""
        return self.env.cr.cache.get(JOB_UNDO_KEY, {}).pop(job.id, None)

    # ------------------------------------------------------------------
    # State of the ledger rows
    # ------------------------------------------------------------------

    @api.model
    def _undone_ids(self, logs):
        """Ids of ``logs`` already undone (an ``undone`` row points to them)."""
        if not logs:
            return set()
        rows = (
            self.env["crm.automation.log"]
            .sudo()
            ._read_group([("undo_of_id", "in", logs.ids)], ["undo_of_id"])
        )
        return {undo_of.id for (undo_of,) in rows}

    @api.model
    def _row_state(self, log, undone):
        """undo_state of ledger row ``log`` (False: not a change)."""
        if log.id in undone:
            return "undone"
        if log.undo_data:
            return "undoable" if UNDO_KEYS & log.undo_data.keys() else "nothing"
        if log.kind == "stage_entered":
            return "legacy" if log.automatic and log.from_stage_id else False
        if log.kind == "trigger_notified":
            return "irreversible"
        if log.kind == "rule_done":
            action = log.rule_id.sudo().action_type
            if action in undo_plan.IRREVERSIBLE_ACTIONS:
                return "irreversible"
            if action in undo_plan.UNDOABLE_ACTIONS:
                return "legacy"
        return False

    @api.model
    def _compute_undo_state(self, logs):
        real = logs.filtered("id")
        undone = self._undone_ids(real)
        for log in logs:
            log.undo_state = self._row_state(log, undone) if log.id else False

    @api.model
    def _row_label(self, log):
        """What kind of change ``log`` is, in words (preview counts)."""
        if log.kind == "stage_entered":
            return _("Stage move")
        if log.kind == "rule_done" and log.rule_id:
            rule = log.rule_id.sudo()
            return dict(rule._fields["action_type"]._description_selection(self.env))[
                rule.action_type
            ]
        return dict(log._fields["kind"]._description_selection(self.env))[log.kind]

    # ------------------------------------------------------------------
    # Undo
    # ------------------------------------------------------------------

    @api.model
    def _check_manager(self):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise UserError(_("Only automation managers can undo automatic changes."))

    @api.model
    def _action_undo(self, logs):
        """The Undo button: take back every row of ``logs`` or refuse with the reason."""
        self._check_manager()
        logs.check_access("read")
        self._undo(logs, strict=True)
        return True

    @api.model
    def _undo(self, logs, strict=False, dry_run=False):
        """Undo ``logs`` set-wise (see engine/undo.py).

        :param strict: refuse (UserError) when one row cannot be undone
        :param dry_run: decide only, write nothing (preview of the bulk wizard)
        :return: {"undone": [log], "changed": [(log, reason)], "legacy": [log],
            "irreversible": [log], "already": [log], "nothing": [log]}
        """
        report = defaultdict(list)
        undone = self._undone_ids(logs)
        candidates = []
        for log in logs.sorted("id"):
            state = self._row_state(log, undone)
            if state == "undoable":
                candidates.append(log)
            elif state == "undone":
                report["already"].append(log)
            elif state:
                report[state].append(log)
        if strict:
            self._refuse_not_undoable(report)
        verdicts = self._decide(candidates)
        for log in candidates:
            if verdicts[log.id]:
                report["changed"].append((log, verdicts[log.id]))
            else:
                report["undone"].append(log)
        if strict and report["changed"]:
            raise UserError("\n".join(reason for _log, reason in report["changed"]))
        if not dry_run and report["undone"]:
            self._apply(report["undone"])
        return report

    @api.model
    def _refuse_not_undoable(self, report):
        reasons = {
            "already": _("This change was already undone."),
            "legacy": _("Not undoable: recorded before undo existed."),
            "irreversible": _(
                "Cannot be taken back: it left the database (email, SMS, "
                "message, notification or server action)."
            ),
            "nothing": _("Nothing to undo: the rule changed nothing."),
        }
        for key, reason in reasons.items():
            if report[key]:
                raise UserError(reason)

    @api.model
    def _decide(self, logs):
        """{log id: None (can be undone) or why not (value changed since)}."""
        Lead = self.env["crm.lead"].with_context(active_test=False)
        verdicts = {}
        rows = []
        activity_ids = [
            log.undo_data["activity_id"] for log in logs if "activity_id" in log.undo_data
        ]
        activities = self.env["mail.activity"].with_context(active_test=False).browse(activity_ids)
        open_activities = set(activities.exists().filtered("active").ids)
        for log in logs:
            data = log.undo_data
            if "activity_id" in data and data["activity_id"] not in open_activities:
                verdicts[log.id] = _(
                    "Activity of %(lead)s is no longer open (done or deleted since).",
                    lead=log.lead_id.display_name,
                )
                continue
            if data.get("lead_id"):
                created = Lead.browse(data["lead_id"]).exists()
                found = fields.Datetime.to_string(created.write_date) if created else False
                if not created.active or found != data.get("lead_write_date"):
                    verdicts[log.id] = _(
                        "Lead %(lead)s created by the rule was changed since (last update "
                        "expected %(expected)s, found %(found)s).",
                        lead=created.display_name or data["lead_id"],
                        expected=data.get("lead_write_date"),
                        found=found if created.active else _("archived or deleted"),
                    )
                    continue
            rows.append((log.id, log.lead_id.id, data))
        names = undo_plan.field_names(rows)
        leads = Lead.browse({lead_id for _id, lead_id, _data in rows})
        current = self._current_values(leads, names)
        by_id = {log.id: log for log in logs}
        for row_id, changed in undo_plan.plan(rows, current).items():
            verdicts[row_id] = changed and self._changed_message(by_id[row_id], changed)
        return verdicts

    @api.model
    def _current_values(self, leads, names):
        """{(lead id, field): JSON value now} ("tag_ids": sets)."""
        current = {}
        for lead in leads:
            for name in names:
                value = undo_plan.field_value(lead, name)
                current[(lead.id, name)] = set(value) if name == "tag_ids" else value
        return current

    @api.model
    def _changed_message(self, log, changed):
        field = log.lead_id._fields[changed.field]
        if changed.field == "tag_ids":
            Tag = self.env["crm.tag"]
            return _(
                "%(field)s of %(lead)s changed since: expected %(expected)s still there and "
                "%(found)s still removed, found otherwise.",
                field=field._description_string(self.env),
                lead=log.lead_id.display_name,
                expected=", ".join(Tag.browse(changed.expected).mapped("name")) or "-",
                found=", ".join(Tag.browse(changed.found).mapped("name")) or "-",
            )
        return _(
            "%(field)s of %(lead)s changed since the automatic change: expected "
            "%(expected)s, found %(found)s.",
            field=field._description_string(self.env),
            lead=log.lead_id.display_name,
            expected=self._display(field, changed.expected),
            found=self._display(field, changed.found),
        )

    @api.model
    def _display(self, field, value):
        if field.type == "many2one":
            return self.env[field.comodel_name].browse(value).display_name if value else "-"
        if value is False or value is None:
            return "-"
        return str(value)

    @api.model
    def _apply(self, logs):
        """Write back what ``logs`` replaced, grouped by (field, value); ledger rows."""
        Lead = self.env["crm.lead"].with_context(active_test=False, **{UNDO_KEY: True})
        rows = [(log.id, log.lead_id.id, log.undo_data) for log in logs]
        names = undo_plan.field_names(rows)
        leads = Lead.browse({lead_id for _id, lead_id, _data in rows})
        initial = self._current_values(leads, names)
        final = {
            key: set(value) if isinstance(value, set) else value for key, value in initial.items()
        }
        undo_plan.plan(rows, final)
        groups = defaultdict(list)
        for (lead_id, name), value in final.items():
            before = initial[(lead_id, name)]
            if value == before:
                continue
            if name == "tag_ids":
                for tag_id in value - before:
                    groups[("tag_ids", (4, tag_id))].append(lead_id)
                for tag_id in before - value:
                    groups[("tag_ids", (3, tag_id))].append(lead_id)
            else:
                groups[(name, value if not isinstance(value, list) else tuple(value))].append(
                    lead_id
                )
        # Fields first, the stage last: the rules of the restored stage do not run, but
        # its pending jobs' conditions then see the restored values.
        for (name, value), lead_ids in sorted(groups.items(), key=lambda g: g[0][0] == "stage_id"):
            field = Lead._fields[name]
            if name == "tag_ids":
                vals = {name: [value]}
            else:
                vals = {
                    name: undo_plan.write_value(
                        field, list(value) if isinstance(value, tuple) else value
                    )
                }
            Lead.browse(lead_ids).write(vals)
        activity_ids = [
            log.undo_data["activity_id"] for log in logs if "activity_id" in log.undo_data
        ]
        if activity_ids:
            self.env["mail.activity"].browse(activity_ids).unlink()
        created_ids = [log.undo_data["lead_id"] for log in logs if log.undo_data.get("lead_id")]
        if created_ids:
            Lead.browse(created_ids).write({"active": False})
        self._log_undone(logs)

    @api.model
    def _log_undone(self, logs):
        message = _(
            "Undone by %(user)s; the undo does not re-run automation.", user=self.env.user.name
        )
        self.env["crm.automation.log"].sudo()._log_many(
            [
                {
                    "lead_id": log.lead_id.id,
                    "kind": "undone",
                    "rule_id": log.rule_id.id,
                    "stage_id": log.stage_id.id,
                    "from_stage_id": log.from_stage_id.id,
                    "undo_of_id": log.id,
                    "automatic": False,
                    "message": message,
                }
                for log in logs
            ]
        )
