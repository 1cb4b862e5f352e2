#!/usr/bin/env python3
"""Run, test and lint crm_pipeline_automation on Odoo 18.0 with no prior set-up.

Behind `make run`, `make test`, `make test-dev` and `make lint`. Standard library only:
it runs with the system Python and builds everything else it needs in a cache folder
(Odoo source, a virtual environment, a private PostgreSQL cluster). See CONTRIBUTING.md,
"Environment variables".
"""

import argparse
import ast
import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

MODULE = "crm_pipeline_automation"
REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "tools" / "requirements.txt"
ODOO_GIT_URL = "https://github.com/odoo/odoo.git"
ODOO_BRANCH = "18.0"
# Unprivileged system user that owns the PostgreSQL cluster when we are run as root
# (initdb and postgres refuse to run as root).
PG_SYSTEM_USER = "crmpa"
PG_SUPERUSER = "odoo"  # Odoo refuses to connect as "postgres"
TEST_LOCK = Path(tempfile.gettempdir()) / f"{MODULE}-test.lock"
# Test-only addons installed with the module by `make test` and `make test-dev` (never by
# `make run`): they pull in what some tests need and the addon must not depend on
# (sale_crm and account for the document triggers).
COMPANIONS_DIR = REPO / "tests" / "companion"
TEST_COMPANIONS = ("crm_pipeline_automation_sale_test",)


class SetupError(Exception):
    """A problem the user can fix; printed as one line, never as a traceback."""


def say(msg):
    print(f"[{MODULE}] {msg}", flush=True)


def env_path(name):
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir():
    base = env_path("XDG_CACHE_HOME") or Path.home() / ".cache"
    path = base / MODULE
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_root():
    return os.geteuid() == 0


# --------------------------------------------------------------------------- Odoo source


def _check_odoo_tree(path, origin):
    if not (path / "odoo-bin").is_file() or not (path / "odoo" / "release.py").is_file():
        raise SetupError(f"{origin}={path} is not an Odoo source tree (no odoo-bin in it).")
    release = (path / "odoo" / "release.py").read_text(errors="replace")
    match = re.search(r"version_info\s*=\s*\(\s*(?:'saas~)?(\d+)", release)
    if not match or match.group(1) != "18":
        raise SetupError(f"{origin}={path} is not Odoo 18.0 (see odoo/release.py).")
    for needed in ("crm", "website_crm", "crm_livechat", "website_livechat"):
        if not (path / "addons" / needed).is_dir():
            raise SetupError(f"{origin}={path} lacks the community addon '{needed}'.")
    return path


