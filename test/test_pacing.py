"""`PacedAdapter`: robot time that follows the wall clock, without catching up after stalls."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from robot_planner.adapters.base import SkillState, SkillStatus
from robot_planner.execution import pacing
from robot_planner.execution.pacing import MAX_LAG_S, PacedAdapter
from robot_planner.world.facts import Fact


class FakeInner:
    """A minimal adapter: robot time moves only through `advance`; every call is logged."""

    supported_skills = frozenset({"pick", "place"})

    def __init__(self, start: float = 0.0, clock: FakeClock | None = None, cost: float = 0.0):
        self.robot_time = start
        self.calls: list[tuple[Any, ...]] = []
        self.clock, self.cost = clock, cost

    def start_skill(self, robot: str, skill: str, args: Any) -> str:
        self.calls.append(("start_skill", robot, skill, dict(args)))
        return "handle-1"

    def poll(self, handle: Any) -> SkillStatus:
        self.calls.append(("poll", handle))
        return SkillStatus(SkillState.RUNNING, 0.25, phase="carry")

    def cancel(self, handle: Any) -> None:
        self.calls.append(("cancel", handle))

    def read_state(self) -> frozenset[Fact]:
        self.calls.append(("read_state",))
        return frozenset({"a fact"})  # type: ignore[arg-type]

    def now(self) -> float:
        return self.robot_time

    def advance(self, dt: float) -> None:
        self.calls.append(("advance", dt))
        self.robot_time += dt
        if self.clock is not None:  # stepping the simulator takes wall time too
            self.clock.t += self.cost


class FakeClock:
    """Stands in for the `time` module inside pacing: `sleep` moves the clock."""

    def __init__(self, t: float = 1000.0):
        self.t = t
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "never sleep a negative or zero time"
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(pacing, "time", fake)
    return fake


def _steps(adapter: PacedAdapter, clock: FakeClock, n: int, dt: float = 0.05) -> list[float]:
    """Advance n times; the sleep taken by each step (0.0 for none)."""
    taken = []
    for _ in range(n):
        before = len(clock.sleeps)
        adapter.advance(dt)
        taken.append(sum(clock.sleeps[before:]))
    return taken


# --- real clock ----------------------------------------------------------------------


def test_advancing_follows_the_wall_clock_at_speed():
    inner = FakeInner()
    adapter = PacedAdapter(inner, speed=10.0)
    steps, dt = 20, 0.05
    started = time.monotonic()
    for _ in range(steps):
        adapter.advance(dt)
    elapsed = time.monotonic() - started
    expected = steps * dt / 10.0  # 0.1 s
    assert elapsed >= 0.8 * expected, f"{elapsed:.4f} s of wall for {expected:.4f} s expected"
    assert inner.now() == pytest.approx(steps * dt)


# --- fake clock: exact pacing ---------------------------------------------------------


@pytest.mark.parametrize(("speed", "dt"), [(1.0, 0.05), (10.0, 0.05), (0.5, 0.1), (2.0, 0.1)])
def test_each_step_sleeps_dt_over_speed(clock, speed, dt):
    adapter = PacedAdapter(FakeInner(), speed=speed)
    assert _steps(adapter, clock, 10, dt) == pytest.approx([dt / speed] * 10)


def test_time_spent_stepping_is_not_slept_again(clock):
    adapter = PacedAdapter(FakeInner(clock=clock, cost=0.02), speed=1.0)
    assert _steps(adapter, clock, 5) == pytest.approx([0.03] * 5)


def test_a_step_slower_than_real_time_does_not_sleep(clock):
    adapter = PacedAdapter(FakeInner(clock=clock, cost=0.08), speed=1.0)
    assert _steps(adapter, clock, 3) == [0.0, 0.0, 0.0]


def test_robot_time_need_not_start_at_zero(clock):
    adapter = PacedAdapter(FakeInner(start=123.4), speed=1.0)
    assert _steps(adapter, clock, 3) == pytest.approx([0.05] * 3)


def test_a_small_lag_is_caught_up(clock):
    adapter = PacedAdapter(FakeInner(), speed=1.0)
    _steps(adapter, clock, 2)  # robot 0.1 s, on time
    clock.t += 0.275  # a slow frame, less than MAX_LAG_S
    assert MAX_LAG_S > 0.275
    # Robot time runs ahead without sleeping until it is back on the wall clock's
    # schedule (robot 0.375 s), then paces normally again.
    after = _steps(adapter, clock, 8)
    assert after[:5] == [0.0] * 5  # robot 0.15 .. 0.35 s: behind, no sleep
    assert after[5] == pytest.approx(0.025)  # robot 0.4 s: 0.025 s ahead
    assert after[6:] == pytest.approx([0.05] * 2)


def test_a_stall_longer_than_max_lag_restarts_the_pacing(clock):
    adapter = PacedAdapter(FakeInner(), speed=1.0)
    assert _steps(adapter, clock, 2) == pytest.approx([0.05, 0.05])
    clock.t += 2.0  # the machine stalled for 2 s (40 steps' worth)
    after = _steps(adapter, clock, 5)
    # The step that notices the stall cannot sleep; every later one paces normally
    # instead of running 40 steps flat out to catch up.
    assert after[0] == 0.0
    assert after[1:] == pytest.approx([0.05] * 4)


def test_a_stall_at_high_speed_restarts_the_pacing(clock):
    adapter = PacedAdapter(FakeInner(), speed=10.0)
    _steps(adapter, clock, 3)
    clock.t += MAX_LAG_S + 0.2
    after = _steps(adapter, clock, 4)
    assert after[0] == 0.0
    assert after[1:] == pytest.approx([0.005] * 3)


def test_repeated_stalls_each_restart(clock):
    adapter = PacedAdapter(FakeInner(), speed=1.0)
    for _ in range(3):
        clock.t += 5.0
        after = _steps(adapter, clock, 3)
        assert after[0] == 0.0
        assert after[1:] == pytest.approx([0.05, 0.05])


# --- hook and delegation -------------------------------------------------------------


def test_hook_gets_each_new_robot_time_after_the_inner_advance(clock):
    inner = FakeInner(start=1.0)
    seen: list[tuple[float, int]] = []
    adapter = PacedAdapter(inner, speed=1.0, hook=lambda now: seen.append((now, len(inner.calls))))
    _steps(adapter, clock, 4, dt=0.25)
    assert [now for now, _ in seen] == pytest.approx([1.25, 1.5, 1.75, 2.0])
    # the hook ran after the n-th inner advance had happened
    assert [calls for _, calls in seen] == [1, 2, 3, 4]


def test_hook_runs_before_the_pacing_sleep(clock):
    order: list[str] = []
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        order.append("sleep")
        real_sleep(seconds)

    clock.sleep = sleep  # type: ignore[method-assign]
    adapter = PacedAdapter(FakeInner(), speed=1.0, hook=lambda now: order.append("hook"))
    _steps(adapter, clock, 2)
    assert order == ["hook", "sleep", "hook", "sleep"]


def test_every_call_is_delegated(clock):
    inner = FakeInner(start=3.0)
    adapter = PacedAdapter(inner, speed=1.0)
    assert adapter.supported_skills is inner.supported_skills
    assert adapter.start_skill("left_arm", "pick", {"object": "red_block"}) == "handle-1"
    status = adapter.poll("handle-1")
    assert status == SkillStatus(SkillState.RUNNING, 0.25, phase="carry")
    assert adapter.cancel("handle-1") is None
    assert adapter.read_state() == frozenset({"a fact"})
    assert adapter.now() == 3.0
    adapter.advance(0.5)
    assert adapter.now() == 3.5
    assert inner.calls == [
        ("start_skill", "left_arm", "pick", {"object": "red_block"}),
        ("poll", "handle-1"),
        ("cancel", "handle-1"),
        ("read_state",),
        ("advance", 0.5),
    ]


def test_wraps_the_real_fake_adapter(fake, clock):
    adapter = PacedAdapter(fake, speed=100.0)
    start = fake.now()
    _steps(adapter, clock, 3)
    assert adapter.now() == pytest.approx(start + 0.15)
    assert adapter.supported_skills == fake.supported_skills
    assert adapter.read_state() == fake.read_state()


@pytest.mark.parametrize("speed", [0.0, -1.0, -0.001, math.nan])
def test_speed_must_be_positive(speed):
    with pytest.raises(ValueError) as info:
        PacedAdapter(FakeInner(), speed=speed)
    assert str(info.value).startswith("sim_speed must be positive, got ")
