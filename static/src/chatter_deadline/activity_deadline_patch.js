import { Record } from "@mail/core/common/record";
import { Activity } from "@mail/core/web/activity";
import { Activity as ActivityModel } from "@mail/core/web/activity_model";
import { formatDateTime } from "@web/core/l10n/dates";
import { localization } from "@web/core/l10n/localization";
import { patch } from "@web/core/utils/patch";

const { DateTime } = luxon;

/** The activity record of the chatter knows its deadline to the minute (UTC from the server). */
patch(ActivityModel.prototype, {
    setup() {
        super.setup();
        this.deadline_datetime = Record.attr(undefined, { type: "datetime" });
    },
    get deadlineTimeFormatted() {
        if (!this.deadline_datetime) {
            return "";
        }
        return this.deadline_datetime.toLocal().toFormat(localization.shortTimeFormat);
    },
    get deadlineDateTimeFormatted() {
        if (!this.deadline_datetime) {
            return "";
        }
        return formatDateTime(this.deadline_datetime, { showSeconds: false });
    },
});

/** The chatter's activity line shows "Today: 14:30 …" and a red "Late" badge past the minute. */
patch(Activity.prototype, {
    get cpaIsLate() {
        const deadline = this.props.activity.deadline_datetime;
        return Boolean(deadline) && deadline < DateTime.now();
    },
});
