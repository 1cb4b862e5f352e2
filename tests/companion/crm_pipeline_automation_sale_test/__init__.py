# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
