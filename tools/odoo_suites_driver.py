"""Run many Odoo test files in ONE odoo-bin process (one registry load per database).

Run with the project's Python (tools/odoo_suites.py does it)::

    python odoo_suites_driver.py FILE_LIST -- <odoo-bin arguments, incl. --test-file FIRST>

Odoo's ``--test-file`` runs one file's tests against the fully loaded registry of an
installed database (at_install and post_install tests alike), in test mode with the HTTP
server up (HttpCase, tours). Here ``odoo.service.server.load_test_file_py`` is wrapped so
that the same run goes through every file listed in FILE_LIST (one path a line). Odoo's
own code is not changed: the wrapper calls the original function once per file.
"""

import logging
import os
import sys
import time

os.environ["TZ"] = "UTC"  # as odoo-bin does, before anything imports time-dependent code

MARK = "cpa-suites:"  # tools/odoo_suites.py reads the lines that start with it


def main():
    sep = sys.argv.index("--")
    file_list, odoo_args = sys.argv[1], sys.argv[sep + 1 :]
    with open(file_list, encoding="utf-8") as fh:
        files = [line.strip() for line in fh if line.strip()]

    import odoo
    from odoo.service import server

    logger = logging.getLogger("odoo.cpa_suites")
    original = server.load_test_file_py

    def load_test_files(registry, _first_file):
        start = time.time()
        for path in files:
            before = registry._assertion_report.testsRun
            logger.info("%s file start %s", MARK, path)
            t0 = time.time()
            try:
                original(registry, path)
            except Exception:  # one broken file must not hide the others' results
                logger.exception("%s file crashed %s", MARK, path)
            logger.info(
                "%s file end %s: %d tests in %.1fs",
                MARK,
                path,
                registry._assertion_report.testsRun - before,
                time.time() - t0,
            )
        logger.info(
            "%s all files done: %s in %.1fs", MARK, registry._assertion_report, time.time() - start
        )

    server.load_test_file_py = load_test_files
    sys.argv = ["odoo-bin", *odoo_args]
    odoo.cli.main()


if __name__ == "__main__":
    main()
