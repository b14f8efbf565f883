"""`robot-planner bench perf`: what each stage costs and how the cost grows.

Stages: offline planning of the tabletop command table; validation, compilation, first
tick and steady tick for synthetic plans of 10 .. 10,000 tasks; the geometric monitor
per camera frame at 320x240 and 640x480; simulation speed with and without cameras;
camera frames per second; and command-to-plan / command-to-first-motion over DDS (a
bring-up in separate processes). Each figure is compared with the target in the
performance issue; the report says which pass, never asserts.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

from robot_planner.bench.commands import COMMANDS
from robot_planner.bench.report import growth_exponent, spread, table
from robot_planner.bench.tree import bench_tree_size
from robot_planner.planning.base import PlanningError, PlanRequest
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene

SIZES = (10, 100, 1_000, 10_000)
#: (key, what, limit, unit, lower is better)
TARGETS = (
    ("plan_median_ms", "offline plan, tabletop commands (median)", 50.0, "ms", True),
    ("plan_p95_ms", "offline plan, tabletop commands (p95)", 150.0, "ms", True),
    ("compile_first_tick_1000_ms", "compile + first tick, 1,000 tasks", 200.0, "ms", True),
    ("compile_growth", "compile + first tick growth exponent (1 = linear)", 1.15, "", True),
    ("tick_1000_ms", "tick at 1,000 tasks (median)", 5.0, "ms", True),
    ("geometric_640_ms", "geometric check per 640x480 frame (median)", 15.0, "ms", True),
    ("sim_rtf_no_camera", "headless simulation, no cameras (x real time)", 10.0, "x", False),
    ("first_motion_ms", "command to first motion over DDS (median)", 500.0, "ms", True),
)

Progress = Callable[[str], None]


def planning(catalogue: Catalogue, scene: Scene, repeat: int = 5) -> dict[str, Any]:
    """Offline planner latency per command (best of `repeat`: the machine's noise is not
    the planner's cost), over the whole command table."""
    planner = OfflinePlanner(catalogue, scene)
    state = scene.initial_facts()
    per_command = []
    for _, command, expected in COMMANDS:
        if expected is None:
            continue
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            with contextlib.suppress(PlanningError):
                planner.plan(PlanRequest(command, state))
            best = min(best, time.perf_counter() - started)
        per_command.append(1000.0 * best)
    return {"commands": len(per_command), "latency_ms": spread(per_command, 3)}


def tree(
    catalogue: Catalogue,
    scene: Scene,
    sizes: Sequence[int] = SIZES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Validation, compilation and ticks against plan size, with growth exponents."""
    rows = []
    for n in sizes:
        if progress:
            progress(f"tree {n} tasks")
        gc.collect()
        rows.append(bench_tree_size(n, catalogue, scene, repeat=3, max_ticks=300))
    work = [r["tasks"] + r["dependencies"] for r in rows]
    growth = {
        key: growth_exponent(work, [r[key] for r in rows])
        for key in ("validate_ms", "compile_ms", "compile_and_first_tick_ms", "tick_median_ms")
    }
    return {"rows": rows, "growth_vs_tasks_plus_dependencies": growth}


def monitor(scene: Scene, frames: int = 20, progress: Progress | None = None) -> dict[str, Any]:
    """Geometric monitor cost per camera frame: segmentation and every fact decided
    (the first question of a frame pays for both; later ones are lookups)."""
    from robot_planner.monitor.geometric import GeometricVqa
    from robot_planner.sim.world import SimWorld

    out: dict[str, Any] = {}
    vqa = GeometricVqa(scene)
    with SimWorld(scene, seed=0) as world:
        for width, height in ((320, 240), (640, 480)):
            if progress:
                progress(f"monitor {width}x{height}")
            camera = world.camera("overhead", width, height)
            costs = []
            for _ in range(frames):
                observation = world.observe(camera)
                started = time.perf_counter()
                vqa.estimate_facts(observation)
                costs.append(1000.0 * (time.perf_counter() - started))
                world.settle(0.05)
            out[f"{width}x{height}"] = {"frame_ms": spread(costs, 2)}
    return out


def measure(
    catalogue: Catalogue,
    scene: Scene,
    *,
    sizes: Sequence[int] = SIZES,
    sim_seconds: float = 10.0,
    dds_commands: int = 5,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every stage; `dds_commands=0` skips the DDS part (no ROS needed)."""
    from robot_planner.bench.sim import bench_sim_speed

    if progress:
        progress("offline planning")
    result: dict[str, Any] = {"planning": planning(catalogue, scene)}
    result["tree"] = tree(catalogue, scene, sizes, progress)
    result["monitor"] = monitor(scene, progress=progress)
    if progress:
        progress("simulation speed")
    result["sim"] = bench_sim_speed(scene.name, sim_seconds=sim_seconds)
    if dds_commands > 0:
        if progress:
            progress(f"DDS latency ({dds_commands} commands)")
        from robot_planner.bench.ros_latency import measure as dds

        result["dds"] = dds(commands=dds_commands).summary()
    result["targets"] = check_targets(result)
    return result


def _row(rows: list[dict[str, Any]], tasks: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["tasks"] == tasks), None)


def figures(result: dict[str, Any]) -> dict[str, float | None]:
    """The figures the targets are about, pulled out of a `measure` result."""
    rows = result["tree"]["rows"]
    at_1000 = _row(rows, 1_000)
    dds = result.get("dds") or {}
    motion = dds.get("first_motion_ms") or {}
    return {
        "plan_median_ms": result["planning"]["latency_ms"].get("median"),
        "plan_p95_ms": result["planning"]["latency_ms"].get("p95"),
        "compile_first_tick_1000_ms": at_1000["compile_and_first_tick_ms"] if at_1000 else None,
        "compile_growth": result["tree"]["growth_vs_tasks_plus_dependencies"][
            "compile_and_first_tick_ms"
        ],
        "tick_1000_ms": at_1000["tick_median_ms"] if at_1000 else None,
        "geometric_640_ms": result["monitor"]["640x480"]["frame_ms"].get("median"),
        "sim_rtf_no_camera": result["sim"]["without_camera"]["real_time_factor"],
        "first_motion_ms": motion.get("median"),
    }


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    measured = figures(result)
    rows = []
    for key, what, limit, unit, lower in TARGETS:
        value = measured.get(key)
        met = None if value is None else (value <= limit if lower else value >= limit)
        rows.append(
            {
                "key": key,
                "what": what,
                "target": limit,
                "unit": unit,
                "lower_is_better": lower,
                "measured": value,
                "met": met,
            }
        )
    return rows


def markdown(result: dict[str, Any]) -> str:
    parts = ["# Performance (`robot-planner bench perf`)", "", "## Targets", ""]
    parts.append(
        table(
            ["figure", "target", "measured", "met"],
            [
                (
                    t["what"],
                    f"{'≤' if t['lower_is_better'] else '≥'} {t['target']:g} {t['unit']}".strip(),
                    t["measured"],
                    {True: "yes", False: "**no**", None: "not measured"}[t["met"]],
                )
                for t in result["targets"]
            ],
            "lrrl",
        )
    )
    rows = result["tree"]["rows"]
    parts += ["", "## How cost grows with plan size (synthetic two-arm plans)", ""]
    parts.append(
        table(
            [
                "tasks",
                "dependencies",
                "validate ms",
                "compile ms",
                "first tick ms",
                "compile+first tick ms",
                "tick median ms",
                "tick p95 ms",
            ],
            [
                (
                    r["tasks"],
                    r["dependencies"],
                    r["validate_ms"],
                    r["compile_ms"],
                    r["first_tick_ms"],
                    r["compile_and_first_tick_ms"],
                    r["tick_median_ms"],
                    r["tick_p95_ms"],
                )
                for r in rows
            ],
        )
    )
    growth = result["tree"]["growth_vs_tasks_plus_dependencies"]
    parts += [
        "",
        "Growth exponents (slope of log cost against log(tasks + dependencies); 1 is "
        "linear): " + ", ".join(f"{k} {'-' if v is None else v}" for k, v in growth.items()) + ".",
        "",
        "## Other stages",
        "",
    ]
    plan = result["planning"]["latency_ms"]
    sim = result["sim"]
    other = [
        ("offline plan (ms, best of 5 per command)", plan["median"], plan["p95"], plan["max"]),
    ]
    for size, row in result["monitor"].items():
        f = row["frame_ms"]
        other.append((f"geometric monitor {size} (ms per frame)", f["median"], f["p95"], f["max"]))
    parts.append(table(["stage", "median", "p95", "max"], other, "lrrr"))
    parts += [
        "",
        f"Simulation ({sim['sim_seconds']:g} s, both arms busy): "
        f"{sim['without_camera']['real_time_factor']}x real time and "
        f"{sim['without_camera']['steps_per_s']} steps/s without cameras; "
        f"{sim['with_camera']['real_time_factor']}x with a 320x240 camera at "
        f"{sim['camera_hz']:g} Hz. Camera alone: {sim['camera_fps_320x240']} frames/s at "
        f"320x240, {sim['camera_fps_640x480']} at 640x480.",
    ]
    dds = result.get("dds")
    if dds:
        parts += [
            "",
            f"## Over DDS ({dds['commands']} commands, bring-up in separate processes)",
            "",
        ]
        names = {
            "accepted_ms": "command -> accepted",
            "planned_ms": "command -> planned",
            "planner_ms": "  planning itself",
            "task_started_ms": "command -> first task started",
            "first_motion_ms": "command -> first joint motion",
        }
        parts.append(
            table(
                ["interval", "n", "median ms", "p95 ms", "max ms"],
                [
                    (label, dds[k]["n"], dds[k]["median"], dds[k]["p95"], dds[k]["max"])
                    for k, label in names.items()
                    if dds.get(k)
                ],
                "lrrrr",
            )
        )
    return "\n".join(parts) + "\n"


def plots(result: dict[str, Any]) -> dict[str, Callable[[Any], None]]:
    rows = result["tree"]["rows"]

    def growth(ax: Any) -> None:
        work = [r["tasks"] + r["dependencies"] for r in rows]
        for key, label in (
            ("validate_ms", "validate"),
            ("compile_ms", "compile"),
            ("compile_and_first_tick_ms", "compile + first tick"),
            ("tick_median_ms", "tick (median)"),
        ):
            ax.loglog(work, [max(r[key], 1e-3) for r in rows], marker="o", label=label)
        base = rows[0]["compile_and_first_tick_ms"] or 1e-3
        ax.loglog(work, [base * w / work[0] for w in work], "k--", linewidth=0.8, label="linear")
        ax.axhline(200, color="red", linewidth=0.6, linestyle=":", label="200 ms target")
        ax.set_xlabel("tasks + dependencies")
        ax.set_ylabel("ms")
        ax.set_title("Plan size against cost")
        ax.legend(fontsize=8)

    def stages(ax: Any) -> None:
        targets = [t for t in result["targets"] if t["measured"]]
        names = [t["what"].split(" (")[0] for t in targets]
        # Cost over target, or target over rate for higher-is-better figures: < 1 is met.
        ratio = [
            t["measured"] / t["target"] if t["lower_is_better"] else t["target"] / t["measured"]
            for t in targets
        ]
        colours = ["tab:green" if r <= 1 else "tab:red" for r in ratio]
        ax.barh(names, ratio, color=colours)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel("how far from the target (< 1: met)")
        ax.set_title("Performance targets")
        ax.tick_params(axis="y", labelsize=7)

    return {"growth": growth, "targets": stages}
