"""Public routes of the reliability harness (bench/reliability.py): concurrent tracking
clients for the load part, the clock-and-order part and the hostile-input fuzzer.

Clients build valid tokens and webhook signatures the way the addon does (the harness
reads the database secret from its own throwaway database), so every request goes
through the real routes of a multi-worker Odoo.
"""

import hashlib
import hmac
import importlib.util
import json
import os
import random
import re
import signal
import statistics
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import requests

ADDON = Path(__file__).resolve().parent.parent
SOURCE, SECRET = "pbx", "reliability-webhook-secret"
SHOP = "https://shop.example.com"
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
LINK_URLS = ("https://example.com/pricing", "https://example.com/docs", f"{SHOP}/offer")
EXPECTED_STATUS = {"pixel": 200, "click": 302, "beacon": 204, "webhook": 200}


def fuzz_strategies():
    """tests/fuzz_strategies.py, loaded by path (the tests package imports Odoo)."""
    spec = importlib.util.spec_from_file_location(
        "cpa_fuzz_strategies", ADDON / "tests" / "fuzz_strategies.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUZZ = fuzz_strategies()


def percentile(values, pct):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def latency_figures(latencies):
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
    }


class Signer:
    """Tokens and webhook signatures, computed like models/tracking_token.py and
    controllers/webhook.py (odoo.tools.hmac of the database secret)."""

    def __init__(self, server):
        (self.secret,) = server.sql(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'"
        )[0]

    def sign(self, scope, numbers):
        payload = ".".join(str(int(n)) for n in numbers)
        message = repr((f"crm_pipeline_automation.{scope}", payload))
        digest = hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{digest[:32]}"

    @staticmethod
    def webhook_headers(body, timestamp=None):
        return FUZZ.signed_headers(body, SECRET, timestamp)


def phone(prefix, index):
    """Belgian mobile numbers, one range per part: +32 47<prefix> nnn nnn."""
    return f"+3247{prefix}{index:06d}"


def setup_public_routes(rpc, create_lead_team=None):
    """System parameters of the routes: the webhook source, the snippet's site."""
    params = {
        f"crm_pipeline_automation.call_source.{SOURCE}.secret": SECRET,
        "crm_pipeline_automation.snippet_domains": urlsplit(SHOP).hostname,
        "crm_pipeline_automation.call_replay_window_seconds": "300",
    }
    if create_lead_team:
        params[f"crm_pipeline_automation.call_source.{SOURCE}.create_lead"] = "1"
        params[f"crm_pipeline_automation.call_source.{SOURCE}.team_id"] = str(create_lead_team)
    for key, value in params.items():
        rpc("ir.config_parameter", "set_param", key, value)
    links = []
    for url in LINK_URLS:
        found = rpc("link.tracker", "search", [("url", "=", url)], limit=1)
        links += found or rpc("link.tracker", "create", [{"url": url, "title": url}])
    return links


# --------------------------------------------------------------------------- load


