# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import re
import time
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import HttpCase, tagged

from odoo.addons.mail.tests.common import MockEmail

from ..engine import tokens as tracking_token
from .common import BODY, BROWSER, TrackingCase


@tagged("post_install", "-at_install")
class TestMailTracking(TrackingCase, MockEmail, HttpCase):
    """Emails to leads carry an open pixel and signed click links (chatter, template,
    automation rule); opens and clicks come back through real HTTP requests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.verdict_min_seconds_after_send", 0
        )

    def _send(self, lead, body=BODY, **kwargs):
        """Post a message to the lead's customer as the salesperson; return the
        tracked URLs (pixel, [links]) of the email actually built for SMTP."""
        with self.mock_mail_gateway(mail_unlink_sent=True):
            message = lead.with_user(self.salesman).message_post(
                body=body,
                partner_ids=self.partner.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                **kwargs,
            )
        sent = [mail for mail in self._mails if self.partner.email in str(mail["email_to"])]
        self.assertEqual(len(sent), 1)
        html = sent[0]["body"]
        pixel = re.findall(r'src="[^"]*(/cpa/o/[^"]+)"', html)
        links = re.findall(r'href="[^"]*(/cpa/c/[^"]+)"', html)
        self.assertEqual(len(pixel), 1, html)
        return message, pixel[0], links

    def test_click_moves_lead_and_redirects_to_stored_url(self):
        trigger = self._trigger(self.stage_qualified, link_url="https://example.com/pricing*")
        lead = self._lead()
        message, _pixel, links = self._send(lead)
        self.assertEqual(len(links), 3)
        self.assertFalse(
            self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        )
        response = self.url_open(links[0], headers={"User-Agent": BROWSER}, allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"], "https://example.com/pricing?plan=pro&x=1")
        self.assertIn("cpa_t=", response.headers.get("Set-Cookie", ""))
        # The route answered at once and only queued the click: decided by the processor.
        self.assertFalse(lead.cpa_event_ids.filtered(lambda e: e.event_type == "link_click"))
        self.assertEqual(self.process_ingest(), 1)
        # 3 links: the click might be the first of a scanner's burst; it moves the
        # lead once the burst window has passed.
        self.assertEqual(lead.stage_id, self.stage_new)
        with freeze_time(fields.Datetime.now() + timedelta(seconds=7)):
            self.env["crm.lead.event"]._cron_fire_held_events()
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "link_click")
        self.assertEqual(event.verdict, "human")
        self.assertEqual(event.partner_id, self.partner)
        self.assertEqual(event.message_ref, message.id)
        self.assertEqual(event.ua_family, "Chrome")
        self.assertEqual(event.ip_network, "127.0.0.0/24")
        # the same click again is the same fact
        self.url_open(links[0], headers={"User-Agent": BROWSER}, allow_redirects=False)
        self.process_ingest()
        self.assertEqual(
            len(lead.cpa_event_ids.filtered(lambda e: e.event_type == "link_click")), 1
        )

    def test_open_pixel_moves_lead(self):
        trigger = self._trigger(self.stage_qualified, "email_open")
        lead = self._lead()
        _message, pixel, _links = self._send(lead)
        response = self.url_open(pixel, headers={"User-Agent": BROWSER})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "image/gif")
        self.assertTrue(response.content.startswith(b"GIF89a"))
        self.assertEqual(lead.stage_id, self.stage_new, "queued: moved by the processor")
        self.process_ingest()
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)

    def test_open_of_template_email(self):
        template = self.env["mail.template"].create(
            {
                "name": "Offer",
                "model_id": self.env.ref("crm.model_crm_lead").id,
                "subject": "Our offer",
                "body_html": BODY,
                "partner_to": "{{ object.partner_id.id }}",
            }
        )
        other = template.copy({"name": "Other"})
        trigger = self._trigger(self.stage_qualified, "email_open", mail_template_id=template.id)
        lead_other, lead = self._lead(), self._lead()
        pixels = []
        for record, tpl in ((lead_other, other), (lead, template)):
            with self.mock_mail_gateway():
                record.with_user(self.salesman).message_post_with_source(
                    tpl, message_type="comment", subtype_xmlid="mail.mt_comment"
                )
            pixels.append(re.findall(r'src="[^"]*(/cpa/o/[^"]+)"', self._mails[-1]["body"])[0])
        for pixel in pixels:
            self.assertEqual(self.url_open(pixel, headers={"User-Agent": BROWSER}).status_code, 200)
        self.process_ingest()
        self.assertEqual(lead_other.stage_id, self.stage_new)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertEqual(
            lead.cpa_event_ids.filtered(lambda e: e.event_type == "email_open").mail_template_id,
            template,
        )

    def test_automation_rule_email_is_tracked(self):
        template = self.env["mail.template"].create(
            {
                "name": "Welcome",
                "model_id": self.env.ref("crm.model_crm_lead").id,
                "subject": "Welcome",
                "body_html": BODY,
                "partner_to": "{{ object.partner_id.id }}",
            }
        )
        self.env["crm.automation.rule"].create(
            {
                "name": "Welcome email",
                "stage_id": self.stage_qualified.id,
                "action_type": "email",
                "timing": "immediate",
                "mail_template_id": template.id,
            }
        )
        trigger = self._trigger(self.stage_proposition, "email_open", mail_template_id=template.id)
        lead = self._lead()
        with self.mock_mail_gateway(mail_unlink_sent=True):
            lead.write({"stage_id": self.stage_qualified.id})
            # Queued by the rule (as Odoo's server actions do), sent by Odoo's queue.
            self.env["mail.mail"].process_email_queue()
        sent = [
            mail
            for mail in self._mails
            if mail["subject"] == "Welcome" and self.partner.email in str(mail["email_to"])
        ]
        self.assertEqual(len(sent), 1)
        pixel = re.findall(r'src="[^"]*(/cpa/o/[^"]+)"', sent[0]["body"])[0]
        self.assertFalse(lead.cpa_event_ids.filtered(lambda e: e.event_type == "email_sent"))
        self.assertEqual(self.url_open(pixel, headers={"User-Agent": BROWSER}).status_code, 200)
        self.process_ingest()
        self.assertMovedBy(lead, self.stage_proposition, trigger, self.salesman)

    def test_machine_verdicts_do_not_move(self):
        self._trigger(self.stage_qualified, "email_open")
        self._trigger(self.stage_proposition, link_url="https://example.com/blog")
        lead = self._lead()
        _message, pixel, links = self._send(lead)
        # Apple Mail Privacy Protection: bare user agent from Apple's proxies
        self.url_open(pixel, headers={"User-Agent": "Mozilla/5.0"})
        # a link scanner
        self.url_open(
            links[2],
            headers={"User-Agent": "Mozilla/4.0 (compatible; Proofpoint URL Defense)"},
            allow_redirects=False,
        )
        self.process_ingest()
        self.assertEqual(lead.stage_id, self.stage_new)
        events = lead.cpa_event_ids
        self.assertEqual(
            set(
                events.filtered(lambda e: e.event_type in ("email_open", "link_click")).mapped(
                    "verdict"
                )
            ),
            {"machine"},
        )
        self.assertIn(
            "Apple Mail Privacy Protection",
            events.filtered(lambda e: e.event_type == "email_open").verdict_reason,
        )
        self.assertEqual(events.filtered(lambda e: e.event_type == "link_click").state, "ignored")

    def test_burst_of_all_links_is_a_machine(self):
        self._trigger(self.stage_qualified, link_url="https://example.com/blog")
        lead = self._lead()
        _message, _pixel, links = self._send(lead)
        for link in links:
            self.url_open(link, headers={"User-Agent": BROWSER}, allow_redirects=False)
        self.process_ingest()
        clicks = lead.cpa_event_ids.filtered(lambda e: e.event_type == "link_click")
        self.assertEqual(len(clicks), 3)
        self.assertEqual(set(clicks.mapped("verdict")), {"machine"})
        self.assertTrue(
            all(reason.startswith("burst") for reason in clicks.mapped("verdict_reason"))
        )
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_open_seconds_after_sending_is_a_machine(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.verdict_min_seconds_after_send", 60
        )
        self._trigger(self.stage_qualified, "email_open")
        lead = self._lead()
        _message, pixel, _links = self._send(lead)
        self.url_open(pixel, headers={"User-Agent": BROWSER})
        self.process_ingest()
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "email_open")
        self.assertEqual(event.verdict, "machine")
        self.assertIn("after sending", event.verdict_reason)
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_forged_expired_malformed_tokens(self):
        lead = self._lead()
        _message, pixel, links = self._send(lead)
        forged_pixel = pixel[:-1] + ("0" if pixel[-1] != "0" else "1")
        self.assertEqual(self.url_open(forged_pixel).status_code, 403)
        # another lead's id with the same signature
        numbers = pixel.rsplit("/", 1)[1].split(".")
        numbers[0] = str(int(numbers[0]) + 1)
        self.assertEqual(self.url_open("/cpa/o/" + ".".join(numbers)).status_code, 403)
        old = int(time.time()) - 400 * 86400
        expired = tracking_token.sign(self.env, "open", [lead.id, 1, self.partner.id, 0, old])
        self.assertEqual(self.url_open(f"/cpa/o/{expired}").status_code, 403)
        expired_click = tracking_token.sign(self.env, "click", [lead.id, 1, 0, 0, old, 1, 1])
        self.assertEqual(
            self.url_open(f"/cpa/c/{expired_click}", allow_redirects=False).status_code, 403
        )
        for garbage in ("x", "1.2.3", "99999999999.1.1.1.1." + "0" * 32, "%00", "1" * 300):
            self.assertEqual(self.url_open(f"/cpa/o/{garbage}").status_code, 400, garbage)
            self.assertEqual(
                self.url_open(f"/cpa/c/{garbage}", allow_redirects=False).status_code, 400
            )
        # a valid signature on a link that does not exist: nothing to redirect to
        missing = tracking_token.sign(
            self.env, "click", [lead.id, 1, 0, 0, int(time.time()), 1, 2**31 - 1]
        )
        self.assertEqual(self.url_open(f"/cpa/c/{missing}", allow_redirects=False).status_code, 404)
        # signatures are per scope: an open token is not a click token
        self.assertEqual(self.url_open(links[0].replace("/cpa/c/", "/cpa/o/")).status_code, 400)
        self.assertEqual(self.process_ingest(), 0, "nothing refused was queued")
        self.assertFalse(
            lead.cpa_event_ids.filtered(lambda e: e.event_type in ("email_open", "link_click"))
        )

    def test_colleagues_get_no_tracking(self):
        lead = self._lead()
        lead.message_subscribe(partner_ids=self.manager.partner_id.ids)
        self.manager.notification_type = "email"
        with self.mock_mail_gateway():
            lead.with_user(self.salesman).message_post(
                body=BODY, partner_ids=self.partner.ids, subtype_xmlid="mail.mt_comment"
            )
        bodies = {str(mail["email_to"]): mail["body"] for mail in self._mails}
        manager_body = next(body for to, body in bodies.items() if self.manager.email in to)
        customer_body = next(body for to, body in bodies.items() if self.partner.email in to)
        self.assertNotIn("/cpa/", manager_body)
        self.assertIn("/cpa/o/", customer_body)

    def test_opted_out_partner_gets_no_tracking(self):
        self.env["mail.blacklist"].sudo()._add(self.partner.email)
        lead = self._lead()
        with self.mock_mail_gateway():
            lead.message_post(
                body=BODY, partner_ids=self.partner.ids, subtype_xmlid="mail.mt_comment"
            )
        body = self._mails[-1]["body"]
        self.assertNotIn("/cpa/", body)
        self.assertIn("https://example.com/docs", body)

    def test_email_sent_by_salesperson(self):
        trigger = self._trigger(self.stage_qualified, "email_sent")
        lead = self._lead()
        lead.with_user(self.salesman).message_post(
            body="Internal note", subtype_xmlid="mail.mt_note"
        )
        self.assertEqual(lead.stage_id, self.stage_new)
        self._send(lead)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        self.assertEqual(
            lead.cpa_event_ids.filtered(lambda e: e.event_type == "email_sent").user_id,
            self.salesman,
        )

    def test_email_received_through_the_mail_gateway(self):
        trigger = self._trigger(self.stage_qualified, "email_received")
        lead = self._lead()
        message, _pixel, _links = self._send(lead)
        reply = (
            "From: Laura Chen <laura@acme.example.com>\r\n"
            "To: sam@mycompany.example.com\r\n"
            "Subject: Re: our offer\r\n"
            "Message-ID: <reply-1@acme.example.com>\r\n"
            f"In-Reply-To: {message.message_id}\r\n"
            f"References: {message.message_id}\r\n"
            "Date: Mon, 12 Jan 2026 10:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Yes, let's talk about the desks.\r\n"
        )
        thread_id = self.env["mail.thread"].message_process("crm.lead", reply)
        self.assertEqual(thread_id, lead.id)
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        event = lead.cpa_event_ids.filtered(lambda e: e.event_type == "email_received")
        self.assertEqual(event.source, "mail_gateway")
        # the same message delivered twice is one event
        self.env["mail.thread"].message_process("crm.lead", reply)
        self.assertEqual(
            len(lead.cpa_event_ids.filtered(lambda e: e.event_type == "email_received")), 1
        )

    def test_email_received_creates_lead_and_moves_it(self):
        self._trigger(self.stage_qualified, "email_received")
        raw = (
            "From: New Customer <new.customer@example.org>\r\n"
            "To: sales@mycompany.example.com\r\n"
            "Subject: Desks for 40 people\r\n"
            "Message-ID: <new-1@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Hello, we need desks.\r\n"
        )
        lead_id = self.env["mail.thread"].message_process(
            "crm.lead", raw, custom_values={"team_id": self.team.id, "stage_id": self.stage_new.id}
        )
        lead = self.env["crm.lead"].browse(lead_id)
        self.assertEqual(lead.name, "Desks for 40 people")
        self.assertEqual(lead.stage_id, self.stage_qualified)
