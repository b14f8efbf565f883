"""The stand-in nav2_msgs for tests, and a NavigateToPose server that answers as Nav2 does.

nav2_msgs is not on PyPI, so ``test/interfaces/nav2_msgs`` (Nav2's NavigateToPose, field for
field) is built once per session into ``build/test_interfaces`` by
``scripts/build_interfaces.sh`` -- never into the venv, so a bindings file that names
``nav2_msgs/action/NavigateToPose`` is tested here and meets the real Nav2 on a robot.
A re-run with nothing changed is a fingerprint check (well under a second).

Using a package from another prefix: this process puts its site-packages on ``sys.path``
and loads its libraries up front (rcutils looks typesupport libraries up by name in the
``LD_LIBRARY_PATH`` the process started with, which does not name the prefix); a child
process gets ``StandIn.env`` (PYTHONPATH, LD_LIBRARY_PATH, AMENT_PREFIX_PATH).

Run as a process, it serves NavigateToPose for the robots named on the command line and
prints each goal as a JSON line: ``python test/nav2_standin.py base_1 base_2``.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "test" / "interfaces" / "nav2_msgs"
PREFIX = ROOT / "build" / "test_interfaces"
BUILD_TIMEOUT_S = 900.0
#: The RIHS01 type hash of nav2_msgs/action/NavigateToPose in Nav2 Kilted (nav2_msgs 1.4.2,
#: built from ros-navigation/navigation2 branch kilted at 71a1d84f49dc): peers match on it.
KILTED_TYPE_HASH = "RIHS01_a56dba8a3234a1215e610180dc703ae25bbf406dded8b54887891c9732857eab"
#: How long a held goal waits for its cancel before the server gives up on the test.
HOLD_S = 60.0


class BuildError(RuntimeError):
    """The stand-in package did not build; the message ends with the build's output."""


