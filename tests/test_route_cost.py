# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import time
from collections import Counter

from odoo.sql_db import categorize_query
from odoo.tests import HttpCase, tagged

from ..engine import tokens as tracking_token
from .common import BROWSER, TrackingCase

_logger = logging.getLogger(__name__)

# SQL queries of one request in a hot worker, as a real server runs them (the test
# cursor's savepoints left out; Odoo's website/tests/test_performance.py counts the
# same way): the contract "validate the token, append the fact" (engine/ingest.py).
# With the synchronous routes of 18.0.1.2.0 a pixel cost 12 queries and a click 15.
# Odoo's part of any route with a database: the registry signaling check. The token
# check and the system parameters it reads (the database secret, token_validity_days)
# cost none: Odoo's ormcache of ir.config_parameter.
ODOO_QUERIES = 1
# + the ingest row, and at most one ir.cron trigger waking the processor (once a second
# per worker: engine/ingest.py should_wake).
PIXEL_QUERIES = ODOO_QUERIES + 2
# The same: the link's stored URL, whether the lead is tracked and the ingest row are
# one statement (engine/ingest.py click).
CLICK_QUERIES = PIXEL_QUERIES


@tagged("post_install", "-at_install")
class TestRouteCost(TrackingCase, HttpCase):
    """What an open pixel or a click costs in SQL on the server, outside and inside our
    model code: bounded, and a refused token costs Odoo's dispatch only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.link = cls.env["link.tracker"].create(
            {"url": "https://example.com/landing", "title": "landing"}
        )
        cls.lead = cls._lead()
        cls.message_ids = iter(range(900000, 999999))

    def _queries(self, path, status):
        """SQL queries of one request to ``path`` by a browser (after two warm-up
        requests to fresh paths of the same route)."""
        headers = {"User-Agent": BROWSER}
        for _warm in range(2):
            self.url_open(path(), headers=headers, allow_redirects=False)
        measured = path()
        profiler = self.profile(collectors=["sql"], db=False)
        with profiler:
            # What a real worker does first (the test mode skips it), as Odoo's
            # website/tests/test_performance.py counts it.
            self.registry.get_sequences(self.cr)
            response = self.url_open(measured, headers=headers, allow_redirects=False)
        self.assertEqual(response.status_code, status, measured)
        entries = list(profiler.profiler.collectors[0].entries)
        for sub in profiler.profiler.sub_profilers:
            entries += sub.collectors[0].entries
        queries = [entry["full_query"].strip() for entry in entries]
        tables = Counter("{} {}".format(*categorize_query(query)) for query in queries)
        _logger.info("%s: %s queries %s", measured[:8], len(queries), dict(tables))
        return queries

    def _pixel(self):
        sent = int(time.time()) - 3600
        return "/cpa/o/" + tracking_token.sign(
            self.env, "open", [self.lead.id, next(self.message_ids), self.partner.id, 0, sent]
        )

    def _click(self):
        sent = int(time.time()) - 3600
        numbers = [self.lead.id, next(self.message_ids), self.partner.id, 0, sent, 1, self.link.id]
        return "/cpa/c/" + tracking_token.sign(self.env, "click", numbers)

    def test_pixel_cost(self):
        queries = self._queries(self._pixel, 200)
        self.assertLessEqual(len(queries), PIXEL_QUERIES, "\n---\n".join(queries))

    def test_click_cost(self):
        queries = self._queries(self._click, 302)
        self.assertLessEqual(len(queries), CLICK_QUERIES, "\n---\n".join(queries))

    def test_refused_token_costs_odoo_dispatch_only(self):
        """Token check and the validity parameter cost no query (the database secret and
        system parameters come from Odoo's ormcache): a forged or expired token costs
        what Odoo's dispatch of any database route costs."""
        forged = self._pixel()[:-8] + "0" * 8
        queries = self._queries(lambda: forged, 403)
        self.assertLessEqual(len(queries), ODOO_QUERIES, "\n---\n".join(queries))
        old = int(time.time()) - 400 * 86400
        expired = "/cpa/o/" + tracking_token.sign(
            self.env, "open", [self.lead.id, 1, self.partner.id, 0, old]
        )
        queries = self._queries(lambda: expired, 403)
        self.assertLessEqual(len(queries), ODOO_QUERIES, "\n---\n".join(queries))
        self.assertEqual(self.url_open(forged[:-1] + "x").status_code, 400)
