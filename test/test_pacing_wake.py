"""`PacedAdapter` with a waker: work that arrives ends the wait for the wall clock at once
(latency from a plan to the first tick, from a cancel to the halt), and the pacing stays
anchored to the wall clock."""

from __future__ import annotations

import threading
import time

from robot_planner.execution.pacing import PacedAdapter

#: Bounds far above what the code needs, far below the waits the waker cuts short.
QUICK_S = 0.5
LONG_S = 5.0


class Inner:
    supported_skills = frozenset()

    def __init__(self) -> None:
        self.robot_time = 0.0

    def now(self) -> float:
        return self.robot_time

    def advance(self, dt: float) -> None:
        self.robot_time += dt


def test_a_set_waker_ends_the_wait_and_is_cleared_for_the_next_one():
    waker = threading.Event()
    paced = PacedAdapter(Inner(), 1.0, waker=waker)
    waker.set()  # work arrived before the wait: no wait at all
    started = time.monotonic()
    paced.advance(LONG_S)
    assert time.monotonic() - started < QUICK_S
    assert not waker.is_set(), "a wake ends one wait, not every later one"


def test_a_wake_during_the_wait_ends_it_early():
    waker = threading.Event()
    paced = PacedAdapter(Inner(), 1.0, waker=waker)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (paced.advance(LONG_S), done.set()), daemon=True)
    started = time.monotonic()
    thread.start()
    waker.set()
    assert done.wait(LONG_S), "the advance never returned"
    assert time.monotonic() - started < LONG_S / 2


def test_time_gained_by_a_wake_is_waited_for_by_the_next_advance():
    # Robot time must not drift ahead of the wall clock: after a woken advance of 0.3 s,
    # an advance of 0.01 s waits about 0.3 s.
    waker = threading.Event()
    paced = PacedAdapter(Inner(), 1.0, waker=waker)
    waker.set()
    paced.advance(0.3)
    started = time.monotonic()
    paced.advance(0.01)
    assert time.monotonic() - started >= 0.2


def test_without_a_waker_the_pacing_sleeps_as_before():
    paced = PacedAdapter(Inner(), 1.0)
    started = time.monotonic()
    paced.advance(0.2)
    assert time.monotonic() - started >= 0.15
