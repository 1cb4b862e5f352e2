# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    def _action_done(self, feedback=False, attachment_ids=None):
        lead_ids = [activity.res_id for activity in self if activity.res_model == "crm.lead"]
        result = super()._action_done(feedback=feedback, attachment_ids=attachment_ids)
        if lead_ids and not self.env.user._is_superuser():
            self.env["crm.lead"].browse(lead_ids).exists()._automation_touch()
        return result
