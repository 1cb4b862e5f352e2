/** @odoo-module **/
// README's 5-minute tour, as Mitchell Admin on the demo data: the pipeline, its
// Automation board, "Test on a lead", a lead's Automation tab and the deadline report.
// Every step waits for content: an empty state (no card, no rule, no ledger row, sample
// data in the report) makes the tour fail. Fixture: the demo (tests/test_demo_history.py).
import { registry } from "@web/core/registry";

// Not its site survey nor the maintenance contract made from it (their names contain it).
const ACME = ".o_kanban_record:contains('Acme: 40 standing desks'):not(:contains('Site survey')):not(:contains('Maintenance'))";
const column = (stage) => `.o_cpa_board_column[data-stage-name='${stage}']`;
// The screenshot is taken asynchronously: the next step waits for it to be done.
const shot = (name) => async () => {
    console.info(`cpa-screenshot:${name}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
};

registry.category("web_tour.tours").add("crm_pipeline_automation_demo_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            content: "Show every salesperson's leads",
            trigger: ".o_searchview_facet .o_facet_remove",
            run: "click",
        },
        {
            trigger: ".o_searchview:not(:has(.o_searchview_facet)) .o_searchview_input",
            run: "edit Direct Sales",
        },
        {
            content: "of the Direct Sales pipeline",
            trigger: ".o_searchview_autocomplete .o_menu_item:contains('Sales Team')",
            run: "click",
        },
        {
            content: "A card shows how the customer engaged",
            trigger: `${ACME} .o_cpa_engagement_badge .o_cpa_engagement_last`,
        },
        {
            content: "and another what the automation does next, with its countdown",
            trigger: ".o_kanban_record .o_cpa_next_automation:contains('in ')",
            async run() {
                document
                    .querySelector(".o_kanban_record .o_cpa_engagement_badge")
                    .closest(".o_kanban_group")
                    .scrollIntoView({ inline: "start", block: "nearest" });
                await shot("kanban-badges")();
            },
        },
        {
            content: "Open the Automation board",
            trigger: ".o_control_panel .o_cpa_automation_button",
            run: "click",
        },
        {
            trigger: ".o_cpa_team_select",
            run: "selectByLabel Direct Sales",
        },
        {
            content: "The triggers of the pipeline",
            trigger: `${column("Qualified")} .o_cpa_card[data-name='Link in our email clicked']`,
        },
        {
            content: "and its rules",
            trigger: `${column("Proposition")} .o_cpa_card[data-name='Site survey by the installers']`,
            async run() {
                // The demo's stages come after Odoo's shared ones: show them first.
                document
                    .querySelector(".o_cpa_card[data-name='Link in our email clicked']")
                    .closest(".o_cpa_board_column")
                    .previousElementSibling.scrollIntoView({ inline: "start", block: "nearest" });
                await shot("board")();
            },
        },
        {
            content: "A trigger on page visits gives the snippet for other websites",
            trigger: `${column("Proposition")} .o_cpa_card[data-name='Pricing page visited'] .o_cpa_card_name`,
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=snippet]:contains('cpa_track')",
            run: shot("trigger-snippet"),
        },
        {
            trigger: ".modal-header .btn-close",
            run: "click",
        },
        {
            content: "Test on a lead",
            trigger: "body:not(:has(.modal)) .o_cpa_dry_run_button:enabled",
            run: "click",
        },
        {
            trigger: ".modal .o_record_selector input",
            run: "edit Bluebird",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('Bluebird')",
            run: "click",
        },
        {
            content: "What a quote asked in the live chat would do",
            trigger: ".modal .o_cpa_dry_run_mode",
            run: "selectByLabel Keyword in live chat",
        },
        {
            trigger: ".modal .o_cpa_dry_run_detail",
            run: "edit Could I have a quote?",
        },
        {
            trigger: ".modal .o_cpa_dry_run_go:enabled",
            run: "click",
        },
        {
            content: "The trigger would move the lead",
            trigger: ".modal .o_cpa_dry_run_trigger:contains('Quote asked in the live chat')",
        },
        {
            content: "and the rules of the stage would run",
            trigger: ".modal .o_cpa_dry_run_rules tr:contains('Site survey by the installers')",
            run: shot("board-dry-run"),
        },
        {
            trigger: ".modal-header .btn-close",
            run: "click",
        },
        {
            content: "Back to the pipeline",
            trigger: "body:not(:has(.modal)) .o_breadcrumb .breadcrumb-item:first-child",
            run: "click",
        },
        {
            content: "Open a lead",
            trigger: `${ACME} span:contains('Acme: 40 standing desks')`,
            run: "click",
        },
        {
            content: "Its Automation tab",
            trigger: ".o_form_view .o_notebook a.nav-link[name='automation']",
            run: "click",
        },
        {
            content: "says why it moved, from which event, as whom",
            trigger: ".o_cpa_timeline .o_data_row:contains('Trigger fired'):contains('Link in our email clicked')",
            run: shot("lead-timeline"),
        },
        {
            content: "The chatter gives the activities' deadlines to the minute",
            trigger: ".o-mail-Activity .o_cpa_chatter_deadline_time",
            async run() {
                document.querySelector(".o-mail-Activity").scrollIntoView();
                await shot("chatter-deadline")();
            },
        },
        {
            content: "The deadline report",
            trigger: ".o_main_navbar .o_menu_sections button:contains('Reporting')",
            run: "click",
        },
        {
            trigger: ".o-dropdown--menu .dropdown-item:contains('Activity deadlines')",
            run: "click",
        },
        {
            content: "has figures (not the sample data of an empty report)",
            trigger: ".o_action:not(:has(.o_view_sample_data)):not(:has(.o_view_nocontent)) .o_pivot .o_pivot_cell_value",
            run: shot("deadline-report"),
        },
    ],
});
