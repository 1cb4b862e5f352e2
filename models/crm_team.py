# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


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
