# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from markupsafe import Markup

from odoo import _, api, fields, models


class CrmStageGateHold(models.Model):
    """An automatic move refused by a stage gate. It waits (trigger option "move when
    the gate is met") and is made when a later write of the lead meets the gate."""

    _name = "crm.stage.gate.hold"
    _description = "CRM Move Held by a Stage Gate"
    _order = "id desc"

    lead_id = fields.Many2one("crm.lead", required=True, index=True, ondelete="cascade")
    stage_id = fields.Many2one("crm.stage", "Held move to", required=True, ondelete="cascade")
    trigger_id = fields.Many2one("crm.stage.trigger", ondelete="cascade")
    event_id = fields.Many2one("crm.lead.event", ondelete="set null")
    missing = fields.Char(help="What the lead missed when the move was held.")
    state = fields.Selection(
        [("waiting", "Waiting for the gate"), ("moved", "Moved"), ("cancelled", "Cancelled")],
        default="waiting",
        required=True,
        index=True,
    )

    @api.model
    def _hold(self, leads, vals):
        """Automatic move of ``leads`` by a write of ``vals``: the leads missing the
        gate of the stage are held (not moved), in the ledger, and wait for it when
        the trigger asks so. Free when the stage has no gate.

        :return: the leads held
        """
        stage_id = vals.get("stage_id")
        if (
            stage_id not in leads._automation_config().gate_stage_ids
            or not self.env.context.get("crm_automation_auto")
            or not leads
        ):
            return leads.browse()
        stage = self.env["crm.stage"].browse(stage_id)
        leads = leads.filtered(lambda lead: lead.stage_id != stage)
        missing = self.env["crm.stage.gate"]._missing(leads, stage)
        if not missing:
            return leads.browse()
        held = leads.browse(list(missing))
        ctx = self.env.context
        trigger = self.env["crm.stage.trigger"].browse(ctx.get("crm_automation_trigger_id"))
        wait = trigger.exists().move_when_gate_met
        Gate = self.env["crm.stage.gate"]
        self.env["crm.automation.log"].sudo()._log_many(
            [
                {
                    "lead_id": lead_id,
                    "kind": "gate_blocked",
                    "stage_id": stage.id,
                    "message": _(
                        "Automatic move %(why)s%(wait)s",
                        why=Gate._describe(stage, labels),
                        wait=_(" (moves when the gate is met)") if wait else "",
                    ),
                }
                for lead_id, labels in missing.items()
            ]
        )
        if wait:
            self.sudo().create(
                [
                    {
                        "lead_id": lead_id,
                        "stage_id": stage.id,
                        "trigger_id": trigger.id,
                        "event_id": ctx.get("crm_automation_event_id") or False,
                        "missing": ", ".join(labels)[:250],
                    }
                    for lead_id, labels in missing.items()
                ]
            )
        return held

    @api.model
    def _release(self, leads):
        """Make the waiting moves of ``leads`` whose gate is now met (one query when
        none waits); a lead already in or after the stage cancels its hold."""
        holds = self.sudo().search([("lead_id", "in", leads.ids), ("state", "=", "waiting")])
        for hold in holds.sorted("id"):
            lead, trigger = hold.lead_id, hold.trigger_id
            if hold.state != "waiting":
                continue
            if not lead.active or trigger.state != "active" or trigger._refusal(lead):
                hold.state = "cancelled"
                continue
            if self.env["crm.stage.gate"]._missing(lead, hold.stage_id):
                continue
            # Other holds of the lead are done with this move.
            holds.filtered(lambda h, lead=lead: h.lead_id == lead).state = "cancelled"
            hold.state = "moved"
            event = hold.event_id or self.env["crm.lead.event"]
            if event:
                trigger._move(lead, event)
            else:
                lead.with_context(crm_automation_auto=True).write({"stage_id": hold.stage_id.id})
            lead._message_log(
                body=Markup("<p>%s</p>")
                % _("Gate of %(stage)s met: the held move was made.", stage=hold.stage_id.name)
            )
