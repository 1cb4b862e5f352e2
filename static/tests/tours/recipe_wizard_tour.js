/** @odoo-module **/
// An automation manager applies the "Engagement qualification" recipe to a pipeline:
// CRM > Configuration > Automation > Recipes, choose the recipe and the pipeline, map
// the recipe's stages onto the pipeline's, apply, and see the triggers and rules created.
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

registry.category("web_tour.tours").add("crm_pipeline_automation_recipe_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            trigger: '.o_app[data-menu-xmlid="crm.crm_menu_root"]',
            run: "click",
        },
        {
            trigger: 'button[data-menu-xmlid="crm.crm_menu_config"]',
            run: "click",
        },
        {
            trigger: '.dropdown-menu a.dropdown-item:contains("Recipes")',
            run: "click",
        },
        {
            content: "Choose the recipe",
            trigger: '.modal .o_field_widget[name="recipe"] select',
            run: "selectByLabel Engagement qualification",
        },
        {
            content: "Its description is shown",
            trigger: '.modal .o_cpa_recipe_description:contains("pricing page")',
        },
        {
            content: "Choose the pipeline",
            trigger: '.modal .o_field_widget[name="team_id"] input',
            run: "edit Tour pipeline",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Tour pipeline")',
            run: "click",
        },
        {
            content: "The recipe's stages are suggested on the pipeline's",
            trigger: '.modal .o_cpa_import_stages .o_data_row:contains("New") [name="target_stage_id"]:contains("Tour fresh")',
        },
        {
            content: "Map Proposition onto another stage",
            trigger: '.modal .o_cpa_import_stages .o_data_row:contains("Proposition") td[name="target_stage_id"]',
            run: "click",
        },
        {
            trigger: '.modal .o_cpa_import_stages .o_data_row:contains("Proposition") [name="target_stage_id"] input',
            run: "edit Tour offer",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Tour offer")',
            run: "click",
        },
        {
            content: "The preview is ready",
            trigger: '.modal .o_cpa_import_ready:contains("2 triggers")',
            run() {
                console.info("cpa-screenshot:recipe");
            },
        },
        {
            trigger: '.modal .modal-footer button[name="action_apply"]',
            run: "click",
        },
        {
            content: "The created triggers are listed",
            trigger: '.modal .o_cpa_import_done .o_data_row:contains("Pricing page visited"):contains("Tour offer")',
        },
        {
            trigger: '.modal .o_cpa_import_done .o_data_row:contains("Link in our email clicked")',
        },
        {
            content: "and the created rules",
            trigger: '.modal .o_cpa_import_done .o_data_row:contains("No click within 3 days")',
        },
        {
            trigger: '.modal .modal-footer button[name="action_open_rules"]',
            run: "click",
        },
        {
            content: "The rules list shows the new rule",
            trigger: '.o_list_view .o_data_row:contains("No click within 3 days: call in person")',
        },
    ],
});
