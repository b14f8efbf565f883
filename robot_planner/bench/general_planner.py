"""`robot-planner bench planning`: the domain-independent planner measured.

Figures (benchmarks, not timed tests):

* plan latency over the tabletop command table (goal -> validated-ready `TaskPlan`),
  median and p95, for the in-process engine and for Fast Downward through
  unified-planning (`--engines`);
* parity with the hand-written symbolic planner on the 43 bench-task commands: both
  plans validated from the start state, goal reached, estimated makespans side by side;
* a synthetic problem of 8 robots in a row and 30 blocks (hand-overs over several
  robots, towers, blocks in the way), planned cold (compile + ground + plan) and warm.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

from robot_planner.bench.baseline_planner import plan_from_state
from robot_planner.bench.commands import COMMANDS
from robot_planner.bench.tasks import TASKS
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError
from robot_planner.planning.general import (
    _CONTEXTS,
    estimated_makespan,
    plan_goal,
    planning_context,
)
from robot_planner.planning.language import understand_command
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

TARGETS = {"median_ms": 50.0, "p95_ms": 150.0, "synthetic_s": 2.0}


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = q / 100.0 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _meaning(command: str, scene: Scene) -> tuple[list[Fact], dict[Fact, int], dict[str, str]]:
    meaning = understand_command(command, scene)
    return meaning.goal, {i.fact: i.step for i in meaning.items}, meaning.assignments()


def latency(scene: Scene, engine: str = "builtin", repeat: int = 3) -> dict[str, Any]:
    """Goal -> plan latency per tabletop command (best of `repeat`, after one warm-up
    plan so the scene's grounding is cached, as in a running planner)."""
    catalogue = scene.domain.catalogue
    state = scene.initial_facts()
    commands = [c for _, c, goal in COMMANDS if goal is not None]
    plan_goal("warm-up", *_meaning(commands[0], scene)[:1], state, scene, catalogue, engine=engine)
    times = []
    failed = []
    for command in commands:
        goal, steps, assign = _meaning(command, scene)
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                plan_goal(command, goal, state, scene, catalogue, steps, assign, engine=engine)
            except PlanningError as exc:
                failed.append((command, str(exc)))
                break
            best = min(best, time.perf_counter() - started)
        if best < float("inf"):
            times.append(1000.0 * best)
    return {
        "engine": engine,
        "commands": len(commands),
        "planned": len(times),
        "failed": failed,
        "median_ms": round(statistics.median(times), 2) if times else None,
        "p95_ms": round(_percentile(times, 95), 2) if times else None,
        "max_ms": round(max(times), 2) if times else None,
    }


def parity(scene: Scene) -> list[dict[str, Any]]:
    """Each bench-task command planned by both planners, validated from the start."""
    catalogue = scene.domain.catalogue
    state = scene.initial_facts()
    rows = []
    for level, command, expected in TASKS:
        goal, steps, assign = _meaning(command, scene)
        wanted = {Fact.parse(g) for g in expected}
        row: dict[str, Any] = {"level": level, "command": command}
        for name, planner in (("general", plan_goal), ("symbolic", plan_from_state)):
            try:
                plan = planner(command, goal, state, scene, catalogue, steps, assign)
            except PlanningError as exc:
                row[name] = {"valid": False, "error": str(exc)}
                continue
            report = validate_plan(plan, catalogue, scene, state)
            row[name] = {
                "valid": report.ok,
                "goal": report.ok and wanted <= set(report.final_facts or ()),
                "tasks": len(plan.tasks),
                "makespan_s": round(estimated_makespan(plan, catalogue), 2),
            }
        rows.append(row)
    return rows


# --- the synthetic problem -----------------------------------------------------------------


def synthetic_scene(robots: int = 8, blocks: int = 30, seed: int = 0) -> Scene:
    """Robots in a row: each reaches its own side zone and bin and the hand-over zones
    it shares with its neighbours. Blocks start on the side zones, some stacked."""
    base = load_scene("tabletop")
    rng = random.Random(seed)
    robot_names = [f"robot_{i}" for i in range(robots)]
    places: dict[str, dict[str, Any]] = {}
    reach: dict[str, list[str]] = {r: [] for r in robot_names}
    for i, robot in enumerate(robot_names):
        for kind, name in (("zone", f"side_{i}"), ("bin", f"bin_{i}")):
            places[name] = {"type": kind, "center": [float(i), 0.0], "size": [0.2, 0.2]}
            reach[robot].append(name)
        if i + 1 < robots:
            name = f"handover_{i}_{i + 1}"
            places[name] = {"type": "zone", "center": [i + 0.5, 0.0], "size": [0.2, 0.2]}
            reach[robot].append(name)
            reach[robot_names[i + 1]].append(name)
    objects: dict[str, dict[str, Any]] = {}
    tops: list[str] = []
    for n in range(blocks):
        name = f"block_{n}"
        if tops and rng.random() < 0.3:
            start = tops.pop(rng.randrange(len(tops)))  # stacked on a free top block
        else:
            start = f"side_{rng.randrange(robots)}"
        objects[name] = {"type": "block", "start": start}
        tops.append(name)
    spec = {
        "name": f"synthetic_{robots}x{blocks}",
        "domain": base.domain,
        "robots": {
            r: {
                "kind": next(iter(base.domain.robot_kinds)),
                "model": "synthetic",
                "base_position": [float(i), -0.5, 0.0],
                "reach": reach[r],
            }
            for i, r in enumerate(robot_names)
        },
        "objects": objects,
        "places": places,
    }
    return Scene.model_validate(spec)


def synthetic_goal(scene: Scene, moves: int = 10, towers: int = 2, seed: int = 0) -> list[Fact]:
    """Blocks to far bins (hand-overs across robots) and small towers on hand-over
    zones; the blocks named are often under others (which must be parked first)."""
    domain = scene.domain
    rng = random.Random(seed + 1)
    blocks = list(scene.objects)
    rng.shuffle(blocks)
    bins = list(scene.places_of("bin"))
    zones = [z for z in scene.places_of("zone") if z.startswith("handover")]
    goal: list[Fact] = []
    for block in blocks[:moves]:
        fact = domain.put_fact(block, rng.choice(bins), "bin")
        if fact is not None:
            goal.append(fact)
    rest = blocks[moves:]
    for t in range(towers):
        bottom, middle, top = rest[3 * t : 3 * t + 3]
        zone = zones[rng.randrange(len(zones))]
        for obj, target, kind in (
            (bottom, zone, "zone"),
            (middle, bottom, "block"),
            (top, middle, "block"),
        ):
            fact = domain.put_fact(obj, target, kind)
            if fact is not None:
                goal.append(fact)
    return goal


def synthetic(engine: str = "builtin", seed: int = 0) -> dict[str, Any]:
    """Cold (compile, ground, plan) and warm (plan) time of the 8 x 30 problem."""
    scene = synthetic_scene(seed=seed)
    catalogue = scene.domain.catalogue
    goal = synthetic_goal(scene, seed=seed)
    state = scene.initial_facts()
    _CONTEXTS.clear()
    started = time.perf_counter()
    context = planning_context(scene, catalogue)
    ground_s = time.perf_counter() - started
    plan = plan_goal("synthetic", goal, state, scene, catalogue, engine=engine)
    cold_s = time.perf_counter() - started
    started = time.perf_counter()
    plan_goal("synthetic", goal, state, scene, catalogue, engine=engine)
    warm_s = time.perf_counter() - started
    report = validate_plan(plan, catalogue, scene, state)
    return {
        "engine": engine,
        "robots": len(scene.robots),
        "blocks": len(scene.objects),
        "places": len(scene.places),
        "goal_facts": len(goal),
        "ground_actions": len(context.task.actions),
        "ground_s": round(ground_s, 3),
        "cold_s": round(cold_s, 3),
        "warm_s": round(warm_s, 3),
        "tasks": len(plan.tasks),
        "robots_used": len({t.robot for t in plan.tasks}),
        "valid": report.ok,
        "makespan_s": round(estimated_makespan(plan, catalogue), 1),
        "serial_s": round(sum(catalogue.skills[t.skill].duration_s for t in plan.tasks), 1),
    }


def measure(
    engines: Sequence[str] = ("builtin",),
    repeat: int = 3,
    with_parity: bool = True,
    with_synthetic: bool = True,
) -> dict[str, Any]:
    """Every figure of this suite, with the targets checked."""
    scene = load_scene("tabletop")
    result: dict[str, Any] = {"latency": [latency(scene, e, repeat) for e in engines]}
    if with_parity:
        rows = parity(scene)
        both = [r for r in rows if r["general"].get("goal") and r["symbolic"].get("goal")]
        result["parity"] = {
            "rows": rows,
            "general_goal": sum(bool(r["general"].get("goal")) for r in rows),
            "symbolic_goal": sum(bool(r["symbolic"].get("goal")) for r in rows),
            "commands": len(rows),
            "better": sum(r["general"]["makespan_s"] < r["symbolic"]["makespan_s"] for r in both),
            "worse": sum(r["general"]["makespan_s"] > r["symbolic"]["makespan_s"] for r in both),
            "mean_makespan_s": {
                "general": round(statistics.fmean(r["general"]["makespan_s"] for r in both), 2),
                "symbolic": round(statistics.fmean(r["symbolic"]["makespan_s"] for r in both), 2),
            }
            if both
            else None,
        }
    if with_synthetic:
        result["synthetic"] = [synthetic(e) for e in engines]
    builtin = next((r for r in result["latency"] if r["engine"] == "builtin"), None)
    synth = next((r for r in result.get("synthetic", []) if r["engine"] == "builtin"), None)
    result["targets"] = [
        _target("plan median (ms)", builtin and builtin["median_ms"], TARGETS["median_ms"]),
        _target("plan p95 (ms)", builtin and builtin["p95_ms"], TARGETS["p95_ms"]),
        _target(
            "8 x 30 synthetic, cold: compile + ground + plan (s)",
            synth and synth["cold_s"],
            TARGETS["synthetic_s"],
        ),
        _target("8 x 30 synthetic, warm (s)", synth and synth["warm_s"], TARGETS["synthetic_s"]),
    ]
    return result


def _target(what: str, value: float | None, limit: float) -> dict[str, Any]:
    return {
        "what": what,
        "target": limit,
        "measured": value,
        "met": None if value is None else value <= limit,
    }


def _means(means: dict[str, float] | None) -> str:
    if not means:
        return "n/a"
    return f"{means['general']} s (general) vs {means['symbolic']} s (baseline)"


def markdown(result: dict[str, Any]) -> str:
    """The suite's report as Markdown tables."""
    lines = [
        "# Domain-independent planner",
        "",
        "| figure | target | measured | met |",
        "|---|---|---|---|",
    ]
    for t in result["targets"]:
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "no")
        lines.append(f"| {t['what']} | <= {t['target']:g} | {t['measured']} | {met} |")
    lines += [
        "",
        "| engine | commands | planned | median ms | p95 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["latency"]:
        lines.append(
            f"| {r['engine']} | {r['commands']} | {r['planned']} | {r['median_ms']} | "
            f"{r['p95_ms']} | {r['max_ms']} |"
        )
        lines += [f"  failed: {command}: {error}" for command, error in r["failed"]]
    parity_result = result.get("parity")
    if parity_result:
        lines += [
            "",
            f"Parity with the baseline tabletop planner on the {parity_result['commands']} bench "
            f"commands: general reaches the goal on {parity_result['general_goal']}, the baseline "
            f"on {parity_result['symbolic_goal']}; estimated makespan better on "
            f"{parity_result['better']}, worse on {parity_result['worse']}; mean makespan "
            f"{_means(parity_result['mean_makespan_s'])}.",
            "",
            "| level | command | general valid/goal | tasks | makespan s "
            "| baseline valid/goal | tasks | makespan s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in parity_result["rows"]:
            g, b = row["general"], row["symbolic"]
            lines.append(
                f"| {row['level']} | {row['command']} | {g['valid']}/{g.get('goal')} | "
                f"{g.get('tasks')} | {g.get('makespan_s')} | {b['valid']}/{b.get('goal')} | "
                f"{b.get('tasks')} | {b.get('makespan_s')} |"
            )
    for r in result.get("synthetic", []):
        lines += [
            "",
            f"Synthetic {r['robots']} robots x {r['blocks']} blocks ({r['engine']}): "
            f"{r['ground_actions']} ground actions grounded in {r['ground_s']} s; plan cold "
            f"{r['cold_s']} s, warm {r['warm_s']} s; {r['tasks']} tasks on {r['robots_used']} "
            f"robots, valid {r['valid']}, makespan {r['makespan_s']} s "
            f"(serial {r['serial_s']} s).",
        ]
    return "\n".join(lines) + "\n"
