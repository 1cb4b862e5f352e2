# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Call events from a telephony system, signed per source (see readme/CONTRACTS.md,
"Call webhook").

``POST /cpa/webhook/call/<source>`` with a JSON body and two headers:
``X-CPA-Timestamp`` (unix seconds) and ``X-CPA-Signature: sha256=<hex>`` where hex is
HMAC-SHA256(source secret, "<timestamp>.<raw body>").
"""

import hashlib
import hmac
import json
import re
import time

from odoo import http
from odoo.http import request
from odoo.tools import consteq

MAX_BODY_BYTES = 8192
SOURCE_RE = re.compile(r"^[a-z0-9_-]{1,32}$")


def _json(status, code=200):
    return request.make_json_response({"status": status}, status=code)


class CrmPipelineWebhook(http.Controller):
    @http.route(
        "/cpa/webhook/call/<string:source>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def cpa_call(self, source, **kwargs):
        httprequest = request.httprequest
        if not SOURCE_RE.match(source):
            return _json("unknown source", 404)
        # sudo: the source secret is a system parameter; the signature below is the
        # authorization of everything this request does.
        Event = request.env["crm.lead.event"].sudo()
        secret = Event._cpa_call_source_secret(source)
        if not secret:
            return _json("unknown source", 404)
        length = httprequest.content_length
        if length is None:
            return _json("length required", 411)
        if length > MAX_BODY_BYTES:
            return _json("payload too large", 413)
        # Cached on the request (bounded above): after a serialization failure Odoo
        # retries the whole request, and the retry must read the same body again.
        body = httprequest.get_data()[:MAX_BODY_BYTES]
        timestamp = httprequest.headers.get("X-CPA-Timestamp", "")
        signature = httprequest.headers.get("X-CPA-Signature", "")
        if not timestamp.isdigit() or len(timestamp) > 12 or not signature.startswith("sha256="):
            return _json("bad signature", 403)
        if abs(time.time() - int(timestamp)) > Event._cpa_replay_window():
            return _json("expired", 403)
        expected = hmac.new(
            secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        # consteq compares str only when ASCII (a header may carry anything).
        if not signature.isascii() or not consteq(expected, signature[7:]):
            return _json("bad signature", 403)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _json("invalid JSON", 400)
        try:
            # Queued (crm.lead.event.ingest), decided without a lock: "recorded",
            # "duplicate" or "no_lead" (readme/CONTRACTS.md, "Call webhook").
            status = request.env["crm.lead.event.ingest"].sudo()._cpa_ingest_call(source, data)
        except ValueError as error:
            return _json(f"invalid: {error}", 400)
        return _json(status)
