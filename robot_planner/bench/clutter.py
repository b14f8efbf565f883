"""`bench clutter`: commands that stress placement and hand-over, from random start
layouts (issue 17).

Each seed draws a layout of the scene: every object starts on a random place where the
domain can put it and some robot reaches it (bins excluded: a start in the goal bin
would hide the placement), or, one time in four, on top of an object already placed (a
tower of two). The objects are the scene's, the places its own: the layout is data, the
same code plans and runs it. Every command runs on every layout with the monitor on,
and the report says how often the goal held (ground truth), how many re-plans each
success needed, and which recoveries were used (misalignments, remembered failures,
looks after clearing the view).
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from robot_planner.bench.sim import run_jobs
from robot_planner.episode import EpisodeConfig, run_episode
from robot_planner.planning.base import PlanningError
from robot_planner.world.scene import Scene, load_scene

#: Ten tabletop commands that fill bins, build over hand-overs and pass over towers.
COMMANDS = (
    "put all the blocks in the left bin",
    "put all the blocks in the right bin",
    "red and green go in the left bin, blue and yellow in the right bin",
    "put the red block in the right bin and the blue block in the left bin",
    "build a tower in the center zone with blue at the bottom and yellow on top, "
    "then put the red block in the right bin",
    "yellow at the bottom, then blue, red on top",
    "put the yellow block in the center zone, then stack the red block on the yellow block",
    "put the blue block on the red block, then put the green block in the right bin",
    "stack the green block on the blue block, then put the yellow block in the left bin",
    "move the red block to the center zone, then put the blue block on the red block",
)
#: How many objects a place takes side by side, and how often an object starts on
#: another one.
PER_PLACE = 3
STACK_CHANCE = 0.25


def random_layout(scene: Scene, seed: int) -> Scene:
    """`scene` with every object's start drawn from `seed` (see the module docstring)."""
    rng = random.Random(seed)
    domain = scene.domain
    inside = {n for n, spec in domain.predicates.items() if spec.geometry == "inside"}
    places = [
        name
        for name, spec in scene.places.items()
        if (puts := domain.put_facts("object", name, spec.type))
        and not any(f.predicate in inside for f in puts)
        and any(name in robot.reach for robot in scene.robots.values())
    ]
    if not places:
        raise ValueError(f"scene '{scene.name}' has no place to lay objects out on")
    names = list(scene.objects)
    rng.shuffle(names)
    count: Counter[str] = Counter()
    starts: dict[str, str] = {}
    for name in names:
        bases = [
            other
            for other, where in starts.items()
            if where in places
            and other not in starts.values()  # nothing on it yet: towers of two
            and domain.put_facts(name, other, scene.objects[other].type)
        ]
        if bases and rng.random() < STACK_CHANCE:
            starts[name] = rng.choice(bases)
            continue
        free = [p for p in places if count[p] < PER_PLACE] or places
        starts[name] = rng.choice(free)
        count[starts[name]] += 1
    return with_starts(scene, starts)


def with_starts(scene: Scene, starts: dict[str, str]) -> Scene:
    """`scene` with the given objects starting elsewhere (a place or another object),
    validated like a scene file."""
    objects = {
        name: spec.model_copy(update={"start": starts.get(name, spec.start)})
        for name, spec in scene.objects.items()
    }
    data = scene.model_copy(update={"objects": objects}).model_dump()
    return Scene.model_validate({**data, "domain": scene.domain})


def _episode(job: tuple[str, str, int, str]) -> dict[str, Any]:
    scene_name, command, seed, monitor = job
    scene = random_layout(load_scene(scene_name), seed)
    layout = {name: spec.start for name, spec in scene.objects.items()}
    config = EpisodeConfig(command=command, seed=seed, monitor=monitor)
    try:
        report = run_episode(config, scene.domain.catalogue, scene)
    except PlanningError as exc:  # refused from this layout: a failure, say why
        return {
            "command": command,
            "seed": seed,
            "layout": layout,
            "success": False,
            "outcome": "refused",
            "reason": str(exc)[:300],
            "replans": 0,
            "recoveries": {},
            "sim_time_s": 0.0,
        }
    kinds = Counter(e.get("event") for e in report["events"])
    return {
        "command": command,
        "seed": seed,
        "layout": layout,
        "success": report["ground_truth"]["goal_holds"],
        "outcome": report["outcome"],
        "reason": report["reason"][:300],
        "replans": report["replans"],
        "recoveries": {
            k: kinds[k]
            for k in ("misalignment", "failure_remembered", "clearing_view", "replanned")
            if kinds[k]
        },
        "sim_time_s": report["sim_time_s"],
    }


def bench_clutter(
    seeds: Sequence[int],
    commands: Sequence[str] = COMMANDS,
    scene: str = "tabletop",
    monitor: str = "on",
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Every command on the random layout of every seed; success (ground truth),
    re-plans per success, recoveries used, and each failure with its layout."""
    jobs = [(scene, command, seed, monitor) for command in commands for seed in seeds]
    rows = run_jobs(_episode, jobs, workers, progress)
    wins = [r for r in rows if r["success"]]
    used: Counter[str] = Counter()
    for row in rows:
        used.update(row["recoveries"])
    per_command = {
        command: round(
            sum(r["success"] for r in rows if r["command"] == command)
            / max(1, sum(r["command"] == command for r in rows)),
            4,
        )
        for command in commands
    }
    return {
        "scene": scene,
        "monitor": monitor,
        "episodes": len(rows),
        "seeds": len(seeds),
        "commands": len(commands),
        "success_rate": round(len(wins) / max(1, len(rows)), 4),
        "replans_per_success": round(statistics.mean(r["replans"] for r in wins), 3)
        if wins
        else None,
        "episodes_with_replans": sum(r["replans"] > 0 for r in rows),
        "recoveries_used": dict(used),
        "per_command": per_command,
        "failures": [
            {k: r[k] for k in ("command", "seed", "outcome", "reason", "layout")}
            for r in rows
            if not r["success"]
        ],
    }