class TrackingLoad:
    """Concurrent clients on the open pixel, click, beacon and call webhook for a set of
    leads, with deliberate duplicates; then checks from SQL that each accepted fact is
    stored exactly once."""

    def __init__(self, server, lead_ids, phones, link_ids, clients=6, dup_rate=0.15):
        self.server = server
        self.lead_ids = lead_ids
        self.phones = phones  # lead id -> E.164
        self.link_ids = link_ids
        self.clients = clients
        self.dup_rate = dup_rate
        self.signer = Signer(server)
        self.lock = threading.Lock()
        self.latencies = defaultdict(list)
        self.errors = []
        self.http_500 = 0
        self.sent = Counter()
        self.duplicates_sent = Counter()
        self.expected = set()  # normalised dedup keys of accepted facts
        self.calls_recorded = Counter()  # external id -> "recorded" answers
        self.threads = []
        self.started = self.elapsed = self.drained_after = None

    # -- one request of each kind: (route, method, path, body, headers, fact key)
    def _pixel(self, rnd, lead):
        message = 100000 + lead * 10 + rnd.randrange(3)
        token = self.signer.sign("open", [lead, message, 0, 0, int(time.time()) - 3600])
        return "pixel", "GET", f"/cpa/o/{token}", None, {}, f"open{message}.0.human:{lead}"

    def _click(self, rnd, lead):
        # Mostly one-link emails (the click fires at once); some three-link ones,
        # held for the burst window, always on the same link (no burst).
        many = rnd.random() < 0.3
        message = (300000 if many else 200000) + lead * 10 + rnd.randrange(2)
        link = self.link_ids[0] if many else rnd.choice(self.link_ids)
        numbers = [lead, message, 0, 0, int(time.time()) - 3600, 3 if many else 1, link]
        token = self.signer.sign("click", numbers)
        key = f"click{message}.0.{link}.human:{lead}"
        return "click", "GET", f"/cpa/c/{token}", None, {}, key

    def _beacon(self, rnd, lead):
        url = f"{SHOP}/page{rnd.randrange(3)}"
        token = self.signer.sign("lead", [lead, int(time.time()) - 60])
        body = json.dumps({"t": token, "u": url}).encode()
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        headers = {"Content-Type": "text/plain", "Origin": SHOP}
        return "beacon", "POST", "/cpa/beacon", body, headers, f"visit{digest}:{lead}"

    def _webhook(self, rnd, lead):
        call_id = f"load-{lead}-{rnd.randrange(10**9)}"
        payload = {
            "id": call_id,
            "type": "incoming",
            "from": self.phones[lead],
            "to": "+3225550000",
            "time": int(time.time()) - rnd.randrange(120),
            "duration": rnd.randrange(600),
        }
        body = json.dumps(payload).encode()
        path = f"/cpa/webhook/call/{SOURCE}"
        return "webhook", "POST", path, body, None, f"call{SOURCE}:{call_id}:{lead}"

    def _client(self, seed, stop_at):
        rnd = random.Random(seed)
        session = requests.Session()
        session.headers["User-Agent"] = BROWSER
        accepted = []  # requests already accepted once: resent as duplicates
        makers = (self._pixel, self._click, self._beacon, self._webhook)
        while time.time() < stop_at:
            duplicate = accepted and rnd.random() < self.dup_rate
            if duplicate:
                request = rnd.choice(accepted)
            else:
                request = rnd.choice(makers)(rnd, rnd.choice(self.lead_ids))
            route, method, path, body, headers, key = request
            if route == "webhook":
                headers = self.signer.webhook_headers(body)  # a retry is signed anew
            t0 = time.perf_counter()
            try:
                response = session.request(
                    method,
                    self.server.url + path,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=120,
                )
            except requests.RequestException as exc:
                with self.lock:
                    self.errors.append(f"{route}: {exc}"[:200])
                continue
            elapsed = time.perf_counter() - t0
            ok = response.status_code == EXPECTED_STATUS[route]
            answer = response.json().get("status") if route == "webhook" and ok else None
            if route == "webhook" and answer not in ("recorded", "duplicate"):
                ok = False
            with self.lock:
                self.sent[route] += 1
                if duplicate:
                    self.duplicates_sent[route] += 1
                if response.status_code >= 500:
                    self.http_500 += 1
                if not ok:
                    self.errors.append(
                        f"{route} {path[:60]}: {response.status_code} {response.text[:120]}"
                    )
                    continue
                self.latencies[route].append(elapsed)
                self.expected.add(key)
                if answer == "recorded":
                    self.calls_recorded[key] += 1
            if not duplicate:
                accepted.append(request)

    def start(self, stop_at):
        self.started = time.time()
        self.threads = [
            threading.Thread(target=self._client, args=(1000 + i, stop_at))
            for i in range(self.clients)
        ]
        for thread in self.threads:
            thread.start()

    def join(self):
        for thread in self.threads:
            thread.join()
        self.elapsed = time.time() - self.started

    def wait_held(self, timeout):
        """Wait until the processor has drained the ingest queue (the routes only queue
        what they receive) and the cron has decided every held click (burst window
        passed)."""
        self.drained_after = wait_ingest(self.server, timeout)
        deadline = time.time() + timeout
        while time.time() < deadline:
            (held,) = self.server.sql(
                "SELECT count(*) FROM crm_lead_event WHERE state = 'held' AND lead_id = ANY(%s)",
                (self.lead_ids,),
            )[0]
            if not held:
                return
            time.sleep(2)

    def check(self):
        """(figures, problems) once the server has settled."""
        rows = self.server.sql(
            "SELECT dedup_key, state FROM crm_lead_event "
            "WHERE lead_id = ANY(%s) AND dedup_key IS NOT NULL",
            (self.lead_ids,),
        )
        # Visits are deduplicated per hour: drop the hour to compare with the clients.
        stored = Counter(re.sub(r"^(visit[0-9a-f]{16})\.\d+", r"\1", key) for key, _s in rows)
        states = Counter(state for _k, state in rows)
        missing = self.expected - set(stored)
        twice = [key for key, count in stored.items() if count > 1 and key in self.expected]
        unexpected = set(stored) - self.expected
        (refs_twice,) = self.server.sql(
            "SELECT count(*) FROM (SELECT external_ref FROM crm_lead_event "
            "WHERE external_ref LIKE 'pbx:load-%%' GROUP BY 1 HAVING count(*) > 1) d"
        )[0]
        recorded_twice = [key for key, count in self.calls_recorded.items() if count > 1]
        accepted = sum(len(v) for v in self.latencies.values())
        figures = {
            "http_clients": self.clients,
            "requests": dict(self.sent),
            "duplicates_sent": dict(self.duplicates_sent),
            "accepted_per_s": round(accepted / self.elapsed, 1),
            "facts_stored": len(self.expected),
            "events_per_s": round(len(self.expected) / self.elapsed, 1),
            "event_states": dict(states),
            "latency": {route: latency_figures(v) for route, v in self.latencies.items()},
            "http_errors": len(self.errors),
            "http_500": self.http_500,
            "ingest": ingest_figures(self.server, self.started),
            "ingest_drained_after_s": None
            if self.drained_after is None
            else round(self.drained_after, 1),
        }
        problems = []
        if figures["ingest"]["states"].get("new") or figures["ingest"]["states"].get("failed"):
            problems.append(f"ingest queue not processed: {figures['ingest']['states']}")
        if self.errors:
            problems.append(f"{len(self.errors)} refused requests, e.g. {self.errors[:3]}")
        if self.http_500:
            problems.append(f"{self.http_500} HTTP 500 answers")
        if missing:
            problems.append(
                f"{len(missing)} accepted events not stored, e.g. {sorted(missing)[:3]}"
            )
        if twice:
            problems.append(f"{len(twice)} events stored twice, e.g. {twice[:3]}")
        if unexpected:
            problems.append(f"{len(unexpected)} events nobody sent, e.g. {sorted(unexpected)[:3]}")
        if refs_twice or recorded_twice:
            problems.append(
                f"calls recorded twice: {refs_twice} in the database, "
                f"{len(recorded_twice)} answered 'recorded' twice"
            )
        if states.get("held"):
            problems.append(f"{states['held']} clicks still held after the burst window")
        return figures, problems


