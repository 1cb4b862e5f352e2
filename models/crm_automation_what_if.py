# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What-if over past events: a draft trigger or rule replayed, with all active
automation, over the events and stage moves of the last days, in memory.

Each lead is an in-memory copy (``new``) whose stage starts as it was at the start of the
window (the old stage of its first tracked stage move of the window, else its current
stage); its other fields are the current ones. Events (not machine) and the stage moves
made by people (stage tracking minus the automation's own entries, which are simulated
again) are applied in time order with the engine's decision functions:
``crm.stage.trigger._decide_event`` (the draft counting as active, the loop guard counted
over simulated time) and, on each entry, ``crm.lead._automation_rules_to_schedule`` and
``crm.automation.job.plan._plan_jobs``. Nothing is written.
"""

import time
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..engine import params, what_if
from ..engine import verdict as verdicts

WHAT_IF_MODELS = ("crm.stage.trigger", "crm.automation.rule")


class CrmAutomationWhatIf(models.AbstractModel):
    _name = "crm.automation.what.if"
    _description = "CRM Automation What-If Replay"

    @api.model
    def what_if(self, model, record_id, days=None):
        """What the draft trigger or rule ``record_id`` would have done over the last
        ``days`` days (default 30), all active automation included; writes nothing.

        :param model: ``crm.stage.trigger`` or ``crm.automation.rule``
        :param record_id: id of the trigger or rule
        :param days: length of the window in days (1..365)
        :return: JSON-ready dict (figures, conflicts, sample of leads with the ledger
            rows the automation would have written)
        """
        if model not in WHAT_IF_MODELS:
            raise UserError(_("Only triggers and rules can be replayed."))
        if not self.env.user.has_group("crm_pipeline_automation.group_automation_manager"):
            raise AccessError(_("Only automation managers can replay automation."))
        try:
            days = what_if.window_days(days)
            record_id = int(record_id)
        except (TypeError, ValueError) as error:
            raise UserError(
                _("Give a number of days between 1 and %(max)s.", max=what_if.MAX_DAYS)
            ) from error
        record = self.env[model].browse(record_id).exists()
        if not record:
            raise UserError(_("This record was deleted meanwhile: reload the board."))
        started = time.perf_counter()
        until = fields.Datetime.now()
        since = until - timedelta(days=days)
        # sudo: the engine decides as superuser (the configuration is the managers');
        # only figures and the names of leads the user may read leave this method.
        tally = self.sudo()._replay(record.sudo(), since, until)
        return self._what_if_json(record, days, since, until, tally, time.perf_counter() - started)

    # ------------------------------------------------------------------
    # Replay
    # ------------------------------------------------------------------

    @api.model
    def _replay(self, draft, since, until):
        """Replay ``draft`` with the active automation over ``[since, until]``.

        :param draft: crm.stage.trigger or crm.automation.rule (any state)
        :return: what_if.Tally
        """
        Trigger = self.env["crm.stage.trigger"]
        is_trigger = draft._name == "crm.stage.trigger"
        tally = what_if.Tally(("trigger" if is_trigger else "rule", draft.id))
        triggers = Trigger.search([("state", "=", "active")])
        drafts = Trigger
        if is_trigger and draft.active and draft.state != "active":
            triggers |= draft
            drafts = draft
        triggers = triggers.filtered(lambda t: t._moves_lead())
        draft_rule = draft if not is_trigger and draft.active and draft.state != "active" else None
        # The leads of the draft's pipeline (every pipeline for a shared stage).
        team_id = draft.stage_id.team_id.id
        tracked = self._tracked_moves(since, until, team_id)
        entries = self._ledger_entries(since, until, team_id)
        moves = what_if.manual_moves(tracked, entries)
        events = self._events(since, until, set(triggers.mapped("event_type")), team_id)
        start = what_if.initial_stages(tracked, entries)
        guard = what_if.HourlyGuard(
            params.get_int(self.env, "loop_max_moves_per_transaction"),
            params.get_int(self.env, "loop_max_moves_per_hour"),
        )
        lead_ids = {lead_id for _date, _id, lead_id in events} | {move[1] for move in moves}
        state = _ReplayState(self.env, start, tally, guard, draft_rule, lead_ids)
        Event = self.env["crm.lead.event"]
        Stage = self.env["crm.stage"]
        # One prefetch set: the events' fields are read 1,000 at a time, not one by one.
        event_ids = tuple(event_id for _date, event_id, _lead_id in events)
        for date, kind, payload in what_if.timeline(events, moves):
            if kind == what_if.MOVE:
                lead_id, to_id = payload
                lead = state.lead(lead_id)
                if lead is None or lead.stage_id.id == to_id or to_id not in state.stage_ids:
                    continue
                old = lead.stage_id
                lead.stage_id = Stage.browse(to_id)
                tally.manual(lead_id)
                state.entered(lead, lead_id, old, date, by=None, caused_by_draft=False)
                continue
            tally.events += 1
            event_id, lead_id = payload
            lead = state.lead(lead_id)
            if lead is None:
                continue
            event = Event.browse(event_id).with_prefetch(event_ids)
            decision = Trigger._decide_event(
                lead,
                event,
                candidates=triggers,
                drafts=drafts,
                guard=lambda _lead, lead_id=lead_id, date=date: state.guard_message(lead_id, date),
            )
            state.decided(lead, lead_id, event, decision, date)
        return tally

    @api.model
    def _of_team(self, column, team_id):
        """SQL condition: ``column`` (a lead id) is a lead of sales team ``team_id``
        (any lead when None)."""
        if not team_id:
            return SQL("TRUE")
        return SQL(
            "%s IN (SELECT id FROM crm_lead WHERE team_id = %s)", SQL.identifier(*column), team_id
        )

    @api.model
    def _events(self, since, until, event_types, team_id=None):
        """[(date, event id, lead id)] of the window that may fire a trigger."""
        if not event_types:
            return []
        # Raw SQL: up to 100,000s of rows, three columns (bench/bench_what_if.py).
        return self.env.execute_query(
            SQL(
                "SELECT date, id, lead_id FROM crm_lead_event WHERE date >= %s AND date <= %s "
                "AND verdict != %s AND event_type IN %s AND %s ORDER BY date, id",
                since,
                until,
                verdicts.MACHINE,
                tuple(sorted(event_types)),
                self._of_team(("lead_id",), team_id),
            )
        )

    @api.model
    def _tracked_moves(self, since, until, team_id=None):
        """[(date, lead id, from stage id, to stage id)] of the stage tracking."""
        field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        rows = self.env.execute_query(
            SQL(
                """
            SELECT m.date, m.res_id, v.old_value_integer, v.new_value_integer
              FROM mail_tracking_value v
              JOIN mail_message m ON m.id = v.mail_message_id
             WHERE m.model = 'crm.lead' AND v.field_id = %s AND m.date >= %s AND m.date <= %s
               AND %s
             ORDER BY m.date, m.id, v.id
                """,
                field.id,
                since,
                until,
                self._of_team(("m", "res_id"), team_id),
            )
        )
        return [(date, lead_id, old or 0, new or 0) for date, lead_id, old, new in rows]

    @api.model
    def _ledger_entries(self, since, until, team_id=None):
        """[(date, lead id, from stage id, to stage id, automatic)] of the ledger's
        stage entries."""
        rows = self.env.execute_query(
            SQL(
                "SELECT create_date, lead_id, from_stage_id, stage_id, automatic "
                "FROM crm_automation_log WHERE kind = 'stage_entered' AND create_date >= %s "
                "AND create_date <= %s AND %s ORDER BY create_date, id",
                since,
                until,
                self._of_team(("lead_id",), team_id),
            )
        )
        return [
            (date, lead_id, old or 0, new or 0, bool(automatic))
            for date, lead_id, old, new, automatic in rows
        ]

    # ------------------------------------------------------------------
    # Result
    # ------------------------------------------------------------------

    @api.model
    def _what_if_json(self, record, days, since, until, tally, seconds):
        sample_ids = tally.sample_ids()
        conflict_ids = [conflict["lead_id"] for conflict in tally.conflicts]
        names = self._lead_names(sample_ids + conflict_ids)
        labels = dict(
            self.env["crm.automation.log"]._fields["kind"]._description_selection(self.env)
        )
        labels["job_planned"] = _("Job planned")
        return {
            "record": {
                "model": record._name,
                "id": record.id,
                "name": record.name,
                "state": record.state,
            },
            "days": days,
            "since": fields.Datetime.to_string(since),
            "until": fields.Datetime.to_string(until),
            "events": tally.events,
            "manual_moves": tally.manual_moves,
            "moves": tally.draft_moves,
            "moved_leads": len(tally.moved_leads),
            "actions": tally.draft_actions,
            "acted_leads": len(tally.acted_leads),
            "total_moves": tally.moves,
            "total_actions": tally.actions,
            "loops": tally.conflict_counts["loop"],
            "races": tally.conflict_counts["race"],
            "guard_stops": tally.conflict_counts["loop_guard"],
            "conflicts": [
                dict(conflict, lead=names.get(conflict["lead_id"], ""))
                for conflict in tally.conflicts
            ],
            "sample": [
                {
                    "lead_id": lead_id,
                    "lead": names.get(lead_id, ""),
                    "rows": [
                        dict(row, label=labels.get(row["kind"], row["kind"]))
                        for row in tally.sample_rows(lead_id)
                    ],
                }
                for lead_id in sample_ids
            ],
            "seconds": round(seconds, 3),
        }

    @api.model
    def _lead_names(self, lead_ids):
        """{lead id: name} of the leads the user may read (others: their number)."""
        Lead = self.env["crm.lead"].with_context(active_test=False)
        leads = Lead.browse(list(dict.fromkeys(lead_ids))).exists()
        readable = leads._filtered_access("read")
        return {lead.id: lead.display_name if lead in readable else f"#{lead.id}" for lead in leads}


class _ReplayState:
    """The leads in memory and what happens to them during one replay."""

    def __init__(self, env, start, tally, guard, draft_rule, lead_ids):
        self.env = env
        self.start = start
        self.tally = tally
        self.guard = guard
        self.draft_rule = draft_rule
        self.leads = {}
        self.config = env["crm.lead"]._automation_config()
        Lead = env["crm.lead"].with_context(active_test=False)
        # Existing leads and stages in one query each; leads read 1,000 at a time.
        leads = Lead.browse(sorted(lead_ids)).exists()
        # What the decisions read of every lead, in a few queries (the leads in memory
        # read their stored values from the cache).
        leads.fetch(["stage_id", "team_id", "active", "company_id", "user_id"])
        self.lead_ids = tuple(leads.ids)
        self.existing = set(self.lead_ids)
        self.rules = {}
        self.stage_ids = set(env["crm.stage"].with_context(active_test=False).search([]).ids)
        self.Lead = Lead

    def lead(self, lead_id):
        """The lead ``lead_id`` in memory (None: deleted)."""
        if lead_id not in self.leads:
            lead = None
            if lead_id in self.existing:
                origin = self.Lead.browse(lead_id).with_prefetch(self.lead_ids)
                stage_id = self.start.get(lead_id)
                if stage_id not in self.stage_ids:
                    stage_id = origin.stage_id.id
                lead = origin.new({"stage_id": stage_id}, origin=origin)
            self.leads[lead_id] = lead
        return self.leads[lead_id]

    def guard_message(self, lead_id, date):
        if self.guard.stops(lead_id, date):
            return _("More than %(n)s automatic moves in one hour.", n=self.guard.max_hour)
        return None

    def _row(self, lead_id, date, kind, message, stage=None, from_stage=None):
        self.tally.row(
            lead_id,
            date=fields.Datetime.to_string(date),
            kind=kind,
            stage=stage.name if stage else "",
            from_stage=from_stage.name if from_stage else "",
            message=message,
        )

    def decided(self, lead, lead_id, event, decision, date):
        """Apply ``_decide_event``'s ``decision`` on ``event`` to the lead in memory."""
        tally, draft_key = self.tally, self.tally.draft_key
        matched = decision["matched"]
        if draft_key[0] == "trigger" and len(matched) > 1 and draft_key[1] in matched.ids:
            tally.conflict(
                "race",
                lead_id,
                lambda: self.env._(
                    "%(date)s: event %(event)s matches %(triggers)s; %(winner)s.",
                    date=fields.Datetime.to_string(date),
                    event=event._describe(),
                    triggers=", ".join(matched.mapped("name")),
                    winner=_("“%(name)s” wins", name=decision["trigger"].name)
                    if decision["trigger"]
                    else _("none moves the lead"),
                ),
            )
        if decision["blocked"] == "loop_guard":
            trigger = decision["trigger"]
            self._row(lead_id, date, "loop_stopped", decision.get("loop_message") or "")
            if ("trigger", trigger.id) == draft_key:
                tally.conflict("loop_guard", lead_id, decision.get("loop_message") or "")
            return
        if decision["state"] != "fired":
            return
        trigger = decision["trigger"]
        old = lead.stage_id
        lead.stage_id = trigger.stage_id
        self.guard.count(lead_id, date)
        by = ("trigger", trigger.id)
        undone = tally.move(lead_id, by, old.id, trigger.stage_id.id)
        self._row(
            lead_id,
            date,
            "trigger_fired",
            lambda: self.env._(
                "Moved from %(old)s to %(new)s by trigger “%(trigger)s” on event %(event)s.",
                old=old.name or "-",
                new=trigger.stage_id.name,
                trigger=trigger.name,
                event=event._describe(),
            ),
            stage=trigger.stage_id,
            from_stage=old,
        )
        if undone:
            other = self.env["crm.stage.trigger"].browse(undone[1])
            tally.conflict(
                "loop",
                lead_id,
                lambda: self.env._(
                    "%(date)s: trigger “%(trigger)s” moves the lead back from %(old)s to "
                    "%(new)s, undoing trigger “%(other)s”.",
                    date=fields.Datetime.to_string(date),
                    trigger=trigger.name,
                    old=old.name,
                    new=trigger.stage_id.name,
                    other=other.name,
                ),
            )
        self.entered(lead, lead_id, old, date, by=by, caused_by_draft=by == draft_key)

    def entered(self, lead, lead_id, old, date, by, caused_by_draft):
        """The lead in memory entered its stage from ``old``: the rules it would run."""
        stage = lead.stage_id
        if by is None:
            # The engine writes no ledger row for people's moves between stages
            # without rules (``crm.lead._automation_entering``).
            self.tally.row(
                lead_id,
                date=fields.Datetime.to_string(date),
                kind="stage_entered",
                stage=stage.name,
                from_stage=old.name or "",
                message=lambda: self.env._("Moved by a person (recorded)."),
            )
        else:
            self._row(lead_id, date, "stage_entered", "", stage=stage, from_stage=old)
        draft = self.draft_rule
        if not (
            self.config.skipped_over
            or stage.id in self.config.rule_stage_ids
            or (draft and draft.stage_id == stage)
        ):
            return
        # The rules of an entry depend on the stages and the pipeline only: asked once.
        key = (stage.id, old.id, lead.team_id.id)
        if key not in self.rules:
            self.rules[key] = [
                rule for rule, _leads in lead._automation_rules_to_schedule({lead.id: old})
            ]
        rule_leads = [(rule, lead) for rule in self.rules[key]]
        if draft and self._draft_rule_runs(draft, lead, old):
            rule_leads.append((draft, lead))
        if not rule_leads:
            return
        plan = self.env["crm.automation.job.plan"]._plan_jobs(rule_leads, date)
        Rule = self.env["crm.automation.rule"]
        for rule_id, _lead_id, run_at, skipped in plan.decisions():
            rule = Rule.browse(rule_id)
            if skipped:
                self._row(lead_id, date, "rule_skipped", skipped, stage=rule.stage_id)
                continue
            self.tally.action(lead_id, ("rule", rule_id), caused_by_draft)
            self._row(
                lead_id,
                date,
                "rule_done" if run_at <= date else "job_planned",
                lambda rule=rule, run_at=run_at: self.env._(
                    "Rule “%(rule)s”: %(action)s, due %(when)s.",
                    rule=rule.name,
                    action=rule.action_description or rule.action_type,
                    when=fields.Datetime.to_string(run_at),
                ),
                stage=rule.stage_id,
            )

    def _draft_rule_runs(self, rule, lead, old):
        """Whether the draft rule runs on this entry (its stage, or skipped over)."""
        stage, target = lead.stage_id, rule.stage_id
        if target == stage:
            return True
        return bool(
            rule.run_when_skipped
            and old
            and old.sequence < target.sequence < stage.sequence
            and target.team_id.id in (False, lead.team_id.id)
        )
