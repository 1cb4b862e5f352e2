# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models


class CrmAutomationRule(models.Model):
    _inherit = "crm.automation.rule"

    activity_template_id = fields.Many2one(
        "crm.activity.template",
        ondelete="restrict",
        help="Create the activity from this template (deadline to the minute, reminder, "
        "assignee, scope); replaces the activity fields of the rule.",
    )

    def _prepare_activity_vals(self, lead, job):
        if not self.activity_template_id:
            return super()._prepare_activity_vals(lead, job)
        return self.activity_template_id._prepare_activity_vals(lead)

    def _execute_activity(self, lead, job):
        template = self.activity_template_id
        if not template:
            return super()._execute_activity(lead, job)
        if not template._applies_to(lead):
            return _(
                "No activity: the lead's salesperson is outside the scope of template "
                "%(template)s.",
                template=template.name,
            )
        vals = self._prepare_activity_vals(lead, job)
        if not vals:
            return _(
                "No activity: %(field)s of the lead is empty.",
                field=template.date_field_id.field_description,
            )
        activity = self.env["mail.activity"].create(vals)
        job.activity_id = activity
        return _(
            "Activity '%(summary)s' (template %(template)s) planned for %(user)s, "
            "due %(deadline)s.",
            summary=activity.summary or activity.activity_type_id.name,
            template=template.name,
            user=activity.user_id.name,
            deadline=activity._format_deadline(activity.user_id),
        )
