# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Hostile inputs for the public routes, shared by tests/test_route_fuzz.py (in the test
suite, seeded ``random``) and bench/reliability.py ``--part fuzz`` (hypothesis, over real
HTTP against a multi-worker server).

Plain Python, no Odoo import: the bench loads this file by path. Every generator takes
a ``random.Random`` so that both drivers replay the same kinds of cases; ``sign(scope,
numbers)`` builds a validly signed token (the drivers know the database secret);
``signed_headers`` signs call webhook requests.
"""

import hashlib
import hmac
import json
import string
import time
from urllib.parse import quote

ALPHABET = string.printable + "éü中\u202e\x00\x7f"
CONTENT_TYPES = (
    "text/plain",
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/plain; charset=utf-16",
)
ORIGINS = ("https://shop.example.com", "https://evil.example", "null", "http://shop.example.com")
# Numbers of the token formats: (scope, count) of the open pixel, click and lead tokens.
TOKEN_FORMATS = {"open": 5, "click": 7, "lead": 2}


def text(rng, max_len=80):
    """Random printable and hostile characters (NUL, RTL override, CJK)."""
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, max_len)))


def token_like(rng, sign, scope, count, ids=()):
    """Random garbage, a valid token mutated in one place, a validly signed token of
    random (maybe absurd) numbers, or dotted numbers without a signature.

    :param sign: function (scope, numbers) -> signed token
    :param ids: interesting numbers (existing lead and link ids, now)
    """
    roll = rng.random()
    numbers = [rng.choice([0, 1, 2**31, 2**31 - 1, 10**10, *ids]) for _ in range(max(count, 1))]
    token = sign(scope, numbers)
    if roll < 0.3:
        return text(rng, 120)
    if roll < 0.6:
        position = rng.randrange(len(token))
        return token[:position] + rng.choice("0123456789abcdef.x") + token[position + 1 :]
    if roll < 0.8:
        return token
    return ".".join(str(rng.randint(0, 10**12)) for _ in range(rng.randint(1, 9)))


def beacon_body(rng, sign, lead_token, ids=()):
    """A beacon body: garbage, JSON objects with random members, other JSON values."""
    roll = rng.random()
    if roll < 0.3:
        return text(rng, 300).encode("utf-8", "surrogatepass")
    if roll < 0.7:
        return json.dumps(
            {
                "t": rng.choice(
                    [token_like(rng, sign, "lead", rng.choice([2, 2, 1, 3]), ids), 5, None, []]
                ),
                "u": rng.choice(
                    ["https://shop.example.com/x", text(rng), 7, None, "http://" + text(rng)]
                ),
                text(rng, 5): text(rng, 20),
            }
        ).encode()
    return json.dumps(
        rng.choice([[], 1, "x", None, {"t": lead_token, "u": text(rng, 3000)}])
    ).encode()


def call_payload(rng, phone):
    """A call webhook JSON payload with random (often invalid) members."""
    return {
        "id": rng.choice([text(rng, 10), 5, None, "x" * 200, [], rng.randint(0, 10**6)]),
        "type": rng.choice(["incoming", "outgoing", "missed", text(rng, 8), None]),
        "from": rng.choice([phone, text(rng, 20), 3, None, "+" + "9" * 40]),
        "to": rng.choice(["+3225550000", text(rng, 12), None]),
        "time": rng.choice([None, 0, -1, 10**20, "2026-01-12T10:00:00Z", text(rng, 10), 1.5, True]),
        "duration": rng.choice([0, -5, 10**9, "x", None, 30]),
    }


def header_value(rng):
    """A header value the HTTP client accepts (latin-1, no line breaks)."""
    value = text(rng, 40).encode("latin-1", "ignore").decode("latin-1")
    return "".join(ch for ch in value if ch not in "\r\n\x00")


def signed_headers(body, secret, timestamp=None):
    """Headers of a call webhook request signed as readme/CONTRACTS.md says:
    HMAC-SHA256 of "<timestamp>.<body>" with the source's secret."""
    timestamp = str(int(time.time() if timestamp is None else timestamp))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-CPA-Timestamp": timestamp,
        "X-CPA-Signature": f"sha256={digest.hexdigest()}",
    }


def path_segment(value):
    """``value`` as one URL path segment ("/" would select another route)."""
    return quote(value.replace("/", ""), safe="")
