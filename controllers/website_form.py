# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from urllib.parse import urlsplit

from odoo.addons.website_crm.controllers.website_form import WebsiteForm

FORM_FIELD = "cpa_form"


class CrmPipelineWebsiteForm(WebsiteForm):
    def insert_record(self, request, model, values, custom, meta=None):
        """A website form created a lead: form_submitted for it and for the visitor's
        other leads. The form is named by its hidden input ``cpa_form``, else by the
        path of the page it was sent from; the event keeps that path too (a trigger
        picking the page matches the page's named forms)."""
        # PostgreSQL refuses NUL in a string: a hostile post would answer 500.
        values = {
            key: value.replace("\x00", "") if isinstance(value, str) else value
            for key, value in values.items()
        }
        if isinstance(custom, str):
            custom = custom.replace("\x00", "")
        if model.sudo().model == "crm.lead" and not values.get("name"):
            # A form without a subject field (or a hostile post) would violate the
            # NOT NULL name of crm.lead inside Odoo's savepoint: a 500, no lead.
            values["name"] = (
                values.get("contact_name") or values.get("email_from") or "Website form"
            )
        result = super().insert_record(request, model, values, custom, meta=meta)
        if result and model.sudo().model == "crm.lead":
            httprequest = request.httprequest
            try:
                page = urlsplit(httprequest.headers.get("Referer") or "").path
            except ValueError:
                page = ""
            form = request.params.get(FORM_FIELD)
            if not isinstance(form, str) or not form.strip():
                form = page
            # sudo: the lead was just created by the form (as superuser, like core does);
            # the visitor's leads are not readable by the public user.
            request.env["crm.lead.event"].sudo()._record_form_submitted(
                result,
                form[:200],
                httprequest.user_agent.string,
                httprequest.remote_addr,
                page=page[:200],
            )
            # The visitor's browser is the lead's from now on: its page views are tracked.
            request.env["website.visitor"]._cpa_set_tracking_cookie(
                request.env["crm.lead"].browse(result)
            )
        return result
