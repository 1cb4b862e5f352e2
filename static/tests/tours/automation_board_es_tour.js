/** @odoo-module **/
// A Spanish-speaking sales administrator opens the automation board: the board, its
// filters, the timing of a rule and the trigger's event read in Spanish.
// Fixture: tests/test_board.py (TestAutomationBoardSpanishTour).
import { registry } from "@web/core/registry";

const column = (stage) => `.o_cpa_board_column[data-stage-name='${stage}']`;

registry.category("web_tour.tours").add("crm_pipeline_automation_board_es_tour", {
    steps: () => [
        {
            content: "The stage column says where leads come from, in Spanish",
            trigger: `${column("Calificado")} .o_cpa_section_title:contains('Los leads entran cuando')`,
        },
        {
            content: "The trigger's event is translated",
            trigger: `${column("Calificado")} .o_cpa_card[data-name='Enlace de precios'] :contains('Clic en un enlace')`,
        },
        {
            content: "The rule's timing is in words, in Spanish",
            trigger: `${column("Calificado")} .o_cpa_card[data-name='Llamar al cliente'] .o_cpa_card_subtitle:contains('después de 6 meses')`,
        },
        {
            content: "The dry-run button",
            trigger: ".o_cpa_dry_run_button:contains('Probar en un lead')",
        },
        {
            content: "The filters",
            trigger: ".o_cpa_event_filter:has(option:contains('Todos los eventos'))",
            run() {
                console.info("cpa-screenshot:board-es");
            },
        },
    ],
});
