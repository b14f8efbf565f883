"""The hardware robot adapter: each catalogue skill is a ROS 2 action, as the bindings say.

`RosBindingsAdapter` drives real robots through action servers named in
``config/hardware_bindings.yaml`` (format: `robot_planner.adapters.bindings`). It never
spins the node: the node's owner spins it in another thread (the executor node uses a
`MultiThreadedExecutor`), and every adapter method, called from the plan executor's
worker thread, only sends requests and reads state that the ROS callbacks update under
a lock. So a tick never waits for the network, and a halt cancels at once.

Belief: the adapter's `read_state` starts from the scene's initial facts (or given
facts) and applies the catalogue's effects when a skill's goal SUCCEEDED and passed its
result checks. It is updated even when the goal finished after the tree gave up on it
(cancelled too late, timed out), because the robot did move.

This is the one module under ``adapters/`` that imports rclpy; the ROS-free core never
imports it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from action_msgs.msg import GoalStatus
from action_msgs.srv import CancelGoal
from rclpy.action import ActionClient
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

from robot_planner.adapters.base import AdapterError, SkillState, SkillStatus
from robot_planner.adapters.bindings import (
    BindingError,
    Bindings,
    GoalError,
    ResolvedAction,
    SkillRoute,
    build_goal,
    compile_bindings,
    evaluate,
    feedback_values,
    load_bindings,
    resolve_action,
    result_failure,
    result_reason,
    summarize,
)
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

__all__ = ["BindingError", "Bindings", "RosBindingsAdapter", "load_bindings"]

#: Finished goals kept for late polls; older ones are dropped so a long-running node
#: does not grow without bound.
KEEP_FINISHED = 256
_STATUS_NAMES = {
    GoalStatus.STATUS_SUCCEEDED: "succeeded",
    GoalStatus.STATUS_CANCELED: "canceled",
    GoalStatus.STATUS_ABORTED: "aborted",
}


class _ActionClient(ActionClient):
    """`ActionClient` that can be created while an executor spins its node.

    rclpy (9.x, Kilted) registers the client with the node's wait set before it creates
    the client's `_lock`; an executor thread that collects entities in between dies with
    AttributeError and stops serving every callback (seen as goals that never start).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        lock = threading.Lock()
        self._lock = lock
        super().__init__(*args, **kwargs)
        self._lock = lock  # the one an executor thread may already be holding


@dataclass(eq=False)
class _Goal:
    """One started skill: what the tree sees (state) and what the server is doing."""

    handle: int
    robot: str
    skill: str
    args: dict[str, Any]
    action_name: str
    started_at: float
    timeout_s: float
    cancel_on_halt: bool
    resolved: ResolvedAction | None = None  # None for local skills
    local_until: float | None = None
    state: SkillState = SkillState.RUNNING
    reason: str = ""
    progress: float = 0.0
    phase: str = ""
    goal_handle: Any = None
    #: Cancel as soon as the server accepts (a halt or timeout came before acceptance).
    cancel_wanted: bool = False
    cancel_sent: bool = False
    #: The server is done with it: result received, rejected, or the request failed.
    settled: bool = False
    futures: list[Future] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.skill} on {self.robot}"


