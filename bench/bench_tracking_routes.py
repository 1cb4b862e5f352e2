"""Throughput and latency of the tracking routes under concurrent clients.

Run: `python3 tools/cpa.py script bench/bench_tracking_routes.py [--clients 8]
[--duration 20]`. It builds a throwaway PostgreSQL cluster and database (module
installed, no demo data), starts `odoo-bin --workers=2`, creates 50 leads and a link over
XML-RPC, then hammers each route for a fixed time with concurrent clients (a new
connection per request, browser user agent) and prints requests/s, p50 and p99:

- `/web/health`      bare Odoo route, no database (the ceiling);
- `/r/<code>`        Odoo's own link_tracker click redirect (records a click);
- `/cpa/o/<token>`   our open pixel (token check, verdict, event insert, triggers);
- `/cpa/c/<token>`   our click redirect (same, plus burst lookup and cookie).

Every pixel/click request carries a different message id, so each one inserts an event
(the worst case; repeated opens of one email hit the dedup index instead). Not part of
`make test`.
"""

import argparse
import hashlib
import hmac
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import xmlrpc.client
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import cpa  # the project's own set-up code: cluster, config, paths

UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


def log(msg):
    print(f"[bench] {msg}", flush=True)


class Server:
    def __init__(self, workdir):
        self.workdir = workdir
        self.src, self.venv = cpa.odoo_src(), cpa.venv_dir()
        self.pg = cpa.Postgres(workdir / "pg" / "data", persistent=False)
        self.dbname = "cpa_bench_tracking"
        self.port = cpa.free_port()
        self.proc = None
        self.config = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def setup(self):
        self.pg.start()
        self.config = cpa.write_config(
            self.workdir / "odoo.conf",
            self.src,
            self.pg,
            {
                "http_port": self.port,
                "db_name": self.dbname,
                "dbfilter": f"^{self.dbname}$",
                "workers": 2,
                "max_cron_threads": 0,
                "data_dir": str(self.workdir / "filestore"),
                "logfile": str(self.workdir / "odoo.log"),
                "log_level": "warn",
            },
        )
        log("creating the database (module installed, no demo data) ...")
        subprocess.run(
            cpa.odoo_cmd(
                self.venv,
                self.src,
                self.config,
                "-d",
                self.dbname,
                "-i",
                cpa.MODULE,
                "--without-demo=all",
                "--stop-after-init",
                "--workers=0",
            ),
            check=True,
        )

    def start(self):
        self.proc = subprocess.Popen(
            cpa.odoo_cmd(self.venv, self.src, self.config, "-d", self.dbname),
            start_new_session=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/web/login", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(1)
        raise RuntimeError("Odoo did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.pg.stop()

    def sql(self, query, *args):
        conn = psycopg2.connect(
            host=self.pg.host,
            port=self.pg.port,
            user=self.pg.user,
            password=self.pg.password or None,
            dbname=self.dbname,
        )
        with conn, conn.cursor() as cr:
            cr.execute(query, args)
            rows = cr.fetchall() if cr.description else None
        conn.close()
        return rows


def sign(secret, scope, numbers):
    """Same as models/tracking_token.py (odoo.tools.hmac of the database secret)."""
    payload = ".".join(str(n) for n in numbers)
    message = repr((f"crm_pipeline_automation.{scope}", payload))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{payload}.{digest}"


def hammer(port, make_path, clients, duration):
    """Requests/s, p50 and p99 (ms), and the non-2xx/3xx count of ``clients`` threads."""
    latencies, errors, stop = [], [0], time.time() + duration
    lock, counter = threading.Lock(), [0]

    def client():
        mine = []
        while time.time() < stop:
            with lock:
                counter[0] += 1
                n = counter[0]
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", make_path(n), headers={"User-Agent": UA, "Connection": "close"})
                status = conn.getresponse().status
            except OSError:
                status = 599
            finally:
                conn.close()
            mine.append(time.perf_counter() - start)
            if status >= 400:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.time() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, p99, errors[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cpa-bench-tracking-"))
    os.chmod(workdir, 0o755)
    server = Server(workdir)
    try:
        server.setup()
        server.start()
        rpc = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
        uid = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common").authenticate(
            server.dbname, "admin", "admin", {}
        )

        def call(model, method, *params):
            return rpc.execute_kw(server.dbname, uid, "admin", model, method, list(params))

        stage = call("crm.stage", "search", [], 0, 1)[0]
        call(
            "crm.stage.trigger",
            "create",
            [
                {
                    "name": "bench",
                    "stage_id": stage,
                    "event_type": "link_click",
                    "link_url": "https://nomatch.example.com",
                }
            ],
        )
        partner = call("res.partner", "create", [{"name": "Bench", "email": "bench@example.com"}])[
            0
        ]
        # Opens and clicks of 50 leads (one lead only would serialise every request
        # on its row: the engagement score is a relative UPDATE of the lead).
        leads = call(
            "crm.lead",
            "create",
            [{"name": f"Bench lead {i}", "partner_id": partner} for i in range(50)],
        )
        link = call(
            "link.tracker", "create", [{"url": "https://example.com/landing", "title": "landing"}]
        )[0]
        code = call("link.tracker.code", "search_read", [("link_id", "=", link)], ["code"])[0][
            "code"
        ]
        secret = server.sql("SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")[
            0
        ][0]
        sent = int(time.time()) - 3600

        routes = [
            ("/web/health (bare)", lambda n: "/web/health"),
            ("/r/<code> (link_tracker)", lambda n: f"/r/{code}"),
            (
                "/cpa/o/<token> (pixel)",
                lambda n: f"/cpa/o/{sign(secret, 'open', [leads[n % 50], n, partner, 0, sent])}",
            ),
            (
                "/cpa/c/<token> (click)",
                lambda n: "/cpa/c/"
                + sign(secret, "click", [leads[n % 50], n, partner, 0, sent, 1, link]),
            ),
        ]
        log(f"{args.clients} concurrent clients, {args.duration:.0f} s per route, Odoo --workers=2")
        results = {}
        for name, make_path in routes:
            hammer(server.port, make_path, 2, 2)  # warm-up
            results[name] = hammer(server.port, make_path, args.clients, args.duration)
            rps, p50, p99, errors = results[name]
            log(
                f"{name:28s} {rps:8.1f} req/s   p50 {p50:6.1f} ms   "
                f"p99 {p99:6.1f} ms   errors {errors}"
            )
        events = server.sql("SELECT count(*) FROM crm_lead_event")[0][0]
        log(f"events recorded: {events}")
        for ours in ("/cpa/o/<token> (pixel)", "/cpa/c/<token> (click)"):
            for base in ("/web/health (bare)", "/r/<code> (link_tracker)"):
                log(f"{ours} / {base}: {results[ours][0] / results[base][0]:.2f}x")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
