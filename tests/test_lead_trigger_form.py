# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo.tests import Form, HttpCase, tagged

from .common import BROWSER, TrackingCase

FORM_ARCH = """<t t-call="website.layout"><div id="wrap">
<section class="s_website_form"><div class="container">
<form action="/website/form/" method="post" data-model_name="crm.lead" class="s_website_form_send">
<input type="hidden" name="cpa_form" value="%s"/>
<input type="text" name="contact_name"/>
</form></div></section></div></t>"""


@tagged("post_install", "-at_install")
class TestFormChoiceRoute(TrackingCase, HttpCase):
    """The form-submitted trigger offers the site's lead forms; a real form post to
    the chosen one moves the lead."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.website = cls.env["website"].get_current_website()
        cls.website.crm_default_team_id = cls.team
        cls.website.crm_default_user_id = cls.salesman
        cls.page = cls.env["website.page"].create(
            {
                "name": "Quote request",
                "url": "/cpa-quote",
                "type": "qweb",
                "arch": FORM_ARCH % "cpa-quote-form",
                "website_published": True,
                "website_id": cls.website.id,
            }
        )

    def setUp(self):
        super().setUp()
        self.authenticate(None, None)

    def _post_form(self, path, **params):
        data = {
            "contact_name": "Nina Novak",
            "email_from": "nina@novak.example.com",
            "name": "Standing desks",
        }
        data.update(params)
        return self.url_open(
            "/website/form/crm.lead",
            data=data,
            headers={"User-Agent": BROWSER, "Referer": f"{self.base_url()}{path}"},
        )

    def test_known_forms_offered(self):
        known = dict(self.env["crm.stage.trigger"]._known_forms())
        self.assertIn("/cpa-quote", known)
        self.assertIn("Quote request", known["/cpa-quote"])
        self.assertIn("cpa-quote-form", known)
        # Forms seen by events are offered too.
        lead = self._lead()
        self.env["crm.lead.event"]._record(
            lead, "form_submitted", "form", form_name="/landing/external"
        )
        self.assertIn("/landing/external", dict(self.env["crm.stage.trigger"]._known_forms()))

    def test_picked_form_moves_on_post(self):
        form = Form(self.env["crm.stage.trigger"])
        form.name = "Quote requested"
        form.event_type = "form_submitted"
        form.form_known = "/cpa-quote"
        form.stage_id = self.stage_qualified
        trigger = form.save()
        self.assertEqual(trigger.form_name, "/cpa-quote")
        self.assertEqual(trigger.form_known, "/cpa-quote")
        response = self._post_form("/contactus")
        lead = self.env["crm.lead"].browse(json.loads(response.text)["id"])
        self.assertNotEqual(lead.stage_id, self.stage_qualified, "another page's form")
        response = self._post_form("/cpa-quote")
        self.assertEqual(response.status_code, 200, response.text)
        lead = self.env["crm.lead"].browse(json.loads(response.text)["id"])
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)

    def test_picked_page_moves_on_post_of_its_named_form(self):
        """The page is offered by its path while its form also has a hidden
        ``cpa_form``: the browser posts that input, and the page's form must still match
        the page picked (acceptance story I, played as a browser posts the form)."""
        form = Form(self.env["crm.stage.trigger"])
        form.name = "Quote page"
        form.event_type = "form_submitted"
        form.form_known = "/cpa-quote"
        form.stage_id = self.stage_qualified
        trigger = form.save()
        response = self._post_form("/contactus", cpa_form="cpa-quote-form-elsewhere")
        lead = self.env["crm.lead"].browse(json.loads(response.text)["id"])
        self.assertNotEqual(lead.stage_id, self.stage_qualified, "another page's form")
        response = self._post_form("/cpa-quote", cpa_form="cpa-quote-form")
        self.assertEqual(response.status_code, 200, response.text)
        lead = self.env["crm.lead"].browse(json.loads(response.text)["id"])
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
        event = self.env["crm.lead.event"].search([("lead_id", "=", lead.id)])
        self.assertEqual((event.form_name, event.url), ("cpa-quote-form", "/cpa-quote"))

    def test_free_text_kept_for_external_forms(self):
        trigger = self._trigger(
            self.stage_qualified, "form_submitted", form_name="partner-site-signup"
        )
        self.assertFalse(trigger.form_known)
        response = self._post_form("/elsewhere", cpa_form="partner-site-signup")
        lead = self.env["crm.lead"].browse(json.loads(response.text)["id"])
        self.assertMovedBy(lead, self.stage_qualified, trigger, self.salesman)
