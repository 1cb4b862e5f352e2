import { Component, onWillUnmount, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { formatDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { formatCountdown } from "@crm_pipeline_automation/activity_deadline/activity_deadline_field";

const { DateTime } = luxon;

/** A clock refreshed every minute, for the relative times of the cards. */
function useMinuteClock() {
    const state = useState({ now: DateTime.now() });
    const timer = setInterval(() => (state.now = DateTime.now()), 60000);
    onWillUnmount(() => clearInterval(timer));
    return state;
}

function minutesBetween(from, to) {
    return Math.max(0, Math.round(to.diff(from, "minutes").minutes));
}

/**
 * Recent engagement of a lead on its card: the latest human signal (opened, clicked,
 * visited) with how long ago, and the points of the recent days; the tooltip lists the
 * last time of each signal. Field: engagement_recent_score; the last times are read
 * from the record (engagement_last_open / _click / _visit).
 */
export class EngagementBadge extends Component {
    static template = "crm_pipeline_automation.EngagementBadge";
    static props = { ...standardFieldProps };

    setup() {
        this.clock = useMinuteClock();
    }

    get signals() {
        const data = this.props.record.data;
        return [
            { key: "open", date: data.engagement_last_open, icon: "fa-envelope-open-o", label: _t("Opened") },
            { key: "click", date: data.engagement_last_click, icon: "fa-mouse-pointer", label: _t("Clicked") },
            { key: "visit", date: data.engagement_last_visit, icon: "fa-globe", label: _t("Visited") },
        ].filter((signal) => signal.date);
    }

    get score() {
        return this.props.record.data[this.props.name] || 0;
    }

    get latest() {
        const signals = this.signals;
        return signals.length
            ? signals.reduce((best, signal) => (signal.date > best.date ? signal : best))
            : null;
    }

    get ago() {
        const minutes = minutesBetween(this.latest.date, this.clock.now);
        return _t("%(duration)s ago", { duration: formatCountdown(minutes) });
    }

    get title() {
        const lines = this.signals.map((signal) =>
            _t("%(label)s: %(date)s", {
                label: signal.label,
                date: formatDateTime(signal.date, { showSeconds: false }),
            })
        );
        lines.push(_t("Recent engagement score: %(score)s", { score: this.score }));
        return lines.join("\n");
    }
}

registry.category("fields").add("cpa_engagement_badge", {
    component: EngagementBadge,
    displayName: _t("Recent engagement"),
    supportedTypes: ["integer"],
});

/**
 * Next scheduled automation of a lead: the rule's name and when it is due (countdown,
 * exact time in the tooltip). Field: automation_next_run_at; the rule is read from
 * automation_next_rule_id.
 */
export class NextAutomationBadge extends Component {
    static template = "crm_pipeline_automation.NextAutomationBadge";
    static props = { ...standardFieldProps };

    setup() {
        this.clock = useMinuteClock();
    }

    get runAt() {
        return this.props.record.data[this.props.name];
    }

    get ruleName() {
        const rule = this.props.record.data.automation_next_rule_id;
        return (rule && rule[1]) || _t("Automation");
    }

    get due() {
        return this.runAt <= this.clock.now;
    }

    get when() {
        if (this.due) {
            return _t("due now");
        }
        const minutes = minutesBetween(this.clock.now, this.runAt);
        return _t("in %(duration)s", { duration: formatCountdown(minutes) });
    }

    get title() {
        return _t("Next automation: %(rule)s, %(date)s", {
            rule: this.ruleName,
            date: formatDateTime(this.runAt, { showSeconds: false }),
        });
    }
}

registry.category("fields").add("cpa_next_automation", {
    component: NextAutomationBadge,
    displayName: _t("Next automation"),
    supportedTypes: ["datetime"],
});
