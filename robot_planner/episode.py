"""One command, end to end, in simulation: plan, validate, execute, check the goal.

Used by ``robot-planner run``, ``make demo`` and the benchmarks. The report is the JSON
document ``run --json`` prints.

A run has one verdict, the system's own (``success``): the supervisor succeeded *and*
the goal holds in what the system itself observes at the end (its perception when it
re-plans from perception, else its robots' state). The simulator's ground truth is
reported beside it (``ground_truth``) and never changes the verdict; when the two
disagree, the report says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_planner.execution.executor import Outcome, PlanExecutor
from robot_planner.execution.supervisor import Supervisor
from robot_planner.monitor.base import VqaBackend
from robot_planner.monitor.config import MonitorConfig
from robot_planner.plan.model import TaskPlan
from robot_planner.planning.base import Planner, PlanRequest, PlanResult
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.planning.readback import readback
from robot_planner.recording import (
    COLOR_COMPRESSED,
    COMPRESSED_IMAGE,
    JOINT_STATE,
    JOINT_STATES,
    PLAN_GRAPH,
    PLAN_MSG,
    STATUS_EVENT,
    STATUS_EVENTS,
    McapRecorder,
    compressed_image,
    stamp,
)
from robot_planner.service.events import make_event
from robot_planner.service.wire import RUN_FINAL, plan_fields, status_fields, status_of
from robot_planner.sim.disturbances import DisturbanceConfig
from robot_planner.sim.world import SimWorld
from robot_planner.system import Simulation, SystemOptions, build_sim_system
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
    #: An MCAP recording (status events, plans, camera, joint states; simulated time).
    record_mcap: Path | None = None
    record_mcap_hz: float = 2.0
    record_mcap_format: str = "jpeg"
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


class McapEpisodeRecorder:
    """The run as `robot-planner bringup --record` would record it over ROS, written from
    the simulation: the status events the planner and executor nodes would publish
    (`StatusEvent`), the plan and each re-plan (`Plan`), camera frames
    (sensor_msgs/CompressedImage) and joint states, all stamped with simulated time, so
    Foxglove plays the run back as it happened.

    Camera frames are the monitor's own (what its VQA judged; rendering costs ~50-300 ms
    a frame, so none is rendered twice), topped up with frames of the same camera so at
    least `fps` arrive per simulated second (the monitor off, or after-skill only)."""

    JOINT_HZ = 10.0

    def __init__(
        self,
        world: SimWorld,
        path: Path,
        fps: float,
        camera: str,
        size: tuple[int, int],
        image_format: str,
        metadata: Mapping[str, str],
        command_id: str = "run",
        final_details: Callable[[], dict[str, Any]] = lambda: {"facts": [], "disturbances": []},
    ):
        if fps <= 0:
            raise ValueError("MCAP recording rate must be positive")
        self.world = world
        self.camera = world.camera(camera, width=size[0], height=size[1])
        self.frame_id = f"{camera}_camera_optical_frame"
        self.image_format = image_format
        self.period = 1.0 / fps
        self._next_frame = 0.0
        self._last_frame_ns = -1
        self._next_joints = 0.0
        self.command_id = command_id
        self.final_details = final_details
        self.revision = 0
        self._planned = False
        self.frames = {"monitor": 0, "recorder": 0}
        self.writer = McapRecorder(path, metadata)

    @staticmethod
    def _ns(seconds: float) -> int:
        return round(seconds * 1e9)

    def event(self, event: dict[str, Any]) -> None:
        """A supervisor event as the executor node publishes it (`wire.status_of`), at
        its own (simulated) time; the final one carries the facts and disturbances."""
        published = status_of(event)
        if published is None:
            return
        state, details = published
        details["revision"] = self.revision
        if state in RUN_FINAL:
            details.update(self.final_details())
        self._status(state, "executor", details, float(event.get("time", self.world.time)))

    def _status(self, state: str, source: str, details: dict[str, Any], when: float) -> None:
        status = make_event(self.command_id, state, source, details, max(0.0, when))
        self.writer.write(STATUS_EVENTS, STATUS_EVENT, status_fields(status), self._ns(when))

    def plan(self, plan: TaskPlan, said: str) -> None:
        """A plan (the first, revision 0, then each re-plan) as the planner node publishes
        it; the first comes with its `planned` status event, as the planner sends it."""
        now = self.world.time
        if self._planned:
            self.revision += 1
        message = {
            "command_id": self.command_id,
            "revision": self.revision,
            "issued": now,
            "plan": plan.to_dict(),
            "readback": said,
        }
        self.writer.write(PLAN_GRAPH, PLAN_MSG, plan_fields(message), self._ns(now))
        if not self._planned:
            self._planned = True
            planned = {"tasks": len(plan.tasks), "goal": list(plan.goal), "readback": said}
            self._status("planned", "planner", planned, now)

    def observing(self, observe: Callable[[], Observation]) -> Callable[[], Observation]:
        """`observe` that also records the frame it rendered."""

        def observe_and_record() -> Observation:
            observation = observe()
            self._frame(observation.frame.rgb, "monitor")
            return observation

        return observe_and_record

    def _frame(self, rgb: Any, source: str) -> None:
        now = self.world.time
        when = self._ns(now)
        if when <= self._last_frame_ns:  # one frame per instant
            return
        message = compressed_image(rgb, when, self.frame_id, self.image_format)
        self.writer.write(COLOR_COMPRESSED, COMPRESSED_IMAGE, message, when)
        self._last_frame_ns = when
        self._next_frame = now + self.period
        self.frames[source] += 1

    def maybe_capture(self, force: bool = False) -> None:
        """Joint states and a frame, if due at the world's current time."""
        now = self.world.time
        when = self._ns(now)
        if force or now + 1e-9 >= self._next_joints:
            self._next_joints = now + 1.0 / self.JOINT_HZ
            names: list[str] = []
            positions: list[float] = []
            velocities: list[float] = []
            for arm in self.world.arms.values():
                arm_names, arm_positions, arm_velocities = arm.joint_state()
                names += arm_names
                positions += [float(v) for v in arm_positions]
                velocities += [float(v) for v in arm_velocities]
            if names:
                message = {
                    "header": {"stamp": stamp(when), "frame_id": ""},
                    "name": names,
                    "position": positions,
                    "velocity": velocities,
                    "effort": [],
                }
                self.writer.write(JOINT_STATES, JOINT_STATE, message, when)
        if (force or now + 1e-9 >= self._next_frame) and when > self._last_frame_ns:
            self._frame(self.camera.capture().rgb, "recorder")

    def close(self) -> str:
        """Finish the file (footer included); its path."""
        self.writer.close()
        log.info("MCAP camera frames: %s", self.frames)
        return str(self.writer.path)


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


