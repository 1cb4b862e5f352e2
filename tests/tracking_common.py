# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fixtures of the trigger and tracking tests: a private pipeline, people, factories."""

from odoo.tests import new_test_user


class TrackingMixin:
    """A pipeline "Tracking" (New, Qualified, Proposition, Won) with a salesperson, a
    manager, a customer, and factories for triggers and leads."""

    @classmethod
    def setup_tracking(cls):
        cls.manager = new_test_user(
            cls.env,
            login="cpa_trk_manager",
            name="Mia Manager",
            groups="sales_team.group_sale_manager",
        )
        cls.salesman = new_test_user(
            cls.env,
            login="cpa_trk_seller",
            name="Sam Seller",
            groups="sales_team.group_sale_salesman",
            email="sam@mycompany.example.com",
        )
        cls.team = cls.env["crm.team"].create({"name": "Tracking team", "use_leads": True})
        Stage = cls.env["crm.stage"]
        cls.stage_new = Stage.create({"name": "T New", "sequence": 201, "team_id": cls.team.id})
        cls.stage_qualified = Stage.create(
            {"name": "T Qualified", "sequence": 202, "team_id": cls.team.id}
        )
        cls.stage_proposition = Stage.create(
            {"name": "T Proposition", "sequence": 203, "team_id": cls.team.id}
        )
        cls.stage_won = Stage.create(
            {"name": "T Won", "sequence": 204, "team_id": cls.team.id, "is_won": True}
        )
        cls.partner = cls.env["res.partner"].create(
            {"name": "Laura Chen", "email": "laura@acme.example.com", "phone": "+32 470 12 34 56"}
        )
        cls.Event = cls.env["crm.lead.event"]
        cls.Trigger = cls.env["crm.stage.trigger"]

    @classmethod
    def _trigger(cls, stage, event_type="link_click", **vals):
        values = {
            "name": f"{event_type} to {stage.name}",
            "stage_id": stage.id,
            "event_type": event_type,
        }
        values.update(vals)
        return cls.env["crm.stage.trigger"].create(values)

    @classmethod
    def _lead(cls, stage=None, **vals):
        values = {
            "name": "Office desks",
            "type": "opportunity",
            "team_id": cls.team.id,
            "user_id": cls.salesman.id,
            "partner_id": cls.partner.id,
            "email_from": cls.partner.email,
            "stage_id": (stage or cls.stage_new).id,
        }
        values.update(vals)
        return cls.env["crm.lead"].create(values)

    def _notes(self, lead):
        """Chatter notes of the automation (moves) on ``lead``."""
        return lead.message_ids.filtered(lambda m: "by trigger" in (m.body or ""))

    def _ledger(self, lead, kind="trigger_fired"):
        if "crm.automation.log" not in self.env:
            return None
        return self.env["crm.automation.log"].search(
            [("lead_id", "=", lead.id), ("kind", "=", kind)]
        )

    def assertMovedBy(self, lead, stage, trigger, user):
        """``lead`` is in ``stage``; chatter and ledger say which trigger and as whom."""
        self.assertEqual(lead.stage_id, stage)
        note = self._notes(lead)[:1]
        self.assertTrue(note, "a chatter note explains the move")
        self.assertIn(trigger.name, note.body)
        self.assertIn(user.name, note.body)
        self.assertEqual(note.author_id, user.partner_id)
        ledger = self._ledger(lead)
        if ledger is not None:
            self.assertTrue(ledger, "the ledger records the move")
            self.assertEqual(ledger[:1].user_id, user)
            self.assertIn(trigger.name, ledger[:1].message)
