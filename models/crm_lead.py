# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""crm.lead, extended once: the fields of the addon and the hooks into Odoo's CRUD.

The hooks only detect what happened (a lead created, moved, lost, worked on) and say
in which order it is handled; the work is done by the engine's own models: rules and
jobs (``crm.automation.rule`` / ``crm.automation.job``), activity templates, engagement
events (``crm.lead.event``), the board (dry-run) and outgoing mail (tracking).

Free when idle: ``_automation_config`` caches (per registry) what is configured, so
that a create or write on which no rule and no template may act goes through
``super()`` with no query of its own.
"""

import time
from collections import defaultdict, namedtuple

from odoo import _, api, fields, models, tools
from odoo.tools import SQL

from ..engine import params
from ..engine import tokens as tracking_token

# Context key: the stage change itself is running (activities completed because the
# lead leaves the stage, tracking messages): not work of the salesperson.
NO_TOUCH_KEY = "crm_automation_no_touch"
# Context key of the writes of an undo (crm.automation.undo): no automation re-runs.
UNDO_KEY = "crm_automation_undo"
# Event types of the card's "last engagement" signals, with their lead field.
LAST_FIELDS = {
    "email_open": "engagement_last_open",
    "link_click": "engagement_last_click",
    "url_visited": "engagement_last_visit",
}

AutomationConfig = namedtuple(
    "AutomationConfig",
    [
        # Stages with automation rules (any state, archived too): entering or leaving
        # one is a stage change the engine handles (visit, jobs, ledger).
        "rule_stage_ids",
        # Some rule runs when its stage is skipped over: every stage change is handled.
        "skipped_over",
        # {event key: salespeople in the scope of its active templates ("create on"),
        # None for every lead (a template for all leads, or by user groups)}.
        "template_events",
        # Some template (archived too) completes its activities on a stage change.
        "template_done_on_exit",
        # {field name: whether a trigger watching it fires on automatic changes too}
        # of the active "field value changed" triggers: only these are snapshot.
        "watched_fields",
        # Some active trigger fires when an activity of a lead is marked done.
        "activity_done",
        # Creation of the oldest active "activity late" trigger (None: none): older
        # deadlines never fire (a new trigger does not move every lead late for years).
        "activity_late_since",
        # Stages with an active gate (crm.stage.gate): moves there are checked.
        "gate_stage_ids",
    ],
)


class CrmLead(models.Model):
    _inherit = "crm.lead"

    # Engine: stays in stages, jobs, ledger.
    automation_visit = fields.Integer(
        "Stage visit",
        copy=False,
        readonly=True,
        default=0,
        help="Incremented when the lead enters or leaves a stage with automation rules: "
        "identifies the current stay in the stage.",
    )
    automation_origin_lead_id = fields.Many2one(
        "crm.lead",
        "Created from",
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Lead whose automation rule created this one (repeat or copy).",
    )
    automation_job_ids = fields.One2many("crm.automation.job", "lead_id", "Automation jobs")
    automation_log_ids = fields.One2many("crm.automation.log", "lead_id", "Automation ledger")
    automation_log_count = fields.Integer(compute="_compute_automation_counts")
    automation_job_pending_count = fields.Integer(compute="_compute_automation_counts")
    automation_pending_job_ids = fields.One2many(
        "crm.automation.job",
        "lead_id",
        "Pending automation",
        domain=[("state", "=", "pending")],
        readonly=True,
    )
    automation_next_run_at = fields.Datetime(
        "Next automation",
        compute="_compute_automation_next",
        help="When the earliest pending automation job of the lead is due.",
    )
    automation_next_rule_id = fields.Many2one(
        "crm.automation.rule",
        "Next automation rule",
        compute="_compute_automation_next",
        help="Rule of the earliest pending automation job of the lead.",
    )
    # Work of the salespeople.
    automation_touch_date = fields.Datetime(
        "Last worked on",
        readonly=True,
        copy=False,
        help="Last time a user worked on the lead: an activity marked done or a message "
        "or note posted by an internal user (automatic actions do not count).",
    )
    automation_touched_in_stage = fields.Boolean(
        "Worked on in this stage",
        readonly=True,
        copy=False,
        help="A user worked on the lead since it entered its current stage. Conditions "
        "such as 'Stalled deal' test it: [('automation_touched_in_stage', '=', False)].",
    )
    # Stage gates and rotting (crm.stage.gate, crm.lead.rotting).
    automation_gate_check_ids = fields.Many2many(
        "crm.stage.gate",
        "crm_lead_stage_gate_check_rel",
        "lead_id",
        "gate_id",
        "Checklist",
        domain=[("kind", "=", "checklist")],
        copy=False,
        help="Checklist items of the stage gates ticked on this lead.",
    )
    automation_gate_checklist = fields.Boolean(
        compute="_compute_automation_gate_checklist",
        help="Some stage of the lead's pipeline has checklist items in its gate.",
    )
    automation_idle_since = fields.Datetime(
        "Last touched",
        compute="_compute_automation_idle",
        help="Latest stage change or work of a user (activity done, message, note).",
    )
    automation_idle_days = fields.Integer(
        "Rotting for (days)",
        compute="_compute_automation_idle",
        search="_search_automation_idle_days",
        help="Days since last touched when beyond its stage's idle limit, else 0.",
    )
    activity_deadline_next = fields.Datetime(
        "Next deadline",
        compute="_compute_activity_deadline_next",
        help="Earliest deadline of the lead's open activities, to the minute.",
    )
    activity_deadline_late = fields.Boolean(
        "Activity late",
        compute="_compute_activity_deadline_next",
        help="An open activity of the lead is past its deadline.",
    )
    # Engagement of the customer (events). Figures of the cards are computed for the
    # whole page of cards by the events (never stored: events arrive on public routes
    # by the thousand, a stored value would cost a lead write per event).
    engagement_score = fields.Integer(
        readonly=True,
        copy=False,
        default=0,
        help="Points of the lead's human engagement events (opens, clicks, visits, forms, "
        "emails, calls, chats); points per type in the CRM settings.",
    )
    engagement_last_open = fields.Datetime(
        "Last opened",
        compute="_compute_engagement_recent",
        help="Last time the customer opened one of our emails (machine opens excluded).",
    )
    engagement_last_click = fields.Datetime(
        "Last clicked",
        compute="_compute_engagement_recent",
        help="Last time the customer clicked a link of our emails (link scanners excluded).",
    )
    engagement_last_visit = fields.Datetime(
        "Last visited",
        compute="_compute_engagement_recent",
        help="Last tracked page view of the customer on the website.",
    )
    engagement_recent_score = fields.Integer(
        "Recent engagement",
        compute="_compute_engagement_recent",
        help="Points of the lead's non-machine events of the last days (system parameter "
        "crm_pipeline_automation.engagement_recent_days, default 30), with the points per "
        "event type of the engagement score.",
    )
    cpa_event_ids = fields.One2many("crm.lead.event", "lead_id", "Engagement events")
    # Callers are matched on these (exact, indexed): Odoo's phone search matches by
    # prefix and reads a leading "00" of the searched digits as an international prefix.
    cpa_phone_e164 = fields.Char(
        "Phone (E.164)",
        compute="_compute_cpa_e164",
        store=True,
        index="btree_not_null",
        help="The phone in E.164 (default country: the lead's, else the company's), "
        "matched exactly against the numbers of the call webhook.",
    )
    cpa_mobile_e164 = fields.Char(
        "Mobile (E.164)",
        compute="_compute_cpa_e164",
        store=True,
        index="btree_not_null",
        help="The mobile in E.164, matched exactly against the numbers of the call webhook.",
    )
    cpa_event_count = fields.Integer("Events", compute="_compute_cpa_event_count")
    cpa_channel_id = fields.Many2one(
        "discuss.channel",
        "Created from chat",
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Live chat this lead was created from (its chat events apply to the lead).",
    )

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------

    @api.depends("phone", "mobile", "country_id")
    def _compute_cpa_e164(self):
        # Computed with Odoo's phone_sanitized (same fields, read once): no query of its own.
        Event = self.env["crm.lead.event"]
        for lead in self:
            lead.cpa_phone_e164 = Event._phone_e164(lead.phone, lead.country_id) or False
            lead.cpa_mobile_e164 = Event._phone_e164(lead.mobile, lead.country_id) or False

    def _compute_automation_counts(self):
        logs = dict(
            self.env["crm.automation.log"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        jobs = dict(
            self.env["crm.automation.job"]._read_group(
                [("lead_id", "in", self.ids), ("state", "=", "pending")], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.automation_log_count = logs.get(lead, 0)
            lead.automation_job_pending_count = jobs.get(lead, 0)

    def _compute_automation_next(self):
        ids = [lead_id for lead_id in self._origin.ids if lead_id]
        rows = self.env["crm.automation.job"]._next_by_lead(ids)
        Rule = self.env["crm.automation.rule"]
        for lead in self:
            run_at, rule_id = rows.get(lead._origin.id, (False, False))
            lead.automation_next_run_at = run_at
            lead.automation_next_rule_id = Rule.browse(rule_id)

    @api.depends("activity_ids.deadline_datetime")
    def _compute_activity_deadline_next(self):
        ids = [lead_id for lead_id in self._origin.ids if lead_id]
        next_by_lead = dict(
            self.env["mail.activity"]._read_group(
                [("res_model", "=", "crm.lead"), ("res_id", "in", ids)],
                ["res_id"],
                ["deadline_datetime:min"],
            )
        )
        now = fields.Datetime.now()
        for lead in self:
            deadline = next_by_lead.get(lead._origin.id)
            lead.activity_deadline_next = deadline
            lead.activity_deadline_late = bool(deadline and deadline < now)

    @api.depends(
        "active",
        "automation_touch_date",
        "date_last_stage_update",
        "stage_id.automation_idle_days",
        "stage_id.is_won",
    )
    def _compute_automation_idle(self):
        self.env["crm.lead.rotting"]._compute_idle(self)

    def _compute_automation_gate_checklist(self):
        self.env["crm.stage.gate"]._compute_checklist(self)

    def _search_automation_idle_days(self, operator, value):
        return self.env["crm.lead.rotting"]._search_idle_days(operator, value)

    def _compute_engagement_recent(self):
        ids = [lead_id for lead_id in self._origin.ids if lead_id]
        last, recent = self.env["crm.lead.event"]._engagement_figures(ids, list(LAST_FIELDS))
        for lead in self:
            lead_id = lead._origin.id
            for event_type, fname in LAST_FIELDS.items():
                lead[fname] = last.get((lead_id, event_type), False)
            lead.engagement_recent_score = recent.get(lead_id, 0)

    def _compute_cpa_event_count(self):
        counts = dict(
            self.env["crm.lead.event"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.cpa_event_count = counts.get(lead, 0)

    def _merge_get_fields_specific(self):
        specific = super()._merge_get_fields_specific()
        specific["automation_origin_lead_id"] = lambda fname, leads: next(
            (lead.automation_origin_lead_id for lead in leads if lead.automation_origin_lead_id),
            False,
        )
        return specific

    @api.model
    def _get_view(self, view_id=None, view_type="form", **options):
        """Kanban: one ``<header>`` with every module's buttons. The kanban view shows
        the buttons of its last ``<header>`` only, and modules add theirs each in their
        own (crm_iap_mine's "Generate Leads", this addon's "Automation"): merged, none
        hides the other."""
        arch, view = super()._get_view(view_id, view_type, **options)
        if view_type == "kanban":
            headers = arch.xpath("/kanban/header")
            for extra in headers[1:]:
                headers[0].extend(list(extra))
                extra.getparent().remove(extra)
        return arch, view

    # ------------------------------------------------------------------
    # CRUD: what happened, handled in this order
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        # 0. a user may not create a lead in a stage whose gate it misses (leads made by
        #    superuser code, such as website forms and the mail gateway, may)
        if not self.env.su:
            self.env["crm.stage.gate"]._check_entry(leads)
        # 1. entry into the first stage (rules run now are done before 2.)
        leads._automation_stage_changed({})
        # 2. activities of the templates "create on: lead created"
        self.env["crm.activity.template"]._create_for_event(leads, "lead_created")
        return leads

    def write(self, vals):
        watched = self._automation_watched(vals)
        if not watched and not {"stage_id", "active"} & vals.keys():
            result = super().write(vals)
            # held automatic moves whose gate this write meets (only when gates exist)
            if self._automation_config().gate_stage_ids:
                self.env["crm.stage.gate.hold"]._release(self)
            return result
        # 0. an automatic move missing the gate of its stage is held (ledger), not made
        held = self.env["crm.stage.gate.hold"]._hold(self, vals)
        if held:
            rest = {key: value for key, value in vals.items() if key != "stage_id"}
            if rest:
                held.write(rest)
            return (self - held).write(vals) if self - held else True
        # 0b. old values of the fields "field value changed" triggers watch
        before = self._automation_snapshot(watched)
        moving, old_stages = self._automation_moving(vals)
        lost = self._automation_losing(vals)
        leads = self
        if moving:
            # Tracking messages and activities completed by the move are not work.
            leads = self.with_context(**{NO_TOUCH_KEY: True})
            moving = moving.with_context(**{NO_TOUCH_KEY: True})
            # 1. "worked on in this stage" is reset by the move itself, before the rules
            #    of the new stage check their condition.
            vals = moving._touch_reset(leads, vals)
        # 2. template activities to complete, collected before the entry: the ones
        #    the entry creates (rules of the new stage) belong to it and stay open.
        to_close = leads.env["mail.activity"]._to_close_on_stage_change(moving)
        result = super(CrmLead, leads).write(vals)
        # 2b. a user's move missing the gate of the stage is refused (rolled back)
        self.env["crm.stage.gate"]._check_entry(moving)
        # 3. lost: pending jobs cancelled, before the entry of the same write
        self.env["crm.automation.job"].sudo()._on_leads_lost(lost)
        # 4. entry: visit, jobs of the stage left cancelled, loop guard, ledger, rules
        moving._automation_stage_changed(old_stages)
        # 5. template activities of the stage left are done
        to_close._close_on_stage_change()
        # 6. watched fields changed: "field value changed" triggers (may move leads)
        self._automation_fields_changed(before)
        # 7. no move: held automatic moves whose gate this write meets (gates exist)
        if "stage_id" not in vals and self._automation_config().gate_stage_ids:
            self.env["crm.stage.gate.hold"]._release(self)
        return result

    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        # 1. engagement event (email received / sent): may fire triggers, move the lead
        if len(self) == 1 and not self.env.context.get("crm_automation_auto"):
            message._cpa_record_email_event(self)
        # 2. a colleague's message or note is work on the lead (in its current stage)
        if message.message_type in ("comment", "email"):
            # sudo: the author's users, to know whether an internal user wrote it.
            authors = message.sudo().author_id.user_ids
            if authors.filtered(lambda user: not user.share and not user._is_superuser()):
                self._automation_touch()
        return result

    def action_set_lost(self, **additional_values):
        # 1. the archive cancels the pending jobs (write)
        result = super().action_set_lost(**additional_values)
        # 2. activities of the templates "lead lost" (from the stage the lead is in)
        self.env["crm.activity.template"]._create_for_event(self, "lead_lost")
        # 3. rules run when a lead is lost (from that stage): a new visit, their jobs
        self.env["crm.automation.rule"]._schedule_when_lost(self)
        return result

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_view_automation(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_automation_log_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"default_lead_id": self.id}
        action["name"] = _("Automation of %(lead)s", lead=self.display_name)
        return action

    def action_view_automation_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_automation_job_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"search_default_filter_pending": 1}
        return action

    def action_view_cpa_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_lead_event_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        return action

    def action_open_automation_board(self):
        """ "Automation" button of the pipeline: the board of the pipeline shown (the
        action's sales team), else of the user's team."""
        team_id = self.env.context.get("default_team_id") or self.team_id[:1].id
        return {
            "type": "ir.actions.client",
            "tag": "crm_pipeline_automation.automation_board",
            "name": _("Automation"),
            "params": {"team_id": team_id or False},
        }

    @api.model
    def automation_dry_run(self, lead_id, event_type=None, stage_id=None, detail=None):
        """What the automation would do for lead ``lead_id`` on an event, or on entering
        a stage; JSON-ready for the automation board and marshal-able for XML-RPC (no
        None, UTC date strings). Writes nothing (public API, the work is the board's:
        ``crm.automation.board._dry_run``).

        :param lead_id: id of a lead the user can read
        :param event_type: key of the event types (or None with ``stage_id``)
        :param stage_id: stage entered (when there is no event)
        :param detail: the event's URL, form, line number, chat text or waiting seconds
        """
        return self.env["crm.automation.board"]._dry_run(lead_id, event_type, stage_id, detail)

    # ------------------------------------------------------------------
    # What is configured (cached per registry)
    # ------------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _automation_config(self):
        """What rules and templates may do on a create or write of leads, as an
        ``AutomationConfig``. Cleared (``registry.clear_cache()``) by the rules and the
        templates (and sales teams' members) when they are created, deleted or changed
        in what it holds."""
        Rule = self.env["crm.automation.rule"].sudo().with_context(active_test=False)
        rules = Rule.search_fetch(
            [("run_on", "=", "stage_entry")], ["stage_id", "run_when_skipped"]
        )
        Template = self.env["crm.activity.template"].sudo().with_context(active_test=False)
        templates = Template.search_fetch([], ["active", "event_key", "scope", "team_ids"])
        events = {}
        for template in templates.filtered(lambda t: t.active and t.event_key):
            users = events.get(template.event_key, frozenset())
            if users is None or template.scope != "teams":
                events[template.event_key] = None
            else:
                teams = template.team_ids
                events[template.event_key] = users | set((teams.member_ids | teams.user_id).ids)
        watched, activity_done, late_since = self.env["crm.stage.trigger"]._lead_work_config()
        gates = self.env["crm.stage.gate"].sudo().search_fetch([], ["stage_id"])
        return AutomationConfig(
            gate_stage_ids=frozenset(gates.stage_id.ids),
            rule_stage_ids=frozenset(rules.stage_id.ids),
            skipped_over=any(rules.mapped("run_when_skipped")),
            template_events=events,
            template_done_on_exit=any(templates.mapped("auto_done_on_stage_change")),
            watched_fields=watched,
            activity_done=activity_done,
            activity_late_since=late_since,
        )

    # ------------------------------------------------------------------
    # Field changes ("field value changed" triggers)
    # ------------------------------------------------------------------

    def _automation_watched(self, names):
        """Fields of ``names`` (a write's keys) that an active trigger watches; none on
        the automation's own writes unless a trigger asks for them. Cached: no query."""
        watched = self._automation_config().watched_fields
        if not watched or not self:
            return ()
        automatic = self.env.context.get("crm_automation_auto")
        if self.env.context.get(UNDO_KEY):
            # An undo is a manager's correction: it does not re-run automation.
            return ()
        return tuple(name for name in names if name in watched and (watched[name] or not automatic))

    def _automation_snapshot(self, names):
        """Old values of the watched fields ``names`` of ``self`` (None: none watched)."""
        if not names:
            return None
        return self.env["crm.stage.trigger"]._snapshot_fields(self, names)

    def _automation_fields_changed(self, before):
        """Fire the "field value changed" triggers on the changes since ``before``."""
        if before:
            self.env["crm.stage.trigger"]._fire_field_changes(self.exists(), before)

    # ------------------------------------------------------------------
    # Stage changes
    # ------------------------------------------------------------------

    def _automation_moving(self, vals):
        """Leads of ``self`` a write of ``vals`` moves, and {lead id: stage left}."""
        if "stage_id" not in vals:
            return self.browse(), {}
        moving = self.filtered(lambda lead: lead.stage_id.id != vals["stage_id"])
        return moving, {lead.id: lead.stage_id for lead in moving}

    def _automation_losing(self, vals):
        """Leads of ``self`` a write of ``vals`` archives, when they may have jobs."""
        if vals.get("active") is not False or not self._automation_config().rule_stage_ids:
            return self.browse()
        return self.filtered("active")

    def _automation_entering(self, old_stages):
        """Leads of ``self`` (changed stage) whose entry the engine handles: a stage
        with rules entered or left, a rule run when skipped over, or an automatic move
        (ledger and loop guard). The others cost nothing."""
        config = self._automation_config()
        context = self.env.context
        if config.skipped_over or context.get("crm_automation_auto") or context.get(UNDO_KEY):
            return self
        stage_ids = config.rule_stage_ids
        Stage = self.env["crm.stage"]
        return self.filtered(
            lambda lead: lead.stage_id.id in stage_ids
            or old_stages.get(lead.id, Stage).id in stage_ids
        )

    def _touch_reset(self, leads, vals):
        """``vals`` resetting "worked on in this stage" of ``self`` (the leads moving)
        when the write moves all of ``leads``; else reset by a raw UPDATE (no
        write_date / tracking noise)."""
        if self.ids == leads.ids:
            return {**vals, "automation_touched_in_stage": False}
        self.env.execute_query(
            SQL(
                "UPDATE crm_lead SET automation_touched_in_stage = FALSE WHERE id = ANY(%s)",
                self.ids,
            )
        )
        self.invalidate_recordset(["automation_touched_in_stage"])
        return vals

    def _automation_stage_changed(self, old_stages):
        """Handle stage entries of ``self`` (all changed stage), set-wise.

        :param old_stages: {lead id: crm.stage left} (empty for created leads)
        """
        leads = self._automation_entering(old_stages)
        if not leads:
            return
        now = fields.Datetime.now()
        # 1. new visit: one UPDATE for all leads (the ORM would write per value).
        self.env.execute_query(
            SQL(
                "UPDATE crm_lead SET automation_visit = COALESCE(automation_visit, 0) + 1 "
                "WHERE id = ANY(%s)",
                leads.ids,
            )
        )
        leads.invalidate_recordset(["automation_visit"])
        # 2. the previous visit's jobs are cancelled, its activities completed.
        if old_stages:
            self.env["crm.automation.job"].sudo()._on_visits_left(leads)
        # 3. loop guard, only for moves made by the automation.
        if self.env.context.get("crm_automation_auto"):
            leads = leads._automation_loop_guard(count=True)
        if not leads:
            return
        # 4. ledger: stage entered (by whom / what); an automatic move records what it
        #    replaced (crm.automation.undo).
        Undo = self.env["crm.automation.undo"]
        self.env["crm.automation.log"]._log_many(
            [
                {
                    "lead_id": lead.id,
                    "kind": "stage_entered",
                    "stage_id": lead.stage_id.id,
                    "from_stage_id": old_stages.get(lead.id, self.env["crm.stage"]).id,
                    "undo_data": Undo._stage_undo_data(lead, old_stages.get(lead.id)),
                    "message": Undo._stage_undo_message(),
                }
                for lead in leads
            ]
        )
        if self.env.context.get(UNDO_KEY):
            # 5'. an undo restores the stage, it does not re-run automation.
            return
        # 5. rules of the entered stage, plus opted-in rules of stages jumped over.
        rule_leads = leads._automation_rules_to_schedule(old_stages)
        if not rule_leads:
            return
        small = len(leads) <= params.get_int(self.env, "immediate_run_threshold")
        due_ids = (
            self.env["crm.automation.job.plan"]
            .sudo()
            ._schedule_jobs(rule_leads, now, return_due=small)
        )
        if due_ids and small:
            # Few leads: the salesperson sees the result on save; each job is isolated
            # in its own savepoint, so a failing action never fails this write.
            self.env["crm.automation.job"]._run_ids_now(due_ids)

    def _automation_rules_to_schedule(self, old_stages):
        """[(rule, leads)] to schedule for the entries of ``self``."""
        Stage = self.env["crm.stage"].sudo()
        # Ids in lists, recordsets built once: `|=` in a loop is quadratic on 10,000 leads.
        groups = defaultdict(list)
        for lead in self:
            old = old_stages.get(lead.id, Stage)
            groups[(lead.stage_id, old, lead.team_id)].append(lead.id)
        by_rule = defaultdict(list)
        for (stage, old, team), lead_ids in groups.items():
            for rule in stage.sudo().automation_rule_ids.filtered(
                lambda r: r.active and r.state == "active" and r.run_on == "stage_entry"
            ):
                by_rule[rule].extend(lead_ids)
            if old and old.sequence < stage.sequence:
                # Forward jump: stages of the pipeline strictly between old and new.
                skipped = Stage.search(
                    [
                        ("id", "not in", (old | stage).ids),
                        ("sequence", ">", old.sequence),
                        ("sequence", "<", stage.sequence),
                        ("team_id", "in", [False, team.id]),
                    ]
                )
                rules = (
                    self.env["crm.automation.rule"]
                    .sudo()
                    .search(
                        [
                            ("stage_id", "in", skipped.ids),
                            ("run_when_skipped", "=", True),
                            ("run_on", "=", "stage_entry"),
                            ("active", "=", True),
                            ("state", "=", "active"),
                        ]
                    )
                )
                for rule in rules:
                    by_rule[rule].extend(lead_ids)
        return [(rule, self.browse(lead_ids)) for rule, lead_ids in by_rule.items()]

    # ------------------------------------------------------------------
    # Loop guard
    # ------------------------------------------------------------------

    def _automation_loop_guard(self, count=False):
        """Leads of ``self`` still allowed an automatic move (``crm.automation.job``)."""
        return self.env["crm.automation.log"]._loop_guard(self, count=count)

    def _automation_loop_guard_refusals(self, extra=0):
        """{lead id: why the loop guard stops an automatic move} (reads only)."""
        return self.env["crm.automation.log"]._loop_guard_refusals(self, extra=extra)

    @api.model
    def _automation_reset_transaction_counters(self):
        """Forget the per-transaction move counters (after a commit)."""
        self.env["crm.automation.log"]._loop_guard_reset()

    # ------------------------------------------------------------------
    # Work on the lead, engagement helpers
    # ------------------------------------------------------------------

    def _automation_touch(self):
        """A user worked on ``self``: remember when, and that it was in this stage."""
        context = self.env.context
        if not self or context.get(NO_TOUCH_KEY) or context.get("crm_automation_auto"):
            return
        # Raw UPDATE: salespeople may post on leads they cannot write, and a message
        # must not bump write_date nor run the write overrides of the lead.
        self.env.execute_query(
            SQL(
                "UPDATE crm_lead SET automation_touch_date = %s, "
                "automation_touched_in_stage = TRUE WHERE id = ANY(%s)",
                fields.Datetime.now(),
                self.ids,
            )
        )
        self.invalidate_recordset(["automation_touch_date", "automation_touched_in_stage"])

    def _cpa_trackable(self):
        """Leads that may be tracked: not opted out (email blacklisted, on the lead or
        its partner)."""
        # sudo: the blacklist is readable by internal users only, events come from
        # public routes too; only a boolean leaves this method.
        leads = self.sudo()
        allowed = leads.filtered(
            lambda lead: not lead.is_blacklisted and not lead.partner_id.is_blacklisted
        )
        return self.browse(allowed.ids)

    def _cpa_lead_token(self):
        """Signed identity of the lead for the tracking cookie and the snippet."""
        self.ensure_one()
        return tracking_token.sign(self.env, "lead", [self.id, int(time.time())])

    def _cpa_ledger(self, kind, *, stage=None, from_stage=None, message=None, event=None):
        """Ledger row for each lead (automatic, by the current user)."""
        Log = self.env["crm.automation.log"].sudo().with_context(crm_automation_auto=True)
        Log._log(self, kind, stage=stage, from_stage=from_stage, message=message, automatic=True)
