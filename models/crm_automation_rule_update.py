# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

UPDATABLE_TYPES = (
    "char",
    "text",
    "html",
    "integer",
    "float",
    "monetary",
    "boolean",
    "selection",
    "many2one",
    "many2many",
    "date",
    "datetime",
)
TRUE_WORDS = {"1", "true", "yes", "y", "on", "x"}
FALSE_WORDS = {"0", "false", "no", "n", "off", ""}


class CrmAutomationRuleUpdate(models.Model):
    _name = "crm.automation.rule.update"
    _description = "CRM Automation Rule Field Value"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    rule_id = fields.Many2one("crm.automation.rule", required=True, ondelete="cascade", index=True)
    field_id = fields.Many2one(
        "ir.model.fields",
        required=True,
        ondelete="cascade",
        domain=[
            ("model", "=", "crm.lead"),
            ("ttype", "in", UPDATABLE_TYPES),
            ("readonly", "=", False),
        ],
        help="Field of the lead to set.",
    )
    value = fields.Char(
        help="New value as text: numbers, true/false, a selection key, a record id or "
        "exact name (many2one; a stage name is looked up in the lead's pipeline), "
        "comma-separated ids (many2many, replaces), ISO dates (YYYY-MM-DD, "
        "YYYY-MM-DD HH:MM:SS in UTC). Empty clears the field.",
    )

    @api.constrains("field_id", "value")
    def _check_value(self):
        for line in self:
            line._convert_value()

    def _depends_on_lead(self):
        """Whether the converted value depends on the lead it is written on: a stage
        given by name is the one of the lead's pipeline (set-wise update: the other
        values are converted once for all the leads)."""
        self.ensure_one()
        field = self.env["crm.lead"]._fields.get(self.field_id.name)
        raw = (self.value or "").strip()
        return bool(
            field is not None
            and field.type == "many2one"
            and field.comodel_name == "crm.stage"
            and raw
            and not raw.isdigit()
        )

    def _convert_value(self, lead=None):
        """The line's value converted for ``crm.lead.write``; ValidationError if invalid.

        :param lead: the lead it is written on (a stage given by name is the one of its
            pipeline); None: checked for the pipeline of the rule's stage
        """
        self.ensure_one()
        field = self.env["crm.lead"]._fields.get(self.field_id.name)
        if field is None or self.field_id.ttype not in UPDATABLE_TYPES:
            raise ValidationError(_("Field %(field)s cannot be set.", field=self.field_id.name))
        raw = (self.value or "").strip()
        try:
            return self._convert(field, raw, lead)
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                _(
                    "Invalid value %(value)r for %(field)s: %(error)s",
                    value=raw,
                    field=self.field_id.field_description,
                    error=exc,
                )
            ) from exc

    def _convert(self, field, raw, lead=None):
        ftype = field.type
        if ftype in ("char", "text", "html"):
            return raw or False
        if not raw and ftype not in ("boolean", "integer", "float", "monetary"):
            return [(5,)] if ftype == "many2many" else False
        if ftype == "integer":
            return int(raw or 0)
        if ftype in ("float", "monetary"):
            return float(raw or 0)
        if ftype == "boolean":
            lowered = raw.lower()
            if lowered not in TRUE_WORDS | FALSE_WORDS:
                raise ValueError(_("use true or false"))
            return lowered in TRUE_WORDS
        if ftype == "selection":
            keys = [key for key, _label in field._description_selection(self.env)]
            if raw not in keys:
                raise ValueError(_("expected one of %(keys)s", keys=", ".join(map(str, keys))))
            return raw
        if ftype == "many2one" and field.comodel_name == "crm.stage" and not raw.isdigit():
            return self._stage_named(raw, lead).id
        if ftype == "many2one":
            comodel = self.env[field.comodel_name].sudo()
            if raw.isdigit():
                record = comodel.browse(int(raw)).exists()
            else:
                record = comodel.search([(comodel._rec_name or "id", "=", raw)], limit=1)
            if not record:
                raise ValueError(
                    _("no %(model)s named %(value)s", model=field.comodel_name, value=raw)
                )
            return record.id
        if ftype == "many2many":
            ids = [int(part) for part in raw.split(",") if part.strip()]
            found = self.env[field.comodel_name].sudo().browse(ids).exists()
            if len(found) != len(set(ids)):
                raise ValueError(_("unknown ids"))
            return [(6, 0, ids)]
        if ftype == "date":
            return fields.Date.to_date(raw)
        if ftype == "datetime":
            return fields.Datetime.to_datetime(raw)
        raise ValueError(ftype)

    def _stage_named(self, name, lead=None):
        """The stage named ``name`` in the pipeline of ``lead``: stage names ("New",
        "Won") repeat in every pipeline; the pipeline's own stage comes before a stage
        of that name shared by all teams. Without a lead, the pipeline of the rule's stage;
        for a rule on a stage shared by all teams, every pipeline (the name must not be
        ambiguous in any of them). A rule that also sets the sales team: its pipeline.

        :raise ValueError: no such stage, or several (naming the candidates)
        """
        Team = self.env["crm.team"].sudo()
        team_line = self.rule_id.update_line_ids.filtered(
            lambda line: line.field_id.name == "team_id" and line.value
        )[:1]
        if team_line:
            # The rule moves the lead to another sales team: its stage is of that pipeline.
            teams = [Team.browse(team_line._convert_value(lead))]
        elif lead is not None:
            teams = [lead.team_id.sudo()]
        elif self.rule_id.stage_id.team_id:
            teams = [self.rule_id.stage_id.team_id.sudo()]
        else:
            teams = [Team, *Team.search([])]
        Stage = self.env["crm.stage"].sudo()
        found = Stage
        for team in teams:
            pipeline = [("team_id", "in", [False, team.id])] if team else [("team_id", "=", False)]
            stages = Stage.search([*pipeline, ("name", "=", name)])
            if len(stages) > 1 and team:
                # Odoo's stages shared by all teams ("Won") and the pipeline's own of the
                # same name: the pipeline's own one.
                stages = stages.filtered(lambda stage, team=team: stage.team_id == team) or stages
            if len(stages) > 1:
                raise ValueError(
                    _(
                        "%(count)s stages are named %(name)s in the pipeline %(team)s: "
                        "%(stages)s; give the id of one",
                        count=len(stages),
                        name=name,
                        team=team.name or _("shared by all teams"),
                        stages=", ".join(
                            _("%(stage)s (id %(id)s)", stage=stage.name, id=stage.id)
                            for stage in stages
                        ),
                    )
                )
            found = found or stages
        if not found:
            team = teams[0]
            pipeline = [("team_id", "in", [False, team.id])] if team else [("team_id", "=", False)]
            raise ValueError(
                _(
                    "no stage named %(name)s in the pipeline %(team)s; its stages: %(stages)s",
                    name=name,
                    team=team.name or _("shared by all teams"),
                    stages=", ".join(Stage.search(pipeline).mapped("name")) or "-",
                )
            )
        return found
