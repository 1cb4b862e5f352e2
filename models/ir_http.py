# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models
from odoo.http import request


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _serve_fallback(cls):
        """No fallback for a path with a NUL character: 404 instead of a 500.

        The fallback (attachments, website pages, redirects) looks the path up in the
        database, and PostgreSQL refuses NUL in a string: every unknown path containing
        ``%00`` (the reliability fuzzer sends them to /cpa/...) answered 500. Such a
        path can be no stored URL.
        """
        if "\x00" in request.httprequest.path:
            return None
        return super()._serve_fallback()
