"""executor_node: executes plans on the robots, halts on misalignments, asks for re-plans.

Subscribes ``/robot_planner/plan`` and ``/robot_planner/cancel``; validates each plan
(it arrives over the network: untrusted), compiles it into a behaviour tree and ticks it
in a dedicated execution thread at ``period_s``, supervised by the ROS-free `Supervisor`
(halt, re-plan, resume). Misalignments come from the monitor node on
``/robot_planner/misalignment``; re-plans are requested on ``/robot_planner/replan``
with the perceived state (``/robot_planner/perception``) and answered by the planner on
the plan topic. Publishes status events, tree snapshots (``/robot_planner/tree``) and
the world state (``/robot_planner/state``). In simulation it also publishes the camera
(``/camera/color/image_raw``, ``/camera/depth/image_raw``, ``/camera/color/camera_info``),
the grippers (``/robot_planner/grippers``) and ``/joint_states``.

Health on ``/diagnostics`` once a second (``robot_planner/executor``: running command,
adapter, last tick age; ERROR when the execution thread stalls, WARN after an adapter
error). Parameters are read-only (read at start-up); ranges and choices show in
``ros2 param describe`` and are checked at start-up.

Parameters:
  adapter (str, "pybullet"): pybullet | ros_bindings.
  scene (str, "tabletop"), domain (str, ""): the world and its domain ("" = the
    domain the scene names).
  bindings (str, ""): ros_bindings YAML ("" = the packaged config/hardware_bindings.yaml).
  bindings_timeout_s (float, 5.0): how long start-up waits for the action servers (all
      together); a missing type or server stops the node with one line naming it.
  period_s (float, 0.05): tick period (seconds of robot time).
  sim_speed (float, 1.0): simulated seconds per wall second (pybullet; 1 = real time).
  seed (int, 0): simulation seed (start layout jitter, disturbances).
  drop_prob (float, 0.0), displace_cm (float, 0.0): simulated disturbances.
  spill_prob (float, 0.0), delay_prob (float, 0.0), delay_s (float, 8.0): simulated
      disturbances of mobile bases' drives (a tray spilled; a base stopped for delay_s).
  blind_skills (bool, false): simulated skills do not check their own grasp/placement.
  camera (str, "overhead"), camera_rate_hz (float, 5.0): the simulated camera (its size
      and pose come from the scene) and how often it publishes (per simulated second).
  joint_state_rate_hz (float, 20.0): /joint_states rate (simulation).
  monitor_mode (str, ""): on | after-skill | off; "" = monitor_config's. Anything but
      off makes the executor wait `verify_s` after the last task for the monitor.
  monitor_config (str, ""): monitor YAML ("" = packaged config/monitor.yaml).
  verify_s (float, 1.5): how long to wait for the monitor's goal check after the plan.
  max_replans (int, 5): re-plans per command before it fails.
  replan_timeout_s (float, 30.0): how long to wait for the planner's re-plan.
  perception_timeout_s (float, 1.0): how long to wait for a fresh perceived state before
      re-planning from the robots' own state instead (logged as a warning).
  max_command_s (float, 600.0): robot-time limit per command.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import time
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Empty, String

from robot_planner.adapters.base import RobotAdapter
from robot_planner.execution.executor import PlanExecutor
from robot_planner.execution.pacing import PacedAdapter
from robot_planner.execution.supervisor import Supervisor
from robot_planner.monitor.config import MonitorConfig, load_monitor_config
from robot_planner.monitor.detector import Misalignment
from robot_planner.nodes import sensors
from robot_planner.nodes.common import (
    CAMERA_INFO,
    CAMERA_PUB_QOS,
    CANCEL,
    COLOR,
    DEPTH,
    GRIPPERS,
    HEARTBEAT,
    JOINT_STATE_QOS,
    JOINT_STATES,
    MISALIGNMENT,
    PERCEPTION,
    PLAN,
    REPLAN,
    STATE,
    STATUS,
    STATUS_QOS,
    TREE,
    DiagnosticsPublisher,
    StatusPublisher,
    config_choices,
    declare,
    heartbeat_qos,
    latched,
    reliable,
    run_node,
    subscribe,
)
from robot_planner.nodes.health import Health, executor_health
from robot_planner.plan.model import TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError, PlanRequest, PlanResult
from robot_planner.service.events import EventError, parse_event
from robot_planner.system import (
    UNMONITORED,
    RobotSystem,
    SystemOptions,
    build_sim_system,
    build_system,
)
from robot_planner.world.facts import Fact, FactError, format_facts

#: Supervisor events -> status states (others are not published).
STATE_OF = {
    "task_started": "task_started",
    "task_succeeded": "task_succeeded",
    "task_failed": "task_failed",
    "task_cancelled": "task_cancelled",
    "misalignment": "misalignment",
    "monitor_degraded": "monitor_degraded",
    "replanned": "replanned",
    "clearing_view": "replanning",
    "verifying": "verifying",
    "plan_succeeded": "done",
    "plan_failed": "failed",
    "plan_cancelled": "cancelled",
}
TREE_PERIOD_S = 0.5


class RemotePlanner:
    """The planner node seen from the execution thread: `replan` publishes a request and
    waits (letting robot time pass, so sensors keep publishing) for the answer."""

    name = "remote"

    def __init__(self, node: ExecutorNode):
        self.node = node

    def plan(self, request: PlanRequest) -> PlanResult:
        raise PlanningError("the executor does not plan new commands")

    def replan(self, request: PlanRequest) -> PlanResult:
        return self.node.request_replan(request)


class ExecutorNode(Node):
    """Owns the robots; one command's plan runs at a time."""

    def __init__(self, name: str = "executor", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        from robot_planner.resources import scene_path
        from robot_planner.world.scene import load_scene

        probability = (0.0, 1.0)
        p = {
            "adapter": declare(
                self, "adapter", "pybullet", "robot adapter", choices=("pybullet", "ros_bindings")
            ),
            "scene": declare(self, "scene", "tabletop", "scene name or YAML path"),
            "domain": declare(self, "domain", "", "domain name or file ('' = the scene's)"),
            "bindings": declare(self, "bindings", "", "ros_bindings YAML ('' = packaged)"),
            "bindings_timeout_s": declare(
                self, "bindings_timeout_s", 5.0, "server wait (s)", limits=(0.0, 600.0)
            ),
            "period_s": declare(
                self, "period_s", 0.05, "tick period (robot seconds)", limits=(0.001, 1.0)
            ),
            "sim_speed": declare(
                self, "sim_speed", 1.0, "simulated s per wall s", limits=(0.01, 100.0)
            ),
            "seed": declare(self, "seed", 0, "simulation seed", limits=(0, 2**31 - 1)),
            "drop_prob": declare(
                self, "drop_prob", 0.0, "simulated drop probability", limits=probability
            ),
            "displace_cm": declare(
                self, "displace_cm", 0.0, "simulated placement noise (cm)", limits=(0.0, 100.0)
            ),
            "spill_prob": declare(
                self, "spill_prob", 0.0, "simulated tray spill probability", limits=probability
            ),
            "delay_prob": declare(
                self, "delay_prob", 0.0, "simulated base delay probability", limits=probability
            ),
            "delay_s": declare(
                self, "delay_s", 8.0, "simulated base delay (s)", limits=(0.0, 3600.0)
            ),
            "blind_skills": declare(self, "blind_skills", False, "skills skip self-checks"),
            "camera": declare(self, "camera", "overhead", "simulated camera (scene name)"),
            "camera_rate_hz": declare(
                self, "camera_rate_hz", 5.0, "camera rate (sim Hz)", limits=(0.1, 60.0)
            ),
            "joint_state_rate_hz": declare(
                self, "joint_state_rate_hz", 20.0, "joint states Hz", limits=(0.1, 1000.0)
            ),
            "monitor_mode": declare(
                self,
                "monitor_mode",
                "",
                "monitor mode ('' = monitor_config's)",
                choices=("", *config_choices(MonitorConfig, "mode")),
            ),
            "monitor_config": declare(self, "monitor_config", "", "monitor YAML ('' = packaged)"),
            "verify_s": declare(
                self, "verify_s", 1.5, "wait for the goal check (s)", limits=(0.0, 60.0)
            ),
            "max_replans": declare(
                self, "max_replans", 5, "re-plans per command", limits=(0, 100)
            ),
            "replan_timeout_s": declare(
                self, "replan_timeout_s", 30.0, "re-plan wait (s)", limits=(0.1, 3600.0)
            ),
            "perception_timeout_s": declare(
                self, "perception_timeout_s", 1.0, "state wait (s)", limits=(0.0, 60.0)
            ),
            "max_command_s": declare(
                self, "max_command_s", 600.0, "robot-time limit (s)", limits=(1.0, 86400.0)
            ),
        }
        self.params = p
        self.scene = load_scene(scene_path(p["scene"]), domain=p["domain"] or None)
        self.catalogue = self.scene.domain.catalogue
        monitor = load_monitor_config(p["monitor_config"] or None)
        self.monitor_mode = p["monitor_mode"] or monitor.mode
        if self.monitor_mode not in ("on", "after-skill", "off"):
            raise ValueError(
                f"monitor_mode must be on, after-skill or off, not {p['monitor_mode']!r}"
            )
        if not p["period_s"] > 0:
            raise ValueError("period_s must be positive")
        self.started_wall = time.time()

        self.status = StatusPublisher(self, "executor")
        self.tree_pub = self.create_publisher(String, TREE, latched())
        self.state_pub = self.create_publisher(String, STATE, latched())
        self.replan_pub = self.create_publisher(String, REPLAN, reliable())
        # Never written to: DDS asserts its liveliness, so the planner notices a kill.
        self.heartbeat_pub = self.create_publisher(Empty, HEARTBEAT, heartbeat_qos())
        self.sim: sensors.SimSensors | None = None
        # The in-process monitor is off: the monitor node watches, and reports here.
        options = SystemOptions(
            max_replans=int(p["max_replans"]),
            period_s=float(p["period_s"]),
            monitor=UNMONITORED,
        )
        if p["adapter"] == "pybullet":
            system = self._make_sim(options)
        elif p["adapter"] == "ros_bindings":
            system = self._make_bindings(options)
        else:
            raise ValueError(f"adapter must be pybullet or ros_bindings, not {p['adapter']!r}")
        speed = float(p["sim_speed"]) if self.sim is not None else 1.0
        #: When the robots were last advanced, and the adapter's errors (/diagnostics).
        self._ticked_at: float | None = None
        self._adapter_errors = 0
        self._last_error: tuple[float, str] | None = None
        #: Set when work arrives (a plan, a re-plan, a cancel, a misalignment): the
        #: execution thread's wait for the wall clock ends at once (see PacedAdapter).
        self._wake = threading.Event()
        # Robot time follows the wall clock here; the system is driven through the pacing.
        paced = PacedAdapter(system.adapter, speed, self._advanced, self._wake)
        self.system = system.with_adapter(paced)  # type: ignore[arg-type]
        self.adapter: RobotAdapter = self.system.adapter

        self._lock = threading.Lock()
        self._plans: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._replies: dict[tuple[str, int], dict[str, Any]] = {}
        self._replan_readback = ""  # the planner node's words for the latest re-plan
        self._replied = threading.Condition()
        self._perception: tuple[float, frozenset[Fact]] | None = None
        self.current: dict[str, Any] | None = None  # {"id", "revision", "command", ...}
        self.supervisor: Supervisor | None = None
        self._seen: set[str] = set()
        self._stop = threading.Event()

        subscribe(self, String, PLAN, self._on_plan, latched())
        subscribe(self, Empty, CANCEL, self._on_cancel, reliable())
        subscribe(self, String, MISALIGNMENT, self._on_misalignment, reliable(100))
        subscribe(self, String, PERCEPTION, self._on_perception, reliable())
        subscribe(self, String, STATUS, self._on_status, STATUS_QOS)
        self._publish_state()
        self.diagnostics = DiagnosticsPublisher(self, self.health)
        self._thread = threading.Thread(target=self._run, name="execution", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"executor ready: adapter {p['adapter']}, monitor {self.monitor_mode}, "
            f"period {p['period_s']} s" + (f", sim speed {speed:g}x" if self.sim else "")
        )

    def _advanced(self, now: float) -> None:
        """After every advance of the robots (PacedAdapter's hook): sensors publish."""
        self._ticked_at = time.monotonic()
        if self.sim is not None:
            self.sim.publish(now)

    def health(self) -> Health:
        """This node's `/diagnostics` status (see `executor_health`)."""
        now = time.monotonic()
        with self._lock:
            current = self.current
        ticked, error = self._ticked_at, self._last_error
        return executor_health(
            adapter=str(self.params["adapter"]),
            running=current["id"] if current is not None else None,
            last_tick_age_s=None if ticked is None else now - ticked,
            adapter_errors=self._adapter_errors,
            last_error_age_s=None if error is None else now - error[0],
            last_error=error[1] if error is not None else "",
        )

    # --- adapters -------------------------------------------------------------------

    def _make_sim(self, options: SystemOptions) -> RobotSystem:
        from robot_planner.sim.disturbances import DisturbanceConfig

        p = self.params
        if p["camera"] not in self.scene.cameras:
            raise ValueError(f"camera {p['camera']!r} is not in scene {self.scene.name}")
        disturbances = DisturbanceConfig(
            drop_prob=float(p["drop_prob"]),
            displace_cm=float(p["displace_cm"]),
            spill_prob=float(p["spill_prob"]),
            delay_prob=float(p["delay_prob"]),
            delay_s=float(p["delay_s"]),
        )
        system = build_sim_system(
            self.scene,
            self.catalogue,
            dataclasses.replace(
                options,
                seed=int(p["seed"]),
                disturbances=disturbances,
                self_check=not p["blind_skills"],
                camera=p["camera"],
            ),
        )
        assert system.simulation is not None  # build_sim_system always has one
        publishers = sensors.SensorPublishers(
            color=self.create_publisher(Image, COLOR, CAMERA_PUB_QOS),
            depth=self.create_publisher(Image, DEPTH, CAMERA_PUB_QOS),
            info=self.create_publisher(CameraInfo, CAMERA_INFO, CAMERA_PUB_QOS),
            joints=self.create_publisher(JointState, JOINT_STATES, JOINT_STATE_QOS),
            grippers=self.create_publisher(String, GRIPPERS, CAMERA_PUB_QOS),
        )
        self.sim = sensors.SimSensors(
            self,
            system.simulation.world,
            system.adapter,
            publishers,
            camera=p["camera"],
            camera_rate_hz=float(p["camera_rate_hz"]),
            joint_rate_hz=float(p["joint_state_rate_hz"]),
        )
        return system

    def _make_bindings(self, options: SystemOptions) -> RobotSystem:
        from robot_planner.adapters.ros_bindings import RosBindingsAdapter, load_bindings
        from robot_planner.resources import share_dir

        path = self.params["bindings"] or share_dir() / "config" / "hardware_bindings.yaml"
        adapter = RosBindingsAdapter(self, load_bindings(path), self.catalogue, self.scene)
        adapter.check(float(self.params["bindings_timeout_s"]))  # fail at start-up, not later
        self._bindings_adapter = adapter
        return build_system(self.scene, self.catalogue, adapter, options)

    # --- subscriptions (ROS threads) ------------------------------------------------

    def _on_plan(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            command_id, revision = str(data["command_id"]), int(data["revision"])
            issued = float(data.get("issued", 0.0))
        except (ValueError, KeyError, TypeError) as exc:
            self.status("", "error", reason=f"malformed plan message: {str(exc)[:200]}")
            return
        if issued < self.started_wall - 1.0:
            # A latched plan from before this executor started: never replay it.
            self.get_logger().info(f"ignoring plan for {command_id} issued before start-up")
            return
        if revision > 0:
            with self._replied:
                self._replies[(command_id, revision)] = data
                self._replied.notify_all()
            self._wake.set()
            return
        if command_id in self._seen:
            return
        self._seen.add(command_id)
        self._plans.put(data)
        self._wake.set()

    def _on_cancel(self, _msg: Empty) -> None:
        with self._lock:
            supervisor, current = self.supervisor, self.current
        if supervisor is not None:
            supervisor.cancel("cancelled by request")
            self._wake.set()
            self.get_logger().warning(f"cancel: halting {current['id'] if current else ''}")
        self._drain("cancelled by request")

    def _drain(self, reason: str) -> None:
        """Plans that arrived but did not start are cancelled too."""
        while True:
            try:
                data = self._plans.get_nowait()
            except queue.Empty:
                return
            if data is not None:
                self.status(data["command_id"], "cancelled", reason=reason)

    def _on_status(self, msg: String) -> None:
        try:
            event = parse_event(msg.data)
        except EventError:
            return
        preempts = event.details.get("preempts") if event.state == "accepted" else None
        if preempts:
            with self._lock:
                supervisor, current = self.supervisor, self.current
            if supervisor is not None and current is not None and current["id"] == preempts:
                supervisor.cancel(f"preempted by {event.command_id}")
                self._wake.set()
        if event.state == "monitor_degraded" and event.details.get("policy") == "fail":
            # The monitor node's VQA failed and the policy is to fail safe: stop now.
            with self._lock:
                supervisor, current = self.supervisor, self.current
            if (
                supervisor is not None
                and current is not None
                and (current["id"] == event.command_id)
            ):
                reason = str(event.details.get("reason", "monitor failed"))[:300]
                supervisor.cancel(f"halted: {reason} (on_vqa_error: fail)", failed=True)
                self._wake.set()

    def _on_misalignment(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            command_id, revision = str(data["command_id"]), int(data["revision"])
            found = Misalignment.from_dict(data["misalignment"])
            facts = (
                self.scene.parse_facts(data["facts"]) if data.get("facts") is not None else None
            )
        except (ValueError, KeyError, TypeError, FactError) as exc:
            self.get_logger().warning(f"ignoring a malformed misalignment: {str(exc)[:200]}")
            return
        with self._lock:
            supervisor, current = self.supervisor, self.current
        if supervisor is None or current is None:
            return
        if current["id"] != command_id or current["revision"] != revision:
            return  # about a plan that is no longer running
        if facts is not None:
            self._perception = (time.monotonic(), facts)
        supervisor.report(found)
        self._wake.set()

    def _on_perception(self, msg: String) -> None:
        try:
            facts = self.scene.parse_facts(json.loads(msg.data)["facts"])
        except (ValueError, KeyError, TypeError, FactError):
            return
        self._perception = (time.monotonic(), facts)

    # --- execution thread -----------------------------------------------------------

    def _run(self) -> None:
        period = float(self.params["period_s"])
        while not self._stop.is_set():
            try:
                data = self._plans.get_nowait()
            except queue.Empty:
                try:
                    self.adapter.advance(period)  # idle: time passes, sensors publish
                except Exception as exc:
                    if self._stop.is_set():
                        return
                    self.get_logger().error(f"robot adapter: {type(exc).__name__}: {exc}")
                    self._adapter_errors += 1
                    self._last_error = (time.monotonic(), f"{type(exc).__name__}: {exc}")
                    time.sleep(period)
                continue
            if data is None:
                return
            try:
                self._execute(data)
            except Exception as exc:  # never let one command kill the robots' thread
                self.get_logger().error(f"execution failed: {type(exc).__name__}: {exc}")
                self.status(data.get("command_id", ""), "error", reason=f"executor: {exc}")
            finally:
                with self._lock:
                    self.supervisor, self.current = None, None
                self._publish_state()

    def _execute(self, data: dict[str, Any]) -> None:
        command_id = data["command_id"]
        if "plan" not in data:
            self.status(command_id, "error", reason=str(data.get("error", "no plan")))
            return
        state = self.adapter.read_state()
        report = validate_plan(data["plan"], self.catalogue, self.scene, state)
        if not report.ok or report.plan is None:
            reason = "; ".join(report.errors[:5]) or "invalid plan"
            self.status(command_id, "error", reason=f"plan rejected by the executor: {reason}")
            return
        plan: TaskPlan = report.plan
        supervisor = self.system.supervisor(
            RemotePlanner(self),
            estimate_state=self._estimate_state,
            listeners=[lambda event: self._forward(command_id, event)],
            external_monitor=self.monitor_mode != "off",
            verify_s=float(self.params["verify_s"]),
            on_tick=self._on_tick,
        )
        with self._lock:
            self.current = {"id": command_id, "revision": 0, "command": plan.command, "plan": plan}
            self.supervisor = supervisor
            self._phases: dict[str, str] = {}
            self._tree_at = 0.0
            self._replan_readback = ""
        self.get_logger().info(f"[{command_id}] executing {len(plan.tasks)} task(s)")
        result = supervisor.run(plan.command, plan, float(self.params["max_command_s"]))
        self._publish_tree(supervisor, force=True)
        del result  # the final status event was forwarded by the listener

    def _forward(self, command_id: str, event: dict[str, Any]) -> None:
        name = event.get("event", "")
        state = STATE_OF.get(name)
        if state is None or (name.startswith("plan_") and not event.get("supervised")):
            return  # the tree's own plan_* events: the supervisor's final one follows
        details = {k: v for k, v in event.items() if k not in ("event", "supervised")}
        details["robot_time"] = details.pop("time", None)
        with self._lock:
            current = self.current
        if current is not None:
            details["revision"] = current["revision"]
        if name == "replanned" and self._replan_readback:
            details["readback"] = self._replan_readback  # the planner node's words
        if state in ("done", "failed", "cancelled"):
            details["facts"] = format_facts(self.adapter.read_state())
            if self.sim is not None:
                details["disturbances"] = self.sim.adapter.events[-20:]
        self.status(command_id, state, **details)

    def _on_tick(self, executor: PlanExecutor) -> None:
        for task_id, record in executor.ledger.records.items():
            if record.phase and self._phases.get(task_id) != record.phase:
                self._phases[task_id] = record.phase
                if self.monitor_mode != "off" and self.current is not None:
                    self.status(
                        self.current["id"],
                        "task_phase",
                        task=task_id,
                        phase=record.phase,
                        revision=self.current["revision"],
                    )
        if time.monotonic() - self._tree_at > TREE_PERIOD_S and self.supervisor is not None:
            self._publish_tree(executor)

    def _publish_tree(self, source: Any, force: bool = False) -> None:
        import py_trees

        root = getattr(source, "root", None)
        if root is None:
            return
        self._tree_at = time.monotonic()
        text = py_trees.display.unicode_tree(root, show_status=True)
        self.tree_pub.publish(String(data=text))

    def _estimate_state(self) -> frozenset[Fact]:
        """Perceived facts newer than this call (the monitor's), waiting up to
        `perception_timeout_s` of robot time; else the robots' own state, with a warning."""
        asked = time.monotonic()
        limit = float(self.params["perception_timeout_s"])
        period = float(self.params["period_s"])
        if self.monitor_mode != "off":
            waited = 0.0
            while waited <= limit:
                seen = self._perception
                if seen is not None and seen[0] >= asked:
                    return seen[1]
                self.adapter.advance(period)
                waited += period
            self.get_logger().warning(
                "no fresh perception from the monitor; re-planning from the robots' state"
            )
        return self.adapter.read_state()

    def request_replan(self, request: PlanRequest) -> PlanResult:
        """Publish a re-plan request and wait for the planner's answer (robot time keeps
        passing, with the robots halted)."""
        with self._lock:
            current, supervisor = self.current, self.supervisor
        if current is None or supervisor is None:
            raise PlanningError("no command is running")
        revision = current["revision"] + 1
        message = {
            "command_id": current["id"],
            "revision": current["revision"],
            "command": request.command,
            "facts": format_facts(request.state),
            "goal": [str(g) for g in request.goal or ()],
            "completed": list(request.completed),
            "failed_task": request.failed_task.model_dump(mode="json")
            if request.failed_task
            else None,
            "evidence": request.evidence,
            "failures": [f.to_dict() for f in request.failures],
        }
        self.status(current["id"], "replanning", reason=request.evidence[:300])
        self.replan_pub.publish(String(data=json.dumps(message, separators=(",", ":"))))
        deadline = time.monotonic() + float(self.params["replan_timeout_s"])
        key = (current["id"], revision)
        while time.monotonic() < deadline:
            with self._replied:
                reply = self._replies.pop(key, None)
            if reply is not None:
                break
            if supervisor._cancel_reason is not None:
                raise PlanningError(supervisor._cancel_reason)
            self.adapter.advance(float(self.params["period_s"]))
        else:
            raise PlanningError(
                f"no re-plan from the planner node within {self.params['replan_timeout_s']} s"
            )
        # The planner counts a revision for every answer, an error too: so must we, or
        # the next request (after the arms clear the view) waits for an answer it has.
        with self._lock:
            if self.current is not None:
                self.current["revision"] = revision
        if "plan" not in reply:
            raise PlanningError(str(reply.get("error", "re-planning failed"))[:500])
        report = validate_plan(reply["plan"], self.catalogue, self.scene, request.state)
        if not report.ok or report.plan is None:
            raise PlanningError(f"re-plan rejected by the executor: {report.errors[:3]}")
        self._phases = {}
        self._replan_readback = str(reply.get("readback", ""))[:300]
        return PlanResult(report.plan, "remote")

    def _publish_state(self) -> None:
        state = {"facts": format_facts(self.adapter.read_state()), "source": "executor"}
        self.state_pub.publish(String(data=json.dumps(state)))

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            if self.supervisor is not None:
                self.supervisor.cancel("executor shutting down")
        self._plans.put(None)
        self._thread.join(timeout=5.0)
        self.system.close()
        bindings = getattr(self, "_bindings_adapter", None)
        if bindings is not None:
            bindings.close()


def _factory() -> ExecutorNode:
    node = ExecutorNode()
    return node


def main(argv: list[str] | None = None) -> int:
    return run_node(_factory, __doc__, argv, threads=4)


if __name__ == "__main__":
    raise SystemExit(main())
