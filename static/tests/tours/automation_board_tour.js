/** @odoo-module **/
// A sales administrator opens the automation board from the pipeline, builds a
// trigger and a delayed rule in dialogs, and sees the loop warning they make with the
// rule already there ("Back to Board New"). Fixture: tests/test_board.py.
import { registry } from "@web/core/registry";

const column = (stage) => `.o_cpa_board_column[data-stage-name='${stage}']`;

/** Fail when a card's title or state badge is cut off (text-overflow: ellipsis). */
function assertNothingCutOff() {
    const cut = [...document.querySelectorAll(".o_cpa_card .badge, .o_cpa_card_name")].filter(
        (el) => el.scrollWidth > el.clientWidth + 1
    );
    if (cut.length) {
        const texts = cut.map((el) => el.textContent.trim()).join(", ");
        throw new Error(`Cut off at ${window.innerWidth} px: ${texts}`);
    }
}

registry.category("web_tour.tours").add("crm_pipeline_automation_board_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            content: "The pipeline has an Automation button",
            trigger: ".o_control_panel .o_cpa_automation_button",
            run: "click",
        },
        {
            content: "The board shows the pipeline of the team, a column per stage",
            trigger: `${column("Board Qualified")} .o_cpa_card[data-name='Back to Board New']`,
        },
        {
            content: "No warning yet",
            trigger: ".o_cpa_board:not(:has(.o_cpa_warning_loop))",
        },
        {
            content: "A rule's condition reads in words, not as a domain",
            trigger: `${column("Board Qualified")} .o_cpa_card[data-name='Welcome the VIP customers personally'] .o_cpa_card_condition:contains('Tags contain VIP')`,
        },
        {
            content: "So does a trigger's",
            trigger: `${column("Board Qualified")} .o_cpa_card[data-name='Pricing form sent'] .o_cpa_card_condition:contains('Stage is Board New')`,
        },
        {
            content: "At 1366 px, state badges and titles are whole (no “Ac…”)",
            trigger: ".o_cpa_board:not(:has(.o_cpa_card_condition:contains('[(')))",
            run: assertNothingCutOff,
        },
        {
            content: "Add a trigger to Board Qualified",
            trigger: `${column("Board Qualified")} .o_cpa_add_trigger`,
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Welcome email opened",
        },
        {
            trigger: ".modal .o_field_widget[name=event_type] select",
            run: "selectByLabel Email opened",
        },
        {
            content: "The trigger form",
            trigger: ".modal .o_field_widget[name=event_type] select:has(option:selected:contains('Email opened'))",
            run() {
                console.info("cpa-screenshot:trigger-form");
            },
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The new trigger is on the board, as a draft",
            trigger: `${column("Board Qualified")} .o_cpa_card[data-name='Welcome email opened'] .o_cpa_badge_draft`,
        },
        {
            content: "Add a rule to Board New",
            trigger: `${column("Board New")} .o_cpa_add_rule`,
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Send the welcome email",
        },
        {
            trigger: ".modal .o_field_widget[name=timing] input[data-value=delay]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=delay_count] input",
            run: "edit 2",
        },
        {
            trigger: ".modal .o_field_widget[name=action_type] select",
            run: "selectByLabel Send an email",
        },
        {
            trigger: ".modal .o_field_widget[name=mail_template_id] input",
            run: "edit Board welcome",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('Board welcome')",
            run: "click",
        },
        {
            content: "The rule form",
            trigger: ".modal .o_field_widget[name=mail_template_id] input:value(Board welcome)",
            run() {
                console.info("cpa-screenshot:rule-form");
            },
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The delayed rule shows its timing in words",
            trigger: `${column("Board New")} .o_cpa_card[data-name='Send the welcome email'] .o_cpa_card_subtitle:contains('after 2 days')`,
        },
        {
            content: "The board warns about the loop",
            trigger: ".o_cpa_warning_loop:contains('Board New → Board Qualified → Board New')",
        },
        {
            content: "and marks the cards of the loop",
            trigger: `${column("Board Qualified")} .o_cpa_card_warned[data-name='Welcome email opened']`,
            run() {
                console.info("cpa-screenshot:board");
            },
        },
        {
            content: "Test on a lead: what entering Board Qualified would do",
            trigger: ".o_cpa_dry_run_button",
            run: "click",
        },
        {
            trigger: ".modal .o_record_selector input",
            run: "edit Board lead",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('Board lead')",
            run: "click",
        },
        {
            trigger: ".modal .o_cpa_dry_run_mode",
            run: "selectByLabel Board Qualified",
        },
        {
            trigger: ".modal .o_cpa_dry_run_go:enabled",
            run: "click",
        },
        {
            content: "The lead would enter the stage and its active rule would run at once",
            trigger: ".modal .o_cpa_dry_run_entered:contains('Board Qualified')",
        },
        {
            trigger: ".modal .o_cpa_dry_run_rules tr:contains('Back to Board New'):contains('now')",
        },
        {
            content: "A rule whose condition is not met says which, in words",
            trigger: ".modal .o_cpa_dry_run_rules tr:contains('Welcome the VIP customers personally'):contains('Condition not met at entry: Tags contain VIP')",
        },
        {
            content: "The draft rule of Board New is not in the test",
            trigger: ".modal .o_cpa_dry_run_result:not(:contains('Send the welcome email'))",
            run() {
                console.info("cpa-screenshot:board-dry-run");
            },
        },
    ],
});
