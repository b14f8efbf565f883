"""`robot-planner bench perf` and `bench tasks`: report helpers, perf stages, the L1-L3
task suite and the CLI commands.

Figures are measured, never asserted: the tests check shapes, arithmetic on hand-built
data and what the suites claim about plans (one arm, both arms, serialised), not speed.
PyBullet runs are kept to two episodes and one shortened `perf.measure`; the CLI tests
replay those results through the real commands.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import plan, task

from robot_planner.bench import perf, report, tasks
from robot_planner.bench.commands import COMMANDS
from robot_planner.cli import main
from robot_planner.plan.model import TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanRequest, PlanResult
from robot_planner.planning.offline import OfflinePlanner

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TARGET_KEYS = [t[0] for t in perf.TARGETS]
L1_FIRST = next(cmd for level, cmd, _ in tasks.TASKS if level == "L1")
PARALLEL = "red and green go in the left bin, blue and yellow in the right bin"
TOWER = (
    "build a tower in the center zone with the yellow block at the bottom, then the "
    "blue block, then the red block on top"
)


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000


def _one_error_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("robot-planner: error:")


# --- shared real runs (PyBullet: two episodes and one short perf.measure) ------------


@pytest.fixture(scope="module")
def offline(catalogue, scene) -> OfflinePlanner:
    return OfflinePlanner(catalogue, scene)


@pytest.fixture(scope="module")
def tasks_run() -> dict[str, Any]:
    """The first L1 command, as planned and serialised: the suite's two real episodes."""
    progress: list[tuple[int, int]] = []
    result = tasks.bench_tasks(
        levels=["L1"], limit=1, progress=lambda done, total: progress.append((done, total))
    )
    result["_progress"] = progress
    return result


@pytest.fixture(scope="module")
def measured(catalogue, scene) -> dict[str, Any]:
    """`perf.measure` without DDS, on a slice of the command table and 2 monitor frames
    per resolution (the full defaults take ~30 s; the code path is the same)."""
    monitor = perf.monitor
    with_goal = [c for c in COMMANDS if c[2] is not None][:3]
    without_goal = [c for c in COMMANDS if c[2] is None][:1]
    stages: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(perf, "COMMANDS", with_goal + without_goal)
        mp.setattr(perf, "monitor", lambda sc, progress=None: monitor(sc, 2, progress))
        result = perf.measure(
            catalogue,
            scene,
            sizes=(5, 10),
            sim_seconds=1,
            dds_commands=0,
            progress=stages.append,
        )
    return {"result": result, "stages": stages, "commands": len(with_goal)}


# --- report ---------------------------------------------------------------------------


def test_percentile_nearest_rank():
    values = list(range(20, 0, -1))  # unsorted on purpose
    assert report.percentile(values, 0.95) == 19
    assert report.percentile(values, 0.5) == 10
    assert report.percentile(values, 1.0) == 20
    assert report.percentile(values, 0.0) == 1
    assert report.percentile([7.5], 0.95) == 7.5
    assert report.percentile([1, 2, 3], 0.4) == 2  # rank ceil(1.2) = 2, not interpolated
    # q * n that is a whole number in decimal must not round up a rank through float error
    assert report.percentile(list(range(1, 101)), 0.07) == 7
    assert report.percentile(list(range(1, 26)), 0.28) == 7
    assert math.isnan(report.percentile([], 0.5))


def test_spread():
    assert report.spread([]) == {"n": 0}
    assert report.spread([4, 1, 3, 100, 2]) == {"n": 5, "median": 3, "p95": 100, "max": 100}
    assert report.spread([1.23456, 2.0], digits=2) == {
        "n": 2,
        "median": 1.62,
        "p95": 2.0,
        "max": 2.0,
    }


def test_growth_exponent():
    sizes = [10, 100, 1000, 10_000]
    assert report.growth_exponent(sizes, [3.0 * s for s in sizes]) == 1.0
    assert report.growth_exponent(sizes, [0.5 * s * s for s in sizes]) == 2.0
    assert report.growth_exponent([2, 8], [5.0, 5.0]) == 0.0
    # Non-positive points are dropped; two positive ones are enough.
    assert report.growth_exponent([1, 2, 4], [0.0, 2.0, 4.0]) == 1.0
    assert report.growth_exponent([10], [1.0]) is None
    assert report.growth_exponent([], []) is None
    assert report.growth_exponent([1, 2], [0.0, -1.0]) is None
    assert report.growth_exponent([0, -5], [1.0, 2.0]) is None
    assert report.growth_exponent([5, 5], [1.0, 2.0]) is None  # one size: no slope


