# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Set-wise dispatch of automation jobs: grouping a claimed batch by (rule, action)
and marking a group's jobs done, in plain Python and SQL.

The dispatcher claims a batch of due jobs (engine/dispatch.py), then runs it group by
group: the jobs of one rule (hence one action) run through one set-wise executor of the
rule (one ``mail.activity`` create, one tag write, one score UPDATE...), each group in
one savepoint; a group that raises is rolled back and its jobs run one by one.
"""

from odoo.tools import SQL


def group_jobs(rows):
    """Partition the claimed jobs ``rows`` into groups run one after the other.

    :param rows: [(job id, lead id, key)] in claim order (run_at, id); ``key`` is what a
        group shares, e.g. the rule id
    :return: [(key, [job id])], in running order

    A group holds one job per lead at most (an executor acts on a set of distinct
    leads), and the jobs of one lead run in claim order: a job joins the last group of
    its key only when that group comes after every group holding a job of its lead,
    else it opens a new group. A mass move (every lead has the same rules) gives one
    group per rule, whatever the number of leads.
    """
    groups = []  # [(key, [job ids], {lead ids})]
    last_of_key = {}  # key: index in groups of its last group
    last_of_lead = {}  # lead id: index in groups of the last group holding one of its jobs
    for job_id, lead_id, key in rows:
        index = last_of_key.get(key)
        if index is None or index <= last_of_lead.get(lead_id, -1):
            index = len(groups)
            groups.append((key, [], set()))
            last_of_key[key] = index
        groups[index][1].append(job_id)
        groups[index][2].add(lead_id)
        last_of_lead[lead_id] = index
    return [(key, job_ids) for key, job_ids, _leads in groups]


def mark_done(cr, now, rows):
    """Mark the jobs of a group done in one UPDATE (instead of one per job: their
    results and activities differ).

    :param rows: [(job id, result, activity id or None)]
    """
    if not rows:
        return
    job_ids, results, activity_ids = zip(*rows, strict=False)
    cr.execute(
        SQL(
            """
        UPDATE crm_automation_job j
           SET state = 'done', done_at = %s, attempts = COALESCE(j.attempts, 0) + 1,
               last_error = NULL, result = v.result,
               activity_id = COALESCE(v.activity_id, j.activity_id)
          FROM unnest(%s::int[], %s::varchar[], %s::int[]) AS v(id, result, activity_id)
         WHERE j.id = v.id
            """,
            now,
            list(job_ids),
            [(result or "")[:250] for result in results],
            list(activity_ids),
        )
    )
