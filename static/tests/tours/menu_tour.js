/** @odoo-module **/
// A sales administrator finds the automation under CRM > Configuration > Automation.
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

registry.category("web_tour.tours").add("crm_pipeline_automation_menu_tour", {
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
            trigger: '.dropdown-menu .dropdown-header:contains("Automation")',
        },
        {
            trigger: '.dropdown-menu a.dropdown-item:contains("Automation Rules")',
            run: "click",
        },
        {
            content: "The rules list opens",
            trigger: '.o_breadcrumb:contains("Automation Rules")',
        },
        {
            trigger: ".o_list_view, .o_view_nocontent",
        },
    ],
});
