# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""crm.stage.trigger, activity kinds: an activity of the lead is marked done
(``activity_done``) or becomes late (``activity_late``, found by the deadline cron of
``mail.activity``). Such a trigger moves the lead, or notifies its salesperson while
the lead is in the trigger's stage."""

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

ACTIVITY_EVENTS = ("activity_done", "activity_late")


class CrmStageTrigger(models.Model):
    _inherit = "crm.stage.trigger"

    activity_type_id = fields.Many2one(
        "mail.activity.type",
        "Activity type",
        help="activity_done / activity_late: only activities of this type; empty: any.",
    )
    activity_action = fields.Selection(
        [("move", "Move the lead"), ("notify", "Notify the salesperson")],
        "Action",
        default="move",
        required=True,
        help="activity_done / activity_late: move the lead to the stage, or notify its "
        "salesperson when the lead is in the stage (it stays there).",
    )

    def _moves_lead(self):
        return self.activity_action != "notify" or self.event_type not in ACTIVITY_EVENTS

    def _match_activity(self, event):
        return not self.activity_type_id or self.activity_type_id == event.activity_type_id

    def _match_activity_done(self, event):
        return self._match_activity(event)

    def _match_activity_late(self, event):
        return self._match_activity(event)

    def _describe_activity(self):
        labels = dict(self._fields["activity_action"]._description_selection(self.env))
        parts = [self.activity_type_id.name] if self.activity_type_id else []
        if self.activity_action == "notify":
            parts.append(labels["notify"])
        return ", ".join(parts)

    @api.model
    def _dry_run_activity_values(self, lead, detail):
        """Event values of the dry-run: the activity type named ``detail`` (optional)."""
        if detail in (None, "") or not str(detail).strip():
            return {}
        Type = lead.env["mail.activity.type"]
        activity_type = Type.search([("name", "=ilike", str(detail).strip())], limit=1)
        if not activity_type:
            raise UserError(_("No activity type named “%(name)s”.", name=detail))
        return {"activity_type_id": activity_type.id}

    # ------------------------------------------------------------------
    # Notifying
    # ------------------------------------------------------------------

    @api.model
    def _notify_triggers(self, lead, event):
        """Notifying triggers that accept ``event`` on ``lead`` as it is now (reads
        only: the real run and the dry-run)."""
        if event.event_type not in ACTIVITY_EVENTS or not lead.active or lead.stage_id.is_won:
            return self.browse()
        triggers = self.search(
            [
                ("event_type", "=", event.event_type),
                ("state", "=", "active"),
                ("activity_action", "=", "notify"),
                ("stage_id", "=", lead.stage_id.id),
            ]
        )
        return triggers.filtered(
            lambda t: t._match(event)
            and (not t._get_domain() or lead.filtered_domain(t._get_domain()))
        )

    @api.model
    def _fire_event(self, event, candidates=None):
        fired = super()._fire_event(event, candidates=candidates)
        lead = event.lead_id
        if event.event_type in ACTIVITY_EVENTS and lead.user_id:
            triggers = self._notify_triggers(lead, event)
            for trigger in triggers:
                trigger._notify(lead, event)
            if triggers and not fired:
                event.write({"state": "notified", "trigger_id": triggers[:1].id})
        return fired

    def _notify(self, lead, event):
        """Inbox notification (and email) to the lead's salesperson; ledger row."""
        self.ensure_one()
        user = lead.user_id
        message = _(
            "Trigger “%(trigger)s” on event %(event)s: %(lead)s needs your attention.",
            trigger=self.name,
            event=event._describe(),
            lead=lead.display_name,
        )
        # sudo: the salesperson is notified whoever completed the activity or runs the
        # cron; only the notification is written.
        lead.sudo().message_notify(
            partner_ids=user.partner_id.ids,
            subject=_("%(lead)s: %(trigger)s", lead=lead.display_name, trigger=self.name),
            body=Markup("<p>%s</p>") % message,
            subtype_xmlid="mail.mt_note",
            model_description=lead._description,
        )
        lead._cpa_ledger("trigger_notified", stage=lead.stage_id, message=message)
