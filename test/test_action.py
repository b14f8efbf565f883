"""The planner's ExecuteCommand action and GetState service, in process: the planner (and,
where robots must move, the executor with the simulation) and a client node in one
`MultiThreadedExecutor` of a private rclpy context on a reserved ROS domain, spun in a
bounded loop in a thread. Where no executor runs, the test plays it on the status topic.
Every wait is for the event or answer the test needs (robot_planner.testing.waiting)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pytest

from robot_planner.testing.isolation import unique_id
from robot_planner.testing.waiting import wait_for

try:
    from robot_planner_interfaces.action import ExecuteCommand
    from robot_planner_interfaces.srv import GetState
except ImportError as exc:  # make setup builds it into .venv
    raise ImportError(f"{exc}: run make setup (robot_planner_interfaces)") from exc

pytestmark = [pytest.mark.ros, pytest.mark.timeout(240)]

GREEN_ON_BLUE = "put the green block on the blue block"
Result = ExecuteCommand.Result
WAIT_S = 30.0
MOVING_RAD_S = 0.05


class Goal:
    """One goal sent by the test's client: its feedback and result as they come."""

    def __init__(self) -> None:
        self.feedback: list[Any] = []
        self.handle: Any = None
        self.result: Any = None
        self.status: int | None = None
        self.rejected = False


