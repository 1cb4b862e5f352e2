# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""crm.stage.trigger, "Website form submitted": pick one of the site's forms.

A form is named (``controllers/website_form.py``) by its hidden input ``cpa_form``, else
by the path of the page it was sent from. The known forms are the pages whose view
holds a website form creating leads (``data-model_name="crm.lead"``), the ``cpa_form``
names found in such views, and the form names already recorded by events; the free
text ``form_name`` stays for forms on other sites (and wildcards).
"""

import re

from odoo import api, fields, models

LEAD_FORM = 'data-model_name="crm.lead"'
CPA_FORM_INPUT = re.compile(
    r"""<input[^>]*?name=["']cpa_form["'][^>]*?value=["']([^"']+)["']"""
    r"""|<input[^>]*?value=["']([^"']+)["'][^>]*?name=["']cpa_form["']"""
)
# Form names of past events offered at most (the most recent ones).
SEEN_FORMS_LIMIT = 50


class CrmStageTrigger(models.Model):
    _inherit = "crm.stage.trigger"

    form_known = fields.Selection(
        selection="_selection_form_known",
        string="Form of the site",
        compute="_compute_form_known",
        inverse="_inverse_form_known",
        help="form_submitted: a form of the website (pages with a form creating leads, "
        "forms already sent); sets the form name below.",
    )

    @api.model
    def _selection_form_known(self):
        return self._known_forms()

    @api.depends("form_name")
    def _compute_form_known(self):
        keys = {key for key, _label in self._known_forms()} if self else set()
        for trigger in self:
            trigger.form_known = trigger.form_name if trigger.form_name in keys else False

    def _inverse_form_known(self):
        for trigger in self.filtered("form_known"):
            trigger.form_name = trigger.form_known

    @api.model
    def _known_forms(self):
        """[(form name, label)] of the site's lead forms and of the forms seen."""
        # sudo: views, pages and events are read for their names and URLs only.
        View = self.env["ir.ui.view"].sudo().with_context(active_test=False)
        views = View.search([("type", "=", "qweb"), ("arch_db", "ilike", LEAD_FORM)])
        forms = {}
        roots = View
        for view in views:
            for match in CPA_FORM_INPUT.finditer(view.arch_db or ""):
                name = match.group(1) or match.group(2)
                forms.setdefault(name, name)
            root = view
            while root.inherit_id:
                root = root.inherit_id
            roots |= root
        if roots:
            pages = (
                self.env["website.page"]
                .sudo()
                .search(["|", ("view_id", "in", roots.ids), ("key", "in", roots.mapped("key"))])
            )
            for page in pages:
                forms.setdefault(page.url, f"{page.name} ({page.url})")
        seen = self.env["crm.lead.event"].sudo()._read_group(
            [("event_type", "=", "form_submitted"), ("form_name", "!=", False)],
            ["form_name"],
            ["date:max"],
            order="date:max desc",
            limit=SEEN_FORMS_LIMIT,
        )
        for name, _date in seen:
            forms.setdefault(name, name)
        return sorted(forms.items(), key=lambda item: item[1].lower())
