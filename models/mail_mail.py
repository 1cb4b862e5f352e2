# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _personalize_outgoing_body(self, body, partner=False, recipients_follower_status=None):
        """Emails about a lead (chatter, templates, automation rules): open pixel and
        signed click links, per recipient."""
        body = super()._personalize_outgoing_body(body, partner, recipients_follower_status)
        if self.model != "crm.lead" or not self.res_id:
            return body
        if "mailing_id" in self._fields and self.mailing_id:
            return body  # mass mailings have their own tracking
        if partner and partner.sudo().user_ids.filtered(lambda user: not user.share):
            return body  # colleagues notified about the lead are not the customer
        lead = self.env["crm.lead"].sudo().browse(self.res_id).exists()
        if not lead:
            return body
        return lead._cpa_track_body(
            body, self.mail_message_id.id, partner.id if partner else 0, self.cpa_template_id.id
        )
