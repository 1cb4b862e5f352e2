# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class CrmStage(models.Model):
    _inherit = "crm.stage"

    trigger_ids = fields.One2many(
        "crm.stage.trigger",
        "stage_id",
        "Triggers",
        help="Engagement events that move a lead to this stage.",
    )
