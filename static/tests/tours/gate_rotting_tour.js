/** @odoo-module **/
// Stage gates: a salesperson drags a lead into a gated column and is told what is
// missing; ticks the checklist item on the lead's form, and the move goes through.
// Rotting deals: the card of a lead nobody touched shows how long it has been idle,
// and the "Rotting" filter finds it.
import { registry } from "@web/core/registry";

const GATE_CARD = ".o_kanban_record:contains('Gate tour lead')";
const GATED_COLUMN = ".o_opportunity_kanban .o_kanban_group:has(.o_column_title:contains('Gate tour quote'))";

registry.category("web_tour.tours").add("crm_pipeline_automation_gate_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            content: "The pipeline is loaded",
            trigger: `${GATED_COLUMN} .o_kanban_record:contains('Gate tour signed lead')`,
        },
        {
            content: "Drag the lead into the gated stage",
            trigger: `${GATE_CARD}`,
            run: `drag_and_drop (${GATED_COLUMN})`,
        },
        {
            content: "The move is refused with what is missing",
            trigger: ".modal:contains('Gate tour quote: missing Quote signed')",
            run() {
                console.info("cpa-screenshot:gate-refused");
            },
        },
        {
            content: "Close the message",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The lead stayed in its column; open it",
            trigger: `.o_kanban_group:has(.o_column_title:contains('Gate tour new')) ${GATE_CARD} span.fw-bold`,
            run: "click",
        },
        {
            content: "Tick the checklist item of the gate",
            trigger: ".o_cpa_gate_checklist .form-check:contains('Quote signed') input",
            run: "click",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
            run() {
                console.info("cpa-screenshot:gate-checklist");
            },
        },
        {
            content: "Move the lead with the status bar",
            trigger: ".o_statusbar_status button:contains('Gate tour quote')",
            run: "click",
        },
        {
            content: "The lead is in the gated stage",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Gate tour quote')",
        },
        {
            content: "Back to the pipeline",
            trigger: ".o_breadcrumb .breadcrumb-item a",
            run: "click",
        },
        {
            content: "The card is in the gated column",
            trigger: `${GATED_COLUMN} ${GATE_CARD}`,
        },
    ],
});

registry.category("web_tour.tours").add("crm_pipeline_automation_rotting_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            content: "The card of the idle lead shows how long it has been idle",
            trigger: ".o_kanban_record:contains('Rotting tour lead') .o_cpa_rotting:contains('d idle')",
            run() {
                console.info("cpa-screenshot:rotting-badge");
            },
        },
        {
            content: "the card of the lead worked on does not",
            trigger: ".o_kanban_record:contains('Fresh tour lead'):not(:has(.o_cpa_rotting))",
        },
        {
            content: "Open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Filter the rotting leads",
            trigger: ".o_filter_menu .o_menu_item:contains('Rotting')",
            run: "click",
        },
        {
            content: "Only the idle lead is left",
            trigger: ".o_kanban_renderer:not(:has(.o_kanban_record:contains('Fresh tour lead'))) .o_kanban_record:contains('Rotting tour lead')",
        },
    ],
});
