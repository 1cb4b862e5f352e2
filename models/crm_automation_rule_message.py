# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The message actions of automation rules: email, SMS and notification to the
customer or to internal people (salesperson, team leader, chosen users), and a post in
the lead's open live chat or in a Discuss channel (Bitrix24's "send messages through
open channels"). Kept apart from the other actions of ``crm.automation.rule``."""

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import plaintext2html

from ..engine import placeholders
from ..engine.dispatch import ActionSkipped

RECIPIENTS = [
    ("customer", "Customer"),
    ("salesperson", "Salesperson"),
    ("team_leader", "Team leader"),
    ("users", "Chosen users"),
]


class CrmAutomationRule(models.Model):
    _inherit = "crm.automation.rule"

    action_type = fields.Selection(
        selection_add=[("message", "Post in a live chat or channel")],
        ondelete={"message": "cascade"},
    )
    recipient_target = fields.Selection(
        RECIPIENTS,
        "Send to",
        default="customer",
        required=True,
        help="email / sms: the lead's customer, or internal people (the customer then "
        "never receives it). Emails go to the users' email addresses, SMS to their "
        "mobile (else phone) number.",
    )
    notify_target = fields.Selection(
        selection_add=[("customer", "Customer"), ("salesperson",)],
        ondelete={"customer": "set default"},
    )
    notify_user_ids = fields.Many2many(
        string="Chosen users", help="Users addressed by 'Chosen users' (email, SMS, notify)."
    )
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

    def _render_text(self, text, lead):
        return placeholders.render(text or self.name, lead)

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
        label = self.sms_template_id.name or (self.message_body or "")[:60]
        recipient = lead._sms_get_recipients_info()[lead.id]
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
        label, message = self._send_sms(lead)
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