class RosBindingsAdapter:
    """Robots behind ROS 2 action servers, one binding per catalogue skill.

    Args:
        node: a node that someone else spins; the adapter creates its action clients on it.
        bindings: the loaded bindings (`load_bindings`).
        catalogue: the skill catalogue (timeouts, effects).
        scene: the scene (robots, places, block sizes, the initial facts).
        initial_facts: the belief to start from (the scene's initial facts when None).

    Raises:
        BindingError: the bindings do not fit the catalogue (checked without ROS).
    """

    def __init__(
        self,
        node: Node,
        bindings: Bindings,
        catalogue: Catalogue,
        scene: Scene,
        *,
        initial_facts: frozenset[Fact] | None = None,
    ):
        self.node = node
        self.catalogue = catalogue
        self.scene = scene
        self.source = bindings.source
        self._routes: dict[str, SkillRoute] = compile_bindings(bindings, catalogue, scene)
        self.supported_skills = frozenset(self._routes)
        start = scene.initial_facts() if initial_facts is None else initial_facts
        self._facts = scene.derive(start)
        self._lock = threading.RLock()  # goal records and belief; never held over rclpy calls
        self._setup_lock = threading.Lock()  # resolving types and creating clients
        self._resolved: dict[str, ResolvedAction] = {}
        self._clients: dict[str, ActionClient] = {}  # by action name
        self._goals: dict[int, _Goal] = {}
        self._active: dict[str, int] = {}  # robot -> handle of its running skill
        self._ids = itertools.count(1)
        self._group = ReentrantCallbackGroup()
        self._closed = False

    # --- start-up --------------------------------------------------------------------

    def check(self, timeout_s: float = 5.0) -> None:
        """Import every bound action type, check its fields, and wait for every server.

        Waits up to `timeout_s` in all (the servers are waited for together).

        Raises:
            BindingError: a type is missing or does not fit the goal template, or a
                server is not available; one line naming skill, type and action name.
        """
        pending: list[tuple[SkillRoute, str, ActionClient]] = []
        for skill, route in self._routes.items():
            if route.is_local:
                continue
            self._prepare(skill)
            for robot in self._robots_for(skill):
                name = route.binding.action_name_for(robot)
                pending.append((route, name, self._clients[name]))
        deadline = time.monotonic() + timeout_s
        while True:
            pending = [p for p in pending if not p[2].server_is_ready()]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if pending:
            route, name, _ = pending[0]
            others = sorted({n for _, n, _ in pending[1:]} - {name})
            also = f"; also missing: {', '.join(others)}" if others else ""
            raise BindingError(
                f"skill '{route.skill}': action server {name} ({route.binding.action_type}) "
                f"not available after {timeout_s:g} s{also}"
            )
        log.info(
            "hardware bindings from %s: %d skills, every action server is up",
            self.source,
            len(self._routes),
        )

    def _prepare(self, skill: str) -> ResolvedAction:
        """Resolve a skill's action type and create its clients (once; thread-safe)."""
        with self._setup_lock:
            resolved = self._resolved.get(skill)
            if resolved is not None:
                return resolved
            route = self._routes[skill]
            resolved = resolve_action(route, self.source)
            for robot in self._robots_for(skill):
                name = route.binding.action_name_for(robot)
                if name in self._clients:
                    continue
                try:
                    self._clients[name] = _ActionClient(
                        self.node, resolved.action, name, callback_group=self._group
                    )
                except Exception as exc:  # rclpy raises several types for bad names
                    raise BindingError(
                        f"skill '{skill}': cannot create an action client for {name} "
                        f"({route.binding.action_type}): {exc}"
                    ) from None
            self._resolved[skill] = resolved
            return resolved

    def _robots_for(self, skill: str) -> list[str]:
        """The robots whose kind offers `skill`: only their servers are waited for and
        connected (an arm has no /ARM/navigate_to_pose in a cell with mobile bases)."""
        domain = self.scene.domain
        return [r for r, spec in self.scene.robots.items() if domain.kind_offers(spec.kind, skill)]

    def close(self) -> None:
        """Cancel running goals (where `cancel_on_halt`) and destroy the action clients."""
        with self._lock:
            running = [g.handle for g in self._goals.values() if g.state is SkillState.RUNNING]
        for handle in running:
            self.cancel(handle)
        with self._setup_lock:
            self._closed = True
            for client in self._clients.values():
                try:
                    client.destroy()
                except Exception:
                    log.debug("destroying an action client failed", exc_info=True)
            self._clients.clear()

    # --- RobotAdapter ----------------------------------------------------------------

    def start_skill(self, robot: str, skill: str, args: Mapping[str, Any]) -> Hashable:
        route = self._routes.get(skill)
        if route is None:
            raise AdapterError(f"skill '{skill}' is not bound in {self.source}")
        if robot not in self.scene.robots:
            raise AdapterError(f"unknown robot '{robot}'")
        wrong_kind = self.catalogue.robot_errors(skill, robot, self.scene)
        if wrong_kind:
            raise AdapterError(wrong_kind[0])
        if self._closed:
            raise AdapterError("the adapter is closed")
        now = self.now()
        if route.is_local:
            return self._start_local(route, robot, args, now)
        try:
            resolved = self._prepare(skill)
        except BindingError as exc:
            raise AdapterError(str(exc)) from None
        name = route.binding.action_name_for(robot)
        client = self._clients[name]
        if not client.server_is_ready():
            raise AdapterError(
                f"action server {name} ({route.binding.action_type}) is not available"
            )
        with self._lock:
            self._refuse_if_busy(robot)
            try:
                goal_msg = build_goal(resolved, robot, args, self.scene, self._facts)
            except GoalError as exc:
                raise AdapterError(f"cannot build the {skill} goal: {exc}") from None
            goal = self._register(route, robot, args, name, now, resolved=resolved)
        # Outside the lock: rclpy may run a done-callback inline, which takes the lock.
        try:
            future = client.send_goal_async(
                goal_msg, feedback_callback=partial(self._on_feedback, goal)
            )
        except Exception as exc:
            with self._lock:
                self._finish(goal, SkillState.FAILED, f"sending the goal to {name} failed: {exc}")
                goal.settled = True
            raise AdapterError(f"sending the {skill} goal to {name} failed: {exc}") from None
        goal.futures.append(future)
        future.add_done_callback(partial(self._on_goal_response, goal))
        log.info("%s: goal sent to %s", goal.describe(), name)
        return goal.handle

    def poll(self, handle: Hashable) -> SkillStatus:
        cancel = None
        with self._lock:
            goal = self._goal(handle)
            if goal.state is SkillState.RUNNING:
                now = self.now()
                if goal.local_until is not None and now >= goal.local_until:
                    self._finish(goal, SkillState.SUCCEEDED)
                    self._apply_effects(goal)
                elif now - goal.started_at > goal.timeout_s:
                    self._finish(
                        goal,
                        SkillState.FAILED,
                        f"timeout: {goal.describe()} did not finish within {goal.timeout_s:g} s"
                        + (f"; cancelling it on {goal.action_name}" if goal.resolved else ""),
                    )
                    # A skill that overran is stuck: always stop it, whatever cancel_on_halt.
                    cancel = self._cancel_request(goal)
            status = SkillStatus(goal.state, goal.progress, goal.reason, goal.phase)
            if goal.state is SkillState.RUNNING and goal.local_until is not None:
                span = max(goal.local_until - goal.started_at, 1e-9)
                status = SkillStatus(goal.state, min(1.0, (self.now() - goal.started_at) / span))
        if cancel is not None:
            self._send_cancel(goal, cancel)
        return status

    def cancel(self, handle: Hashable) -> None:
        cancel = None
        with self._lock:
            goal = self._goal(handle)
            if goal.state is not SkillState.RUNNING:
                return
            self._finish(goal, SkillState.CANCELLED, "cancelled")
            if goal.resolved is not None:
                if goal.cancel_on_halt:
                    cancel = self._cancel_request(goal)
                else:
                    log.info(
                        "%s: halted, but %s keeps running (cancel_on_halt is false)",
                        goal.describe(),
                        goal.action_name,
                    )
        if cancel is not None:
            self._send_cancel(goal, cancel)

    def settled(self, handle: Hashable) -> bool:
        """True once the action server is done with the goal (result in, or rejected).

        A cancelled or timed-out skill is CANCELLED/FAILED at once for the tree, but the arm
        may still be stopping; this tells when the server has confirmed the end.
        """
        with self._lock:
            goal = self._goal(handle)
            return goal.settled or goal.resolved is None

    def read_state(self) -> frozenset[Fact]:
        with self._lock:
            return self._facts

    def set_belief(self, facts: frozenset[Fact]) -> None:
        """Replace the belief (e.g. with perceived facts before re-planning)."""
        with self._lock:
            self._facts = self.scene.derive(facts)

    def now(self) -> float:
        return time.monotonic()

    def advance(self, dt: float) -> None:
        """On hardware time passes by itself: just wait (the executor ticks once per dt)."""
        if dt > 0:
            time.sleep(dt)

    # --- bookkeeping (call with the lock held) ----------------------------------------

    def _goal(self, handle: Hashable) -> _Goal:
        goal = self._goals.get(handle)  # type: ignore[call-overload]
        if goal is None:
            raise AdapterError(f"unknown skill handle {handle!r}")
        return goal

    def _refuse_if_busy(self, robot: str) -> None:
        busy = self._active.get(robot)
        if busy is not None:
            raise AdapterError(f"{robot} is busy with {self._goals[busy].skill}")

    def _register(
        self,
        route: SkillRoute,
        robot: str,
        args: Mapping[str, Any],
        action_name: str,
        now: float,
        *,
        resolved: ResolvedAction | None = None,
        local_until: float | None = None,
    ) -> _Goal:
        goal = _Goal(
            handle=next(self._ids),
            robot=robot,
            skill=route.skill,
            args=dict(args),
            action_name=action_name,
            started_at=now,
            timeout_s=route.timeout_s,
            cancel_on_halt=route.binding.cancel_on_halt,
            resolved=resolved,
            local_until=local_until,
        )
        self._goals[goal.handle] = goal
        self._active[robot] = goal.handle
        self._forget_old()
        return goal

    def _forget_old(self) -> None:
        finished = [
            g.handle
            for g in self._goals.values()
            if g.state is not SkillState.RUNNING and (g.settled or g.resolved is None)
        ]
        for handle in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._goals[handle]

    def _finish(self, goal: _Goal, state: SkillState, reason: str = "") -> None:
        goal.state = state
        goal.reason = reason
        if state is SkillState.SUCCEEDED:
            goal.progress = 1.0
        if self._active.get(goal.robot) == goal.handle:
            del self._active[goal.robot]
        if state is SkillState.FAILED:
            log.warning("%s failed: %s", goal.describe(), reason)
        else:
            log.info("%s %s", goal.describe(), state.value)

    def _apply_effects(self, goal: _Goal) -> None:
        self._facts = self.catalogue.apply(
            goal.skill, goal.robot, goal.args, self.scene, self._facts
        )

    def _cancel_request(self, goal: _Goal) -> Any:
        """The goal handle to send a cancel to now, or None (not accepted yet, or sent)."""
        if goal.settled or goal.cancel_sent:
            return None
        if goal.goal_handle is None:
            goal.cancel_wanted = True  # sent when the server accepts the goal
            return None
        goal.cancel_sent = True
        return goal.goal_handle

    def _start_local(
        self, route: SkillRoute, robot: str, args: Mapping[str, Any], now: float
    ) -> int:
        assert route.binding.duration_s is not None
        with self._lock:
            self._refuse_if_busy(robot)
            try:
                duration = float(
                    evaluate(route.binding.duration_s, robot, args, self.scene, self._facts)
                )
            except (GoalError, TypeError, ValueError) as exc:
                raise AdapterError(f"cannot start {route.skill}: {exc}") from None
            goal = self._register(
                route, robot, args, "(local)", now, local_until=now + max(0.0, duration)
            )
        return goal.handle

    # --- ROS callbacks (executor threads) ----------------------------------------------

    def _send_cancel(self, goal: _Goal, goal_handle: Any) -> None:
        try:
            future = goal_handle.cancel_goal_async()
        except Exception:
            log.exception("%s: sending the cancel to %s failed", goal.describe(), goal.action_name)
            return
        goal.futures.append(future)
        future.add_done_callback(partial(self._on_cancel_response, goal))
        log.info("%s: cancel sent to %s", goal.describe(), goal.action_name)

    def _on_goal_response(self, goal: _Goal, future: Future) -> None:
        error = future.exception()
        goal_handle = None if error is not None else future.result()
        cancel = None
        with self._lock:
            if error is not None or goal_handle is None:
                goal.settled = True
                if goal.state is SkillState.RUNNING:
                    self._finish(
                        goal,
                        SkillState.FAILED,
                        f"sending the goal to {goal.action_name} failed: {error}",
                    )
                return
            if not goal_handle.accepted:
                goal.settled = True
                if goal.state is SkillState.RUNNING:
                    self._finish(goal, SkillState.FAILED, f"{goal.action_name} rejected the goal")
                return
            goal.goal_handle = goal_handle
            if goal.cancel_wanted:
                cancel = self._cancel_request(goal)
        result_future = goal_handle.get_result_async()
        goal.futures.append(result_future)
        result_future.add_done_callback(partial(self._on_result, goal))
        if cancel is not None:
            self._send_cancel(goal, cancel)

    def _on_result(self, goal: _Goal, future: Future) -> None:
        error = future.exception()
        response = None if error is not None else future.result()
        with self._lock:
            goal.settled = True
            goal.goal_handle = None
            goal.futures.clear()
            if response is None:
                if goal.state is SkillState.RUNNING:
                    self._finish(
                        goal,
                        SkillState.FAILED,
                        f"no result from {goal.action_name}: {error or 'empty response'}",
                    )
                return
            status = response.status
            name = _STATUS_NAMES.get(status, f"status {status}")
            problem = None
            if status == GoalStatus.STATUS_SUCCEEDED:
                assert goal.resolved is not None
                problem = result_failure(goal.resolved, response.result)
                if problem is None:
                    self._apply_effects(goal)
                    if goal.state is not SkillState.RUNNING:
                        log.warning(
                            "%s succeeded on %s after it was %s; the belief follows the robot",
                            goal.describe(),
                            goal.action_name,
                            goal.state.value,
                        )
            elif status == GoalStatus.STATUS_CANCELED and goal.state is SkillState.CANCELLED:
                log.info("%s: %s confirmed the cancel", goal.describe(), goal.action_name)
            if goal.state is not SkillState.RUNNING:
                return
            if status == GoalStatus.STATUS_SUCCEEDED and problem is None:
                self._finish(goal, SkillState.SUCCEEDED)
                return
            # The server's own words when the binding names them (Nav2's error_msg), else
            # the whole result, shortened.
            assert goal.resolved is not None
            reason = result_reason(goal.resolved, response.result)
            if problem is not None:
                detail = f"{goal.action_name}: {problem}" + (f" ({reason})" if reason else "")
            elif reason:
                detail = f"{goal.action_name} {name} the goal: {reason}"
            else:
                summary = summarize(response.result)
                detail = f"{goal.action_name} {name} the goal (result: {summary})"
            self._finish(goal, SkillState.FAILED, detail)

    def _on_feedback(self, goal: _Goal, message: Any) -> None:
        if goal.resolved is None:
            return
        progress, phase = feedback_values(goal.resolved, message.feedback)
        with self._lock:
            if goal.state is SkillState.RUNNING:
                if progress is not None:
                    goal.progress = progress
                if phase is not None:
                    goal.phase = phase

    def _on_cancel_response(self, goal: _Goal, future: Future) -> None:
        response = None if future.exception() is not None else future.result()
        code = getattr(response, "return_code", None)
        if code == CancelGoal.Response.ERROR_NONE:
            log.info("%s: %s is cancelling", goal.describe(), goal.action_name)
        elif code != CancelGoal.Response.ERROR_GOAL_TERMINATED:
            log.warning(
                "%s: %s refused the cancel (code %s)", goal.describe(), goal.action_name, code
            )