def test_table():
    text = report.table(["name", "ms", "n"], [("a", 1.5, None), ("bb", 0.0001, 0)], "l")
    assert text.splitlines() == [
        "| name | ms | n |",
        "| --- | ---: | ---: |",
        "| a | 1.5 | - |",
        "| bb | 1.00e-04 | 0 |",
    ]
    default = report.table(["x", "y"], [(1, 2.0)])
    assert default.splitlines()[1] == "| ---: | ---: |"
    assert default.splitlines()[2] == "| 1 | 2 |"
    assert report.table(["x"], [], "l").splitlines() == ["| x |", "| --- |"]


def test_write_json_markdown_and_pngs(tmp_path):
    def line(ax):
        ax.plot([1, 2, 3], [1, 4, 9])

    def bars(ax):
        ax.bar(["a", "b"], [1, 2])

    out = tmp_path / "nested" / "bench"
    written = report.write(
        out, "ros-latency", {"x": 1, "where": Path("/p")}, "# Title\n\nbody\n\n", {"one": line}
    )
    stem = "ros_latency"
    assert written == [out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}_one.png"]
    data = json.loads((out / f"{stem}.json").read_text())
    assert data["suite"] == "ros-latency" and data["x"] == 1 and data["where"] == "/p"
    assert {"python", "platform", "cpus", "robot_planner", "date"} <= set(data["machine"])
    md = (out / f"{stem}.md").read_text()
    assert md.startswith("# Title\n\nbody")
    assert md.endswith("body\n\n![ros_latency_one](ros_latency_one.png)\n")
    assert _is_png(out / f"{stem}_one.png")

    written = report.write(out, "two-plots", {}, "# T", {"a": line, "b": bars})
    assert [p.name for p in written] == [
        "two_plots.json",
        "two_plots.md",
        "two_plots_a.png",
        "two_plots_b.png",
    ]
    assert all(_is_png(p) for p in written[2:])
    lines = (out / "two_plots.md").read_text().splitlines()
    assert lines[-2:] == ["![two_plots_a](two_plots_a.png)", "![two_plots_b](two_plots_b.png)"]

    written = report.write(out, "bare", {}, "# Only text\n", {})
    assert len(written) == 2 and (out / "bare.md").read_text() == "# Only text\n"


# --- perf -----------------------------------------------------------------------------


def _perf_result(**override: Any) -> dict[str, Any]:
    """A hand-built `perf.measure` result (figures chosen against the targets)."""

    def row(n: int, compile_tick: float, tick: float) -> dict[str, Any]:
        return {
            "tasks": n,
            "dependencies": n,
            "validate_ms": 0.1 * n,
            "compile_ms": 0.2 * n,
            "first_tick_ms": 0.05,
            "compile_and_first_tick_ms": compile_tick,
            "tick_median_ms": tick,
            "tick_p95_ms": 2 * tick,
        }

    result: dict[str, Any] = {
        "planning": {"commands": 3, "latency_ms": {"n": 3, "median": 10.0, "p95": 12, "max": 13}},
        "tree": {
            "rows": [row(100, 25.0, 0.5), row(1_000, 250.0, 4.0)],
            "growth_vs_tasks_plus_dependencies": {
                "validate_ms": 1.0,
                "compile_ms": 1.0,
                "compile_and_first_tick_ms": 1.15,
                "tick_median_ms": None,
            },
        },
        "monitor": {
            "320x240": {"frame_ms": {"n": 2, "median": 5.0, "p95": 6.0, "max": 6.0}},
            "640x480": {"frame_ms": {"n": 2, "median": 16.0, "p95": 17.0, "max": 17.0}},
        },
        "sim": {
            "sim_seconds": 1.0,
            "camera_hz": 15.0,
            "without_camera": {"real_time_factor": 12.0, "steps_per_s": 2880, "frames": 0},
            "with_camera": {"real_time_factor": 4.0, "steps_per_s": 960, "frames": 15},
            "camera_fps_320x240": 90.0,
            "camera_fps_640x480": 30.0,
        },
        "dds": {
            "commands": 2,
            "accepted_ms": {"n": 2, "median": 3.0, "p95": 4.0, "max": 4.0},
            "first_motion_ms": {"n": 2, "median": 600.0, "p95": 700.0, "max": 700.0},
        },
    }
    result.update(override)
    return result


