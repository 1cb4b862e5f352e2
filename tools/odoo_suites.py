#!/usr/bin/env python3
"""`make test-odoo`: Odoo's own test suites as a contract the addon must keep.

On a throwaway PostgreSQL cluster: a template database gets the addon's dependencies plus
base_automation, test_base_automation and test_crm_full (with demo data); two clones of it
are made, the addon is installed on one. Then the test files of the neighbouring Odoo
modules run against each database with all installed modules loaded (one process per
database, tools/odoo_suites_driver.py), and every test that fails WITH the addon but
passes WITHOUT it is a regression. Standard library only (runs with the system Python);
the helpers come from tools/cpa.py.
"""

import argparse
import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpa

MODULE = cpa.MODULE
SUITE_MODULES = [
    "crm",
    "website_crm",
    "crm_livechat",
    "website_livechat",
    "link_tracker",
    "sms",
    "phone_validation",
    "test_base_automation",
    "test_crm_full",
]
WEBSITE_FILES = [
    "test_performance.py",
    "test_redirect.py",
    "test_page.py",
    "test_website_visitor.py",
]
EXTRA_INSTALL = ["base_automation", "test_base_automation", "test_crm_full"]
DRIVER = Path(__file__).resolve().parent / "odoo_suites_driver.py"


def manifest_depends():
    manifest = ast.literal_eval((cpa.REPO / "__manifest__.py").read_text())
    return list(manifest["depends"])


def test_files(src, only=None):
    files = []
    for module in SUITE_MODULES:
        files += sorted((src / "addons" / module / "tests").glob("test_*.py"))
    files += [src / "addons" / "website" / "tests" / name for name in WEBSITE_FILES]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise cpa.SetupError(f"Odoo test files not found: {', '.join(map(str, missing))}")
    if only:
        files = [f for f in files if any(pattern in str(f) for pattern in only)]
    return files


# --------------------------------------------------------------------------- databases


def pg_exec(venv, pg, sql, dbname="postgres"):
    """Run SQL statements (autocommit) with the venv's psycopg2; works on an external server."""
    code = (
        "import sys, psycopg2\n"
        "kw = dict(host=sys.argv[1], port=sys.argv[2], user=sys.argv[3], dbname=sys.argv[4])\n"
        "if sys.argv[5]: kw['password'] = sys.argv[5]\n"
        "cn = psycopg2.connect(**kw); cn.autocommit = True\n"
        "cr = cn.cursor()\n"
        "for stmt in sys.argv[6:]: cr.execute(stmt)\n"
    )
    stmts = [sql] if isinstance(sql, str) else list(sql)
    subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, pg.host, pg.port, pg.user, dbname, pg.password]
        + stmts,
        check=True,
    )


def clone_database(venv, pg, data_dir, template, target):
    pg_exec(venv, pg, f'CREATE DATABASE "{target}" TEMPLATE "{template}"')
    store = data_dir / "filestore"
    if (store / template).is_dir():
        shutil.copytree(store / template, store / target, symlinks=True)


def drop_databases(venv, pg, names):
    pg_exec(venv, pg, [f'DROP DATABASE IF EXISTS "{name}"' for name in names])


class Context:
    """Odoo source, venv, cluster, data folder and log folder of one run."""

    def __init__(self, tmp, pg):
        self.src, self.venv = cpa.odoo_src(), cpa.venv_dir()
        self.pg = pg
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs = cpa.cache_dir() / "logs"
        self.logs.mkdir(exist_ok=True)

    def config(self, dbname, **extra):
        return cpa.write_config(
            self.tmp / f"odoo-{dbname}.conf",
            self.src,
            self.pg,
            {
                "data_dir": str(self.data_dir),
                "http_port": cpa.free_port(),
                "db_name": dbname,
                "dbfilter": f"^{re.escape(dbname)}$",
                **extra,
            },
        )

    def odoo(self, dbname, *args, logfile, timeout=3600, what=""):
        """odoo-bin on dbname, output to logfile; returns (rc, seconds). Raises on failure."""
        cmd = cpa.odoo_cmd(
            self.venv,
            self.src,
            self.config(dbname),
            "-d",
            dbname,
            "--max-cron-threads=0",
            "--workers=0",
            *args,
        )
        t0 = time.time()
        with open(logfile, "w") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise cpa.SetupError(f"{what} took more than {timeout}s (log: {logfile})") from None
        seconds = time.time() - t0
        errors = [
            line.rstrip()
            for line in logfile.read_text(errors="replace").splitlines()
            if re.match(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ", line)
        ]
        for line in errors[:20]:
            print(line)
        if rc != 0 or any(" CRITICAL " in line for line in errors):
            raise cpa.SetupError(f"{what} failed (status {rc}; log: {logfile})")
        return seconds


# --------------------------------------------------------------------------- test runs


def run_suite(ctx, dbname, files, logfile, timeout, grace=120):
    """One process runs every file against dbname. Returns (rc, seconds, finished)."""
    listing = ctx.tmp / f"files-{dbname}.txt"
    listing.write_text("".join(f"{f}\n" for f in files))
    cmd = [
        str(ctx.venv / "bin" / "python"),
        str(DRIVER),
        str(listing),
        "--",
        "-c",
        str(ctx.config(dbname)),
        "-d",
        dbname,
        "--test-file",
        str(files[0]),
        "--stop-after-init",
        "--log-level=test",
        "--max-cron-threads=0",
        "--workers=0",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ctx.src)}
    t0 = time.time()
    done = threading.Event()
    with open(logfile, "w", buffering=1) as log:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,
        )

        def pump():
            for line in proc.stdout:
                log.write(line)
                if "cpa-suites: all files done" in line:
                    done.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        killed = None
        while proc.poll() is None:
            elapsed = time.time() - t0
            if done.is_set():
                # All tests ran: Odoo may still hang at shutdown (a tour's leftovers).
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    killed = f"killed {grace}s after the last test (Odoo did not stop)"
                break
            if elapsed > timeout:
                killed = f"killed after {timeout}s (timeout)"
                break
            time.sleep(1)
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            log.write(f"[odoo_suites] {killed}\n")
        proc.wait()
        reader.join(timeout=30)
    return proc.returncode, time.time() - t0, done.is_set(), killed


