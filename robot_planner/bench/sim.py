"""Simulation benchmarks: success over seeds, simulation speed, camera frame rate.

Success over seeds is scored against the simulator's ground truth (the goal holds at
the end), the honest measure for a benchmark; the system's own verdict is reported
beside it (`system_success_rate`), with the episodes where the two disagree.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from robot_planner.episode import EpisodeConfig, run_episode
from robot_planner.sim.disturbances import DisturbanceConfig
from robot_planner.system import UNMONITORED, SystemOptions, build_sim_system
from robot_planner.world.scene import load_scene


def _episode(job: tuple[str, str, int, DisturbanceConfig, str | None]) -> dict[str, Any]:
    scene_name, command, seed, disturbances, monitor = job
    scene = load_scene(scene_name)
    catalogue = scene.domain.catalogue
    config = EpisodeConfig(command=command, seed=seed, disturbances=disturbances, monitor=monitor)
    report = run_episode(config, catalogue, scene)
    events = report["events"]
    return {
        **{k: report[k] for k in ("seed", "outcome", "reason", "sim_time_s", "wall_time_s")},
        "success": report["ground_truth"]["goal_holds"],
        "system_success": report["success"],
        "replans": report["replans"],
        "misalignments": len(report["misalignments"]),
        "disturbances": [e["kind"] for e in events if e.get("event") == "disturbance"],
        "stalls_noticed": sum(1 for e in events if e.get("event") == "progress_stalled"),
    }


def run_jobs(
    work: Callable[[Any], dict[str, Any]],
    jobs: Sequence[Any],
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """`work` over `jobs` in order, in this process or `workers` processes, reporting
    progress after each (episodes are independent simulated worlds)."""
    rows: list[dict[str, Any]] = []
    if workers <= 1:
        results: Any = map(work, jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(work, jobs)
    try:
        for row in results:
            rows.append(row)
            if progress:
                progress(len(rows), len(jobs))
    finally:
        if pool is not None:
            pool.shutdown()
    return rows


def bench_episodes(
    scene: str,
    command: str,
    seeds: Sequence[int],
    workers: int = 1,
    drop_prob: float = 0.0,
    displace_cm: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    disturbances: DisturbanceConfig | None = None,
    monitor: str | None = None,
) -> dict[str, Any]:
    """Run one command over several seeds; success rate (ground truth, and the system's
    own verdict beside it) and times. `disturbances`, when given, replaces `drop_prob`
    and `displace_cm` (it also holds the bases' spills and delays); `monitor` overrides
    the monitor config's mode (on, after-skill, off)."""
    config = disturbances or DisturbanceConfig(drop_prob, displace_cm)
    jobs = [(scene, command, s, config, monitor) for s in seeds]
    rows = run_jobs(_episode, jobs, workers, progress)
    successes = [r for r in rows if r["success"]]
    return {
        "command": command,
        "monitor": monitor or "config",
        "episodes": len(rows),
        "success_rate": round(len(successes) / max(1, len(rows)), 4),
        "system_success_rate": round(
            sum(r["system_success"] for r in rows) / max(1, len(rows)), 4
        ),
        "verdict_disagreements": [r["seed"] for r in rows if r["success"] != r["system_success"]],
        "mean_sim_time_s": round(statistics.mean(r["sim_time_s"] for r in rows), 3),
        "mean_wall_time_s": round(statistics.mean(r["wall_time_s"] for r in rows), 3),
        # What happened to the robots, and what the monitor made of it.
        "disturbances": dict(Counter(k for r in rows for k in r["disturbances"])),
        "misalignments": sum(r["misalignments"] for r in rows),
        "replans_per_episode": round(sum(r["replans"] for r in rows) / max(1, len(rows)), 3),
        "stalls_noticed": sum(r["stalls_noticed"] for r in rows),
        "failures": [
            {k: r[k] for k in ("seed", "outcome", "reason")} for r in rows if not r["success"]
        ],
    }


def bench_sim_speed(
    scene_name: str = "tabletop", sim_seconds: float = 10.0, camera_hz: float = 15.0
) -> dict[str, Any]:
    """Simulated seconds per wall second while the robots work the scene's demo command
    (its plan ticked as in a run, for at most `sim_seconds`), with and without a camera
    rendering 320x240 frames at `camera_hz` (simulated), and camera frames per second.

    Raises:
        ValueError: the scene has no demo command, or it cannot be planned (one line).
    """
    from robot_planner.execution.executor import Outcome, PlanExecutor
    from robot_planner.planning.base import PlanningError
    from robot_planner.planning.offline import OfflinePlanner

    scene = load_scene(scene_name)
    catalogue = scene.domain.catalogue
    if not scene.demo:
        raise ValueError(f"scene {scene.name} has no demo command to keep its robots busy")
    try:
        plan = OfflinePlanner(catalogue, scene).plan_text(scene.demo)
    except PlanningError as exc:
        raise ValueError(f"cannot plan the demo command of {scene.name}: {exc}") from None
    options = SystemOptions(seed=0, monitor=UNMONITORED)
    results: dict[str, Any] = {
        "sim_seconds": sim_seconds,
        "camera_hz": camera_hz,
        "command": scene.demo,
    }
    for label, with_camera in (("without_camera", False), ("with_camera", True)):
        with build_sim_system(scene, catalogue, options) as system:
            assert system.simulation is not None
            world, adapter = system.simulation.world, system.adapter
            camera = world.camera("overhead", 320, 240) if with_camera else None
            executor = PlanExecutor(plan, catalogue, adapter)
            next_frame = 0.0
            frames = 0
            start = time.perf_counter()
            begin = world.time
            while world.time - begin < sim_seconds and executor.tick() is Outcome.RUNNING:
                if camera is not None and world.time >= next_frame:
                    camera.capture()
                    frames += 1
                    next_frame += 1.0 / camera_hz
            wall = time.perf_counter() - start
            executor.cancel("benchmark over")
            results[label] = {
                "real_time_factor": round((world.time - begin) / wall, 2),
                "steps_per_s": round(world.steps / wall),
                "frames": frames,
            }
    with build_sim_system(scene, catalogue, options) as system:
        assert system.simulation is not None
        world = system.simulation.world
        for width, height in ((320, 240), (640, 480)):
            camera = world.camera("overhead", width, height)
            camera.capture()
            start = time.perf_counter()
            count = 10
            for _ in range(count):
                camera.capture()
            fps = count / (time.perf_counter() - start)
            results[f"camera_fps_{width}x{height}"] = round(fps, 1)
    return results
