#!/usr/bin/env python3
"""One class per model, in the file named after it (a `make lint` hook).

Every class that defines or extends an Odoo model lives in the file named after that
model (``crm.automation.rule`` → ``models/crm_automation_rule.py``), and it is the only
class of the addon for that model: a model is never continued in a second file
(``crm_automation_rule_message.py`` extending ``crm.automation.rule`` is an error), as
in Odoo's crm, OCA queue_job and automation_oca. A separate model whose name extends
another one's (``crm.automation.rule.update`` in ``crm_automation_rule_update.py``) is
its own model, in its own file. Plain logic goes to ``engine/`` instead of a second
file (STYLE.md, CONTRIBUTING.md "Code layout").

pylint-odoo's ``consider-merging-classes-inherited`` (``tools/pylint_addon.py``) checks
the "one class per model" half; this script adds the file names and explains where the
class belongs. Usage: ``python3 tools/layout_check.py`` (exit 1 and one line per
misplaced class).
"""

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("models", "wizard")


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


def model_classes():
    """[(file relative to REPO, line, class name, model)] of the addon's model classes."""
    found = []
    for folder in FOLDERS:
        for path in sorted((REPO / folder).glob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if isinstance(node, ast.ClassDef):
                    model = model_of(node)
                    if model:
                        found.append((rel, node.lineno, node.name, model))
    return found


def problems():
    found = []
    classes = model_classes()
    by_model = {}
    for rel, line, _name, model in classes:
        by_model.setdefault(model, []).append(f"{rel}:{line}")
    for rel, line, name, model in classes:
        folder, stem = rel.rsplit("/", 1)[0], Path(rel).stem
        own = model.replace(".", "_")
        if stem == own:
            continue
        if stem.startswith(own + "_"):
            found.append(
                f"{rel}:{line}: class {name} continues {model} in a second file: fold it "
                f"into {folder}/{own}.py (one class per model; plain logic in engine/)"
            )
        else:
            found.append(f"{rel}:{line}: class {name} ({model}) belongs in {folder}/{own}.py")
    for model, where in by_model.items():
        if len(where) > 1:
            found.append(
                f"{model} has {len(where)} classes ({', '.join(where)}): one class per model"
            )
    return found


def main():
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
