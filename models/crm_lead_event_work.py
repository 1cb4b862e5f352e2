# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""crm.lead.event, events about the work on a lead rather than the customer's
engagement: a field changed (``field_changed``), an activity done or late
(``activity_done`` / ``activity_late``). They score nothing and track nobody (no
opt-out applies)."""

from odoo import api, fields, models


class CrmLeadEvent(models.Model):
    _inherit = "crm.lead.event"

    field_name = fields.Char("Field", readonly=True, help="field_changed: technical name.")
    old_value = fields.Char(readonly=True, help="field_changed: value before (ids, key, number).")
    new_value = fields.Char(readonly=True, help="field_changed: value after.")
    activity_type_id = fields.Many2one(
        "mail.activity.type", "Activity type", ondelete="set null", readonly=True
    )

    @api.model
    def _record_activities(self, event_type, activities):
        """One ``event_type`` event per activity of a lead in ``activities`` (each
        activity once: deduplicated on its id), fired at once.

        :param event_type: ``activity_done`` or ``activity_late``
        :param activities: list of (lead id, activity id, activity type id, summary)
        :return: crm.lead.event created
        """
        leads = self.env["crm.lead"].browse({row[0] for row in activities}).exists()
        vals_list = [
            {
                "lead_id": lead_id,
                "event_type": event_type,
                "source": "activity",
                "verdict": "human",
                "dedup_key": f"{event_type}{activity_id}:{lead_id}",
                "activity_type_id": type_id or False,
                "text": (summary or "")[:200] or False,
                "user_id": self.env.uid,
            }
            for lead_id, activity_id, type_id, summary in activities
            if lead_id in leads.ids
        ]
        events = self._create_dedup(vals_list)
        events._fire()
        return events
