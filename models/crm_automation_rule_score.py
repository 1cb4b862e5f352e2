# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models
from odoo.tools import SQL


class CrmAutomationRule(models.Model):
    _inherit = "crm.automation.rule"

    score_delta = fields.Integer(
        "Engagement points",
        help="tags action: points added to the lead's engagement score (negative: removed), "
        "with or instead of tags (GetResponse's 'score instead of tags').",
    )

    def _execute_tags(self, lead, job):
        message = super()._execute_tags(lead, job)
        if self.score_delta:
            # Relative UPDATE: concurrent tracking events of the lead add up with it.
            self.env.execute_query(
                SQL(
                    "UPDATE crm_lead "
                    "SET engagement_score = GREATEST(COALESCE(engagement_score, 0) + %s, 0) "
                    "WHERE id = %s",
                    self.score_delta,
                    lead.id,
                )
            )
            lead.invalidate_recordset(["engagement_score"])
            message = _(
                "%(message)s Engagement score %(delta)+d.", message=message, delta=self.score_delta
            )
        return message
