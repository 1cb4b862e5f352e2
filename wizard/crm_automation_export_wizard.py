# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import re

from odoo import fields, models


class CrmAutomationExportWizard(models.TransientModel):
    """Download the automation of a pipeline as a JSON file."""

    _name = "crm.automation.export.wizard"
    _description = "Export CRM Automation"

    team_id = fields.Many2one(
        "crm.team",
        "Pipeline",
        required=True,
        default=lambda self: self.env.context.get("active_model") == "crm.team"
        and self.env.context.get("active_id"),
        help="Sales team whose triggers, rules and activity templates are exported.",
    )
    file = fields.Binary(readonly=True, attachment=False)
    file_name = fields.Char(readonly=True)

    def action_export(self):
        """Build the file and download it."""
        self.ensure_one()
        content = self.env["crm.automation.exchange"]._export_json(self.team_id)
        slug = re.sub(r"[^A-Za-z0-9]+", "_", self.team_id.name or "").strip("_").lower()
        self.write(
            {
                "file": base64.b64encode(content),
                "file_name": f"automation_{slug or self.team_id.id}.json",
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self._name}/{self.id}/file/{self.file_name}?download=true",
            "target": "self",
        }
