"""A scripted robot adapter for tests and dry runs: configurable durations and failures.

Skills take simulated time (advanced by the executor), succeed or fail as configured,
and apply the catalogue's symbolic effects on success, so `read_state` reflects what
the plan has done. It refuses a second skill on a busy robot, which catches compiler
bugs that would make a real arm do two things at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from robot_planner.adapters.base import AdapterError, SkillState, SkillStatus
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene


@dataclass
class FakeCall:
    """One started skill, kept for assertions in tests."""

    handle: int
    robot: str
    skill: str
    args: dict[str, Any]
    started_at: float
    duration: float
    failure: str | None
    hang: bool
    state: SkillState = SkillState.RUNNING
    reason: str = ""
    ended_at: float | None = None


def _keys(robot: str, skill: str, args: Mapping[str, Any]) -> list[str]:
    """Rule keys from most to least specific: robot:skill:arg, skill:arg, robot:skill, skill."""
    first = next(iter(args.values()), None)
    keys = []
    if first is not None:
        keys += [f"{robot}:{skill}:{first}", f"{skill}:{first}"]
    return [*keys, f"{robot}:{skill}", skill]


@dataclass
class FakeRobotAdapter:
    """Scripted robots.

    Rule dictionaries are keyed ``skill``, ``robot:skill``, ``skill:first_arg`` or
    ``robot:skill:first_arg``; the most specific key wins.

    Attributes:
        catalogue: the skill catalogue (its skills are the supported ones).
        scene: the scene, for the symbolic state.
        durations: seconds each skill takes (``default_duration`` otherwise).
        failures: failure reason for calls that should fail at the end of their duration.
        hangs: keys of calls that never finish (to exercise timeouts and cancel).
        initial_facts: the state to start from (the scene's start when None).
    """

    catalogue: Catalogue
    scene: Scene
    durations: Mapping[str, float] = field(default_factory=dict)
    failures: Mapping[str, str] = field(default_factory=dict)
    hangs: frozenset[str] | set[str] = field(default_factory=frozenset)
    default_duration: float = 1.0
    initial_facts: frozenset[Fact] | None = None
    calls: list[FakeCall] = field(default_factory=list, init=False)
    _time: float = field(default=0.0, init=False)
    _facts: frozenset[Fact] = field(default=frozenset(), init=False)
    _ids: itertools.count = field(default_factory=itertools.count, init=False)
    _running: dict[int, FakeCall] = field(default_factory=dict, init=False)
    _by_handle: dict[int, FakeCall] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.supported_skills = frozenset(self.catalogue.skills)
        start = self.scene.initial_facts() if self.initial_facts is None else self.initial_facts
        self._facts = self.scene.derive(start)

    # --- RobotAdapter --------------------------------------------------------------

    def start_skill(self, robot: str, skill: str, args: Mapping[str, Any]) -> Hashable:
        if skill not in self.supported_skills:
            raise AdapterError(f"unknown skill '{skill}'")
        if robot not in self.scene.robots:
            raise AdapterError(f"unknown robot '{robot}'")
        busy = [c for c in self._running.values() if c.robot == robot]
        if busy:
            raise AdapterError(f"{robot} is busy with {busy[0].skill}")
        keys = _keys(robot, skill, args)
        duration = next(
            (self.durations[k] for k in keys if k in self.durations), self.default_duration
        )
        if "seconds" in args and not any(k in self.durations for k in keys):
            duration = float(args["seconds"])  # a skill told how long to take (wait) does
        call = FakeCall(
            handle=next(self._ids),
            robot=robot,
            skill=skill,
            args=dict(args),
            started_at=self._time,
            duration=duration,
            failure=next((self.failures[k] for k in keys if k in self.failures), None),
            hang=any(k in self.hangs for k in keys),
        )
        self.calls.append(call)
        self._by_handle[call.handle] = call
        self._running[call.handle] = call
        return call.handle

    def poll(self, handle: Hashable) -> SkillStatus:
        call = self._call(handle)
        if call.state is SkillState.RUNNING:
            elapsed = self._time - call.started_at
            progress = 0.0 if call.hang else min(1.0, elapsed / max(call.duration, 1e-9))
            return SkillStatus(SkillState.RUNNING, progress)
        return SkillStatus(call.state, 1.0, call.reason)

    def cancel(self, handle: Hashable) -> None:
        call = self._call(handle)
        if call.state is SkillState.RUNNING:
            call.state = SkillState.CANCELLED
            call.reason = "cancelled"
            call.ended_at = self._time
            del self._running[call.handle]

    def read_state(self) -> frozenset[Fact]:
        return self._facts

    def now(self) -> float:
        return self._time

    def advance(self, dt: float) -> None:
        self._time += dt
        for call in list(self._running.values()):
            if call.hang:
                continue
            if self._time - call.started_at + 1e-9 >= call.duration:
                call.ended_at = self._time
                del self._running[call.handle]
                if call.failure is not None:
                    call.state = SkillState.FAILED
                    call.reason = call.failure
                else:
                    call.state = SkillState.SUCCEEDED
                    self._facts = self.catalogue.apply(
                        call.skill, call.robot, call.args, self.scene, self._facts
                    )

    # --- helpers for tests -----------------------------------------------------------

    def _call(self, handle: Hashable) -> FakeCall:
        call = self._by_handle.get(handle)  # type: ignore[arg-type]
        if call is None:
            raise AdapterError(f"unknown skill handle {handle!r}")
        return call

    def max_concurrency(self) -> int:
        """The largest number of skills that were running at the same instant."""
        edges = []
        for call in self.calls:
            end = call.ended_at if call.ended_at is not None else float("inf")
            edges += [(call.started_at, 1), (end, -1)]
        running = peak = 0
        for _, delta in sorted(edges, key=lambda e: (e[0], e[1])):
            running += delta
            peak = max(peak, running)
        return peak
