"""fake_hardware: Fibonacci action servers that stand in for the robots' skill servers.

With ``config/hardware_bindings_fake.yaml`` the executor's ``ros_bindings`` adapter
drives these servers exactly as it drives real hardware (goals, feedback, results,
cancels over DDS), so the hardware path can be brought up, demonstrated and tested
without robots. Every goal runs for ``goal_duration_s`` while publishing the Fibonacci
sequence as feedback, then succeeds; parameters make chosen skills fail, hang, be
rejected or succeed with an empty result, to exercise the adapter's failure paths.

Action servers: for every robot of the scene and every binding of type
``test_msgs/action/Fibonacci`` in the bindings file, the binding's ``action_name``
(``/{robot}/pick`` ...). A name shared by several skills is served once.

Parameters:
  bindings (str, ""): bindings YAML ("" = the packaged config/hardware_bindings_fake.yaml).
  scene (str, "tabletop"): scene name or YAML path; its robots get servers.
  goal_duration_s (float, 1.0): how long each goal runs before it finishes.
  feedback_period_s (float, 0.1): seconds between feedback messages.
  fail_skills (str, ""): comma-separated ``skill`` or ``robot:skill`` entries whose
      goals abort at the end of their duration.
  hang_skills (str, ""): entries whose goals never finish until cancelled.
  reject_skills (str, ""): entries whose goals are rejected.
  empty_result_skills (str, ""): entries whose goals succeed with an empty sequence
      (so a ``min_length`` result check fails).

Entries are comma-separated strings rather than string arrays so that an empty default
works from the command line (``-p fail_skills:=pick,right_arm:place``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from test_msgs.action import Fibonacci

from robot_planner.adapters.bindings import FIBONACCI, Bindings, bindings_path, load_bindings
from robot_planner.nodes.common import declare, run_node
from robot_planner.world.scene import load_scene

log = logging.getLogger(__name__)

#: Fibonacci numbers past this order overflow the result's int32.
MAX_ORDER = 46
Modes = Mapping[str, frozenset[str]]


def fibonacci(order: int) -> list[int]:
    """The first ``order + 1`` Fibonacci numbers (at least [0, 1]), as the demo server does."""
    sequence = [0, 1]
    for _ in range(1, max(1, min(order, MAX_ORDER))):
        sequence.append(sequence[-1] + sequence[-2])
    return sequence


def served_actions(bindings: Bindings, robots: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Action name -> the (robot, skill) pairs it serves, for the Fibonacci bindings."""
    served: dict[str, list[tuple[str, str]]] = {}
    for skill, binding in bindings.skills.items():
        if binding.action_type != FIBONACCI:
            continue
        for robot in robots:
            served.setdefault(binding.action_name_for(robot), []).append((robot, skill))
    return served


def parse_entries(text: str) -> frozenset[str]:
    """``"pick, right_arm:place"`` -> {"pick", "right_arm:place"}."""
    return frozenset(e.strip() for e in text.split(",") if e.strip())


@dataclass
class ServerLog:
    """What the fake servers saw, for tests and demos (appended from executor threads)."""

    goals: list[tuple[str, int]] = field(default_factory=list)  # (action name, order)
    cancels: list[str] = field(default_factory=list)  # action names
    rejected: list[str] = field(default_factory=list)


