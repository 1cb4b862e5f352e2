/** @odoo-module **/
// A sales administrator, on the automation board, builds an after-hours trigger and a
// rule posting in a Discuss channel; the cards and the dry-run say what they do.
// Fixture: tests/test_messages_http.py (TestMessagesBoardTour).
import { registry } from "@web/core/registry";

const column = (stage) => `.o_cpa_board_column[data-stage-name='${stage}']`;

registry.category("web_tour.tours").add("crm_pipeline_automation_messages_board_tour", {
    url: "/odoo/crm",
    steps: () => [
        {
            trigger: ".o_control_panel .o_cpa_automation_button",
            run: "click",
        },
        {
            content: "Add a trigger to Msg Call back",
            trigger: `${column("Msg Call back")} .o_cpa_add_trigger`,
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Form sent after hours",
        },
        {
            trigger: ".modal .o_field_widget[name=event_type] select",
            run: "selectByLabel Website form submitted",
        },
        {
            content: "Only outside business hours",
            trigger: ".modal .o_field_widget[name=hours_condition] input[data-value=outside]",
            run: "click",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The trigger card shows the business-hours condition",
            trigger: `${column("Msg Call back")} .o_cpa_card[data-name='Form sent after hours'] .o_cpa_card_hours:contains('Only outside business hours (company calendar)')`,
        },
        {
            content: "Add a rule to Msg Call back",
            trigger: `${column("Msg Call back")} .o_cpa_add_rule`,
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Tell the sales floor",
        },
        {
            trigger: ".modal .o_field_widget[name=action_type] select",
            run: "selectByLabel Post in a live chat or channel",
        },
        {
            trigger: ".modal .o_field_widget[name=message_target] input[data-value=channel]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=message_channel_id] input",
            run: "edit msg-floor",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('msg-floor')",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=message_body] textarea",
            run: "edit {name}: call back {contact_name} first thing",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The rule card says where it posts",
            trigger: `${column("Msg Call back")} .o_cpa_card[data-name='Tell the sales floor'] .o_cpa_card_detail:contains('Post in #msg-floor')`,
        },
        {
            content: "Test on a lead: what entering Msg Call back would do",
            trigger: ".o_cpa_dry_run_button",
            run: "click",
        },
        {
            trigger: ".modal .o_record_selector input",
            run: "edit Msg lead",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('Msg lead')",
            run: "click",
        },
        {
            trigger: ".modal .o_cpa_dry_run_mode",
            run: "selectByLabel Msg Call back",
        },
        {
            trigger: ".modal .o_cpa_dry_run_go:enabled",
            run: "click",
        },
        {
            content: "The SMS rule names the salesperson of the lead",
            trigger: ".modal .o_cpa_dry_run_rules tr:contains('SMS the salesperson') .o_cpa_dry_run_action:contains('to the salesperson (Max Msg)')",
        },
    ],
});
