# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import time
from collections import defaultdict
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, groupby

from ..engine import calls, documents, ingest, ingest_batch, params, score, urls
from ..engine import dispatch as automation_dispatch
from ..engine import events as lead_events
from ..engine import verdict as verdicts

_logger = logging.getLogger(__name__)

# Kept importable from here (crm.stage.trigger, the dry-run).
EVENT_TYPES = lead_events.EVENT_TYPES

# Write conflicts tolerated per run of the held events cron before it leaves the rest
# to its next run.
MAX_HELD_CONFLICTS = 5


class CrmLeadEvent(models.Model):
    _name = "crm.lead.event"
    _description = "CRM Lead Engagement Event"
    _order = "date desc, id desc"
    _rec_name = "event_type"

    lead_id = fields.Many2one(
        "crm.lead", required=True, index=True, ondelete="cascade", readonly=True
    )
    event_type = fields.Selection(lead_events.EVENT_TYPES, "Type", required=True, readonly=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True)
    source = fields.Selection(
        lead_events.SOURCES,
        required=True,
        readonly=True,
    )
    verdict = fields.Selection(
        [(verdicts.HUMAN, "Human"), (verdicts.MACHINE, "Machine"), (verdicts.UNKNOWN, "Unknown")],
        required=True,
        default=verdicts.HUMAN,
        readonly=True,
        help="Machine events (proxies, prefetchers, link scanners, bursts) never fire triggers.",
    )
    verdict_reason = fields.Char(readonly=True)
    dedup_key = fields.Char(
        "Deduplication key",
        readonly=True,
        help="Two events with the same key are the same fact: the second one is dropped.",
    )
    state = fields.Selection(
        lead_events.STATES,
        default="new",
        readonly=True,
    )
    trigger_id = fields.Many2one(
        "crm.stage.trigger", "Fired trigger", ondelete="set null", readonly=True
    )
    # payload
    url = fields.Char("URL", readonly=True)
    link_tracker_id = fields.Many2one("link.tracker", "Link", ondelete="set null", readonly=True)
    message_ref = fields.Integer(
        "Message", readonly=True, help="Id of the mail.message (kept when the message is deleted)."
    )
    partner_id = fields.Many2one("res.partner", "Contact", ondelete="set null", readonly=True)
    mail_template_id = fields.Many2one(
        "mail.template", "Email template", ondelete="set null", readonly=True
    )
    form_name = fields.Char("Form", readonly=True)
    phone = fields.Char(readonly=True, help="Customer number, E.164.")
    line_number = fields.Char("Our line", readonly=True, help="Our number, E.164.")
    external_ref = fields.Char("External id", readonly=True)
    channel_id = fields.Many2one("discuss.channel", "Chat", ondelete="set null", readonly=True)
    livechat_channel_id = fields.Many2one(
        "im_livechat.channel", "Live chat channel", ondelete="set null", readonly=True
    )
    text = fields.Char("Excerpt", readonly=True)
    seconds = fields.Integer(
        readonly=True, help="Waiting time (late chat answers), duration (calls)."
    )
    ip_network = fields.Char(
        "Network", readonly=True, help="Truncated address (/24, /48), never the full IP."
    )
    ua_family = fields.Char(
        "Client", readonly=True, help="Browser family only, not the full user agent."
    )
    user_id = fields.Many2one("res.users", "By", ondelete="set null", readonly=True)
    # Events about the work on a lead rather than the customer's engagement: a field
    # changed (field_changed), an activity done or late (activity_done / activity_late).
    # They score nothing and track nobody (no opt-out applies).
    field_name = fields.Char("Field", readonly=True, help="field_changed: technical name.")
    old_value = fields.Char(readonly=True, help="field_changed: value before (ids, key, number).")
    new_value = fields.Char(readonly=True, help="field_changed: value after.")
    activity_type_id = fields.Many2one(
        "mail.activity.type", "Activity type", ondelete="set null", readonly=True
    )
    # Document events: "this document reached the state of that trigger", recorded by
    # the trigger's base.automation (crm.stage.trigger._sync_document_automation).
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

    def init(self):
        # The dedup index of insert_unless_duplicate and the index of a lead's recent
        # events (engine/events.py).
        self.env.cr.execute(lead_events.DEDUP_INDEX)
        self.env.cr.execute(lead_events.RECENT_INDEX)
        # Claims of unknown callers' numbers (engine/calls.py claim_caller).
        self.env.cr.execute(calls.CLAIM_TABLE)

    def _compute_display_name(self):
        labels = dict(self._fields["event_type"]._description_selection(self.env))
        for event in self:
            event.display_name = labels.get(event.event_type, event.event_type)

    # ------------------------------------------------------------------
    # Recording
    # ------------------------------------------------------------------

    @api.model
    def _record(
        self, leads, event_type, source, *, dedup_key=None, fire=True, hold=False, **values
    ):
        """Record one event per lead of ``leads`` and fire the matching triggers.

        Leads whose email or partner is blacklisted (opted out), and archived leads,
        are not tracked. A ``dedup_key`` already recorded drops the event.

        :param leads: crm.lead recordset
        :param event_type: key of EVENT_TYPES
        :param source: key of ``source``
        :param dedup_key: string unique per fact and lead (the lead id is appended)
        :param fire: run the triggers (machine events never do)
        :param hold: keep the event ``held`` (no score, no trigger) until the burst
            window has passed: ``_cron_fire_held_events`` decides then
        :param values: other field values (verdict, url, phone...)
        :return: crm.lead.event created (duplicates and opted-out leads excluded)
        """
        leads = leads._cpa_trackable()
        if not leads:
            return self.browse()
        if values.get("text"):
            values["text"] = values["text"][: lead_events.TEXT_EXCERPT]
        values.setdefault("verdict", verdicts.HUMAN)
        if hold and fire:
            values["state"] = "held"
        vals_list = []
        for lead in leads:
            vals = dict(values, lead_id=lead.id, event_type=event_type, source=source)
            if dedup_key:
                vals["dedup_key"] = lead_events.lead_key(dedup_key, lead.id)
            vals_list.append(vals)
        events = self._create_dedup(vals_list)
        if not events:
            return events
        if hold and fire:
            self._schedule_held_events(values.get("date"))
            return events
        events._add_score()
        if fire:
            events._fire()
        return events

    def _create_dedup(self, vals_list):
        """Create events, silently dropping those whose dedup key exists, even when a
        concurrent transaction inserts the same key at the same time."""
        events = self.browse()
        now = fields.Datetime.now()
        for vals in vals_list:
            if not vals.get("dedup_key"):
                events |= self.create(vals)
                continue
            row = self._dedup_row(vals, now)
            event_id = lead_events.insert_unless_duplicate(self.env.cr, row)
            if event_id:
                # Raw insert: the lead's cached list of events is stale.
                self.env["crm.lead"].browse(vals["lead_id"]).invalidate_recordset(
                    ["cpa_event_ids", "cpa_event_count"]
                )
                events |= self.browse(event_id)
        return events

    def _dedup_row(self, vals, now):
        """The crm_lead_event row of ``vals`` (an event with a dedup key) for a raw insert."""
        row = {"state": "new", "date": now, **vals}
        # Texts come from public requests; PostgreSQL refuses NUL in a string.
        row = {
            name: value.replace("\x00", "") if isinstance(value, str) else value
            for name, value in row.items()
        }
        row.update(create_uid=self.env.uid, create_date=now, write_uid=self.env.uid, write_date=now)
        for name in row:
            if name not in self._fields or not self._fields[name].store:
                raise ValueError(f"crm.lead.event has no stored field {name}")
        return row

    def _add_score(self):
        """Engagement score of the leads: points per (non-machine) event type; a
        score watched by a trigger may move the lead ("reaches")."""
        leads = self.lead_id
        before = leads._automation_snapshot(leads._automation_watched(["engagement_score"]))
        for event in self.filtered(lambda e: e.verdict != verdicts.MACHINE):
            points = params.get_int(self.env, f"score_{event.event_type}")
            if points:
                # Relative UPDATE: concurrent events of one lead add up, none is lost.
                self.env.execute_query(
                    SQL(
                        "UPDATE crm_lead SET engagement_score = COALESCE(engagement_score, 0) + %s "
                        "WHERE id = %s",
                        points,
                        event.lead_id.id,
                    )
                )
                event.lead_id.invalidate_recordset(["engagement_score"])
        leads._automation_fields_changed(before)

    def _fire(self):
        """Run the triggers of non-machine events and create the activities of the
        templates set to "create on" their type (a task, no stage move); machine events
        are only kept."""
        machine = self.filtered(lambda e: e.verdict == verdicts.MACHINE)
        machine.write({"state": "ignored"})
        Template = self.env["crm.activity.template"]
        for event in self - machine:
            self.env["crm.stage.trigger"]._fire_event(event)
            Template._create_for_event(event.lead_id, event.event_type)

    @api.model
    def _schedule_held_events(self, date=None):
        """Wake the held events cron when the burst window of a new click (received at
        ``date``, default now; or of each click of a list of dates) closes."""
        cron = self.env.ref("crm_pipeline_automation.ir_cron_crm_lead_event_fire_held", False)
        if cron:
            window = timedelta(seconds=self._thresholds()["verdict_burst_window_seconds"] + 1)
            dates = date if isinstance(date, list) else [date or fields.Datetime.now()]
            cron.sudo()._trigger(sorted({at + window for at in dates}))

    @api.model
    def _record_ingested(self, rows):
        """Record the events of a batch of queued opens, clicks and visits set-wise:
        what ``_record_email_open``, ``_record_link_click`` and ``_record_url_visited``
        record for each row one after the other, in a few queries for the batch.

        Lookups once (tracked leads, partners, templates, links, recorded dedup keys,
        recent clicks), the plan in memory (engine/ingest_batch.py), one insert; then
        the leads' events are scored and fired in rounds (the first event of each lead,
        then the second...): one score UPDATE per round, and each lead's events reach
        its triggers in arrival order, a move by its first event seen by its second.

        :param rows: claimed rows of kinds ingest_batch.SETWISE_KINDS, grouped by key,
            in arrival order per key
        :return: crm.lead.event created (held clicks included)
        :raise ingest_batch.NotSetwise: the batch must be processed row by row
        """
        cr = self.env.cr
        Lead = self.env["crm.lead"]
        tracked = ingest.tracked_leads(cr, {ingest_batch.lead_of(row) for row in rows})
        if Lead.browse(tracked)._automation_watched(["engagement_score"]):
            # A score watched by a "field value changed" trigger fires per event.
            raise ingest_batch.NotSetwise("engagement score watched")
        partner_ids, template_ids, link_ids = ingest_batch.token_ids(rows)
        thresholds = self._thresholds()
        clicks = [row for row in rows if row[1] == "click"]
        recent = []
        if clicks:
            window = timedelta(seconds=thresholds["verdict_burst_window_seconds"])
            recent = lead_events.recent_clicks(
                cr,
                {row[3]["n"][0] for row in clicks} & tracked,
                {row[3]["n"][1] for row in clicks},
                min(ingest_batch.received(row) for row in clicks) - window,
            )
        planned_events, remarks = ingest_batch.plan(
            rows,
            tracked=tracked,
            partners=set(self.env["res.partner"].browse(partner_ids).exists().ids),
            templates=set(self.env["mail.template"].browse(template_ids).exists().ids),
            links=ingest.link_urls(cr, link_ids),
            thresholds=thresholds,
            existing=lead_events.existing_keys(cr, ingest_batch.candidate_keys(rows)),
            recent=recent,
        )
        for reason, event_ids in groupby(remarks, key=remarks.get):
            self.browse(event_ids).write({"verdict": verdicts.MACHINE, "verdict_reason": reason})
        if not planned_events:
            return self.browse()
        now = fields.Datetime.now()
        inserted = lead_events.insert_many_unless_duplicate(
            cr, [self._dedup_row(values, now) for values, _held in planned_events]
        )
        # Raw insert: the leads' cached lists of events are stale.
        Lead.browse({values["lead_id"] for values, _held in planned_events}).invalidate_recordset(
            ["cpa_event_ids", "cpa_event_count"]
        )
        # A key taken by a concurrent transaction since the lookup: its event dropped.
        planned = [
            (inserted[values["dedup_key"]], values, held)
            for values, held in planned_events
            if values["dedup_key"] in inserted
        ]
        events = self.browse([event_id for event_id, _values, _held in planned])
        held = [values["date"] for _id, values, is_held in planned if is_held]
        if held:
            self._schedule_held_events(held)
        live = [(event_id, values) for event_id, values, is_held in planned if not is_held]
        machine = [event_id for event_id, values in live if values["verdict"] == verdicts.MACHINE]
        # Machine events are only kept (_fire): no score, no trigger.
        self.browse(machine).write({"state": "ignored"})
        human = [(event_id, values) for event_id, values in live if event_id not in set(machine)]
        if not human:
            return events
        Trigger = self.env["crm.stage.trigger"]
        Template = self.env["crm.activity.template"]
        # The candidate triggers of _decide_event read once for the batch (filtered per
        # event and lead team in memory).
        candidates = Trigger.search(
            [
                ("event_type", "in", list({values["event_type"] for _id, values in human})),
                ("state", "=", "active"),
            ]
        )
        points = {
            event_type: params.get_int(self.env, f"score_{event_type}")
            for event_type in {values["event_type"] for _id, values in human}
        }
        for batch_round in ingest_batch.rounds(human, lambda item: item[1]["lead_id"]):
            score.add_event_points(
                self.env,
                {values["lead_id"]: points[values["event_type"]] for _id, values in batch_round},
            )
            # Read with the whole batch's events (one read for all the rounds).
            round_events = self.browse([event_id for event_id, _values in batch_round])
            for event in round_events.with_prefetch(events._prefetch_ids):
                Trigger._fire_event(event, candidates=candidates)
                Template._create_for_event(event.lead_id, event.event_type)
        return events

    @api.model
    def _cron_fire_held_events(self, limit=500):
        """Score and fire the held clicks whose burst window has passed.

        By then no later click can make them part of a burst: their verdict is final
        (a burst re-marked them machine: they are ignored). A held click whose lead
        still has requests queued within its window (crm.lead.event.ingest) waits for
        them to be processed. Rows are claimed with
        ``FOR UPDATE SKIP LOCKED``, one savepoint per event, one commit per batch
        outside tests: a crash leaves the rest held for the next run, none fires twice.

        :return: number of events decided
        """
        window = self._thresholds()["verdict_burst_window_seconds"]
        commit = automation_dispatch.may_commit(self.env)
        done, conflicts = 0, 0
        while conflicts <= MAX_HELD_CONFLICTS:
            closed = fields.Datetime.now() - timedelta(seconds=window + 1)
            self.env.flush_all()
            try:
                with self.env.cr.savepoint(flush=False):
                    rows = self.env.execute_query(
                        SQL(
                            "SELECT id FROM crm_lead_event WHERE state = 'held' AND date <= %s "
                            "AND %s ORDER BY date, id LIMIT %s FOR UPDATE SKIP LOCKED",
                            closed,
                            ingest.no_pending_within(SQL("crm_lead_event"), window),
                            limit,
                        )
                    )
            except psycopg2.errors.SerializationFailure:
                # A held row changed after our snapshot (a burst re-marked it, another
                # worker decided it): start again with a fresh snapshot.
                if not commit:
                    break
                self.env.cr.rollback()
                continue
            if not rows:
                break
            conflict = False
            for event in self.browse([row[0] for row in rows]):
                try:
                    with self.env.cr.savepoint():
                        event.state = "new"
                        event._add_score()
                        event._fire()
                except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                    # The lead was written by another transaction after our snapshot
                    # (a salesperson, a route, the dispatcher): rolled back to the
                    # savepoint, the event stays held and is tried again with a fresh
                    # snapshot after this batch's commit.
                    conflict = True
                    conflicts += 1
                    break
                except Exception:
                    _logger.exception("Held engagement event %s could not fire", event.id)
                    event.state = "blocked"
                done += 1
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            elif conflict:
                break
            if len(rows) < limit and not conflict:
                break
        self.env.flush_all()
        closed = fields.Datetime.now() - timedelta(seconds=window + 1)
        (remaining,) = self.env.execute_query(
            SQL("SELECT count(*) FROM crm_lead_event WHERE state = 'held' AND date <= %s", closed)
        )[0]
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _thresholds(self):
        return {name: params.get_int(self.env, name) for name in verdicts.THRESHOLDS}

    @api.autovacuum
    def _gc_caller_claims(self):
        """Claims of unknown callers only matter while their transaction runs."""
        calls.gc_caller_claims(self.env.cr)

    @api.autovacuum
    def _gc_events(self):
        """Delete events older than the retention (system parameter, days; 0 keeps all)."""
        days = params.get_int(self.env, "event_retention_days")
        if days <= 0:
            return
        limit = fields.Datetime.now() - timedelta(days=days)
        self.env.cr.execute(SQL("DELETE FROM crm_lead_event WHERE date < %s", limit))
        _logger.info(
            "Engagement events: %s rows older than %s days deleted", self.env.cr.rowcount, days
        )

    @api.model
    def _record_activities(self, event_type, activities):
        """One ``event_type`` event per activity of a lead in ``activities`` (each
        activity once: deduplicated on its id), fired at once.

        :param event_type: ``activity_done`` or ``activity_late``
        :param activities: list of (lead id, activity id, activity type id, summary)
        :return: crm.lead.event created
        """
        leads = self.env["crm.lead"].browse({row[0] for row in activities}).exists()
        vals_list = [
            {
                "lead_id": lead_id,
                "event_type": event_type,
                "source": "activity",
                "verdict": "human",
                "dedup_key": f"{event_type}{activity_id}:{lead_id}",
                "activity_type_id": type_id or False,
                "text": (summary or "")[:200] or False,
                "user_id": self.env.uid,
            }
            for lead_id, activity_id, type_id, summary in activities
            if lead_id in leads.ids
        ]
        events = self._create_dedup(vals_list)
        events._fire()
        return events

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
                # Savepoint: a failing document event is rolled back alone, the save of
                # the document goes on.
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
        # As the events about the work on a lead (_record_activities): no score, no
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

    # ------------------------------------------------------------------
    # Public routes (called as superuser after the token was verified)
    # ------------------------------------------------------------------

    @api.model
    def _cpa_token_validity_seconds(self):
        days = params.get_int(self.env, "token_validity_days")
        return days * 86400

    @api.model
    def _cpa_token_expired(self, issued_at):
        """Tokens expire after the validity (system parameter token_validity_days)."""
        now = time.time()
        return issued_at > now + 300 or now - issued_at > self._cpa_token_validity_seconds()

    @api.model
    def _cpa_client_values(self, user_agent, ip):
        return lead_events.client_values(user_agent, ip)

    @api.model
    def _record_email_open(
        self,
        lead_id,
        message_id,
        partner_id,
        template_id,
        sent_at,
        user_agent,
        ip,
        received_at=None,
    ):
        """An open pixel was fetched (at ``received_at``, default now): event with its
        verdict (MPP, prefetch, too early)."""
        lead = self.env["crm.lead"].browse(lead_id).exists()
        if not lead:
            return self.browse()
        received_at = received_at or fields.Datetime.now()
        verdict, reason = verdicts.open_verdict(
            user_agent, ip, lead_events.timestamp(received_at) - sent_at, self._thresholds()
        )
        return self._record(
            lead,
            "email_open",
            "email",
            dedup_key=lead_events.open_key(message_id, partner_id, verdict),
            date=received_at,
            verdict=verdict,
            verdict_reason=reason,
            message_ref=message_id,
            partner_id=self.env["res.partner"].browse(partner_id).exists().id,
            mail_template_id=self.env["mail.template"].browse(template_id).exists().id,
            **self._cpa_client_values(user_agent, ip),
        )

    @api.model
    def _record_link_click(
        self,
        lead_id,
        message_id,
        partner_id,
        template_id,
        sent_at,
        link_count,
        link_id,
        user_agent,
        ip,
        received_at=None,
    ):
        """A tracked link was clicked (at ``received_at``, default now): event with its
        verdict (scanner, too early, burst of the email's links).

        :return: (URL to redirect to or None, lead token for the tracking cookie)
        """
        link = self.env["link.tracker"].browse(link_id).exists()
        if not link:
            return None, None
        lead = self.env["crm.lead"].browse(lead_id).exists()
        if not lead or not lead._cpa_trackable():
            return link.url, None
        thresholds = self._thresholds()
        received_at = received_at or fields.Datetime.now()
        window = received_at - timedelta(seconds=thresholds["verdict_burst_window_seconds"])
        recent = self.search(
            [
                ("lead_id", "=", lead.id),
                ("event_type", "=", "link_click"),
                ("message_ref", "=", message_id),
                ("partner_id", "=", partner_id or False),
                ("date", ">=", window),
            ]
        )
        recent_links = len(set(recent.link_tracker_id.ids) | {link.id})
        verdict, reason = verdicts.click_verdict(
            user_agent,
            ip,
            lead_events.timestamp(received_at) - sent_at,
            recent_links,
            link_count,
            thresholds,
        )
        if verdict == verdicts.MACHINE and reason.startswith("burst"):
            # The earlier clicks of the burst were the same scanner (still held: see
            # below, they have moved nothing).
            recent.filtered(lambda e: e.verdict != verdicts.MACHINE).write(
                {"verdict": verdicts.MACHINE, "verdict_reason": reason}
            )
        self._record(
            lead,
            "link_click",
            "email",
            dedup_key=lead_events.click_key(message_id, partner_id, link.id, verdict),
            # A click that may still turn out to be the first of a burst moves nothing
            # before the burst window has passed.
            hold=verdict != verdicts.MACHINE and verdicts.burst_possible(link_count, thresholds),
            date=received_at,
            verdict=verdict,
            verdict_reason=reason,
            url=link.url,
            link_tracker_id=link.id,
            message_ref=message_id,
            partner_id=self.env["res.partner"].browse(partner_id).exists().id,
            mail_template_id=self.env["mail.template"].browse(template_id).exists().id,
            **self._cpa_client_values(user_agent, ip),
        )
        return link.url, lead._cpa_lead_token()

    @api.model
    def _cpa_origin_allowed(self, origin):
        """Whether a site may post beacons (system parameter snippet_domains: hosts,
        comma-separated, ``*.example.com`` for subdomains)."""
        return urls.host_allowed(origin, params.get_str(self.env, "snippet_domains"))

    @api.model
    def _record_url_visited(self, lead_ids, url, source, user_agent="", ip="", received_at=None):
        """Leads (ids or recordset) visited ``url`` (at ``received_at``, default now);
        one event per lead, URL and hour.

        :return: False if the URL is not an http(s) URL
        """
        if not urls.is_http_url(url):
            return False
        leads = (
            lead_ids
            if isinstance(lead_ids, models.BaseModel)
            else self.env["crm.lead"].browse(lead_ids)
        )
        leads = leads.exists()
        if not leads:
            return True
        if verdicts.ua_family(user_agent).startswith("robot"):
            return True
        received_at = received_at or fields.Datetime.now()
        self._record(
            leads,
            "url_visited",
            source,
            dedup_key=lead_events.visit_key(url, received_at),
            date=received_at,
            url=url[:2000],
            **self._cpa_client_values(user_agent, ip),
        )
        return True

    @api.model
    def _record_form_submitted(self, lead_id, form_name, user_agent="", ip="", page=""):
        """A website form created lead ``lead_id``: one event for it and for the other
        leads of the same visitor (the form submission is the fact: deduplicated).

        :param page: path of the page the form was sent from (kept in ``url``)
        """
        lead = self.env["crm.lead"].browse(lead_id).exists()
        if not lead:
            return self.browse()
        # No visitor outside a request (None): the lead's own event only.
        visitor = self.env["website.visitor"]._get_visitor_from_request()
        leads = lead | (visitor.lead_ids if visitor else lead.browse())
        return self._record(
            leads,
            "form_submitted",
            "form",
            dedup_key=f"form{lead.id}",
            form_name=form_name,
            url=page or False,
            **self._cpa_client_values(user_agent, ip),
        )

    # ------------------------------------------------------------------
    # Calls (signed webhook)
    # ------------------------------------------------------------------

    @api.model
    def _cpa_call_source_secret(self, source):
        """Secret of a call source (system parameter call_source.<source>.secret)."""
        return params.get_call_source(self.env, source, "secret")

    @api.model
    def _cpa_replay_window(self):
        return params.get_int(self.env, "call_replay_window_seconds")

    @api.model
    def _record_call(self, source, data, received_at=None):
        """Record a call event from a verified webhook payload (received at
        ``received_at``, default now: the time of a payload without one).

        :param data: {"id": external id, "type": incoming|outgoing|missed, "from": number,
            "to": number, "time": unix seconds or ISO 8601 (optional), "duration": seconds}
        :return: "recorded", "duplicate" or "no_lead"
        :raise ValueError: invalid payload (HTTP 400)
        """
        external_id, kind, customer, line, duration = calls.parse_call(data)
        Lead = self.env["crm.lead"]
        phone = self._phone_e164(customer)
        if not phone:
            raise ValueError("customer number")
        line_e164 = self._phone_e164(line) or False
        date = calls.parse_time(data.get("time"), received_at or fields.Datetime.now())
        reference = f"{source}:{external_id}"
        # Idempotency: the telephony system retries; one call is recorded once.
        if self.search_count([("external_ref", "=", reference)], limit=1):
            return "duplicate"
        leads = self._leads_by_phone(phone)
        if not leads and self._cpa_call_source_param(source, "create_lead"):
            calls.claim_caller(self.env.cr, phone)
            leads = Lead.create(self._cpa_call_lead_values(source, phone, kind))
        if not leads:
            return "no_lead"
        events = self._record(
            leads,
            f"call_{kind}",
            "webhook",
            dedup_key=f"call{reference}",
            date=date,
            phone=phone,
            line_number=line_e164,
            external_ref=reference,
            seconds=duration,
        )
        return "recorded" if events else "duplicate"

    @api.model
    def _cpa_call_source_param(self, source, name):
        value = params.get_call_source(self.env, source, name)
        return value and value.strip().lower() not in ("0", "false", "")

    @api.model
    def _cpa_call_lead_values(self, source, phone, kind):
        """Values of the lead created for an unknown caller."""
        team_id = params.get_call_source(self.env, source, "team_id")
        team = (
            self.env["crm.team"].browse(int(team_id)).exists()
            if (team_id or "").isdigit()
            else False
        )
        return {
            "name": _("Call from %(phone)s", phone=phone),
            "phone": phone,
            "type": "lead",
            "team_id": team.id if team else False,
        }

    def _describe(self):
        """One line about the event, for chatter and ledger."""
        self.ensure_one()
        detail = self.form_name or self.url or self.phone or self.text or ""
        label = dict(self._fields["event_type"]._description_selection(self.env))[self.event_type]
        if not detail:
            return label
        # no f-string inside _(): Odoo's extractor (babel) evaluates every argument
        return _("%(event)s (%(detail)s)", event=label, detail=detail)

    # ------------------------------------------------------------------
    # Phone numbers, figures of the cards
    # ------------------------------------------------------------------

    @api.model
    def _phone_e164(self, number, country=None):
        """``number`` in E.164 (``country``, else the company's, as default region), or
        None if it is not a possible phone number."""
        if not number:
            return None
        return calls.phone_e164(number, (country or self.env.company.country_id).code)

    @api.model
    def _leads_by_phone(self, number_e164):
        """Open leads whose phone or mobile is ``number_e164`` once normalised (exact
        match on the indexed E.164 columns of the leads)."""
        Lead = self.env["crm.lead"].with_context(active_test=True)
        if not number_e164:
            return Lead
        return Lead.search(
            ["|", ("cpa_phone_e164", "=", number_e164), ("cpa_mobile_e164", "=", number_e164)],
            limit=200,
        )

    @api.model
    def _engagement_figures(self, lead_ids, last_types):
        """Figures of the cards of ``lead_ids`` (a page of cards, two grouped queries).

        :param last_types: event types of which the last date is wanted
        :return: ({(lead id, event type): last date}, {lead id: recent engagement points})
        """
        last, recent = {}, defaultdict(int)
        if not lead_ids:
            return last, recent
        human = [("lead_id", "in", lead_ids), ("verdict", "!=", verdicts.MACHINE)]
        # The index (lead_id, event_type, date) answers both grouped queries; the record
        # rules of events follow the lead, so what is shown is readable.
        for lead, event_type, date in self._read_group(
            [*human, ("event_type", "in", last_types)], ["lead_id", "event_type"], ["date:max"]
        ):
            last[lead.id, event_type] = date
        points = {
            event_type: params.get_int(self.env, f"score_{event_type}")
            for event_type in params.SCORE_DEFAULTS
        }
        days = params.get_int(self.env, "engagement_recent_days")
        since = fields.Datetime.now() - timedelta(days=days)
        for lead, event_type, count in self._read_group(
            [*human, ("date", ">=", since)], ["lead_id", "event_type"], ["__count"]
        ):
            recent[lead.id] += count * points.get(event_type, 0)
        return last, recent
