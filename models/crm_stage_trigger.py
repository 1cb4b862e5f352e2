# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import fnmatch
import logging
import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import conditions as lead_condition
from ..engine import events as lead_events
from ..engine import timing as automation_timing
from ..engine import verdict as verdicts
from .crm_automation_rule import STATES
from .crm_lead_event import EVENT_TYPES

_logger = logging.getLogger(__name__)

# form_submitted: the site's forms offered to pick from are the views holding a website
# form that creates leads, their hidden ``cpa_form`` input (the form's name, see
# controllers/website_form.py) and the pages showing them.
LEAD_FORM = 'data-model_name="crm.lead"'
CPA_FORM_INPUT = re.compile(
    r"""<input[^>]*?name=["']cpa_form["'][^>]*?value=["']([^"']+)["']"""
    r"""|<input[^>]*?value=["']([^"']+)["'][^>]*?name=["']cpa_form["']"""
)
# Form names of past events offered at most (the most recent ones).
SEEN_FORMS_LIMIT = 50

SNIPPET = """<script async src="%(base)s/crm_pipeline_automation/static/src/snippet/cpa_track.js"
        data-cpa-endpoint="%(base)s/cpa/beacon"></script>"""


def _lines(text):
    """Non-empty stripped lines (or comma-separated items) of a text field."""
    return [item.strip() for item in re.split(r"[\n,]", text or "") if item.strip()]


def wildcard_match(pattern, value):
    """Case-insensitive match of ``value`` with a pattern where ``*`` is any text.

    A pattern without a scheme matches the URL's path and query too, so ``/pricing*``
    matches ``https://example.com/pricing?plan=pro``.
    """
    if not pattern or not value:
        return False
    pattern, value = pattern.strip().lower(), value.strip().lower()
    if fnmatch.fnmatchcase(value, pattern.replace("[", "[[]")):
        return True
    if "://" not in pattern and "://" in value:
        path = "/" + value.split("://", 1)[1].partition("/")[2]
        return fnmatch.fnmatchcase(path, pattern.replace("[", "[[]"))
    return False


class CrmStageTrigger(models.Model):
    _name = "crm.stage.trigger"
    _inherit = ["crm.stage.trigger.document"]
    _description = "CRM Stage Trigger"
    _order = "sequence, id"

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
            for match in CPA_FORM_INPUT.finditer(view.arch_db or ""):
                name = match.group(1) or match.group(2)
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
            if trigger.event_type == "url_visited" and not _lines(trigger.url_patterns):
                raise ValidationError(
                    _("Trigger %(name)s: give at least one URL pattern.", name=trigger.name)
                )
            if trigger.event_type == "chat_keyword" and not _lines(trigger.keywords):
                raise ValidationError(
                    _("Trigger %(name)s: give at least one keyword.", name=trigger.name)
                )
            if trigger.event_type == "chat_response_late" and trigger.response_seconds <= 0:
                raise ValidationError(
                    _("Trigger %(name)s: the delay must be positive.", name=trigger.name)
                )

    def _get_domain(self):
        return lead_condition.condition_domain(self)

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
        return any(wildcard_match(pattern, event.url) for pattern in _lines(self.url_patterns))

    def _match_call(self, event):
        if not self.line_numbers:
            return True
        lines = {
            self.env["crm.lead.event"]._phone_e164(number) or number
            for number in _lines(self.line_numbers)
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
        return [lead_events.keyword_pattern(word) for word in _lines(self.keywords)]

    def _match_meeting_scheduled(self, event):
        return True

    # ------------------------------------------------------------------
    # Firing
    # ------------------------------------------------------------------

    def _moves_lead(self):
        """Whether the trigger moves the lead (hook: some kinds only notify)."""
        return True

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

        :param event: crm.lead.event (not machine)
        :param candidates: see ``_decide_event``
        :return: the trigger fired, or an empty recordset
        """
        lead = event.lead_id
        decision = self._decide_event(lead, event, candidates=candidates)
        if decision["state"] == "no_trigger":
            event.state = "no_trigger"
            return self
        if decision["state"] == "fired":
            decision["trigger"]._move(lead, event)
            return decision["trigger"]
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
            {"state": "blocked", "verdict_reason": self._blocked_reason(event, decision["reason"])}
        )
        return self

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
