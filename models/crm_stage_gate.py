# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Stage gates: what a lead needs before it may enter a stage.

A salesperson's move that misses the gate is refused with the list of what is missing
(``_check_entry``); an automatic move (trigger, rule) is held instead and written in
the ledger (``crm.stage.gate.hold``). Gates exist only when configured: the lead
hooks read the gated stages from ``crm.lead._automation_config()`` (cached), so leads
cost nothing more while no stage has a gate.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

GATE_KINDS = [
    ("field", "Field set"),
    ("checklist", "Checklist item"),
    ("activity", "Planned activity"),
]
# Context key: a manager's imports / scripts may skip the gates (members of the
# automation manager group only; anyone else's key is ignored).
BYPASS_KEY = "crm_automation_gate_bypass"


class CrmStageGate(models.Model):
    _name = "crm.stage.gate"
    _inherit = ["crm.automation.config.mixin"]
    _description = "CRM Stage Gate Requirement"
    _order = "stage_id, sequence, id"
    _automation_config_fields = ("stage_id", "active")

    stage_id = fields.Many2one(
        "crm.stage", required=True, index=True, ondelete="cascade", help="Stage guarded."
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        GATE_KINDS,
        required=True,
        default="field",
        help="Field set: the lead's field must have a value (not empty, not zero). "
        "Checklist item: the salesperson ticks it on the lead. Planned activity: the lead "
        "has an open activity.",
    )
    field_id = fields.Many2one(
        "ir.model.fields",
        "Lead field",
        ondelete="cascade",
        domain=[("model", "=", "crm.lead"), ("store", "=", True)],
        help="Field set: the field of the lead that must have a value.",
    )
    name = fields.Char(
        "Requirement",
        translate=True,
        help="What the salesperson sees (required for checklist items; default for a "
        "field: its label).",
    )

    @api.depends("name", "field_id", "kind", "stage_id")
    def _compute_display_name(self):
        for gate in self:
            gate.display_name = f"{gate.stage_id.name}: {gate._label()}"

    @api.constrains("kind", "field_id", "name")
    def _check_requirement(self):
        for gate in self:
            if gate.kind == "field" and not gate.field_id:
                raise ValidationError(_("A 'field set' requirement needs a lead field."))
            if gate.kind == "checklist" and not gate.name:
                raise ValidationError(_("A checklist item needs a name."))

    def _label(self):
        self.ensure_one()
        if self.name:
            return self.name
        if self.kind == "activity":
            return _("a planned activity")
        return self.field_id.field_description or ""

    def _met(self, lead):
        """Whether ``lead`` (sudo) meets this requirement."""
        self.ensure_one()
        if self.kind == "checklist":
            return self in lead.automation_gate_check_ids
        if self.kind == "activity":
            return bool(lead.activity_ids)
        return bool(lead[self.field_id.name]) if self.field_id.name in lead._fields else True

    @api.model
    def _missing(self, leads, stage):
        """{lead id: [labels of the requirements missing]} for ``leads`` to enter
        ``stage``; leads that meet the gate are left out. Reads as superuser: the gate
        is the managers' configuration, the answer only names requirements."""
        gates = stage.sudo().gate_line_ids
        missing = {}
        if not gates:
            return missing
        for lead in leads.sudo():
            labels = [gate._label() for gate in gates if not gate._met(lead)]
            if labels:
                missing[lead.id] = labels
        return missing

    @api.model
    def _describe(self, stage, labels):
        return _(
            "blocked by the gate of %(stage)s: missing %(items)s",
            stage=stage.name,
            items=", ".join(labels),
        )

    @api.model
    def _bypassed(self):
        return self.env.context.get(BYPASS_KEY) and self.env.user.has_group(
            "crm_pipeline_automation.group_automation_manager"
        )

    @api.model
    def _compute_checklist(self, leads):
        """``crm.lead.automation_gate_checklist``: some checklist item in the lead's
        pipeline (sudo: the gates are configuration; only a boolean leaves)."""
        stages = self.sudo().search([("kind", "=", "checklist")]).stage_id
        shared = any(not stage.team_id for stage in stages)
        for lead in leads:
            lead.automation_gate_checklist = shared or lead.team_id in stages.team_id

    @api.model
    def _check_entry(self, leads):
        """Refuse (UserError) a user's entry of ``leads`` in their current stage when
        one of them misses its gate: one line per lead naming each missing requirement.
        Free without gates; automatic moves are held before (``crm.stage.gate.hold``)."""
        gated = leads._automation_config().gate_stage_ids
        if not gated or not leads or self.env.context.get("crm_automation_auto"):
            return
        leads = leads.filtered(lambda lead: lead.stage_id.id in gated)
        if not leads or self._bypassed():
            return
        lines = []
        for stage in leads.stage_id:
            in_stage = leads.filtered(lambda lead, stage=stage: lead.stage_id == stage)
            for lead_id, labels in self._missing(in_stage, stage).items():
                lines.append(
                    _(
                        "%(lead)s: %(why)s",
                        lead=leads.browse(lead_id).display_name,
                        why=self._describe(stage, labels),
                    )
                )
        if lines:
            raise UserError(
                _("This move is refused by a stage gate.\n%(lines)s", lines="\n".join(lines))
            )
