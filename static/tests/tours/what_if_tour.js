/** @odoo-module **/
// A sales administrator asks "What if…" on a draft trigger of the board: the dialog
// shows the leads it would have moved over the last 30 days, and nothing over the last
// day. Fixture: tests/test_what_if.py (TestWhatIfTour).
import { registry } from "@web/core/registry";

const card = ".o_cpa_board_column[data-stage-name='WI Proposal'] .o_cpa_card[data-name='Form proposes']";

registry.category("web_tour.tours").add("crm_pipeline_automation_what_if_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            trigger: ".o_control_panel .o_cpa_automation_button",
            run: "click",
        },
        {
            content: "The draft trigger has a What if… button",
            trigger: `${card} .o_cpa_what_if`,
            run: "click",
        },
        {
            content: "It would have moved the lead that sent the form",
            trigger: ".modal .o_cpa_what_if_moved:contains('1')",
        },
        {
            trigger: ".modal .o_cpa_what_if_lead:contains('WI lead') td[data-kind='trigger_fired']:contains('Trigger fired')",
            run() {
                console.info("cpa-screenshot:what-if");
            },
        },
        {
            content: "Over the last day only",
            trigger: ".modal .o_cpa_what_if_days",
            run: "edit 1",
        },
        {
            trigger: ".modal .o_cpa_what_if_run",
            run: "click",
        },
        {
            trigger: ".modal .o_cpa_what_if_nothing",
        },
        {
            trigger: ".modal .o_cpa_what_if_moved:contains('0')",
        },
        {
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Still a draft",
            trigger: `${card} .o_cpa_badge_draft`,
        },
    ],
});