class ActionSystem:
    """Planner (+ executor) and a client node in one executor, spun in a thread."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from rclpy.action import ActionClient
        from rclpy.executors import MultiThreadedExecutor
        from sensor_msgs.msg import JointState
        from std_msgs.msg import String

        from robot_planner.nodes import common
        from robot_planner.nodes.typed import status_from_msg
        from robot_planner_interfaces.msg import StatusEvent

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        # Goals hold a thread each until their command ends (the planner's design).
        self.executor = MultiThreadedExecutor(num_threads=12, context=self.context)
        self.client = rclpy.create_node("action_test_client", context=self.context)
        self.executor.add_node(self.client)
        self.nodes: list[Any] = []
        self.events: list[Any] = []
        self.joints: list[tuple[float, Any]] = []
        self.lock = threading.Lock()
        self.String = String

        def on_status(msg: Any) -> None:
            with self.lock:
                self.events.append(status_from_msg(msg))

        def on_joints(msg: Any) -> None:
            with self.lock:
                self.joints.append((time.monotonic(), msg))
                del self.joints[:-400]

        self.status_sub = self.client.create_subscription(
            StatusEvent, common.STATUS_EVENTS, on_status, common.STATUS_QOS
        )
        self.client.create_subscription(
            JointState, common.JOINT_STATES, on_joints, common.JOINT_STATE_QOS
        )
        self.status_pub = self.client.create_publisher(
            StatusEvent, common.STATUS_EVENTS, common.STATUS_QOS
        )
        self.cancel_one = self.client.create_publisher(
            String, common.CANCEL_COMMAND, common.reliable()
        )
        self.action = ActionClient(self.client, ExecuteCommand, common.EXECUTE)
        self.get_state = self.client.create_client(GetState, common.GET_STATE)
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop:
            self.executor.spin_once(timeout_sec=0.05)

    def add(self, factory: Any, **params: Any) -> Any:
        from rclpy.parameter import Parameter

        node = factory(
            context=self.context,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
        )
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def planner(self, tmp_path: Any, **params: Any) -> Any:
        from robot_planner.nodes.planner_node import PlannerNode

        params.setdefault("journal", str(tmp_path / "journal.jsonl"))
        params.setdefault("backend", "offline")
        node = self.add(PlannerNode, **params)
        wait_for(lambda: self.action.server_is_ready(), WAIT_S, "the action server")
        wait_for(lambda: self.get_state.service_is_ready(), WAIT_S, "the GetState service")
        self.matched()
        return node

    def executor_node(self, **params: Any) -> Any:
        from robot_planner.nodes.executor_node import ExecutorNode

        params.setdefault("sim_speed", 4.0)
        params.setdefault("monitor_mode", "off")
        params.setdefault("camera_rate_hz", 1.0)
        node = self.add(ExecutorNode, **params)
        wait_for(lambda: self.joints, WAIT_S, "joint states from the executor")
        self.matched()
        return node

    def matched(self) -> None:
        """Until the client's status subscription has matched every status publisher."""
        from robot_planner.nodes.common import STATUS_EVENTS

        wait_for(
            lambda: (
                self.status_sub.get_publisher_count()
                >= self.client.count_publishers(STATUS_EVENTS)
                and self.status_pub.get_subscription_count() >= 1
            ),
            WAIT_S,
            "status peers matched",
        )

    def send(self, text: str, command_id: str = "", options: str = "") -> Goal:
        """Send a goal and wait for the server's answer (accepted: the ROS goal status)."""
        goal = Goal()
        request = ExecuteCommand.Goal(
            command=text, source="test", id=command_id, options_json=options
        )
        future = self.action.send_goal_async(request, feedback_callback=self._feedback(goal))
        wait_for(future.done, WAIT_S, "the goal response")
        goal.handle = future.result()
        if not goal.handle.accepted:
            goal.rejected = True
            return goal

        def on_result(done: Any) -> None:
            answer = done.result()
            goal.status, goal.result = answer.status, answer.result

        goal.handle.get_result_async().add_done_callback(on_result)
        return goal

    @staticmethod
    def _feedback(goal: Goal) -> Any:
        return lambda msg: goal.feedback.append(msg.feedback)

    def result(self, goal: Goal, timeout: float = 120.0) -> Any:
        wait_for(lambda: goal.result is not None, timeout, "the goal's result")
        return goal.result

    def state(self, command_id: str = "") -> Any:
        future = self.get_state.call_async(GetState.Request(command_id=command_id))
        wait_for(future.done, WAIT_S, "the GetState answer")
        return future.result()

    def of(self, command_id: str, state: str | None = None) -> list[Any]:
        with self.lock:
            return [
                e
                for e in self.events
                if e.command_id == command_id and (state is None or e.state == state)
            ]

    def executor_says(self, command_id: str, state: str, **details: Any) -> None:
        from robot_planner.nodes.typed import status_msg
        from robot_planner.service.events import make_event

        event = make_event(command_id, state, "executor", details)
        self.status_pub.publish(status_msg(event))

    def joints_since(self, since: float) -> list[tuple[float, Any]]:
        with self.lock:
            return [(stamp, msg) for stamp, msg in self.joints if stamp > since]

    def close(self) -> None:
        for node in self.nodes:
            close = getattr(node, "close", None)
            if close is not None:
                close()  # releases goals still waiting, so the spin thread can stop
        self._stop = True
        self._thread.join(timeout=10.0)
        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()
        self.action.destroy()
        self.executor.shutdown()
        self.client.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros(ros_domain):
    system = ActionSystem(ros_domain)
    yield system
    system.close()


def _journal(tmp_path: Any) -> list[tuple[str, str]]:
    from robot_planner.service.journal import read_journal

    return [(e["id"], e["state"]) for e in read_journal(tmp_path / "journal.jsonl")]


def _arm_speeds(msg: Any) -> dict[str, float]:
    speeds: dict[str, float] = {}
    for name, velocity in zip(msg.name, msg.velocity, strict=True):
        arm = name.split("/")[0]
        speeds[arm] = max(speeds.get(arm, 0.0), abs(velocity))
    return speeds


# --- a goal from start to end -------------------------------------------------------


