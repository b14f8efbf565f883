"""What every node shares: topic names, QoS profiles, status events, and `run_node`.

Topics (all std_msgs unless noted; "typed" ones are robot_planner_interfaces messages,
converted in `robot_planner.nodes.typed`; JSON payloads documented in
docs/ros_interface.md). The nodes read the typed topics; a "JSON mirror" carries the same
as JSON text for ``ros2 topic echo`` and existing tools, and no node reads it:

===============================  ======================  ==========================
``/robot_planner/command``       String (text or JSON)   reliable, depth 1000
``/robot_planner/plan_graph``    Plan (typed)            reliable, transient local
``/robot_planner/plan``          String (JSON mirror)    reliable, transient local
``/robot_planner/status_events`` StatusEvent (typed)     reliable, depth 1000
``/robot_planner/status``        String (JSON mirror)    reliable, depth 1000
``/robot_planner/cancel``        Empty                   reliable, depth 10
``/robot_planner/tree``          String (ascii)          reliable, transient local
``/robot_planner/replan``        ReplanRequest (typed)   reliable, depth 10
``/robot_planner/misalignment``  Misalignment (typed)    reliable, depth 100
``/robot_planner/perception``    Perception (typed)      reliable, depth 10
``/robot_planner/state``         WorldState (typed)      reliable, transient local
``/robot_planner/grippers``      Proprioception (typed)  reliable, depth 2 (sim)
``/robot_planner/audio``         UInt8MultiArray         reliable, depth 10
``/camera/...``                   sensor_msgs             reliable, depth 2 (sim)
``/joint_states``                sensor_msgs/JointState  reliable, depth 10
``/diagnostics``                 diagnostic_msgs/        reliable, depth 10, 1 Hz
                                 DiagnosticArray
===============================  ======================  ==========================

Actions and services (robot_planner_interfaces):

===============================  ======================================================
``/robot_planner/execute``       action ExecuteCommand: one command, feedback, result
``/robot_planner/get_state``     service GetState: the planner's state, a command's outcome
===============================  ======================================================

``/robot_planner/cancel_command`` (std_msgs/String, reliable, depth 10) cancels one command
by id, a goal's or a text command's.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, get_args

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from std_msgs.msg import String

from robot_planner.nodes.health import Health, Level
from robot_planner.service.events import StatusEvent, make_event

NS = "/robot_planner"
COMMAND = f"{NS}/command"
#: Plans as JSON text: a human-readable mirror of `PLAN_GRAPH`. No node reads it.
PLAN = f"{NS}/plan"
#: Status events as JSON text: a human-readable mirror of `STATUS_EVENTS` for
#: ``ros2 topic echo`` and existing tools. No node reads it.
STATUS = f"{NS}/status"
#: Status events as robot_planner_interfaces/StatusEvent: what the nodes and the CLI read.
STATUS_EVENTS = f"{NS}/status_events"
#: Plans as robot_planner_interfaces/Plan: what the executor and the monitor read.
PLAN_GRAPH = f"{NS}/plan_graph"
CANCEL = f"{NS}/cancel"
#: One command by id (a goal's or a text command's): waiting ones are dropped, the
#: running one halts the robots; `CANCEL` is everything.
CANCEL_COMMAND = f"{NS}/cancel_command"
#: The planner's `ExecuteCommand` action server and `GetState` service.
EXECUTE = f"{NS}/execute"
GET_STATE = f"{NS}/get_state"
TREE = f"{NS}/tree"
REPLAN = f"{NS}/replan"
MISALIGNMENT = f"{NS}/misalignment"
PERCEPTION = f"{NS}/perception"
STATE = f"{NS}/state"
GRIPPERS = f"{NS}/grippers"
AUDIO = f"{NS}/audio"
#: Published by the executor only for its DDS liveliness: the planner learns within
#: `HEARTBEAT_LEASE_S` that an executor was killed (a dead participant otherwise stays
#: in the ROS graph for the DDS lease, ~20 s).
HEARTBEAT = f"{NS}/executor_heartbeat"
HEARTBEAT_LEASE_S = 1.0
COLOR = "/camera/color/image_raw"
DEPTH = "/camera/depth/image_raw"
CAMERA_INFO = "/camera/color/camera_info"
JOINT_STATES = "/joint_states"
#: Node health (diagnostic_msgs/DiagnosticArray, reliable, depth 10), once a second.
DIAGNOSTICS = "/diagnostics"
DIAGNOSTICS_PERIOD_S = 1.0


def config_choices(model: Any, field: str) -> tuple[str, ...]:
    """The values a config model's `Literal` field allows: a node parameter that overrides
    the field offers the same choices, whatever the config module adds later."""
    return tuple(get_args(model.model_fields[field].annotation))


class DiagnosticsPublisher:
    """Publishes `status()` (a `Health`) on ``/diagnostics`` every `period_s` as a
    ``DiagnosticArray`` with one ``DiagnosticStatus`` named ``robot_planner/<node>``,
    as ROS 2 drivers do, so ``rqt_robot_monitor`` and aggregators see every node."""

    def __init__(
        self, node: Node, status: Callable[[], Health], period_s: float = DIAGNOSTICS_PERIOD_S
    ) -> None:
        self.node = node
        self.status = status
        self.name = f"robot_planner/{node.get_name()}"
        self.publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS, reliable(10))
        self.timer = node.create_timer(period_s, self.publish)

    def message(self, health: Health) -> DiagnosticArray:
        status = DiagnosticStatus(
            level=bytes([int(health.level)]),
            name=self.name,
            message=health.message,
            hardware_id=self.node.get_fully_qualified_name(),
            values=[KeyValue(key=k, value=v) for k, v in health.values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.node.get_clock().now().to_msg()
        return array

    def publish(self) -> None:
        try:
            health = self.status()
        except Exception as exc:  # a bug in the report must say so, not kill the timer
            health = Health(Level.ERROR, f"health report failed: {type(exc).__name__}: {exc}")
        try:
            self.publisher.publish(self.message(health))
        except Exception as exc:  # the context is shutting down (Ctrl-C)
            logging.getLogger(__name__).debug("diagnostics not published: %s", exc)


def reliable(depth: int = 10) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE
    )


def latched() -> QoSProfile:
    """Reliable + transient local: late joiners get the last message (plan, tree)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )


