/** @odoo-module **/
// A salesperson sees on the pipeline card how the customer engaged and what the
// automation will do next, then opens the lead: the Automation tab explains the move
// (why, as whom, from which event) and lists the scheduled job, without a Cancel button.
import { registry } from "@web/core/registry";

const CARD = ".o_kanban_record:contains('Tour: engaged lead')";

registry.category("web_tour.tours").add("crm_pipeline_automation_salesperson_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            content: "The card shows the recent click with how long ago",
            trigger: `${CARD} .o_cpa_engagement_badge .o_cpa_engagement_last[data-signal='click']:contains('Clicked'):contains('ago')`,
        },
        {
            content: "and the recent engagement points",
            trigger: `${CARD} .o_cpa_engagement_badge .o_cpa_engagement_score:contains('+')`,
        },
        {
            content: "and the next automation with its countdown",
            trigger: `${CARD} .o_cpa_next_automation:contains('Tour: call the customer'):contains('in ')`,
            run() {
                console.info("cpa-screenshot:kanban-badges");
            },
        },
        {
            content: "Open the lead",
            trigger: `${CARD} span.fw-bold:contains('Tour: engaged lead')`,
            run: "click",
        },
        {
            content: "Open the Automation tab",
            trigger: ".o_form_view .o_notebook a.nav-link[name='automation']",
            run: "click",
        },
        {
            content: "The timeline says why it moved, from which event, as whom",
            trigger: ".o_cpa_timeline .o_data_row:contains('Trigger fired'):contains('Tour: link clicked'):contains('Link clicked'):contains('Sam Tour')",
        },
        {
            content: "and the stage entry it made, from the first stage",
            trigger: ".o_cpa_timeline .o_data_row:contains('Stage entered'):contains('Tour new'):contains('Tour hot')",
        },
        {
            content: "The scheduled job is listed",
            trigger: ".o_cpa_pending_jobs .o_data_row:contains('Tour: call the customer')",
        },
        {
            content: "without a Cancel button for a salesperson",
            trigger: ".o_cpa_pending_jobs:not(:has(.o_cpa_cancel_job))",
            run() {
                document.querySelector(".o_cpa_pending_jobs").scrollIntoView();
                console.info("cpa-screenshot:lead-timeline");
            },
        },
    ],
});

// An automation manager cancels the scheduled job from the lead's Automation tab; the
// ledger says who cancelled it.
registry.category("web_tour.tours").add("crm_pipeline_automation_cancel_job_tour", {
    steps: () => [
        {
            content: "Open the Automation tab",
            trigger: ".o_form_view .o_notebook a.nav-link[name='automation']",
            run: "click",
        },
        {
            content: "Cancel the scheduled job",
            trigger: ".o_cpa_pending_jobs .o_data_row:contains('Tour: call the customer') button.o_cpa_cancel_job",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "The ledger says it was cancelled by hand",
            trigger: ".o_cpa_timeline .o_data_row:contains('Job cancelled'):contains('Cancelled by')",
        },
        {
            content: "and nothing is scheduled any more",
            trigger: ".o_form_view:not(:has(.o_cpa_pending_jobs .o_data_row))",
        },
    ],
});