# --------------------------------------------------------------------------- ingest


def wait_ingest(server, timeout):
    """Wait until the processor has processed every queued tracking request
    (crm.lead.event.ingest); seconds waited, None after ``timeout``."""
    started = time.time()
    while time.time() - started < timeout:
        (pending,) = server.sql("SELECT count(*) FROM crm_lead_event_ingest WHERE state = 'new'")[0]
        if not pending:
            return time.time() - started
        time.sleep(0.5)
    return None


def ingest_figures(server, since):
    """Rows queued since ``since`` (unix time) by state, and the delay from request to
    processed (events recorded, stage moved) in seconds: p50, p95, p99, max."""
    since = datetime.fromtimestamp(since, tz=timezone.utc).replace(tzinfo=None)
    states = dict(
        server.sql(
            "SELECT state, count(*) FROM crm_lead_event_ingest WHERE received_at >= %s "
            "GROUP BY state",
            (since,),
        )
    )
    row = server.sql(
        "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY d), max(d) "
        "FROM (SELECT extract(epoch FROM processed_at - received_at) AS d "
        "FROM crm_lead_event_ingest WHERE state = 'done' AND received_at >= %s) t",
        (since,),
    )[0]
    quantiles, maximum = row
    delay = {}
    if quantiles:
        delay = {
            "p50_s": round(float(quantiles[0]), 2),
            "p95_s": round(float(quantiles[1]), 2),
            "p99_s": round(float(quantiles[2]), 2),
            "max_s": round(float(maximum), 2),
        }
    return {"states": states, "request_to_event": delay}


