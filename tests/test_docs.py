# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import importlib.util
import re
from pathlib import Path

from odoo.tests import BaseCase, tagged

ADDON = Path(__file__).resolve().parent.parent
DOCS = [
    ADDON / "README.md",
    ADDON / "CONTRIBUTING.md",
    ADDON / "bench" / "README.md",
    *sorted((ADDON / "readme").glob("*.md")),
    *sorted((ADDON / "readme" / "pending").glob("*.md")),
]


def _doc_check():
    spec = importlib.util.spec_from_file_location("doc_check", ADDON / "tools" / "doc_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestDocumentation(BaseCase):
    """The documentation keeps up with the code: every field, model, system parameter,
    route, make target and environment variable is named where people look for it
    (CONTRIBUTING.md, "Where documentation goes"); links and images resolve."""

    def test_everything_is_documented(self):
        gaps = _doc_check().missing()
        self.assertFalse(
            gaps, "\n".join(f"{kind} {term}: not named in {where}" for kind, term, where in gaps)
        )

    def test_the_check_finds_what_is_missing(self):
        doc_check = _doc_check()
        self.assertIn("crm.lead.event", doc_check.models_and_fields())
        self.assertIn("verdict_burst_min_links", doc_check.system_parameters())
        self.assertIn("/cpa/webhook/call/<source>", doc_check.routes())
        self.assertIn("make test-upgrade", doc_check.make_targets())
        self.assertIn("CPA_PG_HOST", doc_check.environment_variables())
        self.assertFalse(doc_check._named("see from_stage_id", "stage_id"))
        self.assertTrue(doc_check._named("`crm.lead.stage_id`", "stage_id"))

    def test_front_page_is_short_and_links_resolve(self):
        self.assertLess((ADDON / "README.md").stat().st_size, 15 * 1024)
        broken = []
        for path in DOCS:
            text = path.read_text(encoding="utf-8")
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"(https?:|mailto:|#)", target):
                    continue
                if not (path.parent / target.split("#")[0]).exists():
                    broken.append(f"{path.relative_to(ADDON)}: {target}")
        self.assertFalse(broken, "\n".join(broken))