def test_a_goal_gets_feedback_in_order_then_success_with_final_facts(ros, tmp_path):
    from action_msgs.msg import GoalStatus

    ros.planner(tmp_path)
    ros.executor_node()
    command_id = unique_id("goal")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    assert not goal.rejected
    result = ros.result(goal)
    assert result.success and result.final_state == "done", result.message
    assert result.error_code == Result.NONE and result.id == command_id
    assert "on(green_block,blue_block)" in result.final_facts
    assert goal.status == GoalStatus.STATUS_SUCCEEDED
    # Feedback: one per status event of the command before its end, in the same order.
    states = [f.state for f in goal.feedback]
    events = [e.state for e in ros.of(command_id) if not e.final]
    assert states[:2] == ["accepted", "planned"], states
    assert states == events[: len(states)] and len(states) >= len(events) - 2, (states, events)
    assert {f.id for f in goal.feedback} == {command_id}
    planned = goal.feedback[1]
    assert planned.readback and planned.tasks_total == 4 and planned.tasks_done == 0
    started = next(f for f in goal.feedback if f.state == "task_started")
    assert len(started.running_tasks) >= 1
    done_counts = [f.tasks_done for f in goal.feedback]
    assert done_counts == sorted(done_counts) and done_counts[-1] >= 3
    assert _journal(tmp_path) == [(command_id, "accepted"), (command_id, "done")]
    answer = ros.state(command_id)
    assert (answer.state, answer.command_id) == ("done", command_id)


def test_a_command_not_understood_ends_not_understood_with_one_line(ros, tmp_path):
    ros.planner(tmp_path)
    goal = ros.send("make me a sandwich")
    result = ros.result(goal, 60)
    assert not result.success and result.final_state == "error"
    assert result.error_code == Result.NOT_UNDERSTOOD
    assert result.message and "\n" not in result.message
    assert result.id  # assigned by the planner
    assert result.final_facts  # the planner's world state
    assert [f.state for f in goal.feedback][:1] == ["accepted"]


@pytest.mark.parametrize(
    ("text", "command_id", "options", "why"),
    [
        ("", "", "", "empty command"),
        ("   ", "", "", "empty command"),
        ("a" * 501, "", "", "over 500"),
        ("go\x07now", "", "", "control characters"),  # (a NUL ends a DDS string)
        ("go \x1b[2J now", "", "", "control characters"),
        (GREEN_ON_BLUE, "bad id with spaces", "", "command 'id'"),
        (GREEN_ON_BLUE, "", "[1, 2]", "options_json must be a JSON object"),
        (GREEN_ON_BLUE, "", "{not json", "options_json is not JSON"),
        (GREEN_ON_BLUE, "", '{"speed": 2}', "unknown option(s) in options_json: speed"),
    ],
)
def test_bad_goals_are_rejected_at_once_with_one_readable_line(
    ros, tmp_path, text, command_id, options, why
):
    ros.planner(tmp_path)
    goal = ros.send(text, command_id, options)
    result = ros.result(goal, WAIT_S)
    assert (result.final_state, result.error_code) == ("rejected", Result.REJECTED)
    assert why in result.message and "\n" not in result.message
    assert "Traceback" not in result.message and "\x1b" not in result.message
    assert result.id == ""  # nothing became a command
    assert not goal.feedback
    assert _journal(tmp_path) == []


# --- ids, the queue, the reject policy ----------------------------------------------


def test_a_duplicate_id_is_rejected_and_the_first_goal_goes_on(ros, tmp_path):
    ros.planner(tmp_path)  # no executor: the test plays it
    command_id = unique_id("dup")
    first = ros.send(GREEN_ON_BLUE, command_id)
    wait_for(lambda: ros.of(command_id, "planned"), WAIT_S, "the first goal planned")
    second = ros.send(GREEN_ON_BLUE, command_id)
    result = ros.result(second, WAIT_S)
    assert (result.error_code, result.message) == (Result.REJECTED, "duplicate command id")
    # The rejection's status event names the same id: it must not end the first goal.
    assert ros.state(command_id).state == "planned"
    ros.executor_says(command_id, "done", facts=["on(green_block,blue_block)"], replans=0)
    outcome = ros.result(first, WAIT_S)
    assert outcome.success and outcome.final_facts == ["on(green_block,blue_block)"]
    assert _journal(tmp_path) == [(command_id, "accepted"), (command_id, "done")]


