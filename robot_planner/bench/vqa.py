"""How right and how fast a VQA backend is, on the frames of real episodes.

The stack-drop command runs (with drops, so blocks fall and arms hold things); every
`period_s` of simulated time the overhead camera is rendered at each size and the
backend is asked about every ground fact of the vocabulary; each answer is scored
against the simulator's ground truth at that instant. The first question on a frame
pays for perceiving it (segmentation, back-projection), later ones reuse it, so both
the per-frame and the per-question cost are reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from robot_planner.bench.stack_drop import STACK_COMMAND
from robot_planner.execution.executor import PlanExecutor
from robot_planner.monitor.config import MonitorConfig
from robot_planner.plan.schema import ground_facts as schema_facts
from robot_planner.planning.base import PlanRequest
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.sim.disturbances import DisturbanceConfig
from robot_planner.system import Simulation, SystemOptions, build_sim_system
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene


def ground_facts(scene: Scene) -> list[Fact]:
    """Every well-typed ground fact over the scene's names."""
    return [Fact.parse(text) for text in schema_facts(scene)]


def _tally() -> dict[str, int]:
    return {"asked": 0, "right": 0, "wrong": 0, "unknown": 0, "wrong_and_sure": 0}


def bench_vqa(
    episodes: int = 3,
    seed: int = 0,
    period_s: float = 0.5,
    sizes: Sequence[tuple[int, int]] = ((320, 240), (640, 480)),
    vqa: str = "geometric",
    drop_prob: float = 0.3,
    scene_name: str = "tabletop",
    monitor: MonitorConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Accuracy against ground truth (per predicate and size) and time per frame."""
    scene = load_scene(scene_name)
    catalogue = scene.domain.catalogue
    facts = ground_facts(scene)
    per_size: dict[str, dict[str, Any]] = {}
    for width, height in sizes:
        per_size[f"{width}x{height}"] = {
            "frames": 0,
            "frame_ms": [],
            "question_ms": [],
            "by_predicate": {p: _tally() for p in scene.domain.predicates},
        }
    # The backend is asked directly here (not by a supervisor), whatever the config's mode.
    monitoring = (monitor or MonitorConfig()).model_copy(update={"vqa": vqa, "mode": "on"})
    sure = monitoring.min_confidence
    for episode in range(episodes):
        options = SystemOptions(
            seed=seed + episode,
            disturbances=DisturbanceConfig(drop_prob=drop_prob),
            self_check=False,
            monitor=monitoring,
            replan_state="robot state",
        )
        with build_sim_system(scene, catalogue, options) as system:
            assert system.simulation is not None and system.vqa is not None
            world = system.simulation.world
            cameras = {(w, h): world.camera("overhead", w, h) for w, h in sizes}
            planner = OfflinePlanner(catalogue, scene)
            plan = planner.plan(PlanRequest(STACK_COMMAND, system.adapter.read_state())).plan
            sample = _Sampler(
                system.simulation, system.vqa, cameras, facts, per_size, period_s, sure
            )
            system.adapter.step_hooks.append(sample)  # type: ignore[attr-defined]
            PlanExecutor(plan, catalogue, system.adapter).run(max_sim_time_s=120.0)
        if progress:
            progress(episode + 1, episodes)
    return {
        "vqa": vqa,
        "episodes": episodes,
        "period_s": period_s,
        "facts_per_frame": len(facts),
        "sizes": {name: _summary(row) for name, row in per_size.items()},
    }


class _Sampler:
    """A step hook: every `period_s`, ask every fact of fresh frames and score it."""

    def __init__(self, simulation: Simulation, backend, cameras, facts, per_size, period_s, sure):
        self.simulation, self.world = simulation, simulation.world
        self.backend, self.cameras = backend, cameras
        self.facts, self.per_size = facts, per_size
        self.period_s, self.sure = period_s, sure
        self.next_at = 0.0

    def __call__(self) -> None:
        if self.world.time + 1e-9 < self.next_at:
            return
        self.next_at += self.period_s
        truth = self.simulation.ground_truth()
        for (w, h), camera in self.cameras.items():
            row = self.per_size[f"{w}x{h}"]
            observation = self.world.observe(camera)
            row["frames"] += 1
            for index, fact in enumerate(self.facts):
                started = time.perf_counter()
                answer = self.backend.answer(observation, "", fact)
                elapsed = 1000.0 * (time.perf_counter() - started)
                row["frame_ms" if index == 0 else "question_ms"].append(elapsed)
                tally = row["by_predicate"][fact.predicate]
                tally["asked"] += 1
                if answer.answer is None:
                    tally["unknown"] += 1
                elif answer.answer == (fact in truth):
                    tally["right"] += 1
                else:
                    tally["wrong"] += 1
                    if answer.confidence >= self.sure:
                        tally["wrong_and_sure"] += 1


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    total = _tally()
    for tally in row["by_predicate"].values():
        for key in total:
            total[key] += tally[key]
    answered = total["right"] + total["wrong"]

    def rate(t: dict[str, int]) -> float | None:
        done = t["right"] + t["wrong"]
        return round(t["right"] / done, 4) if done else None

    return {
        "frames": row["frames"],
        **total,
        "accuracy": round(total["right"] / answered, 4) if answered else None,
        "unknown_rate": round(total["unknown"] / total["asked"], 4) if total["asked"] else None,
        "frame_ms_median": round(statistics.median(row["frame_ms"]), 2)
        if row["frame_ms"]
        else None,
        "frame_ms_p95": round(statistics.quantiles(row["frame_ms"], n=20)[-1], 2)
        if len(row["frame_ms"]) >= 2
        else None,
        "question_ms_median": round(statistics.median(row["question_ms"]), 4)
        if row["question_ms"]
        else None,
        "by_predicate": {
            predicate: {**tally, "accuracy": rate(tally)}
            for predicate, tally in row["by_predicate"].items()
        },
    }
