# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Signed tracking tokens: ``<int>.<int>...<signature>``, HMAC-SHA256 of the database
secret (``odoo.tools.hmac``), compared in constant time (``consteq``).

Tokens carry only numbers (lead, message, recipient, link, issue time), never an email
address; a token cannot be turned into another one without the database secret.
"""

import re

from odoo.tools import consteq, hmac

# Signature truncated to 128 bits: enough against forgery, shorter URLs.
SIG_LENGTH = 32
MAX_INT = 2**31 - 1
TOKEN_RE = re.compile(rf"^(\d{{1,10}}(?:\.\d{{1,10}}){{0,7}})\.([0-9a-f]{{{SIG_LENGTH}}})$")


class BadToken(ValueError):
    """Malformed token (400), as opposed to a forged one (403)."""


def sign(env, scope, numbers):
    """Token for ``numbers`` (ints) in ``scope``.

    :param env: any environment (the secret is read as superuser)
    """
    payload = ".".join(str(int(n)) for n in numbers)
    return f"{payload}.{_signature(env, scope, payload)}"


def _signature(env, scope, payload):
    return hmac(env(su=True), f"crm_pipeline_automation.{scope}", payload)[:SIG_LENGTH]


def verify(env, scope, token, count):
    """The numbers of ``token`` if it is a valid ``scope`` token of ``count`` numbers,
    else None (forged). Raises BadToken if it is not a token at all."""
    match = TOKEN_RE.match(token or "")
    if not match:
        raise BadToken(token)
    payload, signature = match.groups()
    numbers = [int(n) for n in payload.split(".")]
    if len(numbers) != count or any(n > MAX_INT for n in numbers):
        raise BadToken(token)
    if not consteq(_signature(env, scope, payload), signature):
        return None
    return numbers
