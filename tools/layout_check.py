#!/usr/bin/env python3
"""The code is organised by model (a `make lint` hook).

Every class that defines or extends an Odoo model lives in a file named after that
model (``crm.automation.rule`` → ``models/crm_automation_rule.py``); a model that grew
past one screenful of concerns may continue in files named after it plus the concern
(``crm_automation_rule_message.py``: the rule's message actions). ``crm.lead`` is the
exception that proves the rule: ONE class, in ``models/crm_lead.py``, so its create and
write hooks run in one documented order (readme/DATA_MODEL.md, CONTRIBUTING.md).

This replaces pylint-odoo's ``consider-merging-classes-inherited`` (which asks for one
class per model in the whole addon and so forbids the concern files) with the rule the
project follows. Usage: ``python3 tools/layout_check.py`` (exit 1 and one line per
misplaced class).
"""

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("models", "wizard")
# Models extended by exactly one class, in exactly this file.
SINGLE = {"crm.lead": "models/crm_lead.py"}


def model_of(node):
    """The model a class body defines or extends (``_name``, else the first
    ``_inherit``), or None for a class that is not an Odoo model."""
    attrs = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name) and target.id in ("_name", "_inherit"):
                try:
                    attrs[target.id] = ast.literal_eval(stmt.value)
                except ValueError:
                    continue
    model = attrs.get("_name") or attrs.get("_inherit")
    if isinstance(model, list | tuple):
        model = model[0] if model else None
    return model if isinstance(model, str) else None


def problems():
    found, seen = [], {}
    for folder in FOLDERS:
        for path in sorted((REPO / folder).glob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if not isinstance(node, ast.ClassDef):
                    continue
                model = model_of(node)
                if not model:
                    continue
                seen.setdefault(model, []).append(rel)
                stem = model.replace(".", "_")
                if path.stem != stem and not path.stem.startswith(stem + "_"):
                    found.append(
                        f"{rel}:{node.lineno}: class {node.name} ({model}) belongs in "
                        f"{folder}/{stem}.py or {folder}/{stem}_<concern>.py"
                    )
    for model, where in SINGLE.items():
        files = seen.get(model, [])
        if files and files != [where]:
            found.append(f"{model} is extended in {', '.join(files)}: only in {where}")
    return found


def main():
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