# --------------------------------------------------------------------------- log parsing

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) \S+ (?P<logger>\S+): (?P<msg>.*)"
)
TEST_LOGGER = re.compile(r"^odoo\.addons\.(?P<module>\w+)\.tests\.(?P<file>[\w.]+)$")
STARTING = re.compile(r"^Starting (?P<test>[\w.]+) \.\.\.$")
OUTCOME = re.compile(r"^(?P<kind>FAIL|ERROR): (?P<desc>.*)$")
SUBTEST = re.compile(r"^Subtest (?P<test>[\w.]+)(?: (?P<sub>.*))?$")
# Measured values of Odoo's query budgets: a test over budget with and without the addon
# is still a regression when the addon makes it run more queries.
QUERY_COUNTS = [
    re.compile(r"Expected \d+ queries but (\d+) where ran"),
    re.compile(r"Query count (?:more|less) than expected for user \S+: (\d+) [<>] \d+"),
]
CLASS_LEVEL = re.compile(
    r"^(?P<what>setUpClass|tearDownClass|setUpModule|tearDownModule) "
    r"\(odoo\.addons\.(?P<module>\w+)\.tests\.(?P<path>[\w.]+)\)$"
)
SKIPPED = re.compile(r"^skipped (?P<test>[\w.]+) : ")


class Results:
    """Per-test outcomes of one log: test id (file.Class.method) -> pass/fail/skip."""

    def __init__(self):
        self.outcome = {}  # test id -> "pass" | "fail" | "skip"
        self.module = {}  # test id -> Odoo module
        self.message = {}  # test id -> first lines of the failure
        self.failures = defaultdict(dict)  # test id -> {subtest ("" if none): message}
        self.files_done = 0
        self.finished = False

    def _set(self, module, test_id, outcome, message=None, sub="", full=""):
        self.module[test_id] = module
        if outcome == "fail":
            self.failures[test_id].setdefault(sub, full or message or "")
            self.outcome[test_id] = "fail"
            if message and test_id not in self.message:
                self.message[test_id] = message
        elif self.outcome.get(test_id) != "fail":
            self.outcome[test_id] = outcome

    @classmethod
    def parse(cls, text):
        res = cls()
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            match = LOG_LINE.match(lines[i])
            i += 1
            if not match:
                continue
            msg, logger = match["msg"].strip(), match["logger"]
            if msg.startswith("cpa-suites: file end"):
                res.files_done += 1
            elif msg.startswith("cpa-suites: all files done"):
                res.finished = True
            where = TEST_LOGGER.match(logger)
            started = STARTING.match(msg)
            if where and started:
                res._set(where["module"], f"{where['file']}.{started['test']}", "pass")
                continue
            skipped = SKIPPED.match(msg)
            if where and skipped:
                res._set(where["module"], f"{where['file']}.{skipped['test']}", "skip")
                continue
            outcome = OUTCOME.match(msg)
            if not outcome or match["level"] not in ("ERROR", "CRITICAL"):
                continue
            # The traceback follows on lines that are not log lines.
            body = []
            while i < len(lines) and not LOG_LINE.match(lines[i]):
                body.append(lines[i])
                i += 1
            message = summarize(body)
            desc = outcome["desc"].strip()
            level = CLASS_LEVEL.match(desc)
            if level:
                # e.g. setUpClass (odoo.addons.crm.tests.test_crm_pls.TestCRMPLS)
                path = level["path"]
                test_id = f"{path}.{level['what']}"
                res._set(level["module"], test_id, "fail", message)
                continue
            if not where:
                continue
            sub = SUBTEST.match(desc)
            test = sub["test"] if sub else desc.split(" ")[0]
            res._set(
                where["module"],
                f"{where['file']}.{test}",
                "fail",
                message,
                sub=(sub["sub"] or "(subtest)") if sub else "",
                full="\n".join(body),
            )
        return res


