# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from odoo.addons.mail.tests.common import MockEmail
from odoo.addons.sms.tests.common import SMSCase

from ..engine import batch
from .common import NOW, AutomationCase

DUE = NOW + timedelta(hours=1)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestSetWiseDispatch(AutomationCase, MockEmail):
    """The dispatcher runs the due jobs of a rule set-wise (one group, one savepoint):
    the results are those of running them one by one, job by job in the ledger,
    chatter and undo; a lead that makes the group fail fails alone."""

    def _delayed(self, action_type="tags", **vals):
        return self._rule(
            self.stage_qualified,
            action_type,
            timing="delay",
            delay_count=1,
            delay_unit="hours",
            **vals,
        )

    def _due(self, count, **lead_vals):
        """``count`` leads entered the stage of the delayed rules an hour ago."""
        leads = self.env["crm.lead"].browse()
        for i in range(count):
            vals = {"name": f"Lead {i}", **lead_vals}
            leads |= self._lead(**vals)
        leads.write({"stage_id": self.stage_qualified.id})
        return leads

    def _run(self, batch_size=50):
        """Dispatch the due jobs, ``batch_size`` a batch (1: one job at a time)."""
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.job_batch_size", batch_size
        )
        with freeze_time(DUE):
            return self._dispatch()

    def _job(self, lead, rule):
        job = self._jobs(lead, rule)
        self.assertEqual(len(job), 1)
        return job

    def _done_row(self, lead, rule):
        rows = self._logs(lead, "rule_done").filtered(lambda row: row.rule_id == rule)
        self.assertEqual(len(rows), 1)
        return rows

    def _note(self, lead, text):
        return lead.message_ids.filtered(lambda m: text in (m.body or ""))

    # ------------------------------------------------------------------
    # Grouping (engine)
    # ------------------------------------------------------------------

    def test_grouping_keeps_the_order_of_each_lead(self):
        # a mass move: one group per rule
        rows = [(1, 10, "A"), (2, 10, "B"), (3, 11, "A"), (4, 11, "B")]
        self.assertEqual(batch.group_jobs(rows), [("A", [1, 3]), ("B", [2, 4])])
        # lead 11 runs B before A: its A job cannot join the first A group
        rows = [(1, 10, "A"), (2, 10, "B"), (3, 11, "B"), (4, 11, "A")]
        self.assertEqual(batch.group_jobs(rows), [("A", [1]), ("B", [2, 3]), ("A", [4])])
        # two jobs of one rule on one lead (two visits): two groups
        rows = [(1, 10, "A"), (2, 10, "A"), (3, 11, "A")]
        self.assertEqual(batch.group_jobs(rows), [("A", [1]), ("A", [2, 3])])

    # ------------------------------------------------------------------
    # Same results as one by one
    # ------------------------------------------------------------------

    def test_tags_and_score_as_one_by_one_with_ledger_chatter_and_undo(self):
        rule = self._delayed(
            tag_add_ids=[Command.link(self.tag_hot.id)],
            tag_remove_ids=[Command.link(self.tag_cold.id)],
            score_delta=-5,
        )
        expected = {}
        for batch_size in (1, 50):
            leads = self._due(0)
            for score in (0, 3, 12):
                leads |= self._due(
                    1, engagement_score=score, tag_ids=[Command.link(self.tag_cold.id)]
                )
            expected[batch_size] = leads
            self.assertEqual(len(self._run(batch_size)), 3)
        results = {}
        for batch_size, leads in expected.items():
            jobs = [self._job(lead, rule) for lead in leads]
            self.assertEqual({job.state for job in jobs}, {"done"})
            self.assertEqual({job.attempts for job in jobs}, {1})
            self.assertEqual(leads.mapped("engagement_score"), [0, 0, 7])
            for lead in leads:
                self.assertEqual(lead.tag_ids, self.tag_hot)
            results[batch_size] = [job.result for job in jobs]
            for lead, job in zip(leads, jobs, strict=False):
                row = self._done_row(lead, rule)
                self.assertEqual(row.job_id, job)
                self.assertEqual(row.message, job.result)
                self.assertTrue(self._note(lead, job.result))
                self.assertEqual(
                    row.undo_data["tags"],
                    {"added": [self.tag_hot.id], "removed": [self.tag_cold.id]},
                )
        self.assertEqual(results[1], results[50])
        self.assertIn("Engagement score unchanged at 0 (floor 0; -5 requested).", results[50][0])
        self.assertIn("Engagement score -3 (floor 0 reached; -5 requested).", results[50][1])
        self.assertIn("Engagement score -5.", results[50][2])
        # each job is undone on its own
        for lead, score in zip(expected[50], (0, 3, 12), strict=False):
            self._done_row(lead, rule).with_user(self.leader).action_undo()
            self.assertEqual(lead.tag_ids, self.tag_cold)
            self.assertEqual(lead.engagement_score, score)

    def test_score_reaching_a_watched_value_still_moves(self):
        self.env["crm.stage.trigger"].create(
            {
                "name": "Score 10",
                "stage_id": self.stage_proposal.id,
                "event_type": "field_changed",
                "watch_field": "engagement_score",
                "watch_change": "reached",
                "watch_value": "10",
                "fire_on_automatic": True,
            }
        )
        rule = self._delayed(tag_add_ids=[], score_delta=10)
        leads = self._due(3)
        self._run()
        self.assertEqual(leads.mapped("engagement_score"), [10, 10, 10])
        self.assertEqual(set(leads.mapped("stage_id")), {self.stage_proposal})
        self.assertEqual({self._job(lead, rule).state for lead in leads}, {"done"})

    def test_activity_as_one_by_one_with_undo(self):
        call = self.env.ref("mail.mail_activity_data_call")
        rule = self._delayed(
            "activity",
            activity_type_id=call.id,
            activity_summary="Call {name}",
            activity_deadline_count=2,
            activity_user_source="team_leader",
        )
        single = self._due(1)
        self._run(1)
        leads = self._due(4)
        self._run()
        for lead in single | leads:
            job = self._job(lead, rule)
            activity = lead.activity_ids
            self.assertEqual(len(activity), 1)
            self.assertEqual(job.activity_id, activity)
            self.assertEqual(activity.summary, f"Call {lead.name}")
            self.assertEqual(activity.user_id, self.leader)
            self.assertEqual(activity.date_deadline, single.activity_ids.date_deadline)
            self.assertEqual(
                job.result,
                f"Activity 'Call {lead.name}' planned for Lea Leader, due "
                f"{activity.date_deadline}.",
            )
            row = self._done_row(lead, rule)
            self.assertEqual(row.undo_data["activity_id"], activity.id)
            self.assertTrue(self._note(lead, "planned for Lea Leader"))
        # The assignee is told of each activity: of the one planned alone by Odoo's
        # own notice on its lead; of the four planned together by one notice listing
        # them (not four notices).
        notices = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "in", (single | leads).ids),
                ("message_type", "=", "user_notification"),
            ]
        )
        self.assertEqual(notices.mapped("res_id"), single.ids)
        self.assertEqual(notices.partner_ids, self.leader.partner_id)
        several = self.env["mail.message"].search(
            [
                ("model", "=", False),
                ("message_type", "=", "user_notification"),
                ("partner_ids", "in", self.leader.partner_id.ids),
                ("subject", "=", "4 activities assigned to you"),
            ]
        )
        self.assertEqual(len(several), 1)
        self.assertIn(
            f'The automation rule "<span>{rule.name}</span>" has just assigned you', several.body
        )
        for lead in leads:
            self.assertIn(f"Call {lead.name}", several.body)
            self.assertIn(f"/mail/view?model=crm.lead&amp;res_id={lead.id}", several.body)
        self.assertEqual(several.notification_ids.res_partner_id, self.leader.partner_id)
        self._done_row(leads[0], rule).with_user(self.leader).action_undo()
        self.assertFalse(leads[0].activity_ids)
        self.assertTrue(leads[1].activity_ids)

    def test_activity_notice_of_many_lists_twenty_and_links_to_all(self):
        rule = self._delayed(
            "activity", activity_summary="Call {name}", activity_user_source="team_leader"
        )
        leads = self._due(25)
        self._run()
        self.assertEqual(len(leads.activity_ids), 25)
        notice = self.env["mail.message"].search(
            [
                ("model", "=", False),
                ("partner_ids", "in", self.leader.partner_id.ids),
                ("subject", "=", "25 activities assigned to you"),
            ]
        )
        self.assertEqual(len(notice), 1)
        self.assertIn(f'"<span>{rule.name}</span>"', notice.body)
        listed = [lead for lead in leads if f'res_id={lead.id}"' in notice.body]
        self.assertEqual(len(listed), 20)  # the first 20 of the batch (in job order)
        self.assertIn("And <span>5</span> more", notice.body)
        self.assertIn("/odoo/action-crm.crm_lead_action_my_activities", notice.body)

    def test_template_activity_deadline_and_reminder_as_one_by_one(self):
        template = self.env["crm.activity.template"].create(
            {
                "name": "Quick call",
                "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                "summary": "Call {name}",
                "deadline_count": 90,
                "deadline_unit": "minutes",
                "reminder_count": 30,
                "reminder_unit": "minutes",
                "user_source": "round_robin",
            }
        )
        rule = self._delayed("activity", activity_template_id=template.id)
        single = self._due(1)
        self._run(1)
        leads = self._due(3)
        self._run()
        reference = single.activity_ids
        self.assertEqual(reference.deadline_datetime, DUE + timedelta(minutes=90))
        self.assertEqual(reference.reminder_datetime, DUE + timedelta(minutes=60))
        users = []
        for lead in single | leads:
            activity = lead.activity_ids
            self.assertEqual(len(activity), 1)
            self.assertEqual(activity.activity_template_id, template)
            self.assertEqual(activity.deadline_datetime, reference.deadline_datetime)
            self.assertEqual(activity.reminder_datetime, reference.reminder_datetime)
            self.assertEqual(self._job(lead, rule).activity_id, activity)
            self.assertIn("(template Quick call)", self._job(lead, rule).result)
            users.append(activity.user_id)
        # round-robin turns in job order, across the runs
        members = (self.salesman | self.salesman2).sorted("id")
        self.assertEqual(users, [members[0], members[1], members[0], members[1]])
        self.assertEqual(template.round_robin_last_user_id, members[1])

    def test_assign_round_robin_in_job_order(self):
        rule = self._delayed("assign", assign_mode="round_robin")
        leads = self._due(5, user_id=False)
        self._run()
        members = (self.salesman | self.salesman2).sorted("id")
        self.assertEqual(leads.mapped("user_id").ids, members.ids)
        self.assertEqual([lead.user_id for lead in leads], [members[i % 2] for i in range(5)])
        self.assertEqual(rule.assign_last_user_id, members[0])
        for lead in leads:
            self.assertEqual(self._job(lead, rule).result, f"Assigned to {lead.user_id.name}.")
        row = self._done_row(leads[1], rule)
        self.assertEqual(row.undo_data["fields"]["user_id"], [False, members[1].id])
        row.with_user(self.leader).action_undo()
        self.assertFalse(leads[1].user_id)

    def test_update_one_write_for_the_same_values(self):
        fields_ = self.env["ir.model.fields"]
        rule = self._delayed(
            "update",
            update_line_ids=[
                Command.create({"field_id": fields_._get("crm.lead", "priority").id, "value": "2"}),
                Command.create(
                    {"field_id": fields_._get("crm.lead", "expected_revenue").id, "value": "900"}
                ),
                Command.create(
                    {"field_id": fields_._get("crm.lead", "stage_id").id, "value": "C Proposal"}
                ),
            ],
        )
        leads = self._due(4, expected_revenue=100)
        self._run()
        self.assertEqual(set(leads.mapped("priority")), {"2"})
        self.assertEqual(set(leads.mapped("expected_revenue")), {900})
        self.assertEqual(set(leads.mapped("stage_id")), {self.stage_proposal})
        for lead in leads:
            job = self._job(lead, rule)
            self.assertEqual(job.state, "done", job.last_error)
            row = self._done_row(lead, rule)
            self.assertEqual(row.undo_data["fields"]["expected_revenue"], [100, 900])
        self._done_row(leads[2], rule).with_user(self.leader).action_undo()
        self.assertEqual(leads[2].expected_revenue, 100)
        self.assertEqual(leads[3].expected_revenue, 900)

    def test_notify_and_email_per_lead(self):
        template = self.env["mail.template"].create(
            {
                "name": "Internal heads-up",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "subject": "About {{ object.name }}",
                "body_html": "<p>Look at <t t-out='object.name'/></p>",
            }
        )
        self.salesman.email = "sam@example.com"
        self.salesman2.email = "sue@example.com"
        notify = self._delayed("notify", notify_target="salesperson", notify_message="See {name}")
        email = self._delayed("email", mail_template_id=template.id, recipient_target="salesperson")
        leads = self._due(2) | self._due(2, user_id=self.salesman2.id)
        mail_queue = self.env.ref("mail.ir_cron_mail_scheduler_action")
        Trigger = self.env["ir.cron.trigger"].sudo()
        wakes = Trigger.search_count([("cron_id", "=", mail_queue.id)])
        with self.mock_mail_gateway():
            self._run()
        # The emails are queued, not sent within the dispatcher's transaction (as
        # Odoo's server actions do), and Odoo's email queue is woken for them.
        self.assertFalse(self._mails)
        self.assertGreater(Trigger.search_count([("cron_id", "=", mail_queue.id)]), wakes)
        for lead in leads:
            self.assertEqual(
                self._job(lead, notify).state, "done", self._job(lead, notify).last_error
            )
            self.assertEqual(self._job(lead, notify).result, f"Notified {lead.user_id.name}.")
            notice = self.env["mail.message"].search(
                [
                    ("model", "=", "crm.lead"),
                    ("res_id", "=", lead.id),
                    ("body", "ilike", f"See {lead.name}"),
                ]
            )
            self.assertEqual(notice.partner_ids, lead.user_id.partner_id)
            job = self._job(lead, email)
            self.assertEqual(job.state, "done", job.last_error)
            self.assertEqual(job.result, f"Email 'Internal heads-up' sent to {lead.user_id.name}.")
            mail = self.env["mail.mail"].search(
                [
                    ("model", "=", "crm.lead"),
                    ("res_id", "=", lead.id),
                    ("subject", "=", f"About {lead.name}"),
                ]
            )
            self.assertEqual(mail.recipient_ids, lead.user_id.partner_id)
            self.assertEqual(mail.state, "outgoing")

    def test_no_email_no_mail_queue_wake(self):
        rule = self._delayed("tags", score_delta=1)
        leads = self._due(3)
        mail_queue = self.env.ref("mail.ir_cron_mail_scheduler_action")
        Trigger = self.env["ir.cron.trigger"].sudo()
        wakes = Trigger.search_count([("cron_id", "=", mail_queue.id)])
        self._run()
        self.assertEqual(self._job(leads[0], rule).state, "done")
        self.assertEqual(Trigger.search_count([("cron_id", "=", mail_queue.id)]), wakes)

    # ------------------------------------------------------------------
    # Failure isolation
    # ------------------------------------------------------------------

    def test_a_failing_lead_fails_alone_and_retries(self):
        no_leader = self.env["crm.team"].create({"name": "No leader", "use_leads": True})
        rule = self._delayed("assign", assign_mode="team_leader")
        leads = self._due(2) | self._due(1, team_id=no_leader.id) | self._due(2)
        self._run()
        bad = leads[2]
        for lead in leads - bad:
            self.assertEqual(self._job(lead, rule).state, "done")
            self.assertEqual(lead.user_id, self.leader)
            self._done_row(lead, rule)
        job = self._job(bad, rule)
        self.assertEqual((job.state, job.attempts), ("pending", 1))
        self.assertIn("found nobody to assign", job.last_error)
        self.assertGreater(job.run_at, DUE)
        self.assertTrue(self._logs(bad, "job_retry"))
        self.assertFalse(self._logs(bad, "rule_done"))
        self.assertEqual(bad.user_id, self.salesman)

    def test_jobs_refused_set_wise_with_their_ledger_rows(self):
        rule = self._delayed(filter_domain="[('priority', '=', '3')]")
        leads = self._due(4, priority="3")
        leads[1].priority = "0"
        leads[2].action_archive()
        self._run()
        self.assertEqual(self._job(leads[0], rule).state, "done")
        self.assertEqual(self._job(leads[3], rule).state, "done")
        self.assertEqual(self._job(leads[1], rule).state, "cancelled")
        self.assertIn("Condition not met", self._logs(leads[1], "rule_skipped").message)
        self.assertEqual(self._job(leads[2], rule).state, "cancelled")
        self.assertTrue(self._logs(leads[2], "job_cancelled"))
        self.assertEqual(leads[0].tag_ids, self.tag_hot)
        self.assertFalse(leads[1].tag_ids)

    # ------------------------------------------------------------------
    # Cost
    # ------------------------------------------------------------------

    def _queries(self, rule, count):
        leads = self._due(count)
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        run = self._run(200)
        queries = self.env.cr.sql_log_count - before
        self.assertEqual(len(run), count)
        self.assertEqual({self._job(lead, rule).state for lead in leads}, {"done"})
        return queries

    def test_group_cost_does_not_grow_per_job(self):
        rule = self._delayed(score_delta=2)
        small = self._queries(rule, 10)
        large = self._queries(rule, 50)
        # one by one: ~10 queries a job; set-wise: the same statements for 10 or 50
        self.assertLessEqual(large, small + 5, (small, large))


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestSetWiseSms(AutomationCase, SMSCase):
    """SMS of a group: a lead without a number is skipped alone, and no SMS leaves
    twice (Odoo sends by IAP at once: the group checks every lead first)."""

    def test_sms_group_with_a_lead_without_number(self):
        template = self.env["sms.template"].create(
            {
                "name": "Qualified",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "body": "Hello {{ object.name }}",
            }
        )
        rule = self._rule(
            self.stage_qualified,
            "sms",
            sms_template_id=template.id,
            timing="delay",
            delay_count=1,
            delay_unit="hours",
        )
        numbers = ["+32 470 11 22 31", "+32 470 11 22 32", False, "+32 470 11 22 34"]
        leads = self.env["crm.lead"].browse()
        for i, number in enumerate(numbers):
            leads |= self._lead(name=f"Lead {i}", partner_id=False, mobile=number)
        leads.write({"stage_id": self.stage_qualified.id})
        self.env["ir.config_parameter"].sudo().set_param(
            "crm_pipeline_automation.job_batch_size", 50
        )
        with freeze_time(DUE), self.mockSMSGateway():
            self.Job._dispatch_due_jobs()
        self.assertEqual(
            sorted(sms["number"] for sms in self._sms),
            ["+32470112231", "+32470112232", "+32470112234"],
        )
        for lead, number in zip(leads, numbers, strict=False):
            job = self._jobs(lead, rule)
            if number:
                self.assertEqual(job.state, "done", job.last_error)
                self.assertIn("sent to +3247011223", job.result)
                self.assertEqual(self._logs(lead, "rule_done").message, job.result)
            else:
                self.assertEqual(job.state, "cancelled")
                self.assertIn("No SMS", self._logs(lead, "rule_skipped").message)

    def test_sms_group_to_salespeople(self):
        self.salesman.partner_id.mobile = "+32 470 99 88 71"
        self.salesman2.partner_id.mobile = "+32 470 99 88 72"
        rule = self._rule(
            self.stage_qualified,
            "sms",
            message_body="New: {name}",
            recipient_target="salesperson",
            timing="delay",
            delay_count=1,
            delay_unit="hours",
        )
        leads = self._lead(name="A") | self._lead(name="B", user_id=self.salesman2.id)
        leads.write({"stage_id": self.stage_qualified.id})
        with freeze_time(DUE), self.mockSMSGateway():
            self.Job._dispatch_due_jobs()
        self.assertEqual(
            sorted((sms["number"], sms["body"]) for sms in self._sms),
            [("+32470998871", "New: A"), ("+32470998872", "New: B")],
        )
        for lead in leads:
            job = self._jobs(lead, rule)
            self.assertEqual(job.state, "done", job.last_error)
            self.assertEqual(job.result, f"SMS 'New: {lead.name}' sent to {lead.user_id.name}.")
