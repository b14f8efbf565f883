"""`robot-planner bench tasks`: end-to-end commands in DART-LLM's three levels.

Each command is planned by the offline planner and executed in PyBullet on its scene
(the tabletop's commands are below; the logistics cell's in `tasks_logistics`), and its
goal facts are checked against the simulator. Levels, after DART-LLM:

* L1 — one robot, one goal.
* L2 — several goals with an ordering (sequences, stacks, lists), one robot at a time.
* L3 — both arms with cross-robot dependencies: hand-overs through the centre zone and
  parallel work that must join.

Every command also runs a second time with its plan serialised (one task at a time, in
a dependency order: a one-arm-at-a-time baseline). Reported per level: success, mean
makespan (simulated seconds), parallelism ratio (sum of task durations / makespan) and
speed-up over the baseline.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from robot_planner.bench.report import table
from robot_planner.plan.graph import execution_order
from robot_planner.plan.model import TaskPlan
from robot_planner.planning.base import PlanRequest, PlanResult
from robot_planner.planning.offline import OfflinePlanner

R, G, B, Y = "red_block", "green_block", "blue_block", "yellow_block"

#: (level, command, goal facts that must hold at the end)
TASKS: list[tuple[str, str, set[str]]] = [
    # L1: one robot, one goal (each block starts on its arm's side)
    ("L1", "put the red block in the left bin", {f"in({R},left_bin)"}),
    ("L1", "put the green block in the left bin", {f"in({G},left_bin)"}),
    ("L1", "put the blue block in the right bin", {f"in({B},right_bin)"}),
    ("L1", "put the yellow block in the right bin", {f"in({Y},right_bin)"}),
    ("L1", "put the red block on the green block", {f"on({R},{G})"}),
    ("L1", "stack the green block on the red block", {f"on({G},{R})"}),
    ("L1", "put the blue block on the yellow block", {f"on({B},{Y})"}),
    ("L1", "place the yellow cube on the blue cube", {f"on({Y},{B})"}),
    ("L1", "move the red block to the center zone", {f"at({R},center_zone)"}),
    ("L1", "move the blue block to the middle", {f"at({B},center_zone)"}),
    ("L1", "put the green block in the center zone", {f"at({G},center_zone)"}),
    ("L1", "move the yellow block to the centre of the table", {f"at({Y},center_zone)"}),
    ("L1", "left arm, put the green block in the left bin", {f"in({G},left_bin)"}),
    ("L1", "use the right arm to put the yellow block in the right bin", {f"in({Y},right_bin)"}),
    # L2: several goals with an ordering
    (
        "L2",
        "first put the red block in the left bin, then put the green block in the left bin",
        {f"in({R},left_bin)", f"in({G},left_bin)"},
    ),
    (
        "L2",
        "put the blue block in the right bin, then put the yellow block in the right bin",
        {f"in({B},right_bin)", f"in({Y},right_bin)"},
    ),
    (
        "L2",
        "put the red block in the center zone, then put the green block on the red block",
        {f"at({R},center_zone)", f"on({G},{R})"},
    ),
    (
        "L2",
        "move the blue block to the center zone, then place the yellow block on the blue block",
        {f"at({B},center_zone)", f"on({Y},{B})"},
    ),
    (
        "L2",
        "put the red and green blocks in the left bin",
        {f"in({R},left_bin)", f"in({G},left_bin)"},
    ),
    (
        "L2",
        "put the blue and yellow blocks in the right bin",
        {f"in({B},right_bin)", f"in({Y},right_bin)"},
    ),
    (
        "L2",
        "build a tower in the center zone with the red block at the bottom then the green block",
        {f"at({R},center_zone)", f"on({G},{R})"},
    ),
    (
        "L2",
        "after the blue block is in the right bin, put the yellow block in the right bin",
        {f"in({B},right_bin)", f"in({Y},right_bin)"},
    ),
    (
        "L2",
        "put the green block in the left bin; then put the red block in the center zone",
        {f"in({G},left_bin)", f"at({R},center_zone)"},
    ),
    (
        "L2",
        "put the yellow block in the center zone and afterwards put the blue block "
        "in the right bin",
        {f"at({Y},center_zone)", f"in({B},right_bin)"},
    ),
    (
        "L2",
        "put the red block in the left bin, then put the green block in the center zone",
        {f"in({R},left_bin)", f"at({G},center_zone)"},
    ),
    (
        "L2",
        "move the yellow block to the center zone, then put the blue block on the yellow block",
        {f"at({Y},center_zone)", f"on({B},{Y})"},
    ),
    (
        "L2",
        "put the red block in the center zone, then put the green block in the left bin",
        {f"at({R},center_zone)", f"in({G},left_bin)"},
    ),
    # L3: both arms, cross-robot dependencies (hand-overs, parallel work that joins)
    ("L3", "put the green block on the blue block", {f"on({G},{B})"}),
    ("L3", "put the red block in the right bin", {f"in({R},right_bin)"}),
    ("L3", "put the yellow block in the left bin", {f"in({Y},left_bin)"}),
    ("L3", "put the blue block in the left bin", {f"in({B},left_bin)"}),
    ("L3", "put the red block on the yellow block", {f"on({R},{Y})"}),
    ("L3", "stack the blue block on the red block", {f"on({B},{R})"}),
    (
        "L3",
        "put the red block in the left bin while the right arm puts the blue block "
        "in the right bin",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "L3",
        "put the red block in the left bin and the blue block in the right bin at the same time",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "L3",
        "left arm puts green in the left bin, meanwhile right arm puts yellow on blue",
        {f"in({G},left_bin)", f"on({Y},{B})"},
    ),
    (
        "L3",
        "red and green go in the left bin, blue and yellow in the right bin",
        {f"in({R},left_bin)", f"in({G},left_bin)", f"in({B},right_bin)", f"in({Y},right_bin)"},
    ),
    (
        "L3",
        "put the red block in the left bin, then put the blue block in the right bin",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "L3",
        "once the red block is in the left bin, put the blue block in the right bin",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "L3",
        "put the red block and the blue block in the center zone",
        {f"at({R},center_zone)", f"at({B},center_zone)"},
    ),
    (
        "L3",
        "build a tower in the center zone with the yellow block at the bottom, then the "
        "blue block, then the red block on top",
        {f"at({Y},center_zone)", f"on({B},{Y})", f"on({R},{B})"},
    ),
    (
        "L3",
        "stack blue on yellow then move the red block to the center zone",
        {f"on({B},{Y})", f"at({R},center_zone)"},
    ),
    (
        "L3",
        "put the green block in the right bin and the yellow block in the left bin",
        {f"in({G},right_bin)", f"in({Y},left_bin)"},
    ),
]
LEVELS = ("L1", "L2", "L3")
ENDS = ("task_succeeded", "task_failed", "task_cancelled")


def serialise(plan: TaskPlan) -> TaskPlan:
    """The same tasks, one at a time: each depends on the one before it in a
    topological order (ties broken by task id), so no two ever run together."""
    graph = nx.DiGraph()
    graph.add_nodes_from(t.id for t in plan.tasks)
    graph.add_edges_from((d, t.id) for t in plan.tasks for d in t.depends_on)
    order = list(nx.lexicographical_topological_sort(graph))
    by_id = {t.id: t for t in plan.tasks}
    tasks = []
    for previous, current in zip([None, *order], order, strict=False):
        task = by_id[current]
        depends = list(task.depends_on)
        if previous is not None and previous not in depends:
            depends.append(previous)
        tasks.append(task.model_copy(update={"depends_on": depends}))
    return plan.model_copy(update={"tasks": tasks})


class SerialPlanner:
    """Wraps a planner so every plan (and re-plan) it gives runs one task at a time."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.name = f"{inner.name}+serial"

    def _serial(self, result: PlanResult) -> PlanResult:
        result.plan = serialise(result.plan)
        return result

    def plan(self, request: PlanRequest) -> PlanResult:
        return self._serial(self.inner.plan(request))

    def replan(self, request: PlanRequest) -> PlanResult:
        return self._serial(self.inner.replan(request))


