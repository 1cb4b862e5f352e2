import { Component, onWillStart, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { useService } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";
import { AutomationBoard } from "./automation_board";

/**
 * "What if…": a draft trigger or rule replayed with the active automation over the
 * events and stage moves of the last days. The server decides with the engine's own
 * functions and writes nothing; the dialog shows the figures, the conflicts and a
 * sample of leads with the ledger rows the automation would have written.
 */
export class WhatIfDialog extends Component {
    static template = "crm_pipeline_automation.WhatIfDialog";
    static components = { Dialog };
    static props = {
        close: Function,
        model: String,
        recordId: Number,
        name: String,
    };

    setup() {
        this.orm = useService("orm");
        this.state = useState({ days: 30, result: null, loading: false });
        onWillStart(() => this.run());
    }

    async run() {
        this.state.loading = true;
        try {
            this.state.result = await this.orm.call("crm.automation.what.if", "what_if", [
                this.props.model,
                this.props.recordId,
                parseInt(this.state.days) || 30,
            ]);
        } finally {
            this.state.loading = false;
        }
    }

    formatDate(value) {
        return value ? formatDateTime(deserializeDateTime(value), { showSeconds: false }) : "";
    }
}

patch(AutomationBoard.prototype, {
    openWhatIf(model, item) {
        this.dialog.add(WhatIfDialog, { model, recordId: item.id, name: item.name });
    },
});
