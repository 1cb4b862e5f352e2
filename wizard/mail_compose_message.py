# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    def _action_send_mail(self, auto_commit=False):
        """Remember the template of emails about leads (composer, message_post_with_source
        of templates and automation rules): "opened an email of template X" triggers."""
        composer = self
        if len(self) == 1 and self.template_id and self.model == "crm.lead":
            composer = self.with_context(cpa_template_id=self.template_id.id)
        return super(MailComposeMessage, composer)._action_send_mail(auto_commit=auto_commit)
