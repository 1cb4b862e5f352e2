# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models


class IrRule(models.Model):
    _inherit = "ir.rule"

    @api.model
    def _eval_context(self):
        """``restricted_pipelines()``: whether a sales team shows its leads to its
        members only (crm.team.pipeline_members_only). Without any, the addon's global
        rules are true, and cost no query (a rule's domain is computed once per user
        and cached; crm.team clears that cache when the setting changes)."""
        context = super()._eval_context()
        env = self.env

        def restricted_pipelines():
            Team = env["crm.team"].sudo().with_context(active_test=False)
            return bool(Team.search_count([("pipeline_members_only", "=", True)], limit=1))

        context["restricted_pipelines"] = restricted_pipelines
        return context
