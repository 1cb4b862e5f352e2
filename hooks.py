# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tools import SQL


def uninstall_hook(env):
    """Remove what Odoo's uninstall leaves behind (see `make test-upgrade`).

    - the system parameters ``crm_pipeline_automation.*`` written by the settings or by
      the engine at run time: they have no xml id, so only the ones of
      data/ir_config_parameter_data.xml would go with the module;
    - ``crm_lead_event_caller_claim``, made by ``crm.lead.event``'s ``init()``: not the
      table of a model, Odoo does not know it;
    - the ``base.automation`` rules (and their code actions) of the document triggers:
      base_automation stays installed, its rules would call the addon's code.
    """
    # Through the ORM: base_automation unpatches the document models.
    env["base.automation"].sudo().with_context(active_test=False).search(
        [("cpa_trigger_id", "!=", False)]
    ).unlink()
    env["ir.config_parameter"].sudo().search(
        [("key", "=like", "crm_pipeline_automation.%")]
    ).unlink()
    env.cr.execute(SQL("DROP TABLE IF EXISTS crm_lead_event_caller_claim"))