def crash_ingest(server, rpc, lead_ids, find_workers, count=3000, clients=8):
    """Pixel requests queued while the processor cron is paused, then the processor
    resumed and its cron worker killed (kill -9) in the middle of a batch: every
    accepted open is stored exactly once once the queue is drained.

    :param find_workers: () -> PIDs of the cron workers holding claimed queue rows
    :return: (figures, problems)
    """
    signer = Signer(server)
    rpc("ir.config_parameter", "set_param", "crm_pipeline_automation.ingest_batch_size", "50")
    (cron_id,) = server.sql(
        "SELECT res_id FROM ir_model_data WHERE module = 'crm_pipeline_automation' "
        "AND name = 'ir_cron_crm_lead_event_ingest'"
    )[0]
    server.sql("UPDATE ir_cron SET active = false WHERE id = %s", (cron_id,))
    expected, errors, lock = set(), [], threading.Lock()
    started = time.time()

    def send(index):
        session = requests.Session()
        session.headers["User-Agent"] = BROWSER
        for number in range(index, count, clients):
            lead = lead_ids[number % len(lead_ids)]
            message = 700000 + number
            token = signer.sign("open", [lead, message, 0, 0, int(time.time()) - 3600])
            try:
                response = session.get(f"{server.url}/cpa/o/{token}", timeout=120)
            except requests.RequestException as exc:
                with lock:
                    errors.append(str(exc)[:200])
                continue
            with lock:
                if response.status_code == 200:
                    expected.add(f"open{message}.0.human:{lead}")
                else:
                    errors.append(f"{response.status_code} {response.text[:100]}")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (queued,) = server.sql("SELECT count(*) FROM crm_lead_event_ingest WHERE state = 'new'")[0]
    server.sql(
        "UPDATE ir_cron SET active = true, nextcall = now() AT TIME ZONE 'UTC' WHERE id = %s",
        (cron_id,),
    )
    time.sleep(1.5)  # past the routes' wake interval: the next request wakes the cron
    token = signer.sign("open", [lead_ids[0], 799999, 0, 0, int(time.time()) - 3600])
    response = requests.get(
        f"{server.url}/cpa/o/{token}", headers={"User-Agent": BROWSER}, timeout=120
    )
    if response.status_code == 200:
        expected.add(f"open799999.0.human:{lead_ids[0]}")
    killed = []
    deadline = time.time() + 120
    while time.time() < deadline and not killed:
        (pending,) = server.sql("SELECT count(*) FROM crm_lead_event_ingest WHERE state = 'new'")[0]
        if not pending:
            break
        for pid in find_workers() if pending < queued else []:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.05)
    drained = wait_ingest(server, 300)
    rows = server.sql(
        "SELECT dedup_key, count(*) FROM crm_lead_event WHERE lead_id = ANY(%s) "
        "AND dedup_key LIKE 'open7%%' GROUP BY 1",
        (lead_ids,),
    )
    stored = dict(rows)
    missing = expected - set(stored)
    twice = [key for key, n in stored.items() if n > 1]
    figures = {
        "accepted": len(expected),
        "queued_while_paused": queued,
        "killed_workers": len(killed),
        "queue_drained_after_s": None if drained is None else round(drained, 1),
        "missing": len(missing),
        "twice": len(twice),
        "http_errors": len(errors),
        "ingest": ingest_figures(server, started),
        "duration_s": round(time.time() - started, 1),
    }
    problems = []
    if not killed:
        problems.append("ingest: could not catch the processor in the middle of a batch")
    if errors:
        problems.append(f"ingest: {len(errors)} refused pixel requests, e.g. {errors[:2]}")
    if drained is None:
        problems.append("ingest: queue not drained 300 s after the kill")
    if missing:
        problems.append(
            f"ingest: {len(missing)} accepted opens not stored, e.g. {sorted(missing)[:3]}"
        )
    if twice:
        problems.append(f"ingest: {len(twice)} opens stored twice, e.g. {twice[:3]}")
    if figures["ingest"]["states"].get("failed"):
        problems.append(f"ingest: failed rows {figures['ingest']['states']}")
    return figures, problems


