# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The demo's history, made by the engine (demo/crm_automation_demo_history.xml).

Emails, opens, clicks, a page visit, a call, an email, a website form and a live chat
go through the entry points of the routes, the webhook and the mail gateway; the
triggers, rules, jobs and templates do the rest. Dates are relative to the install:
each step runs now, then the rows it created are dated back together (``_demo_at``).
"""

import logging
import re
import time
from contextlib import contextmanager
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import tokens as tracking_token

_logger = logging.getLogger(__name__)

MODULE = "crm_pipeline_automation"
# The fact that marks the history as made (the demo step runs again on updates).
DONE_REF = "demo:call-bluebird-1"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)
# Timestamp columns dated back with the rows a demo step created (and, for leads the
# step moved, the columns the move wrote).
DATED_COLUMNS = {
    "crm_lead_event": ("date", "create_date", "write_date"),
    "crm_automation_log": ("create_date", "write_date"),
    "crm_automation_job": ("entered_at", "run_at", "done_at"),
    "mail_message": ("date", "create_date", "write_date"),
    # The stage durations of the status bar are counted from the tracking values.
    "mail_tracking_value": ("create_date", "write_date"),
    "mail_activity": (
        "create_date",
        "write_date",
        "deadline_datetime",
        "reminder_datetime",
        "done_datetime",
    ),
    "crm_lead": (
        "create_date",
        "write_date",
        "date_open",
        "date_last_stage_update",
        "automation_touch_date",
    ),
    "discuss_channel": (
        "create_date",
        "write_date",
        "cpa_first_visitor_message_date",
        "cpa_first_operator_answer_date",
    ),
}
# Columns the engine writes with the clock (not the transaction's time): on rows older
# than a step, those written during the step are dated back too (a job cancelled, an
# activity completed, a lead moved).
CLOCK_COLUMNS = {
    "crm_lead_event": ("date",),
    "crm_automation_job": ("done_at",),
    "mail_activity": ("done_datetime",),
    "crm_lead": ("date_last_stage_update", "automation_touch_date"),
    "discuss_channel": ("cpa_first_visitor_message_date", "cpa_first_operator_answer_date"),
}
TOKEN_RE = re.compile(r"/cpa/([oc])/([0-9.a-f]+)")


# Records the history creates that belong to the demo (removed with the addon).
DEMO_OWNED = ("crm.lead", "discuss.channel", "website.visitor")


class CrmAutomationDemo(models.AbstractModel):
    _name = "crm.automation.demo"
    _description = "CRM Automation Demo History"

    @api.model
    def _build_demo_history(self):
        """Make the demo's history through the engine's entry points, once."""
        Event = self.env["crm.lead.event"].sudo()
        if Event.search_count([("external_ref", "=", DONE_REF)], limit=1):
            return False
        started = time.monotonic()
        owned = {model: self._demo_max_id(model) for model in DEMO_OWNED}
        ref = self._demo_ref
        sofia, igor, admin = (
            ref("res_users_sales_rep_demo"),
            ref("res_users_installer_demo"),
            self.env.ref("base.user_admin"),
        )
        marc = self.env.ref("base.user_demo", raise_if_not_found=False) or admin
        acme, northwind, solaris = (
            ref("crm_lead_acme_desks_demo"),
            ref("crm_lead_northwind_office_demo"),
            ref("crm_lead_solaris_meeting_demo"),
        )
        vertex, bluebird = ref("crm_lead_vertex_lounge_demo"), ref("crm_lead_bluebird_chairs_demo")
        contract, proposition = (
            ref("crm_stage_contract_approval_demo"),
            ref("crm_stage_proposition_demo"),
        )
        scheduled = ref("crm_stage_scheduled_demo")
        base = acme.get_base_url()

        # Tracked emails: Sofia's offer to Acme (one link), Mitchell's to Northwind (three).
        with self._demo_at(days=6):
            acme_mail = self._demo_send(
                acme,
                sofia,
                "Our offer for 40 standing desks",
                f'<p>Dear Laura, our offer is ready: see <a href="{base}/pricing">our '
                "prices</a>.</p>",
            )
            northwind_mail = self._demo_send(
                northwind,
                admin,
                "Office fit-out: next steps",
                f'<p>Dear Amélie, see <a href="{base}/pricing">our prices</a>, '
                f'<a href="{base}/contactus">how to reach us</a> and '
                f'<a href="{base}/aboutus">who we are</a>.</p>',
            )
            # Apple Mail Privacy Protection fetches Northwind's pixel a minute after sending,
            # and a link scanner follows its three links within a second: machines.
            self._demo_open(northwind_mail, "Mozilla/5.0", "17.58.63.12", after=60)
            for token in northwind_mail["clicks"]:
                self._demo_click(token, CHROME, "40.94.25.7", after=40)
        # The clicks waited for the burst window (over now): the held events cron.
        Event._cron_fire_held_events()

        # Laura opens the offer, clicks the link, looks at the prices (snippet beacon):
        # link_click qualifies the lead, the pricing page makes it a proposition.
        with self._demo_at(days=5):
            self._demo_open(acme_mail, SAFARI, "203.0.113.24", after=86400)
            self._demo_click(acme_mail["clicks"][0], SAFARI, "203.0.113.24", after=86700)
            Event._record_url_visited(acme.id, f"{base}/pricing", "beacon", SAFARI, "203.0.113.24")

        # Vertex Bank wanted the contract changed: back to a new proposal (the call about
        # the contract terms is completed by itself when the lead leaves the stage).
        with self._demo_at(days=4):
            vertex.with_user(marc).write({"stage_id": contract.id})

        # Igor schedules the site survey copied from Acme (a maintenance offer follows)
        # and Acme's installation (too small for a maintenance contract).
        # Mitchell qualifies the new maintenance lead at once: "Filter 1" done on time.
        survey = self.env["crm.lead"].search([("automation_origin_lead_id", "=", acme.id)])
        with self._demo_at(days=2, hours=6):
            survey.with_user(igor).write({"stage_id": scheduled.id})
            ref("crm_lead_acme_install_demo").with_user(igor).write({"stage_id": scheduled.id})
            maintenance = self.env["crm.lead"].search(
                [("automation_origin_lead_id", "=", survey.id)]
            )
            maintenance.activity_ids.filtered("activity_template_id").with_user(
                admin
            ).action_feedback(feedback="Called Laura: a quote for the yearly maintenance.")

        with self._demo_at(days=2, hours=1):
            vertex.with_user(marc).write({"stage_id": proposition.id})

        # Sofia calls Laura back, days after the deadline (30 working minutes).
        with self._demo_at(days=1):
            acme.activity_ids.filtered(
                lambda a: a.activity_template_id == ref("crm_activity_template_call_opened_demo")
            ).with_user(sofia).action_feedback(feedback="Laura wants the proposal by Friday.")

        # Tom answers by email (mail gateway).
        with self._demo_at(days=1):
            self._demo_incoming_email(bluebird)

        # A callback request through the website form.
        with self._demo_at(hours=22):
            self._demo_website_form()

        # Tom calls and nobody picks up: the signed call webhook's entry point, with the
        # call's own time.
        Event._record_call(
            "demo",
            {
                "id": DONE_REF.split(":", 1)[1],
                "type": "missed",
                "from": bluebird.phone,
                "to": "+1 415 555 0100",
                "time": (fields.Datetime.now() - timedelta(hours=20)).isoformat(),
                "duration": 0,
            },
        )

        # Kenji asks for a quote in the live chat: a proposition; Sofia answers.
        with self._demo_at(hours=3):
            self._demo_live_chat(solaris, sofia)

        self.env.flush_all()
        self._demo_own(owned)
        _logger.info("Demo history made in %.1f s", time.monotonic() - started)
        return True

    def _demo_max_id(self, model):
        self.env.flush_all()
        table = self.env[model]._table
        return self.env.execute_query(
            SQL("SELECT COALESCE(MAX(id), 0) FROM %s", SQL.identifier(table))
        )[0][0]

    def _demo_own(self, before):
        """The leads, chats and visitors the history created are demo data of the addon
        (an xml id each): uninstalling it removes them, and with them nothing refers to
        its demo stages and salespeople any more."""
        rows = []
        for model, max_id in before.items():
            records = self.env[model].with_context(active_test=False).search([("id", ">", max_id)])
            prefix = model.replace(".", "_")
            rows += [
                {
                    "xml_id": f"{MODULE}.{prefix}_demo_history_{record.id}",
                    "record": record,
                    "noupdate": True,
                }
                for record in records
            ]
        self.env["ir.model.data"]._update_xmlids(rows)

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------

    def _demo_ref(self, xmlid):
        return self.env.ref(f"{MODULE}.{xmlid}")

    def _demo_send(self, lead, user, subject, body):
        """``user`` emails ``lead``'s customer from the chatter (email_sent); the email
        is rendered as it is sent (open pixel, signed click links) and marked sent.

        :return: {"open": token, "clicks": [tokens], "sent_at": unix time}
        """
        message = (
            lead.with_user(user)
            .with_context(mail_notify_force_send=False)
            .message_post(
                body=Markup(body),
                subject=subject,
                partner_ids=lead.partner_id.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        )
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        tokens = {"open": None, "clicks": [], "sent_at": int(time.time())}
        for kind, token in TOKEN_RE.findall(
            mail[:1]._personalize_outgoing_body(mail[:1].body_html, lead.partner_id)
        ):
            if kind == "o":
                tokens["open"] = token
            else:
                tokens["clicks"].append(token)
        # Delivered: what the mail queue does after the SMTP server accepted it.
        mail.write({"state": "sent"})
        mail._postprocess_sent_message(success_pids=lead.partner_id)
        return tokens

    def _demo_open(self, mail, user_agent, ip, after):
        """The open pixel route: the token's numbers, the send time ``after`` seconds
        before this open (the step is dated back by ``_demo_at``)."""
        numbers = tracking_token.verify(self.env, "open", mail["open"], 5)
        numbers[4] = int(time.time()) - after
        return self.env["crm.lead.event"].sudo()._record_email_open(*numbers, user_agent, ip)

    def _demo_click(self, token, user_agent, ip, after):
        """The click route (see ``_demo_open``)."""
        numbers = tracking_token.verify(self.env, "click", token, 7)
        numbers[4] = int(time.time()) - after
        return self.env["crm.lead.event"].sudo()._record_link_click(*numbers, user_agent, ip)

    def _demo_incoming_email(self, lead):
        """An answer from the customer through the mail gateway (email_received)."""
        partner = lead.partner_id
        raw = (
            f"From: {partner.name} <{partner.email}>\r\n"
            f"To: sales@example.com\r\n"
            f"Subject: Re: {lead.name}\r\n"
            f"Message-Id: <demo-{lead.id}-reply@bluebird-cafe.example.com>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Hello, the terrace opens in May: could you deliver the chairs in April?\r\n"
        )
        self.env["mail.thread"].sudo().message_process("crm.lead", raw, thread_id=lead.id)

    def _demo_website_form(self):
        """A callback request of the Contact us form: the lead the website form creates
        (superuser, like Odoo's form route), then its form_submitted event."""
        lead = (
            self.env["crm.lead"]
            .sudo()
            .with_context(mail_create_nosubscribe=True)
            .create(
                {
                    "name": "Callback request: 12 desks for a design studio",
                    "contact_name": "Nina Patel",
                    "partner_name": "Lumen Studio",
                    "email_from": "nina.patel@lumen-studio.example.org",
                    "phone": "+44 161 555 0143",
                    "description": "Please call me back on Tuesday morning.",
                    "team_id": self._demo_ref("crm_team_direct_sales_demo").id,
                    # The form's hidden field: its leads start in Direct Sales / New.
                    "stage_id": self._demo_ref("crm_stage_new_demo").id,
                    "user_id": False,
                }
            )
        )
        self.env["crm.lead.event"].sudo()._record_form_submitted(
            lead.id, "/contactus", CHROME, "198.51.100.77"
        )
        return lead

    def _demo_live_chat(self, lead, operator):
        """A live chat of ``lead``'s customer with ``operator``: started, a keyword,
        answered (discuss.channel's message hook, as the livechat routes post)."""
        customer = lead.partner_id
        chat = (
            self.env["discuss.channel"]
            .sudo()
            .create(
                {
                    "name": f"{customer.name}, {operator.name}",
                    "channel_type": "livechat",
                    "livechat_channel_id": self._demo_ref("im_livechat_channel_demo").id,
                    "livechat_operator_id": operator.partner_id.id,
                    "channel_member_ids": [
                        (0, 0, {"partner_id": operator.partner_id.id}),
                        (0, 0, {"partner_id": customer.id}),
                    ],
                }
            )
        )
        for author, text in (
            (customer, "Hello! Could you send me a quote for six meeting room tables?"),
            (operator.partner_id, "Hi Kenji, of course: you will have it today."),
        ):
            chat.message_post(
                body=text,
                author_id=author.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        return chat

    # ------------------------------------------------------------------
    # Dates
    # ------------------------------------------------------------------

    @contextmanager
    def _demo_at(self, **ago):
        """Date back by ``ago`` (timedelta arguments) the rows created in the block,
        and the stage dates of the leads moved in it: one consistent past moment."""
        cr = self.env.cr
        self.env.flush_all()
        before = {}
        for table in DATED_COLUMNS:
            cr.execute(SQL("SELECT COALESCE(MAX(id), 0) FROM %s", SQL.identifier(table)))
            before[table] = cr.fetchone()[0]
        start = fields.Datetime.now()
        yield
        self.env.flush_all()
        delta = timedelta(**ago)
        for table, columns in DATED_COLUMNS.items():
            cr.execute(
                SQL(
                    "UPDATE %s SET %s WHERE id > %s",
                    SQL.identifier(table),
                    SQL(", ").join(
                        SQL("%s = %s - %s", SQL.identifier(c), SQL.identifier(c), delta)
                        for c in columns
                    ),
                    before[table],
                )
            )
        for table, columns in CLOCK_COLUMNS.items():
            cr.execute(
                SQL(
                    "UPDATE %s SET %s WHERE id <= %s AND (%s)",
                    SQL.identifier(table),
                    SQL(", ").join(
                        SQL(
                            "%s = CASE WHEN %s >= %s THEN %s - %s ELSE %s END",
                            *(SQL.identifier(c),) * 2,
                            start,
                            SQL.identifier(c),
                            delta,
                            SQL.identifier(c),
                        )
                        for c in columns
                    ),
                    before[table],
                    SQL(" OR ").join(SQL("%s >= %s", SQL.identifier(c), start) for c in columns),
                )
            )
        self.env.invalidate_all()
        # The deadlines of the templates' activities, from their (past) creation: with
        # business hours, a shifted deadline would not be the one computed then.
        activities = (
            self.env["mail.activity"]
            .with_context(active_test=False)
            .search([("id", ">", before["mail_activity"])])
        )
        for activity in activities.filtered("activity_template_id"):
            activity.deadline_datetime = activity.activity_template_id._compute_deadline(
                self.env["crm.lead"].browse(activity.res_id),
                activity.user_id,
                now=activity.create_date,
            )
        # The due dates follow the deadlines, in each assignee's time zone.
        activities._sync_date_deadline()
        self.env.flush_all()
        self.env.invalidate_all()
