# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One JSON format for the automation of a pipeline: export, import and recipes.

The format is documented in readme/CONTRACTS.md ("Automation file format"). Records of the pipeline
(its stages, the activity templates of the file) are referenced by a key of the file;
other records by XML id when they have one, else by name (users by login), so that a
file moves between databases.
"""

import json
import logging
import os

from odoo import _, api, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import file_open, file_path
from odoo.tools.safe_eval import safe_eval

from ..engine import exchange_format
from ..engine.exchange_format import (
    EXPORT_FIELDS,
    FORMAT,
    SECTIONS,
    VERSION,
    Placeholder,
    dedupe,
    domain_text,
    export_domain,
)

_logger = logging.getLogger(__name__)

RECIPE_DIR = "crm_pipeline_automation/data/recipes"


class CrmAutomationExchange(models.AbstractModel):
    _name = "crm.automation.exchange"
    _description = "CRM Automation Import / Export"

    # ------------------------------------------------------------------
    # Recipes
    # ------------------------------------------------------------------

    @api.model
    def _recipe_names(self):
        """File names (without .json) of the shipped recipes, sorted."""
        folder = file_path(RECIPE_DIR)
        return sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".json"))

    @api.model
    def _load_recipe(self, code):
        """Parsed JSON of the recipe ``code`` (a file name of data/recipes)."""
        if code not in self._recipe_names():
            raise UserError(_("Unknown recipe %(recipe)s.", recipe=code))
        with file_open(f"{RECIPE_DIR}/{code}.json", "rb") as handle:
            return self._parse(handle.read())

    @api.model
    def _recipe_selection(self):
        result = []
        for code in self._recipe_names():
            try:
                result.append((code, self._load_recipe(code).get("name") or code))
            except UserError:
                _logger.exception("Recipe %s is not a valid automation file", code)
        return result

    # ------------------------------------------------------------------
    # Export
    # ------------------------------------------------------------------

    @api.model
    def _pipeline_stages(self, team):
        return self.env["crm.stage"].search(
            ["|", ("team_id", "=", False), ("team_id", "=", team.id)]
        )

    @api.model
    def _export_pipeline(self, team):
        """The automation of ``team``'s pipeline as a JSON-serialisable dict.

        :param team: crm.team record
        :return: dict of the format documented in readme/CONTRACTS.md
        """
        team.ensure_one()
        stages = self._pipeline_stages(team)
        used = set()
        stage_keys = {stage.id: dedupe(stage.name, used) for stage in stages}
        position = {stage.id: index for index, stage in enumerate(stages)}
        without_active = {"active_test": False}
        triggers = (
            self.env["crm.stage.trigger"]
            .with_context(**without_active)
            .search([("stage_id", "in", stages.ids)])
            .sorted(lambda t: (position[t.stage_id.id], t.sequence, t.id))
        )
        rules = (
            self.env["crm.automation.rule"]
            .with_context(**without_active)
            .search([("stage_id", "in", stages.ids)])
            .sorted(lambda r: (position[r.stage_id.id], r.sequence, r.id))
        )
        templates = (
            self.env["crm.activity.template"].search([("team_ids", "in", team.ids)])
            | rules.activity_template_id
        ).sorted(lambda t: (t.sequence, t.name, t.id))
        used = set()
        template_keys = {template.id: dedupe(template.name, used) for template in templates}
        context = {"team": team, "stage_keys": stage_keys, "template_keys": template_keys}
        return {
            "format": FORMAT,
            "version": VERSION,
            "pipeline": team.name,
            "stages": [
                {
                    "key": stage_keys[stage.id],
                    "name": stage.name,
                    "sequence": stage.sequence,
                    "is_won": stage.is_won,
                    "fold": stage.fold,
                }
                for stage in stages
            ],
            "activity_templates": [
                dict(key=template_keys[t.id], **self._export_record(t, context)) for t in templates
            ],
            "triggers": [self._export_record(trigger, context) for trigger in triggers],
            "rules": [self._export_record(rule, context) for rule in rules],
        }

    @api.model
    def _export_json(self, team):
        """The export of ``team`` as UTF-8 JSON bytes (stable, human-readable)."""
        data = self._export_pipeline(team)
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()

    def _export_record(self, record, context):
        values = {}
        for name in EXPORT_FIELDS[record._name]:
            field = record._fields[name]
            value = record[name]
            if name == "filter_domain":
                values[name] = self._export_domain(value, context)
            elif field.type == "many2one":
                values[name] = self._export_ref(value, context) if value else None
            elif field.type == "many2many":
                values[name] = [self._export_ref(item, context) for item in value]
            elif field.type == "one2many":
                values[name] = [self._export_record(line, context) for line in value]
            elif field.type in ("char", "text", "html", "selection"):
                values[name] = value or None
            else:
                values[name] = value
        return values

    def _export_ref(self, record, context):
        """Reference of one related record (see the module docstring)."""
        model = record._name
        if model == "crm.stage" and record.id in context["stage_keys"]:
            return {"stage": context["stage_keys"][record.id]}
        if model == "crm.activity.template":
            return {"template": context["template_keys"][record.id]}
        if model == "crm.team" and record == context["team"]:
            return {"pipeline": True}
        if model == "ir.model.fields":
            return {"field": record.name}
        if model == "res.users":
            return {"login": record.sudo().login}
        ref = {}
        xmlid = record.sudo().get_external_id().get(record.id)
        if xmlid and not xmlid.startswith("__export__."):
            ref["xmlid"] = xmlid
        rec_name = record._rec_name
        name_field = record._fields.get(rec_name) if rec_name else None
        ref["name"] = (
            record[rec_name] if name_field and name_field.type == "char" else (record.display_name)
        )
        if model == "crm.stage":
            ref["pipeline"] = record.team_id.name or None
        return ref

    def _export_domain(self, text, context):
        """A condition as text, or as a list when stage ids had to become stage keys."""
        stages = self.env["crm.stage"]
        return export_domain(text, lambda i: self._export_ref(stages.browse(i), context))

    # ------------------------------------------------------------------
    # Parsing
    # ------------------------------------------------------------------

    @api.model
    def _parse(self, raw):
        """Decode and check the envelope of an automation file; UserError if invalid.

        :param raw: bytes or str of the file
        :return: dict
        """
        return exchange_format.parse(self.env, raw)

    # ------------------------------------------------------------------
    # Import: resolve everything first, then write
    # ------------------------------------------------------------------

    @api.model
    def _suggest_stages(self, stage_items, candidates):
        """Suggested stage of ``candidates`` for each stage of a file.

        First by name (the stage's name, its key, then its ``match`` names, case
        ignored); the others in order: a won stage to the first free won stage, an open
        one to the next free open stage after the previous stage's.

        :param stage_items: the file's ``stages``
        :param candidates: crm.stage recordset of the pipeline, in order
        :return: {stage key: crm.stage record, possibly empty}
        """
        result, taken = {}, self.env["crm.stage"]
        for item in stage_items:
            names = [item.get("name") or item["key"], item["key"], *(item.get("match") or [])]
            for name in names:
                lowered = str(name).strip().lower()
                found = (candidates - taken).filtered(
                    lambda s, n=lowered: s.name.strip().lower() == n
                )[:1]
                if found:
                    result[item["key"]] = found
                    taken |= found
                    break
        order = list(candidates)
        floor = -1
        for item in stage_items:
            stage = result.get(item["key"])
            if not stage:
                free = [
                    (index, s)
                    for index, s in enumerate(order)
                    if s not in taken and s.is_won == bool(item.get("is_won"))
                ]
                after = [pair for pair in free if pair[0] > floor]
                index, stage = (after or free or [(floor, candidates.browse())])[0]
                result[item["key"]] = stage
                taken |= stage
            if stage and stage in order:
                floor = order.index(stage)
        return result

    @api.model
    def _plan_import(self, data, team, stage_map, create_missing=False):
        """Check ``data`` against this database and return what importing it writes.

        Nothing is written. All problems are collected and raised together.

        :param data: parsed file (``_parse``)
        :param team: target crm.team
        :param stage_map: {stage key: crm.stage record or empty}
        :param create_missing: create the unmapped stages that are used
        :return: dict plan for ``_apply_import``
        """
        errors = []
        used_keys = self._used_stage_keys(data)
        new_stages = []
        for item in data["stages"]:
            key = item["key"]
            if key not in used_keys or stage_map.get(key):
                continue
            if create_missing:
                new_stages.append(item)
            else:
                errors.append(
                    _(
                        "Stage %(stage)s of the file is not mapped to a stage of the "
                        "pipeline (map it, or let the import create missing stages).",
                        stage=item.get("name") or key,
                    )
                )
        declared = {item["key"] for item in data["stages"]}
        for key in sorted(used_keys - declared):
            errors.append(_("Stage key %(key)s is used but not declared in stages.", key=key))
        context = {
            "team": team,
            "stage_map": {key: stage_map.get(key) for key in declared},
            "template_keys": {item["key"] for item in data["activity_templates"]},
            "errors": errors,
            "tags_to_create": [],
        }
        plan = {"team": team, "new_stages": new_stages, "stage_map": context["stage_map"]}
        for section, model in SECTIONS.items():
            plan[section] = []
            for index, item in enumerate(data[section]):
                context["label"] = self._item_label(section, item, index)
                vals = self._resolve_record(model, item, context)
                plan[section].append((context["label"], item, vals))
        plan["tags_to_create"] = sorted(set(context["tags_to_create"]))
        if errors:
            raise UserError(
                _("The automation cannot be imported; nothing was changed:")
                + "\n- "
                + "\n- ".join(errors)
            )
        return plan

    @api.model
    def _used_stage_keys(self, data):
        return exchange_format.used_stage_keys(data)

    @api.model
    def _item_label(self, section, item, index):
        kind = {
            "activity_templates": _("Activity template"),
            "triggers": _("Trigger"),
            "rules": _("Rule"),
        }[section]
        return f"{kind} “{item.get('name') or index + 1}”"

    def _resolve_record(self, model, item, context):
        """ORM values of one item of the file; problems go to ``context['errors']``."""
        Model = self.env[model]
        errors, label = context["errors"], context["label"]
        allowed = set(EXPORT_FIELDS[model])
        if model == "crm.activity.template":
            allowed.add("key")
        unknown = set(item) - allowed
        if unknown:
            errors.append(
                _(
                    "%(item)s: unknown fields %(fields)s.",
                    item=label,
                    fields=", ".join(sorted(unknown)),
                )
            )
        if model != "crm.automation.rule.update" and not item.get("name"):
            errors.append(_("%(item)s: a name is required.", item=label))
        vals = {}
        for name in EXPORT_FIELDS[model]:
            if name not in item:
                continue
            try:
                vals[name] = self._resolve_value(Model._fields[name], item[name], context)
            except ValueError as exc:
                errors.append(
                    _("%(item)s, %(field)s: %(error)s", item=label, field=name, error=exc)
                )
        domain = vals.get("filter_domain")
        if domain:
            # Stages the import creates do not exist yet: check the condition with id 0.
            text = (
                domain
                if isinstance(domain, str)
                else domain_text(domain, lambda v: 0 if isinstance(v, Placeholder) else v)
            )
            try:
                evaluated = safe_eval(text, {"uid": self.env.uid, "user": self.env.user})
                self.env["crm.lead"].search_count(evaluated, limit=1)
            except Exception as exc:
                errors.append(_("%(item)s: invalid condition: %(error)s", item=label, error=exc))
        return vals

    def _resolve_value(self, field, value, context):
        """ORM value of ``field`` from its file value; ValueError with a clear text.

        References to records the import creates are ``Placeholder`` objects, replaced
        by ids in ``_fill``; a condition with stage keys stays a list of leaves until then.
        """
        if field.name == "filter_domain":
            if value is None:
                return "[]"
            if isinstance(value, str):
                return value
            if not isinstance(value, list):
                raise ValueError(_("expected a domain"))
            return [self._resolve_domain_leaf(leaf, context) for leaf in value]
        ftype = field.type
        if ftype == "many2one":
            if value is None:
                return False
            return self._resolve_ref(field.comodel_name, value, context)
        if ftype == "many2many":
            if not isinstance(value, list):
                raise ValueError(_("expected a list of references"))
            return [(6, 0, [self._resolve_ref(field.comodel_name, ref, context) for ref in value])]
        if ftype == "one2many":
            if not isinstance(value, list) or not all(isinstance(line, dict) for line in value):
                raise ValueError(_("expected a list of lines"))
            lines = [
                (0, 0, self._resolve_record(field.comodel_name, line, context)) for line in value
            ]
            return [(5, 0, 0)] + lines
        if ftype == "boolean":
            if not isinstance(value, bool):
                raise ValueError(_("expected true or false"))
            return value
        if ftype == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(_("expected a whole number"))
            return value
        if ftype == "float":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(_("expected a number"))
            return value
        if ftype == "selection":
            if value is None:
                return False
            keys = [key for key, _label in field._description_selection(self.env)]
            if value not in keys:
                raise ValueError(
                    _("%(value)r is not one of %(keys)s", value=value, keys=", ".join(keys))
                )
            return value
        if ftype in ("char", "text", "html"):
            if value is not None and not isinstance(value, str):
                raise ValueError(_("expected text"))
            return value or False
        raise ValueError(_("unsupported field type %(type)s", type=ftype))

    def _resolve_domain_leaf(self, leaf, context):
        if isinstance(leaf, list) and len(leaf) == 3 and isinstance(leaf[0], str):
            value = leaf[2]
            if isinstance(value, dict):
                value = self._resolve_ref("crm.stage", value, context)
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                value = [self._resolve_ref("crm.stage", v, context) for v in value]
            return (leaf[0], leaf[1], value)
        if isinstance(leaf, str):
            return leaf
        raise ValueError(_("invalid domain leaf %(leaf)r", leaf=leaf))

    def _resolve_ref(self, model, ref, context):
        """Id of the record of ``model`` named by ``ref`` (see the module docstring), or
        a ``Placeholder`` for a record the import creates; ValueError naming the
        reference when it is missing."""
        Model = self.env[model].with_context(active_test=False)
        if not isinstance(ref, dict):
            raise ValueError(_("invalid reference %(ref)r", ref=ref))
        if "stage" in ref and model == "crm.stage":
            if ref["stage"] not in context["stage_map"]:
                raise ValueError(_("unknown stage key %(key)s", key=ref["stage"]))
            stage = context["stage_map"][ref["stage"]]
            return stage.id if stage else Placeholder("stage", ref["stage"])
        if "template" in ref and model == "crm.activity.template":
            if ref["template"] not in context["template_keys"]:
                raise ValueError(
                    _("activity template %(key)s is not in the file", key=ref["template"])
                )
            return Placeholder("template", ref["template"])
        if ref.get("pipeline") is True and model == "crm.team":
            return context["team"].id
        if "field" in ref and model == "ir.model.fields":
            field = self.env["ir.model.fields"]._get("crm.lead", ref["field"])
            if not field:
                raise ValueError(_("the lead has no field %(field)s", field=ref["field"]))
            return field.id
        if "login" in ref and model == "res.users":
            user = Model.search([("login", "=", ref["login"])], limit=1)
            if not user:
                raise ValueError(_("user with login %(login)s not found", login=ref["login"]))
            return user.id
        xmlid, name = ref.get("xmlid"), ref.get("name")
        if xmlid:
            record = self.env.ref(xmlid, raise_if_not_found=False)
            if record and record._name == model:
                return record.id
        if name:
            domain = [(Model._rec_name or "name", "=", name)]
            if model == "crm.stage":
                pipeline = ref.get("pipeline")
                domain.append(
                    ("team_id.name", "=", pipeline) if pipeline else ("team_id", "=", False)
                )
            record = Model.search(domain, limit=1)
            if record:
                return record.id
            if model == "crm.tag":
                # A tag is only a name: create it rather than refuse the file.
                context["tags_to_create"].append(name)
                return Placeholder("tag", name)
        description = self.env["ir.model"]._get(model).name or model
        raise ValueError(
            _(
                "%(model)s %(ref)s not found in this database",
                model=description,
                ref=" / ".join(f"“{part}”" for part in (xmlid, name) if part) or str(ref),
            )
        )

    @api.model
    def _apply_import(self, plan, mode="add"):
        """Write a checked plan (``_plan_import``) in one savepoint.

        :param mode: ``add`` keeps the pipeline's triggers and rules; ``replace``
            archives the active ones of the mapped stages first
        :return: dict with the created records (``stages``, ``activity_templates``,
            ``triggers``, ``rules``, ``tags``) and the reused templates
        """
        team = plan["team"]
        result = {}
        try:
            with self.env.cr.savepoint():
                result = self._write_plan(plan, team, mode)
        except (UserError, ValidationError) as exc:
            raise UserError(
                _(
                    "The automation cannot be imported; nothing was changed: %(error)s",
                    error=exc.args[0] if exc.args else exc,
                )
            ) from exc
        return result

    def _write_plan(self, plan, team, mode):
        Stage = self.env["crm.stage"]
        stage_map = dict(plan["stage_map"])
        created_stages = Stage
        for item in plan["new_stages"]:
            stage = Stage.create(
                {
                    "name": item.get("name") or item["key"],
                    "sequence": item.get("sequence", 10),
                    "is_won": bool(item.get("is_won")),
                    "fold": bool(item.get("fold")),
                    "team_id": team.id,
                }
            )
            stage_map[item["key"]] = stage
            created_stages |= stage
        tags = self.env["crm.tag"]
        tag_ids = {}
        for name in plan["tags_to_create"]:
            tag = tags.create({"name": name})
            tag_ids[name] = tag.id
            tags |= tag
        placeholders = {"stage": {k: s.id for k, s in stage_map.items() if s}, "tag": tag_ids}
        if mode == "replace":
            targets = Stage.union(*[s for s in stage_map.values() if s])
            self.env["crm.stage.trigger"].search([("stage_id", "in", targets.ids)]).write(
                {"active": False}
            )
            self.env["crm.automation.rule"].search([("stage_id", "in", targets.ids)]).write(
                {"active": False}
            )
        # Activity templates: an identical one (same exported values for this
        # pipeline) is reused, so importing twice does not duplicate templates.
        Template = self.env["crm.activity.template"]
        created = {section: self.env[model] for section, model in SECTIONS.items()}
        reused = Template
        placeholders["template"] = {}
        for label, item, vals in plan["activity_templates"]:
            vals = self._fill(vals, placeholders)
            existing = self._find_identical_template(item, vals, team, stage_map)
            if existing:
                reused |= existing
                placeholders["template"][item["key"]] = existing.id
                continue
            template = self._create_item(Template, vals, label)
            created["activity_templates"] |= template
            placeholders["template"][item["key"]] = template.id
        for section in ("triggers", "rules"):
            Model = self.env[SECTIONS[section]]
            for label, _item, vals in plan[section]:
                created[section] |= self._create_item(Model, self._fill(vals, placeholders), label)
        return dict(created, stages=created_stages, tags=tags, reused_templates=reused)

    def _create_item(self, Model, vals, label):
        try:
            with self.env.cr.savepoint():
                return Model.create(vals)
        except (UserError, ValidationError) as exc:
            raise UserError(
                _("%(item)s: %(error)s", item=label, error=exc.args[0] if exc.args else exc)
            ) from exc

    def _fill(self, vals, placeholders):
        """Replace the placeholders of records created by the import with their ids."""

        def real(value):
            return placeholders[value.kind][value.key] if isinstance(value, Placeholder) else value

        result = {}
        for name, value in vals.items():
            if name == "filter_domain" and isinstance(value, list):
                value = domain_text(value, real)
            elif isinstance(value, Placeholder):
                value = real(value)
            elif isinstance(value, list):
                commands = []
                for command in value:
                    if command[0] == 6:
                        command = (6, 0, [real(item) for item in command[2]])
                    elif command[0] == 0:
                        command = (0, 0, self._fill(command[2], placeholders))
                    commands.append(command)
                value = commands
            result[name] = value
        return result

    def _find_identical_template(self, item, vals, team, stage_map):
        """An existing template whose export equals the file's item (key aside)."""
        Template = self.env["crm.activity.template"]
        candidates = Template.search([("name", "=", vals.get("name"))])
        if not candidates:
            return Template
        stage_keys = {stage.id: key for key, stage in stage_map.items() if stage}
        context = {"team": team, "stage_keys": stage_keys, "template_keys": {}}
        wanted = {name: value for name, value in item.items() if name != "key"}
        for candidate in candidates:
            exported = self._export_record(candidate, context)
            if all(exported.get(name) == value for name, value in wanted.items()):
                return candidate
        return Template
