# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models
from odoo.tools import SQL

# Context key: the stage change itself is running (activities completed because the
# lead leaves the stage, tracking messages): not work of the salesperson.
NO_TOUCH_KEY = "crm_automation_no_touch"


class CrmLead(models.Model):
    _inherit = "crm.lead"

    automation_touch_date = fields.Datetime(
        "Last worked on",
        readonly=True,
        copy=False,
        help="Last time a user worked on the lead: an activity marked done or a message "
        "or note posted by an internal user (automatic actions do not count).",
    )
    automation_touched_in_stage = fields.Boolean(
        "Worked on in this stage",
        readonly=True,
        copy=False,
        help="A user worked on the lead since it entered its current stage. Conditions "
        "such as 'Stalled deal' test it: [('automation_touched_in_stage', '=', False)].",
    )

    def write(self, vals):
        if "stage_id" not in vals or self.env.context.get(NO_TOUCH_KEY):
            return super().write(vals)
        moving = self.filtered(lambda lead: lead.stage_id.id != vals["stage_id"])
        if moving:
            # Reset before the entry is processed: the rules of the new stage check
            # their condition at entry. Raw UPDATE: no write_date / tracking noise.
            self.env.execute_query(
                SQL(
                    "UPDATE crm_lead SET automation_touched_in_stage = FALSE WHERE id = ANY(%s)",
                    moving.ids,
                )
            )
            moving.invalidate_recordset(["automation_touched_in_stage"])
        return super(CrmLead, self.with_context(**{NO_TOUCH_KEY: True})).write(vals)

    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        if message.message_type in ("comment", "email"):
            # sudo: the author's users, to know whether an internal user wrote it.
            authors = message.sudo().author_id.user_ids
            if authors.filtered(lambda user: not user.share and not user._is_superuser()):
                self._automation_touch()
        return result

    def _automation_touch(self):
        """A user worked on ``self``: remember when, and that it was in this stage."""
        context = self.env.context
        if not self or context.get(NO_TOUCH_KEY) or context.get("crm_automation_auto"):
            return
        # Raw UPDATE: salespeople may post on leads they cannot write, and a message
        # must not bump write_date nor run the write overrides of the lead.
        self.env.execute_query(
            SQL(
                "UPDATE crm_lead SET automation_touch_date = %s, "
                "automation_touched_in_stage = TRUE WHERE id = ANY(%s)",
                fields.Datetime.now(),
                self.ids,
            )
        )
        self.invalidate_recordset(["automation_touch_date", "automation_touched_in_stage"])
