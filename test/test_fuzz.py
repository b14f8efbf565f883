"""Hostile input: every untrusted-input reader fuzzed with hypothesis.

The strategies and properties live in `robot_planner.bench.fuzz` (shared with
``robot-planner bench faults``, which runs 10,000 inputs per target). Here each target
gets `FUZZ_EXAMPLES` inputs (300 by default, to keep ``make test`` short; set
ROBOT_PLANNER_FUZZ_EXAMPLES=10000 for the full run). Hangs hit the test timeout.
"""

from __future__ import annotations

import os

import pytest

from robot_planner.bench.fuzz import TARGETS, one_line, run_target

FUZZ_EXAMPLES = int(os.environ.get("ROBOT_PLANNER_FUZZ_EXAMPLES", "300"))
pytestmark = pytest.mark.timeout(900)


@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzz_target_survives_generated_hostile_input(name, catalogue, scene):
    report = run_target(name, FUZZ_EXAMPLES, catalogue, scene)
    assert report["failure"] is None, report["failure"]
    # Hypothesis really generated that many (a strategy that collapsed to a handful of
    # values would pass vacuously).
    assert report["inputs"] >= FUZZ_EXAMPLES


def test_a_failing_property_is_reported_with_its_input(catalogue, scene, monkeypatch):
    """Guards `run_target` itself: a target that breaks must not be counted as survived."""
    from robot_planner.bench import fuzz

    def brittle(catalogue, scene):
        def check(data):
            if len(data) > 3:
                raise KeyError("boom")

        return check

    monkeypatch.setitem(
        fuzz.TARGETS, "commands", ("brittle", fuzz.TARGETS["commands"][1], brittle)
    )
    report = run_target("commands", 200, catalogue, scene)
    assert report["failure"] is not None and "KeyError" in report["failure"]


@pytest.mark.parametrize("message", ["", "  ", "two\nlines", "Traceback (most recent call"])
def test_one_line_refuses_unreadable_errors(message):
    with pytest.raises(AssertionError):
        one_line(message)