# --------------------------------------------------------------------------- order


def concurrently(count, func):
    """Run ``func(i)`` in ``count`` threads released at the same moment; results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        results[i] = func(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def post_call(server, payload, timestamp=None):
    body = json.dumps(payload).encode()
    try:
        response = requests.post(
            f"{server.url}/cpa/webhook/call/{SOURCE}",
            data=body,
            headers=Signer.webhook_headers(body, timestamp),
            timeout=120,
        )
    except requests.RequestException as exc:
        return None, str(exc)[:200]
    try:
        return response.status_code, response.json().get("status")
    except ValueError:
        return response.status_code, response.text[:200]


def part_order(server, rpc, make_pipeline, make_leads, nb_leads=40, senders=4, unknown=20):
    """Late and out-of-order webhook events, concurrent duplicate deliveries, concurrent
    calls from unknown numbers: forward-only holds, one event per call, one lead per
    caller."""
    team, stages = make_pipeline(rpc, "Order", ["One", "Two", "Three"])
    rpc(
        "crm.stage.trigger",
        "create",
        [
            {
                "name": "incoming to Three",
                "stage_id": stages["Three"],
                "event_type": "call_incoming",
            },
            {"name": "missed to Two", "stage_id": stages["Two"], "event_type": "call_missed"},
        ],
    )
    setup_public_routes(rpc, create_lead_team=team)
    lead_ids = make_leads(rpc, team, stages["One"], nb_leads, "Order", phone_prefix=1)
    phones = dict(zip(lead_ids, (phone(1, i) for i in range(nb_leads)), strict=True))
    answers = Counter()
    recorded = Counter()
    started = time.time()
    for lead in lead_ids:
        now = int(time.time())
        # The later stage's event first, then the earlier one, delivered late: its own
        # time and its signature are 250 s old (inside the 300 s replay window).
        deliveries = (
            ({"id": f"ord-{lead}-b", "type": "incoming", "time": now - 30}, None),
            ({"id": f"ord-{lead}-a", "type": "missed", "time": now - 250}, now - 250),
        )
        for payload, timestamp in deliveries:
            payload = dict(payload, **{"from": phones[lead], "to": "+3225550000"})
            results = concurrently(
                senders, lambda _i, p=payload, t=timestamp: post_call(server, p, t)
            )
            for status, answer in results:
                answers[(status, answer)] += 1
                if answer == "recorded":
                    recorded[payload["id"]] += 1
    # Outside the replay window: refused.
    now = int(time.time())
    stale_status, _answer = post_call(
        server,
        {"id": "ord-stale", "type": "incoming", "from": phones[lead_ids[0]]},
        now - 400,
    )
    # Unknown callers (create_lead on): several calls from one new number at once.
    for index in range(unknown):
        number = phone(9, index)
        results = concurrently(
            senders,
            lambda i, n=number, k=index: post_call(
                server, {"id": f"unk-{k}-{i}", "type": "incoming", "from": n}
            ),
        )
        for status, answer in results:
            answers[(status, answer)] += 1
    elapsed = time.time() - started
    # The webhook only queues the calls: wait for the processor before checking.
    drained_after = wait_ingest(server, 300)

    stage_of = dict(server.sql("SELECT id, stage_id FROM crm_lead WHERE id = ANY(%s)", (lead_ids,)))
    backwards = sum(1 for lead in lead_ids if stage_of[lead] != stages["Three"])
    (entered_two,) = server.sql(
        "SELECT count(*) FROM crm_automation_log WHERE lead_id = ANY(%s) "
        "AND kind = 'stage_entered' AND stage_id = %s",
        (lead_ids, stages["Two"]),
    )[0]
    (fired,) = server.sql(
        "SELECT count(*) FROM crm_automation_log "
        "WHERE lead_id = ANY(%s) AND kind = 'trigger_fired'",
        (lead_ids,),
    )[0]
    events = dict(
        server.sql(
            "SELECT external_ref, count(*) FROM crm_lead_event "
            "WHERE external_ref LIKE 'pbx:ord-%%' GROUP BY 1"
        )
    )
    blocked = server.sql(
        "SELECT count(*) FROM crm_lead_event WHERE external_ref LIKE 'pbx:ord-%%-a' "
        "AND state = 'blocked'"
    )[0][0]
    unknown_leads = dict(
        server.sql("SELECT phone, count(*) FROM crm_lead WHERE phone LIKE '+32479%%' GROUP BY 1")
    )
    (unknown_events,) = server.sql(
        "SELECT count(*) FROM crm_lead_event WHERE external_ref LIKE 'pbx:unk-%%'"
    )[0]
    deliveries = 2 * nb_leads * senders + unknown * senders
    figures = {
        "leads": nb_leads,
        "deliveries": deliveries,
        "deliveries_per_s": round(deliveries / elapsed, 1),
        "answers": {f"{s} {a}": n for (s, a), n in sorted(answers.items(), key=str)},
        "late_events_blocked": blocked,
        "moves": fired,
        "unknown_callers": unknown,
        "leads_for_unknown_callers": sum(unknown_leads.values()),
        "stale_webhook_status": stale_status,
        "ingest": ingest_figures(server, started),
    }
    problems = []
    if drained_after is None:
        problems.append("ingest queue not drained after 300 s")
    if backwards:
        problems.append(f"{backwards} leads not in the furthest stage (moved backwards?)")
    if entered_two:
        problems.append(f"{entered_two} leads entered the earlier stage after the later one")
    if fired != nb_leads:
        problems.append(f"{fired} trigger moves for {nb_leads} leads (one each expected)")
    if len(events) != 2 * nb_leads or any(n != 1 for n in events.values()):
        problems.append(f"events per call id: {Counter(events.values())} over {len(events)} ids")
    if any(n != 1 for n in recorded.values()) or len(recorded) != 2 * nb_leads:
        problems.append(f"'recorded' answers per call id: {Counter(recorded.values())}")
    if blocked != nb_leads:
        problems.append(f"{blocked} late events blocked instead of {nb_leads}")
    bad = {k: n for k, n in answers.items() if k[0] != 200}
    if bad:
        problems.append(f"refused deliveries: {bad}")
    if stale_status != 403:
        problems.append(f"a webhook 400 s old answered {stale_status}, not 403")
    if len(unknown_leads) != unknown or any(n != 1 for n in unknown_leads.values()):
        problems.append(f"leads per unknown caller: {Counter(unknown_leads.values())}")
    if unknown_events != unknown * senders:
        problems.append(f"{unknown_events} events of unknown callers, not {unknown * senders}")
    return figures, problems
