# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import string
from collections import defaultdict
from datetime import datetime, time

import pytz
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..engine import conditions as lead_condition
from ..engine import timing as automation_timing

_logger = logging.getLogger(__name__)

ACTION_TYPES = [
    ("activity", "Schedule an activity"),
    ("repeat_lead", "Create a repeat lead"),
    ("copy_lead", "Copy the lead to another pipeline"),
    ("email", "Send an email"),
    ("sms", "Send an SMS"),
    ("tags", "Add / remove tags"),
    ("assign", "Assign a salesperson"),
    ("notify", "Notify internal users"),
    ("update", "Update fields"),
    ("server_action", "Run a server action"),
]


class JobPlan:
    """Decisions of ``_plan_jobs``: jobs to create and (rule, lead) pairs skipped."""

    def __init__(self):
        self.uniform = defaultdict(lambda: ([], []))
        self.rule_ids, self.lead_ids, self.run_ats = [], [], []
        self.skipped = []

    def decisions(self):
        """[(rule id, lead id, run_at or None, skip message or None)] in rule order."""
        result = [
            (rule_id, lead_id, run_at, None)
            for lead_ids, (rule_ids, run_ats) in self.uniform.items()
            for rule_id, run_at in zip(rule_ids, run_ats, strict=True)
            for lead_id in lead_ids
        ]
        result += [
            (rule_id, lead_id, run_at, None)
            for rule_id, lead_id, run_at in zip(
                self.rule_ids, self.lead_ids, self.run_ats, strict=True
            )
        ]
        result += [
            (vals["rule_id"], vals["lead_id"], None, vals["message"]) for vals in self.skipped
        ]
        return result

    def job_count(self):
        """Number of jobs to create."""
        return len(self.rule_ids) + sum(
            len(lead_ids) * len(rule_ids) for lead_ids, (rule_ids, _run_ats) in self.uniform.items()
        )


class _KeepMissing(dict):
    """Format map leaving unknown ``{placeholders}`` untouched."""

    def __missing__(self, key):
        return "{" + key + "}"