def _by_key(targets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert [t["key"] for t in targets] == TARGET_KEYS
    return {t["key"]: t for t in targets}


def test_check_targets_met_not_met_and_missing():
    targets = _by_key(perf.check_targets(_perf_result()))
    measured = {k: t["measured"] for k, t in targets.items()}
    assert measured == {
        "plan_median_ms": 10.0,
        "plan_p95_ms": 12,
        "compile_first_tick_1000_ms": 250.0,
        "compile_growth": 1.15,
        "tick_1000_ms": 4.0,
        "geometric_640_ms": 16.0,
        "sim_rtf_no_camera": 12.0,
        "first_motion_ms": 600.0,
    }
    assert {k: t["met"] for k, t in targets.items()} == {
        "plan_median_ms": True,
        "plan_p95_ms": True,
        "compile_first_tick_1000_ms": False,  # 250 > 200
        "compile_growth": True,  # exactly on the limit counts as met
        "tick_1000_ms": True,
        "geometric_640_ms": False,
        "sim_rtf_no_camera": True,  # higher is better: 12 >= 10
        "first_motion_ms": False,
    }
    assert targets["sim_rtf_no_camera"]["lower_is_better"] is False
    assert (
        targets["plan_median_ms"]["target"] == 50.0 and targets["plan_median_ms"]["unit"] == "ms"
    )


def test_check_targets_higher_is_better_and_unmeasured():
    slow = _perf_result()
    slow["sim"]["without_camera"]["real_time_factor"] = 9.5
    assert _by_key(perf.check_targets(slow))["sim_rtf_no_camera"]["met"] is False
    slow["sim"]["without_camera"]["real_time_factor"] = 10.0
    assert _by_key(perf.check_targets(slow))["sim_rtf_no_camera"]["met"] is True

    no_dds = _perf_result()
    del no_dds["dds"]
    # no 1,000-task row either: those two figures are not measured, not failed
    no_dds["tree"]["rows"] = no_dds["tree"]["rows"][:1]
    targets = _by_key(perf.check_targets(no_dds))
    for key in ("first_motion_ms", "compile_first_tick_1000_ms", "tick_1000_ms"):
        assert targets[key]["measured"] is None and targets[key]["met"] is None
    assert targets["plan_median_ms"]["met"] is True
    assert _by_key(perf.check_targets(_perf_result(dds={})))["first_motion_ms"]["met"] is None


def test_markdown_and_plots(tmp_path):
    result = _perf_result()
    result["targets"] = perf.check_targets(result)
    text = perf.markdown(result)
    assert "## Targets" in text
    assert "| figure | target | measured | met |\n| --- | ---: | ---: | --- |" in text
    assert "| offline plan, tabletop commands (median) | ≤ 50 ms | 10 | yes |" in text
    assert "| offline plan, tabletop commands (p95) | ≤ 150 ms | 12 | yes |" in text
    assert "| compile + first tick, 1,000 tasks | ≤ 200 ms | 250 | **no** |" in text
    assert "| headless simulation, no cameras (x real time) | ≥ 10 x | 12 | yes |" in text
    assert "| command to first motion over DDS (median) | ≤ 500 ms | 600 | **no** |" in text
    growth = next(line for line in text.splitlines() if line.startswith("Growth exponents"))
    assert "compile_and_first_tick_ms 1.15" in growth and "validate_ms 1.0" in growth
    assert "| 1000 | 1000 | 100 | 200 | 0.05 | 250 | 4 | 8 |" in text
    assert "## Over DDS (2 commands" in text
    assert "| command -> first joint motion | 2 | 600 | 700 | 700 |" in text

    without = _perf_result()
    del without["dds"]
    without["targets"] = perf.check_targets(without)
    text = perf.markdown(without)
    assert "Over DDS" not in text
    assert "| command to first motion over DDS (median) | ≤ 500 ms | - | not measured |" in text

    written = report.write(tmp_path, "perf", without, text, perf.plots(without))
    assert [p.name for p in written[2:]] == ["perf_growth.png", "perf_targets.png"]
    assert all(_is_png(p) for p in written[2:])


def test_planning_covers_every_command_with_a_goal(catalogue, scene):
    result = perf.planning(catalogue, scene, repeat=1)
    expected = sum(1 for _, _, goal in COMMANDS if goal is not None)
    assert expected < len(COMMANDS)  # the table has refusals, which are not timed
    assert result["commands"] == expected
    latency = result["latency_ms"]
    assert latency["n"] == expected
    assert 0 < latency["median"] <= latency["p95"] <= latency["max"]


def test_tree_rows_and_growth(catalogue, scene):
    stages: list[str] = []
    result = perf.tree(catalogue, scene, sizes=(5, 20), progress=stages.append)
    assert stages == ["tree 5 tasks", "tree 20 tasks"]
    rows = result["rows"]
    assert [r["tasks"] for r in rows] == [5, 20]
    assert all(r["outcome"] == "succeeded" for r in rows)
    assert rows[1]["dependencies"] > rows[0]["dependencies"]
    growth = result["growth_vs_tasks_plus_dependencies"]
    assert set(growth) == {
        "validate_ms",
        "compile_ms",
        "compile_and_first_tick_ms",
        "tick_median_ms",
    }
    assert all(v is None or isinstance(v, float) for v in growth.values())
    assert isinstance(growth["compile_and_first_tick_ms"], float)


def test_measure_without_dds(measured):
    result, stages = measured["result"], measured["stages"]
    assert set(result) == {"planning", "tree", "monitor", "sim", "targets"}
    assert "dds" not in result
    assert result["planning"]["commands"] == measured["commands"]
    assert [r["tasks"] for r in result["tree"]["rows"]] == [5, 10]
    assert set(result["monitor"]) == {"320x240", "640x480"}
    assert result["monitor"]["640x480"]["frame_ms"]["n"] == 2
    assert result["sim"]["sim_seconds"] == 1
    assert result["sim"]["without_camera"]["real_time_factor"] > 0
    assert stages[0] == "offline planning" and "simulation speed" in stages
    assert not any("DDS" in s for s in stages)
    targets = _by_key(result["targets"])
    assert targets["first_motion_ms"]["measured"] is None
    assert targets["first_motion_ms"]["met"] is None
    assert targets["compile_first_tick_1000_ms"]["met"] is None  # no 1,000-task row
    for key in ("plan_median_ms", "geometric_640_ms", "sim_rtf_no_camera"):
        assert targets[key]["measured"] > 0 and targets[key]["met"] in (True, False)
    text = perf.markdown(result)
    assert "| command to first motion over DDS (median) | ≤ 500 ms | - | not measured |" in text


# --- tasks: the table and its plans ----------------------------------------------------


def test_task_table():
    commands = [cmd for _, cmd, _ in tasks.TASKS]
    assert len(commands) >= 40
    assert len(set(commands)) == len(commands)
    per_level = Counter(level for level, _, _ in tasks.TASKS)
    assert set(per_level) == set(tasks.LEVELS)
    assert all(n >= 13 for n in per_level.values()), per_level
    for level, command, goal in tasks.TASKS:
        assert goal and all(isinstance(f, str) for f in goal), command
        if level == "L2":
            assert len(goal) >= 2, command  # several goals with an ordering


@pytest.mark.parametrize(
    ("level", "command", "goal"),
    tasks.TASKS,
    ids=[f"{lv}:{cmd[:40]}" for lv, cmd, _ in tasks.TASKS],
)
def test_every_task_plans_to_its_goal(offline, scene, level, command, goal):
    plan_ = offline.plan(PlanRequest(command, scene.initial_facts())).plan
    assert goal <= set(plan_.goal)
    shape = tasks.shape(plan_)
    if level == "L1":
        assert len(shape["robots"]) == 1, shape
    elif level == "L3":
        assert shape["robots"] == ["left_arm", "right_arm"], shape
        assert shape["cross_robot_dependencies"] >= 1 or shape["max_parallel"] >= 2, shape


def test_shape_of_a_hand_built_plan():
    built = TaskPlan.model_validate(
        plan(
            task("a", "pick", "left_arm", object="red_block"),
            task("b", "place", "left_arm", ("a",), object="red_block", target="center_zone"),
            task("c", "pick", "right_arm", ("b",), object="red_block"),
            task("d", "pick", "left_arm", ("b",), object="green_block"),
        )
    )
    assert tasks.shape(built) == {
        "robots": ["left_arm", "right_arm"],
        "tasks": 4,
        "cross_robot_dependencies": 1,
        "max_parallel": 2,
    }


def _check_serialised(original: TaskPlan, serial: TaskPlan, catalogue, scene) -> None:
    assert validate_plan(serial, catalogue, scene).ok
    assert serial.command == original.command and serial.goal == original.goal
    before = {t.id: t for t in original.tasks}
    after = {t.id: t for t in serial.tasks}
    assert set(after) == set(before) and len(serial.tasks) == len(original.tasks)
    for tid, t in after.items():
        old = before[tid]
        assert (t.skill, t.robot, t.args, t.constraints) == (
            old.skill,
            old.robot,
            old.args,
            old.constraints,
        )
        assert set(old.depends_on) <= set(t.depends_on)
    order = [t.id for t in serial.tasks]
    position = {tid: i for i, tid in enumerate(order)}
    # the listed order is a topological order of the original DAG ...
    assert all(position[d] < position[t.id] for t in original.tasks for d in t.depends_on)
    # ... and each task waits for the one before it, and for nothing new besides
    assert after[order[0]].depends_on == before[order[0]].depends_on
    for previous, current in itertools.pairwise(order):
        assert previous in after[current].depends_on
        assert set(after[current].depends_on) - set(before[current].depends_on) <= {previous}
    assert tasks.shape(serial)["max_parallel"] == 1


@pytest.mark.parametrize("command", [PARALLEL, TOWER, L1_FIRST])
def test_serialise_planner_output(offline, catalogue, scene, command):
    original = offline.plan(PlanRequest(command, scene.initial_facts())).plan
    serial = tasks.serialise(original)
    _check_serialised(original, serial, catalogue, scene)
    if command == PARALLEL:
        assert tasks.shape(original)["max_parallel"] >= 2  # there were branches to join


def test_serialise_parallel_branches_hand_built(catalogue, scene):
    built = TaskPlan.model_validate(
        plan(
            task("t3", "pick", "right_arm", object="blue_block"),
            task("t1", "pick", "left_arm", object="red_block"),
            task("t4", "place", "right_arm", ("t3",), object="blue_block", target="right_bin"),
            task("t2", "place", "left_arm", ("t1",), object="red_block", target="left_bin"),
            goal=("in(red_block,left_bin)", "in(blue_block,right_bin)"),
        )
    )
    assert validate_plan(built, catalogue, scene).ok
    assert tasks.shape(built)["max_parallel"] == 2
    serial = tasks.serialise(built)
    _check_serialised(built, serial, catalogue, scene)
    assert [t.id for t in serial.tasks] == ["t1", "t2", "t3", "t4"]  # ties broken by id
    assert built.task("t1").depends_on == []  # the input is not modified


class _Inner:
    name = "fake"

    def __init__(self, first: TaskPlan, second: TaskPlan):
        self.first, self.second, self.calls = first, second, []

    def plan(self, request: PlanRequest) -> PlanResult:
        self.calls.append("plan")
        return PlanResult(self.first, self.name)

    def replan(self, request: PlanRequest) -> PlanResult:
        self.calls.append("replan")
        return PlanResult(self.second, self.name, attempts=2)


def test_serial_planner_serialises_plans_and_replans(offline, catalogue, scene):
    state = scene.initial_facts()
    first = offline.plan(PlanRequest(PARALLEL, state)).plan
    second = offline.plan(PlanRequest(TOWER, state)).plan
    inner = _Inner(first, second)
    serial = tasks.SerialPlanner(inner)
    assert serial.name == "fake+serial"

    planned = serial.plan(PlanRequest(PARALLEL, state))
    assert inner.calls == ["plan"]
    _check_serialised(first, planned.plan, catalogue, scene)

    replanned = serial.replan(PlanRequest(TOWER, state, evidence="dropped"))
    assert inner.calls == ["plan", "replan"]
    assert replanned.attempts == 2  # the rest of the result is passed through
    _check_serialised(second, replanned.plan, catalogue, scene)

    real = tasks.SerialPlanner(offline)
    assert real.name == "offline+serial"
    assert tasks.shape(real.plan(PlanRequest(PARALLEL, state)).plan)["max_parallel"] == 1


# --- tasks: arithmetic on hand-built data ---------------------------------------------


def test_busy_time():
    def ev(kind: str, tid: str, t: float, plan_id: str = "p1") -> dict[str, Any]:
        return {"event": kind, "plan": plan_id, "task": tid, "time": t}

    events = [
        {"event": "plan_started", "time": 0.0},
        ev("task_started", "a", 0.0),
        ev("task_started", "b", 1.0),  # overlaps a: both count in full
        ev("task_started", "a", 2.0, "p2"),  # same id in a re-plan is another task
        ev("task_succeeded", "a", 3.0),
        ev("task_cancelled", "a", 4.25, "p2"),
        ev("task_failed", "b", 4.5),
        ev("task_started", "c", 5.0),  # never ends: ignored
        ev("task_succeeded", "z", 5.5),  # ended without a start: ignored
        {"event": "plan_failed", "time": 6.0},
    ]
    assert tasks._busy_time(events) == pytest.approx(3.0 + 3.5 + 2.25)
    assert tasks._busy_time([]) == 0.0
    assert tasks._busy_time([ev("task_started", "a", 1.0)]) == 0.0


def _row(level: str, command: str, serial: bool, met: bool, makespan: float, **extra: Any):
    return {
        "level": level,
        "command": command,
        "serial": serial,
        "goal_met": met,
        "makespan_s": makespan,
        **extra,
    }


def test_summarise():
    rows = [
        _row(
            "L1",
            "a",
            False,
            True,
            10.0,
            parallelism=0.9,
            tasks=2,
            cross_robot_dependencies=0,
            lower_bound_s=8.0,
            over_bound=1.25,
        ),
        _row("L1", "a", True, True, 10.0),
        _row("L1", "b", False, True, 5.0, parallelism=0.7, tasks=2, cross_robot_dependencies=0),
        _row("L1", "b", True, False, 20.0),  # baseline missed the goal: no speed-up
        _row("L1", "c", False, False, 30.0, tasks=4, cross_robot_dependencies=0),
        _row("L1", "c", True, True, 40.0),  # ours missed the goal: no speed-up
        _row("L3", "d", False, True, 10.0, parallelism=1.6, tasks=4, cross_robot_dependencies=1),
        _row("L3", "d", True, True, 18.0),
        _row("L3", "e", False, True, 20.0, parallelism=1.2, tasks=8, cross_robot_dependencies=2),
        _row("L3", "e", True, True, 30.0),
        _row("L2", "f", False, True, 8.0, tasks=4, cross_robot_dependencies=0),
    ]
    summary = tasks.summarise(rows)
    assert list(summary) == ["L1", "L2", "L3"]
    l1, l2, l3 = summary["L1"], summary["L2"], summary["L3"]
    assert l1["commands"] == 3 and l1["success"] == round(2 / 3, 4)
    assert l1["makespan_s"] == 7.5  # successful runs only
    assert l1["speedup"] == 1.0  # only "a" had both runs meet the goal
    assert l1["baseline_success"] == round(2 / 3, 4)
    assert l1["parallelism"] == 0.8
    assert l1["tasks"] == round(8 / 3, 3)
    assert l3["success"] == 1.0 and l3["speedup"] == pytest.approx((1.8 + 1.5) / 2, abs=1e-3)
    assert l3["makespan_s"] == 15.0 and l3["baseline_makespan_s"] == 24.0
    assert l3["cross_robot_dependencies"] == 1.5
    assert l2["speedup"] is None and l2["baseline_success"] is None
    assert l2["baseline_makespan_s"] is None and l2["parallelism"] is None
    assert tasks.summarise([]) == {}


def test_tasks_markdown_and_plots(tmp_path):
    rows = [
        _row(
            "L1",
            "a",
            False,
            True,
            10.0,
            parallelism=0.9,
            tasks=2,
            cross_robot_dependencies=0,
            lower_bound_s=8.0,
            over_bound=1.25,
        ),
        _row("L1", "a", True, True, 11.0),
        _row(
            "L3",
            "d",
            False,
            False,
            12.0,
            outcome="failed",
            reason="dropped",
            tasks=4,
            cross_robot_dependencies=1,
        ),
    ]
    result = {"scene": "tabletop", "seed": 3, "monitor": "off", "rows": rows}
    result["levels"] = tasks.summarise(rows)
    text = tasks.markdown(result)
    assert "Scene tabletop, seed 3, monitor off" in text
    assert "| L1 | 1 | 100% | 10 | 0.9 | 8 | 1.25 | 11 | 1.1 | 2 | 0 |" in text
    assert "| L3 | 1 | 0% | - |" in text
    assert "* L3 `d`: failed: dropped" in text
    written = report.write(tmp_path, "tasks", result, text, tasks.plots(result))
    assert [p.name for p in written[2:]] == ["tasks_makespan.png", "tasks_parallelism.png"]
    assert all(_is_png(p) for p in written[2:])


# --- tasks: one real command, planned and serialised, in PyBullet ---------------------


def test_bench_tasks_one_l1_command(tasks_run):
    rows = tasks_run["rows"]
    assert tasks_run["_progress"] == [(1, 2), (2, 2)]
    assert [(r["command"], r["serial"]) for r in rows] == [(L1_FIRST, False), (L1_FIRST, True)]
    goal = sorted(next(g for _, c, g in tasks.TASKS if c == L1_FIRST))
    for row in rows:
        assert row["level"] == "L1" and row["goal"] == goal
        assert row["goal_met"] is True, row.get("reason")
        assert row["success"] is True
        assert row["makespan_s"] > 0
        assert len(row["robots"]) == 1 and row["max_parallel"] == 1
        assert 0 < row["busy_s"] <= row["makespan_s"] + 1e-3  # one arm: no overlap
    normal, serial = rows
    assert serial["makespan_s"] == pytest.approx(normal["makespan_s"], rel=0.10)
    level = tasks_run["levels"]["L1"]
    assert level["commands"] == 1 and level["success"] == 1.0
    assert level["baseline_success"] == 1.0
    assert level["speedup"] == pytest.approx(1.0, rel=0.10)


# --- CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["bench", "tasks", "--workers", "0"], "--workers"),
        (["bench", "tasks", "--workers", "65"], "--workers"),
        (["bench", "tasks", "--limit", "0"], "--limit"),
        (["bench", "tasks", "--scene", "moonbase"], "unknown scene 'moonbase'"),
        (["bench", "perf", "--sizes", "0"], "--sizes"),
        (["bench", "perf", "--sizes", "5", "100001"], "--sizes"),
        (["bench", "perf", "--dds-commands", "-1"], "--dds-commands"),
        (["bench", "perf", "--sim-seconds", "0.5"], "--sim-seconds"),
    ],
)
def test_bench_bad_input_exit_2(argv, fragment, tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("bad input must be refused before any measuring")

    monkeypatch.setattr(perf, "measure", refuse)
    monkeypatch.setattr(tasks, "bench_tasks", refuse)
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert _one_error_line(captured.err), captured.err
    assert fragment in captured.err
    assert captured.out == "" and not out.exists()


def test_cli_bench_tasks_writes_report(tasks_run, tmp_path, capsys, monkeypatch):
    """The real command end to end, with the episode replayed from `tasks_run` (the
    PyBullet run itself is covered above)."""
    jobs: list[tuple] = []
    recorded = {(r["command"], r["serial"]): r for r in tasks_run["rows"]}

    def replay(job):
        jobs.append(job)
        row = copy.deepcopy(recorded[(job[2], job[4])])
        return {k: v for k, v in row.items() if k not in ("goal", "goal_met")}

    monkeypatch.setattr(tasks, "_episode", replay)
    out = tmp_path / "bench"
    argv = ["bench", "tasks", "--levels", "L1", "--limit", "1", "--no-baseline"]
    assert main([*argv, "--out", str(out)]) == 0
    assert jobs == [("tabletop", "L1", L1_FIRST, 0, False, "off")]
    stdout = capsys.readouterr().out
    assert "# End-to-end tasks" in stdout and "| L1 | 1 | 100% |" in stdout
    assert stdout.rstrip().splitlines()[-1].startswith("written: ")
    names = {"tasks.json", "tasks.md", "tasks_makespan.png", "tasks_parallelism.png"}
    assert {p.name for p in out.iterdir()} == names
    data = json.loads((out / "tasks.json").read_text())
    assert data["suite"] == "tasks" and "machine" in data
    assert [(r["command"], r["serial"], r["goal_met"]) for r in data["rows"]] == [
        (L1_FIRST, False, True)
    ]
    assert data["levels"]["L1"]["speedup"] is None  # no baseline run
    assert (out / "tasks.md").read_text().endswith("(tasks_parallelism.png)\n")
    assert _is_png(out / "tasks_makespan.png") and _is_png(out / "tasks_parallelism.png")


def test_cli_bench_perf_json(measured, tmp_path, capsys, monkeypatch):
    """The real command end to end, with the measuring replayed from `measured` (the
    measuring itself is covered above)."""
    calls: list[dict[str, Any]] = []

    def replay(catalogue, scene, **kwargs):
        calls.append(kwargs)
        kwargs["progress"]("replayed")
        return copy.deepcopy(measured["result"])

    monkeypatch.setattr(perf, "measure", replay)
    out = tmp_path / "bench"
    argv = ["bench", "perf", "--sizes", "10", "5", "10", "--sim-seconds", "1"]
    assert main([*argv, "--dds-commands", "0", "--out", str(out), "--json"]) == 0
    assert len(calls) == 1
    assert calls[0]["sizes"] == [5, 10]  # sorted, duplicates dropped
    assert calls[0]["sim_seconds"] == 1.0 and calls[0]["dds_commands"] == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["key"] for t in data["targets"]] == TARGET_KEYS
    assert "dds" not in data
    names = {"perf.json", "perf.md", "perf_growth.png", "perf_targets.png"}
    assert {p.name for p in out.iterdir()} == names
    assert json.loads((out / "perf.json").read_text())["suite"] == "perf"
    assert _is_png(out / "perf_growth.png") and _is_png(out / "perf_targets.png")
    md = (out / "perf.md").read_text()
    assert "## Targets" in md and md.endswith("(perf_targets.png)\n")