def _alarm_judge(simulation: Simulation) -> Callable[[dict[str, Any]], None]:
    """Annotate misalignment events with the simulator's verdict at that instant: a
    misalignment whose fact in fact holds as expected is a false alarm."""

    def judge(event: dict[str, Any]) -> None:
        if event.get("event") == "misalignment":
            holds = Fact.parse(event["fact"]) in simulation.ground_truth()
            event["false_alarm"] = holds == event["expected"]

    return judge


@dataclass
class ReadBackPlanner:
    """A planner that remembers the readback of its latest re-plan, so the episode's
    `replanned` event can say in words what the new plan will do."""

    planner: Planner
    scene: Scene
    catalogue: Catalogue
    readbacks: list[str] = field(default_factory=list)
    plans: list[TaskPlan] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.planner.name

    def plan(self, request: PlanRequest) -> PlanResult:
        return self.planner.plan(request)

    def replan(self, request: PlanRequest) -> PlanResult:
        result = self.planner.replan(request)
        self.readbacks.append(readback(result.plan, self.scene, self.catalogue))
        self.plans.append(result.plan)
        return result


def system_options(config: EpisodeConfig) -> SystemOptions:
    """The composition root's options for an episode (`monitor`/`vqa` override the
    monitor config's mode and backend)."""
    monitoring = config.monitor_config.model_copy(
        update={
            key: value
            for key, value in (("mode", config.monitor), ("vqa", config.vqa))
            if value is not None
        }
    )
    return SystemOptions(
        seed=config.seed,
        gui=config.gui,
        renderer=config.renderer,
        disturbances=config.disturbances,
        self_check=config.self_check,
        monitor=monitoring,
        camera_size=config.monitor_size,
        replan_state="perception" if config.replan_state == "perception" else "robot state",
        score_vqa=config.judge_alarms,
        max_replans=config.max_replans,
        period_s=config.period_s,
    )


