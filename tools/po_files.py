#!/usr/bin/env python3
"""The addon's translation files: merge the template into each language, list what is left.

`make pot` runs `merge` with the project's Python after exporting i18n/*.pot;
`make po-missing` lists what translators still have to do. Standard library only at
import time (tools/cpa.py imports this module before any virtual environment exists);
only `merge` needs polib, which Odoo's virtual environment provides.
"""

import argparse
import ast
import re
import sys
from pathlib import Path

MODULE = "crm_pipeline_automation"
I18N = Path(__file__).resolve().parent.parent / "i18n"
# Languages the addon ships, with Odoo's own Language-Team and Plural-Forms for them
# (copied from addons/crm/i18n/<lang>.po).
LANGUAGES = {
    "es": (
        "Spanish",
        "nplurals=3; plural=n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2;",
    ),
    "pt_BR": (
        "Portuguese (Brazil)",
        "nplurals=3; plural=(n == 0 || n == 1) ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2;",
    ),
}
# What a translation must keep from its source: printf (%s, %(name)s, %(delta)+d),
# format fields ({name}), QWeb/Jinja expressions ({{ ... }}) and HTML tag names.
PLACEHOLDER = re.compile(
    r"%%"
    r"|%\([^)]+\)[#0 +\-]*\d*(?:\.\d+)?[a-zA-Z]"
    r"|%[#0 +\-]*\d*(?:\.\d+)?[sdifrxXeEgGc]"
    r"|\{\{.*?\}\}"
    r"|\{[A-Za-z_][\w.]*\}"
    r"|</?[A-Za-z][\w.-]*"
)


def placeholders(text):
    """Sorted placeholders and tag names of a message, to compare source and translation."""
    return sorted(PLACEHOLDER.findall(text))


class Entry:
    """One message of a .po/.pot file (only what checking and listing need)."""

    def __init__(self):
        self.msgctxt = None
        self.msgid = ""
        self.msgid_plural = None
        self.msgstr = {}  # index -> text; "msgstr" alone is index 0
        self.flags = set()
        self.references = []
        self.obsolete = False

    @property
    def key(self):
        return (self.msgctxt, self.msgid)

    @property
    def translated(self):
        return bool(self.msgstr) and all(self.msgstr.values())


def _unquote(token, path, lineno):
    try:
        value = ast.literal_eval(token)
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"{path}:{lineno}: not a quoted string: {token}") from exc
    if not isinstance(value, str):
        raise ValueError(f"{path}:{lineno}: not a quoted string: {token}")
    return value


def parse(path):
    """Entries of a .po or .pot file, header excluded; raises ValueError on a bad line."""
    path = Path(path)
    entries, entry, field = [], Entry(), None

    def flush():
        nonlocal entry, field
        if field is not None:
            entries.append(entry)
        entry, field = Entry(), None

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            flush()
            continue
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if line.startswith("|"):  # previous msgid of an obsolete entry
                continue
        elif line.startswith("#"):
            if field is not None and field != "comment":
                flush()
            field = field or "comment"
            if line.startswith("#,"):
                entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            elif line.startswith("#:"):
                entry.references.extend(line[2:].split())
            continue
        entry.obsolete = entry.obsolete or obsolete
        keyword, _sep, rest = line.partition(" ")
        if line.startswith('"'):
            if field in (None, "comment"):
                raise ValueError(f"{path}:{lineno}: text outside a message")
            text = _unquote(line, path, lineno)
        elif keyword in ("msgctxt", "msgid", "msgid_plural") or keyword.startswith("msgstr"):
            if keyword in ("msgctxt", "msgid") and field not in (None, "comment", "msgctxt"):
                flush()
            field = keyword
            text = _unquote(rest.strip(), path, lineno)
        else:
            raise ValueError(f"{path}:{lineno}: unexpected line: {raw}")
        if field == "msgctxt":
            entry.msgctxt = (entry.msgctxt or "") + text
        elif field == "msgid":
            entry.msgid += text
        elif field == "msgid_plural":
            entry.msgid_plural = (entry.msgid_plural or "") + text
        else:
            match = re.fullmatch(r"msgstr(?:\[(\d+)\])?", field)
            if not match:
                raise ValueError(f"{path}:{lineno}: unexpected keyword {field}")
            index = int(match.group(1) or 0)
            entry.msgstr[index] = entry.msgstr.get(index, "") + text
    flush()
    return [e for e in entries if e.msgid or e.msgctxt]


