# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import ast
from pathlib import Path

from lxml import etree

from odoo.tests import new_test_user, tagged
from odoo.tests.common import TransactionCase

MODULE = "crm_pipeline_automation"
ADDON = Path(__file__).resolve().parent.parent
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
        cls.sales_team = cls.env.ref(f"{MODULE}.crm_team_direct_sales_demo")
        # Odoo's default stages, as crm/data/crm_stage_data.xml ships them: no team, so
        # shared by every pipeline (the demo's stages come after them).
        cls.odoo_stages = cls.env["crm.stage"].concat(
            *(cls.env.ref(f"crm.stage_lead{i}") for i in range(1, 5))
        )
        cls.installation_team = cls.env.ref(f"{MODULE}.crm_team_installation_demo")

    def _pipeline(self, team):
        stages = self.env["crm.stage"].search(
            ["|", ("team_id", "=", False), ("team_id", "=", team.id)]
        )
        return stages

    def test_module_installed_with_version(self):
        module = self.env["ir.module.module"].search([("name", "=", MODULE)])
        self.assertEqual(module.state, "installed")
        self.assertEqual(module.latest_version, "18.0.1.5.0")
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
        own = self.env["crm.stage"].search([("team_id", "=", self.sales_team.id)])
        self.assertEqual(
            own.mapped("name"), ["New", "Qualified", "Proposition", "Contract approval", "Won"]
        )
        self.assertEqual(self._pipeline(self.sales_team), self.odoo_stages + own)
        own = self.env["crm.stage"].search([("team_id", "=", self.installation_team.id)])
        self.assertEqual(own.mapped("name"), ["To schedule", "Scheduled", "Done"])
        self.assertEqual(self._pipeline(self.installation_team), self.odoo_stages + own)
        self.assertTrue(self.env.ref("crm.stage_lead4").is_won)
        self.assertTrue(self.env.ref(f"{MODULE}.crm_stage_won_demo").is_won)
        self.assertTrue(self.env.ref(f"{MODULE}.crm_stage_done_demo").is_won)

    def test_demo_won_leads_reach_their_own_pipelines_won_stage(self):
        """Odoo's shared Won (sequence 70) comes before the demo's stages: marking a demo
        lead won still moves it to its own pipeline's won stage."""
        for xmlid, won in (
            ("crm_lead_orbit_school_demo", "crm_stage_won_demo"),
            ("crm_lead_acme_install_demo", "crm_stage_done_demo"),
        ):
            lead = self.env.ref(f"{MODULE}.{xmlid}")
            lead.action_set_won()
            self.assertEqual(lead.stage_id, self.env.ref(f"{MODULE}.{won}"), xmlid)

    def test_demo_leaves_odoo_records_untouched(self):
        """The demo builds on records of its own: Odoo's stages, teams and leads stay as
        Odoo ships them, so that Odoo's own tests (predictive lead scoring, tours) hold."""
        # crm/data/crm_stage_data.xml
        self.assertEqual(
            [(s.name, s.sequence, s.is_won, s.fold, s.team_id) for s in self.odoo_stages],
            [
                ("New", 1, False, False, self.env["crm.team"]),
                ("Qualified", 2, False, False, self.env["crm.team"]),
                ("Proposition", 3, False, False, self.env["crm.team"]),
                ("Won", 70, True, False, self.env["crm.team"]),
            ],
        )
        # The first stages and the first won stage of the database are still Odoo's.
        Stage = self.env["crm.stage"]
        self.assertEqual(Stage.search([], limit=3), self.odoo_stages[:3])
        self.assertEqual(Stage.search([("is_won", "=", True)], limit=1), self.odoo_stages[3])
        # sales_team/data/crm_team_data.xml, crm/data/crm_team_data.xml and their demo.
        sales = self.env.ref("sales_team.team_sales_department")
        self.assertEqual(
            (sales.name, sales.sequence, sales.user_id, sales.pipeline_members_only),
            ("Sales", 0, self.env["res.users"], False),
        )
        self.assertEqual(
            sales.with_context(active_test=False).crm_team_member_ids,
            self.env.ref("sales_team.crm_team_member_admin_sales"),
        )
        self.assertTrue(self.env.ref("sales_team.crm_team_member_admin_sales").active)
        # Marc Demo's membership of Pre-Sales (sales_team's demo) is not archived.
        self.assertTrue(self.env.ref("sales_team.crm_team_member_demo_team_1").active)
        # The demo's leads, stages and memberships are in the demo's own teams.
        own_teams = self.sales_team + self.installation_team
        data = self.env["ir.model.data"].search([("module", "=", MODULE)])
        for model, field in (
            ("crm.lead", "team_id"),
            ("crm.stage", "team_id"),
            ("crm.team.member", "crm_team_id"),
        ):
            ids = data.filtered_domain([("model", "=", model)]).mapped("res_id")
            records = self.env[model].browse(ids)
            self.assertTrue(records, model)
            self.assertLessEqual(records.mapped(field), own_teams, model)
        # No record of the addon is also named by another module (an override of a
        # foreign XML id leaves no row of the addon: the demo files are read below).
        # ir.model*: every module extending a model or a selection names it.
        ours = data.filtered(lambda d: not d.model.startswith("ir.model"))
        shared = self.env["ir.model.data"].search(
            [("module", "!=", MODULE), ("res_id", "in", ours.mapped("res_id"))]
        )
        keys = {(d.model, d.res_id) for d in ours}
        self.assertFalse(
            [d.complete_name for d in shared if (d.model, d.res_id) in keys],
            "records of the addon named by other modules",
        )
        manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text(encoding="utf-8"))
        for path in manifest["demo"]:
            root = etree.parse(str(ADDON / path)).getroot()
            foreign = [node.get("id") for node in root.iter("record") if "." in node.get("id", "")]
            self.assertFalse(foreign, f"{path}: records of other modules")
            # Functions only on the addon's own models (the demo history is made by
            # the engine): none on Odoo's models or records.
            functions = [node.get("model") for node in root.iter("function")]
            self.assertFalse(
                [
                    model
                    for model in functions
                    if self.env["ir.model"]._get(model).modules != MODULE
                ],
                f"{path}: <function> on another module's model in the demo",
            )
            self.assertFalse(root.findall(".//delete"), f"{path}: <delete> in the demo")

    def test_demo_pipelines_have_salespeople(self):
        sofia = self.env.ref(f"{MODULE}.res_users_sales_rep_demo")
        igor = self.env.ref(f"{MODULE}.res_users_installer_demo")
        self.assertIn(sofia, self.sales_team.member_ids)
        self.assertIn(igor, self.installation_team.member_ids)
        self.assertEqual(self.sales_team.user_id, self.env.ref("base.user_admin"))
        self.assertEqual(self.installation_team.user_id, igor)
        self.assertTrue(sofia.has_group("sales_team.group_sale_salesman"))

    def test_demo_leads_spread_over_stages_with_contacts(self):
        """Every open stage of each demo pipeline has leads with contacts. No demo deal
        is closed at install: Odoo's predictive lead scoring runs one query per sales
        team with closed deals on every lead create, and Odoo's query budgets
        (test_crm_full's TestCrmPerformance) count the teams of Odoo's own demo only."""
        for team in (self.sales_team, self.installation_team):
            leads = self.env["crm.lead"].search(
                [("team_id", "=", team.id), ("partner_id.email", "like", "%.example.com")]
            )
            open_stages = self.env["crm.stage"].search(
                [("team_id", "=", team.id), ("is_won", "=", False)]
            )
            self.assertEqual(len(open_stages), 4 if team == self.sales_team else 2, team.name)
            self.assertEqual(leads.stage_id, open_stages, team.name)
            for lead in leads:
                self.assertTrue(lead.partner_id and lead.email_from and lead.phone, lead.name)
                self.assertEqual(lead.stage_id.team_id, team, lead.name)
            closed = (
                self.env["crm.lead"]
                .with_context(active_test=False)
                .search(
                    [
                        ("team_id", "=", team.id),
                        "|",
                        ("active", "=", False),
                        ("stage_id.is_won", "=", True),
                    ]
                )
            )
            self.assertFalse(closed, team.name)
            self.assertFalse(
                self.env["crm.lead.scoring.frequency"].search_count([("team_id", "=", team.id)]),
                team.name,
            )

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
