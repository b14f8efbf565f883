"""executor_node: executes plans on the robots, halts on misalignments, asks for re-plans.

Subscribes the plans (``/robot_planner/plan_graph``, robot_planner_interfaces/Plan), the
status events (``/robot_planner/status_events``) and ``/robot_planner/cancel``; validates
each plan (it arrives over the network: untrusted), compiles it into a behaviour tree and
ticks it in a dedicated execution thread at ``period_s``, supervised by the ROS-free
`Supervisor` (halt, re-plan, resume). Misalignments come from the monitor node on
``/robot_planner/misalignment`` (robot_planner_interfaces/Misalignment); re-plans are
requested on ``/robot_planner/replan`` (robot_planner_interfaces/ReplanRequest) with the
perceived state (``/robot_planner/perception``, robot_planner_interfaces/Perception) and
answered by the planner with the next plan revision. Publishes status events, tree
snapshots (``/robot_planner/tree``) and the world state (``/robot_planner/state``,
robot_planner_interfaces/WorldState). In simulation it also publishes the camera
(``/camera/color/image_raw``, ``/camera/depth/image_raw``, ``/camera/color/camera_info``),
the grippers (``/robot_planner/grippers``, robot_planner_interfaces/Proprioception) and
``/joint_states``.

The rules (plan queue, cancel and pre-emption, the re-plan exchange, perceived state,
the execution thread) live in the ROS-free `ExecutionService`
(robot_planner.service.execution_service); this node only adapts messages, parameters,
publishers and timers to it.

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
  camera_process (bool, false): render the simulated camera in a child process
      (`AsyncCamera`): TinyRenderer's ~120 ms a frame then no longer holds this
      process's interpreter, so cancels and plans are not delayed by it; frames come a
      render later, stamped with the moment they show.
  joint_state_rate_hz (float, 20.0): /joint_states rate (simulation).
  monitor_mode (str, ""): on | after-skill | off; "" = monitor_config's. Anything but
      off makes the executor wait `verify_s` after the last task for the monitor.
  monitor_config (str, ""): monitor YAML ("" = packaged config/monitor.yaml).
  verify_s (float, 1.5): how long to wait for the monitor's goal check after the plan.
  max_replans (int, 5): re-plans in a row without progress (no plan shorter than the
      shortest so far) before the command fails; never more than 3x this in all.
  replan_timeout_s (float, 30.0): how long to wait for the planner's re-plan.
  perception_timeout_s (float, 1.0): how long to wait for a fresh perceived state before
      re-planning from the robots' own state instead (logged as a warning).
  max_command_s (float, 600.0): robot-time limit per command.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Empty, String

from robot_planner.adapters.base import RobotAdapter
from robot_planner.execution.pacing import PacedAdapter
from robot_planner.monitor.config import MonitorConfig, load_monitor_config
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
    PLAN_GRAPH,
    REPLAN,
    STATE,
    STATUS_EVENTS,
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
from robot_planner.nodes.typed import (
    misalignment_from_msg,
    perception_facts,
    plan_from_msg,
    replan_request_msg,
    status_from_msg,
    world_state_msg,
)
from robot_planner.service.events import EventError
from robot_planner.service.execution_service import ExecutionService, ExecutionSettings
from robot_planner.system import (
    UNMONITORED,
    RobotSystem,
    SystemOptions,
    build_sim_system,
    build_system,
)
from robot_planner.world.facts import FactError
from robot_planner_interfaces.msg import Misalignment as MisalignmentMsg
from robot_planner_interfaces.msg import Perception, Proprioception, ReplanRequest, WorldState
from robot_planner_interfaces.msg import Plan as PlanMsg
from robot_planner_interfaces.msg import StatusEvent as StatusEventMsg


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
            "camera_process": declare(
                self, "camera_process", False, "render the camera in a child process"
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
                self, "max_replans", 5, "re-plans in a row without progress", limits=(0, 100)
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
        self.state_pub = self.create_publisher(WorldState, STATE, latched())
        self.replan_pub = self.create_publisher(ReplanRequest, REPLAN, reliable())
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
        #: When the robots were last advanced (/diagnostics).
        self._ticked_at: float | None = None
        #: Set when work arrives (a plan, a re-plan, a cancel, a misalignment): the
        #: execution thread's wait for the wall clock ends at once (see PacedAdapter).
        wake = threading.Event()
        # Robot time follows the wall clock here; the system is driven through the pacing.
        paced = PacedAdapter(system.adapter, speed, self._advanced, wake)
        self.system = system.with_adapter(paced)  # type: ignore[arg-type]
        self.adapter: RobotAdapter = self.system.adapter
        sim = self.sim
        self.service = ExecutionService(
            system=self.system,
            settings=ExecutionSettings(
                monitored=self.monitor_mode != "off",
                verify_s=float(p["verify_s"]),
                max_command_s=float(p["max_command_s"]),
                replan_timeout_s=float(p["replan_timeout_s"]),
                perception_timeout_s=float(p["perception_timeout_s"]),
            ),
            status=self.status,
            publish_replan=self._publish_replan,
            publish_state=self._publish_state,
            publish_tree=self._publish_tree,
            wake=wake,
            started=self.started_wall,
            disturbances=(lambda: sim.adapter.events) if sim is not None else None,
            log=self.get_logger(),
        )

        subscribe(self, PlanMsg, PLAN_GRAPH, self._on_plan, latched())
        subscribe(self, Empty, CANCEL, self._on_cancel, reliable())
        subscribe(self, MisalignmentMsg, MISALIGNMENT, self._on_misalignment, reliable(100))
        subscribe(self, Perception, PERCEPTION, self._on_perception, reliable())
        subscribe(self, StatusEventMsg, STATUS_EVENTS, self._on_status, STATUS_QOS)
        self.service.publish_state()
        self.diagnostics = DiagnosticsPublisher(self, self.health)
        self.service.start()
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
        ticked = self._ticked_at
        snapshot = self.service.snapshot()
        return executor_health(
            adapter=str(self.params["adapter"]),
            running=snapshot.running,
            last_tick_age_s=None if ticked is None else time.monotonic() - ticked,
            adapter_errors=snapshot.adapter_errors,
            last_error_age_s=snapshot.last_error_age_s,
            last_error=snapshot.last_error,
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
            grippers=self.create_publisher(Proprioception, GRIPPERS, CAMERA_PUB_QOS),
        )
        self.sim = sensors.SimSensors(
            self,
            system.simulation.world,
            system.adapter,
            publishers,
            camera=p["camera"],
            camera_rate_hz=float(p["camera_rate_hz"]),
            joint_rate_hz=float(p["joint_state_rate_hz"]),
            camera_process=bool(p["camera_process"]),
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

    # --- messages in (ROS threads) ------------------------------------------------

    # Named callbacks, not lambdas: `subscribe` logs a callback's failure by its name.
    def _on_plan(self, msg: PlanMsg) -> None:
        self.service.plan_message(plan_from_msg(msg))

    def _on_cancel(self, _msg: Empty) -> None:
        self.service.cancel_all()

    def _on_status(self, msg: StatusEventMsg) -> None:
        try:
            event = status_from_msg(msg)
        except EventError:
            return
        self.service.status_event(event)

    def _on_misalignment(self, msg: MisalignmentMsg) -> None:
        try:
            report = misalignment_from_msg(msg)
            facts = self.scene.parse_facts(report.facts) if report.facts is not None else None
        except (ValueError, KeyError, TypeError, FactError) as exc:
            self.get_logger().warning(f"ignoring a malformed misalignment: {str(exc)[:200]}")
            return
        self.service.misalignment(report.command_id, report.revision, report.misalignment, facts)

    def _on_perception(self, msg: Perception) -> None:
        try:
            facts = self.scene.parse_facts(perception_facts(msg))
        except (ValueError, KeyError, TypeError, FactError):
            return
        self.service.perception(facts)

    # --- messages out ---------------------------------------------------------------

    def _publish_replan(self, message: dict[str, Any]) -> None:
        self.replan_pub.publish(replan_request_msg(message, time.time()))

    def _publish_state(self, state: dict[str, Any]) -> None:
        self.state_pub.publish(world_state_msg(state, time.time()))

    def _publish_tree(self, text: str) -> None:
        self.tree_pub.publish(String(data=text))

    def close(self) -> None:
        self.service.close()
        if self.sim is not None:
            self.sim.close()
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
