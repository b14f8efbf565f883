"""Robot time that follows the wall clock: the adapter wrapper the ROS executor uses.

`robot-planner run` steps the simulator as fast as it can; a node serving a live system
must not: the camera, the monitor and the user all live in wall-clock time. Hardware
adapters already move in real time; for them the wrapper only adds the sensor hook.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from robot_planner.adapters.base import SkillStatus
from robot_planner.world.facts import Fact

#: Behind the wall clock by more than this (a slow frame, a busy machine), the pacing
#: restarts from now instead of running fast to catch up.
MAX_LAG_S = 0.5


class PacedAdapter:
    """Wraps an adapter so robot time follows the wall clock (times `speed`) and calls
    `hook(now)` after every advance (sensor publishing). Everything else is passed on.

    With a `waker` event, the wait for the wall clock ends as soon as it is set (a plan or
    a cancel arrived): the execution thread starts the plan or halts the arms at once
    instead of after the rest of an idle period (up to `period_s / speed`, 50 ms by
    default). Robot time is then ahead of the wall clock by less than one period, and the
    next advance waits that much longer: the pacing stays anchored to the wall clock.
    """

    def __init__(
        self,
        inner: Any,
        speed: float,
        hook: Callable[[float], None] | None = None,
        waker: threading.Event | None = None,
    ):
        if not speed > 0:
            raise ValueError(f"sim_speed must be positive, got {speed}")
        self.inner = inner
        self.speed = speed
        self.hook = hook
        self.waker = waker
        self.supported_skills = inner.supported_skills
        self._wall0 = time.monotonic()
        self._robot0 = inner.now()

    def start_skill(self, robot: str, skill: str, args: Mapping[str, Any]) -> Hashable:
        return self.inner.start_skill(robot, skill, args)

    def poll(self, handle: Hashable) -> SkillStatus:
        return self.inner.poll(handle)

    def cancel(self, handle: Hashable) -> None:
        self.inner.cancel(handle)

    def read_state(self) -> frozenset[Fact]:
        return self.inner.read_state()

    def now(self) -> float:
        return self.inner.now()

    def advance(self, dt: float) -> None:
        self.inner.advance(dt)
        if self.hook is not None:
            self.hook(self.inner.now())
        due = self._wall0 + (self.inner.now() - self._robot0) / self.speed
        lag = due - time.monotonic()
        if lag > 0:
            if self.waker is None:
                time.sleep(lag)
            elif self.waker.wait(lag):
                self.waker.clear()
        elif lag < -MAX_LAG_S:  # fell behind: do not run fast to catch up
            self._wall0, self._robot0 = time.monotonic(), self.inner.now()
