# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models

# Context key: skip the activity templates' event hooks (imports, engine internals).
SKIP_EVENTS_KEY = "crm_activity_template_skip"


class CrmLead(models.Model):
    _inherit = "crm.lead"

    activity_deadline_next = fields.Datetime(
        "Next deadline",
        compute="_compute_activity_deadline_next",
        help="Earliest deadline of the lead's open activities, to the minute.",
    )
    activity_deadline_late = fields.Boolean(
        "Activity late",
        compute="_compute_activity_deadline_next",
        help="An open activity of the lead is past its deadline.",
    )

    @api.depends("activity_ids.deadline_datetime")
    def _compute_activity_deadline_next(self):
        ids = [lead_id for lead_id in self._origin.ids if lead_id]
        next_by_lead = dict(
            self.env["mail.activity"]._read_group(
                [("res_model", "=", "crm.lead"), ("res_id", "in", ids)],
                ["res_id"],
                ["deadline_datetime:min"],
            )
        )
        now = fields.Datetime.now()
        for lead in self:
            deadline = next_by_lead.get(lead._origin.id)
            lead.activity_deadline_next = deadline
            lead.activity_deadline_late = bool(deadline and deadline < now)

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        if not self.env.context.get(SKIP_EVENTS_KEY):
            self.env["crm.activity.template"]._create_for_event(leads, "lead_created")
        return leads

    def write(self, vals):
        to_complete = self.env["mail.activity"]
        if "stage_id" in vals and not self.env.context.get(SKIP_EVENTS_KEY):
            # Collected before the write: activities created by the stage entry itself
            # (automation rules) belong to the new stage and stay open.
            moving = self.filtered(lambda lead: lead.stage_id.id != vals["stage_id"])
            if moving:
                to_complete = (
                    self.env["mail.activity"]
                    .sudo()
                    .search(
                        [
                            ("res_model", "=", "crm.lead"),
                            ("res_id", "in", moving.ids),
                            ("activity_template_id.auto_done_on_stage_change", "=", True),
                        ]
                    )
                )
        result = super().write(vals)
        to_complete = to_complete.exists().filtered("active")
        if to_complete:
            # sudo: the salesperson moving the lead completes activities of colleagues
            # too (the template, configured by a manager, says so).
            to_complete.sudo().action_feedback(
                feedback=_("Done automatically: the lead changed stage.")
            )
        return result

    def action_set_lost(self, **additional_values):
        result = super().action_set_lost(**additional_values)
        if not self.env.context.get(SKIP_EVENTS_KEY):
            self.env["crm.activity.template"]._create_for_event(self, "lead_lost")
        return result
