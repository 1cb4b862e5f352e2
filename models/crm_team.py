# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models


class CrmTeam(models.Model):
    _inherit = "crm.team"

    # Enforced by the global record rules of security/crm_restricted_pipeline_security.xml
    # (leads, and the events, jobs and ledger rows of their leads).
    pipeline_members_only = fields.Boolean(
        "Only members see this pipeline's leads",
        help="Salespeople who are neither members nor the leader of this team cannot read "
        "or search its leads, nor their engagement events, automation jobs and ledger. "
        "Sales administrators see all leads.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        teams = super().create(vals_list)
        if any(vals.get("pipeline_members_only") for vals in vals_list):
            self.env.registry.clear_cache()  # ir.rule domains (restricted_pipelines)
        return teams

    def write(self, vals):
        result = super().write(vals)
        # Leaders are in the scope of the activity templates of their teams
        # (crm.lead._automation_config); the global rules of restricted pipelines
        # depend on whether any exists (ir.rule._eval_context).
        if {"user_id", "pipeline_members_only", "active"} & vals.keys():
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def action_export_automation(self):
        """Download the automation of this pipeline as a JSON file."""
        self.ensure_one()
        wizard = self.env["crm.automation.export.wizard"].create({"team_id": self.id})
        return wizard.action_export()

    def action_import_automation(self):
        """Open the import wizard on this pipeline."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Import automation"),
            "res_model": "crm.automation.import.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_team_id": self.id, "default_source": "file"},
        }
