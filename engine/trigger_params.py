# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The text parameters of stage triggers, read the same way by the real run and the
dry-run: lists typed one per line (URL patterns, keywords, line numbers), URL and form
patterns with ``*`` wildcards, and the website forms that create leads.
"""

import fnmatch
import re

# form_submitted: the site's forms offered to pick from are the views holding a website
# form that creates leads, their hidden ``cpa_form`` input (the form's name, see
# controllers/website_form.py) and the pages showing them.
LEAD_FORM = 'data-model_name="crm.lead"'
CPA_FORM_INPUT = re.compile(
    r"""<input[^>]*?name=["']cpa_form["'][^>]*?value=["']([^"']+)["']"""
    r"""|<input[^>]*?value=["']([^"']+)["'][^>]*?name=["']cpa_form["']"""
)

# The tracking snippet for the pages of other sites (``%(base)s``: the base URL).
SNIPPET = """<script async src="%(base)s/crm_pipeline_automation/static/src/snippet/cpa_track.js"
        data-cpa-endpoint="%(base)s/cpa/beacon"></script>"""


def lines(text):
    """Non-empty stripped lines (or comma-separated items) of a text field."""
    return [item.strip() for item in re.split(r"[\n,]", text or "") if item.strip()]


def wildcard_match(pattern, value):
    """Case-insensitive match of ``value`` with a pattern where ``*`` is any text.

    A pattern without a scheme matches the URL's path and query too, so ``/pricing*``
    matches ``https://example.com/pricing?plan=pro``.
    """
    if not pattern or not value:
        return False
    pattern, value = pattern.strip().lower(), value.strip().lower()
    if fnmatch.fnmatchcase(value, pattern.replace("[", "[[]")):
        return True
    if "://" not in pattern and "://" in value:
        path = "/" + value.split("://", 1)[1].partition("/")[2]
        return fnmatch.fnmatchcase(path, pattern.replace("[", "[[]"))
    return False


def form_names(arch):
    """Names of the lead forms in a view's ``arch`` (their hidden ``cpa_form`` input),
    in order of appearance."""
    return [match.group(1) or match.group(2) for match in CPA_FORM_INPUT.finditer(arch or "")]