class FakeSkillServers:
    """Fibonacci action servers on `node`, one per action name, with scripted outcomes.

    Args:
        node: the node that hosts the servers (spun by a multi-threaded executor: each
            running goal holds one executor thread until it ends).
        served: action name -> (robot, skill) pairs (`served_actions`).
        goal_duration_s: how long a goal runs.
        feedback_period_s: seconds between feedback messages.
        modes: ``fail`` / ``hang`` / ``reject`` / ``empty`` -> ``skill`` or ``robot:skill``
            entries.
    """

    def __init__(
        self,
        node: Node,
        served: Mapping[str, Sequence[tuple[str, str]]],
        *,
        goal_duration_s: float = 1.0,
        feedback_period_s: float = 0.1,
        modes: Modes | None = None,
    ):
        self.node = node
        self.goal_duration_s = goal_duration_s
        self.feedback_period_s = feedback_period_s
        self.modes = {k: frozenset(v) for k, v in (modes or {}).items()}
        unknown = set(self.modes) - {"fail", "hang", "reject", "empty"}
        if unknown:
            raise ValueError(f"unknown fake server modes {sorted(unknown)}")
        self.log = ServerLog()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        group = ReentrantCallbackGroup()
        self.servers = [
            ActionServer(
                node,
                Fibonacci,
                name,
                execute_callback=lambda handle, n=name, p=tuple(pairs): self._execute(
                    handle, n, p
                ),
                goal_callback=lambda request, n=name, p=tuple(pairs): self._on_goal(request, n, p),
                cancel_callback=lambda handle, n=name: self._on_cancel(n),
                callback_group=group,
            )
            for name, pairs in served.items()
        ]

    def _mode(self, pairs: Sequence[tuple[str, str]]) -> str | None:
        keys = {k for robot, skill in pairs for k in (skill, f"{robot}:{skill}")}
        return next((m for m, entries in self.modes.items() if entries & keys), None)

    def _on_goal(self, request: Fibonacci.Goal, name: str, pairs: Sequence) -> GoalResponse:
        if self._mode(pairs) == "reject":
            with self._lock:
                self.log.rejected.append(name)
            return GoalResponse.REJECT
        with self._lock:
            self.log.goals.append((name, int(request.order)))
        return GoalResponse.ACCEPT

    def _on_cancel(self, name: str) -> CancelResponse:
        with self._lock:
            self.log.cancels.append(name)
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle, name: str, pairs: Sequence) -> Fibonacci.Result:
        mode = self._mode(pairs)
        full = fibonacci(int(goal_handle.request.order))
        started = time.monotonic()
        sent = 0
        next_feedback = started
        while True:
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                return Fibonacci.Result(sequence=full[:sent])
            elapsed = time.monotonic() - started
            if self._stop.is_set() or not self.node.context.ok():
                goal_handle.abort()
                return Fibonacci.Result(sequence=full[:sent])
            if mode != "hang" and elapsed >= self.goal_duration_s:
                break
            if time.monotonic() >= next_feedback:
                sent = min(len(full), sent + 1)
                goal_handle.publish_feedback(Fibonacci.Feedback(sequence=full[:sent]))
                next_feedback += self.feedback_period_s
            self._stop.wait(0.01)
        if mode == "fail":
            goal_handle.abort()
            return Fibonacci.Result(sequence=full[:sent])
        goal_handle.succeed()
        return Fibonacci.Result(sequence=[] if mode == "empty" else full)

    def stop(self) -> None:
        """End every running goal (aborted) so executor threads are free to shut down."""
        self._stop.set()

    def destroy(self) -> None:
        self.stop()
        for server in self.servers:
            server.destroy()


class FakeHardwareNode(Node):
    """Hosts `FakeSkillServers` for the scene's robots, configured by parameters."""

    def __init__(self, **kwargs):
        super().__init__("fake_hardware", **kwargs)
        bindings_file = declare(self, "bindings", "", "bindings YAML ('' = packaged fake)")
        scene_name = declare(self, "scene", "tabletop", "scene name or YAML path")
        duration = declare(
            self, "goal_duration_s", 1.0, "seconds each goal runs", limits=(0.0, 3600.0)
        )
        feedback = declare(
            self,
            "feedback_period_s",
            0.1,
            "seconds between feedback",
            limits=(0.001, 60.0),
        )
        modes = {
            mode: parse_entries(declare(self, f"{param}_skills", "", help_text))
            for mode, param, help_text in (
                ("fail", "fail", "skill or robot:skill entries whose goals abort"),
                ("hang", "hang", "entries whose goals never finish until cancelled"),
                ("reject", "reject", "entries whose goals are rejected"),
                ("empty", "empty_result", "entries that succeed with an empty sequence"),
            )
        }
        if not float(duration) >= 0 or not float(feedback) > 0:
            raise ValueError("goal_duration_s must be >= 0 and feedback_period_s > 0")
        bindings = load_bindings(bindings_file or bindings_path("hardware_bindings_fake"))
        scene = load_scene(scene_name)
        served = served_actions(bindings, scene.robots)
        if not served:
            raise ValueError(f"{bindings.source} binds no skill to {FIBONACCI}")
        self.fake = FakeSkillServers(
            self,
            served,
            goal_duration_s=float(duration),
            feedback_period_s=float(feedback),
            modes={m: e for m, e in modes.items() if e},
        )
        self.get_logger().info(
            f"serving {len(served)} fake skill actions ({', '.join(sorted(served))}); "
            f"goals take {float(duration):g} s"
            + "".join(f"; {m}: {', '.join(sorted(e))}" for m, e in modes.items() if e)
        )

    def close(self) -> None:
        """Release goals still running so shutdown does not wait for them."""
        self.fake.stop()


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``fake_hardware_node``."""
    return run_node(FakeHardwareNode, __doc__, args, threads=8)


if __name__ == "__main__":
    raise SystemExit(main())
