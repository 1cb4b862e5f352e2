# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class BaseAutomation(models.Model):
    _inherit = "base.automation"

    cpa_trigger_id = fields.Many2one(
        "crm.stage.trigger",
        "CRM trigger",
        ondelete="cascade",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The CRM stage trigger (event: document) this rule works for: it is created, "
        "updated, archived and deleted with the trigger; edit the trigger, not the rule.",
    )
