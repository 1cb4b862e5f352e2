# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Document triggers (event type ``document``): when a record linked to the lead
reaches a state (quotation sent, order confirmed, invoice paid), move the lead.

The documents are watched by Odoo's own ``base_automation``: each document trigger
keeps one ``base.automation`` (on save, "before" = not matching, "after" = matching)
whose code action records a ``document`` event for the leads found through the
trigger's path; from there the normal event path decides (condition, forward-only,
won/lost, loop guard, ledger). The addon depends on neither ``sale`` nor ``account``.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

from ..engine import documents

# Code of the server action of a trigger's base.automation (``%d``: the trigger's id).
ACTION_CODE = 'env["crm.lead.event"]._record_document(records, %d)\n'
# Trigger fields the base.automation follows.
AUTOMATION_FIELDS = {
    "name",
    "event_type",
    "document_model",
    "document_domain",
    "document_lead_path",
    "active",
    "state",
}


class CrmStageTriggerDocument(models.AbstractModel):
    _name = "crm.stage.trigger.document"
    _description = "CRM Stage Trigger: documents"

    document_preset = fields.Selection(
        selection="_selection_document_preset",
        string="Document preset",
        help="document: a usual case that fills the model, condition and path below "
        "(offered when the sales or invoicing apps are installed); Custom: your own.",
    )
    # The technical name, not a link to ir.model: automation managers cannot read
    # ir.model (administrators only), and XML-RPC callers know the name.
    document_model = fields.Char(
        help="document: technical name of the kind of record watched, e.g. sale.order "
        "(quotations and orders), account.move (invoices).",
    )
    # The model of the condition editor: only a model of this database (a name being
    # typed would crash the domain widget).
    document_model_known = fields.Char(compute="_compute_document_model_known")
    document_domain = fields.Char(
        "Document condition",
        default="[]",
        help="document: the state the document must reach (a domain on the document), "
        "e.g. [('state', '=', 'sale')]. The lead moves when a document starts matching it.",
    )
    document_lead_path = fields.Char(
        "Path to the lead",
        help="document: field path from the document to its leads, e.g. opportunity_id, "
        "or invoice_line_ids.sale_line_ids.order_id.opportunity_id for invoices.",
    )
    document_description = fields.Char(
        compute="_compute_document_description",
        help="What the trigger watches, in words (automation board).",
    )
    automation_id = fields.Many2one(
        "base.automation",
        "Automation rule",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="document: Odoo automation rule watching the documents, kept in step with the "
        "trigger (created, updated, archived and deleted with it).",
    )

    @api.model
    def _selection_document_preset(self):
        labels = self._document_preset_labels()
        return [
            *((key, labels[key]) for key in documents.available_presets(self.env)),
            ("custom", _("Custom")),
        ]

    @api.model
    def _document_preset_labels(self):
        return {
            "quotation_sent": _("Quotation sent"),
            "sale_confirmed": _("Sales order confirmed"),
            "invoice_paid": _("Customer invoice paid"),
        }

    @api.depends("document_model")
    def _compute_document_model_known(self):
        for trigger in self:
            model = trigger.document_model
            known = model and model in self.env and not self.env[model]._abstract
            trigger.document_model_known = model if known else False

    @api.depends("event_type", "document_preset", "document_model", "document_domain")
    def _compute_document_description(self):
        presets = dict(self._fields["document_preset"]._description_selection(self.env))
        # sudo: the model's label only (ir.model is for administrators).
        IrModel = self.env["ir.model"].sudo()
        for trigger in self:
            if trigger.event_type != "document" or not trigger.document_model:
                trigger.document_description = False
                continue
            model = IrModel._get(trigger.document_model).name or trigger.document_model
            if trigger.document_preset and trigger.document_preset != "custom":
                trigger.document_description = _(
                    "%(model)s: %(preset)s",
                    model=model,
                    preset=presets.get(trigger.document_preset, trigger.document_preset),
                )
            else:
                trigger.document_description = _(
                    "%(model)s reaches %(domain)s",
                    model=model,
                    domain=trigger.document_domain or "[]",
                )

    @api.constrains("event_type", "document_model", "document_domain", "document_lead_path")
    def _check_document(self):
        for trigger in self.filtered(lambda t: t.event_type == "document"):
            model = trigger.document_model
            if not model or model not in self.env or self.env[model]._abstract:
                raise ValidationError(
                    _(
                        "Trigger %(name)s: choose the model of the documents (a technical "
                        "name such as sale.order), not %(model)s.",
                        name=trigger.name,
                        model=model or "-",
                    )
                )
            if self.env[model]._transient:
                raise ValidationError(
                    _("Trigger %(name)s: %(model)s is a wizard.", name=trigger.name, model=model)
                )
            error = documents.path_error(self.env, model, trigger.document_lead_path)
            if error:
                raise ValidationError(
                    _(
                        "Trigger %(name)s: the path %(path)s does not lead from %(model)s "
                        "to leads (%(error)s).",
                        name=trigger.name,
                        path=trigger.document_lead_path or "-",
                        model=model,
                        error=error,
                    )
                )
            try:
                self.env[model].sudo().search_count(trigger._document_domain(), limit=1)
            except Exception as error:
                raise ValidationError(
                    _(
                        "Invalid document condition %(domain)s: %(error)s",
                        domain=trigger.document_domain,
                        error=error,
                    )
                ) from error

    @api.onchange("document_preset")
    def _onchange_document_preset(self):
        if self.document_preset in documents.PRESETS:
            self.update(self._document_preset_values(self.document_preset))
            if not self.name:
                self.name = self._document_preset_labels()[self.document_preset]

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [self._document_fill_preset(vals) for vals in vals_list]
        triggers = super().create(vals_list)
        triggers.filtered(lambda t: t.event_type == "document")._sync_document_automation()
        return triggers

    def write(self, vals):
        vals = self._document_fill_preset(vals)
        res = super().write(vals)
        if AUTOMATION_FIELDS & vals.keys():
            self.filtered(
                lambda t: t.event_type == "document" or t.automation_id
            )._sync_document_automation()
        return res

    def unlink(self):
        # Through the ORM before the rows go (not by the database's cascade), so that
        # base_automation unpatches the document model. sudo: base.automation is for
        # administrators; automation managers manage it through their triggers.
        self.check_access("unlink")
        self.sudo().automation_id.unlink()
        return super().unlink()

    # ------------------------------------------------------------------
    # Presets, domain, the base.automation
    # ------------------------------------------------------------------

    @api.model
    def _document_preset_values(self, key):
        _label, model, domain, path = documents.PRESETS[key]
        return {
            "event_type": "document",
            "document_model": model,
            "document_domain": repr(domain),
            "document_lead_path": path,
        }

    @api.model
    def _document_fill_preset(self, vals):
        """A preset given without its model (code, XML-RPC) fills model, condition and
        path; values given explicitly (not empty) win."""
        key = vals.get("document_preset")
        if key not in documents.PRESETS:
            return vals
        if key not in documents.available_presets(self.env):
            raise ValidationError(
                _("The document preset %(preset)s needs an app that is not installed.", preset=key)
            )
        if vals.get("document_model"):
            return vals
        filled = dict(vals)
        for name, value in self._document_preset_values(key).items():
            if not filled.get(name):
                filled[name] = value
        return filled

    def _document_domain(self):
        self.ensure_one()
        if not self.document_domain:
            return []
        return safe_eval(self.document_domain, {"uid": self.env.uid, "user": self.env.user})

    def _document_automation_values(self):
        self.ensure_one()
        before, after = documents.reached_domain(self._document_domain())
        return {
            "name": _("CRM trigger: %(name)s", name=self.name),
            "model_id": self.env["ir.model"]._get_id(self.document_model),
            "trigger": "on_create_or_write",
            "filter_pre_domain": repr(before),
            "filter_domain": repr(after),
            "active": self.active and self.state == "active",
            "cpa_trigger_id": self.id,
        }

    def _sync_document_automation(self):
        """Create, update, archive or delete the base.automation of each trigger so that
        it watches what the trigger says, only while the trigger is active."""
        # sudo: base.automation and code server actions are for administrators; the
        # automation managers who edit triggers manage them through the trigger only.
        for trigger in self.sudo().with_context(active_test=False):
            automation = trigger.automation_id
            model = trigger.document_model
            if trigger.event_type != "document" or not model or model not in self.env:
                automation.unlink()
                continue
            values = trigger._document_automation_values()
            if automation and automation.model_id.model != model:
                # Its action is bound to the old model: start again.
                automation.unlink()
                automation = automation.browse()
            if automation:
                automation.write(values)
                continue
            automation = self.env["base.automation"].sudo().create(values)
            # Created on its own: x2many commands drop sudo on server actions
            # (fields.One2many._check_sudo_commands).
            self.env["ir.actions.server"].sudo().create(
                {
                    "name": _("Record the document event of the CRM trigger"),
                    "model_id": values["model_id"],
                    "usage": "base_automation",
                    "base_automation_id": automation.id,
                    "state": "code",
                    "code": ACTION_CODE % trigger.id,
                }
            )
            trigger.automation_id = automation

    def _document_leads(self, document):
        """Leads of ``document`` through the trigger's path (superuser: the user who
        confirms an order may not read its invoices' lines)."""
        self.ensure_one()
        return documents.leads_of(document.sudo(), self.document_lead_path)

    # ------------------------------------------------------------------
    # Matching (crm.stage.trigger._match)
    # ------------------------------------------------------------------

    def _match_document(self, event):
        """A recorded event matches the trigger whose automation saw the document. In a
        dry-run (no document), any document trigger matches, or, with a document name
        as detail, those whose documents of that name belong to the lead and match
        their condition."""
        if event.document_trigger_id:
            return event.document_trigger_id == self
        if self.document_model not in self.env:
            return False
        if not event.text:
            return True
        Model = self.env[self.document_model].sudo()
        found = Model.browse([pair[0] for pair in Model.name_search(event.text, limit=20)])
        return any(
            event.lead_id in self._document_leads(document)
            for document in found.filtered_domain(self._document_domain())
        )
