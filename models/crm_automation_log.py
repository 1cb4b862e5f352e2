# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import logging
from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine import params

_logger = logging.getLogger(__name__)

# Cursor-cache key of the per-transaction automatic-move counters (loop guard).
MOVES_KEY = "crm_automation_moves"

# Columns written by _log_many, with their SQL array types (see _log_columns).
LOG_COLUMNS = (
    ("lead_id", "int"),
    ("kind", "varchar"),
    ("rule_id", "int"),
    ("job_id", "int"),
    ("stage_id", "int"),
    ("from_stage_id", "int"),
    ("user_id", "int"),
    ("automatic", "bool"),
    ("origin", "varchar"),
    ("message", "text"),
    ("undo_data", "jsonb"),
    ("undo_of_id", "int"),
)


class CrmAutomationLog(models.Model):
    _name = "crm.automation.log"
    _description = "CRM Automation Ledger"
    _order = "id desc"
    _rec_name = "kind"

    lead_id = fields.Many2one(
        "crm.lead", required=True, index=True, ondelete="cascade", readonly=True
    )
    kind = fields.Selection(
        [
            ("stage_entered", "Stage entered"),
            ("rule_done", "Rule done"),
            ("rule_skipped", "Rule skipped"),
            ("job_cancelled", "Job cancelled"),
            ("job_retry", "Job will retry"),
            ("job_retried", "Job retried by hand"),
            ("job_failed", "Job failed"),
            ("activity_done", "Activity completed"),
            ("activity_moved", "Activity deadline moved"),
            ("activity_cancelled", "Activity cancelled"),
            ("lead_lost", "Lead lost"),
            ("loop_stopped", "Loop stopped"),
            ("trigger_fired", "Trigger fired"),
            ("trigger_blocked", "Trigger blocked"),
            ("trigger_notified", "Salesperson notified by a trigger"),
            ("gate_blocked", "Held by a stage gate"),
            ("undone", "Change undone"),
        ],
        required=True,
        readonly=True,
    )
    # Indexed for the same reason when a rule is deleted.
    rule_id = fields.Many2one(
        "crm.automation.rule", index="btree_not_null", ondelete="set null", readonly=True
    )
    # Indexed: deleting jobs (with their lead, or by retention) nulls this column; without
    # an index each deleted job scans the whole ledger (deleting 10,000 bench leads with
    # 100,000 jobs ran for over 10 minutes).
    job_id = fields.Many2one(
        "crm.automation.job", index="btree_not_null", ondelete="set null", readonly=True
    )
    stage_id = fields.Many2one("crm.stage", ondelete="set null", readonly=True)
    from_stage_id = fields.Many2one("crm.stage", ondelete="set null", readonly=True)
    user_id = fields.Many2one(
        "res.users", "Acting user", ondelete="set null", readonly=True, help="Who made the change."
    )
    automatic = fields.Boolean(
        readonly=True, help="The change was made by the automation (rule, trigger), not a person."
    )
    origin = fields.Char(readonly=True, help="What caused it: rule, trigger, event.")
    message = fields.Text(readonly=True)
    # Undo (crm.automation.undo): what an automatic change replaced, and the row of
    # the undo. The ledger stays append-only: "undone" is the existence of that row.
    undo_data = fields.Json(
        readonly=True, copy=False, help="Old and new values of the change (ids for relations)."
    )
    undo_of_id = fields.Many2one(
        "crm.automation.log",
        "Undo of",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="The ledger row whose change this row took back.",
    )
    undo_state = fields.Selection(
        [
            ("undoable", "Undoable"),
            ("undone", "Undone"),
            ("legacy", "Not undoable (recorded before undo existed)"),
            ("irreversible", "Cannot be taken back"),
            ("nothing", "Nothing to undo"),
        ],
        compute="_compute_undo_state",
        help="Whether the manager can take this automatic change back.",
    )

    def _compute_undo_state(self):
        self.env["crm.automation.undo"]._compute_undo_state(self)

    def action_undo(self):
        """Take back the automatic change of each row (automation managers)."""
        return self.env["crm.automation.undo"]._action_undo(self)

    def init(self):
        # The loop guard counts a lead's recent automatic entries on every automatic
        # move: (lead_id, create_date) keeps that a short index range scan.
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS crm_automation_log_lead_date_idx "
                "ON crm_automation_log (lead_id, create_date)"
            )
        )

    @api.model_create_multi
    def create(self, vals_list):
        # Append-only ledger: rows are written by the engine through _log*/sudo.
        if not self.env.su:
            raise UserError(_("The automation ledger is written by the automation only."))
        return super().create(vals_list)

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(_("The automation ledger is append-only."))

    @api.ondelete(at_uninstall=False)
    def _unlink_except_append_only(self):
        # Rows go away with their lead (ON DELETE CASCADE) or by retention (_gc_ledger).
        if not self.env.context.get("crm_automation_vacuum"):
            raise UserError(_("The automation ledger is append-only."))

    @api.model
    def _log(
        self,
        lead,
        kind,
        *,
        rule=None,
        job=None,
        stage=None,
        from_stage=None,
        message=None,
        automatic=None,
    ):
        """Append one ledger row per lead of ``lead``.

        :param lead: crm.lead recordset (one row each)
        :param kind: key of ``kind`` (extend it with selection_add)
        :param rule: crm.automation.rule or None
        :param job: crm.automation.job or None
        :param stage: crm.stage the row is about (entered, rule's stage...)
        :param from_stage: crm.stage left, for stage moves
        :param message: human explanation (condition, error...)
        :param automatic: made by the automation; default: context crm_automation_auto
        """
        self._log_many(
            [
                {
                    "lead_id": one.id,
                    "kind": kind,
                    "rule_id": rule.id if rule else False,
                    "job_id": job.id if job else False,
                    "stage_id": stage.id if stage else False,
                    "from_stage_id": from_stage.id if from_stage else False,
                    "message": message,
                    "automatic": automatic,
                }
                for one in lead
            ]
        )

    @api.model
    def _log_many(self, vals_list):
        """Append many ledger rows with one INSERT (bulk stage writes).

        Raw SQL: a write of 10,000 leads logs 10,000+ rows; the ORM would build and
        validate each record. Missing keys default to: acting user = env.uid,
        automatic/origin from the context (crm_automation_auto / crm_automation_origin).
        """
        if not vals_list:
            return
        ctx = self.env.context
        defaults = {
            "rule_id": ctx.get("crm_automation_rule_id") or None,
            "user_id": self.env.uid,
            "automatic": bool(ctx.get("crm_automation_auto")),
            "origin": ctx.get("crm_automation_origin") or None,
        }
        column_types = self._log_columns()
        columns = {name: [] for name, _sql_type in column_types}
        for vals in vals_list:
            for name in columns:
                value = vals.get(name)
                if value is None or (value is False and name != "automatic"):
                    value = defaults.get(name)
                if name in ("message", "origin") and value is not None:
                    value = str(value)
                elif name == "undo_data" and value is not None:
                    value = json.dumps(value)
                columns[name].append(value)
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO crm_automation_log
                (%(columns)s, create_uid, create_date, write_uid, write_date)
            SELECT *, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM unnest(%(arrays)s)
                """,
                columns=SQL(", ").join(SQL.identifier(name) for name in columns),
                uid=self.env.uid,
                now=now,
                arrays=SQL(", ").join(
                    SQL("%s::" + sql_type + "[]", columns[name]) for name, sql_type in column_types
                ),
            )
        )
        self.invalidate_model()
        self.env["crm.lead"].invalidate_model(["automation_log_ids", "automation_log_count"])

    @api.model
    def _log_columns(self):
        """(column, SQL type) pairs written by _log_many; extend to log new fields
        (e.g. a trigger or event many2one: ``[*super()._log_columns(), ("x_id", "int")]``)."""
        return list(LOG_COLUMNS)

    @api.autovacuum
    def _gc_ledger(self):
        """Delete ledger rows older than the retention (system parameter, days; 0 keeps all)."""
        days = params.get_int(self.env, "ledger_retention_days")
        if days <= 0:
            return
        limit = fields.Datetime.now() - timedelta(days=days)
        self.env.cr.execute(SQL("DELETE FROM crm_automation_log WHERE create_date < %s", limit))
        _logger.info(
            "Automation ledger: %s rows older than %s days deleted", self.env.cr.rowcount, days
        )

    # ------------------------------------------------------------------
    # Loop guard (automatic moves of leads)
    # ------------------------------------------------------------------

    @api.model
    def _loop_guard(self, leads, count=False):
        """Leads of ``leads`` still allowed an automatic move; the others get a
        ``loop_stopped`` ledger row.

        :param count: count this move in the per-transaction counter (the engine does
            it on entry; triggers call it without counting before they move)
        :return: crm.lead recordset allowed
        """
        if count:
            counters = self.env.cr.cache.setdefault(MOVES_KEY, defaultdict(int))
            for lead in leads:
                counters[lead.id] += 1
        stopped = self._loop_guard_refusals(leads)
        if stopped:
            self.env["crm.automation.log"]._log_many(
                [
                    {
                        "lead_id": lead.id,
                        "kind": "loop_stopped",
                        "stage_id": lead.stage_id.id,
                        "message": stopped[lead.id],
                    }
                    for lead in leads
                    if lead.id in stopped
                ]
            )
        return leads.filtered(lambda lead: lead.id not in stopped)

    @api.model
    def _loop_guard_refusals(self, leads, extra=0):
        """Why the loop guard stops an automatic move of leads of ``leads``; reads only
        (shared by the engine and the dry-run).

        :param extra: moves to add to the per-transaction counters (the dry-run counts
            the entry it simulates without touching them)
        :return: {lead id: reason} of the leads stopped
        """
        max_tx = params.get_int(self.env, "loop_max_moves_per_transaction")
        max_hour = params.get_int(self.env, "loop_max_moves_per_hour")
        counters = self.env.cr.cache.get(MOVES_KEY) or {}
        since = fields.Datetime.now() - timedelta(hours=1)
        ids = [lead_id for lead_id in leads.ids if isinstance(lead_id, int)]
        hourly = dict(
            self.env.execute_query(
                SQL(
                    """
                SELECT lead_id, count(*) FROM crm_automation_log
                 WHERE lead_id = ANY(%s) AND kind = 'stage_entered' AND automatic
                   AND create_date >= %s
                 GROUP BY lead_id
                    """,
                    ids,
                    since,
                )
            )
            if ids
            else []
        )
        stopped = {}
        for lead_id in leads.ids:
            if counters.get(lead_id, 0) + extra > max_tx:
                stopped[lead_id] = _(
                    "More than %(n)s automatic moves in one transaction.", n=max_tx
                )
            elif hourly.get(lead_id, 0) >= max_hour:
                stopped[lead_id] = _("More than %(n)s automatic moves in one hour.", n=max_hour)
        return stopped

    @api.model
    def _loop_guard_reset(self):
        """Forget the per-transaction move counters (after a commit)."""
        self.env.cr.cache.pop(MOVES_KEY, None)