def run_episode(
    config: EpisodeConfig,
    catalogue: Catalogue,
    scene: Scene,
    planner: Planner | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_plan: Callable[[TaskPlan, PlanExecutor], None] | None = None,
    *,
    vqa: VqaBackend | None = None,
) -> dict[str, Any]:
    """Plan and execute `config.command` in a fresh simulated world; return the report.

    `vqa` replaces the backend the monitor settings name (tests inject fakes here).

    Raises:
        PlanningError: the command was refused (not understood, impossible).
        SimError: the simulation could not start.
        VqaError: the VQA backend could not start.
    """
    planner = planner or OfflinePlanner(catalogue, scene)
    options = system_options(config)
    wall_start = time.perf_counter()
    with build_sim_system(scene, catalogue, options, vqa=vqa) as system:
        simulation = system.simulation
        assert simulation is not None  # build_sim_system always has one
        world = simulation.world
        adapter = system.adapter
        start_state = adapter.read_state()
        planned = planner.plan(PlanRequest(config.command, start_state))
        plan = planned.plan
        said = readback(plan, scene, catalogue)
        goal = frozenset(Fact.parse(g) for g in plan.goal)

        recorder = (
            GifRecorder(world, config.record, config.record_fps, config.record_size)
            if config.record
            else None
        )
        mcap = (
            McapEpisodeRecorder(
                world,
                config.record_mcap,
                config.record_mcap_hz,
                options.camera,
                config.monitor_size,
                config.record_mcap_format,
                {
                    "command": config.command,
                    "scene": scene.name,
                    "seed": str(config.seed),
                    "source": "robot-planner run",
                    "clock": "simulated time from 0",
                },
                final_details=lambda: {
                    "facts": format_facts(adapter.read_state()),
                    "disturbances": adapter.events[-20:],  # type: ignore[attr-defined]
                },
            )
            if config.record_mcap
            else None
        )
        if mcap is not None and system.observe is not None:
            system.observe = mcap.observing(system.observe)
        replanner = ReadBackPlanner(planner, scene, catalogue)
        supervisor = system.supervisor(replanner)
        disturbances: list[dict[str, Any]] = adapter.events  # type: ignore[attr-defined]
        seen = {"disturbances": 0}

        def notify(event: dict[str, Any]) -> None:
            if mcap is not None:
                mcap.event(event)
            if on_event is not None:
                on_event(event)

        def forward(event: dict[str, Any]) -> None:
            for disturbance in disturbances[seen["disturbances"] :]:
                notify(disturbance)
            seen["disturbances"] = len(disturbances)
            notify(event)

        def read_back(event: dict[str, Any]) -> None:
            if event.get("event") == "replanned" and replanner.readbacks:
                event["readback"] = replanner.readbacks[-1]
                if mcap is not None and replanner.plans:
                    mcap.plan(replanner.plans[-1], replanner.readbacks[-1])

        supervisor.listeners.append(read_back)
        supervisor.listeners.append(forward)
        if config.alarm_frames is not None:
            supervisor.listeners.insert(0, _frame_saver(supervisor, config.alarm_frames))
        if config.judge_alarms:
            supervisor.listeners.insert(0, _alarm_judge(simulation))
        if on_plan is not None:
            on_plan(plan, PlanExecutor(plan, catalogue, adapter, period_s=config.period_s))
        if recorder is not None:
            adapter.step_hooks.append(lambda: recorder.maybe_capture())  # type: ignore[attr-defined]
        if mcap is not None:
            mcap.plan(plan, said)
            mcap.maybe_capture()
            adapter.step_hooks.append(mcap.maybe_capture)  # type: ignore[attr-defined]
        try:
            outcome = supervisor.run(
                config.command, plan, config.max_sim_time_s, config.realtime, state=start_state
            )
        finally:
            if mcap is not None:  # a run that raised still leaves a readable file
                mcap.maybe_capture(force=True)
                mcap_path = mcap.close()
        if recorder is not None:
            world.settle(0.5)
            recorder.maybe_capture()
        # The system's own view of the end state first, then the simulator's (which
        # only goes into the report).
        believed = system.believed_state()
        unchecked = {
            str(fact): why
            for fact in goal
            if system.observability is not None
            and (why := system.observability.reason(fact)) is not None
        }
        verdict = judge_run(
            outcome.outcome,
            outcome.reason,
            goal,
            believed,
            simulation.ground_truth(),
            unchecked=unchecked,
        )
        events = sorted(outcome.events + list(disturbances), key=lambda e: e["time"])
        recording = str(recorder.write()) if recorder is not None else None
        backend = system.vqa
        report = {
            "success": verdict["success"],
            "command": config.command,
            "scene": scene.name,
            "seed": config.seed,
            "planner": planned.backend,
            "planning_s": round(planned.latency_s, 4),
            "outcome": outcome.outcome.value,
            "reason": verdict["reason"],
            "goal": format_facts(goal),
            "goal_observed": verdict["goal_observed"],
            "goal_unchecked": unchecked,
            "final_facts": format_facts(believed),
            "final_facts_source": system.state_source,
            "ground_truth": verdict["ground_truth"],
            "plan": plan.to_dict(),
            "readback": said,
            "events": events,
            "replans": outcome.replans,
            "misalignments": [m.to_dict() for m in outcome.misalignments],
            "monitor": {
                "mode": options.monitor.mode,
                "vqa": backend.name if backend is not None else None,
                "oracle_used": backend is not None and backend.name == "oracle",
                "replan_state": system.state_source,
                "checks": outcome.monitor_checks,
                "errors": outcome.monitor_errors,
                "ms_per_check": round(outcome.monitor_ms_per_check, 3),
                "vs_oracle": backend.summary() if hasattr(backend, "summary") else None,
                "uncheckable": outcome.uncheckable,
            },
            "plans": [p.to_dict() for p in outcome.plans[1:]],
            "replan_readbacks": [readback(p, scene, catalogue) for p in outcome.plans[1:]],
            "sim_time_s": round(outcome.sim_time_s, 3),
            "wall_time_s": round(time.perf_counter() - wall_start, 3),
            "disturbances": {
                "drop_prob": config.disturbances.drop_prob,
                "displace_cm": config.disturbances.displace_cm,
                "displace_model": config.disturbances.displace_model,
                "spill_prob": config.disturbances.spill_prob,
                "delay_prob": config.disturbances.delay_prob,
                "delay_s": config.disturbances.delay_s,
            },
        }
        if recording:
            report["recording"] = recording
        if mcap is not None:
            report["recording_mcap"] = mcap_path
        return report


