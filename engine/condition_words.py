# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A condition (a domain) in words, as people read it: "Stage is Qualified", "Tags
contain VIP", "Expected Revenue is at least 1,000,000". Field labels and selection
values in the user's language, records by their display names; what cannot be read
(unknown field, expression that does not evaluate) stays as written, never an error.
"""

from odoo.exceptions import AccessError
from odoo.osv import expression
from odoo.tools import format_date, format_datetime, formatLang
from odoo.tools.safe_eval import safe_eval

# Leaves Odoo writes for "always" and "never".
TRUE_LEAF, FALSE_LEAF = tuple(expression.TRUE_LEAF), tuple(expression.FALSE_LEAF)
X2MANY = ("one2many", "many2many")


def describe(env, model_name, domain):
    """``domain`` (a list, or its text as stored in ``filter_domain``) on ``model_name``
    in words; "" for an empty condition.

    :param env: environment (language, rights for the names of records)
    """
    if isinstance(domain, str):
        text = domain.strip()
        if text in ("", "[]"):
            return ""
        try:
            domain = safe_eval(text, {"uid": env.uid, "user": env.user})
        except Exception:  # any text that does not evaluate is shown as written
            return text
    if not domain:
        return ""
    try:
        tree = _tree(list(expression.normalize_domain(domain)))
        return _words(env, env[model_name], tree)
    except (ValueError, TypeError, IndexError, KeyError):
        return str(domain)


def _tree(tokens):
    """Prefix domain -> nested ("and"|"or", [children]) / ("not", child) / leaf."""
    token = tokens.pop(0)
    if token in (expression.AND_OPERATOR, expression.OR_OPERATOR):
        kind = "and" if token == expression.AND_OPERATOR else "or"
        children = []
        for child in (_tree(tokens), _tree(tokens)):
            # a & (b & c) reads as one list: a and b and c
            children += child[1] if isinstance(child, tuple) and child[0] == kind else [child]
        return (kind, children)
    if token == expression.NOT_OPERATOR:
        return ("not", _tree(tokens))
    return list(token)


def _words(env, model, node, nested=False):
    if isinstance(node, list):
        return _leaf(env, model, node)
    kind, children = node
    if kind == "not":
        return env._("not (%(condition)s)", condition=_words(env, model, children))
    parts = [_words(env, model, child, nested=True) for child in children]
    text = (env._(" and ") if kind == "and" else env._(" or ")).join(parts)
    return f"({text})" if nested else text


def _leaf(env, model, leaf):
    path, operator, value = leaf
    if tuple(leaf) == TRUE_LEAF:
        return env._("always")
    if tuple(leaf) == FALSE_LEAF:
        return env._("never")
    labels, field = [], None
    for name in str(path).split("."):
        field = model._fields.get(name)
        if field is None:
            return str(tuple(leaf))
        labels.append(field._description_string(env))
        if field.relational:
            model = env[field.comodel_name]
    label = " › ".join(labels)
    operator = operator.lower()
    if operator in ("any", "not any"):
        sub = describe(env, field.comodel_name, value) or env._("anything")
        if operator == "any":
            return env._("%(field)s match (%(condition)s)", field=label, condition=sub)
        return env._("%(field)s match none of (%(condition)s)", field=label, condition=sub)
    if operator in ("=", "!=", "=?") and (value is False or value is None):
        if operator == "!=":
            return env._("%(field)s is set", field=label)
        return env._("%(field)s is not set", field=label)
    if field.type == "boolean" and operator in ("=", "!=") and isinstance(value, bool | int):
        if bool(value) == (operator == "="):
            return env._("%(field)s is set", field=label)
        return env._("%(field)s is not set", field=label)
    values = value if isinstance(value, list | tuple) else [value]
    shown = _values(env, field, values, operator)
    return _sentence(env, field, label, operator, shown, len(values))


def _values(env, field, values, operator):
    """The values of a leaf as people know them: names, labels, dates, numbers."""
    if field.relational and operator not in ("ilike", "not ilike", "like", "not like"):
        ids = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        names = _names(env, field.comodel_name, ids)
        return [names[v] if v in names else _unnamed(env, v) for v in values]
    if field.type == "selection":
        labels = dict(field._description_selection(env))
        return [labels.get(v, _quote(env, v)) for v in values]
    return [_scalar(env, field, v) for v in values]


def _names(env, model_name, ids):
    """{id: display name} of the records the user may read; others keep their id."""
    records = env[model_name].with_context(active_test=False).browse(ids).exists()
    try:
        return {record.id: record.display_name for record in records}
    except AccessError:
        return {}


def _unnamed(env, value):
    """A value without a name: a record id the user may not read (or deleted), a text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"#{value}"
    return _quote(env, value)


