# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from collections import Counter
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

# Report keys (crm.automation.undo._undo) of the preview table's columns, in order.
COLUMNS = ("undone", "changed", "legacy", "irreversible", "already", "nothing")


class CrmAutomationUndoWizard(models.TransientModel):
    """Bulk undo: everything a rule (or a trigger) did between two moments, previewed
    with counts per kind of change before it runs set-wise."""

    _name = "crm.automation.undo.wizard"
    _description = "Undo automatic changes"

    rule_id = fields.Many2one(
        "crm.automation.rule", help="Undo the changes of this rule (and its stage moves)."
    )
    trigger_id = fields.Many2one(
        "crm.stage.trigger", help="Undo the stage moves made by this trigger."
    )
    date_from = fields.Datetime(
        "From", required=True, default=lambda self: fields.Datetime.now() - timedelta(days=1)
    )
    date_to = fields.Datetime("To", required=True, default=fields.Datetime.now)
    state = fields.Selection(
        [("draft", "Draft"), ("preview", "Preview"), ("done", "Done")], default="draft"
    )
    count_undoable = fields.Integer(readonly=True)
    count_changed = fields.Integer(readonly=True)
    count_not_undoable = fields.Integer(readonly=True)
    preview = fields.Html(readonly=True, sanitize=False)

    @api.constrains("rule_id", "trigger_id", "date_from", "date_to")
    def _check_scope(self):
        for wizard in self:
            if bool(wizard.rule_id) == bool(wizard.trigger_id):
                raise ValidationError(_("Choose a rule or a trigger (one of them)."))
            if wizard.date_from > wizard.date_to:
                raise ValidationError(_("The start of the period is after its end."))

    def _logs(self):
        """Ledger rows of the rule / trigger in the period, record rules applied."""
        self.ensure_one()
        Log = self.env["crm.automation.log"]
        if self.rule_id:
            return Log.search(
                [
                    ("rule_id", "=", self.rule_id.id),
                    ("kind", "in", ("stage_entered", "rule_done")),
                    ("create_date", ">=", self.date_from),
                    ("create_date", "<=", self.date_to),
                ]
            )
        # The trigger's id is in the undo data of its moves (no column of its own).
        self.env["crm.automation.log"].flush_model()
        ids = [
            row[0]
            for row in self.env.execute_query(
                SQL(
                    """
                SELECT id FROM crm_automation_log
                 WHERE kind = 'stage_entered' AND create_date BETWEEN %s AND %s
                   AND (undo_data->>'trigger_id')::int = %s
                    """,
                    self.date_from,
                    self.date_to,
                    self.trigger_id.id,
                )
            )
        ]
        return Log.search([("id", "in", ids)])

    def action_preview(self):
        """Counts per kind of change: undoable, changed since, not undoable."""
        self._check_undo_manager()
        report = self.env["crm.automation.undo"]._undo(self._logs(), dry_run=True)
        self._set_report(report, _("Preview: nothing was changed yet."))
        self.state = "preview"
        return self._reopen()

    def action_run(self):
        """Undo the undoable changes set-wise; the others are listed as such."""
        self._check_undo_manager()
        report = self.env["crm.automation.undo"]._undo(self._logs())
        self._set_report(report, _("Done: %(n)s changes undone.", n=len(report["undone"])))
        self.state = "done"
        return self._reopen()

    def _check_undo_manager(self):
        self.env["crm.automation.undo"]._check_manager()
        self.ensure_one()

    def _column_titles(self):
        return {
            "undone": _("Undoable"),
            "changed": _("Changed since"),
            "legacy": _("Not undoable (recorded before undo existed)"),
            "irreversible": _("Cannot be taken back"),
            "already": _("Already undone"),
            "nothing": _("Nothing to undo"),
        }

    def _set_report(self, report, title):
        Undo = self.env["crm.automation.undo"]
        titles = self._column_titles()
        counts = Counter()
        for key in COLUMNS:
            for item in report[key]:
                log = item[0] if isinstance(item, tuple) else item
                counts[(Undo._row_label(log), key)] += 1
        kinds = sorted({kind for kind, _key in counts})
        head = Markup("").join(Markup("<th>%s</th>") % titles[key] for key in COLUMNS)
        body = Markup("").join(
            Markup("<tr><td>%s</td>%s</tr>")
            % (
                kind,
                Markup("").join(
                    Markup("<td class='text-end o_cpa_count_%s'>%s</td>")
                    % (key, counts[(kind, key)])
                    for key in COLUMNS
                ),
            )
            for kind in kinds
        )
        reasons = Markup("").join(
            Markup("<li>%s</li>") % escape(reason) for _log, reason in report["changed"][:20]
        )
        self.write(
            {
                "count_undoable": len(report["undone"]),
                "count_changed": len(report["changed"]),
                "count_not_undoable": sum(
                    len(report[key]) for key in ("legacy", "irreversible", "already", "nothing")
                ),
                "preview": Markup(
                    "<p>%s</p><table class='table table-sm o_cpa_undo_preview'>"
                    "<thead><tr><th>%s</th>%s</tr></thead><tbody>%s</tbody></table>%s"
                )
                % (
                    title,
                    _("Kind"),
                    head,
                    body
                    or Markup("<tr><td colspan='7'>%s</td></tr>") % _("No change in the period."),
                    Markup("<ul>%s</ul>") % reasons if reasons else "",
                ),
            }
        )

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Undo automatic changes"),
        }
