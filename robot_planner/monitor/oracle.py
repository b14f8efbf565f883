"""Scoring a VQA backend against a reference backend (benchmarks only).

The reference is normally the simulation layer's `OracleVqa` (ground truth), but this
module never imports the simulator: the composition root passes the reference in, so
the monitor stays usable (and testable) without PyBullet.
"""

from __future__ import annotations

from robot_planner.monitor.base import VqaAnswer, VqaBackend
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation


class ScoredVqa:
    """A backend whose every answer is also scored against a reference backend (the
    oracle): counts agreement per predicate, so a report can say how often perception
    was right on the questions the monitor actually asked."""

    def __init__(self, inner: VqaBackend, reference: VqaBackend):
        self.inner = inner
        self.reference = reference
        self.name = inner.name
        self.tally: dict[str, dict[str, int]] = {}
        if hasattr(inner, "estimate_facts"):
            self.estimate_facts = inner.estimate_facts

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        result = self.inner.answer(observation, question, fact)
        truth = self.reference.answer(observation, question, fact).answer
        row = self.tally.setdefault(
            fact.predicate, {"asked": 0, "agree": 0, "disagree": 0, "unknown": 0}
        )
        row["asked"] += 1
        if result.answer is None:
            row["unknown"] += 1
        elif result.answer == truth:
            row["agree"] += 1
        else:
            row["disagree"] += 1
        return result

    def summary(self) -> dict[str, object]:
        """Agreement with the reference over all answers, and per predicate."""
        total = {
            key: sum(row[key] for row in self.tally.values())
            for key in ("asked", "agree", "disagree", "unknown")
        }
        return {**total, "by_predicate": {k: dict(v) for k, v in sorted(self.tally.items())}}