def shape(plan: TaskPlan) -> dict[str, Any]:
    """What kind of plan it is: robots used, tasks, dependencies across robots, and the
    most tasks that can run at once (width of the DAG's antichains by level)."""
    robot_of = {t.id: t.robot for t in plan.tasks}
    cross = sum(1 for t in plan.tasks for d in t.depends_on if robot_of[d] != t.robot)
    graph = nx.DiGraph()
    graph.add_nodes_from(robot_of)
    graph.add_edges_from((d, t.id) for t in plan.tasks for d in t.depends_on)
    generations = [len(g) for g in nx.topological_generations(graph)]
    return {
        "robots": sorted(set(robot_of.values())),
        "tasks": len(plan.tasks),
        "cross_robot_dependencies": cross,
        "max_parallel": max(generations, default=0),
    }


def _busy_time(events: Sequence[dict[str, Any]]) -> float:
    """Sum of task durations (simulated s) from a run's events."""
    started: dict[str, float] = {}
    total = 0.0
    for event in events:
        key = f"{event.get('plan', '')}/{event.get('task')}"
        if event.get("event") == "task_started":
            started[key] = float(event["time"])
        elif event.get("event") in ENDS and key in started:
            total += float(event["time"]) - started.pop(key)
    return total


def lower_bound(plan: TaskPlan, events: Sequence[dict[str, Any]]) -> dict[str, float] | None:
    """The shortest the run could have been with its own task durations: the longer of
    the plan's critical path (dependencies) and the busiest robot's total work. None when
    the run re-planned or a task has no measured duration."""
    if any(e.get("event") == "replanned" for e in events):
        return None
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    for event in events:
        task = event.get("task")
        if event.get("event") == "task_started":
            started[task] = float(event["time"])
        elif event.get("event") in ENDS and task in started:
            took[task] = float(event["time"]) - started[task]
    if any(t.id not in took for t in plan.tasks):
        return None
    finish: dict[str, float] = {}
    for task_id in execution_order(plan):
        task = next(t for t in plan.tasks if t.id == task_id)
        finish[task_id] = took[task_id] + max((finish[d] for d in task.depends_on), default=0.0)
    per_robot: dict[str, float] = {}
    for task in plan.tasks:
        per_robot[task.robot] = per_robot.get(task.robot, 0.0) + took[task.id]
    critical = max(finish.values(), default=0.0)
    busiest = max(per_robot.values(), default=0.0)
    return {
        "critical_path_s": round(critical, 3),
        "busiest_robot_s": round(busiest, 3),
        "lower_bound_s": round(max(critical, busiest), 3),
    }


