# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Public tracking routes: open pixel, click redirect, visit beacon.

Each validates its signed token in constant time, queues what it received
(crm.lead.event.ingest: one INSERT in the request's own short transaction, no lead
locked or written) and answers a fixed response: no lead data ever leaves. The
processor cron turns the queued rows into events, verdicts and moves within seconds.
"""

import base64
import json
import logging
from urllib.parse import urlsplit, urlunsplit

from werkzeug.exceptions import BadRequest

from odoo import http
from odoo.http import request

from ..engine import ingest, urls
from ..engine import tokens as tracking_token
from ..engine import verdict as verdicts
from ..models.website_visitor import COOKIE

_logger = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_BEACON_BYTES = 4096


def _status(code):
    return request.make_response(b"", status=code, headers=[("Cache-Control", "no-store")])


def _client():
    httprequest = request.httprequest
    return httprequest.user_agent.string or "", httprequest.remote_addr or ""


def _client_payload():
    """Client of the request as queued: the user agent (bounded) and the network of
    the address (the truncated address, never the full one: engine/verdict.py)."""
    user_agent, ip = _client()
    network = verdicts.truncate_ip(ip)
    return {"ua": user_agent[:512], "ip": network.split("/")[0] if network else ""}


def _ingest(kind, lead_id, payload):
    # sudo: the signed token is the authorization to queue this one fact.
    request.env["crm.lead.event.ingest"].sudo()._cpa_ingest(
        kind, ingest.lead_key(lead_id), {**payload, **_client_payload()}
    )


def _verified(scope, token, count, issued_at):
    """(numbers, None) for a valid, unexpired ``scope`` token, else (None, the response):
    400 for something that is not a token, 403 for a forged or expired one.

    :param issued_at: index of the issue time among the token's numbers
    """
    try:
        numbers = tracking_token.verify(request.env, scope, token, count)
    except tracking_token.BadToken:
        return None, _status(400)
    if numbers is None or request.env["crm.lead.event"]._cpa_token_expired(numbers[issued_at]):
        return None, _status(403)
    return numbers, None


class CrmPipelineTracking(http.Controller):
    @http.route(
        "/cpa/o/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def cpa_open(self, token, **kwargs):
        numbers, refusal = _verified("open", token, 5, issued_at=4)
        if refusal:
            return refusal
        _ingest("open", numbers[0], {"n": list(numbers)})
        return request.make_response(
            PIXEL, headers=[("Content-Type", "image/gif"), ("Cache-Control", "no-store, max-age=0")]
        )

    @http.route(
        "/cpa/c/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def cpa_click(self, token, **kwargs):
        Event = request.env["crm.lead.event"]
        numbers, refusal = _verified("click", token, 7, issued_at=4)
        if refusal:
            return refusal
        # sudo: the signed token authorizes queueing this click; the redirect target
        # is the stored link.tracker URL, never a URL from the request.
        url, lead_token = (
            request.env["crm.lead.event.ingest"]
            .sudo()
            ._cpa_ingest_click(numbers[0], numbers[6], {"n": list(numbers), **_client_payload()})
        )
        if not url:
            return _status(404)
        if lead_token and Event.sudo()._cpa_origin_allowed(url):
            # A site of ours with the snippet: it keeps the identity in its own
            # first-party cookie (read from this parameter by cpa_track.js).
            parsed = urlsplit(url)
            query = f"{parsed.query}&" if parsed.query else ""
            url = urlunsplit(parsed._replace(query=f"{query}{COOKIE}={lead_token}"))
        response = request.redirect(url, code=302, local=False)
        if lead_token:
            request.env["website.visitor"]._cpa_set_cookie(lead_token, response)
        response.headers["Cache-Control"] = "no-store"
        return response

    @http.route(
        "/cpa/beacon",
        type="http",
        auth="public",
        methods=["POST", "OPTIONS"],
        csrf=False,
        save_session=False,
    )
    def cpa_beacon(self, **kwargs):
        httprequest = request.httprequest
        Event = request.env["crm.lead.event"]
        origin = httprequest.headers.get("Origin")
        allowed = Event.sudo()._cpa_origin_allowed(origin) if origin else True
        if not allowed:
            return _status(403)
        cors = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")] if origin else []
        if httprequest.method == "OPTIONS":
            return request.make_response(
                b"",
                status=204,
                headers=cors
                + [
                    ("Access-Control-Allow-Methods", "POST, OPTIONS"),
                    ("Access-Control-Allow-Headers", "Content-Type"),
                    ("Access-Control-Max-Age", "86400"),
                ],
            )
        length = httprequest.content_length
        if length is None or length > MAX_BEACON_BYTES:
            return _status(413 if length else 411)
        try:
            # Cached (bounded above): a request retried after a serialization failure
            # reads the same body again.
            data = json.loads(httprequest.get_data()[:MAX_BEACON_BYTES])
        except (ValueError, UnicodeDecodeError, BadRequest):
            return _status(400)
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("u"), str)
            or len(data["u"]) > 2000
        ):
            return _status(400)
        token = data.get("t") or httprequest.cookies.get(COOKIE)
        if not isinstance(token, str):
            return _status(400)
        numbers, refusal = _verified("lead", token, 2, issued_at=1)
        if refusal:
            return refusal
        if not urls.is_http_url(data["u"]):
            return _status(400)
        # Robots are not tracked (the processor would drop the visit).
        if not verdicts.ua_family(_client()[0]).startswith("robot"):
            _ingest("visit", numbers[0], {"lead": numbers[0], "u": data["u"]})
        return request.make_response(
            b"", status=204, headers=cors + [("Cache-Control", "no-store")]
        )
