# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import re

from werkzeug.exceptions import NotFound

from odoo import models
from odoo.http import request

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _match(cls, path):
        """No redirect of a path with a control character: 404 instead of a 500.

        Before matching, the frontend routing redirects ``//`` to ``/`` and language
        prefixes away, and werkzeug refuses to build a Location header with a newline:
        every such path (``/cpa/%0A//x``, sent by the reliability fuzzer) answered 500.
        Paths that match a route as they are still reach it (a malformed tracking
        token is a 400).
        """
        try:
            return super()._match(path)
        except ValueError:
            if CONTROL_CHARACTERS.search(path):
                raise NotFound() from None
            raise

    @classmethod
    def _serve_fallback(cls):
        """No fallback for a path with a control character: 404 instead of a 500.

        The fallback (attachments, website pages, redirects) looks the path up in the
        database, and PostgreSQL refuses NUL in a string: every unknown path containing
        ``%00`` answered 500. The website's fallback also redirects to the normalised
        path (``/a//`` to ``/a/``), and a Location header with a newline (``%0A``,
        ``%0D``) is refused by werkzeug: 500 again. The reliability fuzzer sends such
        paths to /cpa/...; no stored URL or page contains a control character.
        """
        if CONTROL_CHARACTERS.search(request.httprequest.path):
            return None
        return super()._serve_fallback()
