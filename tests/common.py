# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fixtures and factories of the automation tests, reusable by other modules' tests.

One fixture chain (as crm's ``TestCrmCommon``)::

    CrmAutomationCommon        people, one team and its stages, the company calendar,
    |                          a customer; factories _calendar(), _lead()
    |                          ("Automation team": Lea Leader, Sam Seller, Sue Seller,
    |                          A New .. D Won, Brussels 9-17, Laura Chen)
    +-- AutomationCase         tags; factories _rule(); _jobs(), _logs(), _dispatch()
    +-- ActivityTemplateCase   "Deadline team" (D New .. D Proposal), a holiday in the
    |                          calendar, "Other team", demo templates archived;
    |                          factories _template(); _activities()
    +-- TrackingCase           "Tracking team" (T New .. T Won), Mia Manager, no
                               calendar, tracking on; factories _trigger();
                               _setup_calls() (signed call webhook); assertMovedBy();
                               process_ingest() (what the tracking routes queued)

    CommittedPipelineCase      no fixture: a pipeline committed on a connection of its
                               own, for the tests on two connections

The specialised bases declare what differs (logins, names, stages) as class data; the
set-up is the one of ``CrmAutomationCommon``. Shared constants of the HTTP tests (call
webhook secret, email body, browser) are here too: test modules never import each other.
"""

import hashlib
import random
import threading
import time
from contextlib import closing
from datetime import datetime

import psycopg2
from markupsafe import Markup

from odoo import SUPERUSER_ID, Command, api
from odoo.sql_db import db_connect
from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase

from . import fuzz_strategies

# A Monday, 10:00 UTC (11:00 in Brussels, winter time).
NOW = datetime(2026, 1, 12, 10, 0, 0)
# A public holiday of the calendar: Monday 19 January 2026, all day in Brussels.
HOLIDAY = (datetime(2026, 1, 18, 23, 0, 0), datetime(2026, 1, 19, 23, 0, 0))

MANAGER = "sales_team.group_sale_manager"
SALESMAN = "sales_team.group_sale_salesman"
BRUSSELS = "Europe/Brussels"

# The call webhook of source "pbx" (set by the tests that post calls).
SECRET = "pbx-secret-for-tests"
# An email with three links, and the browser that opens it.
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
BODY = Markup(
    '<p>Hello, see <a href="https://example.com/pricing?plan=pro&amp;x=1">our prices</a>, '
    '<a href="https://example.com/docs">the docs</a> and '
    '<a href="https://example.com/blog">the blog</a>.</p>'
)


def signed_headers(body, secret=SECRET, timestamp=None):
    """Headers of a call webhook request signed with ``secret``."""
    return fuzz_strategies.signed_headers(body, secret, timestamp)


class CrmAutomationCommon(TransactionCase):
    """People, a team with its stages, the company calendar and a customer, declared
    as class data (below) so that the specialised bases only say what differs."""

    # Set up and test with tracking off (the tracking tests need it on).
    tracking_disable = True
    # attribute: values of new_test_user(), created in this order
    fixture_people = {
        "leader": {"login": "cpa_leader", "name": "Lea Leader", "groups": MANAGER, "tz": BRUSSELS},
        "salesman": {
            "login": "cpa_seller",
            "name": "Sam Seller",
            "groups": SALESMAN,
            "tz": BRUSSELS,
        },
        "salesman2": {
            "login": "cpa_seller2",
            "name": "Sue Seller",
            "groups": SALESMAN,
            "tz": BRUSSELS,
        },
    }
    fixture_team = "Automation team"
    # attributes of fixture_people: the team leader (or None) and its members
    fixture_team_leader = "leader"
    fixture_team_members = ("salesman", "salesman2")
    # (attribute, name) of the team's stages, numbered from fixture_stage_sequence;
    # "stage_won" is a won stage
    fixture_stages = (
        ("stage_new", "A New"),
        ("stage_qualified", "B Qualified"),
        ("stage_proposal", "C Proposal"),
        ("stage_won", "D Won"),
    )
    fixture_stage_sequence = 101
    # (name, time zone) of the company calendar (Monday-Friday, 9-12 and 13-17), or None
    fixture_calendar = ("Brussels 9-17", BRUSSELS)
    # the lead factory's values on top of the team, salesperson and stage
    fixture_lead = {
        "name": "Office desks",
        "partner_name": "Acme Logistics",
        "contact_name": "Laura Chen",
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.tracking_disable:
            cls.env = cls.env(
                context=dict(cls.env.context, tracking_disable=True, mail_notrack=True)
            )
        for attr, values in cls.fixture_people.items():
            setattr(cls, attr, new_test_user(cls.env, **values))
        leader = cls.env["res.users"]
        if cls.fixture_team_leader:
            leader = getattr(cls, cls.fixture_team_leader)
        cls.team = cls.env["crm.team"].create(
            {"name": cls.fixture_team, "user_id": leader.id, "use_leads": True}
        )
        cls.env["crm.team.member"].create(
            [
                {"crm_team_id": cls.team.id, "user_id": getattr(cls, attr).id}
                for attr in cls.fixture_team_members
            ]
        )
        for sequence, (attr, name) in enumerate(cls.fixture_stages, cls.fixture_stage_sequence):
            stage = cls.env["crm.stage"].create(
                {
                    "name": name,
                    "sequence": sequence,
                    "team_id": cls.team.id,
                    **({"is_won": True} if attr == "stage_won" else {}),
                }
            )
            setattr(cls, attr, stage)
        if cls.fixture_calendar:
            cls.calendar = cls._calendar(*cls.fixture_calendar)
            cls.env.company.resource_calendar_id = cls.calendar
        cls.partner = cls.env["res.partner"].create(
            {"name": "Laura Chen", "email": "laura@acme.example.com", "phone": "+32 470 12 34 56"}
        )

    @classmethod
    def _calendar(cls, name, tz):
        """Monday to Friday, 9-12 and 13-17 in ``tz``."""
        return cls.env["resource.calendar"].create(
            {
                "name": name,
                "tz": tz,
                "attendance_ids": [
                    Command.create(
                        {
                            "name": f"{day} {period}",
                            "dayofweek": str(day),
                            "hour_from": start,
                            "hour_to": stop,
                            "day_period": period,
                        }
                    )
                    for day in range(5)
                    for start, stop, period in ((9, 12, "morning"), (13, 17, "afternoon"))
                ],
            }
        )

    @classmethod
    def _lead_defaults(cls):
        """Values of the lead factory that name the customer."""
        return {"partner_id": cls.partner.id, **cls.fixture_lead}

    @classmethod
    def _lead(cls, stage=None, **vals):
        values = {
            "type": "opportunity",
            "team_id": cls.team.id,
            "user_id": cls.salesman.id,
            "stage_id": (stage or cls.stage_new).id,
            **cls._lead_defaults(),
        }
        values.update(vals)
        return cls.env["crm.lead"].create(values)


class AutomationCase(CrmAutomationCommon):
    """A private pipeline (New, Qualified, Proposal, Won) with a salesperson, a
    leader and a Brussels 9-17 calendar; factories for rules, leads and dispatch."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_hot = cls.env["crm.tag"].create({"name": "Hot"})
        cls.tag_cold = cls.env["crm.tag"].create({"name": "Cold"})
        cls.Job = cls.env["crm.automation.job"]
        cls.Log = cls.env["crm.automation.log"]

    @classmethod
    def _rule(cls, stage, action_type="tags", **vals):
        values = {
            "name": f"{action_type} on {stage.name}",
            "stage_id": stage.id,
            "action_type": action_type,
        }
        if action_type == "tags" and "tag_add_ids" not in vals:
            values["tag_add_ids"] = [Command.link(cls.tag_hot.id)]
        values.update(vals)
        return cls.env["crm.automation.rule"].create(values)

    def _jobs(self, lead, rule=None):
        domain = [("lead_id", "=", lead.id)]
        if rule:
            domain.append(("rule_id", "=", rule.id))
        return self.Job.search(domain, order="id")

    def _logs(self, lead, kind=None):
        domain = [("lead_id", "=", lead.id)]
        if kind:
            domain.append(("kind", "=", kind))
        return self.Log.search(domain, order="id")

    def _dispatch(self):
        """Run the dispatcher as the cron does; return the ids of the jobs run."""
        return self.Job._dispatch_due_jobs()


class ActivityTemplateCase(CrmAutomationCommon):
    """A Brussels 9-17 calendar with a holiday, a sales team with a leader and two
    salespeople (one in New York), another team; factories for templates."""

    fixture_people = {
        "leader": {
            "login": "cpa_act_leader",
            "name": "Lea Leader",
            "groups": MANAGER,
            "tz": BRUSSELS,
            "email": "lea@example.com",
        },
        "salesman": {
            "login": "cpa_act_seller",
            "name": "Sam Seller",
            "groups": SALESMAN,
            "tz": BRUSSELS,
            "email": "sam@example.com",
        },
        "salesman2": {
            "login": "cpa_act_seller2",
            "name": "Sue Seller",
            "groups": SALESMAN,
            "tz": "America/New_York",
            "email": "sue@example.com",
        },
    }
    fixture_team = "Deadline team"
    fixture_stages = (
        ("stage_new", "D New"),
        ("stage_qualified", "D Qualified"),
        ("stage_proposal", "D Proposal"),
    )
    fixture_stage_sequence = 201
    fixture_lead = {
        "name": "Office chairs",
        "partner_name": "Acme Logistics",
        "contact_name": "Laura Chen",
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Demo templates react to lead creation and loss: keep them out of the fixtures.
        cls.env["crm.activity.template"].search([]).action_archive()
        cls.other_team = cls.env["crm.team"].create({"name": "Other team", "use_leads": True})
        cls.env["resource.calendar.leaves"].create(
            {
                "name": "Public holiday",
                "calendar_id": cls.calendar.id,
                "date_from": HOLIDAY[0],
                "date_to": HOLIDAY[1],
            }
        )
        cls.activity_type = cls.env.ref("mail.mail_activity_data_todo")

    @classmethod
    def _lead_defaults(cls):
        """No customer record: the template summaries read the lead's names."""
        return dict(cls.fixture_lead)

    @classmethod
    def _template(cls, **vals):
        values = {
            "name": "Call the customer",
            "activity_type_id": cls.activity_type.id,
            "summary": "Call {contact_name} of {partner_name}",
            "deadline_count": 2,
            "deadline_unit": "hours",
        }
        values.update(vals)
        return cls.env["crm.activity.template"].create(values)

    def _activities(self, lead, template=None, active_test=True):
        domain = [("res_model", "=", "crm.lead"), ("res_id", "=", lead.id)]
        if template:
            domain.append(("activity_template_id", "=", template.id))
        return (
            self.env["mail.activity"]
            .with_context(active_test=active_test)
            .search(domain, order="id")
        )


class TrackingCase(CrmAutomationCommon):
    """A pipeline "Tracking" (New, Qualified, Proposition, Won) with a salesperson, a
    manager, a customer, and factories for triggers and leads; tracking on (the
    chatter notes of the moves are tested)."""

    tracking_disable = False
    fixture_people = {
        "manager": {"login": "cpa_trk_manager", "name": "Mia Manager", "groups": MANAGER},
        "salesman": {
            "login": "cpa_trk_seller",
            "name": "Sam Seller",
            "groups": SALESMAN,
            "email": "sam@mycompany.example.com",
        },
    }
    fixture_team = "Tracking team"
    fixture_team_leader = None
    fixture_team_members = ()
    fixture_stages = (
        ("stage_new", "T New"),
        ("stage_qualified", "T Qualified"),
        ("stage_proposition", "T Proposition"),
        ("stage_won", "T Won"),
    )
    fixture_stage_sequence = 201
    fixture_calendar = None
    fixture_lead = {"name": "Office desks"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["crm.lead.event"]
        cls.Trigger = cls.env["crm.stage.trigger"]

    @classmethod
    def _setup_calls(cls):
        """Calls come in through the webhook of source "pbx" (signed with ``SECRET``) to a
        Belgian company (local numbers are Belgian)."""
        cls.env.company.country_id = cls.env.ref("base.be")
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("crm_pipeline_automation.call_source.pbx.secret", SECRET)

    @classmethod
    def _lead_defaults(cls):
        return {**super()._lead_defaults(), "email_from": cls.partner.email}

    @classmethod
    def _trigger(cls, stage, event_type="link_click", **vals):
        values = {
            "name": f"{event_type} to {stage.name}",
            "stage_id": stage.id,
            "event_type": event_type,
        }
        values.update(vals)
        return cls.env["crm.stage.trigger"].create(values)

    def process_ingest(self):
        """Run the processor of the tracking requests as its cron does: the pixel,
        click, beacon and call webhook routes only queue what they receive
        (crm.lead.event.ingest); return the number of queued rows processed."""
        processed = self.env["crm.lead.event.ingest"]._cron_process_ingest()
        self.env.invalidate_all()
        return processed

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

    def _visitor_chat(self, lead, livechat):
        """(HttpCase subclasses) The anonymous website visitor of this test's HTTP session
        (its token is what website.visitor derives from the request), known to be
        ``lead``'s visitor (e.g. it sent the lead form), opens a chat on ``livechat``
        through the live chat route: the discuss.channel."""
        self.authenticate(None, None)
        token = hashlib.sha1(
            repr(("127.0.0.1", self.opener.headers.get("User-Agent"), self.session.sid)).encode()
        ).hexdigest()[:32]
        visitor = self.env["website.visitor"].create(
            {"access_token": token, "website_id": self.env["website"].get_current_website().id}
        )
        lead.visitor_ids = visitor
        data = self.make_jsonrpc_request(
            "/im_livechat/get_session",
            {"anonymous_name": "Visitor", "channel_id": livechat.id, "persisted": True},
        )
        chat = self.env["discuss.channel"].browse(data["discuss.channel"][0]["id"])
        self.assertEqual(chat.livechat_visitor_id, visitor)
        return chat


def run_on_two_connections(registry, dbname, work, retry=False):
    """Run ``work(env)`` at the same moment in two threads, each on its own database
    connection (as two workers); return {"one": result or exception, "two": ...}.

    Without ``retry`` both transactions are held open until both are done, then
    committed. With ``retry`` (as two HTTP workers answering requests) both snapshots
    are taken before either works, and each retries ``work`` on a serialization
    failure (as Odoo retries a request) and commits on its own.
    """
    start, barrier = threading.Barrier(2, timeout=60), threading.Barrier(2, timeout=120)
    results = {}

    def attempt(cr, env):
        if not retry:
            return work(env)
        for count in range(1, 6):
            try:
                return work(env)
            except psycopg2.errors.SerializationFailure:
                if count == 5:
                    raise
                # What odoo.service.model.retrying does, but the registry: the test
                # runner holds its lock.
                cr.rollback()
                env.transaction.clear()
                time.sleep(random.uniform(0, 0.2 * count))

    def worker(name):
        threading.current_thread().dbname = dbname
        with closing(db_connect(dbname).cursor()) as cr:
            # The test runner holds the registry lock: give the cursor its transaction
            # directly instead of letting Environment look it up.
            cr.transaction = api.Transaction(registry)
            env = api.Environment(cr, SUPERUSER_ID, {})
            try:
                if retry:
                    cr.execute("SELECT 1")  # the transaction's snapshot (repeatable read)
                start.wait()
                results[name] = attempt(cr, env)
                if not retry:
                    barrier.wait()
                cr.commit()  # pylint: disable=invalid-commit
            except Exception as exc:
                results[name] = exc
                start.abort()
                barrier.abort()
                cr.rollback()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=150)
    return results


class CommittedPipelineCase(TransactionCase):
    """Data other database connections must see: created and committed on a connection
    of its own, deleted again when the test ends."""

    def _committed_pipeline(self, name, count, rule_vals, move):
        """A team with stages "<name> A" and "<name> B", a rule on B (values returned by
        ``rule_vals(env)``) and ``count`` leads in A; ``move(env, leads, stage_b)`` runs
        in the same transaction and returns more ids to keep (jobs, plans, tags).

        :return: dict of ids: team, stages, rule, leads, and what ``move`` returned
        """
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            team = env["crm.team"].create({"name": f"{name} team"})
            stage_a = env["crm.stage"].create(
                {"name": f"{name} A", "sequence": 201, "team_id": team.id}
            )
            stage_b = env["crm.stage"].create(
                {"name": f"{name} B", "sequence": 202, "team_id": team.id}
            )
            rule = env["crm.automation.rule"].create(
                {"name": f"{name} rule", "stage_id": stage_b.id, **rule_vals(env)}
            )
            leads = env["crm.lead"].create(
                [
                    {"name": f"{name} {i}", "team_id": team.id, "stage_id": stage_a.id}
                    for i in range(count)
                ]
            )
            data = {
                "team": team.id,
                "stages": (stage_a | stage_b).ids,
                "rule": rule.id,
                "leads": leads.ids,
                **move(env, leads, stage_b),
            }
            # Committed on purpose: the other connections must see it.
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._delete_committed, data)
        return data

    def _delete_committed(self, data):
        with closing(db_connect(self.env.cr.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["crm.automation.job.plan"].browse(data.get("plans", [])).exists().unlink()
            # Ledger rows and jobs go with their leads (ON DELETE CASCADE).
            env["crm.lead"].with_context(active_test=False).browse(data["leads"]).unlink()
            env["crm.automation.rule"].browse(data["rule"]).unlink()
            env["crm.stage"].browse(data["stages"]).unlink()
            env["crm.team"].browse(data["team"]).unlink()
            env["crm.tag"].browse(data.get("tags", [])).unlink()
            cr.commit()  # pylint: disable=invalid-commit
