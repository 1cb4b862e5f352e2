# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""18.0.1.1.0: the demo builds its own pipelines and leaves Odoo's records as shipped.

Version 18.0.1.0.0's demo gave Odoo's standard stages (crm.stage_lead1..4, shipped
without a team) to the Sales team. Databases installed with that demo get them back as
Odoo ships them; a stage whose team someone changed to another team is left alone.
Databases without demo data (the only ones with real users) have nothing to migrate.
"""

from odoo import SUPERUSER_ID, api

ODOO_STAGES = ("crm.stage_lead1", "crm.stage_lead2", "crm.stage_lead3", "crm.stage_lead4")


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    demo = env["ir.module.module"].search([("name", "=", "crm_pipeline_automation")]).demo
    sales = env.ref("sales_team.team_sales_department", raise_if_not_found=False)
    if not demo or not sales:
        return
    for xmlid in ODOO_STAGES:
        stage = env.ref(xmlid, raise_if_not_found=False)
        if stage and stage.team_id == sales:
            stage.team_id = False
