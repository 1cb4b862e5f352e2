# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestTours(HttpCase):
    """Screens as people use them, in headless Chromium."""

    def test_manager_opens_automation_menu(self):
        new_test_user(
            self.env,
            login="cpa_tour_manager",
            password="cpa_tour_manager",
            groups="sales_team.group_sale_manager",
        )
        self.start_tour("/odoo", "crm_pipeline_automation_menu_tour", login="cpa_tour_manager")
