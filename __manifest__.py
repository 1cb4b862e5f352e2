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
        "security/crm_automation_security.xml",
        "data/ir_config_parameter_data.xml",
        "data/ir_cron_data.xml",
        "views/crm_automation_rule_views.xml",
        "views/crm_automation_job_views.xml",
        "views/crm_automation_log_views.xml",
        "views/crm_stage_views.xml",
        "views/crm_lead_views.xml",
        "data/crm_activity_template_cron.xml",
        "views/crm_activity_template_views.xml",
        "views/mail_activity_views.xml",
        "views/crm_activity_report_views.xml",
        "views/crm_lead_kanban_views.xml",
        "views/crm_automation_rule_activity_views.xml",
    ],
    "demo": [
        "demo/crm_team_demo.xml",
        "demo/crm_lead_demo.xml",
        "demo/crm_automation_rule_demo.xml",
        "demo/crm_activity_template_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "crm_pipeline_automation/static/src/activity_deadline/**/*",
        ],
        "web.assets_tests": [
            "crm_pipeline_automation/static/tests/tours/**/*",
        ],
    },
}
