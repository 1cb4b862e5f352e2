# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import binascii

from markupsafe import Markup, escape

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError


class CrmAutomationImportWizard(models.TransientModel):
    """Apply a recipe or import an automation file into a pipeline, stages mapped."""

    _name = "crm.automation.import.wizard"
    _description = "Import CRM Automation"

    source = fields.Selection(
        [("recipe", "A recipe"), ("file", "A file")],
        required=True,
        default="recipe",
        help="Apply a ready-made recipe, or import a file exported from a pipeline.",
    )
    recipe = fields.Selection(selection="_selection_recipe", help="Ready-made automation to apply.")
    recipe_description = fields.Text(compute="_compute_recipe_description")
    file = fields.Binary(attachment=False, help="JSON file made by 'Export automation'.")
    file_name = fields.Char()
    team_id = fields.Many2one(
        "crm.team",
        "Pipeline",
        required=True,
        default=lambda self: self.env.context.get("active_model") == "crm.team"
        and self.env.context.get("active_id"),
        help="Sales team whose pipeline receives the automation.",
    )
    mode = fields.Selection(
        [("add", "Add to the existing automation"), ("replace", "Replace the existing automation")],
        required=True,
        default="add",
        help="Replace archives (does not delete) the active triggers and rules of the "
        "mapped stages before importing.",
    )
    create_missing_stages = fields.Boolean(
        help="Stages of the file left unmapped are created in the pipeline.",
    )
    line_ids = fields.One2many(
        "crm.automation.import.stage",
        "wizard_id",
        "Stages",
        compute="_compute_line_ids",
        store=True,
        readonly=False,
        help="Stage of the pipeline for each stage of the recipe or file.",
    )
    preview = fields.Html(compute="_compute_preview", sanitize=False)
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    # Archived ones too: a file may carry archived triggers and rules.
    rule_ids = fields.Many2many(
        "crm.automation.rule", string="Rules created", context={"active_test": False}
    )
    trigger_ids = fields.Many2many(
        "crm.stage.trigger", string="Triggers created", context={"active_test": False}
    )
    template_ids = fields.Many2many(
        "crm.activity.template", string="Activity templates created or reused"
    )

    @api.model
    def _selection_recipe(self):
        return self.env["crm.automation.exchange"]._recipe_selection()

    @api.depends("source", "recipe")
    def _compute_recipe_description(self):
        for wizard in self:
            data = wizard._get_data(raise_if_invalid=False)
            wizard.recipe_description = (
                data.get("description") if data and wizard.source == "recipe" else False
            )

    @api.depends("source", "recipe", "file", "team_id")
    def _compute_line_ids(self):
        Exchange = self.env["crm.automation.exchange"]
        for wizard in self:
            data = wizard._get_data(raise_if_invalid=False)
            commands = [Command.clear()]
            if data and wizard.team_id:
                used = Exchange._used_stage_keys(data)
                # The pipeline's own stages; the stages shared by all teams (Odoo's
                # default ones) only for a team without stages of its own: automation
                # put on a shared stage would act in every pipeline.
                stages = Exchange._pipeline_stages(wizard.team_id)
                candidates = (stages.filtered("team_id") or stages).sorted(
                    lambda s: (s.sequence, s.id)
                )
                # Only the stages the file uses are suggested a stage: a file exported
                # from a pipeline also lists the shared stages, which would otherwise
                # take the places of the stages its automation is on.
                suggested = Exchange._suggest_stages(
                    [item for item in data["stages"] if item["key"] in used], candidates
                )
                commands += [
                    Command.create(
                        {
                            "key": item["key"],
                            "name": item.get("name") or item["key"],
                            "used": item["key"] in used,
                            "target_stage_id": suggested.get(item["key"], candidates.browse()).id,
                        }
                    )
                    for item in data["stages"]
                ]
            wizard.line_ids = commands

    @api.depends(
        "source", "recipe", "file", "team_id", "mode", "create_missing_stages",
        "line_ids.target_stage_id",
    )  # fmt: skip
    def _compute_preview(self):
        for wizard in self:
            wizard.preview = wizard._render_preview()

    def _get_data(self, raise_if_invalid=True):
        """Parsed recipe or file; None when not chosen yet (or invalid and not raising)."""
        self.ensure_one()
        Exchange = self.env["crm.automation.exchange"]
        try:
            if self.source == "recipe" and self.recipe:
                return Exchange._load_recipe(self.recipe)
            if self.source == "file" and self.file:
                try:
                    raw = base64.b64decode(self.file, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise UserError(_("The file could not be read.")) from exc
                return Exchange._parse(raw)
        except UserError:
            if raise_if_invalid:
                raise
        if raise_if_invalid:
            raise UserError(
                _("Choose a recipe.") if self.source == "recipe" else _("Upload a file.")
            )
        return None

    def _stage_map(self):
        return {line.key: line.target_stage_id for line in self.line_ids}

    def _plan(self):
        self.ensure_one()
        data = self._get_data()
        return self.env["crm.automation.exchange"]._plan_import(
            data, self.team_id, self._stage_map(), create_missing=self.create_missing_stages
        )

    def _render_preview(self):
        if not self.team_id:
            return False
        try:
            data = self._get_data(raise_if_invalid=True)
            plan = self.env["crm.automation.exchange"]._plan_import(
                data, self.team_id, self._stage_map(), create_missing=self.create_missing_stages
            )
        except UserError as exc:
            if (
                self.source == "recipe"
                and not self.recipe
                or self.source == "file"
                and not self.file
            ):
                return False
            lines = escape(exc.args[0]).split("\n")
            return Markup('<div class="alert alert-danger" role="alert">%s</div>') % Markup(
                "<br/>"
            ).join(lines)
        items = [
            _("%(count)s activity templates", count=len(plan["activity_templates"])),
            _("%(count)s triggers", count=len(plan["triggers"])),
            _("%(count)s automation rules", count=len(plan["rules"])),
        ]
        if plan["new_stages"]:
            items.append(
                _(
                    "new stages: %(stages)s",
                    stages=", ".join(s.get("name") or s["key"] for s in plan["new_stages"]),
                )
            )
        if plan["tags_to_create"]:
            items.append(_("new tags: %(tags)s", tags=", ".join(plan["tags_to_create"])))
        if self.mode == "replace":
            items.append(_("the active triggers and rules of the mapped stages are archived"))
        names = [label for section in ("triggers", "rules") for label, _i, _v in plan[section]]
        body = Markup("<p>%s</p>") % _(
            "Ready to import into %(team)s: %(items)s.",
            team=self.team_id.name,
            items="; ".join(items),
        )
        if names:
            body += Markup("<ul>%s</ul>") % Markup().join(
                Markup("<li>%s</li>") % name for name in names
            )
        return (
            Markup('<div class="alert alert-info o_cpa_import_ready" role="status">%s</div>') % body
        )

    def action_apply(self):
        """Import the recipe or file (all or nothing) and show what was created."""
        self.ensure_one()
        plan = self._plan()
        result = self.env["crm.automation.exchange"]._apply_import(plan, mode=self.mode)
        self.write(
            {
                "state": "done",
                "rule_ids": [Command.set(result["rules"].ids)],
                "trigger_ids": [Command.set(result["triggers"].ids)],
                "template_ids": [
                    Command.set((result["activity_templates"] | result["reused_templates"]).ids)
                ],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Automation imported"),
        }

    def action_open_rules(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_automation_rule_action"
        )
        action["domain"] = [("id", "in", self.rule_ids.ids)]
        action["context"] = {}
        return action

    def action_open_triggers(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_pipeline_automation.crm_stage_trigger_action"
        )
        action["domain"] = [("id", "in", self.trigger_ids.ids)]
        action["context"] = {}
        return action
