# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models


class CrmTeamMember(models.Model):
    _name = "crm.team.member"
    _inherit = ["crm.team.member", "crm.automation.config.mixin"]
    # Members are in the scope of the activity templates of their teams: what
    # crm.lead._automation_config caches.
    _automation_config_fields = ("user_id", "crm_team_id", "active")
