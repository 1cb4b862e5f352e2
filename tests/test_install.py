# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import new_test_user, tagged
from odoo.tests.common import TransactionCase

MODULE = "crm_pipeline_automation"
DEPENDENCIES = (
    "crm",
    "website_crm",
    "link_tracker",
    "sms",
    "crm_livechat",
    "website_livechat",
    "resource",
    "phone_validation",
)


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    """The addon installs with its dependencies, groups, menu and demo pipelines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager_group = cls.env.ref(f"{MODULE}.group_automation_manager")
        cls.user_group = cls.env.ref(f"{MODULE}.group_automation_user")
        cls.sales_admin = new_test_user(
            cls.env, login="cpa_sales_admin", groups="sales_team.group_sale_manager"
        )
        cls.salesman = new_test_user(
            cls.env, login="cpa_salesman", groups="sales_team.group_sale_salesman"
        )
        cls.employee = new_test_user(cls.env, login="cpa_employee", groups="base.group_user")
        cls.sales_team = cls.env.ref("sales_team.team_sales_department")
        cls.installation_team = cls.env.ref(f"{MODULE}.crm_team_installation_demo")

    def _pipeline(self, team):
        stages = self.env["crm.stage"].search(
            ["|", ("team_id", "=", False), ("team_id", "=", team.id)]
        )
        return stages

    def test_module_installed_with_version(self):
        module = self.env["ir.module.module"].search([("name", "=", MODULE)])
        self.assertEqual(module.state, "installed")
        self.assertEqual(module.latest_version, "18.0.1.0.0")
        self.assertEqual(module.license, "LGPL-3")

    def test_dependencies_installed(self):
        modules = self.env["ir.module.module"].search([("name", "in", DEPENDENCIES)])
        self.assertEqual(
            {m.name: m.state for m in modules}, dict.fromkeys(DEPENDENCIES, "installed")
        )

    def test_manager_group_implies_user_group(self):
        self.assertIn(self.user_group, self.manager_group.implied_ids)
        self.assertIn(self.env.ref("base.group_user"), self.user_group.implied_ids)

    def test_sales_administrator_is_automation_manager(self):
        self.assertTrue(self.sales_admin.has_group(f"{MODULE}.group_automation_manager"))
        self.assertTrue(
            self.env.ref("base.user_admin").has_group(f"{MODULE}.group_automation_manager")
        )

    def test_salesman_reads_but_does_not_configure(self):
        self.assertTrue(self.salesman.has_group(f"{MODULE}.group_automation_user"))
        self.assertFalse(self.salesman.has_group(f"{MODULE}.group_automation_manager"))
        self.assertFalse(self.employee.has_group(f"{MODULE}.group_automation_user"))

    def test_automation_menu_only_for_managers(self):
        menu = self.env.ref(f"{MODULE}.menu_crm_automation_root")
        self.assertEqual(menu.parent_id, self.env.ref("crm.crm_menu_config"))
        visible_for_manager = self.env["ir.ui.menu"].with_user(self.sales_admin)._visible_menu_ids()
        visible_for_salesman = self.env["ir.ui.menu"].with_user(self.salesman)._visible_menu_ids()
        self.assertIn(menu.id, visible_for_manager)
        self.assertNotIn(menu.id, visible_for_salesman)

    def test_demo_pipelines_have_their_stages_in_order(self):
        self.assertEqual(
            self._pipeline(self.sales_team).mapped("name"),
            ["New", "Qualified", "Proposition", "Contract approval", "Won"],
        )
        self.assertEqual(
            self._pipeline(self.installation_team).mapped("name"),
            ["To schedule", "Scheduled", "Done"],
        )
        self.assertTrue(self.env.ref("crm.stage_lead4").is_won)
        self.assertTrue(self.env.ref(f"{MODULE}.crm_stage_done_demo").is_won)

    def test_demo_pipelines_have_salespeople(self):
        sofia = self.env.ref(f"{MODULE}.res_users_sales_rep_demo")
        igor = self.env.ref(f"{MODULE}.res_users_installer_demo")
        self.assertIn(sofia, self.sales_team.member_ids)
        self.assertIn(igor, self.installation_team.member_ids)
        self.assertEqual(self.installation_team.user_id, igor)
        self.assertTrue(sofia.has_group("sales_team.group_sale_salesman"))

    def test_demo_leads_spread_over_stages_with_contacts(self):
        for team, min_stages in ((self.sales_team, 5), (self.installation_team, 3)):
            leads = self.env["crm.lead"].search(
                [("team_id", "=", team.id), ("partner_id.email", "like", "%.example.com")]
            )
            self.assertGreaterEqual(len(leads.stage_id), min_stages, team.name)
            for lead in leads:
                self.assertTrue(lead.partner_id and lead.email_from and lead.phone, lead.name)
                self.assertEqual(lead.stage_id.team_id, team, lead.name)

    def test_demo_phones_normalise_to_e164(self):
        lead = self.env.ref(f"{MODULE}.crm_lead_vertex_lounge_demo")
        self.assertEqual(
            lead._phone_format(number=lead.phone, force_format="E164"), "+551135550199"
        )
        self.assertEqual(lead.phone_sanitized, "+551135550199")

    def test_salesperson_sees_own_team_leads(self):
        sofia = self.env.ref(f"{MODULE}.res_users_sales_rep_demo")
        leads = self.env["crm.lead"].with_user(sofia).search([("user_id", "=", sofia.id)])
        self.assertEqual(
            set(leads.mapped("name")),
            {
                "Acme: 40 standing desks",
                "Solaris: meeting room tables",
                "Orbit School: 120 classroom desks",
            },
        )
