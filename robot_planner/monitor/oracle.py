"""The simulator's ground truth as a VQA backend: for evaluation only.

It reads poses and contacts from PyBullet instead of looking at pixels, so it is what
the other backends are scored against, and a best case for the recovery loop. It is
never chosen by default, and every report says when it was used.
"""

from __future__ import annotations

from robot_planner.monitor.base import VqaAnswer
from robot_planner.sim.world import SimWorld
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation


class OracleVqa:
    """Answers from `sim.truth.ground_truth` at the moment of the question."""

    name = "oracle"

    def __init__(self, world: SimWorld):
        self.world = world

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        from robot_planner.sim.truth import ground_truth

        holds = fact in ground_truth(self.world)
        return VqaAnswer(holds, 1.0, "simulator ground truth")

    def estimate_facts(self, observation: Observation) -> frozenset[Fact]:
        """Every fact that holds now (the re-planner's starting state)."""
        from robot_planner.sim.truth import ground_truth

        return frozenset(ground_truth(self.world))


class ScoredVqa:
    """A backend whose every answer is also scored against the oracle (benchmarks only):
    counts agreement per predicate, so a report can say how often perception was right
    on the questions the monitor actually asked."""

    def __init__(self, inner, oracle: OracleVqa):
        self.inner = inner
        self.oracle = oracle
        self.name = inner.name
        self.tally: dict[str, dict[str, int]] = {}
        if hasattr(inner, "estimate_facts"):
            self.estimate_facts = inner.estimate_facts

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        result = self.inner.answer(observation, question, fact)
        truth = self.oracle.answer(observation, question, fact).answer
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
        """Agreement with the oracle over all answers, and per predicate."""
        total = {
            key: sum(row[key] for row in self.tally.values())
            for key in ("asked", "agree", "disagree", "unknown")
        }
        return {**total, "by_predicate": {k: dict(v) for k, v in sorted(self.tally.items())}}
