/** @odoo-module **/
// An automation manager takes an automatic change back: on the lead's Automation tab
// (Undo on the ledger row), then in bulk (CRM > Configuration > Automation > Undo
// changes: a rule, a period, the preview's counts, Run).
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

registry.category("web_tour.tours").add("crm_pipeline_automation_undo_tour", {
    steps: () => [
        {
            content: "The lead has the tag the rule added",
            trigger: '.o_form_view .o_field_widget[name="tag_ids"]:contains("Tour hot")',
        },
        {
            trigger: '.o_notebook .nav-link:contains("Automation")',
            run: "click",
        },
        {
            content: "The rule's row is undoable",
            trigger: '.o_cpa_timeline .o_data_row:contains("Rule done") button.o_cpa_undo',
            run() {
                console.info("cpa-screenshot:undo-ledger");
            },
        },
        {
            trigger: '.o_cpa_timeline .o_data_row:contains("Rule done") button.o_cpa_undo',
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The ledger says it was undone",
            trigger: '.o_cpa_timeline .o_data_row:contains("Change undone")',
        },
        {
            content: "The tag is gone",
            trigger: '.o_form_view .o_field_widget[name="tag_ids"]:not(:contains("Tour hot"))',
        },
    ],
});

registry.category("web_tour.tours").add("crm_pipeline_automation_undo_bulk_tour", {
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
            trigger: '.dropdown-menu a.dropdown-item:contains("Undo changes")',
            run: "click",
        },
        {
            content: "Choose the rule",
            trigger: '.modal .o_field_widget[name="rule_id"] input',
            run: "edit Tour assign",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Tour assign")',
            run: "click",
        },
        {
            trigger: ".modal .modal-footer button.o_cpa_undo_preview_btn",
            run: "click",
        },
        {
            content: "The preview counts the changes per kind",
            trigger: '.modal .o_cpa_undo_preview tr:contains("Assign a salesperson") td.o_cpa_count_undone:contains("2")',
        },
        {
            content: "and says what changed since",
            trigger: '.modal .o_cpa_undo_preview tr:contains("Assign a salesperson") td.o_cpa_count_changed:contains("1")',
            run() {
                // Leave the rule's input, so that its text is not shown selected.
                document.activeElement?.blur();
                console.info("cpa-screenshot:undo-bulk");
            },
        },
        {
            trigger: ".modal .modal-footer button.o_cpa_undo_run_btn",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary:contains('Ok')",
            run: "click",
        },
        {
            content: "Done",
            trigger: '.modal .o_cpa_undo_report:contains("2 changes undone")',
        },
    ],
});
