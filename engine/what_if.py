# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Book-keeping of the what-if replay (``crm.automation.what.if``): the window, the
time line of a past period, the loop guard counted in memory, and the tally of what the
simulated automation would have done (moves, actions, loops, races, a sample of leads
with the ledger rows it would have written). No model here: the decisions themselves are
the engine's (``crm.stage.trigger._decide_event``, ``crm.automation.job.plan._plan_jobs``).
"""

from collections import defaultdict, deque
from datetime import timedelta

DEFAULT_DAYS = 30
MAX_DAYS = 365
SAMPLE_SIZE = 10
# Conflicts listed at most (all are counted).
MAX_CONFLICTS = 20
# Simulated ledger rows kept per lead of the sample.
MAX_ROWS = 30
# Order of the items of one instant: a recorded stage move before an event.
MOVE, EVENT = 0, 1


def window_days(days):
    """Number of days of the window from user input: an int in 1..MAX_DAYS.

    :raise ValueError: anything else
    """
    if days is None or days is False or days == "":
        return DEFAULT_DAYS
    if isinstance(days, bool) or not isinstance(days, int | str):
        raise ValueError(days)
    days = int(days)
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(days)
    return days


def manual_moves(tracked, entries):
    """Recorded stage moves not made by the automation (those are simulated again).

    :param tracked: [(date, lead id, from stage id, to stage id)] of the stage tracking
        of the chatter, in time order
    :param entries: [(date, lead id, from stage id, to stage id, automatic)] of the
        ledger's ``stage_entered`` rows of the same window, in time order; an automatic
        one cancels one tracked move (a multiset), a manual one not tracked (tracking
        off) is a move of its own
    :return: list of (date, lead id, from stage id, to stage id) in time order
    """
    automatic = defaultdict(int)
    manual = defaultdict(int)
    for _date, lead_id, from_id, to_id, is_auto in entries:
        (automatic if is_auto else manual)[(lead_id, from_id, to_id)] += 1
    moves = []
    for date, lead_id, from_id, to_id in tracked:
        key = (lead_id, from_id, to_id)
        if automatic[key]:
            automatic[key] -= 1
            continue
        if manual[key]:
            manual[key] -= 1
        moves.append((date, lead_id, from_id, to_id))
    for date, lead_id, from_id, to_id, is_auto in entries:
        key = (lead_id, from_id, to_id)
        if not is_auto and manual[key]:
            manual[key] -= 1
            moves.append((date, lead_id, from_id, to_id))
    moves.sort(key=lambda move: move[0])
    return moves


def initial_stages(tracked, entries):
    """{lead id: stage id at the start of the window}: the old stage of each lead's
    first stage move of the window (tracked in the chatter or entered in the ledger),
    its first stage if it was created then; leads without one: their current stage."""
    rows = [(date, lead_id, from_id, to_id) for date, lead_id, from_id, to_id in tracked]
    rows += [(date, lead_id, from_id, to_id) for date, lead_id, from_id, to_id, _a in entries]
    rows.sort(key=lambda row: row[0])
    start = {}
    for _date, lead_id, from_id, to_id in rows:
        start.setdefault(lead_id, from_id or to_id)
    return start


def timeline(events, moves):
    """Events and manual moves in time order (a move before an event of the same
    instant; then by event id or by order of the moves).

    :param events: [(date, event id, lead id)]
    :param moves: output of ``manual_moves``
    :return: list of (date, MOVE|EVENT, payload) with payload (event id, lead id) or
        (lead id, to stage id)
    """
    items = [(date, EVENT, event_id, (event_id, lead_id)) for date, event_id, lead_id in events]
    items += [
        (date, MOVE, index, (lead_id, to_id))
        for index, (date, lead_id, _from_id, to_id) in enumerate(moves)
    ]
    items.sort(key=lambda item: item[:3])
    return [(date, kind, payload) for date, kind, _order, payload in items]


class HourlyGuard:
    """The loop guard of the engine over simulated time: each replayed event is one
    transaction (one move at most), and a lead may not enter more than ``max_hour``
    stages automatically within an hour."""

    def __init__(self, max_tx, max_hour):
        self.max_tx, self.max_hour = max_tx, max_hour
        self.moves = defaultdict(deque)

    def stops(self, lead_id, at):
        """Whether the guard stops one more automatic move of the lead at ``at``."""
        if self.max_tx < 1:
            return True
        times = self.moves[lead_id]
        while times and times[0] < at - timedelta(hours=1):
            times.popleft()
        return len(times) >= self.max_hour

    def count(self, lead_id, at):
        self.moves[lead_id].append(at)


class Tally:
    """What the simulated history holds: counts of moves and actions (all automation,
    and the draft's own), loops and races involving the draft, ledger rows per lead."""

    def __init__(self, draft_key):
        """:param draft_key: ("trigger" | "rule", id) of the draft"""
        self.draft_key = draft_key
        self.events = 0
        self.manual_moves = 0
        self.moves = 0
        self.actions = 0
        self.draft_moves = 0
        self.draft_actions = 0
        self.guard_stops = 0
        self.moved_leads = set()
        self.acted_leads = set()
        self.affected = {}  # lead id -> order of first effect of the draft
        self.rows = defaultdict(list)
        self.conflicts = []
        self.conflict_counts = defaultdict(int)
        self.last_move = {}  # lead id -> (by key, from stage id, to stage id)

    def row(self, lead_id, **values):
        """A ledger row the automation would write; its ``message`` may be a callable,
        made into text for the sample only (``sample_rows``)."""
        rows = self.rows[lead_id]
        if len(rows) < MAX_ROWS:
            rows.append(values)

    def _affects(self, lead_id):
        self.affected.setdefault(lead_id, len(self.affected))

    def conflict(self, kind, lead_id, message):
        """Count a conflict; ``message`` is a text or a callable making it (called only
        for the conflicts listed: translating 100,000 sentences is most of a replay)."""
        self.conflict_counts[kind] += 1
        self._affects(lead_id)
        if len(self.conflicts) < MAX_CONFLICTS:
            text = message() if callable(message) else message
            self.conflicts.append({"kind": kind, "lead_id": lead_id, "message": text})

    def move(self, lead_id, by_key, from_id, to_id):
        """An automatic move; returns the key of the move it undoes (a loop), or None."""
        self.moves += 1
        if by_key == self.draft_key:
            self.draft_moves += 1
            self.moved_leads.add(lead_id)
            self._affects(lead_id)
        previous = self.last_move.get(lead_id)
        self.last_move[lead_id] = (by_key, from_id, to_id)
        if (
            previous
            and previous[0] != by_key
            and self.draft_key in (previous[0], by_key)
            and previous[2] == from_id
            and previous[1] == to_id
        ):
            return previous[0]
        return None

    def manual(self, lead_id):
        self.manual_moves += 1
        self.last_move.pop(lead_id, None)

    def action(self, lead_id, rule_key, caused_by_draft):
        self.actions += 1
        if rule_key == self.draft_key or caused_by_draft:
            self.draft_actions += 1
            self.acted_leads.add(lead_id)
            self._affects(lead_id)

    def sample_rows(self, lead_id):
        """The rows of ``lead_id`` with their messages as text."""
        return [
            dict(row, message=row["message"]() if callable(row["message"]) else row["message"])
            for row in self.rows[lead_id]
        ]

    def sample_ids(self, size=SAMPLE_SIZE):
        """Leads the draft affected first (at most ``size``)."""
        return sorted(self.affected, key=self.affected.get)[:size]
