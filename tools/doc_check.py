#!/usr/bin/env python3
# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Is everything integrators rely on documented? Read from the code (standard library
only, no Odoo needed): every field the addon declares, every model, system parameter,
public route, make target and environment variable of the tooling; each must be named
in the file of the documentation where people look for it.

    python3 tools/doc_check.py      # prints what is missing, exit status 1 if anything

Where each kind of documentation goes: CONTRIBUTING.md ("Where documentation goes").
"""

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# kind -> the documentation files that must name it (readme/pending/*.md count for
# every kind: documentation written by a branch, waiting to be folded in).
WHERE = {
    "field": ("readme/DATA_MODEL.md",),
    "model": ("readme/DATA_MODEL.md",),
    "system parameter": ("readme/CONFIGURE.md",),
    "route": ("readme/CONTRACTS.md",),
    "make target": ("CONTRIBUTING.md",),
    "environment variable": ("CONTRIBUTING.md",),
}


def _class_model(node):
    """The model a class defines or extends (``_name``, else a single ``_inherit``)."""
    values = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if (
                isinstance(target, ast.Name)
                and target.id in ("_name", "_inherit")
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                values[target.id] = stmt.value.value
    return values.get("_name") or values.get("_inherit")


def models_and_fields():
    """{model: [field names]} of the fields declared in models/ and wizard/."""
    found = {}
    for folder in ("models", "wizard"):
        for path in sorted((ROOT / folder).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if not isinstance(node, ast.ClassDef):
                    continue
                model = _class_model(node)
                if not model:
                    continue
                names = found.setdefault(model, [])
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], ast.Name)
                        and isinstance(stmt.value, ast.Call)
                        and isinstance(stmt.value.func, ast.Attribute)
                        and isinstance(stmt.value.func.value, ast.Name)
                        and stmt.value.func.value.id == "fields"
                    ):
                        names.append(stmt.targets[0].id)
    return found


def system_parameters():
    """Names (without the ``crm_pipeline_automation.`` prefix) declared in engine/params.py;
    the per-event-type scores and per-source call keys as their documented templates."""
    tree = ast.parse((ROOT / "engine" / "params.py").read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("INTEGERS", "STRINGS") and isinstance(node.value, ast.Dict):
                names += [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
            if node.targets[0].id == "CALL_SOURCE_KEYS":
                names += [f"call_source.<name>.{e.value}" for e in node.value.elts]
    return [*names, "score_<event_type>"]


def routes():
    """Public routes of controllers/, converters dropped (``/cpa/o/<token>``)."""
    found = []
    for path in sorted((ROOT / "controllers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "route"
                and node.args
            ):
                arg = node.args[0]
                values = arg.elts if isinstance(arg, ast.List) else [arg]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.append(re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", value.value))
    return found


def make_targets():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*)$", text, re.M)
    return [f"make {target}" for target in phony.group(1).split() if target != "help"]


def environment_variables():
    text = (ROOT / "tools" / "cpa.py").read_text(encoding="utf-8")
    return sorted(set(re.findall(r"\b(CPA_[A-Z_]+|ODOO_SRC|XDG_CACHE_HOME)\b", text)))


def _docs(names):
    pending = sorted((ROOT / "readme" / "pending").glob("*.md"))
    paths = [ROOT / name for name in names] + pending
    return "\n".join(path.read_text(encoding="utf-8") for path in paths if path.exists())


def _named(text, term):
    """``term`` appears as a whole word (``stage_id`` is not named by ``from_stage_id``)."""
    return re.search(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text) is not None


def missing():
    """[(kind, term, where)] of everything not named where it should be."""
    terms = []
    for model, names in models_and_fields().items():
        terms.append(("model", model))
        terms += [("field", f"{model}: {name}") for name in names]
    terms += [("system parameter", name) for name in system_parameters()]
    terms += [("route", route) for route in routes()]
    terms += [("make target", target) for target in make_targets()]
    terms += [("environment variable", name) for name in environment_variables()]
    texts = {kind: _docs(files) for kind, files in WHERE.items()}
    result = []
    for kind, term in terms:
        word = term.split(": ", 1)[-1] if kind == "field" else term
        if not _named(texts[kind], word):
            result.append((kind, term, ", ".join(WHERE[kind])))
    return result


def main():
    gaps = missing()
    for kind, term, where in gaps:
        print(f"{kind} {term} is not documented in {where}")
    print(f"{len(gaps)} undocumented" if gaps else "everything is documented")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
