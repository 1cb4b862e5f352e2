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
