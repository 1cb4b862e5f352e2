# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The board and its dry-run for meetings and lost leads: what the activity templates
"create on" an event would create (meeting scheduled, lead lost...), with their
deadlines, the rules run when a lead is lost, and the analysis leaving those out of
the stage moves (they act on lost leads)."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from .crm_activity_template_meeting import MEETING_KEY

# Template events that are no engagement event: the dry-run tests them too.
LEAD_EVENTS = ("lead_lost",)


class CrmAutomationBoard(models.AbstractModel):
    _inherit = "crm.automation.board"

    @api.model
    def get_board(self, team_id=None):
        board = super().get_board(team_id)
        labels = dict(
            self.env["crm.activity.template"]._fields["event_key"]._description_selection(self.env)
        )
        board["lead_events"] = [[key, labels[key]] for key in LEAD_EVENTS]
        return board

    @api.model
    def _move_edges(self, stages, triggers, rules):
        # Rules run on lost leads move no open lead out of their stage: no edge.
        return super()._move_edges(
            stages, triggers, rules.filtered(lambda rule: rule.run_on == "stage_entry")
        )

    @api.model
    def _never_runs(self, rule, rules, edges):
        if rule.run_on == "lead_lost":
            # The stage-entry reasons (stage in the condition, leads moved out at
            # once) do not apply to a lost lead; a condition never true still does.
            if expression.is_false(self.env["crm.lead"], rule._get_domain()):
                return _("its condition %(domain)s is never true.", domain=rule.filter_domain)
            return None
        return super()._never_runs(rule, rules, edges)

    @api.model
    def _dry_run(self, lead_id, event_type=None, stage_id=None, detail=None):
        if event_type in LEAD_EVENTS:
            Lead = self.env["crm.lead"]
            lead = Lead.browse(int(lead_id)).exists() if str(lead_id).isdigit() else Lead
            if not lead:
                raise UserError(_("Choose a lead to test on."))
            lead.check_access("read")
            result = self._dry_run_json(lead, self._dry_run_lost_rules(lead))
            for rule in result["rules"]:
                rule["skipped_over"] = False
        else:
            result = super()._dry_run(lead_id, event_type, stage_id, detail)
            lead = self.env["crm.lead"].browse(result["lead"]["id"])
        result["activities"] = self._dry_run_activities(lead, event_type) if event_type else []
        return result

    @api.model
    def _dry_run_lost_rules(self, lead):
        """``_dry_run_decisions`` of marking ``lead`` lost: the "lead lost" rules of its
        pipeline, with their due times or why they do not run."""
        decisions = self._dry_run_decisions(lead)
        Rule = self.env["crm.automation.rule"]
        lost = lead.sudo().new({"active": False}, origin=lead.sudo())
        rule_leads = Rule._rules_when_lost(lost)
        plan = (
            self.env["crm.automation.job.plan"].sudo()._plan_jobs(rule_leads, fields.Datetime.now())
        )
        decisions["rules"] = [
            (Rule.browse(rule_id), run_at, skipped)
            for rule_id, _lead_id, run_at, skipped in plan.decisions()
        ]
        others = Rule.search(
            [
                ("run_on", "=", "lead_lost"),
                ("state", "=", "active"),
                ("team_id", "in", [False, lead.team_id.id]),
                ("id", "not in", [rule.id for rule, _leads in rule_leads]),
            ]
        )
        decisions["rules"] += [
            (
                rule,
                None,
                _("lost from %(stage)s, not from the rule's stages", stage=lead.stage_id.name),
            )
            for rule in others
        ]
        return decisions

    @api.model
    def _dry_run_activities(self, lead, event_key):
        """[{template, user, deadline, description, skipped}] of the active templates
        "create on" ``event_key`` for ``lead`` (reads only: a round-robin template
        names no assignee rather than moving its pointer)."""
        templates = self.env["crm.activity.template"].sudo().search([("event_key", "=", event_key)])
        if not templates:
            return []
        # The lead as the event leaves it, in memory (lost: archived in its stage).
        values = {"active": False} if event_key == "lead_lost" else {}
        lead = lead.sudo().new(values, origin=lead.sudo()) if values else lead.sudo()
        activities = []
        for template in templates:
            user = (
                lead.user_id or self.env.user
                if template.user_source == "round_robin"
                else template._get_assignee(lead)
            )
            skipped, deadline = "", False
            if not template._applies_to(lead):
                skipped = (
                    _(
                        "lost from %(stage)s, not from the template's stages",
                        stage=lead.stage_id.name,
                    )
                    if event_key == "lead_lost" and template.lost_stage_ids
                    else _("outside the template's scope")
                )
            else:
                deadline = template.with_context(**{MEETING_KEY: False})._compute_deadline(
                    lead, user
                )
                if not deadline:
                    skipped = (
                        _("the lead has no upcoming meeting")
                        if template.deadline_base == "meeting"
                        else _("the lead's date is empty")
                    )
            activities.append(
                {
                    "template_id": template.id,
                    "template": template.name,
                    "user": user.name if not skipped else "",
                    "description": template._deadline_description(),
                    "deadline": fields.Datetime.to_string(deadline) if deadline else False,
                    "skipped": skipped or False,
                }
            )
        return activities