def test_a_stop_goal_cancels_the_running_command_and_is_not_queued(ros, tmp_path):
    from std_msgs.msg import Empty

    from robot_planner.nodes import common

    halts: list[float] = []
    ros.client.create_subscription(
        Empty, common.CANCEL, lambda _: halts.append(time.monotonic()), common.reliable()
    )
    ros.planner(tmp_path)  # no executor: the test plays it
    a, stop = unique_id("a"), unique_id("stop")
    first = ros.send(GREEN_ON_BLUE, a)
    wait_for(lambda: ros.of(a, "planned"), WAIT_S, "a planned")
    answer = ros.result(ros.send("Stop!", stop), WAIT_S)
    assert answer.error_code == Result.REJECTED and answer.id == stop
    assert answer.message == f"'Stop!' is no command: it cancelled command {a}"
    wait_for(lambda: halts, WAIT_S, "the executor told to halt")
    ros.executor_says(a, "cancelled", reason="cancelled", replans=0)
    assert ros.result(first, WAIT_S).final_state == "cancelled"
    assert (stop, "accepted") not in _journal(tmp_path)  # never a command


def test_busy_with_the_reject_policy_rejects_the_goal(ros, tmp_path):
    ros.planner(tmp_path, on_new_command="reject")
    a, b = unique_id("a"), unique_id("b")
    first = ros.send(GREEN_ON_BLUE, a)
    wait_for(lambda: ros.of(a, "planned"), WAIT_S, "a planned")
    busy = ros.result(ros.send(GREEN_ON_BLUE, b), WAIT_S)
    assert busy.error_code == Result.REJECTED and busy.message == f"busy with command {a}"
    assert busy.id == b
    ros.executor_says(a, "failed", reason="a test failure", replans=2)
    failed = ros.result(first, WAIT_S)
    assert (failed.final_state, failed.error_code) == ("failed", Result.EXECUTION_FAILED)
    assert failed.message == "a test failure"


def test_cancelling_a_waiting_goal_drops_only_it(ros, tmp_path):
    from action_msgs.msg import GoalStatus

    ros.planner(tmp_path)
    a, b, c = unique_id("a"), unique_id("b"), unique_id("c")
    first, second, third = (ros.send(GREEN_ON_BLUE, i) for i in (a, b, c))
    wait_for(lambda: ros.of(c, "accepted"), WAIT_S, "all three accepted")
    cancel = second.handle.cancel_goal_async()
    wait_for(cancel.done, WAIT_S, "the cancel answer")
    assert len(cancel.result().goals_canceling) == 1
    dropped = ros.result(second, WAIT_S)
    assert (dropped.final_state, dropped.error_code) == ("cancelled", Result.CANCELLED)
    assert dropped.message == "cancelled before it started"
    assert second.status == GoalStatus.STATUS_CANCELED
    # The others go on: a runs, c waits behind it and runs when a ends.
    ros.executor_says(a, "done", facts=[])
    assert ros.result(first, WAIT_S).success
    wait_for(lambda: ros.of(c, "planned"), WAIT_S, "c planned after a")
    ros.executor_says(c, "done", facts=[])
    assert ros.result(third, WAIT_S).success


def test_cancel_command_topic_cancels_a_planned_goal_by_id(ros, tmp_path):
    """No executor runs: the planner's halt goes out on /robot_planner/cancel, where the
    test (playing the executor) answers as the executor does."""
    from std_msgs.msg import Empty

    from robot_planner.nodes.common import CANCEL, reliable

    halts: list[Any] = []
    ros.client.create_subscription(Empty, CANCEL, halts.append, reliable())
    planner = ros.planner(tmp_path)
    a, b = unique_id("a"), unique_id("b")
    first, second = ros.send(GREEN_ON_BLUE, a), ros.send(GREEN_ON_BLUE, b)
    wait_for(lambda: ros.of(a, "planned") and ros.of(b, "accepted"), WAIT_S, "a planned")
    wait_for(lambda: ros.cancel_one.get_subscription_count() >= 1, WAIT_S, "cancel peer")
    ros.cancel_one.publish(ros.String(data=a))
    wait_for(lambda: halts, WAIT_S, "the planner's halt on the cancel topic")
    ros.executor_says(a, "cancelled", reason="cancelled by request", facts=[])
    assert ros.result(first, WAIT_S).error_code == Result.CANCELLED
    # Its own halt did not drop b, which runs next.
    wait_for(lambda: ros.of(b, "planned"), WAIT_S, "b planned")
    assert not planner._own_cancels
    ros.executor_says(b, "done", facts=[])
    assert ros.result(second, WAIT_S).success