def _quote(env, value):
    if isinstance(value, str):
        return env._("“%(text)s”", text=value)
    return str(value)


def _scalar(env, field, value):
    if isinstance(value, bool) or value is None:
        return str(value)
    if field.type in ("integer", "float", "monetary") and isinstance(value, int | float):
        if float(value).is_integer():
            return formatLang(env, value, digits=0)
        return formatLang(env, value)
    if field.type == "date" and isinstance(value, str):
        try:
            return format_date(env, value)
        except ValueError:
            return value
    if field.type == "datetime" and isinstance(value, str):
        try:
            return format_datetime(env, value)
        except ValueError:
            return value
    return _quote(env, value)


def _sentence(env, field, label, operator, shown, count):
    """One leaf: the field, the operator in words, the values."""
    many = field.type in X2MANY
    joined = ", ".join(shown)
    dated = field.type in ("date", "datetime")
    if operator in ("=", "in", "=?"):
        if many:
            if count > 1:
                return env._("%(field)s contain one of %(values)s", field=label, values=joined)
            return env._("%(field)s contain %(values)s", field=label, values=joined)
        if count > 1:
            return env._("%(field)s is in %(values)s", field=label, values=joined)
        return env._("%(field)s is %(values)s", field=label, values=joined)
    if operator in ("!=", "not in"):
        if many:
            if count > 1:
                return env._("%(field)s contain none of %(values)s", field=label, values=joined)
            return env._("%(field)s do not contain %(values)s", field=label, values=joined)
        if count > 1:
            return env._("%(field)s is not in %(values)s", field=label, values=joined)
        return env._("%(field)s is not %(values)s", field=label, values=joined)
    if operator in ("ilike", "like"):
        if many:
            return env._("%(field)s contain %(values)s", field=label, values=joined)
        return env._("%(field)s contains %(values)s", field=label, values=joined)
    if operator in ("not ilike", "not like"):
        if many:
            return env._("%(field)s do not contain %(values)s", field=label, values=joined)
        return env._("%(field)s does not contain %(values)s", field=label, values=joined)
    if operator in ("=like", "=ilike"):
        return env._("%(field)s matches %(values)s", field=label, values=joined)
    if operator == ">":
        if dated:
            return env._("%(field)s is after %(values)s", field=label, values=joined)
        return env._("%(field)s is more than %(values)s", field=label, values=joined)
    if operator == ">=":
        if dated:
            return env._("%(field)s is on or after %(values)s", field=label, values=joined)
        return env._("%(field)s is at least %(values)s", field=label, values=joined)
    if operator == "<":
        if dated:
            return env._("%(field)s is before %(values)s", field=label, values=joined)
        return env._("%(field)s is less than %(values)s", field=label, values=joined)
    if operator == "<=":
        if dated:
            return env._("%(field)s is on or before %(values)s", field=label, values=joined)
        return env._("%(field)s is at most %(values)s", field=label, values=joined)
    if operator == "child_of":
        return env._("%(field)s is under %(values)s", field=label, values=joined)
    if operator == "parent_of":
        return env._("%(field)s is above %(values)s", field=label, values=joined)
    return f"{label} {operator} {joined}"