def odoo_src():
    explicit = env_path("ODOO_SRC")
    if explicit:
        return _check_odoo_tree(explicit, "ODOO_SRC")
    cached = cache_dir() / "odoo-18.0"
    if (cached / "odoo-bin").is_file():
        return _check_odoo_tree(cached, "cached Odoo source")
    if not shutil.which("git"):
        raise SetupError(
            f"No Odoo 18.0 source: set ODOO_SRC, or put it in {cached}, or install git "
            "so that it can be cloned."
        )
    say(f"Cloning Odoo {ODOO_BRANCH} into {cached} (once, about 1 GB) ...")
    if cached.exists():
        shutil.rmtree(cached)
    proc = subprocess.run(
        ["git", "clone", "--depth", "1", "--branch", ODOO_BRANCH, ODOO_GIT_URL, str(cached)],
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(cached, ignore_errors=True)
        raise SetupError(
            f"Could not clone Odoo {ODOO_BRANCH} from {ODOO_GIT_URL}: set ODOO_SRC to an "
            f"Odoo 18.0 source tree or put one in {cached}."
        )
    return _check_odoo_tree(cached, "cloned Odoo source")


def repo_key():
    """Short key of this checkout: git worktrees of the repo get their own links, logs, DBs."""
    return hashlib.sha1(str(REPO).encode()).hexdigest()[:8]


def addons_link():
    """Odoo finds modules by folder name: expose this repository as crm_pipeline_automation."""
    folder = cache_dir() / f"addons-{repo_key()}"
    folder.mkdir(exist_ok=True)
    link = folder / MODULE
    if link.is_symlink() and Path(os.readlink(link)) != REPO:
        link.unlink()
    if not link.exists():
        link.symlink_to(REPO, target_is_directory=True)
    return folder


# --------------------------------------------------------------------------- Python venv


def venv_dir():
    python = os.environ.get("CPA_PYTHON", sys.executable)
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if version.returncode != 0:
        raise SetupError(f"CPA_PYTHON={python} is not a working Python interpreter.")
    pyver = version.stdout.strip()
    if pyver not in ("3.10", "3.11", "3.12"):
        raise SetupError(f"Odoo 18.0 needs Python 3.10 to 3.12; {python} is {pyver}.")
    key = hashlib.sha1(REQUIREMENTS.read_bytes() + pyver.encode()).hexdigest()[:10]
    venv = cache_dir() / f"venv-py{pyver}-{key}"
    if (venv / ".complete").is_file():
        return venv
    say(f"Building the Python environment {venv} (once) ...")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    proc = subprocess.run(
        [*pip, "install", "-q", "-r", str(REQUIREMENTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    # Some machines' pip configuration names local indexes that do not exist: pip warns
    # once per package about them. Keep the real messages only.
    for line in proc.stdout.splitlines():
        if not re.match(r"WARNING: Location '.*' is ignored", line):
            print(line)
    if proc.returncode != 0:
        raise SetupError(f"pip could not install {REQUIREMENTS}; see the messages above.")
    (venv / ".complete").write_text("ok\n")
    return venv


# --------------------------------------------------------------------------- PostgreSQL


def pg_bindir():
    explicit = env_path("CPA_PG_BIN")
    if explicit:
        if not (explicit / "pg_ctl").is_file():
            raise SetupError(f"CPA_PG_BIN={explicit} has no pg_ctl.")
        return explicit
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise SetupError(
        "No PostgreSQL server programs (pg_ctl, initdb): install them (Debian: "
        "apt-get install postgresql) or set CPA_PG_HOST to use an existing server."
    )


class Postgres:
    """Connection settings, and the private cluster when we run one."""

    def __init__(self, datadir=None, persistent=True):
        self.external = bool(os.environ.get("CPA_PG_HOST", "").strip())
        self.started_here = False
        if self.external:
            self.host = os.environ["CPA_PG_HOST"].strip()
            self.port = os.environ.get("CPA_PG_PORT", "5432").strip() or "5432"
            self.user = (
                os.environ.get("CPA_PG_USER", "").strip() or pwd.getpwuid(os.getuid()).pw_name
            )
            self.password = os.environ.get("CPA_PG_PASSWORD", "")
            if not self.port.isdigit():
                raise SetupError(f"CPA_PG_PORT={self.port!r} is not a port number.")
            return
        self.bindir = pg_bindir()
        self.datadir = datadir
        self.sockdir = datadir.parent / "run"
        self.logfile = datadir.parent / "postgresql.log"
        self.host = str(self.sockdir)
        self.port = "5432"  # a Unix socket in a private folder: no clash with other servers
        self.user = PG_SUPERUSER
        self.password = ""
        self.persistent = persistent

    # Commands of the cluster run as its owner; as root, that is an unprivileged user.
    def _as_owner(self, cmd):
        if is_root():
            return ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]
        return cmd

    def _ensure_system_user(self):
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            say(f"Creating the system user '{PG_SYSTEM_USER}' that owns the PostgreSQL cluster ...")
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    PG_SYSTEM_USER,
                ],
                check=True,
            )
        owner = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.datadir.parent, self.datadir, self.sockdir):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(self.datadir, 0o700)

    def start(self):
        if self.external:
            return self
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if is_root():
            self._ensure_system_user()
        else:
            self.sockdir.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "PG_VERSION").is_file():
            say(f"Creating a private PostgreSQL cluster in {self.datadir} ...")
            proc = subprocess.run(
                self._as_owner(
                    [
                        str(self.bindir / "initdb"),
                        "-D",
                        str(self.datadir),
                        "-U",
                        PG_SUPERUSER,
                        "--auth=trust",
                        "-E",
                        "UTF8",
                        "--locale=C",
                        "--no-sync",
                    ]
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise SetupError(f"initdb failed: {proc.stderr.strip().splitlines()[-1:]}")
        status = subprocess.run(
            self._as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"]),
            capture_output=True,
            check=False,
        )
        if status.returncode == 0:
            return self  # already running (another `make run`): share it, don't stop it
        options = f"-k {self.sockdir} -c listen_addresses='' -p {self.port} -c max_connections=200"
        if not self.persistent:
            # A throwaway test cluster: durability buys nothing, speed does.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        proc = subprocess.run(
            self._as_owner(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = (
                self.logfile.read_text(errors="replace").strip().splitlines()[-1:]
                if self.logfile.exists()
                else []
            )
            raise SetupError(f"PostgreSQL did not start ({self.logfile}): {' '.join(tail)}")
        self.started_here = True
        return self

    def stop(self):
        if self.external or not self.started_here:
            return
        subprocess.run(
            self._as_owner(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        self.started_here = False

    def odoo_options(self):
        opts = {"db_host": self.host, "db_port": self.port, "db_user": self.user}
        if self.password:
            opts["db_password"] = self.password
        return opts

    def database_exists(self, venv, dbname):
        code = (
            "import sys, psycopg2\n"
            "kw = dict(host=sys.argv[1], port=sys.argv[2], user=sys.argv[3], dbname='postgres')\n"
            "if sys.argv[5]: kw['password'] = sys.argv[5]\n"
            "try:\n"
            "    cn = psycopg2.connect(**kw)\n"
            "except psycopg2.Error as e:\n"
            "    print(str(e).strip().splitlines()[0]); sys.exit(2)\n"
            "cr = cn.cursor()\n"
            "cr.execute('SELECT 1 FROM pg_database WHERE datname=%s', (sys.argv[4],))\n"
            "sys.exit(0 if cr.fetchone() else 1)\n"
        )
        proc = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                code,
                self.host,
                self.port,
                self.user,
                dbname,
                self.password,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 2:
            raise SetupError(
                f"Cannot connect to PostgreSQL at {self.host}:{self.port}: {proc.stdout.strip()}"
            )
        return proc.returncode == 0


def persistent_cluster_dir(name="pg"):
    """Data folder of a kept cluster: "pg" serves `make run`, "pg-dev" `make test-dev`.

    Separate clusters, because whoever starts a cluster stops it when done.
    """
    explicit = env_path("CPA_PG_DATA")
    if explicit:
        return explicit if name == "pg" else explicit.parent / f"{explicit.name}-{name}"
    # As root the cluster belongs to an unprivileged user, who cannot enter /root: keep it
    # in a system folder instead of the cache folder.
    base = Path("/var/lib") / MODULE if is_root() else cache_dir()
    return base / name / "data"


# --------------------------------------------------------------------------- Odoo


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            raise SetupError(
                f"Port {port} is in use: stop the program that holds it, or set "
                "CPA_HTTP_PORT to another port."
            ) from None


def http_port():
    value = os.environ.get("CPA_HTTP_PORT", "8069").strip() or "8069"
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SetupError(f"CPA_HTTP_PORT={value!r} is not a port number.")
    return int(value)


def write_config(path, src, pg, extra, companions=False):
    addons_path = f"{src / 'addons'},{addons_link()}"
    if companions:
        addons_path += f",{COMPANIONS_DIR}"
    options = {
        "addons_path": addons_path,
        "data_dir": str(cache_dir() / "filestore"),
        "admin_passwd": "admin",
        "list_db": "True",
        **pg.odoo_options(),
        **extra,
    }
    path.write_text("[options]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
    return path


def odoo_cmd(venv, src, config, *args):
    return [str(venv / "bin" / "python"), str(src / "odoo-bin"), "-c", str(config), *args]


def installed_version(venv, pg, dbname, module=MODULE):
    """The version of ``module`` installed in ``dbname`` (ir_module_module.latest_version),
    or None when the database or the installed module is missing."""
    code = (
        "import sys, psycopg2\n"
        "kw = dict(host=sys.argv[1], port=sys.argv[2], user=sys.argv[3], dbname=sys.argv[4])\n"
        "if sys.argv[5]: kw['password'] = sys.argv[5]\n"
        "cr = psycopg2.connect(**kw).cursor()\n"
        'cr.execute("SELECT state, latest_version FROM ir_module_module WHERE name=%s",'
        " (sys.argv[6],))\n"
        "row = cr.fetchone()\n"
        "if not row or row[0] != 'installed': sys.exit(1)\n"
        "print(row[1] or '')\n"
    )
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            code,
            pg.host,
            pg.port,
            pg.user,
            dbname,
            pg.password,
            module,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def module_installed(venv, pg, dbname, module=MODULE):
    return installed_version(venv, pg, dbname, module) is not None


def manifest_version():
    """The addon's version as declared in __manifest__.py."""
    manifest = ast.literal_eval((REPO / "__manifest__.py").read_text())
    return manifest["version"]


# --------------------------------------------------------------------------- Chromium


def ensure_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    if is_root() and shutil.which("apt-get"):
        say("Installing Chromium for the browser tests (apt-get install chromium) ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "update", "-qq"], env=env, check=False, stdout=subprocess.DEVNULL
        )
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if shutil.which("chromium"):
            return shutil.which("chromium")
    raise SetupError(
        "Chromium is needed for the browser tests and could not be installed: install the "
        "'chromium' package (Debian/Ubuntu: sudo apt-get install chromium)."
    )


# --------------------------------------------------------------------------- commands


def _raise_interrupt(_signum, _frame):
    """SIGTERM (kill, a service manager) stops `make run` as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def cmd_run(args):
    # Started from a script in the background, SIGINT may be ignored: Ctrl-C must work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    src, venv = odoo_src(), venv_dir()
    port = http_port()
    check_port_free(port)
    dbname = os.environ.get("CPA_DB", MODULE).strip() or MODULE
    pg = Postgres(persistent_cluster_dir(), persistent=True)
    config = write_config(
        cache_dir() / "odoo-run.conf",
        src,
        pg,
        {
            "http_port": port,
            "db_name": dbname,
            "dbfilter": f"^{re.escape(dbname)}$",
        },
    )
    pg.start()
    try:
        install = []
        installed = (
            installed_version(venv, pg, dbname) if pg.database_exists(venv, dbname) else None
        )
        if installed is None:
            say(f"Creating database '{dbname}' with demo data (first run: a few minutes) ...")
            install = ["-i", MODULE]
        elif args.update or installed != manifest_version():
            # A newer checkout than the database: upgrade the module (its migration
            # scripts run) instead of serving new code on the old schema.
            if not args.update:
                say(f"Upgrading the module in '{dbname}' ({installed} -> {manifest_version()}) ...")
            install = ["-u", MODULE]
        say(f"Odoo at http://localhost:{port} (login admin / admin). Ctrl-C stops it.")
        # Odoo runs in its own session so that Ctrl-C reaches it exactly once, from us: a
        # second SIGINT would make Odoo exit at once, in the middle of a cron job.
        proc = subprocess.Popen(
            odoo_cmd(venv, src, config, "-d", dbname, *install), start_new_session=True
        )
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            say("Stopping Odoo ...")
            proc.send_signal(signal.SIGINT)
            while True:
                try:
                    proc.wait(timeout=60)
                    break
                except subprocess.TimeoutExpired:
                    proc.kill()
                except KeyboardInterrupt:
                    say("Still stopping (waiting for running jobs to end) ...")
            say("Odoo stopped.")
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        pg.stop()


LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ "
    r"(?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>\S+): (?P<msg>.*)"
)
SUMMARY = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")


def run_tests(venv, src, pg, dbname, tags, init_flag, logfile, install_companions=True):
    """Run the tests ``tags`` after installing (``-i``) or updating (``-u``) the module;
    the test companions are installed too (with ``-u``: when ``install_companions``)."""
    port = free_port()
    config = write_config(
        logfile.parent / f"odoo-test-{dbname}.conf",
        src,
        pg,
        {
            "http_port": port,
            "db_name": dbname,
            "dbfilter": f"^{re.escape(dbname)}$",
        },
        companions=True,
    )
    if init_flag == "-i":
        modules = ["-i", ",".join((MODULE, *TEST_COMPANIONS))]
    else:
        modules = [init_flag, MODULE]
        if install_companions:
            modules += ["-i", ",".join(TEST_COMPANIONS)]
    cmd = odoo_cmd(
        venv,
        src,
        config,
        "-d",
        dbname,
        *modules,
        "--test-enable",
        "--test-tags",
        tags,
        "--stop-after-init",
        "--log-level=test",
        "--max-cron-threads=0",
        "--workers=0",
    )
    say(f"Running the tests ({tags}) on database '{dbname}'; full log: {logfile}")
    counts = {"failed": 0, "errors": 0, "run": None, "skipped": 0, "stray_errors": 0}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (
        open(logfile, "w", buffering=1) as log,
        subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            errors="replace",
        ) as proc,
    ):
        in_error = False
        for line in proc.stdout:
            log.write(line)
            match = LOG_LINE.match(line)
            if not match:
                if in_error:
                    sys.stdout.write(line)  # traceback lines of an error
                continue
            level, msg = match["level"], match["msg"]
            in_error = level in ("ERROR", "CRITICAL")
            summary = SUMMARY.search(msg)
            if summary:
                counts["failed"], counts["errors"], counts["run"] = map(int, summary.groups())
                continue
            if msg.startswith("skipped "):
                counts["skipped"] += 1
                sys.stdout.write(line)
            elif in_error:
                counts["stray_errors"] += 1
                sys.stdout.write(line)
            elif (
                level == "WARNING"
                or msg.startswith("Starting ")
                and "odoo.addons." in match["logger"]
            ):
                sys.stdout.write(line)
        rc = proc.wait()
    return rc, counts


@contextlib.contextmanager
def test_lock():
    """One Odoo test suite or benchmark at a time on the machine (they share 2 cores)."""
    TEST_LOCK.touch(exist_ok=True)
    with open(TEST_LOCK) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("Another test run holds the lock; waiting for it ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cmd_test(args):
    src, venv = odoo_src(), venv_dir()
    ensure_chromium()
    tags = args.tags or f"/{MODULE}"
    with test_lock():
        logs = cache_dir() / "logs"
        logs.mkdir(exist_ok=True)
        if args.dev:
            # Reuse a database in the persistent cluster: update the module, run the tags.
            pg = Postgres(persistent_cluster_dir("pg-dev"), persistent=True).start()
            # One kept database per checkout (git worktrees of the same repo don't clash).
            dbname = f"cpa_test_dev_{repo_key()}"
            try:
                init = (
                    "-u"
                    if pg.database_exists(venv, dbname) and module_installed(venv, pg, dbname)
                    else "-i"
                )
                companions_missing = init == "-u" and not all(
                    module_installed(venv, pg, dbname, companion) for companion in TEST_COMPANIONS
                )
                rc, counts = run_tests(
                    venv,
                    src,
                    pg,
                    dbname,
                    tags,
                    init,
                    logs / f"{dbname}.log",
                    install_companions=companions_missing,
                )
            finally:
                pg.stop()
        else:
            tmp = Path(tempfile.mkdtemp(prefix=f"{MODULE}-test-"))
            os.chmod(tmp, 0o755)
            pg = Postgres(tmp / "pg" / "data", persistent=False)
            dbname = f"cpa_test_{os.getpid()}"
            try:
                pg.start()
                rc, counts = run_tests(
                    venv, src, pg, dbname, tags, "-i", logs / f"test-{repo_key()}.log"
                )
            finally:
                pg.stop()
                if pg.external:
                    drop_database(venv, pg, dbname)
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(cache_dir() / "filestore" / "filestore" / dbname, ignore_errors=True)
    return report(rc, counts)


def drop_database(venv, pg, dbname):
    code = (
        "import sys, psycopg2\n"
        "kw = dict(host=sys.argv[1], port=sys.argv[2], user=sys.argv[3], dbname='postgres')\n"
        "if sys.argv[5]: kw['password'] = sys.argv[5]\n"
        "cn = psycopg2.connect(**kw); cn.autocommit = True\n"
        "cn.cursor().execute('DROP DATABASE IF EXISTS \"%s\"' % sys.argv[4])\n"
    )
    subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, pg.host, pg.port, pg.user, dbname, pg.password],
        check=False,
        capture_output=True,
    )


def report(rc, counts):
    problems = []
    if counts["run"] is None:
        problems.append("Odoo stopped before the tests reported (see the errors above).")
        run = failed = 0
    else:
        run = counts["run"]
        failed = counts["failed"] + counts["errors"]
    if counts["stray_errors"] and not failed:
        problems.append(f"{counts['stray_errors']} error line(s) logged outside the test results.")
    if counts["skipped"]:
        problems.append(
            f"{counts['skipped']} test(s) skipped: a skipped browser test has not passed."
        )
    if rc not in (0, None) and not failed:
        problems.append(f"Odoo exited with status {rc}.")
    if run == 0 and counts["run"] is not None:
        problems.append("No test ran.")
    passed = max(run - failed - counts["skipped"], 0)
    if problems and failed == 0:
        failed = 1  # a run that went wrong is never reported as all passed
    for problem in problems:
        say(problem)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and not problems else 1


def cmd_lint(_args):
    venv = venv_dir()
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(cache_dir() / "pre-commit"),
    }
    return subprocess.run(
        ["pre-commit", "run", "--all-files", "--show-diff-on-failure"],
        cwd=REPO,
        env=env,
        check=False,
    ).returncode


def run_inner_on_dev_database(script):
    """Run ``script --inner <config> <database>`` with the project's Python on the kept
    database of ``make test-dev`` (benches measuring on it), under the test lock."""
    src, venv = odoo_src(), venv_dir()
    with test_lock():
        pg = Postgres(persistent_cluster_dir("pg-dev"), persistent=True).start()
        try:
            dbname = f"cpa_test_dev_{repo_key()}"
            if not pg.database_exists(venv, dbname):
                say(f"No database {dbname}: run `make test-dev` once first.")
                return 2
            config = write_config(
                cache_dir() / "logs" / f"bench-{dbname}.conf",
                src,
                pg,
                {"db_name": dbname},
                companions=True,  # installed on the database by `make test-dev`
            )
            return subprocess.run(
                [str(venv / "bin" / "python"), str(script), "--inner", str(config), dbname],
                env={**os.environ, "PYTHONPATH": str(src)},
                check=False,
            ).returncode
        finally:
            pg.stop()


def cmd_script(args):
    """Run a project script (bench/) with the project's Python, one heavy run at a time."""
    venv = venv_dir()
    script = Path(args.path).resolve()
    if not script.is_file():
        raise SetupError(f"No script {args.path}.")
    with test_lock():
        return subprocess.run(
            [str(venv / "bin" / "python"), str(script), *args.args], check=False
        ).returncode


def cmd_pot(_args):
    """Regenerate i18n/crm_pipeline_automation.pot from a database with the addon."""
    src, venv = odoo_src(), venv_dir()
    (REPO / "i18n").mkdir(exist_ok=True)
    pot = REPO / "i18n" / f"{MODULE}.pot"
    dbname = f"cpa_i18n_{repo_key()}"
    with test_lock():
        pg = Postgres(persistent_cluster_dir("pg-dev"), persistent=True).start()
        try:
            config = write_config(cache_dir() / f"odoo-i18n-{repo_key()}.conf", src, pg, {})
            exists = pg.database_exists(venv, dbname) and module_installed(venv, pg, dbname)
            install = ["-u" if exists else "-i", MODULE, "--without-demo=all"]
            say(f"Updating '{dbname}' and exporting {pot.relative_to(REPO)} ...")
            subprocess.run(
                odoo_cmd(
                    venv,
                    src,
                    config,
                    "-d",
                    dbname,
                    *install,
                    "--stop-after-init",
                    "--log-level=warn",
                ),
                check=True,
            )
            export = subprocess.run(
                odoo_cmd(
                    venv,
                    src,
                    config,
                    "-d",
                    dbname,
                    f"--i18n-export={pot}",
                    f"--modules={MODULE}",
                    "--log-level=warn",
                ),
                check=False,
                stderr=subprocess.PIPE,
                text=True,
            )
            sys.stderr.write(export.stderr)
            if export.returncode:
                raise subprocess.CalledProcessError(export.returncode, export.args)
        finally:
            pg.stop()
    # Bring es.po, pt_BR.po... up to the new template (polib: the venv's Python).
    subprocess.run(
        [str(venv / "bin" / "python"), str(REPO / "tools" / "po_files.py"), "merge"], check=True
    )
    # Odoo logs a file it cannot scan (e.g. an f-string inside _()) and goes on: its
    # strings are then missing from the template, so say it and fail.
    unscanned = sorted(set(re.findall(r"Failed to extract terms from (\S+)", export.stderr)))
    for path in unscanned:
        say(f"error: strings of {path} were not extracted (see the traceback above).")
    if unscanned:
        return 1
    say("Translate what is left with: make po-missing")
    return 0


def cmd_po_missing(_args):
    """List the untranslated, fuzzy or broken entries of each language; no set-up needed."""
    import po_files

    try:
        return 1 if po_files.report() else 0
    except (OSError, ValueError) as exc:
        raise SetupError(str(exc)) from exc


def cmd_env(_args):
    """Print the paths, for scripts (bench/) that need the same Odoo and database."""
    src, venv = odoo_src(), venv_dir()
    print(f"ODOO_SRC={src}\nVENV={venv}\nADDONS={src / 'addons'},{addons_link()}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cpa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve Odoo with the addon and demo data")
    run.add_argument("--update", action="store_true", help="update the module first")
    test = sub.add_parser("test", help="run the test suite on a throwaway database")
    test.add_argument("--tags", default="", help="Odoo --test-tags (default: the whole addon)")
    test.add_argument("--dev", action="store_true", help="reuse a development database")
    sub.add_parser("lint", help="pre-commit on all files")
    sub.add_parser("env", help="print the Odoo source and virtual environment paths")
    sub.add_parser(
        "pot", help="regenerate the translation template i18n/*.pot and merge it into the .po"
    )
    sub.add_parser("po-missing", help="list the entries left to translate in i18n/*.po")
    script = sub.add_parser("script", help="run a bench/ script with the project's Python")
    script.add_argument("path")
    script.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    handler = {
        "run": cmd_run,
        "test": cmd_test,
        "lint": cmd_lint,
        "env": cmd_env,
        "script": cmd_script,
        "pot": cmd_pot,
        "po-missing": cmd_po_missing,
    }[args.command]
    try:
        return handler(args)
    except SetupError as exc:
        say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted.")
        return 130
    except subprocess.CalledProcessError as exc:
        say(f"error: {' '.join(map(str, exc.cmd))} failed with status {exc.returncode}.")
        return 2


if __name__ == "__main__":
    sys.exit(main())
