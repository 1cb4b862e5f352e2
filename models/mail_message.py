# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    cpa_template_id = fields.Many2one(
        "mail.template",
        "Sent with template",
        ondelete="set null",
        readonly=True,
        help="Email template of a message about a lead (email_open / link_click triggers).",
    )

    @api.model_create_multi
    def create(self, vals_list):
        template_id = self.env.context.get("cpa_template_id")
        if template_id:
            for vals in vals_list:
                if vals.get("model") == "crm.lead":
                    vals.setdefault("cpa_template_id", template_id)
        return super().create(vals_list)

    def _cpa_record_email_event(self, lead):
        """Record email_received (an email from outside) or email_sent (a salesperson's
        message to the customer) for ``lead``, from this message posted on it."""
        self.ensure_one()
        if self.message_type not in ("email", "comment", "email_outgoing"):
            return  # notifications and tracking messages: no query
        # sudo: authors and subtypes of a message the current user just posted or received.
        message = self.sudo()
        author_users = message.author_id.user_ids
        internal = bool(author_users.filtered(lambda u: not u._is_public() and not u.share))
        event_type = None
        if message.message_type == "email" and not internal:
            event_type, source = "email_received", "mail_gateway"
        elif (
            message.message_type in ("comment", "email_outgoing")
            and internal
            and message.subtype_id == self.env.ref("mail.mt_comment")
        ):
            event_type, source = "email_sent", "chatter"
        if event_type:
            self.env["crm.lead.event"].sudo()._record(
                lead,
                event_type,
                source,
                dedup_key=f"msg{message.id}",
                message_ref=message.id,
                partner_id=message.author_id.id,
                text=message.subject or message.preview,
                user_id=author_users[:1].id if internal else False,
            )