def heartbeat_qos() -> QoSProfile:
    """Automatic liveliness with a short lease (publisher and subscriber must match)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        liveliness=LivelinessPolicy.AUTOMATIC,
        liveliness_lease_duration=Duration(seconds=HEARTBEAT_LEASE_S),
    )


COMMAND_QOS = reliable(1000)
STATUS_QOS = reliable(1000)
SENSOR_QOS = qos_profile_sensor_data
#: The simulated camera publishes reliably (a reliable publisher serves best-effort and
#: reliable subscribers alike): best-effort 300 KB depth images were lost more often than
#: not over FastDDS on one host (13 of 30 arrived). The monitor's `camera_qos` parameter
#: picks what it asks for: `reliable` (simulation) or `sensor_data` (most drivers).
CAMERA_PUB_QOS = reliable(2)


#: `/joint_states` as ROS 2 drivers publish it: ros2_control's joint_state_broadcaster
#: (SystemDefaultsQoS, reliable with every DDS) and joint_state_publisher (depth 10) are
#: reliable and volatile, so a subscriber with the default QoS gets it; so does a
#: best-effort one such as robot_state_publisher's (SensorDataQoS). Subscribers here use
#: it too: they only ever listen to this package's own (reliable) publisher.
JOINT_STATE_QOS = reliable(10)


def camera_qos(name: str) -> QoSProfile:
    if name == "reliable":
        return reliable(2)
    if name == "sensor_data":
        return qos_profile_sensor_data
    raise ValueError(f"camera_qos must be reliable or sensor_data, not {name!r}")


class StatusPublisher:
    """Publishes status events from one node (`source`), and logs the notable ones."""

    def __init__(self, node: Node, source: str):
        from robot_planner_interfaces.msg import StatusEvent as StatusEventMsg

        self.node = node
        self.source = source
        #: The JSON mirror (`STATUS`), for people and existing tools.
        self.publisher = node.create_publisher(String, STATUS, STATUS_QOS)
        #: What the nodes read (robot_planner.nodes.typed converts).
        self.typed = node.create_publisher(StatusEventMsg, STATUS_EVENTS, STATUS_QOS)

    def __call__(self, command_id: str, state: str, **details: Any) -> StatusEvent:
        from robot_planner.nodes.typed import status_msg

        event = make_event(command_id, state, self.source, details)
        try:
            self.typed.publish(status_msg(event))
            self.publisher.publish(String(data=event.to_json()))
        except Exception as exc:  # the context is shutting down (Ctrl-C)
            logging.getLogger(__name__).warning("status not published: %s: %s", state, exc)
            return event
        if state in ("error", "failed", "rejected", "monitor_degraded"):
            self.node.get_logger().warning(
                f"[{command_id or '-'}] {state}: {details.get('reason', '')}"
            )
        elif state not in ("task_phase", "task_started", "task_succeeded"):
            self.node.get_logger().info(f"[{command_id or '-'}] {state}")
        return event


def guarded(node: Node, callback: Callable[[Any], None]) -> Callable[[Any], None]:
    """A subscription callback that logs an unexpected exception instead of killing the
    node: one bad message must not take the robots' supervisor down."""

    def call(msg: Any) -> None:
        try:
            callback(msg)
        except Exception as exc:
            node.get_logger().error(
                f"{getattr(callback, '__name__', 'callback')}: {type(exc).__name__}: {exc}"
            )

    return call


