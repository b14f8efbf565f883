"""Command-to-plan, command-to-first-motion and cancel-to-stop latency over DDS.

Starts `robot-planner bringup --sim` in a private ROS domain (a separate process group,
as a user would), then from this process publishes commands on
``/robot_planner/command`` and times, per command: the `accepted` and `planned` status
events, the executor's first `task_started`, and the first ``/joint_states`` message in
which a joint moves faster than `MOVING_RAD_S`. Once a joint moves faster than
`CANCEL_AT_RAD_S`, the command is cancelled on ``/robot_planner/cancel``, timing the
`cancelled` event and the first ``/joint_states`` message in which every joint is below
`MOVING_RAD_S` again (the arms stopped); the next command starts from a quiet system.
Last, one command is sent as an ``ExecuteCommand`` goal and its feedback counted for
`FEEDBACK_WINDOW_S` (feedback follows the command's status events, so its rate is the
events' rate), then the goal is cancelled.

``/joint_states`` is published at `JOINT_RATE_HZ` here (the default configuration has
20 Hz, a 50 ms resolution for intervals of 100-200 ms). All clocks are this machine's.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MOVING_RAD_S = 0.05
#: A command is cancelled once a joint moves this fast (the stop is timed from a motion).
CANCEL_AT_RAD_S = 0.2
#: /joint_states rate asked of the simulation: the resolution of motion and stop times.
JOINT_RATE_HZ = 100.0
#: How long the action goal's feedback is counted before the goal is cancelled.
FEEDBACK_WINDOW_S = 8.0
KEYS = (
    "accepted_ms",
    "planned_ms",
    "planner_ms",
    "task_started_ms",
    "first_motion_ms",
    "start_to_motion_ms",
    "cancelled_ms",
    "stopped_ms",
)
COMMANDS = (
    "put the red block in the left bin",
    "put the red block in the center zone",
    "put the yellow block in the right bin",
    "put the yellow block in the center zone",
)


@dataclass
class Sample:
    command: str
    accepted_ms: float | None = None
    planned_ms: float | None = None
    task_started_ms: float | None = None
    first_motion_ms: float | None = None
    planner_ms: float | None = None
    #: First task started -> first joint motion: the executor's and the skill's share.
    start_to_motion_ms: float | None = None
    #: Cancel published -> `cancelled` event; -> every joint below `MOVING_RAD_S`.
    cancelled_ms: float | None = None
    stopped_ms: float | None = None


@dataclass
class FeedbackSample:
    """An action goal's feedback: how many, over how long, the longest silence."""

    messages: int = 0
    seconds: float = 0.0
    max_gap_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        rate = self.messages / self.seconds if self.seconds > 0 else None
        return {
            "messages": self.messages,
            "seconds": round(self.seconds, 2),
            "per_s": round(rate, 2) if rate is not None else None,
            "max_gap_ms": round(self.max_gap_ms, 1) if self.max_gap_ms is not None else None,
        }


def _stats(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    values = sorted(values)
    return {
        "n": len(values),
        "median": round(statistics.median(values), 1),
        "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 1),
        "max": round(values[-1], 1),
    }


@dataclass
class LatencyReport:
    samples: list[Sample] = field(default_factory=list)
    feedback: FeedbackSample | None = None
    load: tuple[float, float, float] | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"commands": len(self.samples)}
        for key in KEYS:
            out[key] = _stats([v for s in self.samples if (v := getattr(s, key)) is not None])
        out["feedback"] = self.feedback.to_dict() if self.feedback is not None else None
        out["joint_state_hz"] = JOINT_RATE_HZ
        out["load_average"] = list(self.load) if self.load is not None else None
        return out


