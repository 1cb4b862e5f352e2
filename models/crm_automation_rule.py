# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from collections import defaultdict

from markupsafe import Markup

from odoo import Command, _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, plaintext2html

from ..engine import conditions as lead_condition
from ..engine import placeholders
from ..engine import score as lead_score
from ..engine import timing as automation_timing
from ..engine.dispatch import ActionSkipped

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
    ("message", "Post in a live chat or channel"),
]
STATES = [("draft", "Draft"), ("active", "Active")]
# Who the email, SMS and notify actions address.
RECIPIENTS = [
    ("customer", "Customer"),
    ("salesperson", "Salesperson"),
    ("team_leader", "Team leader"),
    ("users", "Chosen users"),
]


class CrmAutomationRule(models.Model):
    _name = "crm.automation.rule"
    _inherit = ["crm.automation.config.mixin"]
    _description = "CRM Automation Rule"
    _order = "stage_id, sequence, id"
    # crm.lead._automation_config: the stages of the rules (archived and draft too) and
    # "run when skipped over"; rules run on lost leads (``run_on``).
    _automation_config_fields = ("stage_id", "run_when_skipped", "run_on")

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10, help="Order of the rules of a stage.")
    active = fields.Boolean(default=True)
    # Default "active": rules made in code, data files and the lists take effect as
    # before; the automation board creates its new rules with default_state=draft.
    state = fields.Selection(
        STATES,
        default="active",
        required=True,
        copy=False,
        help="Draft: designed but not running. Only active (not archived) rules run.",
    )
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
    timing_description = fields.Char(
        "When", compute="_compute_timing_description", help="When the rule runs, in words."
    )
    # -- lead lost (Exact Spotter: "after discarding a lead in Filter 2, 'Recover the
    # lead' in 3 months"), limited to the stages the lead was lost from
    run_on = fields.Selection(
        [("stage_entry", "A lead enters the stage"), ("lead_lost", "A lead is lost")],
        "Runs when",
        default="stage_entry",
        required=True,
        help="Stage entry: when a lead enters the rule's stage. Lead lost: when a lead of "
        "the rule's pipeline is marked lost (from the stages below); its jobs run on the "
        "lost lead and are cancelled if the lead is restored.",
    )
    lost_stage_ids = fields.Many2many(
        "crm.stage",
        "crm_automation_rule_lost_stage_rel",
        "rule_id",
        "stage_id",
        "Only when lost from",
        help="Lead lost: only for leads lost from one of these stages; empty: from any "
        "stage of the pipeline.",
    )
    # -- activity
    activity_template_id = fields.Many2one(
        "crm.activity.template",
        ondelete="restrict",
        help="Create the activity from this template (deadline to the minute, reminder, "
        "assignee, scope); replaces the activity fields of the rule.",
    )
    activity_type_id = fields.Many2one(
        "mail.activity.type", help="Type of the activity to schedule."
    )
    activity_summary = fields.Char(
        help="Summary of the activity; placeholders from the lead: {name}, {partner_name}, "
        "{contact_name}, {email}, {phone}, {user}, {team}, {stage}, {date}."
    )
    activity_note = fields.Html(help="Note of the activity; same placeholders as the summary.")
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
    recipient_target = fields.Selection(
        RECIPIENTS,
        "Send to",
        default="customer",
        required=True,
        help="email / sms: the lead's customer, or internal people (the customer then "
        "never receives it). Emails go to the users' email addresses, SMS to their "
        "mobile (else phone) number.",
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        domain=[("model", "=", "crm.lead")],
        help="Email template sent from the lead's chatter.",
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        domain=[("model", "=", "crm.lead")],
        help="SMS template, sent to the lead's mobile or phone, else to its customer's; "
        "without a valid number the job is skipped.",
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
    score_delta = fields.Integer(
        "Engagement points",
        help="tags action: points added to the lead's engagement score (negative: removed), "
        "with or instead of tags (GetResponse's 'score instead of tags').",
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
        [
            ("customer", "Customer"),
            ("salesperson", "Salesperson"),
            ("team_leader", "Team leader"),
            ("users", "Chosen users"),
        ],
        default="salesperson",
        required=True,
        help="Who gets the internal notification.",
    )
    notify_user_ids = fields.Many2many(
        "res.users",
        "crm_automation_rule_notify_user_rel",
        string="Chosen users",
        help="Users addressed by 'Chosen users' (email, SMS, notify).",
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
    # -- message
    message_target = fields.Selection(
        [("livechat", "The lead's live chat"), ("channel", "A Discuss channel")],
        "Post in",
        default="livechat",
        required=True,
        help="message: the live chat conversation with the lead's visitor or customer, "
        "while it is open (else the job is skipped, the ledger says why), or a Discuss "
        "channel of the team.",
    )
    message_channel_id = fields.Many2one(
        "discuss.channel",
        "Discuss channel",
        domain=[("channel_type", "=", "channel")],
        ondelete="restrict",
        help="message: the channel posted in when 'A Discuss channel'.",
    )
    message_body = fields.Text(
        "Message text",
        help="message: the text posted; sms: the text sent when there is no SMS template. "
        "Placeholders: {name}, {partner_name}, {contact_name}, {email}, {phone}, {user}, "
        "{team}, {stage}, {date}.",
    )
    action_description = fields.Char(
        "Action", compute="_compute_action_description", help="What the rule does, in words."
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

    @api.depends(
        "timing",
        "delay_count",
        "delay_unit",
        "date_field_id",
        "date_direction",
        "business_hours",
        "calendar_source",
        "resource_calendar_id",
        "run_on",
        "lost_stage_ids",
    )
    @api.depends_context("lang")
    def _compute_timing_description(self):
        for rule in self:
            rule.timing_description = automation_timing.describe_timing(
                self.env,
                rule.timing,
                rule.delay_count,
                rule.delay_unit,
                # sudo: field labels (ir.model.fields) are readable by administrators only.
                field=rule.date_field_id.sudo().field_description or "?",
                direction=rule.date_direction,
                hours=(rule.calendar_source, rule.resource_calendar_id.name)
                if rule.business_hours
                else None,
            )
        for rule in self.filtered(lambda r: r.run_on == "lead_lost"):
            if rule.lost_stage_ids:
                rule.timing_description = self.env._(
                    "When lost from %(stages)s: %(timing)s",
                    stages=", ".join(rule.lost_stage_ids.mapped("name")),
                    timing=rule.timing_description,
                )
            else:
                rule.timing_description = self.env._(
                    "When lost: %(timing)s", timing=rule.timing_description
                )

    @api.depends(
        "action_type",
        "recipient_target",
        "notify_target",
        "notify_user_ids",
        "mail_template_id",
        "sms_template_id",
        "message_target",
        "message_channel_id",
    )
    @api.depends_context("lang")
    def _compute_action_description(self):
        for rule in self:
            rule.action_description = rule._describe_action()

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

    @api.constrains("action_type", "recipient_target", "notify_user_ids")
    def _check_recipients(self):
        for rule in self.filtered(lambda r: r.action_type in ("email", "sms")):
            if rule.recipient_target == "users" and not rule.notify_user_ids:
                raise ValidationError(
                    _("Rule %(rule)s: choose the users to send to.", rule=rule.name)
                )

    @api.constrains("action_type", "message_target", "message_channel_id", "message_body")
    def _check_message(self):
        for rule in self.filtered(lambda r: r.action_type == "message"):
            if rule.message_target == "channel" and not rule.message_channel_id:
                raise ValidationError(
                    _("Rule %(rule)s: choose the Discuss channel to post in.", rule=rule.name)
                )
            if not (rule.message_body or "").strip():
                raise ValidationError(_("Rule %(rule)s: write the message.", rule=rule.name))

    # ------------------------------------------------------------------
    # Condition
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

    def _condition_refusal(self):
        """(kind, message) of a job whose lead no longer meets the condition."""
        return "rule_skipped", _(
            "Condition not met at run time: %(domain)s",
            domain=lead_condition.condition_words_of(self),
        )

    # ------------------------------------------------------------------
    # Recipients
    # ------------------------------------------------------------------

    def _recipient_users(self, lead, target):
        """Internal users addressed by ``target`` for ``lead`` (empty for the customer).

        :param target: a key of RECIPIENTS
        """
        if target == "salesperson":
            return lead.user_id
        if target == "team_leader":
            return self._get_team_leader(lead)
        if target == "users":
            return self.notify_user_ids
        return self.env["res.users"]

    def _get_notify_users(self, lead):
        return self._recipient_users(lead, self.notify_target)

    def _recipient_label(self, target, lead=None):
        """Who ``target`` is, in words: 'the salesperson', with the names of ``lead``'s
        people when given: 'the salesperson (Sam Seller)'."""
        if target == "users":
            return ", ".join(self.notify_user_ids.mapped("name")) or _("nobody")
        label = {
            "customer": _("the customer"),
            "salesperson": _("the salesperson"),
            "team_leader": _("the team leader"),
        }[target]
        if lead is None:
            return label
        if target == "customer":
            name = lead.partner_id.name or lead.contact_name or lead.email_from
        else:
            name = ", ".join(self._recipient_users(lead, target).mapped("name"))
        return _("%(who)s (%(name)s)", who=label, name=name or _("nobody"))

    # ------------------------------------------------------------------
    # Descriptions (board, dry-run)
    # ------------------------------------------------------------------

    def _describe_action(self, lead=None):
        """The action in words, with the recipients of ``lead`` when given (dry-run);
        empty for the actions without recipients."""
        self.ensure_one()
        # sudo: the board and the dry-run show salespeople the names of templates and
        # channels they may not read (a channel of managers); only names leave.
        rule = self.sudo()
        if rule.action_type == "email":
            return _(
                "Email “%(template)s” to %(who)s",
                template=rule.mail_template_id.name or "?",
                who=rule._recipient_label(rule.recipient_target, lead),
            )
        if rule.action_type == "sms":
            return _(
                "SMS “%(text)s” to %(who)s",
                text=rule.sms_template_id.name or _("text of the rule"),
                who=rule._recipient_label(rule.recipient_target, lead),
            )
        if rule.action_type == "notify":
            return _("Notification to %(who)s", who=rule._recipient_label(rule.notify_target, lead))
        if rule.action_type == "message":
            if rule.message_target == "channel":
                return _("Post in #%(channel)s", channel=rule.message_channel_id.name or "?")
            if lead is None:
                return _("Post in the lead's live chat, when it is open")
            chat = rule.env["discuss.channel"]._cpa_open_livechat(lead)
            if chat:
                return _("Post in the open live chat %(chat)s", chat=chat.name)
            return _("Post in the lead's live chat: none is open now (skipped)")
        return ""

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

    def _runs_set_wise(self):
        """Whether the action has a set-wise executor (``_execute_<type>_batch``); the
        others (repeat / copy lead, message, server action) run job by job."""
        self.ensure_one()
        return hasattr(self, f"_execute_{self.action_type}_batch")

    def _execute_batch(self, leads, jobs):
        """Run the action on ``leads`` for ``jobs`` (one job per lead, same order) at
        once; all done or an exception (the caller then runs the jobs one by one).

        :return: [(result, activity id or None)], one per job
        """
        self.ensure_one()
        results = getattr(self, f"_execute_{self.action_type}_batch")(leads, jobs)
        return [result if isinstance(result, tuple) else (result, None) for result in results]

    def _get_team_leader(self, lead, team=None):
        team = team or lead.team_id
        return team.user_id

    def _render_text(self, text, lead):
        return placeholders.render(text or self.name, lead)

    # -- activity -----------------------------------------------------

    def _get_activity_user(self, lead):
        if self.activity_user_source == "user":
            return self.activity_user_id
        if self.activity_user_source == "team_leader":
            return self._get_team_leader(lead) or lead.user_id
        return lead.user_id

    def _prepare_activity_vals(self, lead, job):
        """Values of the activity created by the ``activity`` action (hook): the
        activity template's when the rule has one, else the rule's activity fields.

        :param lead: crm.lead record
        :param job: crm.automation.job record
        :return: dict of mail.activity values (empty: the template's date is empty)
        """
        if self.activity_template_id:
            return self.activity_template_id._prepare_activity_vals(lead)
        # The xmlid lookup is cached by Odoo (env.ref would also query the record's
        # existence for every lead of a batch); deleting the type removes its xmlid.
        activity_type = self.activity_type_id or self.env["mail.activity.type"].browse(
            self.env["ir.model.data"]._xmlid_to_res_id(
                "mail.mail_activity_data_todo", raise_if_not_found=False
            )
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
            "summary": placeholders.render(self.activity_summary, lead)
            or activity_type.summary
            or self.name,
            "note": placeholders.render(self.activity_note, lead) if self.activity_note else False,
            "date_deadline": deadline,
            "user_id": user.id,
            "automated": True,
        }

    def _execute_activity_batch(self, leads, jobs):
        """The ``activity`` action on ``leads``: one ``mail.activity`` create for all
        (Odoo batches the followers), one notice per assignee."""
        if self.activity_template_id:
            return self.activity_template_id._execute_for_rule_batch(self, leads, jobs)
        activities = self.env["mail.activity"]._cpa_create_notified(
            [
                self._prepare_activity_vals(lead, job)
                for lead, job in zip(leads, jobs, strict=False)
            ],
            origin=self.name,
        )
        return [(self._activity_planned(activity), activity.id) for activity in activities]

    def _activity_planned(self, activity):
        return _(
            "Activity '%(summary)s' planned for %(user)s, due %(date)s.",
            summary=activity.summary or activity.activity_type_id.name,
            user=activity.user_id.name,
            date=activity.date_deadline,
        )

    def _execute_activity(self, lead, job):
        if self.activity_template_id:
            return self.activity_template_id._execute_for_rule(self, lead, job)
        activity = self.env["mail.activity"].create(self._prepare_activity_vals(lead, job))
        job.activity_id = activity
        return self._activity_planned(activity)

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
                "name": placeholders.render(self.lead_name_template or "{name}", lead),
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
        self.env["crm.automation.undo"]._created_lead(job, new_lead)
        return _(
            "Repeat lead %(lead)s created in %(stage)s.",
            lead=new_lead.display_name,
            stage=new_lead.stage_id.name,
        )

    def _execute_copy_lead(self, lead, job):
        team, stage, user = self._get_target(lead)
        name = (
            placeholders.render(self.lead_name_template, lead)
            if self.lead_name_template
            else _("%(name)s (copy)", name=lead.name)
        )
        default = {
            "name": name,
            "team_id": team.id,
            "stage_id": stage.id,
            "user_id": user.id,
            "automation_origin_lead_id": lead.id,
        }
        # lead.copy(default), but crm.lead.copy_data() drops the salesperson when the
        # origin has no active one, whatever the default: the rule's choice stays (an
        # archived user is not assigned).
        vals_list = lead.with_context(active_test=False).copy_data(default)
        vals_list[0]["user_id"] = user.id if user.active else False
        new_lead = lead.create(vals_list)
        lead.copy_translations(new_lead, excluded=default)
        self.env["crm.automation.undo"]._created_lead(job, new_lead)
        return _(
            "Copied to %(lead)s in %(team)s / %(stage)s.",
            lead=new_lead.display_name,
            team=new_lead.team_id.name,
            stage=new_lead.stage_id.name,
        )

    # -- email / sms / notify / message ---------------------------------

    def _internal_recipients(self, lead, target, needs):
        """Partners of the internal users of ``target`` having ``needs`` (a predicate on
        the partner); UserError when none has it (the job retries, then fails)."""
        users = self._recipient_users(lead, target)
        partners = users.partner_id.filtered(needs)
        if not partners:
            raise UserError(
                _(
                    "Rule %(rule)s: %(who)s has no address to send to.",
                    rule=self.name,
                    who=self._recipient_label(target, lead),
                )
            )
        return partners

    def _execute_email(self, lead, job):
        if not self.mail_template_id:
            raise UserError(_("Rule %(rule)s has no email template.", rule=self.name))
        if self.recipient_target == "customer":
            lead.message_post_with_source(
                self.mail_template_id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            return _("Email '%(template)s' sent.", template=self.mail_template_id.name)
        partners = self._internal_recipients(
            lead, self.recipient_target, lambda partner: partner.email
        )
        # Only the internal recipients: the template's own recipients (the customer's
        # email, its partner, copies) are replaced.
        self.mail_template_id.send_mail(
            lead.id,
            email_values={
                "recipient_ids": [Command.set(partners.ids)],
                "partner_ids": [Command.set(partners.ids)],
                "email_to": False,
                "email_cc": False,
            },
        )
        return _(
            "Email '%(template)s' sent to %(users)s.",
            template=self.mail_template_id.name,
            users=", ".join(partners.mapped("name")),
        )

    def _execute_email_batch(self, leads, jobs):
        """The ``email`` action on ``leads`` through Odoo's batch senders: one
        ``message_post_with_source`` for all (customer), else one ``send_mail_batch``
        per set of internal recipients."""
        if not self.mail_template_id:
            raise UserError(_("Rule %(rule)s has no email template.", rule=self.name))
        if self.recipient_target == "customer":
            leads.message_post_with_source(
                self.mail_template_id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            return [_("Email '%(template)s' sent.", template=self.mail_template_id.name)] * len(
                leads
            )
        by_partners, results = {}, []
        for lead in leads:
            partners = self._internal_recipients(
                lead, self.recipient_target, lambda partner: partner.email
            )
            by_partners.setdefault(partners, []).append(lead.id)
            results.append(
                _(
                    "Email '%(template)s' sent to %(users)s.",
                    template=self.mail_template_id.name,
                    users=", ".join(partners.mapped("name")),
                )
            )
        for partners, lead_ids in by_partners.items():
            # As _execute_email: only the internal recipients.
            self.mail_template_id.send_mail_batch(
                lead_ids,
                email_values={
                    "recipient_ids": [Command.set(partners.ids)],
                    "partner_ids": [Command.set(partners.ids)],
                    "email_to": False,
                    "email_cc": False,
                },
            )
        return results

    def _execute_sms_batch(self, leads, jobs):
        """The ``sms`` action on ``leads``: every lead checked first (a refusal raises
        before any SMS leaves: the group then runs job by job), the SMS messages posted
        queued, then sent together by one ``sms.sms.send()`` (Odoo sends by IAP at
        once, out of reach of a rollback: nothing may fail after it)."""
        if not (self.sms_template_id or self.message_body):
            raise UserError(_("Rule %(rule)s has no SMS template nor text.", rule=self.name))
        if self.recipient_target == "customer":
            recipients = leads._sms_get_recipients_info()
            for lead in leads:
                self._sms_number_or_skip(recipients[lead.id])
            partners = [None] * len(leads)
            sent = [(lead, self._send_sms(lead, put_in_queue=True)) for lead in leads]
        else:
            partners = [
                self._internal_recipients(
                    lead, self.recipient_target, lambda partner: partner.mobile or partner.phone
                )
                for lead in leads
            ]
            sent = [
                (
                    lead,
                    self._send_sms(
                        lead.with_context(mail_notify_author=True),
                        partner_ids=lead_partners.ids,
                        put_in_queue=True,
                    ),
                )
                for lead, lead_partners in zip(leads, partners, strict=False)
            ]
        messages = self.env["mail.message"].browse(
            [message.id for _lead, (_label, message) in sent]
        )
        self.env["sms.sms"].sudo().search(
            [("mail_message_id", "in", messages.ids), ("state", "=", "outgoing")]
        ).send(auto_commit=False, raise_exception=False)
        messages.invalidate_recordset()
        messages.notification_ids.invalidate_recordset()
        results = []
        for (lead, (label, message)), lead_partners in zip(sent, partners, strict=False):
            if self.recipient_target == "customer":
                number = recipients[lead.id]["sanitized"]
                results.append(self._sms_customer_result(label, message, number))
            else:
                results.append(
                    _(
                        "SMS '%(template)s' sent to %(users)s.",
                        template=label,
                        users=", ".join(lead_partners.mapped("name")),
                    )
                )
        return results

    def _execute_notify_batch(self, leads, jobs):
        """The ``notify`` action on ``leads`` in the group's savepoint: Odoo's
        ``message_notify`` posts on one record at a time."""
        return [self._execute_notify(lead, job) for lead, job in zip(leads, jobs, strict=False)]

    def _execute_sms(self, lead, job):
        if not (self.sms_template_id or self.message_body):
            raise UserError(_("Rule %(rule)s has no SMS template nor text.", rule=self.name))
        if self.recipient_target == "customer":
            return self._execute_sms_customer(lead)
        partners = self._internal_recipients(
            lead, self.recipient_target, lambda partner: partner.mobile or partner.phone
        )
        # The acting user may be the salesperson addressed (immediate job of their own
        # move): authors are not notified unless asked.
        lead = lead.with_context(mail_notify_author=True)
        label, _message = self._send_sms(lead, partner_ids=partners.ids)
        return _(
            "SMS '%(template)s' sent to %(users)s.",
            template=label,
            users=", ".join(partners.mapped("name")),
        )

    def _send_sms(self, lead, **kwargs):
        """Send the rule's SMS (template, else its own text) about ``lead``; return its
        label for the job result and the chatter message."""
        if self.sms_template_id:
            message = lead._message_sms_with_template(template=self.sms_template_id, **kwargs)
            return self.sms_template_id.name, message
        # The rule's text with its {placeholders} filled, sent as it is (not rendered
        # again: lead values come from website visitors).
        text = self._render_text(self.message_body, lead)
        return text[:60], lead._message_sms(text, **kwargs)

    def _execute_sms_customer(self, lead):
        """SMS to the customer: Odoo's recipient of an SMS about the lead, its own mobile
        or phone, else its customer's (the SMS composer of the lead form picks the same);
        skipped, never reported sent, without a valid number."""
        recipient = lead._sms_get_recipients_info()[lead.id]
        number = self._sms_number_or_skip(recipient)
        label, message = self._send_sms(lead)
        return self._sms_customer_result(label, message, number)

    def _sms_number_or_skip(self, recipient):
        """The sanitized number of ``recipient`` (``_sms_get_recipients_info``), else
        ActionSkipped saying why."""
        label = self.sms_template_id.name or (self.message_body or "")[:60]
        number = recipient["sanitized"]
        if not number:
            raise ActionSkipped(
                _(
                    "No SMS '%(template)s': %(number)s is not a valid phone number.",
                    template=label,
                    number=recipient["number"],
                )
                if recipient["number"]
                else _(
                    "No SMS '%(template)s': the lead and its customer have no mobile or "
                    "phone number.",
                    template=label,
                )
            )
        return number

    def _sms_customer_result(self, label, message, number):
        failed = message.notification_ids.filtered(
            lambda n: n.notification_type == "sms" and n.notification_status == "exception"
        )
        if failed:
            reasons = dict(failed._fields["failure_type"]._description_selection(self.env))
            return _(
                "SMS '%(template)s' to %(number)s not sent: %(reason)s (resend it from the "
                "lead's chatter).",
                template=label,
                number=number,
                reason=reasons.get(failed[0].failure_type, failed[0].failure_type),
            )
        return _("SMS '%(template)s' sent to %(number)s.", template=label, number=number)

    def _execute_notify(self, lead, job):
        if self.notify_target == "customer":
            partners = lead.partner_id
        else:
            partners = self._get_notify_users(lead).partner_id
        if not partners:
            return _("Nobody to notify.")
        body = self._render_text(self.notify_message, lead)
        lead.message_notify(
            partner_ids=partners.ids,
            body=Markup("<p>%s</p>") % body,
            subject=self.name,
            subtype_xmlid="mail.mt_note",
        )
        return _("Notified %(users)s.", users=", ".join(partners.mapped("name")))

    def _execute_message(self, lead, job):
        body = plaintext2html(self._render_text(self.message_body, lead))
        if self.message_target == "channel":
            channel = self.message_channel_id
            if not channel:
                raise UserError(_("Rule %(rule)s has no Discuss channel.", rule=self.name))
            channel.message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_comment")
            return _("Posted in #%(channel)s.", channel=channel.name)
        chat = self.env["discuss.channel"]._cpa_open_livechat(lead)
        if not chat:
            raise ActionSkipped(
                _(
                    "No open live chat with %(lead)s (none, or the visitor left): "
                    "nothing posted.",
                    lead=lead.display_name,
                )
            )
        # As the chat's operator: the visitor talks with them (the automation's own
        # post is not the operator accepting the chat: discuss.channel skips it).
        chat.message_post(
            body=body,
            author_id=chat.livechat_operator_id.id,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        return _("Posted in the live chat %(chat)s.", chat=chat.name)

    # -- tags / assign / update / server_action -----------------------

    def _tag_commands(self):
        return [(4, tag.id) for tag in self.tag_add_ids] + [
            (3, tag.id) for tag in self.tag_remove_ids
        ]

    def _execute_tags(self, lead, job):
        return self._execute_tags_batch(lead, job)[0]

    def _execute_tags_batch(self, leads, jobs):
        """The ``tags`` action on ``leads`` (one job each): one write of the tags and one
        relative UPDATE of the scores, whatever the number of leads."""
        commands = self._tag_commands()
        if commands:
            leads.write({"tag_ids": commands})
        message = _(
            "Tags added: %(added)s; removed: %(removed)s.",
            added=", ".join(self.tag_add_ids.mapped("name")) or "-",
            removed=", ".join(self.tag_remove_ids.mapped("name")) or "-",
        )
        if not self.score_delta:
            return [message] * len(leads)
        if not commands:
            # points instead of tags: the message says what happened to the score only
            message = ""
        before = leads._automation_snapshot(leads._automation_watched(["engagement_score"]))
        scores = lead_score.add_points(self.env, leads.ids, self.score_delta)
        leads._automation_fields_changed(before)
        return [self._score_text(message, *scores[lead.id]) for lead in leads]

    def _score_text(self, message, applied, score):
        if applied == self.score_delta:
            text = _("%(message)s Engagement score %(delta)+d.", message=message, delta=applied)
        elif not applied:
            text = _(
                "%(message)s Engagement score unchanged at %(score)s (floor %(floor)s; "
                "%(delta)+d requested).",
                message=message,
                score=score,
                floor=lead_score.FLOOR,
                delta=self.score_delta,
            )
        else:
            text = _(
                "%(message)s Engagement score %(applied)+d (floor %(floor)s reached; "
                "%(delta)+d requested).",
                message=message,
                applied=applied,
                floor=lead_score.FLOOR,
                delta=self.score_delta,
            )
        return text.strip()

    def _next_round_robin_user(self, team):
        """Next member of ``team`` after the rule's pointer, and move the pointer."""
        return self._next_round_robin_users([team])[0]

    def _next_round_robin_users(self, teams):
        """The members of ``teams`` in turn after the rule's pointer, one per team given
        (a team may repeat), and move the pointer to the last one."""
        # Lock the rule row: two workers assigning at the same time must not hand the
        # same turn twice (the pointer is the fairness state); held until the
        # transaction ends.
        self.env.cr.execute(
            SQL("SELECT id FROM crm_automation_rule WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset(["assign_last_user_id"])
        last_id = self.assign_last_user_id.id or 0
        members, chosen = {}, []
        for team in teams:
            if team not in members:
                members[team] = (
                    team.crm_team_member_ids.filtered(lambda m: m.active and m.user_id.active)
                    .mapped("user_id")
                    .sorted("id")
                )
            users = members[team]
            if not users:
                chosen.append(self.env["res.users"])
                continue
            user = next((u for u in users if u.id > last_id), users[0])
            chosen.append(user)
            last_id = user.id
        if last_id != (self.assign_last_user_id.id or 0):
            self.assign_last_user_id = last_id
        return chosen

    def _execute_assign(self, lead, job):
        return self._execute_assign_batch(lead, job)[0]

    def _execute_assign_batch(self, leads, jobs):
        """The ``assign`` action on ``leads``: one write per salesperson (round-robin
        turns handed in job order, as one by one)."""
        teams = [self.assign_team_id or lead.team_id for lead in leads]
        if self.assign_mode == "user":
            users = [self.assign_user_id] * len(leads)
        elif self.assign_mode == "team_leader":
            users = [team.user_id for team in teams]
        else:
            users = self._next_round_robin_users(teams)
        by_user = defaultdict(list)
        for lead, user in zip(leads, users, strict=False):
            if not user:
                raise UserError(_("Rule %(rule)s found nobody to assign.", rule=self.name))
            by_user[user].append(lead.id)
        for user, lead_ids in by_user.items():
            leads.browse(lead_ids).write({"user_id": user.id})
        # Not in a comprehension: _() finds the language in the caller's ``self``.
        results = []
        for user in users:
            results.append(_("Assigned to %(user)s.", user=user.name))
        return results

    def _execute_update(self, lead, job):
        return self._execute_update_batch(lead, job)[0]

    def _execute_update_batch(self, leads, jobs):
        """The ``update`` action on ``leads``: one write per distinct set of values
        (one for all, unless a value depends on the lead: a stage given by name)."""
        lines = self.update_line_ids
        fixed = {
            line.id: line._convert_value(leads[:1]) for line in lines if not line._depends_on_lead()
        }
        groups = {}  # repr of the values: (values, [lead id])
        for lead in leads:
            vals = {
                line.field_id.name: fixed[line.id]
                if line.id in fixed
                else line._convert_value(lead)
                for line in lines
            }
            groups.setdefault(repr(sorted(vals.items())), (vals, []))[1].append(lead.id)
        for vals, lead_ids in groups.values():
            if vals:
                leads.browse(lead_ids).write(vals)
        message = _(
            "Updated %(fields)s.",
            fields=", ".join(lines.mapped("field_id.field_description")) or "-",
        )
        return [message] * len(leads)

    def _execute_server_action(self, lead, job):
        if not self.server_action_id:
            raise UserError(_("Rule %(rule)s has no server action.", rule=self.name))
        self.server_action_id.with_context(
            active_model="crm.lead", active_id=lead.id, active_ids=lead.ids
        ).run()
        return _("Server action '%(action)s' run.", action=self.server_action_id.name)

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
    # Draft / active
    # ------------------------------------------------------------------

    def action_activate(self):
        """Activate the rule; when leads already wait in its stage, ask first whether
        the rule applies to them too (wizard)."""
        self.ensure_one()
        if self.state == "active":
            return True
        if not self.env["crm.automation.rule.activate"]._leads_already_in_stage(self):
            self.state = "active"
            return True
        return {
            "type": "ir.actions.act_window",
            "name": _("Activate %(rule)s", rule=self.name),
            "res_model": "crm.automation.rule.activate",
            "view_mode": "form",
            "target": "new",
            "context": {"default_rule_id": self.id},
        }

    def action_set_draft(self):
        """Stop the rules: their pending jobs are cancelled when due (ledger)."""
        self.state = "draft"
        return True

    # ------------------------------------------------------------------
    # Lead lost
    # ------------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _lost_rule_exists(self):
        """Whether some rule (archived, draft too) runs on lost leads: else marking a
        lead lost costs no query (cleared with the registry cache: ``run_on`` is a
        config field of crm.automation.config.mixin)."""
        return bool(
            self.sudo()
            .with_context(active_test=False)
            .search_count([("run_on", "=", "lead_lost")], limit=1)
        )

    def _lost_applies(self, lead):
        """Whether this "lead lost" rule runs for ``lead``, lost from its stage."""
        self.ensure_one()
        if self.team_id and self.team_id != lead.team_id:
            return False
        return not self.lost_stage_ids or lead.stage_id in self.lost_stage_ids

    @api.model
    def _rules_when_lost(self, leads):
        """[(rule, leads)] of the active "lead lost" rules for ``leads`` (lost, in the
        stage they were lost from); reads only (the dry-run calls it too)."""
        if not leads or not self._lost_rule_exists():
            return []
        rules = self.sudo().search([("run_on", "=", "lead_lost"), ("state", "=", "active")])
        rule_leads = []
        for rule in rules:
            matching = leads.filtered(rule._lost_applies)
            if matching:
                rule_leads.append((rule, matching))
        return rule_leads

    @api.model
    def _schedule_when_lost(self, leads):
        """``leads`` were just marked lost: schedule the "lead lost" rules for them
        through the engine's job path (due ones run now, like a small stage entry)."""
        rule_leads = self._rules_when_lost(leads)
        if not rule_leads:
            return
        lost = leads.browse(list({lead.id for _rule, matching in rule_leads for lead in matching}))
        # A new stay: the loss ends the stage visit (its jobs were cancelled by the
        # archive), the jobs of the loss belong to the next one, which a restore and
        # any move end (same UPDATE as a stage entry).
        self.env.execute_query(
            SQL(
                "UPDATE crm_lead SET automation_visit = COALESCE(automation_visit, 0) + 1 "
                "WHERE id = ANY(%s)",
                lost.ids,
            )
        )
        lost.invalidate_recordset(["automation_visit"])
        due_ids = (
            self.env["crm.automation.job.plan"]
            .sudo()
            ._schedule_jobs(rule_leads, fields.Datetime.now(), return_due=True)
        )
        if due_ids:
            self.env["crm.automation.job"]._run_ids_now(due_ids)
