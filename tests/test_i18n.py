# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import ast
import importlib.util
import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib
from lxml import etree

from odoo.exceptions import ValidationError
from odoo.tests import BaseCase, TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

MODULE = "crm_pipeline_automation"
ADDON = Path(__file__).resolve().parent.parent
I18N = ADDON / "i18n"
# .po file -> the Odoo language that loads it
LANGUAGES = {"es": "es_ES", "pt_BR": "pt_BR"}
# Same rule as tools/po_files.py: printf, format fields, {{ expressions }}, tag names.
PLACEHOLDER = re.compile(
    r"%%"
    r"|%\([^)]+\)[#0 +\-]*\d*(?:\.\d+)?[a-zA-Z]"
    r"|%[#0 +\-]*\d*(?:\.\d+)?[sdifrxXeEgGc]"
    r"|\{\{.*?\}\}"
    r"|\{[A-Za-z_][\w.]*\}"
    r"|</?[A-Za-z][\w.-]*"
)
# Python folders whose translatable strings must be in the template.
PYTHON_DIRS = ("models", "controllers", "wizard", "engine")
JS_TRANSLATION = re.compile(r"""\b_t\(\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*[,)]""")
HOW_TO_FIX = (
    "\nRun `make pot` (regenerates the .pot and merges it into the .po files), then "
    "`make po-missing` lists what is left to translate."
)


def _demo_xmlids():
    """External ids of the demo records (the template is exported without demo data)."""
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text(encoding="utf-8"))
    xmlids = set()
    for path in manifest.get("demo", []):
        if path.endswith(".xml"):
            for node in etree.parse(str(ADDON / path)).iter(tag=etree.Element):
                xmlid = node.get("id")
                if xmlid:
                    xmlids.add(xmlid if "." in xmlid else f"{MODULE}.{xmlid}")
        elif path.endswith(".csv"):
            lines = (ADDON / path).read_text(encoding="utf-8").splitlines()[1:]
            xmlids.update(
                f"{MODULE}.{line.split(',')[0]}"
                for line in lines
                if line and "." not in line.split(",")[0]
            )
    return xmlids


def _describe(entry):
    where = ", ".join(path for path, _line in entry.occurrences[:2])
    return f"  {entry.msgid!r}" + (f"  [{where}]" if where else "")