def _bringup(domain: int, extra: list[str]) -> subprocess.Popen:
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "robot_planner.cli", "bringup", "--sim", "--voice", "false"]
    return subprocess.Popen(
        [*command, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def measure(
    commands: int = 20,
    domain: int | None = None,
    journal: str = "",
    settings: Sequence[str] = (),
) -> LatencyReport:
    """Run the measurement; raise RuntimeError with one line if the system never comes up.

    `settings` are extra ``NODE.PARAM=VALUE`` for the bring-up (what is being compared,
    e.g. ``executor.camera_process=true``)."""
    if domain is None:
        from robot_planner.testing.isolation import reserved_domain

        with reserved_domain() as reserved:  # no other test or bench run uses it meanwhile
            return _measure(commands, reserved, journal, settings)
    return _measure(commands, domain, journal, settings)


def _measure(
    commands: int, domain: int, journal: str, settings: Sequence[str] = ()
) -> LatencyReport:
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Empty, String

    from robot_planner.nodes import common
    from robot_planner.service.events import parse_event
    from robot_planner_interfaces.action import ExecuteCommand

    extra = ["--set", f"executor.joint_state_rate_hz={JOINT_RATE_HZ:g}"]
    if journal:
        extra += ["--set", f"planner.journal={journal}"]
    for setting in settings:
        extra += ["--set", setting]
    process = _bringup(domain, extra)
    lines: list[str] = []
    threading.Thread(
        target=lambda: [lines.append(line) for line in process.stdout],  # type: ignore[union-attr]
        daemon=True,
    ).start()
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node("latency_probe", context=context)
    events: list[Any] = []
    #: (arrival time, fastest joint speed) of every /joint_states message.
    joints: list[tuple[float, float]] = []
    lock = threading.Lock()

    def on_status(msg: String) -> None:
        event = parse_event(msg.data)
        with lock:
            events.append((time.time(), event))

    def on_joints(msg: JointState) -> None:
        fastest = max((abs(v) for v in msg.velocity), default=0.0)
        with lock:
            joints.append((time.time(), fastest))

    node.create_subscription(String, common.STATUS, on_status, common.STATUS_QOS)
    node.create_subscription(JointState, common.JOINT_STATES, on_joints, common.JOINT_STATE_QOS)
    command_pub = node.create_publisher(String, common.COMMAND, common.COMMAND_QOS)
    cancel_pub = node.create_publisher(Empty, common.CANCEL, common.reliable())
    action = ActionClient(node, ExecuteCommand, common.EXECUTE)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    stop = threading.Event()
    spinner = threading.Thread(
        target=lambda: [executor.spin_once(timeout_sec=0.02) for _ in iter(stop.is_set, True)],
        daemon=True,
    )
    spinner.start()
    report = LatencyReport(load=os.getloadavg())
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            command_pub.get_subscription_count() and cancel_pub.get_subscription_count() >= 2
        ):
            if process.poll() is not None:
                raise RuntimeError("bring-up exited:\n" + "".join(lines[-20:]))
            time.sleep(0.1)
        time.sleep(2.0)  # discovery of our status subscription; the camera warms up
        for index in range(commands):
            text = COMMANDS[index % len(COMMANDS)]
            command_id = f"lat{index:03d}"
            with lock:
                events.clear()
                joints.clear()
            sample = Sample(text)
            sent = time.time()
            command_pub.publish(String(data=json.dumps({"id": command_id, "text": text})))
            limit = time.monotonic() + 20
            while time.monotonic() < limit:
                with lock:
                    mine = [e for _, e in events if e.command_id == command_id]
                    motion = [t for t, v in joints if t > sent and v > MOVING_RAD_S]
                for event in mine:
                    ms = 1000.0 * (event.time - sent)
                    if event.state == "accepted" and sample.accepted_ms is None:
                        sample.accepted_ms = ms
                    elif event.state == "planned" and sample.planned_ms is None:
                        sample.planned_ms = ms
                        sample.planner_ms = 1000.0 * float(event.details.get("latency_s", 0))
                    elif event.state == "task_started" and sample.task_started_ms is None:
                        sample.task_started_ms = ms
                if motion and sample.first_motion_ms is None:
                    sample.first_motion_ms = 1000.0 * (motion[0] - sent)
                if sample.first_motion_ms is not None or any(e.final for e in mine):
                    break
                time.sleep(0.005)
            if sample.first_motion_ms is not None and sample.task_started_ms is not None:
                sample.start_to_motion_ms = sample.first_motion_ms - sample.task_started_ms
            # Cancel once an arm clearly moves: just past MOVING_RAD_S it may be slower than
            # that again a moment later, and the stop would look instant.
            limit = time.monotonic() + 3.0
            while sample.first_motion_ms is not None and time.monotonic() < limit:
                with lock:
                    if any(t > sent and v > CANCEL_AT_RAD_S for t, v in joints):
                        break
                time.sleep(0.005)
            cancelled_at = time.time()
            cancel_pub.publish(Empty())
            _time_the_stop(sample, command_id, cancelled_at, events, joints, lock)
            report.samples.append(sample)
            time.sleep(0.5)
        with contextlib.suppress(Exception):  # an old bring-up without the action
            report.feedback = _feedback(action, COMMANDS[0], FEEDBACK_WINDOW_S)
        return report
    finally:
        stop.set()
        spinner.join(timeout=2.0)
        action.destroy()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        stop_process(process)


def _time_the_stop(
    sample: Sample,
    command_id: str,
    cancelled_at: float,
    events: list[Any],
    joints: list[tuple[float, float]],
    lock: threading.Lock,
) -> None:
    """Wait (bounded) for the command's final event; record when it was `cancelled` and
    when /joint_states first showed every joint below `MOVING_RAD_S` after the cancel."""
    limit = time.monotonic() + 20
    while time.monotonic() < limit:
        with lock:
            final = [e for _, e in events if e.command_id == command_id and e.final]
            still = [t for t, v in joints if t > cancelled_at and v <= MOVING_RAD_S]
        if final and sample.cancelled_ms is None and final[0].state == "cancelled":
            sample.cancelled_ms = 1000.0 * (final[0].time - cancelled_at)
        if still and sample.stopped_ms is None and sample.first_motion_ms is not None:
            sample.stopped_ms = 1000.0 * (still[0] - cancelled_at)
        if final and (still or sample.first_motion_ms is None):
            return
        time.sleep(0.005)


def _feedback(action: Any, text: str, window_s: float) -> FeedbackSample:
    """Send `text` as an ExecuteCommand goal, count its feedback for `window_s` (or until
    its result), then cancel it and wait (bounded) for the result."""
    from robot_planner_interfaces.action import ExecuteCommand

    if not action.wait_for_server(timeout_sec=10.0):
        raise RuntimeError("no ExecuteCommand action server")
    arrivals: list[float] = []
    goal = ExecuteCommand.Goal(command=text, source="bench")
    sent = time.monotonic()
    future = action.send_goal_async(
        goal, feedback_callback=lambda _m: arrivals.append(time.monotonic())
    )
    _wait(future, 10.0)
    handle = future.result()
    if handle is None or not handle.accepted:
        raise RuntimeError("the goal was not accepted")
    result = handle.get_result_async()
    end = sent + window_s
    while time.monotonic() < end and not result.done():
        time.sleep(0.02)
    seconds = time.monotonic() - sent
    counted = [t for t in arrivals if t <= sent + seconds]
    if not result.done():
        _wait(handle.cancel_goal_async(), 10.0)
        _wait(result, 20.0)
    points = [sent, *counted]
    gaps = [1000.0 * (b - a) for a, b in itertools.pairwise(points)]
    return FeedbackSample(len(counted), seconds, max(gaps) if gaps else None)


def _wait(future: Any, timeout: float) -> None:
    limit = time.monotonic() + timeout
    while not future.done() and time.monotonic() < limit:
        time.sleep(0.01)


def stop_process(process: subprocess.Popen) -> None:
    """Ctrl-C a node process (it journals and stops its robots), killing it after 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def markdown(summary: dict[str, Any]) -> str:
    rows = [
        ("command -> accepted event", "accepted_ms"),
        ("command -> planned event (offline planner)", "planned_ms"),
        ("  of which planning itself", "planner_ms"),
        ("command -> first task started", "task_started_ms"),
        ("command -> first joint motion (/joint_states)", "first_motion_ms"),
        ("  first task started -> first joint motion", "start_to_motion_ms"),
        ("cancel -> cancelled event", "cancelled_ms"),
        ("cancel -> arms stopped (/joint_states)", "stopped_ms"),
    ]
    load = summary.get("load_average")
    lines = [
        f"Latency over DDS, {summary['commands']} command(s), bring-up in a separate process"
        + (f", load average {load[0]:.2f}" if load else "")
        + f", /joint_states at {summary.get('joint_state_hz', 20):g} Hz:",
        "",
        "| interval | n | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in rows:
        value = summary.get(key)
        if value is None:
            lines.append(f"| {label} | 0 | - | - | - |")
        else:
            lines.append(
                f"| {label} | {value['n']} | {value['median']} | {value['p95']} | {value['max']} |"
            )
    feedback = summary.get("feedback")
    if feedback:
        lines += [
            "",
            f"Action feedback: {feedback['messages']} message(s) in {feedback['seconds']} s "
            f"({feedback['per_s']}/s), longest gap {feedback['max_gap_ms']} ms.",
        ]
    return "\n".join(lines)