def summarize(body):
    """The useful part of a traceback: its last lines (the assertion or exception)."""
    lines = [
        line.rstrip()
        for line in body
        if line.strip() and not line.startswith("Traceback (most recent call last)")
    ]
    if not lines:
        return ""
    # From the last "Traceback"/exception header, keep the end: the message itself.
    tail = lines[-6:]
    for i, line in enumerate(lines):
        if re.match(r"^[\w.]*(Error|Exception|Failure)\b", line):  # from the exception on
            tail = lines[max(i - 1, 0) : i + 5]
            break
    return " | ".join(line.strip() for line in tail)[:900]


def query_count(message):
    for pattern in QUERY_COUNTS:
        found = pattern.search(message or "")
        if found:
            return int(found.group(1))
    return None


def worse(test_id, with_addon, without_addon):
    """Why a test failing in both runs still is a regression, or None.

    A subtest that fails only with the addon, or a query budget exceeded by more queries
    with the addon than without it.
    """
    before = without_addon.failures.get(test_id, {})
    for sub, message in with_addon.failures.get(test_id, {}).items():
        if sub not in before:
            return f"{sub or 'the test'} fails only with the addon: {summarize([message])}"
        now, then = query_count(message), query_count(before[sub])
        if now is not None and then is not None and now > then:
            summary = summarize(message.splitlines())
            return f"{sub} {now} queries with the addon, {then} without it: {summary}".lstrip()
    return None


def compare(with_addon, without_addon):
    """Per module: (run, passed_with, regressions, skipped, both_failed)."""
    per_module = defaultdict(
        lambda: {"run": 0, "passed": 0, "regressions": [], "skipped": 0, "both": []}
    )
    for test_id, outcome in sorted(with_addon.outcome.items()):
        module = with_addon.module[test_id]
        row = per_module[module]
        row["run"] += 1
        if outcome == "skip" and without_addon.outcome.get(test_id) == "pass":
            with_addon.message[test_id] = "skipped with the addon, passes without it"
            row["regressions"].append(test_id)
        elif outcome == "skip":
            row["skipped"] += 1
        elif outcome == "pass":
            row["passed"] += 1
        elif without_addon.outcome.get(test_id) == "fail":
            why = worse(test_id, with_addon, without_addon)
            if why:
                with_addon.message[test_id] = why
                row["regressions"].append(test_id)
            else:
                row["both"].append(test_id)
        else:
            row["regressions"].append(test_id)
    return per_module


# --------------------------------------------------------------------------- main


def fmt(seconds):
    return f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


def report(with_addon, without_addon, timings):
    per_module = compare(with_addon, without_addon)
    passed = failed = 0
    for module in sorted(per_module, key=lambda m: (m not in SUITE_MODULES, m)):
        row = per_module[module]
        regressions = row["regressions"]
        line = (
            f"{module}: {row['run']} run, {row['passed']} passed with the addon, "
            f"{len(regressions)} regression{'s' if len(regressions) != 1 else ''}"
        )
        if regressions:
            line += f" ({', '.join(regressions)})"
        extra = []
        ran_without = sum(1 for t, m in without_addon.module.items() if m == module)
        if ran_without != row["run"]:
            extra.append(f"{ran_without} run without the addon")
        if row["both"]:
            extra.append(f"{len(row['both'])} failing without the addon too")
        if row["skipped"]:
            extra.append(f"{row['skipped']} skipped")
        if extra:
            line += f" [{'; '.join(extra)}]"
        print(line)
        passed += row["passed"] + len(row["both"])
        failed += len(regressions)
    regressions = [t for row in per_module.values() for t in row["regressions"]]
    if regressions:
        print("\nRegressions (fail with the addon, pass without it):")
        for test_id in regressions:
            print(f"- {with_addon.module[test_id]} {test_id}: {with_addon.message.get(test_id)}")
    both = [t for row in per_module.values() for t in row["both"]]
    if both:
        print("\nFailing with AND without the addon (not counted as regressions):")
        for test_id in both:
            print(f"- {with_addon.module[test_id]} {test_id}: {with_addon.message.get(test_id)}")
    print("\nTimings: " + ", ".join(f"{k} {fmt(v)}" for k, v in timings.items()))
    problems = []
    for name, res in (("with", with_addon), ("without", without_addon)):
        ran = sum(1 for o in res.outcome.values() if o != "skip")
        if not ran:
            problems.append(f"no test ran on the database {name} the addon")
        elif not res.finished:
            problems.append(f"the run {name} the addon did not reach its last test file")
    for problem in problems:
        cpa.say(f"error: {problem}")
    if problems and not failed:
        failed = 1
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and not problems else 1


