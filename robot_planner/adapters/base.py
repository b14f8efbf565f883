"""The robot adapter interface: the only way the behaviour tree touches a robot.

Simulation (PyBullet) and hardware (ROS 2 bindings) implement it; the tree never knows
which one it drives. Every call must return promptly: skills are started, then polled
on each tick, so two arms move at the same time and a halt can cancel at once.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from robot_planner.world.facts import Fact


class SkillState(str, Enum):
    """Where a started skill is."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class SkillStatus:
    """A poll result: state, progress in [0, 1], and why it failed (if it did)."""

    state: SkillState
    progress: float = 0.0
    reason: str = ""
    #: The skill's current phase (e.g. "carry", "release"), when the backend knows it;
    #: the monitor uses it to stop "during" checks where the skill itself ends them.
    phase: str = ""


class AdapterError(RuntimeError):
    """A skill could not be started (robot busy, unknown skill, backend down)."""


@runtime_checkable
class RobotAdapter(Protocol):
    """What the executor needs from a robot backend (one adapter drives all robots)."""

    #: The catalogue skills this adapter implements (checked against the catalogue).
    supported_skills: frozenset[str]

    def start_skill(self, robot: str, skill: str, args: Mapping[str, Any]) -> Hashable:
        """Start a skill and return a handle at once; raise `AdapterError` if it cannot."""
        ...

    def poll(self, handle: Hashable) -> SkillStatus:
        """The skill's current status; never blocks."""
        ...

    def cancel(self, handle: Hashable) -> None:
        """Stop the skill now (idempotent; a finished skill stays finished)."""
        ...

    def read_state(self) -> frozenset[Fact]:
        """The facts that hold now (simulator ground truth or the robot's best estimate)."""
        ...

    def now(self) -> float:
        """Seconds on the adapter's clock (simulated time in simulators)."""
        ...

    def advance(self, dt: float) -> None:
        """Let `dt` seconds pass: simulators step physics, hardware adapters do nothing."""
        ...