def judge_run(
    outcome: Outcome,
    reason: str,
    goal: frozenset[Fact],
    believed: frozenset[Fact],
    truth: frozenset[Fact] | None,
    unchecked: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The run's one verdict, and the simulator's ground truth beside it.

    Success is the system's own: its supervisor succeeded and the goal holds in what it
    observes (`believed`), apart from goal facts its perceiver cannot observe at all
    (`unchecked`, reported as such by the monitor rather than failed). Ground truth
    (None on hardware) is reported with whether it agrees; it never changes the verdict.
    """
    checkable = frozenset(g for g in goal if str(g) not in (unchecked or {}))
    goal_observed = checkable <= believed
    success = outcome is Outcome.SUCCEEDED and goal_observed
    if outcome is Outcome.SUCCEEDED and not goal_observed:
        missing = ", ".join(format_facts(checkable - believed))
        reason = f"the plan finished but the goal is not observed to hold: missing {missing}"
    ground: dict[str, Any] | None = None
    if truth is not None:
        holds = goal <= truth
        ground = {
            "goal_holds": holds,
            "missing": format_facts(goal - truth),
            "facts": format_facts(truth),
            "agrees": holds == success,
        }
    return {
        "success": success,
        "reason": reason,
        "goal_observed": goal_observed,
        "ground_truth": ground,
    }


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """The verdict of a run report as text, with the simulator's ground truth on its own
    line and any disagreement stated: what ``robot-planner run`` prints."""
    goal = ", ".join(report["goal"])
    timing = f"after {report['sim_time_s']:.1f} s simulated, {report['wall_time_s']:.1f} s wall"
    unchecked: dict[str, str] = report.get("goal_unchecked") or {}
    if report["success"] and unchecked:
        head = (
            f"SUCCESS: the plan ran to the end; goal ({goal}) holds as far as the monitor can "
            f"see, {len(unchecked)} fact(s) not checkable {timing}"
        )
    elif report["success"]:
        head = f"SUCCESS: goal holds ({goal}) {timing}"
    else:
        head = f"FAILED: goal not achieved ({goal}) {timing}"
    lines = [head + (f"; {report['reason']}" if report["reason"] else "")]
    lines += [f"not checkable: {fact}: {why}" for fact, why in sorted(unchecked.items())]
    truth = report.get("ground_truth")
    if truth is not None:
        if truth["goal_holds"]:
            lines.append("simulator ground truth: goal holds")
        else:
            missing = ", ".join(truth["missing"])
            lines.append(f"simulator ground truth: goal does not hold (missing {missing})")
        if not truth["agrees"]:
            said = "success" if report["success"] else "failure"
            holds = "holds" if truth["goal_holds"] else "does not hold"
            lines.append(
                f"DISAGREEMENT: the system reports {said}, but in the simulator the goal {holds}"
            )
    return lines
