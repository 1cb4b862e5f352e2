# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
from datetime import datetime, time

import pytz
from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..engine import placeholders
from ..engine import timing as automation_timing

_logger = logging.getLogger(__name__)

# "Complete within" below this many minutes is refused: nobody can react faster to a
# notification, and the reminder cron works to the minute.
MIN_DEADLINE_MINUTES = 30
# Minutes per unit, for the minimum check only (a month counts as its shortest, 28 days).
UNIT_MINUTES = {
    "minutes": 1,
    "hours": 60,
    "days": 24 * 60,
    "weeks": 7 * 24 * 60,
    "months": 28 * 24 * 60,
}
# Fields of the templates that crm.lead._automation_config caches.
CONFIG_FIELDS = {
    "active",
    "event_key",
    "auto_done_on_stage_change",
    "scope",
    "team_ids",
    "deadline_base",
}
# Context key: the meeting being scheduled or moved (calendar.event id); its lead's
# template activities count from it rather than from the lead's next meeting.
MEETING_KEY = "crm_automation_meeting_id"
REMINDER_UNITS = [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")]

# Events that create activities from templates without any stage move. The trigger
# work (crm.lead.event) calls ``_create_for_event(leads, key)`` with its event_type keys;
# this addon itself calls it for lead creation and lead lost.
EVENT_KEYS = [
    ("lead_created", "Lead created"),
    ("lead_lost", "Lead lost"),
    ("form_submitted", "Website form sent"),
    ("email_open", "Email opened"),
    ("link_click", "Link clicked"),
    ("email_received", "Email received"),
    ("email_sent", "Email sent"),
    ("url_visited", "Page visited"),
    ("call_incoming", "Incoming call"),
    ("call_outgoing", "Outgoing call"),
    ("call_missed", "Missed call"),
    ("chat_started", "Chat started"),
    ("chat_accepted", "Chat accepted"),
    ("chat_response_late", "Chat response late"),
    ("chat_keyword", "Chat keyword"),
    ("meeting_scheduled", "Meeting scheduled"),
    ("lead_idle", "Lead idle (rotting)"),
]


class CrmActivityTemplate(models.Model):
    _name = "crm.activity.template"
    _inherit = ["crm.automation.config.mixin"]
    _description = "CRM Activity Template"
    _automation_config_fields = tuple(CONFIG_FIELDS)
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10, help="Order of the templates.")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        help="Its working hours are the default business-hours calendar.",
    )
    description = fields.Text(
        "Internal notes", help="For the managers: why this template exists, who uses it."
    )
    # -- what
    activity_type_id = fields.Many2one(
        "mail.activity.type",
        required=True,
        default=lambda self: self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False),
        ondelete="restrict",
        help="Type of the activity created.",
    )
    summary = fields.Char(
        translate=True,
        help="Summary of the activity; placeholders from the lead: {name}, {partner_name}, "
        "{contact_name}, {email}, {phone}, {user}, {team}, {stage}, {date}.",
    )
    note = fields.Html(
        translate=True, sanitize_style=True, help="Note of the activity; same placeholders."
    )
    # -- deadline
    deadline_count = fields.Integer(
        "Complete within",
        default=1,
        required=True,
        help="Time given to complete the activity (at least 30 minutes), or the offset "
        "from the lead's date.",
    )
    deadline_unit = fields.Selection(
        automation_timing.DELAY_UNITS,
        default="days",
        required=True,
        help="Unit of 'Complete within'.",
    )
    deadline_base = fields.Selection(
        [
            ("create", "When the activity is created"),
            ("date_field", "A date of the lead"),
            ("meeting", "The lead's next meeting"),
        ],
        default="create",
        required=True,
        help="What the deadline is counted from.",
    )
    date_field_id = fields.Many2one(
        "ir.model.fields",
        domain=[("model", "=", "crm.lead"), ("ttype", "in", ("date", "datetime"))],
        ondelete="cascade",
        help="Date or datetime field of the lead the deadline is counted from.",
    )
    date_direction = fields.Selection(
        [("before", "Before"), ("after", "After")],
        default="before",
        required=True,
        help="Deadline before or after the date (e.g. 120 minutes before the meeting).",
    )
    business_hours = fields.Boolean(
        help="Count the time in working hours of a calendar, in its time zone, holidays "
        "excluded.",
    )
    calendar_source = fields.Selection(
        [("company", "Company"), ("assignee", "Assignee")],
        default="company",
        required=True,
        help="Whose working hours count: the company's or the assignee's (falls back to "
        "the company's).",
    )
    resource_calendar_id = fields.Many2one(
        "resource.calendar",
        "Working hours",
        help="Fixed calendar; overrides the company / assignee calendar.",
    )
    reminder_count = fields.Integer(
        "Remind",
        default=0,
        help="Remind the assignee this long before the deadline; 0: no reminder.",
    )
    reminder_unit = fields.Selection(
        REMINDER_UNITS, default="hours", required=True, help="Unit of the reminder."
    )
    notify_leader_overdue = fields.Boolean(
        "Tell the team leader when overdue",
        help="The overdue notice also goes to the leader of the lead's sales team.",
    )
    auto_done_on_stage_change = fields.Boolean(
        "Done when the lead changes stage",
        help="Open activities of this template are marked done when their lead moves "
        "to another stage.",
    )
    # -- who
    user_source = fields.Selection(
        [
            ("salesperson", "Salesperson of the lead"),
            ("user", "A chosen user"),
            ("team_leader", "Team leader"),
            ("round_robin", "Round-robin in the team"),
        ],
        "Assignee",
        default="salesperson",
        required=True,
        help="Who gets the activity. Round-robin: in turn among the active members of "
        "the lead's team. Falls back to the salesperson, then the team leader.",
    )
    user_id = fields.Many2one("res.users", "User", help="Assignee when 'A chosen user'.")
    round_robin_last_user_id = fields.Many2one(
        "res.users", readonly=True, copy=False, help="Last user given an activity (round-robin)."
    )
    # -- where
    scope = fields.Selection(
        [("all", "All leads"), ("teams", "Sales teams"), ("groups", "User groups")],
        default="all",
        required=True,
        help="Only leads whose salesperson belongs to one of the chosen teams / groups.",
    )
    team_ids = fields.Many2many("crm.team", string="Teams", help="Teams of the scope.")
    group_ids = fields.Many2many("res.groups", string="Groups", help="User groups of the scope.")
    event_key = fields.Selection(
        EVENT_KEYS,
        "Create on event",
        help="Also create the activity when this happens to a lead, without any stage "
        "move. Stage entry is configured with an automation rule of type 'activity'.",
    )
    lost_stage_ids = fields.Many2many(
        "crm.stage",
        "crm_activity_template_lost_stage_rel",
        "template_id",
        "stage_id",
        "Only when lost from",
        help="Create on event 'Lead lost': only for leads lost from one of these stages; "
        "empty: from any stage.",
    )
    activity_ids = fields.One2many("mail.activity", "activity_template_id", "Activities")

    @api.constrains("deadline_count", "deadline_unit")
    def _check_deadline(self):
        for template in self:
            total = template.deadline_count * UNIT_MINUTES[template.deadline_unit]
            if total < MIN_DEADLINE_MINUTES:
                raise ValidationError(
                    _(
                        "Activity template %(template)s: give at least %(min)s minutes to "
                        "complete the activity (now %(count)s %(unit)s).",
                        template=template.name,
                        min=MIN_DEADLINE_MINUTES,
                        count=template.deadline_count,
                        unit=template.deadline_unit,
                    )
                )

    @api.constrains("deadline_base", "date_field_id", "user_source", "user_id", "reminder_count")
    def _check_config(self):
        for template in self:
            if template.deadline_base == "date_field" and not template.date_field_id:
                raise ValidationError(
                    _("Activity template %(template)s needs a date field.", template=template.name)
                )
            if template.user_source == "user" and not template.user_id:
                raise ValidationError(
                    _("Activity template %(template)s needs a user.", template=template.name)
                )
            if template.reminder_count < 0:
                raise ValidationError(
                    _("The reminder is a time before the deadline: use a positive number.")
                )

    # ------------------------------------------------------------------
    # Scope and assignee
    # ------------------------------------------------------------------

    def _applies_to(self, lead):
        """Whether ``lead`` is in the scope of the template (by its salesperson; a "lead
        lost" template with stages: lost from one of them)."""
        self.ensure_one()
        if (
            self.event_key == "lead_lost"
            and self.lost_stage_ids
            and not lead.active
            and lead.stage_id not in self.lost_stage_ids
        ):
            return False
        if self.scope == "all":
            return True
        user = lead.user_id
        if not user:
            return False
        if self.scope == "teams":
            return bool(
                self.team_ids.filtered(lambda team: user in team.member_ids or user == team.user_id)
            )
        return bool(user.sudo().groups_id & self.group_ids)

    def _next_round_robin_user(self, team):
        """Next active member of ``team`` after the template's pointer; moves the pointer."""
        self.ensure_one()
        users = (
            team.crm_team_member_ids.filtered(lambda m: m.active and m.user_id.active)
            .mapped("user_id")
            .sorted("id")
        )
        if not users:
            return self.env["res.users"]
        # Lock the template row: two workers creating activities at once must not give
        # the same turn twice (the pointer is the fairness state).
        self.env.cr.execute(
            SQL("SELECT id FROM crm_activity_template WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset(["round_robin_last_user_id"])
        last_id = self.round_robin_last_user_id.id or 0
        user = next((u for u in users if u.id > last_id), users[0])
        # sudo: salespeople creating leads move the pointer, not configure the template.
        self.sudo().round_robin_last_user_id = user
        return user

    def _get_assignee(self, lead):
        """User who gets the activity of ``lead``."""
        self.ensure_one()
        if self.user_source == "user":
            user = self.user_id
        elif self.user_source == "team_leader":
            user = lead.team_id.user_id
        elif self.user_source == "round_robin":
            user = self._next_round_robin_user(lead.team_id)
        else:
            user = lead.user_id
        return user or lead.user_id or lead.team_id.user_id or self.env.user

    # ------------------------------------------------------------------
    # Deadline
    # ------------------------------------------------------------------

    def _get_calendar(self, lead, user):
        """(resource.calendar, resource or None) counting the business hours."""
        self.ensure_one()
        if self.resource_calendar_id:
            return self.resource_calendar_id, None
        if self.calendar_source == "assignee" and user:
            resource = (
                user.sudo().resource_ids.filtered(
                    lambda r: r.company_id in (lead.company_id or self.env.company)
                )[:1]
                or user.sudo().resource_ids[:1]
            )
            if resource.calendar_id:
                return resource.calendar_id, resource
        company = lead.company_id or self.company_id or self.env.company
        return company.resource_calendar_id, None

    def _get_tz(self, lead, user):
        calendar, _resource = self._get_calendar(lead, user)
        if self.business_hours and calendar.tz:
            return pytz.timezone(calendar.tz)
        return pytz.timezone(user.tz or calendar.tz or "UTC")

    def _date_field_start(self, lead, user):
        """The lead's reference moment (naive UTC): its date field, or the start of its
        meeting (``_cpa_meeting``); None when empty."""
        if self.deadline_base == "meeting":
            return self._cpa_meeting(lead).start or None
        value = lead[self.date_field_id.name]
        if not value:
            return None
        if isinstance(value, datetime):
            return value
        # A Date starts at midnight where the work is done (calendar or assignee tz).
        local = self._get_tz(lead, user).localize(datetime.combine(value, time.min))
        return local.astimezone(pytz.utc).replace(tzinfo=None)

    def _compute_deadline(self, lead, user, now=None):
        """Deadline (naive UTC, to the minute) of the activity of ``lead`` for ``user``.

        :param lead: crm.lead record
        :param user: res.users record, the assignee (their calendar or tz may count)
        :param now: naive UTC creation moment (default: now)
        :return: naive UTC datetime, or None when the lead's date field is empty
        """
        self.ensure_one()
        count = self.deadline_count
        if self.deadline_base != "create":
            start = self._date_field_start(lead, user)
            if start is None:
                return None
            if self.date_direction == "before":
                count = -count
        else:
            start = now or fields.Datetime.now()
        start = start.replace(second=0, microsecond=0)
        calendar, resource = self._get_calendar(lead, user)
        if self.business_hours and calendar:
            deadline = automation_timing.add_business_delay(
                calendar, start, count, self.deadline_unit, resource=resource
            )
        else:
            deadline = automation_timing.add_calendar_delay(start, count, self.deadline_unit)
        return deadline.replace(second=0, microsecond=0)

    def _reminder_delta(self):
        self.ensure_one()
        return relativedelta(**{self.reminder_unit: self.reminder_count})

    def _deadline_description(self):
        """The deadline in words, e.g. "120 minutes before the lead's next meeting"."""
        self.ensure_one()
        units = dict(self._fields["deadline_unit"]._description_selection(self.env))
        unit = units.get(self.deadline_unit, self.deadline_unit).lower()
        if self.deadline_base == "create":
            return _("within %(count)s %(unit)s", count=self.deadline_count, unit=unit)
        if self.deadline_base == "meeting":
            base = _("the lead's next meeting")
        else:
            # sudo: field labels (ir.model.fields) are readable by administrators only.
            base = self.date_field_id.sudo().field_description or "?"
        if self.date_direction == "before":
            return _(
                "%(count)s %(unit)s before %(base)s",
                count=self.deadline_count,
                unit=unit,
                base=base,
            )
        return _(
            "%(count)s %(unit)s after %(base)s", count=self.deadline_count, unit=unit, base=base
        )

    # ------------------------------------------------------------------
    # Meetings (Exact Spotter: "Meeting confirmation 120 minutes before")
    # ------------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _meeting_template_exists(self):
        """Whether some template (archived too) counts its deadline from a meeting:
        else writing or deleting meetings costs no query (cleared with the registry
        cache by crm.automation.config.mixin, ``deadline_base`` is a config field)."""
        return bool(
            self.sudo()
            .with_context(active_test=False)
            .search_count([("deadline_base", "=", "meeting")], limit=1)
        )

    def _cpa_meeting(self, lead):
        """The meeting the deadline of ``lead``'s activity counts from: the one being
        scheduled or moved (context), else the lead's next meeting (empty if none)."""
        # sudo: a colleague's private meeting still sets the deadline; only its start
        # is read here, the record is not returned to users.
        Event = self.env["calendar.event"].sudo()
        meeting = Event.browse(self.env.context.get(MEETING_KEY)).exists()
        if meeting and lead._origin in meeting._cpa_leads():
            return meeting
        return Event.search(
            [
                ("start", ">=", fields.Datetime.now()),
                "|",
                ("opportunity_id", "=", lead._origin.id),
                "&",
                ("res_model", "=", "crm.lead"),
                ("res_id", "=", lead._origin.id),
            ],
            order="start, id",
            limit=1,
        )

    # ------------------------------------------------------------------
    # Creation
    # ------------------------------------------------------------------

    def _prepare_activity_vals(self, lead, now=None):
        """Values of the activity of ``lead`` (assignee chosen, deadline computed).

        :param lead: crm.lead record
        :param now: naive UTC creation moment (default: now)
        :return: dict of mail.activity values, or None when the deadline cannot be
            computed (empty date field of the lead)
        """
        self.ensure_one()
        user = self._get_assignee(lead)
        deadline = self._compute_deadline(lead, user, now=now)
        if deadline is None:
            return None
        render = placeholders.render
        vals = {
            "res_model_id": self.env["ir.model"]._get_id("crm.lead"),
            "res_id": lead.id,
            "activity_type_id": self.activity_type_id.id,
            "summary": render(self.summary, lead) or self.activity_type_id.summary or self.name,
            "note": render(self.note, lead) if self.note else False,
            "user_id": user.id,
            "deadline_datetime": deadline,
            "activity_template_id": self.id,
            "automated": True,
        }
        if self.deadline_base == "meeting":
            vals["cpa_meeting_id"] = self._cpa_meeting(lead).id
        return vals

    def _execute_for_rule(self, rule, lead, job):
        """The ``activity`` action of ``rule`` (whose activity template is ``self``) for
        ``lead``: the activity, with the values of ``rule._prepare_activity_vals``.

        :return: str, what was done (ledger and chatter)
        """
        self.ensure_one()
        vals, message = self._rule_activity_vals(rule, lead, job)
        if not vals:
            return message
        activity = self.env["mail.activity"].create(vals)
        job.activity_id = activity
        return self._activity_planned(activity)

    def _execute_for_rule_batch(self, rule, leads, jobs):
        """``_execute_for_rule`` for ``leads`` (one job each, same order): one
        ``mail.activity`` create with the deadlines and reminders of each.

        :return: [(result, activity id or None)]
        """
        self.ensure_one()
        results, vals_list, positions = [], [], []
        for lead, job in zip(leads, jobs, strict=False):
            vals, message = self._rule_activity_vals(rule, lead, job)
            if vals:
                positions.append(len(results))
                vals_list.append(vals)
            results.append((message, None))
        activities = self.env["mail.activity"]._cpa_create_notified(vals_list, origin=rule.name)
        for position, activity in zip(positions, activities, strict=False):
            results[position] = (self._activity_planned(activity), activity.id)
        return results

    def _rule_activity_vals(self, rule, lead, job):
        """(activity values, None) of ``rule``'s activity for ``lead``, or (None, why
        there is none)."""
        if self.deadline_base == "meeting" and not self._cpa_meeting(lead):
            return None, _("No activity: the lead has no upcoming meeting.")
        if not self._applies_to(lead):
            return None, _(
                "No activity: the lead's salesperson is outside the scope of template "
                "%(template)s.",
                template=self.name,
            )
        vals = rule._prepare_activity_vals(lead, job)
        if not vals:
            return None, _(
                "No activity: %(field)s of the lead is empty.",
                field=self.date_field_id.field_description,
            )
        return vals, None

    def _activity_planned(self, activity):
        return _(
            "Activity '%(summary)s' (template %(template)s) planned for %(user)s, "
            "due %(deadline)s.",
            summary=activity.summary or activity.activity_type_id.name,
            template=self.name,
            user=activity.user_id.name,
            deadline=activity._format_deadline(activity.user_id),
        )

    def _create_activities(self, leads, now=None):
        """Create one activity of each template of ``self`` for each lead in its scope.

        :param leads: crm.lead recordset
        :param now: naive UTC creation moment (default: now)
        :return: mail.activity recordset created
        """
        vals_list = []
        for template in self:
            for lead in leads:
                if not template._applies_to(lead):
                    continue
                vals = template._prepare_activity_vals(lead, now=now)
                if vals:
                    vals_list.append(vals)
                else:
                    _logger.info(
                        "Activity template %s: %s of lead %s is empty, no activity.",
                        template.id,
                        template.date_field_id.name,
                        lead.id,
                    )
        return self.env["mail.activity"].create(vals_list)

    @api.model
    def _create_for_event(self, leads, event_key):
        """Public hook: ``event_key`` happened to ``leads``: create the activities of
        the active templates configured for that event (no stage move).

        Called by this addon for ``lead_created`` and ``lead_lost``; the trigger work
        calls it with its ``crm.lead.event`` ``event_type`` keys (e.g. ``email_open``).

        :param leads: crm.lead recordset
        :param event_key: one of ``EVENT_KEYS`` (extend with selection_add)
        :return: mail.activity recordset created
        """
        events = self.env["crm.lead"]._automation_config().template_events
        if not leads or event_key not in events:
            return self.env["mail.activity"]  # free when no template is set to the event
        if events[event_key] is not None:
            # Only templates scoped to sales teams: their salespeople, in memory.
            leads = leads.filtered(lambda lead: lead.user_id.id in events[event_key])
            if not leads:
                return self.env["mail.activity"]
        templates = self.search([("event_key", "=", event_key)])
        if not templates:
            return self.env["mail.activity"]
        return templates._create_activities(leads)
