#!/usr/bin/env python3
"""pylint-odoo on the addon, seen as an addon (the pre-commit hook of `make lint`).

The repository root is the addon itself, so pylint-odoo finds no ``__manifest__.py``
above the files it checks (it stops its search at the git top level, before looking in
it): the checks that need the module, e.g. ``consider-merging-classes-inherited``,
never ran. This script mirrors the repository in a temporary folder named after the
module (real folders, files as symlinks, outside any git repository), runs pylint there
on every Python file of the addon in one process (checks across files see all of
them), and prints the messages with repository paths.

Usage: ``python3 tools/pylint_addon.py [pylint options]`` (run from anywhere).
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

MODULE = "crm_pipeline_automation"
REPO = Path(__file__).resolve().parent.parent
# Not part of the addon's code (same as the hook's former `exclude`).
SKIPPED = {".git", "tools", "bench", "i18n", "node_modules", "__pycache__"}


def mirror(target):
    """Mirror REPO into ``target``: folders created, files symlinked; return the
    Python files of the addon, relative to REPO."""
    python_files = []
    for root, dirs, files in os.walk(REPO):
        rel = Path(root).relative_to(REPO)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            if name in SKIPPED:
                continue  # .git is a file in a git worktree
            (target / rel / name).symlink_to(Path(root) / name)
            if name.endswith(".py"):
                python_files.append(rel / name)
    return sorted(python_files)


def main(argv):
    with tempfile.TemporaryDirectory(prefix="pylint-addon-") as tmp:
        addon = Path(tmp) / MODULE
        files = mirror(addon)
        result = subprocess.run(
            [sys.executable, "-m", "pylint", f"--rcfile={REPO / '.pylintrc-mandatory'}", *argv]
            + [str(addon / path) for path in files],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        # Messages name the mirrored paths: print them as repository paths. pylint-odoo
        # asks git for the top level of each folder: outside a repository, git says so.
        sys.stdout.write(
            re.sub(rf"(?<![\w/-]){MODULE}/", "", result.stdout.replace(f"{addon}/", ""))
        )
        sys.stderr.writelines(
            line
            for line in result.stderr.splitlines(keepends=True)
            if not line.startswith("fatal: not a git repository")
        )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