def problems(pot_path, po_path):
    """What is left to do in one language: a list of (kind, entry), in the template's order.

    Kinds: ``missing`` (in the .pot, not in the .po: run `make pot`), ``untranslated``,
    ``fuzzy``, ``placeholders`` (the translation lost or added a placeholder or tag),
    ``obsolete`` (in the .po, no longer in the .pot).
    """
    template = [e for e in parse(pot_path) if not e.obsolete]
    po_path = Path(po_path)
    translations = {e.key: e for e in parse(po_path) if not e.obsolete} if po_path.exists() else {}
    found = []
    for source in template:
        entry = translations.pop(source.key, None)
        if entry is None:
            found.append(("missing", source))
        elif not entry.translated:
            found.append(("untranslated", source))
        elif "fuzzy" in entry.flags:
            found.append(("fuzzy", source))
        elif any(
            placeholders(text) != placeholders(source.msgid_plural if index else source.msgid)
            for index, text in entry.msgstr.items()
        ):
            found.append(("placeholders", source))
    found.extend(("obsolete", entry) for entry in translations.values())
    return found


def report(i18n_dir=I18N, out=sys.stdout):
    """Print what is left per language; return how many entries need work."""
    i18n_dir = Path(i18n_dir)
    pot = i18n_dir / f"{MODULE}.pot"
    total = len([e for e in parse(pot) if not e.obsolete])
    todo, missing = 0, False
    for lang in LANGUAGES:
        found = problems(pot, i18n_dir / f"{lang}.po")
        todo += len(found)
        missing = missing or any(kind == "missing" for kind, _entry in found)
        if not found:
            print(f"{lang}: all {total} entries translated.", file=out)
            continue
        print(f"{lang}: {len(found)} of {total} entries to do in i18n/{lang}.po", file=out)
        for kind, entry in found:
            print(f"  {kind:<12} {entry.msgid!r}", file=out)
            if entry.references:
                print(f"  {'':<12} {', '.join(entry.references[:3])}", file=out)
    if missing:
        print("'missing' entries: run `make pot` to add them to the .po files.", file=out)
    return todo


def merge(i18n_dir=I18N, out=sys.stdout):
    """Bring every language up to the template, keeping translations, in the template's order.

    New messages get an empty translation, removed ones are dropped (no obsolete ``#~``
    entries, as in Odoo's own files), a translation marked fuzzy stays fuzzy. The files
    are written by polib, like Odoo's exporter, so diffs stay small.
    """
    import polib

    i18n_dir = Path(i18n_dir)
    pot = polib.pofile(str(i18n_dir / f"{MODULE}.pot"))
    for lang, (team, plural_forms) in LANGUAGES.items():
        path = i18n_dir / f"{lang}.po"
        old = polib.pofile(str(path)) if path.exists() else polib.POFile()
        previous = {e.msgid_with_context: e for e in old if not e.obsolete}
        nplurals = int(re.search(r"nplurals=(\d+)", plural_forms).group(1))
        po = polib.POFile(wrapwidth=78)
        po.header = pot.header
        po.metadata = {
            **pot.metadata,
            # when and by whom the translations were last revised stays the .po's own
            **{
                k: v
                for k, v in old.metadata.items()
                if k in ("PO-Revision-Date", "Last-Translator")
            },
            "Language-Team": team,
            "Language": lang,
            "Plural-Forms": plural_forms,
        }
        for source in pot:
            if source.obsolete:
                continue
            before = previous.pop(source.msgid_with_context, None)
            entry = polib.POEntry(
                msgctxt=source.msgctxt,
                msgid=source.msgid,
                msgid_plural=source.msgid_plural,
                occurrences=source.occurrences,
                comment=source.comment,
                tcomment=before.tcomment if before else source.tcomment,
                flags=[f for f in source.flags if f != "fuzzy"],
            )
            if before is not None and before.fuzzy:
                entry.flags.append("fuzzy")
            if source.msgid_plural:
                kept = before.msgstr_plural if before is not None else {}
                entry.msgstr_plural = {i: kept.get(i, "") for i in range(nplurals)}
            else:
                entry.msgstr = before.msgstr if before is not None else ""
            po.append(entry)
        po.save(str(path))
        todo = sum(
            1
            for e in po
            if e.fuzzy or not (all(e.msgstr_plural.values()) if e.msgid_plural else e.msgstr)
        )
        print(
            f"{lang}: {len(po)} entries, {todo} untranslated or fuzzy"
            f", {len(previous)} removed (i18n/{lang}.po)",
            file=out,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("merge", "missing"))
    parser.add_argument("--dir", default=str(I18N), help="the i18n folder (default: the addon's)")
    args = parser.parse_args(argv)
    if args.command == "merge":
        merge(args.dir)
        return 0
    return 1 if report(args.dir) else 0


if __name__ == "__main__":
    sys.exit(main())