def build_databases(ctx, template, with_db, without_db, timings):
    modules = sorted(set(manifest_depends() + EXTRA_INSTALL))
    cpa.say(f"Template database: installing {', '.join(modules)} with demo data ...")
    timings["template install"] = ctx.odoo(
        template,
        "-i",
        ",".join(modules),
        "--stop-after-init",
        logfile=ctx.logs / "odoo-suites-template.log",
        what="Installing the template database",
    )
    cpa.say(f"  done in {fmt(timings['template install'])}; cloning it twice ...")
    t0 = time.time()
    clone_database(ctx.venv, ctx.pg, ctx.data_dir, template, with_db)
    clone_database(ctx.venv, ctx.pg, ctx.data_dir, template, without_db)
    timings["clones"] = time.time() - t0
    cpa.say(f"Installing {MODULE} on '{with_db}' ...")
    timings["addon install"] = ctx.odoo(
        with_db,
        "-i",
        MODULE,
        "--stop-after-init",
        logfile=ctx.logs / "odoo-suites-addon-install.log",
        what=f"Installing {MODULE}",
    )
    cpa.say(f"  done in {fmt(timings['addon install'])}")


def run_both(ctx, files, with_db, without_db, args, timings):
    logs = {
        with_db: ctx.logs / "odoo-suites-with-addon.log",
        without_db: ctx.logs / "odoo-suites-without-addon.log",
    }
    outcome = {}

    def one(dbname, label):
        cpa.say(f"Running {len(files)} Odoo test files on '{dbname}' ({label})")
        cpa.say(f"  log: {logs[dbname]}")
        rc, seconds, finished, killed = run_suite(ctx, dbname, files, logs[dbname], args.timeout)
        timings[f"tests {label}"] = seconds
        note = f" ({killed})" if killed else ""
        cpa.say(f"  {label}: finished in {fmt(seconds)}, status {rc}{note}")
        outcome[dbname] = (rc, finished)

    runs = [(with_db, "with the addon"), (without_db, "without the addon")]
    t0 = time.time()
    if args.jobs > 1:
        threads = [threading.Thread(target=one, args=run) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for run in runs:
            one(*run)
    timings["test runs (wall)"] = time.time() - t0
    return logs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("CPA_SUITES_JOBS", "2")),
        help="test processes in parallel: 2 (default) runs both databases at once",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=int(os.environ.get("CPA_SUITES_TIMEOUT", "2700")),
        help="seconds after which a database's test run is killed (default 2700)",
    )
    parser.add_argument("--only", action="append", help="only test files whose path has this")
    parser.add_argument(
        "--parse-only", action="store_true", help="report from the logs of the last run"
    )
    args = parser.parse_args(argv)
    timings = {}
    if args.parse_only:
        logs = cpa.cache_dir() / "logs"
        with_addon = Results.parse(
            (logs / "odoo-suites-with-addon.log").read_text(errors="replace")
        )
        without = Results.parse(
            (logs / "odoo-suites-without-addon.log").read_text(errors="replace")
        )
        return report(with_addon, without, timings)
    src = cpa.odoo_src()
    files = test_files(src, args.only)
    cpa.ensure_chromium()
    with cpa.test_lock():
        t_start = time.time()  # not counting the wait for the lock
        tmp = Path(tempfile.mkdtemp(prefix=f"{MODULE}-suites-"))
        os.chmod(tmp, 0o755)
        pg = cpa.Postgres(tmp / "pg" / "data", persistent=False)
        pid = os.getpid()
        template, with_db, without_db = (
            f"cpa_suites_{kind}_{pid}" for kind in ("tmpl", "with", "without")
        )
        try:
            pg.start()
            ctx = Context(tmp, pg)
            build_databases(ctx, template, with_db, without_db, timings)
            logs = run_both(ctx, files, with_db, without_db, args, timings)
        finally:
            pg.stop()
            if pg.external:
                drop_databases(cpa.venv_dir(), pg, [template, with_db, without_db])
            shutil.rmtree(tmp, ignore_errors=True)
    with_addon = Results.parse(logs[with_db].read_text(errors="replace"))
    without = Results.parse(logs[without_db].read_text(errors="replace"))
    timings["total"] = time.time() - t_start
    return report(with_addon, without, timings)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except cpa.SetupError as exc:
        cpa.say(f"error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        cpa.say("interrupted.")
        sys.exit(130)
