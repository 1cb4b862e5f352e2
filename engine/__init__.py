# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Plain Python of the automation engine (no model here): timing arithmetic and its
words, verdicts, tokens, job claiming and job plans, conditions, placeholders, engagement
events and score, calls and URLs, the automation file format and the registry of system
parameters. Models import these modules; nothing here imports a model."""
