# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The automation board: one pipeline's triggers and rules by stage, the design-time
analysis of what moves leads between stages (loops, rules that never run, triggers
aiming at another pipeline), and the dry-run ("Test on a lead"): what the automation
would do, nothing written.

The dry-run's decisions come from the engine's own functions:
``crm.stage.trigger._decide_event`` (which trigger, where to, or why not),
``crm.lead._automation_rules_to_schedule`` (which rules, skipped-over stages included)
and ``crm.automation.job.plan._plan_jobs`` (condition, due time with delays and business
hours). The lead after the move is an in-memory copy (``new``): its stage is the target,
everything else is the stored lead.
"""

from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression

from ..engine import conditions, stage_graph
from .crm_activity_template import MEETING_KEY
from .crm_lead_event import EVENT_TYPES

# Customer reactions to an email the automation sent (engagement events that can fire
# triggers). ``email_sent`` is not one: the engine never records its own emails as
# sent by a salesperson (mail.message._cpa_record_email_event is not called on automatic posts).
EMAIL_REACTIONS = ("email_open", "link_click")
# Server action kinds that cannot move a lead (everything else "may move").
HARMLESS_SERVER_ACTIONS = ("next_activity", "followers", "remove_followers", "sms")
BOARD_MODELS = ("crm.stage.trigger", "crm.automation.rule")
# Event values a dry-run may set, by the field the trigger parameters read.
DETAIL_FIELD = {
    "link_click": "url",
    "url_visited": "url",
    "form_submitted": "form_name",
    "call_incoming": "line_number",
    "call_outgoing": "line_number",
    "call_missed": "line_number",
    "chat_keyword": "text",
    "chat_response_late": "seconds",
    "document": "text",
}
# Template events that are no engagement event: the dry-run tests them too (what the
# activity templates "create on" them would create, the rules run on lost leads).
LEAD_EVENTS = ("lead_lost",)


class CrmAutomationBoard(models.AbstractModel):
    _name = "crm.automation.board"
    _description = "CRM Automation Board"

    # ------------------------------------------------------------------
    # Board data (OWL client action)
    # ------------------------------------------------------------------

    @api.model
    def get_board(self, team_id=None):
        """Stages of a pipeline with their triggers (what brings leads in) and rules
        (what runs there), the pipeline's warnings and what the user may do.

        :param team_id: crm.team id; None: the user's team, else the first one
        :return: JSON-ready dict
        """
        team = self._get_team(team_id)
        stages = self._pipeline_stages(team)
        event_keys = dict(
            self.env["crm.activity.template"]._fields["event_key"]._description_selection(self.env)
        )
        triggers = self.env["crm.stage.trigger"].search([("stage_id", "in", stages.ids)])
        rules = self.env["crm.automation.rule"].search([("stage_id", "in", stages.ids)])
        triggers_by_stage, rules_by_stage = defaultdict(list), defaultdict(list)
        for trigger in triggers.sorted(lambda t: (t.sequence, t.id)):
            triggers_by_stage[trigger.stage_id.id].append(self._trigger_values(trigger))
        for rule in rules.sorted(lambda r: (r.sequence, r.id)):
            rules_by_stage[rule.stage_id.id].append(self._rule_values(rule))
        return {
            "team": {"id": team.id, "name": team.name} if team else False,
            "teams": [
                {"id": t.id, "name": t.name}
                for t in self.env["crm.team"].search([], order="sequence, name")
            ],
            "stages": [
                {
                    "id": stage.id,
                    "name": stage.name,
                    "is_won": stage.is_won,
                    "fold": stage.fold,
                    "triggers": triggers_by_stage[stage.id],
                    "rules": rules_by_stage[stage.id],
                    # Stage gate (requirements to enter) and rotting limit.
                    "gate": [gate._label() for gate in stage.gate_line_ids],
                    "idle_days": stage.automation_idle_days,
                }
                for stage in stages
            ],
            "warnings": self._analyze(team),
            "event_types": self.env["crm.stage.trigger"]
            ._fields["event_type"]
            ._description_selection(self.env),
            "action_types": self.env["crm.automation.rule"]
            ._fields["action_type"]
            ._description_selection(self.env),
            "can_edit": self._can_edit(),
            "lead_events": [[key, event_keys[key]] for key in LEAD_EVENTS],
        }

    @api.model
    def _can_edit(self):
        return self.env.user.has_group("crm_pipeline_automation.group_automation_manager")

    @api.model
    def _get_team(self, team_id=None):
        Team = self.env["crm.team"]
        if team_id:
            team = Team.browse(int(team_id)).exists()
            if not team:
                raise UserError(_("This sales team does not exist any more."))
            return team
        return Team._get_default_team_id(user_id=self.env.uid) or Team.search([], limit=1)

    @api.model
    def _pipeline_stages(self, team):
        """A team's pipeline: its stages and the shared ones, in kanban order."""
        return self.env["crm.stage"].search(
            ["|", ("team_id", "=", False), ("team_id", "=", team.id)]
        )

    @api.model
    def _trigger_values(self, trigger):
        # Labels in the user's language (the module constant holds the English source).
        labels = dict(trigger._fields["event_type"]._description_selection(self.env))
        if trigger.event_type == "field_changed":
            detail = trigger._describe_field_changed()
        elif trigger.event_type in ("activity_done", "activity_late"):
            detail = trigger._describe_activity()
        elif trigger.event_type == "document":
            detail = trigger.document_description or ""
        else:
            detail = (
                trigger.link_url
                or trigger.url_patterns
                or trigger.form_name
                or trigger.keywords
                or trigger.mail_template_id.name
                or ""
            )
        return {
            "id": trigger.id,
            "name": trigger.name,
            "event_type": trigger.event_type,
            "event": labels.get(trigger.event_type, trigger.event_type),
            "detail": detail.replace("\n", ", "),
            "state": trigger.state,
            # In words, as Odoo shows conditions ("Stage is Qualified"), never a domain.
            "condition": conditions.condition_words_of(trigger),
            "backward": trigger.allow_backward,
            "hours": trigger.hours_description or False,
        }

    @api.model
    def _rule_values(self, rule):
        labels = dict(rule._fields["action_type"]._description_selection(self.env))
        return {
            "id": rule.id,
            "name": rule.name,
            "action_type": rule.action_type,
            "action": labels.get(rule.action_type, rule.action_type),
            "timing": rule.timing_description,
            "detail": rule.action_description or False,
            "state": rule.state,
            "condition": conditions.condition_words_of(rule),
            "pending": rule.job_pending_count,
        }

    @api.model
    def resequence(self, model, ids):
        """Write ``sequence`` 10, 20... in the order of ``ids`` (drag and drop, arrows)."""
        if model not in BOARD_MODELS:
            raise UserError(_("Only triggers and rules can be reordered here."))
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise UserError(_("Invalid order."))
        records = self.env[model].browse(ids).exists()
        if len(records) != len(set(ids)):
            raise UserError(_("Some of these records were deleted meanwhile: reload the board."))
        for position, record_id in enumerate(ids, start=1):
            self.env[model].browse(record_id).write({"sequence": position * 10})
        return True

    @api.model
    def toggle_state(self, model, record_id):
        """Draft <-> active; activating a rule may open its confirmation wizard.

        :return: an action to run (wizard) or False
        """
        if model not in BOARD_MODELS:
            raise UserError(_("Only triggers and rules can be enabled here."))
        if not self._can_edit():
            raise AccessError(_("Only automation managers can enable or disable automation."))
        record = self.env[model].browse(int(record_id)).exists()
        if not record:
            raise UserError(_("This record was deleted meanwhile: reload the board."))
        if record.state == "active":
            record.action_set_draft()
            return False
        result = record.action_activate()
        return result if isinstance(result, dict) else False

    # ------------------------------------------------------------------
    # Analysis
    # ------------------------------------------------------------------

    @api.model
    def _analyze(self, team):
        """Warnings of a pipeline, for people: loops, rules that can never run,
        triggers and rules aiming at a stage of another pipeline, server actions that
        may move leads. Draft and active records count (the board is for design).

        :return: list of {kind, message, trigger_ids, rule_ids}
        """
        if not team:
            return []
        stages = self._pipeline_stages(team)
        triggers = self.env["crm.stage.trigger"].search([("stage_id", "in", stages.ids)])
        rules = self.env["crm.automation.rule"].search([("stage_id", "in", stages.ids)])
        edges, warnings = self._move_edges(stages, triggers, rules)
        warnings += self._loop_warnings(edges)
        warnings += self._never_run_warnings(rules, edges)
        warnings += self._other_pipeline_warnings(team, stages, rules)
        return warnings

    @api.model
    def _label(self, record):
        if record.state == "draft":
            return _("“%(name)s” (draft)", name=record.name)
        return _("“%(name)s”", name=record.name)

    @api.model
    def _move_edges(self, stages, triggers, rules):
        """Edges stage -> stage of automatic moves and creations.

        :return: (list of Edge, list of "may move" warnings)
        """
        # Rules run on lost leads move no open lead out of their stage: no edge.
        rules = rules.filtered(lambda rule: rule.run_on == "stage_entry")
        edges, warnings = [], []
        for rule in rules:
            method = getattr(self, f"_edges_{rule.action_type}", None)
            if method:
                found, warning = method(rule, stages, triggers)
                edges += [edge for edge in found if edge.source != edge.target or edge.creates]
                if warning:
                    warnings.append(warning)
        return edges, warnings

    @api.model
    def _trigger_moves(self, trigger, source):
        """Whether ``trigger`` may move a lead sitting in ``source`` (forward-only)."""
        target = trigger.stage_id
        return target != source and (trigger.allow_backward or target.sequence > source.sequence)

    @api.model
    def _edges_email(self, rule, stages, triggers):
        """The email can be opened and clicked: triggers on those reactions move on
        (emails to internal people: their opens and clicks are not tracked)."""
        edges = []
        if rule.recipient_target != "customer":
            return edges, None
        for trigger in triggers.filtered(lambda t: t.event_type in EMAIL_REACTIONS):
            if trigger.mail_template_id and trigger.mail_template_id != rule.mail_template_id:
                continue
            if self._trigger_moves(trigger, rule.stage_id):
                edges.append(
                    stage_graph.Edge(
                        rule.stage_id,
                        trigger.stage_id,
                        _(
                            "rule %(rule)s sends an email, trigger %(trigger)s moves the lead "
                            "to %(stage)s when it is %(event)s",
                            rule=self._label(rule),
                            trigger=self._label(trigger),
                            stage=trigger.stage_id.name,
                            event=_("opened")
                            if trigger.event_type == "email_open"
                            else _("clicked"),
                        ),
                        triggers=[trigger.id],
                        rules=[rule.id],
                    )
                )
        return edges, None

    @api.model
    def _edges_tags(self, rule, stages, triggers):
        """Tags and points of the rule may fire "field value changed" triggers that
        also react to the engine's own changes."""
        return triggers._field_change_edges(rule, self._trigger_moves), None

    @api.model
    def _edges_update(self, rule, stages, triggers):
        edges = []
        # sudo: field metadata (ir.model.fields) is readable by administrators only;
        # only the stage id leaves this method.
        lines = rule.update_line_ids.sudo().filtered(lambda line: line.field_id.name == "stage_id")
        for line in lines:
            try:
                target = self.env["crm.stage"].browse(line._convert_value() or [])
            except ValidationError:
                # The stage was deleted since: the rule fails when it runs, no move.
                continue
            if target:
                edges.append(self._rule_move_edge(rule, target))
        return edges, None

    @api.model
    def _rule_move_edge(self, rule, target):
        return stage_graph.Edge(
            rule.stage_id,
            target,
            _(
                "rule %(rule)s moves the lead to %(stage)s",
                rule=self._label(rule),
                stage=target.name,
            ),
            rules=[rule.id],
        )

    @api.model
    def _edges_server_action(self, rule, stages, triggers):
        action = rule.server_action_id.sudo()
        if not action or action.state in HARMLESS_SERVER_ACTIONS:
            return [], None
        if action.state == "object_write":
            if action.update_path != "stage_id":
                return [], None
            value = (action.value or "").strip()
            if action.evaluation_type == "value" and value.isdigit():
                target = self.env["crm.stage"].browse(int(value)).exists()
                if target:
                    return [self._rule_move_edge(rule, target)], None
        return [], {
            "kind": "may_move",
            "message": _(
                "Rule %(rule)s runs the server action “%(action)s”, which may move leads: "
                "loops through it cannot be checked.",
                rule=self._label(rule),
                action=action.name,
            ),
            "trigger_ids": [],
            "rule_ids": [rule.id],
        }

    @api.model
    def _edges_create(self, rule, stages, triggers):
        """repeat_lead / copy_lead create a lead that enters the target stage."""
        team = rule.target_team_id or rule.target_stage_id.team_id or rule.stage_id.team_id
        target = rule.target_stage_id or self.env["crm.lead"]._stage_find(
            team_id=team.id, domain=[("fold", "=", False)]
        )
        if target not in stages:
            return [], None
        edge = stage_graph.Edge(
            rule.stage_id,
            target,
            _(
                "rule %(rule)s creates a lead in %(stage)s",
                rule=self._label(rule),
                stage=target.name,
            ),
            rules=[rule.id],
            creates=True,
        )
        return [edge], None

    _edges_repeat_lead = _edges_create
    _edges_copy_lead = _edges_create

    @api.model
    def _loop_warnings(self, edges):
        warnings = []
        for cycle in stage_graph.cycles(edges):
            path = " → ".join([cycle[0].source.name] + [edge.target.name for edge in cycle])
            creates = any(edge.creates for edge in cycle)
            warnings.append(
                {
                    "kind": "loop",
                    "message": _(
                        "Possible loop %(path)s: %(steps)s.%(creates)s",
                        path=path,
                        steps="; ".join(edge.message for edge in cycle),
                        creates=" " + _("Each round creates a new lead.") if creates else "",
                    ),
                    "trigger_ids": sorted({t for edge in cycle for t in edge.triggers}),
                    "rule_ids": sorted({r for edge in cycle for r in edge.rules}),
                }
            )
        return warnings

    @api.model
    def _never_run_warnings(self, rules, edges):
        warnings = []
        for rule in rules:
            reason = self._never_runs(rule, rules, edges)
            if reason:
                warnings.append(
                    {
                        "kind": "never_runs",
                        "message": _(
                            "Rule %(rule)s can never run: %(reason)s",
                            rule=self._label(rule),
                            reason=reason,
                        ),
                        "trigger_ids": [],
                        "rule_ids": [rule.id],
                    }
                )
        return warnings

    @api.model
    def _never_runs(self, rule, rules, edges):
        """Why ``rule`` can never run (clear cases only), or None."""
        if rule.run_on == "lead_lost":
            # The stage-entry reasons (stage in the condition, leads moved out at
            # once) do not apply to a lost lead; a condition never true still does.
            if expression.is_false(self.env["crm.lead"], rule._get_domain()):
                return _("its condition %(domain)s is never true.", domain=rule.filter_domain)
            return None
        domain = rule._get_domain()
        leaves = conditions.and_leaves(domain)
        if expression.is_false(self.env["crm.lead"], domain) or any(
            leaf[0] == "id" and leaf[1] in ("=", "in") and leaf[2] in (0, False, [], [0])
            for leaf in leaves
        ):
            return _(
                "its condition %(domain)s is never true.",
                domain=conditions.condition_words_of(rule),
            )
        for field, operator, value in leaves:
            if field != "stage_id" or operator not in ("=", "in"):
                continue
            values = value if isinstance(value, list | tuple) else [value]
            if all(isinstance(v, int) for v in values) and rule.stage_id.id not in values:
                return _(
                    "its condition asks for another stage, but it is checked when the lead "
                    "is in %(stage)s.",
                    stage=rule.stage_id.name,
                )
        if rule.timing != "immediate" and not rule.keep_running:
            for other in rules:
                if (
                    other != rule
                    and other.stage_id == rule.stage_id
                    and other.timing == "immediate"
                    and not other._get_domain()
                    and any(
                        edge.rules == [other.id] and not edge.creates and edge.source != edge.target
                        for edge in edges
                    )
                ):
                    return _(
                        "rule %(other)s moves every lead out of %(stage)s at once, which "
                        "cancels its pending jobs (set “Keep running after exit” to run it "
                        "anyway).",
                        other=self._label(other),
                        stage=rule.stage_id.name,
                    )
        return None

    @api.model
    def _other_pipeline_warnings(self, team, stages, rules):
        """Triggers that wait for leads of this pipeline to move them to a stage of
        another one (they never fire: triggers only move leads within their pipeline),
        and rules moving leads out of their pipeline's stages."""
        warnings = []
        Trigger = self.env["crm.stage.trigger"]
        candidates = Trigger.search(
            [("stage_id.team_id", "!=", False), ("stage_id.team_id", "!=", team.id)]
        )
        for trigger in candidates:
            teams = conditions.team_ids(trigger._get_domain())
            if team.id in teams:
                warnings.append(
                    {
                        "kind": "other_pipeline",
                        "message": _(
                            "Trigger %(trigger)s targets %(stage)s of the pipeline %(other)s "
                            "but only applies to leads of %(team)s: it never fires (triggers "
                            "move leads within their own pipeline).",
                            trigger=self._label(trigger),
                            stage=trigger.stage_id.name,
                            other=trigger.stage_id.team_id.name,
                            team=team.name,
                        ),
                        "trigger_ids": [trigger.id],
                        "rule_ids": [],
                    }
                )
        for rule in rules.filtered(lambda r: r.action_type == "update"):
            fields_set = rule.update_line_ids.sudo().mapped("field_id.name")
            if "team_id" in fields_set:
                continue
            moves, _warning = self._edges_update(rule, stages, Trigger)
            for move in moves:
                if move.target not in stages:
                    warnings.append(
                        {
                            "kind": "other_pipeline",
                            "message": _(
                                "Rule %(rule)s moves leads to %(stage)s of the pipeline "
                                "%(other)s without changing their sales team: they leave "
                                "their pipeline.",
                                rule=self._label(rule),
                                stage=move.target.name,
                                other=move.target.team_id.name,
                            ),
                            "trigger_ids": [],
                            "rule_ids": [rule.id],
                        }
                    )
        return warnings

    # ------------------------------------------------------------------
    # Dry-run ("Test on a lead")
    # ------------------------------------------------------------------

    @api.model
    def _dry_run(self, lead_id, event_type=None, stage_id=None, detail=None):
        """``crm.lead.automation_dry_run``: the engine's decisions for lead ``lead_id``
        on an event (an engagement event or one of ``LEAD_EVENTS``), or on entering a
        stage, JSON-ready (records as names and ids), with the activities the templates
        "create on" that event would create."""
        Lead = self.env["crm.lead"]
        lead = Lead.browse(int(lead_id)).exists() if str(lead_id).isdigit() else Lead
        if not lead:
            raise UserError(_("Choose a lead to test on."))
        lead.check_access("read")
        if event_type in LEAD_EVENTS:
            result = self._dry_run_json(lead, self._dry_run_lost_rules(lead))
            for rule in result["rules"]:
                rule["skipped_over"] = False
        else:
            if event_type:
                if event_type not in dict(EVENT_TYPES):
                    raise UserError(_("Unknown event %(event)s.", event=event_type))
                event = self._dry_run_event(lead, event_type, detail)
                result = self._dry_run_decisions(lead, event=event)
            else:
                stage = (
                    self.env["crm.stage"].browse(int(stage_id)).exists()
                    if str(stage_id or "").isdigit()
                    else None
                )
                if not stage:
                    raise UserError(_("Choose an event or a stage to test."))
                result = self._dry_run_decisions(lead, stage=stage)
            result = self._dry_run_json(lead, result)
        result["activities"] = self._dry_run_activities(lead, event_type) if event_type else []
        return result

    @api.model
    def _dry_run_event(self, lead, event_type, detail=None):
        """An engagement event of ``lead`` in memory (never stored), as a human would
        make it."""
        lead.ensure_one()
        values = {"lead_id": lead.id, "event_type": event_type, "source": "manual"}
        if event_type == "field_changed":
            values.update(self.env["crm.stage.trigger"]._dry_run_field_values(lead, detail))
        elif event_type in ("activity_done", "activity_late"):
            values.update(self.env["crm.stage.trigger"]._dry_run_activity_values(lead, detail))
        name = DETAIL_FIELD.get(event_type)
        if name and detail not in (None, ""):
            if name == "seconds":
                try:
                    values[name] = int(detail)
                except (TypeError, ValueError) as error:
                    raise UserError(_("Give the waiting time in seconds.")) from error
            elif name == "line_number":
                values[name] = lead.env["crm.lead.event"]._phone_e164(str(detail)) or str(detail)
            else:
                values[name] = str(detail)[:2000]
        return lead.env["crm.lead.event"].new(values)

    @api.model
    def _dry_run_decisions(self, lead, event=None, stage=None):
        """The decisions of the engine for ``event`` (or entering ``stage``) on ``lead``.

        :return: dict: ``trackable`` (False: opted out, events are not recorded),
            ``decision`` (``_decide_event``'s dict, events only), ``entered`` (stage the
            lead would enter, or empty), ``loop_stopped`` (guard message or None),
            ``rules`` [(rule, run_at or None, skip message or None)], ``cancelled``
            (pending jobs the move would cancel)
        """
        lead.ensure_one()
        env = lead.env
        now = fields.Datetime.now()
        result = {
            "trackable": True,
            "decision": None,
            "entered": env["crm.stage"],
            "loop_stopped": None,
            "rules": [],
            "cancelled": env["crm.automation.job"],
            "notify": env["crm.stage.trigger"],
        }
        automatic = False
        if event is not None:
            # Documents (orders, invoices) are business, not tracking: opted-out leads
            # move on them too (crm.lead.event._record_document_event).
            if event.event_type != "document" and not lead._cpa_trackable():
                result["trackable"] = False
                return result
            decision = env["crm.stage.trigger"]._decide_event(lead, event)
            result["decision"] = decision
            result["notify"] = env["crm.stage.trigger"]._notify_triggers(lead, event)
            if decision["state"] != "fired":
                return result
            stage, automatic = decision["stage"], True
        if not stage or stage == lead.stage_id:
            return result
        result["entered"] = stage
        # The stage's gate: a trigger's move missing it is held, a user's refused.
        result["gate_missing"] = env["crm.stage.gate"]._missing(lead, stage).get(lead.id, [])
        if result["gate_missing"]:
            return result
        # The engine's guard on automatic entries (this move counted).
        if automatic:
            result["loop_stopped"] = lead._automation_loop_guard_refusals(extra=1).get(lead.id)
        # sudo: every pending job of the lead counts, whoever may read them (the
        # engine cancels them all); the caller gets them without superuser rights.
        result["cancelled"] = (
            env["crm.automation.job"]
            .sudo()
            .search(
                [
                    ("lead_id", "=", lead.id),
                    ("state", "=", "pending"),
                    ("rule_id.keep_running", "=", False),
                ]
            )
            .sudo(False)
        )
        if result["loop_stopped"]:
            return result
        # The lead as it would be after the move, in memory only; as superuser like
        # the engine (rules are the managers' configuration, they see every lead).
        moved = lead.sudo().new({"stage_id": stage.id}, origin=lead.sudo())
        rule_leads = moved._automation_rules_to_schedule({moved.id: lead.stage_id})
        plan = env["crm.automation.job.plan"].sudo()._plan_jobs(rule_leads, now)
        Rule = env["crm.automation.rule"]
        result["rules"] = [
            (Rule.browse(rule_id), run_at, skipped)
            for rule_id, _lead_id, run_at, skipped in plan.decisions()
        ]
        result["rules"].sort(key=lambda item: (item[0].stage_id.sequence, item[0].sequence))
        return result

    @api.model
    def _dry_run_json(self, lead, result):
        """``_dry_run_decisions`` for the board and for XML-RPC: ids, names, UTC
        strings ("YYYY-MM-DD HH:MM:SS") and False where there is nothing (never None:
        XML-RPC cannot send it)."""
        lead.ensure_one()
        now = fields.Datetime.now()
        decision = result["decision"]
        trigger = False
        if decision is not None:
            trigger = {
                "state": decision["state"],
                "matched": decision["matched"].mapped("name"),
                "trigger_id": decision["trigger"].id,
                "trigger": decision["trigger"].name,
                # what the trigger watches, in words (as on its card)
                "detail": self._trigger_values(decision["trigger"])["detail"]
                if decision["trigger"]
                else "",
                "stage": decision["stage"].name,
                "reason": decision["reason"] or decision.get("loop_message") or "",
            }
        return {
            "lead": {"id": lead.id, "name": lead.display_name, "stage": lead.stage_id.name},
            "trackable": result["trackable"],
            "trigger": trigger,
            "entered": {"id": result["entered"].id, "name": result["entered"].name}
            if result["entered"]
            else False,
            "loop_stopped": result["loop_stopped"] or False,
            "notify": result["notify"].mapped("name"),
            "gate_missing": result.get("gate_missing", []),
            "rules": [
                {
                    "rule_id": rule.id,
                    "name": rule.name,
                    "stage": rule.stage_id.name,
                    "skipped_over": rule.stage_id != result["entered"],
                    "timing": rule.timing_description,
                    "action": rule._describe_action(lead) or False,
                    "run_at": fields.Datetime.to_string(run_at) if run_at else False,
                    "now": bool(run_at and run_at <= now),
                    "skipped": skipped or False,
                }
                for rule, run_at, skipped in result["rules"]
            ],
            # sudo: names and due times of the lead's jobs, nothing else leaves.
            "cancelled": [
                {"rule": job.rule_id.name, "run_at": fields.Datetime.to_string(job.run_at) or False}
                for job in result["cancelled"].sudo()
            ],
        }

    @api.model
    def _dry_run_lost_rules(self, lead):
        """``_dry_run_decisions`` of marking ``lead`` lost: the "lead lost" rules of its
        pipeline, with their due times or why they do not run."""
        decisions = self._dry_run_decisions(lead)
        Rule = self.env["crm.automation.rule"]
        lost = lead.sudo().new({"active": False}, origin=lead.sudo())
        rule_leads = Rule._rules_when_lost(lost)
        plan = (
            self.env["crm.automation.job.plan"].sudo()._plan_jobs(rule_leads, fields.Datetime.now())
        )
        decisions["rules"] = [
            (Rule.browse(rule_id), run_at, skipped)
            for rule_id, _lead_id, run_at, skipped in plan.decisions()
        ]
        others = Rule.search(
            [
                ("run_on", "=", "lead_lost"),
                ("state", "=", "active"),
                ("team_id", "in", [False, lead.team_id.id]),
                ("id", "not in", [rule.id for rule, _leads in rule_leads]),
            ]
        )
        decisions["rules"] += [
            (
                rule,
                None,
                _("lost from %(stage)s, not from the rule's stages", stage=lead.stage_id.name),
            )
            for rule in others
        ]
        return decisions

    @api.model
    def _dry_run_activities(self, lead, event_key):
        """[{template, user, deadline, description, skipped}] of the active templates
        "create on" ``event_key`` for ``lead`` (reads only: a round-robin template
        names no assignee rather than moving its pointer)."""
        templates = self.env["crm.activity.template"].sudo().search([("event_key", "=", event_key)])
        if not templates:
            return []
        # The lead as the event leaves it, in memory (lost: archived in its stage).
        values = {"active": False} if event_key == "lead_lost" else {}
        lead = lead.sudo().new(values, origin=lead.sudo()) if values else lead.sudo()
        activities = []
        for template in templates:
            user = (
                lead.user_id or self.env.user
                if template.user_source == "round_robin"
                else template._get_assignee(lead)
            )
            skipped, deadline = "", False
            if not template._applies_to(lead):
                skipped = (
                    _(
                        "lost from %(stage)s, not from the template's stages",
                        stage=lead.stage_id.name,
                    )
                    if event_key == "lead_lost" and template.lost_stage_ids
                    else _("outside the template's scope")
                )
            else:
                deadline = template.with_context(**{MEETING_KEY: False})._compute_deadline(
                    lead, user
                )
                if not deadline:
                    skipped = (
                        _("the lead has no upcoming meeting")
                        if template.deadline_base == "meeting"
                        else _("the lead's date is empty")
                    )
            activities.append(
                {
                    "template_id": template.id,
                    "template": template.name,
                    "user": user.name if not skipped else "",
                    "description": template._deadline_description(),
                    "deadline": fields.Datetime.to_string(deadline) if deadline else False,
                    "skipped": skipped or False,
                }
            )
        return activities
