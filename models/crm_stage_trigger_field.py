# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""crm.stage.trigger, "Field value changed" kind (``field_changed``): when a watched
field of a lead changes (a tag added or removed, the salesperson, the priority, the
expected revenue or the engagement score crossing a threshold), move the lead.

``crm.lead.write`` learns from the cached configuration which fields are watched
(``_automation_config().watched_fields``) and snapshots only those; the changes of a
whole write are evaluated here at once, in memory (``engine/field_change.py``).
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine import field_change, stage_graph


class CrmStageTrigger(models.Model):
    _name = "crm.stage.trigger"
    # The mixin clears the cached configuration (watched fields, activity triggers).
    _inherit = ["crm.stage.trigger", "crm.automation.config.mixin"]

    _automation_config_fields = (
        "event_type",
        "state",
        "active",
        "watch_field",
        "fire_on_automatic",
    )

    watch_field = fields.Selection(
        selection="_selection_watch_field",
        string="Field",
        help="field_changed: the field of the lead whose change moves it.",
    )
    watch_change = fields.Selection(
        field_change.CHANGES,
        "Change",
        default="any",
        help="field_changed: any change; changes to / from a value (for tags: the tag is "
        "added / removed); reaches: a number or a priority crosses the value upwards.",
    )
    watch_value = fields.Char(
        "Value",
        help="field_changed: the value for 'changes to', 'changes from' and 'reaches': "
        "a name (tag, salesperson...) or id, a choice's label, a number, yes/no.",
    )
    watch_value_key = fields.Char(
        compute="_compute_watch_value_key",
        store=True,
        help="The value as compared with the lead's (record ids, selection key, number).",
    )
    fire_on_automatic = fields.Boolean(
        "Also on automatic changes",
        help="field_changed: also when the automation itself changed the field (a rule's "
        "update, tags or assignment). Off: only changes made by people and integrations.",
    )

    @api.model
    def _selection_watch_field(self):
        Lead = self.env["crm.lead"]
        names = [
            (name, field._description_string(self.env))
            for name, field in Lead._fields.items()
            if field_change.watchable(field)
        ]
        return sorted(names, key=lambda item: item[1].lower())

    @api.depends("watch_field", "watch_value", "watch_change")
    def _compute_watch_value_key(self):
        for trigger in self:
            try:
                trigger.watch_value_key = trigger._resolve_watch_value()
            except ValidationError:
                trigger.watch_value_key = False

    @api.constrains("event_type", "watch_field", "watch_change", "watch_value")
    def _check_watch(self):
        for trigger in self.filtered(lambda t: t.event_type == "field_changed"):
            field = self.env["crm.lead"]._fields.get(trigger.watch_field or "")
            if not field or not field_change.watchable(field):
                raise ValidationError(
                    _("Trigger %(name)s: choose the field to watch.", name=trigger.name)
                )
            if trigger.watch_change == "reached" and field.type not in (
                *field_change.NUMERIC_TYPES,
                "selection",
            ):
                raise ValidationError(
                    _(
                        "Trigger %(name)s: only numbers and choices (such as the priority) "
                        "can reach a value.",
                        name=trigger.name,
                    )
                )
            trigger._resolve_watch_value()

    def _resolve_watch_value(self):
        """The trigger's value as canonical text ("" for "changes"), or a clear error."""
        self.ensure_one()
        field = self.env["crm.lead"]._fields.get(self.watch_field or "")
        if self.event_type != "field_changed" or not field or self.watch_change == "any":
            return ""
        text = (self.watch_value or "").strip()
        if not text and field.type not in ("char", "boolean", "many2one", "selection"):
            raise ValidationError(_("Trigger %(name)s: give the value.", name=self.name))
        if field.type in ("many2one", "many2many"):
            if not text:
                return ""
            # sudo: a manager names a tag or a user; only ids are kept.
            Comodel = self.env[field.comodel_name].sudo().with_context(active_test=False)
            if text.isdigit():
                records = Comodel.browse(int(text)).exists()
            else:
                records = Comodel.search([(Comodel._rec_name or "id", "=ilike", text)], limit=1)
            if not records:
                raise ValidationError(
                    _(
                        "Trigger %(name)s: no %(model)s named “%(value)s”.",
                        name=self.name,
                        model=Comodel._description,
                        value=text,
                    )
                )
            return str(records.id)
        if field.type == "selection":
            for key, label in field._description_selection(self.env):
                if text.lower() in (str(key).lower(), str(label).lower()):
                    return key
            if not text:
                return ""
            raise ValidationError(
                _(
                    "Trigger %(name)s: “%(value)s” is not one of the choices of %(field)s.",
                    name=self.name,
                    value=text,
                    field=field._description_string(self.env),
                )
            )
        if field.type == "boolean":
            return "1" if text.lower() in ("1", "true", "yes", "y", "✓") else "0"
        if field.type in field_change.NUMERIC_TYPES:
            try:
                return repr(float(text.replace(",", ".")))
            except ValueError as error:
                raise ValidationError(
                    _("Trigger %(name)s: “%(value)s” is not a number.", name=self.name, value=text)
                ) from error
        return text

    def _match_field_changed(self, event):
        field = self.env["crm.lead"]._fields.get(self.watch_field or "")
        if not field or event.field_name != self.watch_field:
            return False
        return field_change.matches(
            field,
            self.env,
            self.watch_change,
            self.watch_value_key or "",
            event.old_value or "",
            event.new_value or "",
        )

    def _describe_field_changed(self):
        labels = dict(self._fields["watch_change"]._description_selection(self.env))
        field = self.env["crm.lead"]._fields.get(self.watch_field or "")
        name = field._description_string(self.env) if field else self.watch_field or "?"
        if self.watch_change == "any" or not field:
            return f"{name} {labels.get(self.watch_change, '')}".strip()
        value = field_change.readable(field, self.env, self.watch_value_key or "")
        return f"{name} {labels[self.watch_change]} {value}"

    def _field_change_edges(self, rule, may_move):
        """Board edges: the ``tags`` action of ``rule`` (tags, points) fires those of
        ``self`` that watch tags or the score on automatic changes.

        :param may_move: function (trigger, stage) -> whether it may move a lead there
        """
        added = {str(tag_id) for tag_id in rule.tag_add_ids.ids}
        removed = {str(tag_id) for tag_id in rule.tag_remove_ids.ids}
        board = self.env["crm.automation.board"]
        edges = []
        for trigger in self.filtered(
            lambda t: t.event_type == "field_changed" and t.fire_on_automatic
        ):
            change, key = trigger.watch_change, trigger.watch_value_key
            if trigger.watch_field == "tag_ids":
                fires = (
                    (change == "any" and (added or removed))
                    or (change == "to" and key in added)
                    or (change == "from" and key in removed)
                )
            elif trigger.watch_field == "engagement_score":
                fires = rule.score_delta and (change != "reached" or rule.score_delta > 0)
            else:
                fires = False
            if fires and may_move(trigger, rule.stage_id):
                edges.append(
                    stage_graph.Edge(
                        rule.stage_id,
                        trigger.stage_id,
                        _(
                            "rule %(rule)s changes %(field)s, trigger %(trigger)s moves the "
                            "lead to %(stage)s",
                            rule=board._label(rule),
                            field=trigger._describe_field_changed(),
                            trigger=board._label(trigger),
                            stage=trigger.stage_id.name,
                        ),
                        triggers=[trigger.id],
                        rules=[rule.id],
                    )
                )
        return edges

    # ------------------------------------------------------------------
    # Dry-run (board "Test on a lead")
    # ------------------------------------------------------------------

    @api.model
    def _dry_run_field_values(self, lead, detail):
        """Event values of the change "Field: value" of ``lead`` (its value now is the
        old one); for tags, "Tags: VIP" adds VIP and "Tags: -VIP" removes it."""
        field_text, sep, value = str(detail or "").partition(":")
        field_text, value = field_text.strip(), value.strip()
        Lead = lead.env["crm.lead"]
        field = Lead._fields.get(field_text) or next(
            (
                f
                for f in Lead._fields.values()
                if f._description_string(lead.env).lower() == field_text.lower()
            ),
            None,
        )
        if not field or not field_change.watchable(field) or not sep:
            raise UserError(
                _("Give the field and its new value, e.g. “Priority: High” or “Tags: -VIP”.")
            )
        removed = field.type == "many2many" and value.startswith("-")
        probe = self.new(
            {
                "name": field_text,
                "event_type": "field_changed",
                "watch_field": field.name,
                "watch_change": "to",
                "watch_value": value.lstrip("-").strip() if removed else value,
            }
        )
        try:
            target = probe._resolve_watch_value()
        except ValidationError as error:
            raise UserError(error.args[0]) from error
        old = field_change.canonical(field, lead[field.name])
        new = target
        if field.type == "many2many":
            ids = {int(i) for i in old.split(",") if i}
            ids = ids - {int(target)} if removed else ids | {int(target)}
            new = ",".join(str(i) for i in sorted(ids))
        return {
            "field_name": field.name,
            "old_value": old,
            "new_value": new,
            "text": _(
                "%(field)s: %(old)s → %(new)s",
                field=field._description_string(lead.env),
                old=field_change.readable(field, lead.env, old),
                new=field_change.readable(field, lead.env, new),
            ),
        }

    # ------------------------------------------------------------------
    # Firing (called by crm.lead.write and the engagement score)
    # ------------------------------------------------------------------

    @api.model
    def _lead_work_config(self):
        """Part of ``crm.lead._automation_config()``: (watched fields {name: fires on
        automatic changes too}, some "activity done" trigger, creation of the oldest
        "activity late" trigger or None)."""
        triggers = self.sudo().search_fetch(
            [
                ("state", "=", "active"),
                ("event_type", "in", ("field_changed", "activity_done", "activity_late")),
            ],
            ["event_type", "watch_field", "fire_on_automatic", "create_date"],
        )
        watched = {}
        for trigger in triggers.filtered(lambda t: t.event_type == "field_changed"):
            if trigger.watch_field:
                watched[trigger.watch_field] = (
                    watched.get(trigger.watch_field, False) or trigger.fire_on_automatic
                )
        late = triggers.filtered(lambda t: t.event_type == "activity_late")
        return (
            watched,
            any(t.event_type == "activity_done" for t in triggers),
            min(late.mapped("create_date")) if late else None,
        )

    @api.model
    def _snapshot_fields(self, leads, names):
        """{lead id: {field: canonical value}} of ``leads`` (one read for all)."""
        Lead = self.env["crm.lead"]
        return {
            lead.id: {
                name: field_change.canonical(Lead._fields[name], lead[name]) for name in names
            }
            for lead in leads
        }

    @api.model
    def _fire_field_changes(self, leads, before):
        """Changes of ``leads`` since ``before`` (``_snapshot_fields``): one event per
        change some trigger accepts, fired with those triggers. Evaluated set-wise:
        one search of the triggers, comparisons in memory.

        :return: crm.lead.event created
        """
        Event = self.env["crm.lead.event"].sudo()
        changes = []
        names = set()
        for lead in leads:
            for name, old in before.get(lead.id, {}).items():
                new = field_change.canonical(lead._fields[name], lead[name])
                if new != old:
                    changes.append((lead, name, old, new))
                    names.add(name)
        if not changes:
            return Event
        # sudo: the triggers are the managers' configuration; whoever changed the lead
        # (a salesperson, an import) fires them.
        domain = [
            ("event_type", "=", "field_changed"),
            ("state", "=", "active"),
            ("watch_field", "in", list(names)),
        ]
        if self.env.context.get("crm_automation_auto"):
            domain.append(("fire_on_automatic", "=", True))
        triggers = self.sudo().search(domain)
        vals_list = []
        for lead, name, old, new in changes:
            if any(
                trigger.watch_field == name
                and trigger.stage_id.team_id in (lead.team_id, self.env["crm.team"])
                and field_change.matches(
                    lead._fields[name],
                    self.env,
                    trigger.watch_change,
                    trigger.watch_value_key or "",
                    old,
                    new,
                )
                for trigger in triggers
            ):
                field = lead._fields[name]
                vals_list.append(
                    {
                        "lead_id": lead.id,
                        "event_type": "field_changed",
                        "source": "field",
                        "field_name": name,
                        "old_value": old,
                        "new_value": new,
                        "text": _(
                            "%(field)s: %(old)s → %(new)s",
                            field=field._description_string(self.env),
                            old=field_change.readable(field, self.env, old),
                            new=field_change.readable(field, self.env, new),
                        )[:200],
                        "user_id": self.env.uid,
                    }
                )
        # sudo: events are the engine's records (read-only for users).
        events = Event.create(vals_list)
        for event in events:
            self.sudo()._fire_event(event, candidates=triggers)
        return events
