/** @odoo-module **/
// A sales administrator sees a "lead lost" rule on the board and tests what marking a
// lead lost from "Lost Filter 2" would do: the rule and the template activity, with
// their due times. Fixture: tests/test_lost_from_stage.py.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("crm_pipeline_automation_lost_dry_run_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            trigger: ".o_control_panel .o_cpa_automation_button",
            run: "click",
        },
        {
            content: "The lost rule says when it runs",
            trigger:
                ".o_cpa_board_column[data-stage-name='Lost New'] .o_cpa_card[data-name='Recover later'] .o_cpa_card_subtitle:contains('When lost from Lost Filter 2: after 3 months')",
        },
        {
            trigger: ".o_cpa_dry_run_button",
            run: "click",
        },
        {
            trigger: ".modal .o_record_selector input",
            run: "edit Discarded lead",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('Discarded lead')",
            run: "click",
        },
        {
            trigger: ".modal .o_cpa_dry_run_mode",
            run: "selectByLabel Lead lost",
        },
        {
            trigger: ".modal .o_cpa_dry_run_go:enabled",
            run: "click",
        },
        {
            content: "The rule run on the loss, with its due time",
            trigger: ".modal .o_cpa_dry_run_rules tr:contains('Recover later'):contains('after 3 months')",
        },
        {
            content: "The activity of the template, for the lead's salesperson",
            trigger:
                ".modal .o_cpa_dry_run_activities tr:contains('Recover the lead'):contains('within 3 months'):contains('Bea Lost')",
        },
    ],
});
