# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from ..engine import tokens as tracking_token
from ..engine import verdict as v

T = dict(v.THRESHOLDS)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


@tagged("post_install", "-at_install")
class TestVerdict(TransactionCase):
    """Human or machine, privacy helpers and tokens, on their own."""

    def test_open_verdicts(self):
        self.assertEqual(
            v.open_verdict(CHROME, "81.2.3.4", 3600, T), (v.HUMAN, "browser or mail client")
        )
        self.assertEqual(v.open_verdict("Mozilla/5.0", "81.2.3.4", 3600, T)[0], v.MACHINE)
        self.assertIn("Apple", v.open_verdict(CHROME, "17.58.1.2", 3600, T)[1])
        self.assertIn(
            "Gmail",
            v.open_verdict("Mozilla/5.0 (via ggpht.com GoogleImageProxy)", "66.1.1.1", 3600, T)[1],
        )
        self.assertEqual(v.open_verdict(CHROME, "81.2.3.4", 2, T)[0], v.MACHINE)
        self.assertEqual(v.open_verdict("", "81.2.3.4", 3600, T)[0], v.UNKNOWN)

    def test_click_verdicts(self):
        self.assertEqual(v.click_verdict(CHROME, "81.2.3.4", 3600, 1, 3, T)[0], v.HUMAN)
        for agent in (
            "Microsoft SafeLinks",
            "Proofpoint URL Defense",
            "Mimecast",
            "python-requests/2.31",
            "",
        ):
            self.assertEqual(v.click_verdict(agent, "81.2.3.4", 3600, 1, 3, T)[0], v.MACHINE, agent)
        self.assertEqual(v.click_verdict(CHROME, "81.2.3.4", 1, 1, 3, T)[0], v.MACHINE)
        self.assertTrue(v.click_verdict(CHROME, "81.2.3.4", 3600, 3, 10, T)[1].startswith("burst"))
        self.assertTrue(v.click_verdict(CHROME, "81.2.3.4", 3600, 2, 2, T)[1].startswith("burst"))
        self.assertEqual(v.click_verdict(CHROME, "81.2.3.4", 3600, 1, 1, T)[0], v.HUMAN)
        self.assertEqual(v.click_verdict(CHROME, "81.2.3.4", 3600, 2, 5, T)[0], v.HUMAN)

    def test_privacy_helpers(self):
        self.assertEqual(v.truncate_ip("81.2.3.4"), "81.2.3.0/24")
        self.assertEqual(v.truncate_ip("2001:db8:1:2::5"), "2001:db8:1::/48")
        self.assertFalse(v.truncate_ip("not an ip"))
        self.assertEqual(v.ua_family(CHROME), "Chrome")
        self.assertEqual(
            v.ua_family("Mozilla/5.0 (X11; rv:126.0) Gecko/20100101 Firefox/126.0"), "Firefox"
        )
        self.assertTrue(v.ua_family("Proofpoint").startswith("robot"))
        self.assertEqual(v.normalize_text("  Élan  DÉVIS\tÇa "), "elan devis ca")

    def test_tokens(self):
        token = tracking_token.sign(self.env, "open", [1, 2, 3])
        self.assertEqual(tracking_token.verify(self.env, "open", token, 3), [1, 2, 3])
        self.assertIsNone(tracking_token.verify(self.env, "click", token, 3))
        self.assertIsNone(
            tracking_token.verify(self.env, "open", "1.2.4." + token.rsplit(".", 1)[1], 3)
        )
        for bad in ("", "abc", token + "0", "1.2." + "0" * 32, "99999999999.2.3." + "0" * 32):
            with self.assertRaises(tracking_token.BadToken):
                tracking_token.verify(self.env, "open", bad, 3)
        with self.assertRaises(tracking_token.BadToken):
            tracking_token.verify(self.env, "open", token, 4)
