# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models


class CrmAutomationConfigMixin(models.AbstractModel):
    """Records that the registry-cached automation configuration reads
    (``crm.lead._automation_config()``, the record rules of restricted pipelines):
    creating or deleting one, or writing one of its ``_automation_config_fields``,
    clears the registry cache so that every worker reads them again."""

    _name = "crm.automation.config.mixin"
    _description = "Part of the cached automation configuration"

    # Fields whose new value changes the cached configuration.
    _automation_config_fields = ()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        if not vals.keys().isdisjoint(self._automation_config_fields):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
