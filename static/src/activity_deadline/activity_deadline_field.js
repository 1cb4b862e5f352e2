import { Component, onWillUnmount, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { formatDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

const { DateTime } = luxon;

/** "3 d 4 h", "2 h 5 min", "12 min": the two largest units of a duration. */
export function formatCountdown(minutes) {
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    const parts = [];
    if (days) {
        parts.push(_t("%(days)s d", { days }));
    }
    if (hours) {
        parts.push(_t("%(hours)s h", { hours }));
    }
    if (!days && (mins || !hours)) {
        parts.push(_t("%(minutes)s min", { minutes: mins }));
    }
    return parts.slice(0, 2).join(" ");
}

/**
 * Deadline of a datetime field with its time and a live countdown; a red "Late"
 * badge once it has passed. Refreshed every minute.
 */
export class ActivityDeadlineCountdown extends Component {
    static template = "crm_pipeline_automation.ActivityDeadlineCountdown";
    static props = { ...standardFieldProps };

    setup() {
        this.state = useState({ now: DateTime.now() });
        const timer = setInterval(() => (this.state.now = DateTime.now()), 60000);
        onWillUnmount(() => clearInterval(timer));
    }

    get deadline() {
        return this.props.record.data[this.props.name];
    }

    get isLate() {
        return Boolean(this.deadline) && this.deadline < this.state.now;
    }

    get formattedDeadline() {
        return formatDateTime(this.deadline, { showSeconds: false });
    }

    get countdown() {
        const minutes = Math.round(Math.abs(this.deadline.diff(this.state.now, "minutes").minutes));
        const text = formatCountdown(minutes);
        return this.isLate
            ? _t("late by %(duration)s", { duration: text })
            : _t("in %(duration)s", { duration: text });
    }
}

registry.category("fields").add("activity_deadline_countdown", {
    component: ActivityDeadlineCountdown,
    displayName: _t("Deadline countdown"),
    supportedTypes: ["datetime"],
});
