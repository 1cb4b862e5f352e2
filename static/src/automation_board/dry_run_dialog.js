import { Component, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { RecordSelector } from "@web/core/record_selectors/record_selector";
import { useService } from "@web/core/utils/hooks";

/**
 * "Test on a lead": which trigger would fire for an event (or what entering a stage
 * does), where the lead would go, which rules would run and when. Nothing is written:
 * the server answers with the engine's own decisions.
 */
export class DryRunDialog extends Component {
    static template = "crm_pipeline_automation.DryRunDialog";
    static components = { Dialog, RecordSelector };
    static props = {
        close: Function,
        stages: Array,
        eventTypes: Array,
        teamId: [Number, Boolean],
    };

    setup() {
        this.orm = useService("orm");
        this.state = useState({
            leadId: false,
            mode: `event:${this.props.eventTypes[0][0]}`,
            detail: "",
            result: null,
        });
    }

    get leadDomain() {
        return this.props.teamId ? [["team_id", "=", this.props.teamId]] : [];
    }

    get isEvent() {
        return this.state.mode.startsWith("event:");
    }

    onLeadChange(leadId) {
        this.state.leadId = leadId;
        this.state.result = null;
    }

    async run() {
        const [kind, value] = this.state.mode.split(":");
        this.state.result = await this.orm.call("crm.lead", "automation_dry_run", [
            this.state.leadId,
        ], {
            event_type: kind === "event" ? value : false,
            stage_id: kind === "stage" ? parseInt(value) : false,
            detail: kind === "event" ? this.state.detail : false,
        });
    }

    formatRunAt(value) {
        return value ? formatDateTime(deserializeDateTime(value), { showSeconds: false }) : "";
    }
}
