# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Activity templates around meetings and lost leads (Exact Spotter): a deadline before
or after the lead's next meeting ("Meeting confirmation 120 minutes before"), and
"lead lost" templates limited to the stages the lead was lost from ("Recover the lead
in 3 months" after a discard in Filter 2)."""

from odoo import _, api, fields, models, tools

# Context key: the meeting being scheduled or moved (calendar.event id); its lead's
# template activities count from it rather than from the lead's next meeting.
MEETING_KEY = "crm_automation_meeting_id"


class CrmActivityTemplate(models.Model):
    _inherit = "crm.activity.template"

    deadline_base = fields.Selection(
        selection_add=[("meeting", "The lead's next meeting")],
        ondelete={"meeting": "set default"},
    )
    lost_stage_ids = fields.Many2many(
        "crm.stage",
        "crm_activity_template_lost_stage_rel",
        "template_id",
        "stage_id",
        "Only when lost from",
        help="Create on event 'Lead lost': only for leads lost from one of these stages; "
        "empty: from any stage.",
    )

    @api.model
    @tools.ormcache()
    def _meeting_template_exists(self):
        """Whether some template (archived too) counts its deadline from a meeting:
        else writing or deleting meetings costs no query (cleared with the registry
        cache by crm.automation.config.mixin, ``deadline_base`` is a config field)."""
        return bool(
            self.sudo()
            .with_context(active_test=False)
            .search_count([("deadline_base", "=", "meeting")], limit=1)
        )

    def _applies_to(self, lead):
        if (
            self.event_key == "lead_lost"
            and self.lost_stage_ids
            and not lead.active
            and lead.stage_id not in self.lost_stage_ids
        ):
            return False
        return super()._applies_to(lead)

    def _cpa_meeting(self, lead):
        """The meeting the deadline of ``lead``'s activity counts from: the one being
        scheduled or moved (context), else the lead's next meeting (empty if none)."""
        # sudo: a colleague's private meeting still sets the deadline; only its start
        # is read here, the record is not returned to users.
        Event = self.env["calendar.event"].sudo()
        meeting = Event.browse(self.env.context.get(MEETING_KEY)).exists()
        if meeting and lead._origin in meeting._cpa_leads():
            return meeting
        return Event.search(
            [
                ("start", ">=", fields.Datetime.now()),
                "|",
                ("opportunity_id", "=", lead._origin.id),
                "&",
                ("res_model", "=", "crm.lead"),
                ("res_id", "=", lead._origin.id),
            ],
            order="start, id",
            limit=1,
        )

    def _date_field_start(self, lead, user):
        if self.deadline_base == "meeting":
            return self._cpa_meeting(lead).start or None
        return super()._date_field_start(lead, user)

    def _prepare_activity_vals(self, lead, now=None):
        vals = super()._prepare_activity_vals(lead, now=now)
        if vals and self.deadline_base == "meeting":
            vals["cpa_meeting_id"] = self._cpa_meeting(lead).id
        return vals

    def _execute_for_rule(self, rule, lead, job):
        if self.deadline_base == "meeting" and not self._cpa_meeting(lead):
            return _("No activity: the lead has no upcoming meeting.")
        return super()._execute_for_rule(rule, lead, job)

    def _deadline_description(self):
        """The deadline in words, e.g. "120 minutes before the lead's next meeting"."""
        self.ensure_one()
        units = dict(self._fields["deadline_unit"]._description_selection(self.env))
        unit = units.get(self.deadline_unit, self.deadline_unit).lower()
        if self.deadline_base == "create":
            return _("within %(count)s %(unit)s", count=self.deadline_count, unit=unit)
        if self.deadline_base == "meeting":
            base = _("the lead's next meeting")
        else:
            # sudo: field labels (ir.model.fields) are readable by administrators only.
            base = self.date_field_id.sudo().field_description or "?"
        if self.date_direction == "before":
            return _(
                "%(count)s %(unit)s before %(base)s",
                count=self.deadline_count,
                unit=unit,
                base=base,
            )
        return _(
            "%(count)s %(unit)s after %(base)s", count=self.deadline_count, unit=unit, base=base
        )