class CrmAutomationRule(models.Model):
    _name = "crm.automation.rule"
    _description = "CRM Automation Rule"
    _order = "stage_id, sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10, help="Order of the rules of a stage.")
    active = fields.Boolean(default=True)
    stage_id = fields.Many2one(
        "crm.stage",
        required=True,
        index=True,
        ondelete="cascade",
        help="The rule runs when a lead enters this stage.",
    )
    team_id = fields.Many2one(related="stage_id.team_id", string="Pipeline")
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        help="Its working hours are the default business-hours calendar.",
    )
    action_type = fields.Selection(
        ACTION_TYPES, required=True, default="activity", help="What the rule does."
    )
    filter_domain = fields.Char(
        "Condition",
        default="[]",
        help="Domain on the lead, checked when the lead enters the stage and again "
        "when a delayed job runs.",
    )
    # -- timing
    timing = fields.Selection(
        [
            ("immediate", "Immediately"),
            ("delay", "After a delay"),
            ("date_field", "Relative to a date of the lead"),
        ],
        required=True,
        default="immediate",
        help="Immediately: when the lead enters the stage. After a delay: counted from "
        "the entry. Relative to a date: before or after a date/datetime field.",
    )
    delay_count = fields.Integer(default=0, help="Size of the delay (or of the offset).")
    delay_unit = fields.Selection(
        automation_timing.DELAY_UNITS, default="days", required=True, help="Unit of the delay."
    )
    date_field_id = fields.Many2one(
        "ir.model.fields",
        domain=[("model", "=", "crm.lead"), ("ttype", "in", ("date", "datetime"))],
        ondelete="cascade",
        help="Date or datetime field of the lead the delay is counted from.",
    )
    date_direction = fields.Selection(
        [("before", "Before"), ("after", "After")],
        default="after",
        required=True,
        help="Run the delay before or after the date.",
    )
    business_hours = fields.Boolean(
        help="Count the delay in working time of a calendar, holidays excluded.",
    )
    calendar_source = fields.Selection(
        [("company", "Company"), ("salesperson", "Salesperson")],
        default="company",
        required=True,
        help="Whose working hours count: the company's or the salesperson's (falls "
        "back to the company's).",
    )
    resource_calendar_id = fields.Many2one(
        "resource.calendar",
        "Working hours",
        help="Fixed calendar; overrides the company / salesperson calendar.",
    )
    keep_running = fields.Boolean(
        "Keep running after exit",
        help="Delayed jobs still run when the lead has left the stage.",
    )
    run_when_skipped = fields.Boolean(
        "Run when skipped over",
        help="Also run when a lead jumps over this stage to a later one of the pipeline.",
    )
    # -- activity
    activity_type_id = fields.Many2one(
        "mail.activity.type", help="Type of the activity to schedule."
    )
    activity_summary = fields.Char(help="Summary of the activity.")
    activity_note = fields.Html(help="Note of the activity.")
    activity_deadline_count = fields.Integer(
        "Deadline in", default=0, help="Deadline of the activity after the rule runs."
    )
    activity_deadline_unit = fields.Selection(
        [("days", "Days"), ("weeks", "Weeks"), ("months", "Months")],
        default="days",
        required=True,
        help="Unit of the activity deadline.",
    )
    activity_user_source = fields.Selection(
        [("salesperson", "Salesperson"), ("user", "Specific user"), ("team_leader", "Team leader")],
        default="salesperson",
        required=True,
        help="Who gets the activity.",
    )
    activity_user_id = fields.Many2one("res.users", help="Assignee when 'Specific user'.")
    activity_done_on_exit = fields.Boolean(
        "Done when the lead leaves",
        help="Mark the activity done when the lead leaves the stage.",
    )
    # -- repeat_lead / copy_lead
    lead_name_template = fields.Char(
        "New lead title",
        help="Title of the new lead; placeholders: {name}, {partner_name}, "
        "{contact_name}, {email}, {phone}, {user}, {team}, {stage}, {date}. Empty: the "
        "lead's name (repeat) or '<name> (copy)' (copy).",
    )
    target_team_id = fields.Many2one(
        "crm.team", "Target pipeline", help="Pipeline of the new lead (default: the same)."
    )
    target_stage_id = fields.Many2one(
        "crm.stage",
        "Target stage",
        help="Stage of the new lead (default: the first stage of the target pipeline).",
    )
    target_user_source = fields.Selection(
        [
            ("same", "Same salesperson"),
            ("user", "Specific user"),
            ("team_leader", "Team leader of the target pipeline"),
            ("none", "Unassigned"),
        ],
        default="same",
        required=True,
        help="Salesperson of the new lead.",
    )
    target_user_id = fields.Many2one("res.users", help="Salesperson when 'Specific user'.")
    # -- email / sms
    mail_template_id = fields.Many2one(
        "mail.template",
        domain=[("model", "=", "crm.lead")],
        help="Email template sent from the lead's chatter.",
    )
    sms_template_id = fields.Many2one(
        "sms.template", domain=[("model", "=", "crm.lead")], help="SMS template."
    )
    # -- tags
    tag_add_ids = fields.Many2many(
        "crm.tag", "crm_automation_rule_tag_add_rel", string="Add tags", help="Tags to add."
    )
    tag_remove_ids = fields.Many2many(
        "crm.tag",
        "crm_automation_rule_tag_remove_rel",
        string="Remove tags",
        help="Tags to remove.",
    )
    # -- assign
    assign_mode = fields.Selection(
        [("user", "A user"), ("team_leader", "The team leader"), ("round_robin", "Round-robin")],
        default="user",
        required=True,
        help="Round-robin: in turn among the active members of the team, fairly, "
        "whatever the number of workers.",
    )
    assign_user_id = fields.Many2one("res.users", help="Salesperson when 'A user'.")
    assign_team_id = fields.Many2one(
        "crm.team", help="Team for the team leader / round-robin (default: the lead's team)."
    )
    assign_last_user_id = fields.Many2one(
        "res.users", readonly=True, copy=False, help="Last user given a lead (round-robin)."
    )
    # -- notify
    notify_target = fields.Selection(
        [("salesperson", "Salesperson"), ("team_leader", "Team leader"), ("users", "Chosen users")],
        default="salesperson",
        required=True,
        help="Who gets the internal notification.",
    )
    notify_user_ids = fields.Many2many(
        "res.users", "crm_automation_rule_notify_user_rel", help="Users to notify."
    )
    notify_message = fields.Text(
        help="Message of the notification; same placeholders as the lead title.",
    )
    # -- update
    update_line_ids = fields.One2many(
        "crm.automation.rule.update", "rule_id", copy=True, help="Field values to set."
    )
    # -- server_action
    server_action_id = fields.Many2one(
        "ir.actions.server",
        domain=[("model_name", "=", "crm.lead")],
        help="Any server action on leads, run with active_model/active_id.",
    )
    job_ids = fields.One2many("crm.automation.job", "rule_id")
    job_pending_count = fields.Integer(compute="_compute_job_pending_count")

    def _compute_job_pending_count(self):
        counts = dict(
            self.env["crm.automation.job"]._read_group(
                [("rule_id", "in", self.ids), ("state", "=", "pending")], ["rule_id"], ["__count"]
            )
        )
        for rule in self:
            rule.job_pending_count = counts.get(rule, 0)

    @api.constrains("timing", "date_field_id", "delay_count")
    def _check_timing(self):
        for rule in self:
            if rule.timing == "date_field" and not rule.date_field_id:
                raise ValidationError(_("Rule %(rule)s needs a date field.", rule=rule.name))
            if rule.delay_count < 0:
                raise ValidationError(_("Use 'Before' instead of a negative delay."))

    @api.constrains("filter_domain")
    def _check_filter_domain(self):
        for rule in self:
            try:
                self.env["crm.lead"].search_count(rule._get_domain(), limit=1)
            except Exception as exc:
                raise ValidationError(
                    _("Invalid condition on rule %(rule)s: %(error)s", rule=rule.name, error=exc)
                ) from exc

    @api.constrains("action_type", "target_stage_id", "target_team_id")
    def _check_target(self):
        for rule in self.filtered(lambda r: r.action_type == "copy_lead"):
            if not (rule.target_stage_id or rule.target_team_id):
                raise ValidationError(
                    _("Rule %(rule)s: choose the pipeline or stage to copy to.", rule=rule.name)
                )

    # ------------------------------------------------------------------
    # Condition and timing
    # ------------------------------------------------------------------

    def _get_domain(self):
        return lead_condition.condition_domain(self)

    def _filter_leads(self, leads):
        """Leads of ``leads`` matching the rule's condition (one query per rule)."""
        self.ensure_one()
        domain = self._get_domain()
        if not domain or not leads:
            return leads
        if not all(isinstance(lead_id, int) for lead_id in leads.ids):
            # Leads in memory (the dry-run's lead as it would be after the move):
            # evaluate the condition on their values, with the same rights.
            return (
                leads.sudo()
                .with_context(active_test=False)
                .filtered_domain(domain)
                .with_env(leads.env)
            )
        # The condition is the manager's configuration: evaluate it whatever the
        # acting user may read, and for archived (won/lost) leads too.
        matching = (
            leads.sudo().with_context(active_test=False)._search([("id", "in", leads.ids)] + domain)
        )
        return leads.browse(matching)

    def _get_calendar(self, lead):
        """Business-hours calendar and resource (personal leaves) of ``lead``."""
        self.ensure_one()
        if self.resource_calendar_id:
            return self.resource_calendar_id, None
        company = lead.company_id or self.company_id or self.env.company
        if self.calendar_source == "salesperson" and lead.user_id:
            resource = lead.user_id.sudo().resource_ids[:1]
            if resource.calendar_id:
                return resource.calendar_id, resource
        return company.resource_calendar_id, None

    def _date_field_start(self, lead):
        """Reference moment (naive UTC) of a date-field rule; None when empty."""
        value = lead[self.date_field_id.name]
        if not value:
            return None
        if isinstance(value, datetime):
            return value
        # A Date counts from midnight in the calendar's (or the salesperson's) tz.
        calendar, _resource = self._get_calendar(lead)
        tz = pytz.timezone(calendar.tz or lead.user_id.tz or "UTC")
        return (
            tz.localize(datetime.combine(value, time.min)).astimezone(pytz.utc).replace(tzinfo=None)
        )

    def _compute_run_at(self, lead, entered_at):
        """When the job of ``lead`` entering the stage at ``entered_at`` is due.

        :param lead: crm.lead record
        :param entered_at: naive UTC datetime of the stage entry
        :return: naive UTC datetime, or None (date field empty: nothing to run)
        """
        self.ensure_one()
        if self.timing == "immediate":
            return entered_at
        count = self.delay_count
        if self.timing == "date_field":
            start = self._date_field_start(lead)
            if start is None:
                return None
            if self.date_direction == "before":
                count = -count
            if not self.business_hours and not isinstance(lead[self.date_field_id.name], datetime):
                # A Date plus whole days/months is a local date: midnight local time
                # of the target day, whatever the UTC offset between the two dates.
                calendar, _resource = self._get_calendar(lead)
                tz = pytz.timezone(calendar.tz or lead.user_id.tz or "UTC")
                local = datetime.combine(lead[self.date_field_id.name], time.min)
                target = local + automation_timing.calendar_delta(count, self.delay_unit)
                return tz.localize(target).astimezone(pytz.utc).replace(tzinfo=None)
        else:
            start = entered_at
        if self.business_hours:
            calendar, resource = self._get_calendar(lead)
            if calendar:
                return automation_timing.add_business_delay(
                    calendar, start, count, self.delay_unit, resource=resource
                )
        return automation_timing.add_calendar_delay(start, count, self.delay_unit)

    def _compute_run_at_batch(self, leads, entered_at):
        """``{lead id: run_at}`` for many leads, computing each distinct case once."""
        self.ensure_one()
        if self.timing == "immediate":
            return dict.fromkeys(leads.ids, entered_at)
        if self.timing == "delay" and (
            not self.business_hours
            or self.resource_calendar_id
            or self.calendar_source == "company"
        ):
            # Same start and same calendar for leads of one company: compute per company.
            by_company = {}
            result = {}
            for lead in leads:
                key = lead.company_id.id
                if key not in by_company:
                    by_company[key] = self._compute_run_at(lead, entered_at)
                result[lead.id] = by_company[key]
            return result
        return {lead.id: self._compute_run_at(lead, entered_at) for lead in leads}

    # ------------------------------------------------------------------
    # Scheduling (called by crm.lead on stage entry)
    # ------------------------------------------------------------------

    def _uniform_run_at(self, leads, entered_at):
        """The due time shared by all ``leads``, or None when it depends on the lead."""
        self.ensure_one()
        if self.timing == "immediate":
            return entered_at
        if self.timing != "delay":
            return None
        if not self.business_hours:
            return automation_timing.add_calendar_delay(
                entered_at, self.delay_count, self.delay_unit
            )
        if self.resource_calendar_id or (
            self.calendar_source == "company" and len(leads.company_id) <= 1
        ):
            return self._compute_run_at(leads[:1], entered_at)
        return None

    @api.model
    def _plan_jobs(self, rule_leads, entered_at):
        """Which rules run for which leads and when: the one decision function of the
        engine (``_schedule_jobs``) and of the dry-run. Reads only: nothing is written.

        :param rule_leads: list of (rule, leads) pairs (``_automation_rules_to_schedule``)
        :param entered_at: naive UTC datetime of the entry
        :return: JobPlan: ``uniform`` {lead ids: ([rule ids], [run_at])} for rules whose
            due time is the same for all their leads, ``rule_ids`` / ``lead_ids`` /
            ``run_ats`` one per other (rule, lead), ``skipped`` ledger values of the
            (rule, lead) pairs that do not run (condition false, empty date field)
        """
        plan = JobPlan()
        for rule, leads in rule_leads:
            matching = rule._filter_leads(leads)
            for lead in (leads - matching) if len(matching) != len(leads) else ():
                plan.skipped.append(
                    {
                        "lead_id": lead.id,
                        "kind": "rule_skipped",
                        "rule_id": rule.id,
                        "stage_id": rule.stage_id.id,
                        "message": _(
                            "Condition not met at entry: %(domain)s", domain=rule.filter_domain
                        ),
                    }
                )
            if not matching:
                continue
            run_at = rule._uniform_run_at(matching, entered_at)
            if run_at is not None:
                group = plan.uniform[tuple(matching.ids)]
                group[0].append(rule.id)
                group[1].append(run_at)
                continue
            run_at_by_lead = rule._compute_run_at_batch(matching, entered_at)
            for lead in matching:
                run_at = run_at_by_lead.get(lead.id)
                if run_at is None:
                    plan.skipped.append(
                        {
                            "lead_id": lead.id,
                            "kind": "rule_skipped",
                            "rule_id": rule.id,
                            "stage_id": rule.stage_id.id,
                            "message": _(
                                "%(field)s is empty: nothing to schedule.",
                                field=rule.date_field_id.field_description,
                            ),
                        }
                    )
                    continue
                plan.rule_ids.append(rule.id)
                plan.lead_ids.append(lead.id)
                plan.run_ats.append(run_at)
        return plan

    @api.model
    def _schedule_jobs(self, rule_leads, entered_at, return_due=True):
        """Insert the jobs of stage entries set-wise; return the ids of due jobs.

        :param rule_leads: list of (rule, leads) pairs; the visit is each lead's
            current ``automation_visit``
        :param entered_at: naive UTC datetime of the entry
        :param return_due: return the ids of the jobs due now (small writes run them
            at once); big writes leave them to the dispatcher and skip the RETURNING;
            when they plan more than ``job_plan_threshold`` jobs, the dispatcher also
            inserts the job rows (``crm.automation.job.plan``)
        :return: list of ids of the inserted jobs due now
        """
        Log = self.env["crm.automation.log"]
        plan = self._plan_jobs(rule_leads, entered_at)
        uniform, skipped = plan.uniform, plan.skipped
        rule_ids, lead_ids, run_ats = plan.rule_ids, plan.lead_ids, plan.run_ats
        Log._log_many(skipped)
        if not (uniform or rule_ids):
            return []
        moments = set(run_ats)
        for _rule_ids, group_run_ats in uniform.values():
            moments.update(group_run_ats)
        Plan = self.env["crm.automation.job.plan"]
        if not return_due and plan.job_count() > Plan._threshold():
            # A mass edit: the jobs are decided here and created by the dispatcher
            # (crm.automation.job.plan), the write pays for one row; the dispatcher
            # starts now to create them.
            Plan._defer(plan, entered_at)
            self.env["crm.automation.job"]._wake_dispatcher(moments | {entered_at})
            return []
        self.env.flush_all()
        # Raw INSERT ... SELECT: one statement for all (rule, lead) pairs of a bulk
        # write (10 rules x 10,000 leads = 100,000 rows), where the ORM would run one
        # INSERT per 1,000 rows plus per-record computations and checks. Uniform rules
        # send the lead ids once (cross join). No ON CONFLICT: the visit was just
        # incremented (under the lead's row lock), so a (lead, visit, rule) key cannot
        # exist yet; a duplicate would be an engine bug and must fail loudly.
        common = SQL("%(entered_at)s, 'pending', 0", entered_at=entered_at)
        columns = SQL("rule_id, lead_id, visit, run_at, entered_at, state, attempts")
        returning = SQL("RETURNING id, run_at") if return_due else SQL()
        rows = []
        for group_lead_ids, (group_rule_ids, group_run_ats) in uniform.items():
            rows += self.env.execute_query(
                SQL(
                    """
                INSERT INTO crm_automation_job (%(columns)s)
                SELECT r.rule_id, l.id, COALESCE(l.automation_visit, 0), r.run_at, %(common)s
                  FROM unnest(%(rule_ids)s::int[], %(run_ats)s::timestamp[]) AS r(rule_id, run_at)
                 CROSS JOIN crm_lead l
                 WHERE l.id = ANY(%(lead_ids)s)
                %(returning)s
                    """,
                    columns=columns,
                    common=common,
                    rule_ids=group_rule_ids,
                    run_ats=group_run_ats,
                    lead_ids=list(group_lead_ids),
                    returning=returning,
                )
            )
        if rule_ids:
            rows += self.env.execute_query(
                SQL(
                    """
                INSERT INTO crm_automation_job (%(columns)s)
                SELECT u.rule_id, u.lead_id, COALESCE(l.automation_visit, 0), u.run_at, %(common)s
                  FROM unnest(%(rule_ids)s::int[], %(lead_ids)s::int[], %(run_ats)s::timestamp[])
                       AS u(rule_id, lead_id, run_at)
                  JOIN crm_lead l ON l.id = u.lead_id
                %(returning)s
                    """,
                    columns=columns,
                    common=common,
                    rule_ids=rule_ids,
                    lead_ids=lead_ids,
                    run_ats=run_ats,
                    returning=returning,
                )
            )
        self.env["crm.automation.job"].invalidate_model()
        self.env["crm.lead"].invalidate_model(["automation_job_ids"])
        self.env["crm.automation.job"]._wake_dispatcher(moments)
        now = fields.Datetime.now()
        return [job_id for job_id, run_at in rows if run_at <= now]

    # ------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------

    def _execute(self, lead, job):
        """Run the action on ``lead`` for ``job``; return a short description.

        :param lead: crm.lead record (superuser environment)
        :param job: crm.automation.job record being run
        :return: str, what was done (ledger and chatter)
        """
        self.ensure_one()
        return getattr(self, f"_execute_{self.action_type}")(lead, job)

    def _render_placeholders(self, text, lead):
        """Fill ``{placeholders}`` of ``text`` with values of ``lead``."""
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

    def _get_team_leader(self, lead, team=None):
        team = team or lead.team_id
        return team.user_id

    # -- activity -----------------------------------------------------

    def _get_activity_user(self, lead):
        if self.activity_user_source == "user":
            return self.activity_user_id
        if self.activity_user_source == "team_leader":
            return self._get_team_leader(lead) or lead.user_id
        return lead.user_id

    def _prepare_activity_vals(self, lead, job):
        """Values of the activity created by the ``activity`` action (hook).

        :param lead: crm.lead record
        :param job: crm.automation.job record
        :return: dict of mail.activity values
        """
        activity_type = self.activity_type_id or self.env.ref(
            "mail.mail_activity_data_todo", raise_if_not_found=False
        )
        user = self._get_activity_user(lead) or self.env.user
        deadline = fields.Date.context_today(
            lead.with_user(user)
        ) + automation_timing.calendar_delta(
            self.activity_deadline_count, self.activity_deadline_unit
        )
        return {
            "res_model_id": self.env["ir.model"]._get_id("crm.lead"),
            "res_id": lead.id,
            "activity_type_id": activity_type.id,
            "summary": self.activity_summary or activity_type.summary or self.name,
            "note": self.activity_note,
            "date_deadline": deadline,
            "user_id": user.id,
            "automated": True,
        }

    def _execute_activity(self, lead, job):
        activity = self.env["mail.activity"].create(self._prepare_activity_vals(lead, job))
        job.activity_id = activity
        return _(
            "Activity '%(summary)s' planned for %(user)s, due %(date)s.",
            summary=activity.summary or activity.activity_type_id.name,
            user=activity.user_id.name,
            date=activity.date_deadline,
        )

    # -- repeat_lead / copy_lead ----------------------------------------

    def _get_target(self, lead):
        """(team, stage, user) of a lead created by repeat_lead / copy_lead."""
        team = self.target_team_id or self.target_stage_id.team_id or lead.team_id
        stage = self.target_stage_id
        if not stage:
            stage = self.env["crm.lead"]._stage_find(team_id=team.id, domain=[("fold", "=", False)])
        if self.target_user_source == "user":
            user = self.target_user_id
        elif self.target_user_source == "team_leader":
            user = team.user_id
        elif self.target_user_source == "none":
            user = self.env["res.users"]
        else:
            user = lead.user_id
        return team, stage, user

    def _execute_repeat_lead(self, lead, job):
        team, stage, user = self._get_target(lead)
        new_lead = self.env["crm.lead"].create(
            {
                "name": self._render_placeholders(self.lead_name_template or "{name}", lead),
                "type": lead.type,
                "partner_id": lead.partner_id.id,
                "partner_name": lead.partner_name,
                "contact_name": lead.contact_name,
                "email_from": lead.email_from,
                "phone": lead.phone,
                "team_id": team.id,
                "stage_id": stage.id,
                "user_id": user.id,
                "company_id": lead.company_id.id,
                "automation_origin_lead_id": lead.id,
            }
        )
        return _(
            "Repeat lead %(lead)s created in %(stage)s.",
            lead=new_lead.display_name,
            stage=new_lead.stage_id.name,
        )

    def _execute_copy_lead(self, lead, job):
        team, stage, user = self._get_target(lead)
        name = (
            self._render_placeholders(self.lead_name_template, lead)
            if self.lead_name_template
            else _("%(name)s (copy)", name=lead.name)
        )
        new_lead = lead.copy(
            default={
                "name": name,
                "team_id": team.id,
                "stage_id": stage.id,
                "user_id": user.id,
                "automation_origin_lead_id": lead.id,
            }
        )
        return _(
            "Copied to %(lead)s in %(team)s / %(stage)s.",
            lead=new_lead.display_name,
            team=new_lead.team_id.name,
            stage=new_lead.stage_id.name,
        )

    # -- email / sms -----------------------------------------------------

    def _execute_email(self, lead, job):
        if not self.mail_template_id:
            raise UserError(_("Rule %(rule)s has no email template.", rule=self.name))
        lead.message_post_with_source(
            self.mail_template_id,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        return _("Email '%(template)s' sent.", template=self.mail_template_id.name)

    def _execute_sms(self, lead, job):
        if not self.sms_template_id:
            raise UserError(_("Rule %(rule)s has no SMS template.", rule=self.name))
        lead._message_sms_with_template(
            template=self.sms_template_id, partner_ids=lead.partner_id.ids
        )
        return _("SMS '%(template)s' sent.", template=self.sms_template_id.name)

    # -- tags / assign / notify / update / server_action -----------------

    def _execute_tags(self, lead, job):
        commands = [(4, tag.id) for tag in self.tag_add_ids] + [
            (3, tag.id) for tag in self.tag_remove_ids
        ]
        if commands:
            lead.write({"tag_ids": commands})
        return _(
            "Tags added: %(added)s; removed: %(removed)s.",
            added=", ".join(self.tag_add_ids.mapped("name")) or "-",
            removed=", ".join(self.tag_remove_ids.mapped("name")) or "-",
        )

    def _next_round_robin_user(self, team):
        """Next member of ``team`` after the rule's pointer, and move the pointer."""
        # Lock the rule row: two workers assigning at the same time must not hand the
        # same turn twice (the pointer is the fairness state).
        self.env.cr.execute(
            SQL("SELECT id FROM crm_automation_rule WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset(["assign_last_user_id"])
        users = team.crm_team_member_ids.filtered(lambda m: m.active and m.user_id.active).mapped(
            "user_id"
        )
        users = users.sorted("id")
        if not users:
            return self.env["res.users"]
        last_id = self.assign_last_user_id.id or 0
        user = next((u for u in users if u.id > last_id), users[0])
        self.assign_last_user_id = user
        return user

    def _execute_assign(self, lead, job):
        team = self.assign_team_id or lead.team_id
        if self.assign_mode == "user":
            user = self.assign_user_id
        elif self.assign_mode == "team_leader":
            user = team.user_id
        else:
            user = self._next_round_robin_user(team)
        if not user:
            raise UserError(_("Rule %(rule)s found nobody to assign.", rule=self.name))
        lead.write({"user_id": user.id})
        return _("Assigned to %(user)s.", user=user.name)

    def _get_notify_users(self, lead):
        if self.notify_target == "users":
            return self.notify_user_ids
        if self.notify_target == "team_leader":
            return self._get_team_leader(lead)
        return lead.user_id

    def _execute_notify(self, lead, job):
        users = self._get_notify_users(lead)
        if not users:
            return _("Nobody to notify.")
        body = self._render_placeholders(self.notify_message or self.name, lead)
        lead.message_notify(
            partner_ids=users.partner_id.ids,
            body=Markup("<p>%s</p>") % body,
            subject=self.name,
            subtype_xmlid="mail.mt_note",
        )
        return _("Notified %(users)s.", users=", ".join(users.mapped("name")))

    def _execute_update(self, lead, job):
        vals = {line.field_id.name: line._convert_value() for line in self.update_line_ids}
        if vals:
            lead.write(vals)
        return _(
            "Updated %(fields)s.",
            fields=", ".join(self.update_line_ids.mapped("field_id.field_description")) or "-",
        )

    def _execute_server_action(self, lead, job):
        if not self.server_action_id:
            raise UserError(_("Rule %(rule)s has no server action.", rule=self.name))
        self.server_action_id.with_context(
            active_model="crm.lead", active_id=lead.id, active_ids=lead.ids
        ).run()
        return _("Server action '%(action)s' run.", action=self.server_action_id.name)

    # ------------------------------------------------------------------
    # Stage exit
    # ------------------------------------------------------------------

    @api.model
    def _on_visits_left(self, jobs):
        """Complete the activities of ``jobs`` whose rule asks so (lead left stage)."""
        for job in jobs:
            activity = job.activity_id
            if activity.exists() and job.rule_id.activity_done_on_exit:
                activity.action_feedback(
                    feedback=_(
                        "Done automatically: the lead left %(stage)s.", stage=job.stage_id.name
                    )
                )
                self.env["crm.automation.log"]._log(
                    job.lead_id,
                    "activity_done",
                    rule=job.rule_id,
                    job=job,
                    stage=job.stage_id,
                    message=_("Activity completed: the lead left the stage."),
                )

    def action_view_jobs(self):
        self.ensure_one()
        # A button, but callable over RPC by anyone logged in: readers only.
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_automation_job_action"
        )
        action["domain"] = [("rule_id", "=", self.id)]
        action["context"] = {"search_default_filter_pending": 1}
        return action

    # ------------------------------------------------------------------
    # CRUD: what crm.lead._automation_config caches
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        self.env.registry.clear_cache()
        return rules

    def write(self, vals):
        result = super().write(vals)
        # The stages of the rules (archived and draft too) and "run when skipped over".
        if {"stage_id", "run_when_skipped"} & vals.keys():
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