def _episode(job: tuple[str, str, str, int, bool, str]) -> dict[str, Any]:
    """One command in one fresh simulated world (runs in a worker process)."""
    from robot_planner.episode import EpisodeConfig, run_episode
    from robot_planner.planning.base import PlanningError
    from robot_planner.world.scene import load_scene

    scene_name, level, command, seed, serial, monitor = job
    scene = load_scene(scene_name)
    catalogue = scene.domain.catalogue
    planner: Any = OfflinePlanner(catalogue, scene)
    if serial:
        planner = SerialPlanner(planner)
    row: dict[str, Any] = {"level": level, "command": command, "serial": serial, "seed": seed}
    try:
        report = run_episode(
            EpisodeConfig(command=command, seed=seed, monitor=monitor), catalogue, scene, planner
        )
    except PlanningError as exc:
        return {**row, "success": False, "outcome": "not planned", "reason": str(exc)}
    plan = TaskPlan.model_validate(report["plan"])
    busy = _busy_time(report["events"])
    makespan = report["sim_time_s"]
    bound = lower_bound(plan, report["events"])
    # Scored against the simulator's ground truth (the benchmark's measure); the system's
    # own verdict is kept beside it.
    truth = report["ground_truth"]
    return {
        **row,
        "success": truth["goal_holds"],
        "system_success": report["success"],
        "outcome": report["outcome"],
        "reason": report["reason"],
        "final_facts": truth["facts"],
        "makespan_s": makespan,
        "busy_s": round(busy, 3),
        "parallelism": round(busy / makespan, 3) if makespan > 0 else None,
        **(bound or {}),
        "over_bound": (
            round(makespan / bound["lower_bound_s"], 3)
            if bound and bound["lower_bound_s"] > 0
            else None
        ),
        "wall_s": report["wall_time_s"],
        "replans": report["replans"],
        **shape(plan),
    }