def test_get_state_answers_idle_busy_and_past_outcomes(ros, tmp_path):
    from robot_planner.service.journal import Journal

    old = unique_id("old")
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write(old, "accepted", text=GREEN_ON_BLUE)
    journal.write(old, "failed", reason="an old failure")
    journal.close()
    ros.planner(tmp_path)
    idle = ros.state()
    assert (idle.state, idle.busy, idle.command_id) == ("idle", False, "")
    assert "on_table(red_block)" in idle.facts or idle.facts
    past = ros.state(old)
    assert (past.state, past.message) == ("failed", "an old failure")
    assert ros.state("never-seen").state == "unknown"
    assert ros.state("bad id!").message == "not a command id"
    now = unique_id("now")
    goal = ros.send(GREEN_ON_BLUE, now)
    wait_for(lambda: ros.of(now, "planned"), WAIT_S, "planned")
    wait_for(lambda: ros.state().state == "planned", WAIT_S, "GetState sees the plan")
    busy = ros.state()
    assert (busy.busy, busy.command_id) == (True, now) and busy.message  # the readback
    ros.executor_says(now, "done", facts=["on(green_block,blue_block)"])
    ros.result(goal, WAIT_S)
    after = ros.state()
    assert (after.state, after.busy, after.command_id) == ("idle", False, now)
    assert ros.state(now).state == "done"


# --- cancel while the robots move -----------------------------------------------------


def test_cancelling_the_goal_during_motion_halts_the_arms_and_answers_cancelled(ros, tmp_path):
    from action_msgs.msg import GoalStatus

    ros.planner(tmp_path)
    ros.executor_node()
    command_id = unique_id("move")
    said = time.monotonic()
    goal = ros.send(GREEN_ON_BLUE, command_id)

    def moving() -> bool:
        return any(
            len(_arm_speeds(msg)) == 2 and max(_arm_speeds(msg).values()) > MOVING_RAD_S
            for _, msg in ros.joints_since(said)
        )

    wait_for(moving, 60, "an arm moving")
    assert goal.result is None  # still running: the cancel cannot come after the end
    cancel = goal.handle.cancel_goal_async()
    result = ros.result(goal, WAIT_S)
    assert cancel.done() and len(cancel.result().goals_canceling) == 1
    assert (result.final_state, result.error_code) == ("cancelled", Result.CANCELLED)
    assert goal.status == GoalStatus.STATUS_CANCELED
    assert result.final_facts  # the robots' state at the halt
    ended = time.monotonic()
    final = ros.of(command_id, "cancelled")
    assert final and final[-1].source == "executor"

    def still() -> list:
        return [
            (stamp, msg)
            for stamp, msg in ros.joints_since(ended)
            if max(_arm_speeds(msg).values()) < MOVING_RAD_S
        ]

    wait_for(still, 10, "both arms still")
    halted_at, halted = still()[0]
    wait_for(lambda: len(ros.joints_since(halted_at)) >= 20, WAIT_S, "more joint states")
    for _, msg in ros.joints_since(halted_at):
        drift = np.max(np.abs(np.asarray(msg.position) - np.asarray(halted.position)))
        assert drift < 0.01, f"an arm moved {drift:.3f} rad after the cancel"
    assert _journal(tmp_path) == [(command_id, "accepted"), (command_id, "cancelled")]
    assert json.loads(json.dumps(list(result.final_facts)))  # plain strings