# --- bench planning ----------------------------------------------------------------------


def test_bench_planning_reports_latency_parity_and_targets(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "planning", "--repeat", "1", "--no-synthetic", "--out", str(out)]) == 0
    result = json.loads((out / "planning.json").read_text())
    latency = result["latency"][0]
    assert latency["engine"] == "builtin" and latency["planned"] == latency["commands"] > 80
    assert latency["failed"] == []
    parity = result["parity"]
    # The general planner reaches every bench goal and is never slower than the baseline.
    assert parity["general_goal"] == parity["commands"] == len(tasks.TASKS)
    assert parity["worse"] == 0
    assert [t["what"] for t in result["targets"]][:2] == ["plan median (ms)", "plan p95 (ms)"]
    assert "| plan median (ms) | <= 50 |" in (out / "planning.md").read_text()
    assert main(["bench", "planning", "--repeat", "0"]) == 2
    assert "--repeat must be between 1 and 20" in capsys.readouterr().err


def test_lower_bound_is_the_longer_of_critical_path_and_busiest_robot():
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="center_zone"),
        task("t3", "pick", "right_arm", ("t2",), object="red_block"),
        task("t4", "pick", "left_arm", object="green_block"),
    )
    durations = {"t1": 3.0, "t2": 2.0, "t3": 4.0, "t4": 1.5}
    events = []
    for task_id, seconds in durations.items():
        events.append({"event": "task_started", "task": task_id, "time": 10.0})
        events.append({"event": "task_succeeded", "task": task_id, "time": 10.0 + seconds})
    bound = tasks.lower_bound(TaskPlan.model_validate(data), events)
    # Critical path t1 -> t2 -> t3 = 9 s; busiest robot: left arm 3 + 2 + 1.5 = 6.5 s.
    assert bound == {"critical_path_s": 9.0, "busiest_robot_s": 6.5, "lower_bound_s": 9.0}
    assert tasks.lower_bound(TaskPlan.model_validate(data), events[:-1]) is None
    assert (
        tasks.lower_bound(TaskPlan.model_validate(data), [*events, {"event": "replanned"}]) is None
    )