def task_set(scene: str) -> list[tuple[str, str, set[str]]]:
    """The suite's commands for a scene (each world has its own words and goals).

    Raises:
        ValueError: no task set for that scene (one line, with the known ones).
    """
    from robot_planner.bench import tasks_logistics

    sets = {"tabletop": TASKS, "logistics": tasks_logistics.TASKS}
    name = Path(scene).stem
    if name not in sets:
        raise ValueError(f"no task set for scene '{scene}' (known: {', '.join(sorted(sets))})")
    return sets[name]


def _goal_ok(row: dict[str, Any], goal: set[str]) -> bool:
    return bool(row.get("final_facts")) and goal <= set(row["final_facts"])


def bench_tasks(
    scene: str = "tabletop",
    *,
    levels: Sequence[str] = LEVELS,
    limit: int | None = None,
    seed: int = 0,
    workers: int = 1,
    baseline: bool = True,
    monitor: str = "off",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the suite (optionally only some levels, or the first `limit` per level)."""
    from robot_planner.bench.sim import run_jobs

    suite = task_set(scene)
    chosen: list[tuple[str, str, set[str]]] = []
    for level in levels:
        entries = [t for t in suite if t[0] == level]
        chosen += entries if limit is None else entries[:limit]
    jobs = [(scene, lv, cmd, seed, False, monitor) for lv, cmd, _ in chosen]
    if baseline:
        jobs += [(scene, lv, cmd, seed, True, monitor) for lv, cmd, _ in chosen]
    rows = run_jobs(_episode, jobs, workers, progress)
    goals = {cmd: goal for _, cmd, goal in chosen}
    for row in rows:
        # The suite's goal, not only the planner's reading of the command, must hold.
        row["goal"] = sorted(goals[row["command"]])
        row["goal_met"] = _goal_ok(row, goals[row["command"]])
    return {
        "scene": scene,
        "seed": seed,
        "monitor": monitor,
        "rows": rows,
        "levels": summarise(rows),
    }


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in sorted({r["level"] for r in rows}):
        runs = [r for r in rows if r["level"] == level and not r["serial"]]
        # Baseline runs count only where they met the goal (a failed run's makespan is
        # not the time the job takes).
        serial = {
            r["command"]: r
            for r in rows
            if r["level"] == level and r["serial"] and r.get("goal_met") and "makespan_s" in r
        }
        serial_runs = [r for r in rows if r["level"] == level and r["serial"]]
        done = [r for r in runs if r["goal_met"]]
        # A goal that already held takes no time either way: no speed-up to report.
        speedups = [
            serial[r["command"]]["makespan_s"] / r["makespan_s"]
            for r in done
            if r["command"] in serial and r["makespan_s"] > 0
        ]
        out[level] = {
            "commands": len(runs),
            "success": round(len(done) / len(runs), 4) if runs else None,
            "makespan_s": _mean([r["makespan_s"] for r in done]),
            "parallelism": _mean([r["parallelism"] for r in done if r.get("parallelism")]),
            "lower_bound_s": _mean([r["lower_bound_s"] for r in done if r.get("lower_bound_s")]),
            "over_bound": _mean([r["over_bound"] for r in done if r.get("over_bound")]),
            "baseline_makespan_s": _mean(
                [serial[r["command"]]["makespan_s"] for r in done if r["command"] in serial]
            ),
            "baseline_success": (
                round(sum(bool(s.get("goal_met")) for s in serial_runs) / len(serial_runs), 4)
                if serial_runs
                else None
            ),
            "speedup": _mean(speedups),
            "tasks": _mean([r["tasks"] for r in runs if "tasks" in r]),
            "cross_robot_dependencies": _mean(
                [r["cross_robot_dependencies"] for r in runs if "tasks" in r]
            ),
        }
    return out


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def markdown(result: dict[str, Any]) -> str:
    levels = result["levels"]
    parts = [
        "# End-to-end tasks (`robot-planner bench tasks`)",
        "",
        f"Scene {result['scene']}, seed {result['seed']}, monitor {result['monitor']}, "
        "offline planner, PyBullet. Makespan in simulated seconds; parallelism = sum of "
        "task durations / makespan; lower bound = the longer of the plan's critical path "
        "and the busiest robot's work, with the run's own task durations (makespan / bound "
        "= 1 is the best this plan's tasks allow); baseline = the same plan run one task "
        "at a time.",
        "",
        table(
            [
                "level",
                "commands",
                "success",
                "makespan s",
                "parallelism",
                "lower bound s",
                "makespan / bound",
                "baseline makespan s",
                "speed-up",
                "tasks",
                "cross-robot deps",
            ],
            [
                (
                    lv,
                    s["commands"],
                    _pct(s["success"]),
                    s["makespan_s"],
                    s["parallelism"],
                    s.get("lower_bound_s"),
                    s.get("over_bound"),
                    s["baseline_makespan_s"],
                    s["speedup"],
                    s["tasks"],
                    s["cross_robot_dependencies"],
                )
                for lv, s in levels.items()
            ],
            "lr",
        ),
    ]
    failed = [r for r in result["rows"] if not r["serial"] and not r["goal_met"]]
    if failed:
        parts += ["", "Failures:", ""]
        parts += [
            f"* {r['level']} `{r['command']}`: {r['outcome']}: {r.get('reason', '')}"
            for r in failed
        ]
    return "\n".join(parts) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def plots(result: dict[str, Any]) -> dict[str, Callable[[Any], None]]:
    levels = result["levels"]
    names = list(levels)

    def makespan(ax: Any) -> None:
        import numpy as np

        x = np.arange(len(names))
        ours = [levels[n]["makespan_s"] or 0 for n in names]
        base = [levels[n]["baseline_makespan_s"] or 0 for n in names]
        ax.bar(x - 0.2, ours, 0.4, label="plan as given (arms in parallel)")
        ax.bar(x + 0.2, base, 0.4, label="one task at a time")
        for i, n in enumerate(names):
            ax.text(
                i,
                max(ours[i], base[i]) * 1.02,
                _pct(levels[n]["success"]),
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(x, names)
        ax.set_ylabel("mean makespan (simulated s)")
        ax.set_title("Makespan by level (label: success)")
        ax.legend(fontsize=8)

    def parallelism(ax: Any) -> None:
        rows = [r for r in result["rows"] if not r["serial"] and r.get("parallelism")]
        for level, marker in zip(LEVELS, "os^", strict=True):
            xs = [r["makespan_s"] for r in rows if r["level"] == level]
            ys = [r["parallelism"] for r in rows if r["level"] == level]
            ax.scatter(xs, ys, marker=marker, label=level)
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_xlabel("makespan (simulated s)")
        ax.set_ylabel("sum of task durations / makespan")
        ax.set_title("Parallelism per command")
        ax.legend(fontsize=8)

    return {"makespan": makespan, "parallelism": parallelism}
