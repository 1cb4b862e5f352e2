# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The automation board's stage graph: how triggers and rules move (or create) leads
from a stage to another, and the loops they can make (plain Python, no ORM)."""

from collections import defaultdict

# Loops listed at most (a pipeline wired in every direction has many).
MAX_CYCLES = 20


class Edge:
    """A way the automation moves leads (or creates one) from a stage to another."""

    def __init__(self, source, target, message, triggers=None, rules=None, creates=False):
        self.source, self.target, self.message = source, target, message
        self.triggers = triggers or []
        self.rules = rules or []
        self.creates = creates


def cycles(edges, limit=MAX_CYCLES):
    """Elementary cycles of the stage graph, each as a list of edges (at most
    ``limit``). Each cycle is found once, from its smallest stage id."""
    out = defaultdict(list)
    for edge in edges:
        out[edge.source.id].append(edge)
    found = []
    for start in sorted(out):
        stack = [(start, [], {start})]
        while stack and len(found) < limit:
            node, path, seen = stack.pop()
            for edge in out[node]:
                target = edge.target.id
                if target == start:
                    found.append([*path, edge])
                elif target > start and target not in seen:
                    stack.append((target, [*path, edge], seen | {target}))
    return found[:limit]
