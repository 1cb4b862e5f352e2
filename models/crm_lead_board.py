# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The automation board from the pipeline, and the dry-run ("Test on a lead"): what
the automation would do, nothing written.

The decisions come from the engine's own functions: ``crm.stage.trigger._decide_event``
(which trigger, where to, or why not), ``crm.lead._automation_rules_to_schedule`` (which
rules, skipped-over stages included) and ``crm.automation.rule._plan_jobs`` (condition,
due time with delays and business hours). The lead after the move is an in-memory copy
(``new``): its stage is the target, everything else is the stored lead.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .crm_lead_event import EVENT_TYPES

# Event values a dry-run may set, by the field the trigger parameters read.
DETAIL_FIELD = {
    "link_click": "url",
    "url_visited": "url",
    "form_submitted": "form_name",
    "call_incoming": "line_number",
    "call_outgoing": "line_number",
    "call_missed": "line_number",
    "chat_keyword": "text",
    "chat_response_late": "seconds",
}


class CrmLead(models.Model):
    _inherit = "crm.lead"

    @api.model
    def _get_view(self, view_id=None, view_type="form", **options):
        """Kanban: one ``<header>`` with every module's buttons. The kanban view shows
        the buttons of its last ``<header>`` only, and modules add theirs each in their
        own (crm_iap_mine's "Generate Leads", this addon's "Automation"): merged, none
        hides the other."""
        arch, view = super()._get_view(view_id, view_type, **options)
        if view_type == "kanban":
            headers = arch.xpath("/kanban/header")
            for extra in headers[1:]:
                headers[0].extend(list(extra))
                extra.getparent().remove(extra)
        return arch, view

    def action_open_automation_board(self):
        """ "Automation" button of the pipeline: the board of the pipeline shown (the
        action's sales team), else of the user's team."""
        team_id = self.env.context.get("default_team_id") or self.team_id[:1].id
        return {
            "type": "ir.actions.client",
            "tag": "crm_pipeline_automation.automation_board",
            "name": _("Automation"),
            "params": {"team_id": team_id or False},
        }

    @api.model
    def automation_dry_run(self, lead_id, event_type=None, stage_id=None, detail=None):
        """What the automation would do for lead ``lead_id`` on an event, or on entering
        a stage; JSON-ready for the automation board. Writes nothing.

        :param lead_id: id of a lead the user can read
        :param event_type: key of the event types (or None with ``stage_id``)
        :param stage_id: stage entered (when there is no event)
        :param detail: the event's URL, form, line number, chat text or waiting seconds
        :return: dict (see ``_automation_dry_run``), records as names and ids
        """
        lead = self.browse(int(lead_id)).exists() if str(lead_id).isdigit() else self.browse()
        if not lead:
            raise UserError(_("Choose a lead to test on."))
        lead.check_access("read")
        if event_type:
            if event_type not in dict(EVENT_TYPES):
                raise UserError(_("Unknown event %(event)s.", event=event_type))
            event = lead._automation_dry_run_event(event_type, detail)
            result = lead._automation_dry_run(event=event)
        else:
            stage = (
                self.env["crm.stage"].browse(int(stage_id)).exists()
                if str(stage_id or "").isdigit()
                else None
            )
            if not stage:
                raise UserError(_("Choose an event or a stage to test."))
            result = lead._automation_dry_run(stage=stage)
        return lead._automation_dry_run_json(result)

    def _automation_dry_run_event(self, event_type, detail=None):
        """An engagement event in memory (never stored), as a human would make it."""
        self.ensure_one()
        values = {"lead_id": self.id, "event_type": event_type, "source": "manual"}
        name = DETAIL_FIELD.get(event_type)
        if name and detail not in (None, ""):
            if name == "seconds":
                try:
                    values[name] = int(detail)
                except (TypeError, ValueError) as error:
                    raise UserError(_("Give the waiting time in seconds.")) from error
            elif name == "line_number":
                values[name] = self._cpa_phone_e164(str(detail)) or str(detail)
            else:
                values[name] = str(detail)[:2000]
        return self.env["crm.lead.event"].new(values)

    def _automation_dry_run(self, event=None, stage=None):
        """The decisions of the engine for ``event`` (or entering ``stage``) on ``self``.

        :return: dict: ``trackable`` (False: opted out, events are not recorded),
            ``decision`` (``_decide_event``'s dict, events only), ``entered`` (stage the
            lead would enter, or empty), ``loop_stopped`` (guard message or None),
            ``rules`` [(rule, run_at or None, skip message or None)], ``cancelled``
            (pending jobs the move would cancel)
        """
        self.ensure_one()
        now = fields.Datetime.now()
        result = {
            "trackable": True,
            "decision": None,
            "entered": self.env["crm.stage"],
            "loop_stopped": None,
            "rules": [],
            "cancelled": self.env["crm.automation.job"],
        }
        automatic = False
        if event is not None:
            if not self._cpa_trackable():
                result["trackable"] = False
                return result
            decision = self.env["crm.stage.trigger"]._decide_event(self, event)
            result["decision"] = decision
            if decision["state"] != "fired":
                return result
            stage, automatic = decision["stage"], True
        if not stage or stage == self.stage_id:
            return result
        result["entered"] = stage
        # The engine's guard on automatic entries (this move counted).
        if automatic:
            result["loop_stopped"] = self._automation_loop_guard_refusals(extra=1).get(self.id)
        # sudo: every pending job of the lead counts, whoever may read them (the
        # engine cancels them all); the caller gets them without superuser rights.
        result["cancelled"] = (
            self.env["crm.automation.job"]
            .sudo()
            .search(
                [
                    ("lead_id", "=", self.id),
                    ("state", "=", "pending"),
                    ("rule_id.keep_running", "=", False),
                ]
            )
            .sudo(False)
        )
        if result["loop_stopped"]:
            return result
        # The lead as it would be after the move, in memory only; as superuser like
        # the engine (rules are the managers' configuration, they see every lead).
        moved = self.sudo().new({"stage_id": stage.id}, origin=self.sudo())
        rule_leads = moved._automation_rules_to_schedule({moved.id: self.stage_id})
        plan = self.env["crm.automation.rule"].sudo()._plan_jobs(rule_leads, now)
        Rule = self.env["crm.automation.rule"]
        result["rules"] = [
            (Rule.browse(rule_id), run_at, skipped)
            for rule_id, _lead_id, run_at, skipped in plan.decisions()
        ]
        result["rules"].sort(key=lambda item: (item[0].stage_id.sequence, item[0].sequence))
        return result

    def _automation_dry_run_json(self, result):
        """``_automation_dry_run`` for the board: ids, names and UTC strings."""
        self.ensure_one()
        now = fields.Datetime.now()
        decision = result["decision"]
        trigger = None
        if decision is not None:
            trigger = {
                "state": decision["state"],
                "matched": decision["matched"].mapped("name"),
                "trigger_id": decision["trigger"].id,
                "trigger": decision["trigger"].name,
                "stage": decision["stage"].name,
                "reason": decision["reason"] or decision.get("loop_message") or "",
            }
        return {
            "lead": {"id": self.id, "name": self.display_name, "stage": self.stage_id.name},
            "trackable": result["trackable"],
            "trigger": trigger,
            "entered": {"id": result["entered"].id, "name": result["entered"].name}
            if result["entered"]
            else None,
            "loop_stopped": result["loop_stopped"],
            "rules": [
                {
                    "rule_id": rule.id,
                    "name": rule.name,
                    "stage": rule.stage_id.name,
                    "skipped_over": rule.stage_id != result["entered"],
                    "timing": rule.timing_description,
                    "run_at": fields.Datetime.to_string(run_at) if run_at else False,
                    "now": bool(run_at and run_at <= now),
                    "skipped": skipped or False,
                }
                for rule, run_at, skipped in result["rules"]
            ],
            # sudo: names and due times of the lead's jobs, nothing else leaves.
            "cancelled": [
                {"rule": job.rule_id.name, "run_at": fields.Datetime.to_string(job.run_at)}
                for job in result["cancelled"].sudo()
            ],
        }
