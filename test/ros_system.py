"""Multi-process test support: a `robot-planner bringup` in a private ROS domain, and an
rclpy client in the test process that watches status events, logs and joint states.

Every wait is bounded; every process is stopped (SIGINT, then kill) when the test ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robot_planner.testing.isolation import DomainReservation, reserve_domain
from robot_planner.testing.waiting import wait_for

READY = ("planner ready", "executor ready", "monitor ready")
_held: list[DomainReservation] = []


def domain_id() -> int:
    """A ROS_DOMAIN_ID reserved until this process exits (no other test or run on this host
    gets it meanwhile). Tests should prefer the `ros_domain` fixture, which gives the id
    back when the test ends."""
    reservation = reserve_domain()
    _held.append(reservation)
    return reservation.domain


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "robot_planner.cli", *args]


class System:
    """`robot-planner bringup --sim` with overrides, its log collected line by line."""

    def __init__(
        self,
        tmp: Path,
        *,
        voice: bool = False,
        sets: tuple[str, ...] = (),
        args: tuple[str, ...] = (),
        ready: tuple[str, ...] = READY,
        domain: int | None = None,
    ):
        self.domain = domain_id() if domain is None else domain
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(self.domain), PYTHONUNBUFFERED="1")
        self.journal = tmp / "journal.jsonl"
        command = cli(
            "bringup",
            "--sim",
            "--voice",
            "true" if voice else "false",
            "--set",
            f"planner.journal={self.journal}",
            *(item for s in sets for item in ("--set", s)),
            *args,
        )
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.ready = ready + (("voice ready",) if voice and ready else ())

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def _ready(self) -> bool:
        return all(any(word in line for line in self.lines) for word in self.ready)

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            wait_for(
                lambda: self._ready() or self.process.poll() is not None,
                timeout,
                "the bring-up",
                interval=0.1,
            )
        except AssertionError:
            raise AssertionError(
                f"bring-up not ready after {timeout} s:\n{self.log[-4000:]}"
            ) from None
        if not self._ready():
            raise AssertionError(f"bring-up exited before it was ready:\n{self.log[-4000:]}")

    def run(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess:
        """Another CLI process in the same ROS domain (a second terminal)."""
        return subprocess.run(
            cli(*args), env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5.0)
        return self.process.returncode

    def journal_entries(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line]

    def journalled(self, *command_ids: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The journal once it holds an outcome for every one of `command_ids`. The planner
        journals an outcome when it hears the executor's final event, which a test (or
        `say --wait`) may hear first."""
        from robot_planner.service.events import FINAL_STATES

        def missing() -> list[str]:
            try:
                entries = self.journal_entries()
            except ValueError:  # a line being written
                return ["(a partly written line)"]
            ended = {e["id"] for e in entries if e["state"] in FINAL_STATES}
            return [i for i in command_ids if i not in ended]

        try:
            wait_for(lambda: not missing(), timeout, "outcomes journalled")
        except AssertionError:
            raise AssertionError(
                f"no outcome journalled after {timeout:g} s for {missing()[:5]}"
            ) from None
        return self.journal_entries()


class Client:
    """An rclpy node in the test process on `domain`: collects status events, log lines
    (``/rosout``) and joint states, publishes commands, audio and cancel. Spun in a
    background thread. Its context carries the domain (the process environment is left
    alone)."""

    def __init__(self, domain: int):
        import rclpy
        from rcl_interfaces.msg import Log
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Empty, String, UInt8MultiArray

        from robot_planner.nodes import common
        from robot_planner.nodes.typed import status_from_msg
        from robot_planner_interfaces.msg import StatusEvent

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("e2e_client", context=self.context)
        self.events: list[Any] = []
        self.logs: list[Any] = []
        self.joints: list[tuple[float, Any]] = []
        self._lock = threading.Lock()

        def on_status(msg: StatusEvent) -> None:
            with self._lock:
                self.events.append(status_from_msg(msg))

        def on_joints(msg: JointState) -> None:
            with self._lock:
                self.joints.append((time.monotonic(), msg))
                del self.joints[:-200]

        def on_log(msg: Log) -> None:
            with self._lock:
                self.logs.append(msg)

        self.status_sub = self.node.create_subscription(
            StatusEvent, common.STATUS_EVENTS, on_status, common.STATUS_QOS
        )
        # /rosout as rcl publishes it: reliable, transient local, depth 1000.
        rosout = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=1000,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.node.create_subscription(Log, "/rosout", on_log, rosout)
        self.node.create_subscription(
            JointState, common.JOINT_STATES, on_joints, common.JOINT_STATE_QOS
        )
        self.command_pub = self.node.create_publisher(String, common.COMMAND, common.COMMAND_QOS)
        self.audio_pub = self.node.create_publisher(UInt8MultiArray, common.AUDIO, 10)
        self.cancel_pub = self.node.create_publisher(Empty, common.CANCEL, common.reliable())
        self._types = {"String": String, "UInt8MultiArray": UInt8MultiArray, "Empty": Empty}
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop:
            self.executor.spin_once(timeout_sec=0.05)

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        return wait_for(predicate, timeout, what, interval=0.05)

    def wait_connected(
        self, publisher: Any, count: int = 1, status_publishers: int = 1, timeout: float = 30.0
    ) -> None:
        """Until `publisher` has `count` subscribers and our status subscription has matched
        every status publisher the graph shows, at least `status_publishers` (events
        published before the match would be lost)."""
        from robot_planner.nodes.common import STATUS_EVENTS

        self.wait_for(lambda: publisher.get_subscription_count() >= count, timeout, "subscribers")
        self.wait_for(
            lambda: (
                self.status_sub.get_publisher_count()
                >= max(status_publishers, self.node.count_publishers(STATUS_EVENTS))
            ),
            timeout,
            f"{status_publishers} status publisher(s) matched",
        )

    def logged(self, node: str, text: str) -> list[Any]:
        """The ``/rosout`` lines of node `node` that contain `text`."""
        with self._lock:
            return [m for m in self.logs if m.name == node and text in m.msg]

    def of(self, command_id: str) -> list[Any]:
        with self._lock:
            return [e for e in self.events if e.command_id == command_id]

    def final(self, command_id: str) -> Any:
        finals = [e for e in self.of(command_id) if e.final and e.source != "voice"]
        return finals[-1] if finals else None

    def say(self, text: str, command_id: str) -> None:
        String = self._types["String"]
        self.command_pub.publish(String(data=json.dumps({"id": command_id, "text": text})))

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)