def subscribe(node: Node, msg_type: Any, topic: str, callback: Any, qos: Any) -> Any:
    """`create_subscription` with a `guarded` callback."""
    return node.create_subscription(msg_type, topic, guarded(node, callback), qos)


def declare(
    node: Node,
    name: str,
    default: Any,
    description: str,
    *,
    limits: tuple[float, float] | None = None,
    choices: Sequence[str] | None = None,
    constraints: str = "",
    read_only: bool = True,
) -> Any:
    """Declare a parameter with a descriptor (Nav2 style); return its value as the
    default's type.

    Parameter files and ``-p`` values are YAML, where ``off`` is a boolean and ``2`` an
    integer: ``monitor_mode: off`` or ``sim_speed: 2`` would otherwise stop the node with
    a type error. The parameter is declared dynamically typed and the value coerced;
    what cannot be coerced is a `ValueError` naming the parameter.

    `limits` (inclusive) become the descriptor's integer or floating point range and
    `choices` its ``additional_constraints`` (``one of: ...``), so ``ros2 param describe``
    shows them; both are checked here on the coerced value, because rclpy checks a range
    only when the value already has the range's type (a YAML ``2`` for a float would slip
    through), and a value out of range is a `ValueError`, one line at start-up.
    `read_only` is the default: the nodes read their parameters once, at start-up, so a
    change at run time would be accepted and then silently ignored.
    """
    node.declare_parameter(
        name, default, ParameterDescriptor(description=description, dynamic_typing=True)
    )
    value = coerce(name, node.get_parameter(name).value, default)
    descriptor = parameter_descriptor(
        description, default, limits=limits, choices=choices, constraints=constraints
    )
    check_parameter(name, value, limits=limits, choices=choices)
    descriptor.read_only = read_only
    node.set_descriptor(name, descriptor)
    return value


def parameter_descriptor(
    description: str,
    default: Any,
    *,
    limits: tuple[float, float] | None = None,
    choices: Sequence[str] | None = None,
    constraints: str = "",
) -> ParameterDescriptor:
    """The descriptor `declare` gives a parameter (dynamically typed, see `declare`)."""
    descriptor = ParameterDescriptor(description=description, dynamic_typing=True)
    if limits is not None:
        low, high = limits
        if isinstance(default, int) and not isinstance(default, bool):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high))]
        else:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high))
            ]
    notes = []
    if choices is not None:
        notes.append("one of: " + ", ".join(_shown_choice(c) for c in choices))
    if constraints:
        notes.append(constraints)
    descriptor.additional_constraints = "; ".join(notes)
    return descriptor


def _shown_choice(choice: str) -> str:
    return "''" if choice == "" else choice


def check_parameter(
    name: str,
    value: Any,
    *,
    limits: tuple[float, float] | None = None,
    choices: Sequence[str] | None = None,
) -> None:
    """Raise a one-line `ValueError` when `value` is outside `limits` or `choices`."""
    if limits is not None:
        low, high = limits
        if not (isinstance(value, (int, float)) and low <= value <= high):
            raise ValueError(f"parameter {name}: must be in [{low:g}, {high:g}], not {value!r}")
    if choices is not None and value not in choices:
        shown = ", ".join(_shown_choice(c) for c in choices)
        raise ValueError(f"parameter {name}: must be one of {shown}, not {str(value)[:40]!r}")


def coerce(name: str, value: Any, default: Any) -> Any:
    """`value` as the type of `default` (see `declare`)."""
    kind = type(default)
    if value is None or (
        isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    ):
        return default if value is None else value
    if kind is str:
        if isinstance(value, bool):  # YAML 1.1: on/off/yes/no/true/false
            return ("on" if value else "off") if name.endswith("mode") else str(value).lower()
        if isinstance(value, (int, float)):
            return str(value)
    elif kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    elif kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    elif kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"parameter {name}: expected {kind.__name__}, got {value!r}")


def run_node(
    factory: Callable[[], Node],
    doc: str | None,
    argv: Sequence[str] | None = None,
    *,
    threads: int = 2,
) -> int:
    """Start rclpy, spin the node until Ctrl-C, shut down cleanly.

    `--help` prints the node's docstring (its parameters) without starting ROS. A
    start-up error (`ValueError`/`RuntimeError` from the factory: bad parameters, a
    missing action server) is one line on stderr and exit code 2, not a traceback.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    args = list(sys.argv if argv is None else argv)
    if any(a in ("-h", "--help") for a in args[1:] if a != "--ros-args"):
        print((doc or "").strip())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    rclpy.init(args=args)
    node = None
    try:
        try:
            node = factory()
        except Exception as exc:  # bad parameters, files, missing servers: one line
            print(f"error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
            return 2
        # A node whose callbacks may wait (the planner's action goals, one thread each
        # until their command ends) says how many threads it needs.
        threads = max(threads, int(getattr(node, "executor_threads", 0)))
        executor = MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
        with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):
            executor.spin()
        return 0
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
