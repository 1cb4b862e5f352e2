/** @odoo-module **/
// A salesperson sees, on the pipeline cards, the next activity deadline with its
// time, the countdown, and a red "Late" badge on the lead whose deadline has passed.
import { localization } from "@web/core/l10n/localization";
import { registry } from "@web/core/registry";

// The late activity of the test fixture (tests/test_activity_tours.py), in UTC.
const LATE_DEADLINE_UTC = "2020-03-02 14:30:00";

registry.category("web_tour.tours").add("crm_pipeline_automation_activity_deadline_tour", {
    url: "/odoo/crm",
    steps: () => {
        const lateTime = luxon.DateTime.fromSQL(LATE_DEADLINE_UTC, { zone: "utc" })
            .setZone("default")
            .toFormat(localization.shortTimeFormat);
        return [
            {
                content: "The late lead shows its deadline with the time",
                trigger: `.o_kanban_record:contains('Tour: late lead') .o_cpa_deadline_time:contains('${lateTime}')`,
            },
            {
                content: "and a red late badge",
                trigger: ".o_kanban_record:contains('Tour: late lead') .o_cpa_late_badge.text-bg-danger:contains('Late')",
            },
            {
                content: "The lead on time counts down to its deadline",
                trigger: ".o_kanban_record:contains('Tour: lead on time') .o_cpa_deadline_left:contains('in ')",
            },
            {
                content: "without a late badge",
                trigger: ".o_kanban_record:contains('Tour: lead on time'):not(:has(.o_cpa_late_badge))",
            },
            {
                content: "README screenshot of the pipeline",
                trigger: ".o_kanban_record:contains('Tour: late lead') .o_cpa_late_badge",
                run() {
                    console.info("cpa-screenshot:kanban-deadlines");
                },
            },
            {
                content: "Open the late lead",
                trigger: ".o_kanban_record:contains('Tour: late lead') span:contains('Tour: late lead')",
                run: "click",
            },
            {
                content: "The chatter's activity shows the deadline time",
                trigger: `.o-mail-Activity .o_cpa_chatter_deadline_time:contains('${lateTime}')`,
            },
            {
                content: "and the red late badge",
                trigger: ".o-mail-Activity .o_cpa_chatter_late_badge.text-bg-danger:contains('Late')",
            },
            {
                content: "The details give the deadline date and time",
                trigger: ".o-mail-Activity .fa-info-circle",
                run: "click",
            },
            {
                content: "to the minute",
                trigger: `.o-mail-Activity-details:contains('${lateTime}')`,
                run() {
                    document.querySelector(".o-mail-Activity").scrollIntoView();
                    console.info("cpa-screenshot:chatter-deadline");
                },
            },
        ];
    },
});
