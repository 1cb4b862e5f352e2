# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Document events of crm.lead.event: "this document reached the state of that
trigger", recorded by the trigger's base.automation (models/crm_stage_trigger_document.py)."""

import logging

from odoo import _, api, fields, models

from ..engine import documents
from ..engine import events as lead_events

_logger = logging.getLogger(__name__)


class CrmLeadEventDocument(models.AbstractModel):
    _name = "crm.lead.event.document"
    _description = "CRM Lead Event: documents"

    document_model = fields.Char(
        readonly=True, help="document: model of the document, e.g. sale.order."
    )
    document_id = fields.Integer(
        "Document id", readonly=True, help="document: id of the document (kept when deleted)."
    )
    document_trigger_id = fields.Many2one(
        "crm.stage.trigger",
        "Watched by",
        ondelete="set null",
        readonly=True,
        help="document: the trigger whose automation rule saw the document reach its state.",
    )

    @api.model
    def _record_document(self, records, trigger_id):
        """The server action of a document trigger's base.automation: ``records`` (the
        documents) just reached the trigger's state; one event per document and lead,
        fired through the normal path.

        Never breaks the save of the document (an order confirmed, a payment
        registered): a failure is rolled back to a savepoint and logged.

        :param records: documents of the trigger's model
        :param trigger_id: id of the crm.stage.trigger
        :return: crm.lead.event created
        """
        # sudo: the user saving the document (a salesperson confirming an order, an
        # accountant registering a payment) records an automation fact, as the
        # tracking routes do; the trigger moves the lead as its "change stage as" user.
        Event = self.env["crm.lead.event"].sudo()
        trigger = self.env["crm.stage.trigger"].sudo().browse(trigger_id).exists()
        if not trigger or trigger.event_type != "document" or not records:
            return Event
        events = Event
        for document in records.sudo():
            try:
                with self.env.cr.savepoint():
                    events |= Event._record_document_event(trigger, document)
            except Exception:
                _logger.exception(
                    "Document trigger %s: event of %s could not be recorded", trigger.id, document
                )
        return events

    @api.model
    def _record_document_event(self, trigger, document):
        leads = trigger._document_leads(document)
        if not leads:
            return self.browse()
        state = documents.state_description(document, trigger._document_domain())
        name = document.display_name or str(document.id)
        model_name = self.env["ir.model"]._get(document._name).name
        text = (
            _("%(model)s %(name)s: %(state)s", model=model_name, name=name, state=state)
            if state
            else _("%(model)s %(name)s", model=model_name, name=name)
        )
        # As the events about the work on a lead (crm_lead_event_work.py): no score, no
        # opt-out filter; an order or an invoice is business, not tracking, a customer
        # who unsubscribed from emails still moves the deal when paying.
        events = self._create_dedup(
            [
                {
                    "lead_id": lead.id,
                    "event_type": "document",
                    "source": "document",
                    "document_model": document._name,
                    "document_id": document.id,
                    "document_trigger_id": trigger.id,
                    "text": text[: lead_events.TEXT_EXCERPT],
                }
                for lead in leads
            ]
        )
        events._fire()
        return events
