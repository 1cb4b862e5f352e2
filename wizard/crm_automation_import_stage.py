# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class CrmAutomationImportStage(models.TransientModel):
    """One stage of a recipe or file, and the stage of the pipeline it becomes."""

    _name = "crm.automation.import.stage"
    _description = "Stage Mapping of an Automation Import"

    wizard_id = fields.Many2one("crm.automation.import.wizard", required=True, ondelete="cascade")
    # Shown read-only in the wizard (with force_save: the client sends them back).
    key = fields.Char(required=True)
    name = fields.Char("Stage of the recipe / file")
    used = fields.Boolean(help="Triggers or rules of the file use this stage.")
    team_id = fields.Many2one(related="wizard_id.team_id")
    target_stage_id = fields.Many2one(
        "crm.stage",
        "Stage of the pipeline",
        domain="['|', ('team_id', '=', False), ('team_id', '=', team_id)]",
        help="Empty: not imported, or created when 'Create missing stages' is set.",
    )
