# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models


class CrmTeam(models.Model):
    _name = "crm.team"
    _inherit = ["crm.team", "crm.automation.config.mixin"]
    # Leaders are in the scope of the activity templates of their teams
    # (crm.lead._automation_config); the global rules of restricted pipelines depend on
    # whether any team is restricted (ir.rule._eval_context).
    _automation_config_fields = ("user_id", "pipeline_members_only", "active")

    # Enforced by the global record rules of security/crm_restricted_pipeline_security.xml
    # (leads, and the events, jobs and ledger rows of their leads).
    pipeline_members_only = fields.Boolean(
        "Only members see this pipeline's leads",
        help="Salespeople who are neither members nor the leader of this team cannot read "
        "or search its leads, nor their engagement events, automation jobs and ledger. "
        "Sales administrators see all leads.",
    )

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
