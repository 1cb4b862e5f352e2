# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from markupsafe import Markup

from odoo import _, api, fields, models

from .crm_activity_template import MEETING_KEY

# Precommit data key: ids of the meetings archived in the transaction.
ARCHIVED_KEY = "crm_pipeline_automation.archived_meetings"


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    @api.model_create_multi
    def create(self, vals_list):
        events = super().create(vals_list)
        # A recurring meeting is scheduled once: by its first event, not by each
        # occurrence its recurrence creates.
        events.filtered(
            lambda event: event.opportunity_id or event.res_model == "crm.lead"
        ).filtered(
            lambda event: not event.recurrence_id or event.recurrence_id.base_event_id == event
        )._cpa_record_scheduled()
        return events

    def write(self, vals):
        moved = not self.env["calendar.event"]._get_time_fields().isdisjoint(vals)
        cancelled = vals.get("active") is False
        relinked = not {"opportunity_id", "res_id", "res_model_id"}.isdisjoint(vals)
        if not (moved or cancelled or relinked):
            return super().write(vals)
        before = {event.id: event._cpa_leads() for event in self} if relinked else {}
        result = super().write(vals)
        if cancelled:
            self._cpa_cancel_when_still_archived()
        if moved:
            self._cpa_reschedule_activities()
        for event in self.filtered("active") if relinked else ():
            event._cpa_record_scheduled(event._cpa_leads() - before[event.id])
        return result

    def unlink(self):
        self._cpa_cancel_activities(_("deleted"))
        return super().unlink()

    # ------------------------------------------------------------------
    # Leads and their activities
    # ------------------------------------------------------------------

    def _cpa_leads(self):
        """Leads the meeting is about: its opportunity, or the lead it was scheduled
        from (``res_model`` / ``res_id``)."""
        self.ensure_one()
        leads = self.opportunity_id
        if self.res_model == "crm.lead" and self.res_id and self.res_id != leads.id:
            leads |= self.env["crm.lead"].browse(self.res_id).exists()
        return leads

    def _cpa_record_scheduled(self, leads=None):
        """Engagement event "meeting scheduled" for the leads of each meeting of
        ``self`` (fires the triggers and the templates "create on" it), once per
        meeting and lead."""
        for event in self:
            event_leads = event._cpa_leads() if leads is None else leads
            if not event_leads:
                continue
            # sudo: salespeople scheduling a meeting cannot create engagement events;
            # the meeting is the fact, recorded as for the other event sources.
            self.env["crm.lead.event"].sudo().with_context(**{MEETING_KEY: event.id})._record(
                event_leads.sudo(),
                "meeting_scheduled",
                "calendar",
                dedup_key=f"meeting{event.id}",
                date=fields.Datetime.now(),
                text=event.name,
                user_id=self.env.uid,
            )

    def _cpa_meeting_activities(self):
        """Open activities whose deadline counts from a meeting of ``self``."""
        if not self.ids or not self.env["crm.activity.template"]._meeting_template_exists():
            return self.env["mail.activity"]
        # sudo: the activities of colleagues follow the meeting too.
        return self.env["mail.activity"].sudo().search([("cpa_meeting_id", "in", self.ids)])

    def _cpa_reschedule_activities(self):
        """The meetings of ``self`` moved: their activities' deadlines (and reminders,
        see mail.activity.write) follow, with a ledger row."""
        for activity in self._cpa_meeting_activities():
            lead = self.env["crm.lead"].sudo().with_context(active_test=False)
            lead = lead.browse(activity.res_id).exists()
            template = activity.activity_template_id
            if not lead or not template:
                continue
            meeting = activity.cpa_meeting_id
            deadline = template.with_context(**{MEETING_KEY: meeting.id})._compute_deadline(
                lead, activity.user_id
            )
            if not deadline or deadline == activity.deadline_datetime:
                continue
            activity.deadline_datetime = deadline
            lead._cpa_ledger(
                "activity_moved",
                stage=lead.stage_id,
                message=_(
                    "Meeting %(meeting)s moved: activity '%(activity)s' now due %(deadline)s.",
                    meeting=meeting.name,
                    activity=activity.summary or activity.activity_type_id.name,
                    deadline=activity._format_deadline(activity.user_id),
                ),
            )

    def _cpa_cancel_when_still_archived(self):
        """Cancel the activities of the meetings of ``self`` if they are still archived
        when the transaction commits: the calendar archives a recurring meeting's events
        to rewrite them ("all events" moved) and restores the first one at once."""
        if not self.ids or not self.env["crm.activity.template"]._meeting_template_exists():
            return
        archived = self.env.cr.precommit.data.setdefault(ARCHIVED_KEY, set())
        if not archived:
            self.env.cr.precommit.add(self.sudo()._cpa_cancel_archived)
        archived.update(self.ids)

    def _cpa_cancel_archived(self):
        """Precommit: cancel the activities of the meetings archived in the transaction
        and still archived now."""
        ids = self.env.cr.precommit.data.pop(ARCHIVED_KEY, set())
        meetings = self.with_context(active_test=False).browse(ids).exists()
        meetings.filtered(lambda meeting: not meeting.active)._cpa_cancel_activities(_("archived"))
        # Precommit hooks run after the flush of the transaction: write ours now.
        self.env.flush_all()

    def _cpa_cancel_activities(self, how):
        """The meetings of ``self`` are cancelled (``how``: deleted / archived): their
        open activities are cancelled, with a ledger row and a note on the lead."""
        activities = self._cpa_meeting_activities()
        for activity in activities:
            lead = self.env["crm.lead"].sudo().with_context(active_test=False)
            lead = lead.browse(activity.res_id).exists()
            if not lead:
                continue
            message = _(
                "Meeting %(meeting)s %(how)s: activity '%(activity)s' cancelled.",
                meeting=activity.cpa_meeting_id.name,
                how=how,
                activity=activity.summary or activity.activity_type_id.name,
            )
            lead._cpa_ledger("activity_cancelled", stage=lead.stage_id, message=message)
            lead._message_log(body=Markup("<p>%s</p>") % message)
        activities.unlink()
