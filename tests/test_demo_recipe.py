# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tests.common import TransactionCase

MODULE = "crm_pipeline_automation"
NOW = datetime(2026, 1, 12, 10, 0, 0)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestRecurringSalesDemo(TransactionCase):
    """The demo "Recurring sales" recipe works on the demo pipelines."""

    def setUp(self):
        super().setUp()
        self.lead = self.env.ref(f"{MODULE}.crm_lead_orbit_school_demo", raise_if_not_found=False)
        if not self.lead:
            self.skipTest("demo data not installed")
        self.installation = self.env.ref(f"{MODULE}.crm_team_installation_demo")
        self.to_schedule = self.env.ref(f"{MODULE}.crm_stage_to_schedule_demo")
        self.contract = self.env.ref(f"{MODULE}.crm_stage_contract_approval_demo")
        self.won = self.env.ref(f"{MODULE}.crm_stage_won_demo")

    def test_contract_call_completes_itself(self):
        self.lead.stage_id = self.env.ref(f"{MODULE}.crm_stage_proposition_demo")
        self.lead.stage_id = self.contract
        call = self.lead.activity_ids.filtered(
            lambda a: a.summary == "Call the client about the contract terms"
        )
        self.assertEqual(call.user_id, self.lead.user_id)
        self.lead.action_set_won()
        self.assertFalse(call.exists())
        log = self.env["crm.automation.log"].search(
            [("lead_id", "=", self.lead.id), ("kind", "=", "activity_done")]
        )
        self.assertTrue(log)

    def test_won_copies_to_installation_and_repeats_in_six_months(self):
        self.lead.action_set_won()
        # Its own pipeline's Won, not Odoo's shared one (sequence 70, before the demo's).
        self.assertEqual(self.lead.stage_id, self.won)
        copy = self.env["crm.lead"].search([("automation_origin_lead_id", "=", self.lead.id)])
        self.assertEqual(copy.team_id, self.installation)
        self.assertEqual(copy.stage_id, self.to_schedule)
        self.assertEqual(copy.user_id, self.installation.user_id)
        self.assertEqual(copy.name, f"{self.lead.name} (copy)")
        repeat_rule = self.env.ref(f"{MODULE}.crm_automation_rule_won_repeat_demo")
        job = self.env["crm.automation.job"].search(
            [("lead_id", "=", self.lead.id), ("rule_id", "=", repeat_rule.id)]
        )
        self.assertEqual((job.state, job.run_at), ("pending", NOW + relativedelta(months=6)))
        with freeze_time(NOW + relativedelta(months=6)):
            self.env["crm.automation.job"]._dispatch_due_jobs()
        self.assertEqual(job.state, "done")
        repeat = self.env["crm.lead"].search(
            [("automation_origin_lead_id", "=", self.lead.id), ("id", "!=", copy.id)]
        )
        self.assertEqual(
            repeat.name, "Repeat sale: Orbit School (Orbit School: 120 classroom desks)"
        )
        self.assertEqual(repeat.team_id, self.lead.team_id)
        self.assertEqual(repeat.stage_id, self.env.ref(f"{MODULE}.crm_stage_new_demo"))
        self.assertEqual(repeat.user_id, self.lead.user_id)
