# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Decisions of ``crm.automation.job.plan._plan_jobs``: which rules run for which leads
and when (shared by the engine and the dry-run)."""

from collections import defaultdict


class JobPlan:
    """Jobs to create and (rule, lead) pairs skipped.

    ``uniform`` {lead ids: ([rule ids], [run_at])} for rules whose due time is the same
    for all their leads; ``rule_ids`` / ``lead_ids`` / ``run_ats`` one per other (rule,
    lead); ``skipped`` ledger values of the (rule, lead) pairs that do not run.
    """

    def __init__(self):
        self.uniform = defaultdict(lambda: ([], []))
        self.rule_ids, self.lead_ids, self.run_ats = [], [], []
        self.skipped = []

    def decisions(self):
        """[(rule id, lead id, run_at or None, skip message or None)] in rule order."""
        result = [
            (rule_id, lead_id, run_at, None)
            for lead_ids, (rule_ids, run_ats) in self.uniform.items()
            for rule_id, run_at in zip(rule_ids, run_ats, strict=True)
            for lead_id in lead_ids
        ]
        result += [
            (rule_id, lead_id, run_at, None)
            for rule_id, lead_id, run_at in zip(
                self.rule_ids, self.lead_ids, self.run_ats, strict=True
            )
        ]
        result += [
            (vals["rule_id"], vals["lead_id"], None, vals["message"]) for vals in self.skipped
        ]
        return result

    def job_count(self):
        """Number of jobs to create."""
        return len(self.rule_ids) + sum(
            len(lead_ids) * len(rule_ids) for lead_ids, (rule_ids, _run_ats) in self.uniform.items()
        )

    def moments(self):
        """Distinct due times of the jobs to create."""
        moments = set(self.run_ats)
        for _rule_ids, run_ats in self.uniform.values():
            moments.update(run_ats)
        return moments
