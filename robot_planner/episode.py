"""One command, end to end, in simulation: plan, validate, execute, check the goal.

Used by ``robot-planner run``, ``make demo`` and the benchmarks. The report is the JSON
document ``run --json`` prints.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_planner.execution.executor import PlanExecutor
from robot_planner.execution.supervisor import Supervisor
from robot_planner.monitor.config import MonitorConfig
from robot_planner.plan.model import TaskPlan
from robot_planner.planning.base import Planner, PlanRequest
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.disturbances import DisturbanceConfig
from robot_planner.sim.world import SimError, SimWorld
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact, format_facts
from robot_planner.world.observation import Observation
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)


@dataclass
class EpisodeConfig:
    """Everything that defines one simulated run."""

    command: str
    seed: int = 0
    gui: bool = False
    realtime: bool = False
    record: Path | None = None
    record_fps: float = 6.0
    record_size: tuple[int, int] = (320, 240)
    disturbances: DisturbanceConfig = field(default_factory=DisturbanceConfig)
    self_check: bool = True
    period_s: float = 0.05
    max_sim_time_s: float = 300.0
    renderer: str = "tiny"
    #: Monitor mode and VQA backend; None takes them from `monitor_config`.
    monitor: str | None = None
    vqa: str | None = None
    #: config/monitor.yaml (or another file): thresholds and backend settings.
    monitor_config: MonitorConfig = field(default_factory=MonitorConfig)
    max_replans: int = 5
    monitor_size: tuple[int, int] = (320, 240)
    #: Re-plan from perceived facts (the VQA backend's estimate) or the simulator's.
    replan_state: str = "perception"
    #: Save the camera frame of each misalignment as a PNG here (path in the event).
    alarm_frames: Path | None = None
    #: Mark each misalignment with whether the simulator agrees, and score every VQA
    #: answer against the simulator's ground truth (benchmarks only).
    judge_alarms: bool = False


class GifRecorder:
    """Frames from the overhead camera at a fixed simulated rate, written as a GIF."""

    def __init__(self, world: SimWorld, path: Path, fps: float, size: tuple[int, int]):
        if fps <= 0:
            raise ValueError("recording fps must be positive")
        self.camera = world.camera("overhead", width=size[0], height=size[1])
        self.path = path
        self.period = 1.0 / fps
        self.fps = fps
        self.frames: list[Any] = []
        self._next = 0.0
        self.world = world

    def maybe_capture(self) -> None:
        if self.world.time + 1e-9 >= self._next:
            self.frames.append(self.camera.capture().rgb)
            self._next += self.period

    def write(self) -> Path:
        import imageio.v3 as iio

        self.path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(
            self.path, self.frames, extension=".gif", duration=int(1000 * self.period), loop=0
        )
        return self.path


def _monitoring(config: MonitorConfig, scene: Scene, world: SimWorld, size: tuple[int, int]):
    """The VQA backend, how to observe, and where re-planning takes its facts from
    (the backend's perception when it can estimate facts, else the robot's state)."""
    if config.mode == "off":
        return None, None, None
    from robot_planner.monitor.backends import make_vqa

    backend = make_vqa(config.vqa, scene=scene, world=world, config=config)
    camera = world.camera("overhead", *size)

    def observe() -> Observation:
        return world.observe(camera)

    estimate = None
    if hasattr(backend, "estimate_facts"):

        def estimate() -> frozenset[Fact]:
            return backend.estimate_facts(observe())

    return backend, observe, estimate


def _frame_saver(supervisor: Supervisor, directory: Path) -> Callable[[dict[str, Any]], None]:
    """Write the frame that confirmed each misalignment to `directory` as a PNG and put
    its path in the event, so a user can see what the monitor saw."""
    import imageio.v3 as iio

    def save(event: dict[str, Any]) -> None:
        if event.get("event") != "misalignment" or not supervisor.misalignments:
            return
        frame = supervisor.misalignments[-1].frame
        if frame is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        path = (
            directory / f"misalignment_{len(supervisor.misalignments):02d}_{frame.stamp:.2f}s.png"
        )
        iio.imwrite(path, frame.rgb)
        event["frame"] = str(path)

    return save


def _alarm_judge(world: SimWorld) -> Callable[[dict[str, Any]], None]:
    """Annotate misalignment events with the simulator's verdict at that instant: a
    misalignment whose fact in fact holds as expected is a false alarm."""
    from robot_planner.sim.truth import ground_truth

    def judge(event: dict[str, Any]) -> None:
        if event.get("event") == "misalignment":
            holds = Fact.parse(event["fact"]) in ground_truth(world)
            event["false_alarm"] = holds == event["expected"]

    return judge


def _check_display(gui: bool) -> None:
    # PyBullet's GUI aborts the whole process when X is missing; refuse first instead.
    if gui and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise SimError("--gui needs a display, and DISPLAY is not set (run headless instead)")


def run_episode(
    config: EpisodeConfig,
    catalogue: Catalogue,
    scene: Scene,
    planner: Planner | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_plan: Callable[[TaskPlan, PlanExecutor], None] | None = None,
) -> dict[str, Any]:
    """Plan and execute `config.command` in a fresh simulated world; return the report.

    Raises:
        PlanningError: the command was refused (not understood, impossible).
        SimError: the simulation could not start.
    """
    planner = planner or OfflinePlanner(catalogue, scene)
    _check_display(config.gui)
    wall_start = time.perf_counter()
    with SimWorld(scene, seed=config.seed, gui=config.gui, renderer=config.renderer) as world:
        adapter = PyBulletRobotAdapter(world, config.disturbances, config.self_check)
        start_state = adapter.read_state()
        planned = planner.plan(PlanRequest(config.command, start_state))
        plan = planned.plan
        goal = frozenset(Fact.parse(g) for g in plan.goal)

        recorder = (
            GifRecorder(world, config.record, config.record_fps, config.record_size)
            if config.record
            else None
        )
        monitoring = config.monitor_config.model_copy(
            update={
                key: value
                for key, value in (("mode", config.monitor), ("vqa", config.vqa))
                if value is not None
            }
        )
        backend, observe, estimate = _monitoring(monitoring, scene, world, config.monitor_size)
        if config.replan_state != "perception":
            estimate = None
        if config.judge_alarms and backend is not None and backend.name != "oracle":
            from robot_planner.monitor.oracle import OracleVqa, ScoredVqa

            backend = ScoredVqa(backend, OracleVqa(world))
        supervisor = Supervisor(
            planner,
            adapter,
            catalogue,
            backend,
            observe,
            estimate_state=estimate,
            detector_config=monitoring.detector(),
            max_replans=config.max_replans,
            period_s=config.period_s,
        )
        seen = {"disturbances": 0}

        def forward(event: dict[str, Any]) -> None:
            for disturbance in adapter.events[seen["disturbances"] :]:
                if on_event is not None:
                    on_event(disturbance)
            seen["disturbances"] = len(adapter.events)
            if on_event is not None:
                on_event(event)

        supervisor.listeners.append(forward)
        if config.alarm_frames is not None:
            supervisor.listeners.insert(0, _frame_saver(supervisor, config.alarm_frames))
        if config.judge_alarms:
            supervisor.listeners.insert(0, _alarm_judge(world))
        if on_plan is not None:
            on_plan(plan, PlanExecutor(plan, catalogue, adapter, period_s=config.period_s))
        if recorder is not None:
            adapter.step_hooks.append(lambda: recorder.maybe_capture())
        outcome = supervisor.run(config.command, plan, config.max_sim_time_s, config.realtime)
        if recorder is not None:
            world.settle(0.5)
            recorder.maybe_capture()
        final = adapter.read_state()
        events = sorted(outcome.events + list(adapter.events), key=lambda e: e["time"])
        recording = str(recorder.write()) if recorder is not None else None
        report = {
            "success": bool(goal <= final),
            "command": config.command,
            "scene": scene.name,
            "seed": config.seed,
            "planner": planned.backend,
            "planning_s": round(planned.latency_s, 4),
            "outcome": outcome.outcome.value,
            "reason": outcome.reason,
            "goal": format_facts(goal),
            "final_facts": format_facts(final),
            "plan": plan.to_dict(),
            "events": events,
            "replans": outcome.replans,
            "misalignments": [m.to_dict() for m in outcome.misalignments],
            "monitor": {
                "mode": monitoring.mode,
                "vqa": backend.name if backend is not None else None,
                "oracle_used": backend is not None and backend.name == "oracle",
                "replan_state": "perception" if estimate is not None else "robot state",
                "checks": outcome.monitor_checks,
                "errors": outcome.monitor_errors,
                "ms_per_check": round(outcome.monitor_ms_per_check, 3),
                "vs_oracle": backend.summary() if hasattr(backend, "summary") else None,
            },
            "plans": [p.to_dict() for p in outcome.plans[1:]],
            "sim_time_s": round(outcome.sim_time_s, 3),
            "wall_time_s": round(time.perf_counter() - wall_start, 3),
            "disturbances": {
                "drop_prob": config.disturbances.drop_prob,
                "displace_cm": config.disturbances.displace_cm,
                "displace_model": config.disturbances.displace_model,
            },
        }
        if recording:
            report["recording"] = recording
        return report
