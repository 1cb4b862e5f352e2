# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import os
import socket
import subprocess
import sys
from pathlib import Path

from odoo.tests import BaseCase, tagged

CPA = Path(__file__).resolve().parent.parent / "tools" / "cpa.py"


@tagged("post_install", "-at_install")
class TestTooling(BaseCase):
    """`make run` explains a wrong setting in one line instead of a traceback."""

    def _run(self, **env):
        proc = subprocess.run(
            [sys.executable, str(CPA), "run"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = (proc.stdout + proc.stderr).strip()
        self.assertEqual(proc.returncode, 2, output)
        self.assertNotIn("Traceback", output)
        self.assertEqual(len(output.splitlines()), 1, output)
        return output

    def test_wrong_odoo_src(self):
        output = self._run(ODOO_SRC="/nonexistent/odoo")
        self.assertIn("ODOO_SRC=/nonexistent/odoo is not an Odoo source tree", output)

    def test_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("0.0.0.0", 0))
            sock.listen(1)
            port = sock.getsockname()[1]
            output = self._run(CPA_HTTP_PORT=str(port))
        self.assertIn(f"Port {port} is in use", output)

    def test_port_not_a_number(self):
        self.assertIn("CPA_HTTP_PORT='http' is not a port number", self._run(CPA_HTTP_PORT="http"))

    def test_postgres_binaries_missing(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            free_port = sock.getsockname()[1]
        output = self._run(CPA_PG_BIN="/nonexistent/bin", CPA_HTTP_PORT=str(free_port))
        self.assertIn("CPA_PG_BIN=/nonexistent/bin has no pg_ctl", output)
