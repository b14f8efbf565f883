"""monitor_node: watches the camera while tasks run and reports misalignments (DoReMi).

Subscribes the camera (``/camera/color/image_raw``, ``/camera/depth/image_raw``,
``/camera/color/camera_info``), the grippers (``/robot_planner/grippers``,
robot_planner_interfaces/Proprioception), the plans
(``/robot_planner/plan_graph``) and the status events (``/robot_planner/status_events``);
runs the ROS-free `MisalignmentDetector` with the configured VQA
backend on the newest frame (in a worker thread: a slow backend never blocks the
callbacks; frames that arrive meanwhile are skipped, never queued); publishes confirmed
misalignments on ``/robot_planner/misalignment`` (robot_planner_interfaces/Misalignment:
command, plan revision, task, fact, the facts perceived then; the VQA question, answers
and evidence in ``detail_json``) and, when the backend can estimate the scene, the
perceived facts on ``/robot_planner/perception`` (robot_planner_interfaces/Perception),
which the executor re-plans from. The camera pose comes from the scene file (calibration).

Health on ``/diagnostics`` once a second (``robot_planner/monitor``: VQA backend, checks,
errors, degraded; WARN while the watched plan runs without failed checks, ERROR when
``on_vqa_error: fail`` halted it). Parameters are read-only, checked at start-up.

Parameters:
  scene (str, "tabletop"), domain (str, ""): the world and its domain ("" = the
    domain the scene names).
  camera (str, "overhead"): the scene camera whose pose and intrinsics to use when the
      camera_info has none.
  monitor_config (str, ""): monitor YAML ("" = the packaged config/monitor.yaml).
  mode (str, ""): on | after-skill | off ("" = monitor_config's).
  vqa (str, ""): geometric | openai | transformers ("" = monitor_config's). The oracle
      needs the simulator and is not available here.
  camera_qos (str, "reliable"): reliable | sensor_data (best effort; most camera drivers).
  publish_perception (bool, true): publish perceived facts for re-planning.
  on_vqa_error (str, ""): continue | fail ("" = monitor_config's, default continue).
      When the VQA backend errors or times out (`vqa_timeout_s` in the monitor YAML),
      a ``monitor_degraded`` status event is published once per plan revision; with
      ``fail`` the executor halts every robot and the command ends ``failed``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from robot_planner.monitor.backends import VQA_BACKENDS
from robot_planner.monitor.config import MonitorConfig
from robot_planner.monitor.detector import MisalignmentDetector
from robot_planner.nodes import sensors
from robot_planner.nodes.common import (
    CAMERA_INFO,
    COLOR,
    DEPTH,
    GRIPPERS,
    MISALIGNMENT,
    PERCEPTION,
    PLAN_GRAPH,
    STATUS_EVENTS,
    STATUS_QOS,
    DiagnosticsPublisher,
    StatusPublisher,
    camera_qos,
    config_choices,
    declare,
    latched,
    reliable,
    run_node,
    subscribe,
)
from robot_planner.nodes.health import Health, monitor_health
from robot_planner.nodes.typed import (
    MisalignmentReport,
    misalignment_msg,
    perception_msg,
    plan_from_msg,
    proprioception_from_msg,
    status_from_msg,
)
from robot_planner.plan.model import TaskPlan
from robot_planner.service.events import EventError
from robot_planner.world.facts import Fact, format_facts
from robot_planner.world.observation import Observation
from robot_planner_interfaces.msg import Misalignment as MisalignmentMsg
from robot_planner_interfaces.msg import Perception, Proprioception
from robot_planner_interfaces.msg import Plan as PlanMsg
from robot_planner_interfaces.msg import StatusEvent as StatusEventMsg

REPORT_S = 30.0
#: Frames (colour, depth, grippers) kept per topic while waiting for the other two.
PAIRING_WINDOW = 5
END_STATES = ("done", "failed", "cancelled", "error")


class MonitorNode(Node):
    """One detector per running plan revision, fed by status events and frames."""

    def __init__(self, name: str = "monitor", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        from robot_planner.monitor.backends import make_vqa
        from robot_planner.monitor.config import load_monitor_config
        from robot_planner.resources import scene_path
        from robot_planner.world.scene import load_scene

        scene = declare(self, "scene", "tabletop", "scene name or YAML path")
        domain = declare(self, "domain", "", "domain name or file ('' = the scene's)")
        camera = declare(self, "camera", "overhead", "scene camera (pose, intrinsics)")
        config_path = declare(self, "monitor_config", "", "monitor YAML ('' = packaged)")
        mode = declare(
            self,
            "mode",
            "",
            "when constraints are checked ('' = monitor_config's)",
            choices=("", *config_choices(MonitorConfig, "mode")),
        )
        vqa = declare(
            self,
            "vqa",
            "",
            "VQA backend ('' = monitor_config's)",
            choices=("", *VQA_BACKENDS),
        )
        on_error = declare(
            self,
            "on_vqa_error",
            "",
            "a VQA error: go on unmonitored or fail ('' = monitor_config's)",
            choices=("", *config_choices(MonitorConfig, "on_vqa_error")),
        )
        qos = camera_qos(
            declare(
                self,
                "camera_qos",
                "reliable",
                "QoS asked of the camera topics",
                choices=("reliable", "sensor_data"),
            )
        )
        self.publish_perception = declare(
            self, "publish_perception", True, "publish perceived facts for re-planning"
        )
        self.scene = load_scene(scene_path(scene), domain=domain or None)
        self.catalogue = self.scene.domain.catalogue
        config = load_monitor_config(config_path or None)
        update = {k: v for k, v in (("mode", mode), ("vqa", vqa), ("on_vqa_error", on_error)) if v}
        self.config = config.model_copy(update=update) if update else config
        if self.config.mode not in ("on", "after-skill", "off"):
            raise ValueError(f"mode must be on, after-skill or off, not {self.config.mode!r}")
        if self.config.on_vqa_error not in ("continue", "fail"):
            raise ValueError(f"on_vqa_error must be continue or fail, not {on_error!r}")
        if self.config.vqa == "oracle":
            raise ValueError("the oracle VQA needs the simulator; use it with robot-planner run")
        if camera not in self.scene.cameras:
            raise ValueError(f"camera {camera!r} is not in scene {self.scene.name}")
        spec = self.scene.cameras[camera]
        self.camera_name = camera
        self.K = spec.intrinsics()
        self.world_from_camera = spec.world_from_camera()
        self.backend = make_vqa(self.config.vqa, scene=self.scene, config=self.config)

        self._lock = threading.Lock()
        self.detector: MisalignmentDetector | None = None
        self.command: tuple[str, int] | None = None
        self.goal: tuple[Fact, ...] = ()
        self._colors: dict[float, Image] = {}
        self._depth: dict[float, Image] = {}
        self._grippers: dict[float, dict] = {}
        #: Set by the first gripper message: from then on a frame waits for the gripper
        #: state of its own stamp (the store is empty right after a pairing, which is no
        #: sign of a camera-only setup).
        self._proprioceptive = False
        self._pending: tuple[Image, Image, tuple[dict, dict]] | None = None
        self._wake = threading.Condition()
        self._stop = False
        self.frames = self.checks = self.errors = self.received = 0
        self._latency: list[float] = []
        self.create_timer(REPORT_S, self._report)

        self._degraded: tuple[str, int] | None = None
        #: Totals since start-up and when a frame was last used (/diagnostics).
        self.checks_total = self.vqa_errors = 0
        self._used_at: float | None = None
        self.diagnostics = DiagnosticsPublisher(self, self.health)
        self.status = StatusPublisher(self, "monitor")
        self.misalignment_pub = self.create_publisher(MisalignmentMsg, MISALIGNMENT, reliable(100))
        self.perception_pub = self.create_publisher(Perception, PERCEPTION, reliable())
        subscribe(self, Image, COLOR, self._on_color, qos)
        subscribe(self, Image, DEPTH, self._on_depth, qos)
        subscribe(self, CameraInfo, CAMERA_INFO, self._on_info, qos)
        subscribe(self, Proprioception, GRIPPERS, self._on_grippers, qos)
        subscribe(self, PlanMsg, PLAN_GRAPH, self._on_plan, latched())
        subscribe(self, StatusEventMsg, STATUS_EVENTS, self._on_status, STATUS_QOS)
        self._worker = threading.Thread(target=self._work, name="monitor", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"monitor ready: {self.config.vqa} VQA, mode {self.config.mode}, camera {camera}"
        )

    # --- plan and status ------------------------------------------------------------

    def _on_plan(self, msg: PlanMsg) -> None:
        try:
            data = plan_from_msg(msg)
            command_id, revision = str(data["command_id"]), int(data["revision"])
            plan = TaskPlan.model_validate(data["plan"]) if "plan" in data else None
        except (ValueError, KeyError, TypeError) as exc:
            self.get_logger().warning(f"ignoring a malformed plan: {str(exc)[:200]}")
            return
        if plan is None:
            return
        with self._lock:
            if self.config.mode == "off":
                return
            self.detector = MisalignmentDetector(
                self.backend, plan, self.catalogue, self.config.detector()
            )
            self.command = (command_id, revision)
            self.goal = tuple(Fact.parse(g) for g in plan.goal)

    def _on_status(self, msg: StatusEventMsg) -> None:
        try:
            event = status_from_msg(msg)
        except EventError:
            return
        if event.source != "executor":
            return
        now = event.time
        with self._lock:
            detector, command = self.detector, self.command
            if detector is None or command is None or event.command_id != command[0]:
                return
            if event.details.get("revision", command[1]) != command[1]:
                return
            task = event.details.get("task")
            if event.state == "task_started" and task:
                detector.task_started(str(task), now)
            elif event.state in ("task_succeeded", "task_failed", "task_cancelled") and task:
                detector.task_finished(str(task), now, event.state == "task_succeeded")
            elif event.state == "task_phase" and task:
                detector.task_phase(str(task), str(event.details.get("phase", "")))
            elif event.state == "verifying":
                detector.verify_goal(self.goal, now)
            elif event.state in ("misalignment", *END_STATES):
                self.detector = None  # halted: the next plan revision brings a new one

    # --- frames ---------------------------------------------------------------------

    def _on_info(self, msg: CameraInfo) -> None:
        if len(msg.k) == 9 and msg.k[0] > 0:
            self.K = np.asarray(msg.k, dtype=float).reshape(3, 3)

    def _on_grippers(self, msg: Proprioception) -> None:
        stamp, grippers, bases = proprioception_from_msg(msg)
        with self._wake:
            self._proprioceptive = True
            self._keep(self._grippers, stamp, (grippers, bases))
            self._pair()

    def _on_depth(self, msg: Image) -> None:
        with self._wake:
            self._keep(self._depth, sensors.from_time(msg.header.stamp), msg)
            self._pair()

    def _on_color(self, msg: Image) -> None:
        with self._wake:
            self.received += 1
            self._keep(self._colors, sensors.from_time(msg.header.stamp), msg)
            self._pair()

    @staticmethod
    def _keep(store: dict[float, Any], stamp: float, item: Any) -> None:
        store[stamp] = item
        while len(store) > PAIRING_WINDOW:
            del store[min(store)]

    def _pair(self) -> None:
        """Hand the worker the newest colour frame whose depth image and gripper state
        carry the same stamp (DDS may deliver the three topics in any order; a gripper
        state 0.2 s off while the arm carries a block made the monitor see it 5 cm from
        the fingers). Until the first gripper message (a camera-only setup) colour and depth
        pair alone; after it, never (a frame paired alone because its gripper message was
        still in flight had no odometry, and the monitor could not see a base parked)."""
        for stamp in sorted(self._colors, reverse=True):
            if stamp not in self._depth:
                continue
            if self._proprioceptive and stamp not in self._grippers:
                continue
            proprioception = self._grippers.get(stamp, ({}, {}))
            self._pending = (self._colors[stamp], self._depth[stamp], proprioception)
            for store in (self._colors, self._depth, self._grippers):
                for old in [s for s in store if s <= stamp]:
                    del store[old]
            self._wake.notify()
            return

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._stop:
                    self._wake.wait(timeout=1.0)
                if self._stop:
                    return
                color, depth, proprioception = self._pending  # type: ignore[misc]
                self._pending = None
            try:
                self._process(color, depth, proprioception)
            except sensors.SensorError as exc:
                self.get_logger().warning(str(exc), throttle_duration_sec=5.0)
            except Exception as exc:  # a backend bug must not kill the monitor
                self.errors += 1
                self.get_logger().error(f"monitor: {type(exc).__name__}: {exc}")

    def _process(self, color: Image, depth: Image, proprioception: tuple[dict, dict]) -> None:
        frame = sensors.camera_frame(
            self.camera_name, color, depth, self.K, self.world_from_camera
        )
        grippers, bases = proprioception
        observation = Observation(frame.stamp, frame, grippers, bases)
        self.frames += 1
        self._used_at = time.monotonic()
        self._latency.append(time.time() - frame.stamp)
        facts = None
        estimate = getattr(self.backend, "estimate_facts", None)
        if estimate is not None and self.publish_perception:
            facts = estimate(observation)
            source = f"{self.config.vqa}:{self.camera_name}"
            self.perception_pub.publish(perception_msg(frame.stamp, format_facts(facts), source))
        with self._lock:
            detector, command = self.detector, self.command
        if detector is None or command is None or not detector.due(frame.stamp):
            return
        started = time.perf_counter()
        errors = detector.errors
        found = detector.check(observation)
        self.checks += 1
        self.checks_total += 1
        self.vqa_errors += detector.errors - errors
        if detector.errors > errors and self._degraded != command:
            self._degraded = command  # once per plan revision
            policy = self.config.on_vqa_error
            self.status(
                command[0],
                "monitor_degraded",
                reason=f"monitor: VQA backend failed: {detector.last_error}"[:300],
                policy=policy,
                effect="halting: on_vqa_error is fail"
                if policy == "fail"
                else "continuing without the failed checks",
                revision=command[1],
            )
        for notice in detector.take_notices():  # a base stalled, or moves again
            state = notice.pop("event")
            notice["robot_time"] = notice.pop("time", None)
            self.status(command[0], state, revision=command[1], **notice)
        if found is None:
            return
        with self._lock:
            if self.detector is detector:
                self.detector = None  # one report per plan revision
        report = MisalignmentReport(
            command_id=command[0],
            revision=command[1],
            misalignment=found,
            facts=tuple(format_facts(facts)) if facts is not None else None,
            check_ms=round(1000 * (time.perf_counter() - started), 2),
        )
        self.misalignment_pub.publish(misalignment_msg(report))
        self.get_logger().warning(f"[{command[0]}] misalignment: {found.describe()}")

    def health(self) -> Health:
        """This node's `/diagnostics` status (see `monitor_health`)."""
        with self._lock:
            detector, command = self.detector, self.command
        watched = command if detector is not None else None
        used = self._used_at
        return monitor_health(
            vqa=self.config.vqa,
            mode=self.config.mode,
            watching=f"{watched[0]}#{watched[1]}" if watched is not None else None,
            checks=self.checks_total,
            vqa_errors=self.vqa_errors,
            worker_errors=self.errors,
            degraded=watched is not None and self._degraded == watched,
            on_vqa_error=self.config.on_vqa_error,
            last_frame_age_s=None if used is None else time.monotonic() - used,
        )

    def _report(self) -> None:
        """Frames received and used, and how old they were when used (a busy machine
        shows here first)."""
        ages = sorted(self._latency) or [0.0]
        self.get_logger().info(
            f"last {REPORT_S:g} s: {self.received} frame(s) received, {self.frames} used, "
            f"{self.checks} check(s); frame age at use median {1000 * ages[len(ages) // 2]:.0f} ms"
        )
        self.received = self.frames = self.checks = 0
        self._latency = []

    def close(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        self._worker.join(timeout=2.0)


def main(argv: list[str] | None = None) -> int:
    return run_node(MonitorNode, __doc__, argv, threads=3)


if __name__ == "__main__":
    raise SystemExit(main())
