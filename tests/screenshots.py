# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""README screenshots taken by the tours (`make screenshots`).

A tour step logs ``cpa-screenshot:<name>`` (``console.info``); when the environment
variable ``CPA_SCREENSHOTS`` names a folder, the test saves what Chromium shows at that
moment as ``<folder>/<name>.png``. Without it the log line is all that happens.
"""

import base64
import os
import re
from pathlib import Path

from odoo.tests.common import ChromeBrowser

MARK = "cpa-screenshot:"


class TourScreenshotMixin:
    """For HttpCase classes whose tours take README screenshots."""

    def start_tour(self, *args, **kwargs):
        folder = os.environ.get("CPA_SCREENSHOTS")
        if folder:
            self._cpa_capture_screenshots(Path(folder))
        return super().start_tour(*args, **kwargs)

    def _cpa_capture_screenshots(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        original = ChromeBrowser._handle_console

        def handle_console(browser, type, args=None, stackTrace=None, **kw):  # pylint: disable=redefined-builtin
            text = str(browser._from_remoteobject(args[0])) if args else ""
            if text.startswith(MARK):
                name = re.sub(r"[^\w-]", "_", text[len(MARK) :].strip())
                future = browser._websocket_send("Page.captureScreenshot", with_future=True)

                def save(done):
                    data = done.result(timeout=0).get("data")
                    if data:
                        (folder / f"{name}.png").write_bytes(base64.b64decode(data))

                future.add_done_callback(save)
            return original(browser, type, args, stackTrace, **kw)

        # Each start_tour creates its browser, which binds the handler of its class.
        self.patch(ChromeBrowser, "_handle_console", handle_console)
