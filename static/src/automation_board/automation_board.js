import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { FormViewDialog } from "@web/views/view_dialogs/form_view_dialog";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { DryRunDialog } from "./dry_run_dialog";

export const TRIGGER = "crm.stage.trigger";
export const RULE = "crm.automation.rule";

/**
 * The automation of one pipeline: a column per stage with the triggers that bring
 * leads in and the rules that run there; add, edit, reorder, enable in place; the
 * server's warnings (loops, rules that never run, other pipelines); dry-run.
 */
export class AutomationBoard extends Component {
    static template = "crm_pipeline_automation.AutomationBoard";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.dialog = useService("dialog");
        this.actionService = useService("action");
        const params = this.props.action.params || {};
        const context = this.props.action.context || {};
        this.TRIGGER = TRIGGER;
        this.RULE = RULE;
        this.state = useState({
            teamId: params.team_id || context.default_team_id || false,
            board: null,
            search: "",
            eventType: "",
            actionType: "",
        });
        onWillStart(() => this.load());
    }

    async load() {
        const board = await this.orm.call("crm.automation.board", "get_board", [
            this.state.teamId || false,
        ]);
        this.state.board = board;
        this.state.teamId = board.team ? board.team.id : false;
    }

    get canEdit() {
        return this.state.board && this.state.board.can_edit;
    }

    onTeamChange(ev) {
        this.state.teamId = parseInt(ev.target.value) || false;
        this.load();
    }

    _matchesSearch(item, texts) {
        const search = this.state.search.trim().toLowerCase();
        return !search || texts.some((text) => (text || "").toLowerCase().includes(search));
    }

    triggersOf(stage) {
        return stage.triggers.filter(
            (trigger) =>
                (!this.state.eventType || trigger.event_type === this.state.eventType) &&
                this._matchesSearch(trigger, [
                    trigger.name,
                    trigger.event,
                    trigger.detail,
                    trigger.condition,
                ])
        );
    }

    rulesOf(stage) {
        return stage.rules.filter(
            (rule) =>
                (!this.state.actionType || rule.action_type === this.state.actionType) &&
                this._matchesSearch(rule, [rule.name, rule.action, rule.timing, rule.condition])
        );
    }

    isWarned(model, id) {
        const key = model === TRIGGER ? "trigger_ids" : "rule_ids";
        return this.state.board.warnings.some((warning) => warning[key].includes(id));
    }

    openRecord(model, id) {
        this.dialog.add(FormViewDialog, {
            resModel: model,
            resId: id,
            preventEdit: !this.canEdit,
            onRecordSaved: () => this.load(),
        });
    }

    add(model, stage) {
        this.dialog.add(FormViewDialog, {
            resModel: model,
            title: model === TRIGGER ? _t("New trigger") : _t("New automation rule"),
            // New automation starts as a draft: it runs once activated on the board.
            context: { default_stage_id: stage.id, default_state: "draft" },
            onRecordSaved: () => this.load(),
        });
    }

    async move(model, stage, item, delta) {
        const list = model === TRIGGER ? stage.triggers : stage.rules;
        const ids = list.map((record) => record.id);
        const from = ids.indexOf(item.id);
        const to = from + delta;
        if (to < 0 || to >= ids.length) {
            return;
        }
        [ids[from], ids[to]] = [ids[to], ids[from]];
        await this.orm.call("crm.automation.board", "resequence", [model, ids]);
        await this.load();
    }

    async toggle(model, item) {
        const action = await this.orm.call("crm.automation.board", "toggle_state", [
            model,
            item.id,
        ]);
        if (action) {
            await this.actionService.doAction(action, { onClose: () => this.load() });
        } else {
            await this.load();
        }
    }

    openDryRun() {
        this.dialog.add(DryRunDialog, {
            stages: this.state.board.stages.map((stage) => ({ id: stage.id, name: stage.name })),
            // Engagement events, then lead events of the activity templates (lost).
            eventTypes: [...this.state.board.event_types, ...(this.state.board.lead_events || [])],
            teamId: this.state.teamId || false,
        });
    }
}

registry.category("actions").add("crm_pipeline_automation.automation_board", AutomationBoard);
