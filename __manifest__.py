# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "CRM Pipeline Automation",
    "summary": "Triggers move leads when customers engage; stage rules act now or "
    "later; activity templates with real deadlines; a ledger explains every move",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/crm-pipeline-automation/crm_pipeline_automation",
    "author": "crm_pipeline_automation authors",
    "license": "LGPL-3",
    "application": False,
    "installable": True,
    "depends": [
        "crm",
        "website_crm",
        "link_tracker",
        "sms",
        "crm_livechat",
        "website_livechat",
        "resource",
        "phone_validation",
    ],
    "external_dependencies": {"python": ["phonenumbers"]},
    "data": [
        "security/crm_pipeline_automation_security.xml",
        "security/ir.model.access.csv",
        "views/crm_pipeline_automation_menus.xml",
        "data/crm_tracking_data.xml",
        "data/ir_cron_tracking_data.xml",
        "views/crm_stage_trigger_views.xml",
        "views/crm_lead_event_views.xml",
        "views/crm_lead_tracking_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "demo": [
        "demo/crm_team_demo.xml",
        "demo/crm_lead_demo.xml",
        "demo/crm_stage_trigger_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "crm_pipeline_automation/static/tests/tours/**/*",
        ],
    },
}
