# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Document triggers: a record linked to the lead (a quotation, an order, an invoice)
reaches a state. The presets of the usual cases, the path from a document to its
leads, and the domains of the ``base.automation`` that watches the documents.

Nothing here imports ``sale`` or ``account``: the models are looked up by name in the
registry, a preset is offered only when its model and path exist.
"""

from odoo.osv import expression

# key: (label, model, condition on the document, path from the document to crm.lead)
PRESETS = {
    "quotation_sent": (
        "Quotation sent",
        "sale.order",
        [("state", "=", "sent")],
        "opportunity_id",
    ),
    "sale_confirmed": (
        "Sales order confirmed",
        "sale.order",
        [("state", "=", "sale")],
        "opportunity_id",
    ),
    "invoice_paid": (
        "Customer invoice paid",
        "account.move",
        [("move_type", "=", "out_invoice"), ("payment_state", "in", ["paid", "in_payment"])],
        "invoice_line_ids.sale_line_ids.order_id.opportunity_id",
    ),
}


def path_error(env, model, path):
    """Why ``path`` (field names joined by dots) does not lead from ``model`` to
    crm.lead records, or None when it does."""
    if model not in env:
        return f"no model {model}"
    if not path or not path.strip():
        return "no path"
    current = env[model]
    for name in path.strip().split("."):
        field = current._fields.get(name)
        if field is None:
            return f"{current._name} has no field {name}"
        if not field.relational:
            return f"{current._name}.{name} is not a relation"
        current = env[field.comodel_name]
    if current._name != "crm.lead":
        return f"the path ends on {current._name}, not on crm.lead"
    return None


def available_presets(env):
    """Keys of the presets whose model and path exist in this database."""
    return [
        key
        for key, (_label, model, _domain, path) in PRESETS.items()
        if path_error(env, model, path) is None
    ]


def preset_values(key):
    """Trigger values of the preset ``key``: the document kind, its model, condition
    (as text) and path to the leads."""
    _label, model, domain, path = PRESETS[key]
    return {
        "event_type": "document",
        "document_model": model,
        "document_domain": repr(domain),
        "document_lead_path": path,
    }


def fill_preset(vals, key):
    """``vals`` of a trigger with the values of the preset ``key`` where it gives none
    (values given explicitly, not empty, win); ``vals`` itself when it names the model."""
    if vals.get("document_model"):
        return vals
    filled = dict(vals)
    for name, value in preset_values(key).items():
        if not filled.get(name):
            filled[name] = value
    return filled


def leads_of(document, path):
    """crm.lead records reached from ``document`` through ``path`` (archived ones
    included: the trigger engine refuses lost leads with a ledger row)."""
    return document.with_context(active_test=False).mapped(path.strip())


def reached_domain(domain):
    """The ``base.automation`` pair: (before the write, after the write). A document
    fires once, when it starts matching ``domain``; with an empty condition, when it is
    created."""
    if not domain:
        return expression.FALSE_DOMAIN, expression.TRUE_DOMAIN
    return ["!", *expression.normalize_domain(domain)], domain


def state_description(document, domain):
    """The document's values of the selection fields of ``domain``'s top-level AND
    leaves, as a user reads them, e.g. "Payment Status: Paid"."""
    normalized = expression.normalize_domain(domain)
    if any(token in ("|", "!") for token in normalized):
        leaves = []
    else:
        leaves = [token for token in normalized if isinstance(token, list | tuple)]
    parts = []
    for leaf in leaves:
        field = document._fields.get(leaf[0])
        if field is None or field.type != "selection":
            continue
        labels = dict(field._description_selection(document.env))
        value = document[field.name]
        parts.append(
            f"{field._description_string(document.env)}: {labels.get(value, value or '-')}"
        )
    return ", ".join(parts)