@dataclass(frozen=True)
class StandIn:
    """An interface package installed in `prefix` (outside the venv)."""

    prefix: Path
    package: str
    build_s: float  # how long building (or finding it up to date) took

    @property
    def site(self) -> Path:
        """Its Python modules, where ament_cmake_python installs them under the prefix."""
        return Path(sysconfig.get_path("purelib", vars={"base": str(self.prefix)}))

    @property
    def lib(self) -> Path:
        return self.prefix / "lib"

    @property
    def type_hash_file(self) -> Path:
        return self.prefix / "share" / self.package / "action" / "NavigateToPose.json"

    def activate(self) -> None:
        """Make the package usable in this process: importable, and its typesupport
        libraries loaded, so rcutils finds them by name (LD_LIBRARY_PATH cannot change
        once the process runs)."""
        if str(self.site) not in sys.path:
            sys.path.insert(0, str(self.site))
        for library in sorted(self.lib.glob(f"lib{self.package}__*.so")):
            ctypes.CDLL(str(library))

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a child process needs to use the package."""
        env = dict(os.environ if base is None else base)
        for name, value in (
            ("PYTHONPATH", self.site),
            ("LD_LIBRARY_PATH", self.lib),
            ("AMENT_PREFIX_PATH", self.prefix),
        ):
            env[name] = os.pathsep.join(p for p in (str(value), env.get(name, "")) if p)
        return env


def build(package: Path = PACKAGE, prefix: Path = PREFIX) -> StandIn:
    """Build and install `package` into `prefix` with scripts/build_interfaces.sh (a no-op
    when it is up to date); one build at a time across pytest sessions (a file lock)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PKG_DIR=str(package), PREFIX=str(prefix), VENV=sys.prefix)
    started = time.monotonic()
    with open(prefix.parent / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = subprocess.run(
                [str(ROOT / "scripts" / "build_interfaces.sh")],
                env=env,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise BuildError(f"building {package.name} took over {BUILD_TIMEOUT_S:g} s") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-40:]
        raise BuildError(
            f"scripts/build_interfaces.sh failed for {package} (exit {done.returncode}):\n"
            + "\n".join(output)
        )
    return StandIn(prefix, package.name, time.monotonic() - started)


# --- a NavigateToPose server ------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How the server ends a goal: Nav2 aborts a failed navigation with an error code and
    message (``status="abort"``); ``hold`` keeps driving until the goal is cancelled."""

    status: str = "succeed"  # succeed | abort
    error_code: int = 0
    error_msg: str = ""
    hold: bool = False


@dataclass
class Received:
    """What the server saw (appended from executor threads, read by the test)."""

    goals: list[tuple[str, Any]] = field(default_factory=list)  # (action name, goal)
    feedback: int = 0
    cancels: list[str] = field(default_factory=list)
    results: list[tuple[str, str]] = field(default_factory=list)  # (action name, status)


class NavigateToPoseServers:
    """NavigateToPose servers at ``/ROBOT/navigate_to_pose`` on `node`, answering as Nav2's
    bt_navigator does: feedback (pose, times, recoveries, distance) while it drives, then
    SUCCEEDED with error_code NONE, or ABORTED with an error code and message; a cancel
    ends the goal CANCELED. Events let a test wait for each step without sleeping."""

    def __init__(self, node: Any, robots: Iterable[str], outcome: Outcome | None = None):
        from nav2_msgs.action import NavigateToPose
        from rclpy.action import ActionServer, CancelResponse
        from rclpy.callback_groups import ReentrantCallbackGroup

        self.action = NavigateToPose
        self.outcome = outcome or Outcome()
        self.received = Received()
        self.goal_received = threading.Event()
        self.cancel_requested = threading.Event()
        self.finished = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._accept = CancelResponse.ACCEPT
        group = ReentrantCallbackGroup()
        self.names = [f"/{robot}/navigate_to_pose" for robot in robots]
        self.servers = [
            ActionServer(
                node,
                NavigateToPose,
                name,
                execute_callback=lambda handle, n=name: self._execute(n, handle),
                cancel_callback=lambda handle, n=name: self._on_cancel(n),
                callback_group=group,
            )
            for name in self.names
        ]

    def _on_cancel(self, name: str) -> Any:
        with self._lock:
            self.received.cancels.append(name)
        self.cancel_requested.set()
        return self._accept

    def _execute(self, name: str, handle: Any) -> Any:
        goal = handle.request
        with self._lock:
            self.received.goals.append((name, goal))
        self.goal_received.set()
        handle.publish_feedback(self._feedback(goal))
        with self._lock:
            self.received.feedback += 1
        if self.outcome.hold:
            # Driving until the client cancels, as Nav2's loop checks for a cancel; the
            # goal state changes only after the cancel callback returns, so it is watched
            # here (bounded, so a broken test cannot hang).
            deadline = time.monotonic() + HOLD_S
            while not handle.is_cancel_requested and time.monotonic() < deadline:
                if self._released.wait(0.01):
                    break
        result = self.action.Result()
        if handle.is_cancel_requested:
            handle.canceled()
            status = "canceled"
        elif self.outcome.hold or self.outcome.status == "abort":
            handle.abort()
            status = "aborted"
            result.error_code = self.outcome.error_code or self.action.Result.TIMEOUT
            result.error_msg = self.outcome.error_msg or f"no cancel within {HOLD_S:g} s"
        else:
            handle.succeed()
            status = "succeeded"
            result.error_code = self.outcome.error_code
            result.error_msg = self.outcome.error_msg
        with self._lock:
            self.received.results.append((name, status))
        self.finished.set()
        return result

    def _feedback(self, goal: Any) -> Any:
        feedback = self.action.Feedback()
        feedback.current_pose.header.frame_id = goal.pose.header.frame_id
        feedback.navigation_time.sec = 1
        feedback.estimated_time_remaining.sec = 7
        feedback.number_of_recoveries = 0
        feedback.distance_remaining = 2.5
        return feedback

    def goals(self) -> list[tuple[str, Any]]:
        """The goals received so far, in order: (action name, goal message)."""
        with self._lock:
            return list(self.received.goals)

    def stop(self) -> None:
        """Release a held goal so executor threads are free to shut down."""
        self._released.set()


def describe_goal(name: str, goal: Any) -> dict[str, Any]:
    """A goal as plain data (what the process prints, what tests compare)."""
    pose = goal.pose.pose
    return {
        "action": name,
        "frame_id": goal.pose.header.frame_id,
        "behavior_tree": goal.behavior_tree,
        "position": [pose.position.x, pose.position.y, pose.position.z],
        "orientation": [
            pose.orientation.x,
            pose.orientation.y,
            pose.orientation.z,
            pose.orientation.w,
        ],
    }


def main(argv: list[str] | None = None) -> int:
    """Serve NavigateToPose for some robots until SIGINT; print each goal as a JSON line."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("robots", nargs="+")
    args = parser.parse_args(argv)
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    try:
        with rclpy.init():
            node = rclpy.create_node("nav2_standin")
            servers = NavigateToPoseServers(node, args.robots)
            executor = MultiThreadedExecutor(num_threads=4)
            executor.add_node(node)
            printed = 0
            print("serving", " ".join(servers.names), flush=True)
            try:
                while rclpy.ok():
                    executor.spin_once(timeout_sec=0.05)
                    for name, goal in servers.goals()[printed:]:
                        print("goal", json.dumps(describe_goal(name, goal)), flush=True)
                        printed += 1
            finally:
                servers.stop()
                executor.shutdown(timeout_sec=5.0)
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
