# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "CRM Pipeline Automation: sales and invoices (tests only)",
    "summary": "Installs sale_crm and account next to crm_pipeline_automation so that "
    "its document trigger tests run on real orders and invoices",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "website": "https://github.com/crm-pipeline-automation/crm_pipeline_automation",
    "author": "crm_pipeline_automation authors",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["crm_pipeline_automation", "sale_crm", "account"],
    "data": [],
}
