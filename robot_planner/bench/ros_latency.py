"""Command-to-plan and command-to-first-motion latency over DDS.

Starts `robot-planner bringup --sim` in a private ROS domain (a separate process group,
as a user would), then from this process publishes commands on
``/robot_planner/command`` and times, per command: the `accepted` and `planned` status
events, the executor's first `task_started`, and the first ``/joint_states`` message in
which a joint moves faster than `MOVING_RAD_S`. Each command is cancelled once the arm
moves, so the next starts from a quiet system. All clocks are this machine's.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

MOVING_RAD_S = 0.05
KEYS = ("accepted_ms", "planned_ms", "planner_ms", "task_started_ms", "first_motion_ms")
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


@dataclass
class LatencyReport:
    samples: list[Sample] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"commands": len(self.samples)}
        for key in (
            "accepted_ms",
            "planned_ms",
            "planner_ms",
            "task_started_ms",
            "first_motion_ms",
        ):
            values = sorted(v for s in self.samples if (v := getattr(s, key)) is not None)
            out[key] = (
                {
                    "n": len(values),
                    "median": round(statistics.median(values), 1),
                    "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 1),
                    "max": round(values[-1], 1),
                }
                if values
                else None
            )
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


def measure(commands: int = 20, domain: int | None = None, journal: str = "") -> LatencyReport:
    """Run the measurement; raise RuntimeError with one line if the system never comes up."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Empty, String

    from robot_planner.nodes import common
    from robot_planner.service.events import parse_event

    domain = domain if domain is not None else 200 + os.getpid() % 30
    extra = ["--set", f"planner.journal={journal}"] if journal else []
    process = _bringup(domain, extra)
    lines: list[str] = []
    threading.Thread(
        target=lambda: [lines.append(line) for line in process.stdout],  # type: ignore[union-attr]
        daemon=True,
    ).start()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("latency_probe", context=context)
    events: list[Any] = []
    moving: list[float] = []
    lock = threading.Lock()

    def on_status(msg: String) -> None:
        event = parse_event(msg.data)
        with lock:
            events.append((time.time(), event))

    def on_joints(msg: JointState) -> None:
        if msg.velocity and max(abs(v) for v in msg.velocity) > MOVING_RAD_S:
            with lock:
                moving.append(time.time())

    node.create_subscription(String, common.STATUS, on_status, common.STATUS_QOS)
    node.create_subscription(JointState, common.JOINT_STATES, on_joints, common.JOINT_STATE_QOS)
    command_pub = node.create_publisher(String, common.COMMAND, common.COMMAND_QOS)
    cancel_pub = node.create_publisher(Empty, common.CANCEL, common.reliable())
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    stop = threading.Event()
    spinner = threading.Thread(
        target=lambda: [executor.spin_once(timeout_sec=0.02) for _ in iter(stop.is_set, True)],
        daemon=True,
    )
    spinner.start()
    report = LatencyReport()
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
                moving.clear()
            sent = time.time()
            command_pub.publish(String(data=json.dumps({"id": command_id, "text": text})))
            sample = Sample(text)
            limit = time.monotonic() + 20
            while time.monotonic() < limit:
                with lock:
                    mine = [(t, e) for t, e in events if e.command_id == command_id]
                    motion = [t for t in moving if t > sent]
                for _, event in mine:
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
                if sample.first_motion_ms is not None or any(e.final for _, e in mine):
                    break
                time.sleep(0.005)
            report.samples.append(sample)
            cancel_pub.publish(Empty())
            limit = time.monotonic() + 20
            while time.monotonic() < limit:
                with lock:
                    if any(e.command_id == command_id and e.final for _, e in events):
                        break
                time.sleep(0.02)
            time.sleep(0.5)
        return report
    finally:
        stop.set()
        spinner.join(timeout=2.0)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        stop_process(process)


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
    ]
    lines = [
        f"Latency over DDS, {summary['commands']} command(s), bring-up in a separate process:",
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
    return "\n".join(lines)