@tagged("post_install", "-at_install")
class TestI18n(TransactionCase):
    """es.po and pt_BR.po translate the whole template, and Odoo shows them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pot = polib.pofile(str(I18N / f"{MODULE}.pot"))
        cls.pot_msgids = {entry.msgid for entry in cls.pot if not entry.obsolete}
        cls.po = {lang: polib.pofile(str(I18N / f"{lang}.po")) for lang in LANGUAGES}

    def _assert_none(self, entries, title):
        if entries:
            self.fail(
                f"{title} ({len(entries)}):\n" + "\n".join(map(_describe, entries)) + HOW_TO_FIX
            )

    # -- the files --------------------------------------------------------------------

    def test_po_headers(self):
        for lang, po in self.po.items():
            with self.subTest(lang=lang):
                self.assertEqual(po.metadata.get("Language"), lang)
                self.assertIn("nplurals=", po.metadata.get("Plural-Forms", ""))
                self.assertIn("charset=UTF-8", po.metadata.get("Content-Type", ""))
                self.assertIn(f"* {MODULE}", po.header)

    def test_every_template_entry_is_translated(self):
        for lang, po in self.po.items():
            with self.subTest(lang=lang):
                translated = {e.msgid: e for e in po if not e.obsolete}
                self._assert_none(
                    [e for e in self.pot if e.msgid not in translated],
                    f"{lang}.po lacks entries of the .pot",
                )
                untranslated = []
                for source in self.pot:
                    entry = translated.get(source.msgid)
                    if entry is None:
                        continue
                    if source.msgid_plural:
                        nplurals = int(re.search(r"nplurals=(\d+)", po.metadata["Plural-Forms"])[1])
                        forms = entry.msgstr_plural
                        filled = len(forms) == nplurals and all(forms.values())
                    else:
                        filled = bool(entry.msgstr.strip())
                    if not filled:
                        untranslated.append(source)
                self._assert_none(untranslated, f"{lang}.po has untranslated entries")

    def test_nothing_fuzzy(self):
        for lang, po in self.po.items():
            with self.subTest(lang=lang):
                self._assert_none(po.fuzzy_entries(), f"{lang}.po has fuzzy entries")

    def test_nothing_outside_the_template(self):
        for lang, po in self.po.items():
            with self.subTest(lang=lang):
                self._assert_none(
                    [e for e in po if e.obsolete or e.msgid not in self.pot_msgids],
                    f"{lang}.po has entries that are not in the .pot (removed from the code)",
                )

    def test_placeholders_and_markup_are_kept(self):
        for lang, po in self.po.items():
            with self.subTest(lang=lang):
                broken = []
                for entry in po:
                    texts = (
                        [
                            (entry.msgid if int(i) == 0 else entry.msgid_plural, text)
                            for i, text in entry.msgstr_plural.items()
                        ]
                        if entry.msgid_plural
                        else [(entry.msgid, entry.msgstr)]
                    )
                    for source, text in texts:
                        if text and sorted(PLACEHOLDER.findall(source)) != sorted(
                            PLACEHOLDER.findall(text)
                        ):
                            broken.append(entry)
                            break
                self._assert_none(
                    broken,
                    f"{lang}.po: translations whose placeholders (%s, %(x)s, {{x}}) or HTML "
                    "tags differ from the source",
                )

    # -- the template is up to date with the code ---------------------------------------

    def _missing_from_pot(self, strings):
        # Odoo's exporter skips terms of at most one letter or digit
        return sorted(
            {
                f"  {text!r}  [{where}]"
                for text, where in strings
                if text not in self.pot_msgids and len(re.sub(r"\W+", "", text.strip())) > 1
            }
        )

    def test_pot_has_python_strings(self):
        strings = []
        for folder in PYTHON_DIRS:
            for path in sorted((ADDON / folder).rglob("*.py")):
                tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
                for node in ast.walk(tree):
                    if not (isinstance(node, ast.Call) and node.args):
                        continue
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else None
                    is_env_ = isinstance(func, ast.Attribute) and func.attr == "_"
                    arg = node.args[0]
                    if (name in ("_", "_lt") or is_env_) and (
                        isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                    ):
                        strings.append((arg.value, f"{path.relative_to(ADDON)}:{node.lineno}"))
        self.assertTrue(strings, "no _() call found: the scan is broken")
        missing = self._missing_from_pot(strings)
        if missing:
            self.fail("Python strings missing from the .pot:\n" + "\n".join(missing) + HOW_TO_FIX)

    def test_pot_has_javascript_strings(self):
        strings = []
        for path in sorted((ADDON / "static" / "src").rglob("*.js")):
            source = path.read_text(encoding="utf-8")
            for match in JS_TRANSLATION.finditer(source):
                text = ast.literal_eval(match.group(1))
                lineno = source.count("\n", 0, match.start()) + 1
                strings.append((text, f"{path.relative_to(ADDON)}:{lineno}"))
        missing = self._missing_from_pot(strings)
        if missing:
            self.fail(
                "JavaScript _t() strings missing from the .pot:\n" + "\n".join(missing) + HOW_TO_FIX
            )

    def test_pot_has_every_term_odoo_exports(self):
        """What `make pot` would write today (Odoo's own reader: records of the module and
        code), demo data aside as the template is made without it."""
        demo = _demo_xmlids()
        strings = [
            (source, f"{name} {res_id}" if ttype != "code" else name)
            for _module, ttype, name, res_id, source, _value, _comments in (
                TranslationModuleReader(self.env.cr, modules=[MODULE])
            )
            if not (res_id in demo or str(res_id).partition("_ir_actions_server")[0] in demo)
        ]
        self.assertTrue(strings)
        missing = self._missing_from_pot(strings)
        if missing:
            self.fail("Terms missing from the .pot:\n" + "\n".join(missing) + HOW_TO_FIX)

    # -- Odoo shows the translations -----------------------------------------------------

    def _load(self, code):
        lang = self.env["res.lang"]._activate_lang(code)
        self.assertTrue(lang, f"language {code} is not in Odoo")
        self.env["ir.module.module"]._load_module_terms([MODULE], [code], overwrite=True)
        # the loaded terms are rolled back with the test; the caches must forget them too
        self.addCleanup(self.registry.clear_cache)

    def _assert_interface(self, code, expected):
        self._load(code)
        trigger = self.env["crm.stage.trigger"].with_context(lang=code)
        self.assertEqual(
            trigger.fields_get(["stage_id"])["stage_id"]["string"], expected["trigger_stage"]
        )
        field = trigger.fields_get(["event_type"])["event_type"]
        self.assertIn(("email_open", expected["email_open"]), field["selection"])
        rule = self.env["crm.automation.rule"].with_context(lang=code)
        field = rule.fields_get(["action_type"])["action_type"]
        self.assertEqual(field["string"], expected["action_type"])
        self.assertIn(("copy_lead", expected["copy_lead"]), field["selection"])
        self.assertEqual(
            self.env["ir.model"].with_context(lang=code)._get("crm.automation.rule").name,
            expected["rule_model"],
        )
        view = self.env.ref(f"{MODULE}.crm_stage_trigger_view_form").with_context(lang=code)
        self.assertIn(expected["view_term"], view.arch_db)
        # a message raised by Python code
        with self.assertRaisesRegex(ValidationError, re.escape(expected["error"])):
            self.env["crm.activity.template"].with_context(lang=code).create(
                {"name": "Reminder test", "reminder_count": -1}
            )
        # English stays English
        self.assertEqual(
            self.env["crm.stage.trigger"]
            .with_context(lang="en_US")
            .fields_get(["stage_id"])["stage_id"]["string"],
            "Move to stage",
        )

    def test_activity_notice_in_the_assignee_language(self):
        # Several activities planned together: one notice, in the assignee's language.
        self._load("es_ES")
        user = self.env["res.users"].create(
            {
                "name": "Ana",
                "login": "ana-i18n",
                "email": "ana@example.com",
                "lang": "es_ES",
                "groups_id": [(6, 0, self.env.ref("sales_team.group_sale_salesman").ids)],
            }
        )
        leads = self.env["crm.lead"].create([{"name": "Uno"}, {"name": "Dos"}])
        self.env["mail.activity"]._cpa_create_notified(
            [
                {
                    "res_model_id": self.env["ir.model"]._get_id("crm.lead"),
                    "res_id": lead.id,
                    "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id,
                    "summary": f"Llamar {lead.name}",
                    "user_id": user.id,
                }
                for lead in leads
            ],
            origin="Seguimiento",
        )
        notice = self.env["mail.message"].search(
            [("model", "=", False), ("partner_ids", "in", user.partner_id.ids)]
        )
        self.assertEqual(notice.subject, "2 actividades asignadas a usted")
        self.assertIn("Estimado/a", notice.body)
        self.assertIn('La regla de automatización "<span>Seguimiento</span>"', notice.body)
        self.assertIn("Llamar Uno", notice.body)

    def test_spanish_interface(self):
        self._assert_interface(
            "es_ES",
            {
                "trigger_stage": "Mover a la etapa",
                "email_open": "Correo electrónico abierto",
                "action_type": "Tipo de acción",
                "copy_lead": "Copiar el lead a otro flujo",
                "rule_model": "Regla de automatización del CRM",
                "view_term": "Entonces",
                "error": "El recordatorio es un tiempo antes de la fecha límite",
            },
        )

    def test_brazilian_portuguese_interface(self):
        self._assert_interface(
            "pt_BR",
            {
                "trigger_stage": "Mover para o estágio",
                "email_open": "E-mail aberto",
                "action_type": "Tipo de ação",
                "copy_lead": "Copiar o lead para outro funil",
                "rule_model": "Regra de automação do CRM",
                "view_term": "Então",
                "error": "O lembrete é um tempo antes do prazo",
            },
        )


def _po_files():
    """tools/po_files.py, the module behind `make pot` and `make po-missing`."""
    spec = importlib.util.spec_from_file_location("po_files", ADDON / "tools" / "po_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestPoFiles(BaseCase):
    """`make pot` merges the template into the languages; `make po-missing` lists the rest."""

    def setUp(self):
        super().setUp()
        self.po_files = _po_files()
        self.folder = Path(tempfile.mkdtemp(prefix="cpa-i18n-"))
        self.addCleanup(shutil.rmtree, self.folder)
        for name in (f"{MODULE}.pot", *(f"{lang}.po" for lang in LANGUAGES)):
            shutil.copy(I18N / name, self.folder / name)

    def _report(self):
        out = io.StringIO()
        todo = self.po_files.report(self.folder, out=out)
        return todo, out.getvalue()

    def test_po_missing_of_the_addon_is_empty(self):
        out = subprocess.run(
            [sys.executable, str(ADDON / "tools" / "cpa.py"), "po-missing"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        for lang in LANGUAGES:
            self.assertIn(
                f"{lang}: all {len(polib.pofile(str(I18N / f'{MODULE}.pot')))}", out.stdout
            )

    def test_merge_keeps_translations_adds_and_drops_entries(self):
        pot_path = self.folder / f"{MODULE}.pot"
        pot = polib.pofile(str(pot_path))
        pot.remove(pot.find("Ledger"))
        pot.append(
            polib.POEntry(
                msgid="Moved to %(stage)s by magic",
                occurrences=[(f"code:addons/{MODULE}/models/crm_lead.py", "0")],
            )
        )
        pot.save(str(pot_path))
        pt_path = self.folder / "pt_BR.po"
        pt = polib.pofile(str(pt_path))
        pt.find("Jobs").flags.append("fuzzy")
        pt.find("Cancelled by %(user)s.").msgstr = "Cancelado por %(usuario)s."
        pt.save(str(pt_path))

        self.po_files.merge(self.folder, out=io.StringIO())

        for lang in LANGUAGES:
            po = polib.pofile(str(self.folder / f"{lang}.po"))
            self.assertEqual([e.msgid for e in po], [e.msgid for e in pot], "the template's order")
            self.assertIsNone(po.find("Ledger"))
            self.assertEqual(po.find("Moved to %(stage)s by magic").msgstr, "")
            self.assertEqual(po.metadata["Language"], lang)
        es = polib.pofile(str(self.folder / "es.po"))
        self.assertEqual(es.find("Jobs").msgstr, "Tareas")
        self.assertIn("fuzzy", polib.pofile(str(pt_path)).find("Jobs").flags)

        todo, out = self._report()
        self.assertEqual(todo, 4, out)  # es: 1 new; pt_BR: 1 new, 1 fuzzy, 1 placeholder
        self.assertIn("untranslated 'Moved to %(stage)s by magic'", out)
        self.assertIn(f"code:addons/{MODULE}/models/crm_lead.py:0", out)
        self.assertIn("fuzzy        'Jobs'", out)
        self.assertIn("placeholders 'Cancelled by %(user)s.'", out)

    def test_report_names_entries_the_po_lacks(self):
        pot_path = self.folder / f"{MODULE}.pot"
        pot = polib.pofile(str(pot_path))
        pot.append(polib.POEntry(msgid="Brand new"))
        pot.save(str(pot_path))
        todo, out = self._report()
        self.assertEqual(todo, 2, out)
        self.assertIn("missing      'Brand new'", out)
        self.assertIn("run `make pot`", out)

    def test_parse_matches_polib(self):
        for name in (f"{MODULE}.pot", "es.po", "pt_BR.po"):
            ours = self.po_files.parse(I18N / name)
            theirs = [e for e in polib.pofile(str(I18N / name)) if e.msgid]
            self.assertEqual(
                [(e.msgid, e.msgstr.get(0, "")) for e in ours],
                [(e.msgid, e.msgstr) for e in theirs],
            )
