# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Stage triggers: an event of a lead (engagement, a field changed, an activity done
or late, a document reaching a state) moves the lead to the trigger's stage, or, for
the activity kinds, notifies its salesperson.

Field value changed (``field_changed``): ``crm.lead.write`` learns from the cached
configuration which fields are watched (``_automation_config().watched_fields``) and
snapshots only those; the changes of a whole write are evaluated here at once, in
memory (``engine/field_change.py``).

Documents (``document``): watched by Odoo's own ``base_automation``: each document
trigger keeps one ``base.automation`` (on save, "before" = not matching, "after" =
matching) whose code action records a ``document`` event for the leads found through
the trigger's path; from there the normal event path decides (condition, forward-only,
won/lost, loop guard, ledger). The addon depends on neither ``sale`` nor ``account``.
"""

import logging
import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.safe_eval import safe_eval

from ..engine import conditions as lead_condition
from ..engine import documents, field_change, stage_graph, trigger_params
from ..engine import events as lead_events
from ..engine import timing as automation_timing
from ..engine import verdict as verdicts

# wildcard_match: kept importable from here (tests).
from ..engine.trigger_params import LEAD_FORM, SNIPPET, form_names, wildcard_match
from .crm_automation_rule import STATES
from .crm_lead_event import EVENT_TYPES

_logger = logging.getLogger(__name__)

# Form names of past events offered at most (the most recent ones).
SEEN_FORMS_LIMIT = 50

# Events of the activity kinds (they may notify instead of moving).
ACTIVITY_EVENTS = ("activity_done", "activity_late")
# Code of the server action of a trigger's base.automation (``%d``: the trigger's id).
ACTION_CODE = 'env["crm.lead.event"]._record_document(records, %d)\n'
# Trigger fields the base.automation follows.
AUTOMATION_FIELDS = {
    "name",
    "event_type",
    "document_model",
    "document_domain",
    "document_lead_path",
    "active",
    "state",
}


class CrmStageTrigger(models.Model):
    _name = "crm.stage.trigger"
    # The mixin clears the cached configuration (watched fields, activity triggers).
    _inherit = ["crm.automation.config.mixin"]
    _description = "CRM Stage Trigger"
    _order = "sequence, id"

    _automation_config_fields = (
        "event_type",
        "state",
        "active",
        "watch_field",
        "fire_on_automatic",
    )

    name = fields.Char(
        required=True, translate=True, help="What the trigger means, e.g. 'Pricing link clicked'."
    )
    sequence = fields.Integer(default=10, help="Order of the triggers of a stage.")
    active = fields.Boolean(default=True, help="Archived triggers never fire.")
    # Default "active" (code, data, lists); the automation board creates drafts.
    state = fields.Selection(
        STATES,
        default="active",
        required=True,
        copy=False,
        help="Draft: designed but not firing. Only active (not archived) triggers fire.",
    )
    stage_id = fields.Many2one(
        "crm.stage",
        "Move to stage",
        required=True,
        index=True,
        ondelete="cascade",
        help="Stage the lead is moved to when the event happens.",
    )
    team_id = fields.Many2one(related="stage_id.team_id", string="Pipeline")
    event_type = fields.Selection(
        EVENT_TYPES,
        "Event",
        required=True,
        default="link_click",
        help="Engagement that moves the lead.",
    )
    # parameters by event type
    link_url = fields.Char(
        "Link URL",
        help="link_click: URL clicked, exact or with * wildcards; empty: any link.",
    )
    url_patterns = fields.Text(
        "URL patterns",
        help="url_visited: one pattern per line, * is any text, e.g. https://example.com/pricing* "
        "or /shop/*; the lead's visitor or tracked contact must visit a matching page.",
    )
    form_name = fields.Char(
        "Website form",
        help="form_submitted: the form's name (hidden input cpa_form) or the path of its page, "
        "wildcards allowed, e.g. /contactus*; empty: any form.",
    )
    form_known = fields.Selection(
        selection="_selection_form_known",
        string="Form of the site",
        compute="_compute_form_known",
        inverse="_inverse_form_known",
        help="form_submitted: a form of the website (pages with a form creating leads, "
        "forms already sent); sets the form name below.",
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        "Email template",
        domain=[("model", "=", "crm.lead")],
        help="email_open / link_click: only emails sent with this template; empty: any email.",
    )
    line_numbers = fields.Char(
        "Our numbers",
        help="Calls: our line numbers (comma-separated, any format); empty: any line.",
    )
    livechat_channel_id = fields.Many2one(
        "im_livechat.channel",
        "Live chat channel",
        help="Chats: only this live chat channel; empty: any.",
    )
    response_seconds = fields.Integer(
        "Late after (seconds)",
        default=300,
        help="chat_response_late: seconds without an operator's answer after the "
        "visitor's first message.",
    )
    keywords = fields.Text(
        help="chat_keyword: words or phrases, one per line or comma-separated; "
        "case and accents ignored.",
    )
    filter_domain = fields.Char(
        "Condition",
        default="[]",
        help="Only leads matching this domain are moved.",
    )
    hours_condition = fields.Selection(
        [
            ("always", "Any time"),
            ("inside", "Inside business hours"),
            ("outside", "Outside business hours"),
        ],
        "When",
        default="always",
        required=True,
        help="Fire only when the event happens inside, or only outside, the working time "
        "of the calendar (public holidays and other leaves of the calendar are outside), "
        "e.g. website forms sent after hours go to a 'Call back' stage.",
    )
    hours_calendar_id = fields.Many2one(
        "resource.calendar",
        "Business hours",
        help="Calendar of the business-hours condition; empty: the working hours of the "
        "lead's company.",
    )
    hours_description = fields.Char(
        compute="_compute_hours_description",
        help="The business-hours condition in words (board, lists).",
    )
    user_id = fields.Many2one(
        "res.users",
        "Change stage as",
        domain=[("share", "=", False)],
        help="Author of the move in the chatter and the ledger; empty: the lead's salesperson.",
    )
    allow_backward = fields.Boolean(
        "Allow moving to an earlier stage",
        help="Off: the trigger only moves leads forward (stage sequence).",
    )
    idle_days = fields.Integer(
        "Idle for (days)",
        help="lead_idle: days since the lead was last touched; 0: the idle limit of the "
        "lead's stage (when it starts rotting).",
    )
    move_when_gate_met = fields.Boolean(
        "Move when the gate is met",
        help="When the gate of the target stage holds the move, make it as soon as a "
        "write of the lead meets the gate (else the move is only written in the ledger).",
    )
    # field_changed
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
    # activity_done / activity_late
    activity_type_id = fields.Many2one(
        "mail.activity.type",
        "Activity type",
        help="activity_done / activity_late: only activities of this type; empty: any.",
    )
    activity_action = fields.Selection(
        [("move", "Move the lead"), ("notify", "Notify the salesperson")],
        "Action",
        default="move",
        required=True,
        help="activity_done / activity_late: move the lead to the stage, or notify its "
        "salesperson when the lead is in the stage (it stays there).",
    )
    # document
    document_preset = fields.Selection(
        selection="_selection_document_preset",
        string="Document preset",
        help="document: a usual case that fills the model, condition and path below "
        "(offered when the sales or invoicing apps are installed); Custom: your own.",
    )
    # The technical name, not a link to ir.model: automation managers cannot read
    # ir.model (administrators only), and XML-RPC callers know the name.
    document_model = fields.Char(
        help="document: technical name of the kind of record watched, e.g. sale.order "
        "(quotations and orders), account.move (invoices).",
    )
    # The model of the condition editor: only a model of this database (a name being
    # typed would crash the domain widget).
    document_model_known = fields.Char(compute="_compute_document_model_known")
    document_domain = fields.Char(
        "Document condition",
        default="[]",
        help="document: the state the document must reach (a domain on the document), "
        "e.g. [('state', '=', 'sale')]. The lead moves when a document starts matching it.",
    )
    document_lead_path = fields.Char(
        "Path to the lead",
        help="document: field path from the document to its leads, e.g. opportunity_id, "
        "or invoice_line_ids.sale_line_ids.order_id.opportunity_id for invoices.",
    )
    document_description = fields.Char(
        compute="_compute_document_description",
        help="What the trigger watches, in words (automation board).",
    )
    automation_id = fields.Many2one(
        "base.automation",
        "Automation rule",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="document: Odoo automation rule watching the documents, kept in step with the "
        "trigger (created, updated, archived and deleted with it).",
    )
    snippet = fields.Text(
        compute="_compute_snippet", help="Code to paste in the pages of other sites."
    )
    event_count = fields.Integer(compute="_compute_event_count")

    def _compute_snippet(self):
        base = self.get_base_url()
        for trigger in self:
            trigger.snippet = SNIPPET % {"base": base}

    def _compute_event_count(self):
        counts = dict(
            self.env["crm.lead.event"]._read_group(
                [("trigger_id", "in", self.ids)], ["trigger_id"], ["__count"]
            )
        )
        for trigger in self:
            trigger.event_count = counts.get(trigger, 0)

    @api.model
    def _selection_form_known(self):
        return self._known_forms()

    @api.depends("form_name")
    def _compute_form_known(self):
        keys = {key for key, _label in self._known_forms()} if self else set()
        for trigger in self:
            trigger.form_known = trigger.form_name if trigger.form_name in keys else False

    def _inverse_form_known(self):
        for trigger in self.filtered("form_known"):
            trigger.form_name = trigger.form_known

    @api.model
    def _known_forms(self):
        """[(form name, label)] of the site's lead forms and of the forms seen."""
        # sudo: views, pages and events are read for their names and URLs only.
        View = self.env["ir.ui.view"].sudo().with_context(active_test=False)
        views = View.search([("type", "=", "qweb"), ("arch_db", "ilike", LEAD_FORM)])
        forms = {}
        roots = View
        for view in views:
            for name in form_names(view.arch_db):
                forms.setdefault(name, name)
            root = view
            while root.inherit_id:
                root = root.inherit_id
            roots |= root
        if roots:
            pages = (
                self.env["website.page"]
                .sudo()
                .search(["|", ("view_id", "in", roots.ids), ("key", "in", roots.mapped("key"))])
            )
            for page in pages:
                forms.setdefault(page.url, f"{page.name} ({page.url})")
        seen = (
            self.env["crm.lead.event"]
            .sudo()
            ._read_group(
                [("event_type", "=", "form_submitted"), ("form_name", "!=", False)],
                ["form_name"],
                ["date:max"],
                order="date:max desc",
                limit=SEEN_FORMS_LIMIT,
            )
        )
        for name, _date in seen:
            forms.setdefault(name, name)
        return sorted(forms.items(), key=lambda item: item[1].lower())

    @api.depends("hours_condition", "hours_calendar_id")
    @api.depends_context("lang")
    def _compute_hours_description(self):
        for trigger in self:
            if trigger.hours_condition == "always":
                trigger.hours_description = False
                continue
            calendar = trigger.hours_calendar_id.name or _("company calendar")
            if trigger.hours_condition == "inside":
                text = _("Only inside business hours (%(calendar)s)", calendar=calendar)
            else:
                text = _("Only outside business hours (%(calendar)s)", calendar=calendar)
            trigger.hours_description = text

    @api.constrains("filter_domain")
    def _check_filter_domain(self):
        for trigger in self:
            try:
                self.env["crm.lead"].search_count(trigger._get_domain(), limit=1)
            except Exception as error:
                raise ValidationError(
                    _(
                        "Invalid condition %(domain)s: %(error)s",
                        domain=trigger.filter_domain,
                        error=error,
                    )
                ) from error

    @api.constrains("event_type", "url_patterns", "keywords", "response_seconds")
    def _check_parameters(self):
        for trigger in self:
            if trigger.event_type == "url_visited" and not trigger_params.lines(
                trigger.url_patterns
            ):
                raise ValidationError(
                    _("Trigger %(name)s: give at least one URL pattern.", name=trigger.name)
                )
            if trigger.event_type == "chat_keyword" and not trigger_params.lines(trigger.keywords):
                raise ValidationError(
                    _("Trigger %(name)s: give at least one keyword.", name=trigger.name)
                )
            if trigger.event_type == "chat_response_late" and trigger.response_seconds <= 0:
                raise ValidationError(
                    _("Trigger %(name)s: the delay must be positive.", name=trigger.name)
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

    @api.model
    def _selection_document_preset(self):
        labels = self._document_preset_labels()
        return [
            *((key, labels[key]) for key in documents.available_presets(self.env)),
            ("custom", _("Custom")),
        ]

    @api.model
    def _document_preset_labels(self):
        return {
            "quotation_sent": _("Quotation sent"),
            "sale_confirmed": _("Sales order confirmed"),
            "invoice_paid": _("Customer invoice paid"),
        }

    @api.depends("document_model")
    def _compute_document_model_known(self):
        for trigger in self:
            model = trigger.document_model
            known = model and model in self.env and not self.env[model]._abstract
            trigger.document_model_known = model if known else False

    @api.depends("event_type", "document_preset", "document_model", "document_domain")
    def _compute_document_description(self):
        presets = dict(self._fields["document_preset"]._description_selection(self.env))
        # sudo: the model's label only (ir.model is for administrators).
        IrModel = self.env["ir.model"].sudo()
        for trigger in self:
            if trigger.event_type != "document" or not trigger.document_model:
                trigger.document_description = False
                continue
            model = IrModel._get(trigger.document_model).name or trigger.document_model
            if trigger.document_preset and trigger.document_preset != "custom":
                trigger.document_description = _(
                    "%(model)s: %(preset)s",
                    model=model,
                    preset=presets.get(trigger.document_preset, trigger.document_preset),
                )
            else:
                trigger.document_description = _(
                    "%(model)s reaches %(domain)s",
                    model=model,
                    domain=trigger.document_domain or "[]",
                )

    @api.constrains("event_type", "document_model", "document_domain", "document_lead_path")
    def _check_document(self):
        for trigger in self.filtered(lambda t: t.event_type == "document"):
            model = trigger.document_model
            if not model or model not in self.env or self.env[model]._abstract:
                raise ValidationError(
                    _(
                        "Trigger %(name)s: choose the model of the documents (a technical "
                        "name such as sale.order), not %(model)s.",
                        name=trigger.name,
                        model=model or "-",
                    )
                )
            if self.env[model]._transient:
                raise ValidationError(
                    _("Trigger %(name)s: %(model)s is a wizard.", name=trigger.name, model=model)
                )
            error = documents.path_error(self.env, model, trigger.document_lead_path)
            if error:
                raise ValidationError(
                    _(
                        "Trigger %(name)s: the path %(path)s does not lead from %(model)s "
                        "to leads (%(error)s).",
                        name=trigger.name,
                        path=trigger.document_lead_path or "-",
                        model=model,
                        error=error,
                    )
                )
            try:
                self.env[model].sudo().search_count(trigger._document_domain(), limit=1)
            except Exception as error:
                raise ValidationError(
                    _(
                        "Invalid document condition %(domain)s: %(error)s",
                        domain=trigger.document_domain,
                        error=error,
                    )
                ) from error

    @api.onchange("document_preset")
    def _onchange_document_preset(self):
        if self.document_preset in documents.PRESETS:
            self.update(documents.preset_values(self.document_preset))
            if not self.name:
                self.name = self._document_preset_labels()[self.document_preset]

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [self._document_fill_preset(vals) for vals in vals_list]
        triggers = super().create(vals_list)
        triggers.filtered(lambda t: t.event_type == "document")._sync_document_automation()
        return triggers

    def write(self, vals):
        vals = self._document_fill_preset(vals)
        res = super().write(vals)
        if AUTOMATION_FIELDS & vals.keys():
            self.filtered(
                lambda t: t.event_type == "document" or t.automation_id
            )._sync_document_automation()
        return res

    def unlink(self):
        # Through the ORM before the rows go (not by the database's cascade), so that
        # base_automation unpatches the document model. sudo: base.automation is for
        # administrators; automation managers manage it through their triggers.
        self.check_access("unlink")
        self.sudo().automation_id.unlink()
        return super().unlink()

    def _get_domain(self):
        return lead_condition.condition_domain(self)

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
            key = field_change.choice_key(field._description_selection(self.env), text)
            if key is not None:
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
            return field_change.boolean_text(text)
        if field.type in field_change.NUMERIC_TYPES:
            try:
                return field_change.number_text(text)
            except ValueError as error:
                raise ValidationError(
                    _("Trigger %(name)s: “%(value)s” is not a number.", name=self.name, value=text)
                ) from error
        return text

    def action_view_events(self):
        self.ensure_one()
        # A button, but callable over RPC by anyone logged in: readers only.
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_lead_event_action"
        )
        action["domain"] = [("trigger_id", "=", self.id)]
        return action

    def action_activate(self):
        self.state = "active"
        return True

    def action_set_draft(self):
        self.state = "draft"
        return True

    # ------------------------------------------------------------------
    # Matching: one hook per event type
    # ------------------------------------------------------------------

    def _match(self, event):
        """Whether the trigger's parameters accept ``event`` (condition and direction
        are checked by the caller).

        :param event: crm.lead.event
        """
        return getattr(self, f"_match_{event.event_type}")(event)

    def _match_email_open(self, event):
        return not self.mail_template_id or self.mail_template_id == event.mail_template_id

    def _match_link_click(self, event):
        if self.mail_template_id and self.mail_template_id != event.mail_template_id:
            return False
        return not self.link_url or wildcard_match(self.link_url, event.url)

    def _match_email_received(self, event):
        return True

    def _match_email_sent(self, event):
        return True

    def _match_form_submitted(self, event):
        """The form by its name, or by the page it was sent from: a page picked in
        "Form of the site" also means its forms named by a ``cpa_form`` input."""
        return (
            not self.form_name
            or wildcard_match(self.form_name, event.form_name)
            or bool(event.url)
            and wildcard_match(self.form_name, event.url)
        )

    def _match_url_visited(self, event):
        return any(
            wildcard_match(pattern, event.url)
            for pattern in trigger_params.lines(self.url_patterns)
        )

    def _match_call(self, event):
        if not self.line_numbers:
            return True
        lines = {
            self.env["crm.lead.event"]._phone_e164(number) or number
            for number in trigger_params.lines(self.line_numbers)
        }
        return event.line_number in lines

    def _match_call_incoming(self, event):
        return self._match_call(event)

    def _match_call_outgoing(self, event):
        return self._match_call(event)

    def _match_call_missed(self, event):
        return self._match_call(event)

    def _match_chat(self, event):
        return not self.livechat_channel_id or self.livechat_channel_id == event.livechat_channel_id

    def _match_chat_started(self, event):
        return self._match_chat(event)

    def _match_chat_accepted(self, event):
        return self._match_chat(event)

    def _match_chat_response_late(self, event):
        return self._match_chat(event) and event.seconds >= self.response_seconds

    def _match_chat_keyword(self, event):
        if not self._match_chat(event):
            return False
        text = f" {verdicts.normalize_text(event.text)} "
        return any(re.search(pattern, text) for pattern in self._keyword_patterns())

    def _match_lead_idle(self, event):
        days = self.idle_days or event.lead_id.stage_id.automation_idle_days
        return bool(days) and event.seconds == days * 86400

    def _keyword_patterns(self):
        """Regexes of the chat_keyword trigger's keywords (``lead_events.keyword_pattern``)."""
        return [lead_events.keyword_pattern(word) for word in trigger_params.lines(self.keywords)]

    def _match_meeting_scheduled(self, event):
        return True

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

    def _match_activity(self, event):
        return not self.activity_type_id or self.activity_type_id == event.activity_type_id

    def _match_activity_done(self, event):
        return self._match_activity(event)

    def _match_activity_late(self, event):
        return self._match_activity(event)

    def _describe_activity(self):
        labels = dict(self._fields["activity_action"]._description_selection(self.env))
        parts = [self.activity_type_id.name] if self.activity_type_id else []
        if self.activity_action == "notify":
            parts.append(labels["notify"])
        return ", ".join(parts)

    def _match_document(self, event):
        """A recorded event matches the trigger whose automation saw the document. In a
        dry-run (no document), any document trigger matches, or, with a document name
        as detail, those whose documents of that name belong to the lead and match
        their condition."""
        if event.document_trigger_id:
            return event.document_trigger_id == self
        if self.document_model not in self.env:
            return False
        if not event.text:
            return True
        Model = self.env[self.document_model].sudo()
        found = Model.browse([pair[0] for pair in Model.name_search(event.text, limit=20)])
        return any(
            event.lead_id in self._document_leads(document)
            for document in found.filtered_domain(self._document_domain())
        )

    # ------------------------------------------------------------------
    # Firing
    # ------------------------------------------------------------------

    def _moves_lead(self):
        """Whether the trigger moves the lead: an activity trigger may only notify."""
        return self.activity_action != "notify" or self.event_type not in ACTIVITY_EVENTS

    @api.model
    def _decide_event(self, lead, event, candidates=None, drafts=None, guard=None):
        """What ``event`` does to ``lead``: the one decision function of the real run
        (``_fire_event``) and of the dry-run. Reads only: nothing is written.

        Triggers of the lead's pipeline for that event type are tried from the furthest
        stage back; a trigger needs its parameters to match, its condition to hold and
        (unless allowed) a target after the current stage. Won and lost leads never
        move; the loop guard may stop the move.

        :param lead: crm.lead record (the lead as it is now)
        :param event: crm.lead.event record, stored or in memory (``new``), not machine
        :param candidates: crm.stage.trigger already read by the caller for a whole set
            of events (no search per event), or None
        :param drafts: draft triggers of ``candidates`` that count as active (what-if)
        :param guard: callable(lead) -> loop guard message or None, instead of the
            stored ledger (the what-if counts its simulated moves in memory)
        :return: dict with ``state`` (``no_trigger`` / ``blocked`` / ``fired``),
            ``matched`` (triggers whose parameters accept the event), ``trigger`` (the
            one that moves the lead), ``stage`` (where to), ``blocked`` (``won_lost`` /
            ``refused`` / ``loop_guard`` or False) and ``reason`` (why not moved)
        """
        decision = {
            "state": "no_trigger",
            "matched": self.browse(),
            "trigger": self.browse(),
            "stage": self.env["crm.stage"],
            "blocked": False,
            "reason": "",
        }
        if candidates is None:
            candidates = self.search(
                [
                    ("event_type", "=", event.event_type),
                    ("state", "=", "active"),
                    ("stage_id.team_id", "in", [False, lead.team_id.id]),
                ]
            )
        else:
            drafts = drafts or self.browse()
            candidates = candidates.filtered(
                lambda t: t.event_type == event.event_type
                and (t.state == "active" or t in drafts)
                and t.stage_id.team_id.id in (False, lead.team_id.id)
            )
        triggers = candidates.filtered(lambda t: t._moves_lead() and t._match(event))
        decision["matched"] = triggers
        if not triggers:
            return decision
        decision["state"] = "blocked"
        if not lead.active or lead.stage_id.is_won:
            decision.update(blocked="won_lost", reason=_("won or lost lead"))
            return decision
        reasons = []
        for trigger in triggers.sorted(lambda t: (-t.stage_id.sequence, t.sequence, t.id)):
            reason = trigger._refusal(lead, event.date)
            if reason:
                reasons.append(reason)
                continue
            decision.update(trigger=trigger, stage=trigger.stage_id)
            if guard is None:
                stopped = lead._automation_loop_guard_refusals().get(lead.id)
            else:
                stopped = guard(lead)
            if stopped:
                decision.update(
                    blocked="loop_guard",
                    reason="; ".join([*reasons, _("loop guard")]),
                    loop_message=stopped,
                )
                return decision
            decision["state"] = "fired"
            return decision
        decision.update(blocked="refused", reason="; ".join(reasons))
        return decision

    @api.model
    def _fire_event(self, event, candidates=None):
        """Move ``event``'s lead with the first trigger that matches it (see
        ``_decide_event``); ledger rows say why a matching event did not move it.

        An activity event then notifies the salesperson through the notifying
        triggers of the lead's stage (``_notify_triggers``).

        :param event: crm.lead.event (not machine)
        :param candidates: see ``_decide_event``
        :return: the trigger fired, or an empty recordset
        """
        lead = event.lead_id
        decision = self._decide_event(lead, event, candidates=candidates)
        fired = self
        if decision["state"] == "no_trigger":
            event.state = "no_trigger"
        elif decision["state"] == "fired":
            decision["trigger"]._move(lead, event)
            fired = decision["trigger"]
        else:
            if decision["blocked"] == "won_lost":
                lead._cpa_ledger(
                    "trigger_blocked",
                    stage=lead.stage_id,
                    message=self._ledger_blocked(decision["matched"], event, decision["reason"]),
                )
            elif decision["blocked"] == "loop_guard":
                # Same rows as the engine's guard: loop_stopped, then the blocked trigger.
                lead._automation_loop_guard()
                lead._cpa_ledger(
                    "trigger_blocked",
                    stage=lead.stage_id,
                    message=self._ledger_blocked(decision["trigger"], event, _("loop guard")),
                )
            event.write(
                {
                    "state": "blocked",
                    "verdict_reason": self._blocked_reason(event, decision["reason"]),
                }
            )
        if event.event_type in ACTIVITY_EVENTS and lead.user_id:
            triggers = self._notify_triggers(lead, event)
            for trigger in triggers:
                trigger._notify(lead, event)
            if triggers and not fired:
                event.write({"state": "notified", "trigger_id": triggers[:1].id})
        return fired

    def _ledger_blocked(self, triggers, event, reason):
        return _(
            "Trigger %(triggers)s not applied to event %(event)s: %(reason)s.",
            triggers=", ".join(triggers.mapped("name")),
            event=event._describe(),
            reason=reason,
        )

    def _blocked_reason(self, event, reason):
        # one sentence for translators (a _() inside an f-string is not extracted)
        return _(
            "%(verdict)s; not moved: %(reason)s",
            verdict=event.verdict_reason or event.verdict,
            reason=reason,
        )[:255]

    def _refusal(self, lead, at=None):
        """Why this trigger must not move ``lead`` for an event at ``at`` (naive UTC,
        default now), or None: it may."""
        self.ensure_one()
        stage, current = self.stage_id, lead.stage_id
        if stage == current:
            return _("already in %(stage)s", stage=stage.name)
        if current and not self.allow_backward and stage.sequence <= current.sequence:
            return _("%(stage)s is not after %(current)s", stage=stage.name, current=current.name)
        domain = self._get_domain()
        if domain and not lead.filtered_domain(domain):
            return _(
                "condition not met: %(domain)s", domain=lead_condition.condition_words_of(self)
            )
        return self._hours_refusal(lead, at or fields.Datetime.now())

    def _hours_calendar(self, lead):
        """Calendar of the business-hours condition: the trigger's, else the lead's
        company's, else the current company's."""
        self.ensure_one()
        return (
            self.hours_calendar_id
            or lead.company_id.resource_calendar_id
            or self.env.company.resource_calendar_id
        )

    def _hours_refusal(self, lead, at):
        """Why the business-hours condition refuses an event at ``at``, or None."""
        if self.hours_condition == "always":
            return None
        calendar = self._hours_calendar(lead)
        if not calendar:
            return _("no working hours to check %(condition)s", condition=self.hours_description)
        inside = automation_timing.in_working_time(calendar, at)
        if inside == (self.hours_condition == "inside"):
            return None
        if inside:
            return _("inside the business hours of %(calendar)s", calendar=calendar.name)
        return _("outside the business hours of %(calendar)s", calendar=calendar.name)

    def _acting_user(self, lead):
        """Who moves ``lead``: the trigger's user, else the salesperson, else root."""
        self.ensure_one()
        return self.user_id or lead.user_id or self.env.ref("base.user_root")

    def _move(self, lead, event):
        """Write the stage as the trigger's user; ledger row and chatter note (the
        decision, loop guard included, was taken by ``_decide_event``)."""
        self.ensure_one()
        user = self._acting_user(lead)
        old_stage = lead.stage_id
        origin = _("Trigger %(trigger)s", trigger=self.name)
        # As the "change stage as" user (authorship, write_uid, engine's ledger), with
        # superuser rights: the trigger was configured by a manager and the event comes
        # from a public route, the user may not be able to write this lead right now.
        lead_as = (
            lead.with_user(user)
            .sudo()
            .with_context(
                crm_automation_auto=True,
                crm_automation_origin=origin,
                # the move's ledger row names the trigger (bulk undo, gate holds)
                crm_automation_trigger_id=self.id,
                crm_automation_event_id=event.id,
            )
        )
        lead_as.write({"stage_id": self.stage_id.id})
        if lead.stage_id != self.stage_id:  # held by the stage's gate (ledger row written)
            reason = self.env["crm.stage.gate"]._describe(
                self.stage_id, self.env["crm.stage.gate"]._missing(lead, self.stage_id)[lead.id]
            )
            event.write({"state": "blocked", "verdict_reason": reason[:255]})
            return
        message = _(
            "Moved from %(old)s to %(new)s by trigger “%(trigger)s” on event %(event)s, "
            "as %(user)s.",
            old=old_stage.name or "-",
            new=self.stage_id.name,
            trigger=self.name,
            event=event._describe(),
            user=user.name,
        )
        lead_as._cpa_ledger(
            "trigger_fired", stage=self.stage_id, from_stage=old_stage, message=message, event=event
        )
        lead_as.message_post(
            body=Markup("<p>%s</p>") % message,
            subtype_xmlid="mail.mt_note",
            author_id=user.partner_id.id,
        )
        event.write({"state": "fired", "trigger_id": self.id, "user_id": user.id})

    # ------------------------------------------------------------------
    # Notifying
    # ------------------------------------------------------------------

    @api.model
    def _notify_triggers(self, lead, event):
        """Notifying triggers that accept ``event`` on ``lead`` as it is now (reads
        only: the real run and the dry-run)."""
        if event.event_type not in ACTIVITY_EVENTS or not lead.active or lead.stage_id.is_won:
            return self.browse()
        triggers = self.search(
            [
                ("event_type", "=", event.event_type),
                ("state", "=", "active"),
                ("activity_action", "=", "notify"),
                ("stage_id", "=", lead.stage_id.id),
            ]
        )
        return triggers.filtered(
            lambda t: t._match(event)
            and (not t._get_domain() or lead.filtered_domain(t._get_domain()))
        )

    def _notify(self, lead, event):
        """Inbox notification (and email) to the lead's salesperson; ledger row."""
        self.ensure_one()
        user = lead.user_id
        message = _(
            "Trigger “%(trigger)s” on event %(event)s: %(lead)s needs your attention.",
            trigger=self.name,
            event=event._describe(),
            lead=lead.display_name,
        )
        # sudo: the salesperson is notified whoever completed the activity or runs the
        # cron; only the notification is written.
        lead.sudo().message_notify(
            partner_ids=user.partner_id.ids,
            subject=_("%(lead)s: %(trigger)s", lead=lead.display_name, trigger=self.name),
            body=Markup("<p>%s</p>") % message,
            subtype_xmlid="mail.mt_note",
            model_description=lead._description,
        )
        lead._cpa_ledger("trigger_notified", stage=lead.stage_id, message=message)

    # ------------------------------------------------------------------
    # Field changes (called by crm.lead.write and the engagement score)
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
        watched = field_change.watched(triggers.filtered(lambda t: t.event_type == "field_changed"))
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
        changes = field_change.changes(leads, before)
        if not changes:
            return Event
        names = {name for _lead, name, _old, _new in changes}
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
            fires = field_change.fired_by_rule(
                trigger.watch_field,
                trigger.watch_change,
                trigger.watch_value_key,
                added,
                removed,
                rule.score_delta,
            )
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
            new = field_change.toggle_id(old, target, removed)
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

    @api.model
    def _dry_run_activity_values(self, lead, detail):
        """Event values of the dry-run: the activity type named ``detail`` (optional)."""
        if detail in (None, "") or not str(detail).strip():
            return {}
        Type = lead.env["mail.activity.type"]
        activity_type = Type.search([("name", "=ilike", str(detail).strip())], limit=1)
        if not activity_type:
            raise UserError(_("No activity type named “%(name)s”.", name=detail))
        return {"activity_type_id": activity_type.id}

    # ------------------------------------------------------------------
    # Presets, domain, the base.automation
    # ------------------------------------------------------------------

    @api.model
    def _document_fill_preset(self, vals):
        """A preset given without its model (code, XML-RPC) fills model, condition and
        path; values given explicitly (not empty) win."""
        key = vals.get("document_preset")
        if key not in documents.PRESETS:
            return vals
        if key not in documents.available_presets(self.env):
            raise ValidationError(
                _("The document preset %(preset)s needs an app that is not installed.", preset=key)
            )
        return documents.fill_preset(vals, key)

    def _document_domain(self):
        self.ensure_one()
        if not self.document_domain:
            return []
        return safe_eval(self.document_domain, {"uid": self.env.uid, "user": self.env.user})

    def _document_automation_values(self):
        self.ensure_one()
        before, after = documents.reached_domain(self._document_domain())
        return {
            "name": _("CRM trigger: %(name)s", name=self.name),
            "model_id": self.env["ir.model"]._get_id(self.document_model),
            "trigger": "on_create_or_write",
            "filter_pre_domain": repr(before),
            "filter_domain": repr(after),
            "active": self.active and self.state == "active",
            "cpa_trigger_id": self.id,
        }

    def _sync_document_automation(self):
        """Create, update, archive or delete the base.automation of each trigger so that
        it watches what the trigger says, only while the trigger is active."""
        # sudo: base.automation and code server actions are for administrators; the
        # automation managers who edit triggers manage them through the trigger only.
        for trigger in self.sudo().with_context(active_test=False):
            automation = trigger.automation_id
            model = trigger.document_model
            if trigger.event_type != "document" or not model or model not in self.env:
                automation.unlink()
                continue
            values = trigger._document_automation_values()
            if automation and automation.model_id.model != model:
                # Its action is bound to the old model: start again.
                automation.unlink()
                automation = automation.browse()
            if automation:
                automation.write(values)
                continue
            automation = self.env["base.automation"].sudo().create(values)
            # Created on its own: x2many commands drop sudo on server actions
            # (fields.One2many._check_sudo_commands).
            self.env["ir.actions.server"].sudo().create(
                {
                    "name": _("Record the document event of the CRM trigger"),
                    "model_id": values["model_id"],
                    "usage": "base_automation",
                    "base_automation_id": automation.id,
                    "state": "code",
                    "code": ACTION_CODE % trigger.id,
                }
            )
            trigger.automation_id = automation

    def _document_leads(self, document):
        """Leads of ``document`` through the trigger's path (superuser: the user who
        confirms an order may not read its invoices' lines)."""
        self.ensure_one()
        return documents.leads_of(document.sudo(), self.document_lead_path)
