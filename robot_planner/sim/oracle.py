"""The simulator's ground truth as a VQA backend: for evaluation only.

It reads poses and contacts from PyBullet instead of looking at pixels, so it is what
the other backends are scored against, and a best case for the recovery loop. It lives
in the simulation layer because only a simulated system can offer it: the composition
root (`robot_planner.system`) hands it to `monitor.backends.make_vqa` as a factory, so
the monitor never imports the simulator. It is never chosen by default, and every
report says when it was used.
"""

from __future__ import annotations

from robot_planner.monitor.base import VqaAnswer
from robot_planner.sim.truth import ground_truth
from robot_planner.sim.world import SimWorld
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation


class OracleVqa:
    """Answers from `sim.truth.ground_truth` at the moment of the question."""

    name = "oracle"

    def __init__(self, world: SimWorld):
        self.world = world

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        holds = fact in ground_truth(self.world)
        return VqaAnswer(holds, 1.0, "simulator ground truth")

    def estimate_facts(self, observation: Observation) -> frozenset[Fact]:
        """Every fact that holds now (the re-planner's starting state)."""
        return frozenset(ground_truth(self.world))
