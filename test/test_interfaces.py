"""robot_planner_interfaces: the generated types (constants, fields, serialisation) and an
ExecuteCommand action round trip in one process: a server node and a client node in one
executor of a private rclpy context and ROS domain, spun in a thread. Server and client
wait for each other's events with deadlines (no sleeps), so every step is ordered:
goal -> feedback -> result, and a cancel that reaches the server before it answers.

Without a sourced ROS 2 the package is built and installed into .venv by `make setup`, so
a missing package is a failure; with one it comes from `colcon build` (skipped when the
workspace has not built it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ros_system import domain_id

try:
    from robot_planner_interfaces.action import ExecuteCommand
    from robot_planner_interfaces.msg import (
        Misalignment,
        Perception,
        Plan,
        PlanConstraint,
        PlanTask,
        StatusEvent,
    )
    from robot_planner_interfaces.srv import ApprovePlan, GetState
except ImportError as exc:
    if not os.environ.get("ROS_DISTRO"):
        raise ImportError(
            f"{exc}: robot_planner_interfaces is not installed in this venv (make setup "
            "builds it with scripts/build_interfaces.sh)"
        ) from exc
    pytest.skip(
        f"robot_planner_interfaces is not built: colcon build it and source the install ({exc})",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]

#: Every wait for the other side of the action; generous for a busy 2-core machine.
WAIT_S = 20.0

# --- the generated types --------------------------------------------------------------


def test_error_codes_have_their_documented_values():
    codes = {name: getattr(ExecuteCommand.Result, name) for name in dir(ExecuteCommand.Result)}
    codes = {k: v for k, v in codes.items() if k.isupper() and isinstance(v, int)}
    assert codes == {
        "NONE": 0,
        "UNKNOWN": 1,
        "NOT_UNDERSTOOD": 2,
        "INVALID_PLAN": 3,
        "PLAN_FAILED": 4,
        "EXECUTION_FAILED": 5,
        "CANCELLED": 6,
        "TIMEOUT": 7,
        "REJECTED": 8,
        "INTERRUPTED": 9,
    }


#: The interface is a contract (README, ROS interfaces): field names, order and types.
FIELDS: dict[type, dict[str, str]] = {
    ExecuteCommand.Goal: {
        "command": "string",
        "source": "string",
        "id": "string",
        "options_json": "string",
    },
    ExecuteCommand.Result: {
        "success": "boolean",
        "final_state": "string",
        "error_code": "int16",
        "message": "string",
        "final_facts": "sequence<string>",
        "id": "string",
    },
    ExecuteCommand.Feedback: {
        "state": "string",
        "readback": "string",
        "running_tasks": "sequence<string>",
        "tasks_done": "uint32",
        "tasks_total": "uint32",
        "replans": "uint32",
        "id": "string",
    },
    StatusEvent: {
        "stamp": "builtin_interfaces/Time",
        "command_id": "string",
        "state": "string",
        "source": "string",
        "message": "string",
        "detail_json": "string",
    },
    Plan: {
        "stamp": "builtin_interfaces/Time",
        "command_id": "string",
        "revision": "uint32",
        "command": "string",
        "readback": "string",
        "goal": "sequence<string>",
        "tasks": "sequence<robot_planner_interfaces/PlanTask>",
        "error": "string",
    },
    PlanTask: {
        "id": "string",
        "skill": "string",
        "robot": "string",
        "args_json": "string",
        "depends_on": "sequence<string>",
        "constraints": "sequence<robot_planner_interfaces/PlanConstraint>",
    },
    PlanConstraint: {
        "phase": "string",
        "fact": "string",
        "question": "string",
        "expected": "boolean",
        "period_s": "double",
        "kind": "string",
    },
    Misalignment: {
        "stamp": "builtin_interfaces/Time",
        "command_id": "string",
        "revision": "uint32",
        "task_id": "string",
        "robot": "string",
        "fact": "string",
        "phase": "string",
        "expected": "boolean",
        "confidence": "float",
        "reason": "string",
        "facts": "sequence<string>",
        "detail_json": "string",
    },
    Perception: {
        "stamp": "builtin_interfaces/Time",
        "facts": "sequence<string>",
        "confidences": "sequence<float>",
        "source": "string",
    },
    GetState.Request: {"command_id": "string"},
    GetState.Response: {
        "state": "string",
        "command_id": "string",
        "message": "string",
        "facts": "sequence<string>",
        "busy": "boolean",
    },
    ApprovePlan.Request: {
        "command_id": "string",
        "revision": "uint32",
        "approve": "boolean",
        "reason": "string",
    },
    ApprovePlan.Response: {"accepted": "boolean", "message": "string"},
}


@pytest.mark.parametrize("kind", list(FIELDS), ids=lambda kind: kind.__name__)
def test_fields_and_types(kind: type):
    assert list(kind.get_fields_and_field_types().items()) == list(FIELDS[kind].items())


def test_field_types_are_enforced_when_checked():
    with pytest.raises(AssertionError):
        ExecuteCommand.Result(check_fields=True, error_code=2**15)  # int16
    with pytest.raises(AssertionError):
        ExecuteCommand.Feedback(check_fields=True, tasks_done=-1)  # uint32
    with pytest.raises(AssertionError):
        PlanTask(check_fields=True, depends_on=[1])  # sequence<string>


def test_a_plan_survives_serialisation():
    """Through the C typesupport library and back: nested sequences, times, floats."""
    from builtin_interfaces.msg import Time
    from rclpy.serialization import deserialize_message, serialize_message

    pick = PlanTask(
        id="t1",
        skill="pick",
        robot="left_arm",
        args_json='{"object": "red_block"}',
        constraints=[
            PlanConstraint(
                phase="during",
                fact="holding(left_arm,red_block)",
                question="Is the red block in the left arm's gripper?",
                expected=True,
                period_s=0.5,
            )
        ],
    )
    place = PlanTask(id="t2", skill="place", robot="left_arm", depends_on=["t1"])
    plan = Plan(
        stamp=Time(sec=1_700_000_000, nanosec=5),
        command_id="a",
        revision=2,
        command="put the red block in the bin",
        goal=["in(red_block,bin)"],
        tasks=[pick, place],
    )
    back = deserialize_message(serialize_message(plan), Plan)
    assert back == plan
    assert back.tasks[0].constraints[0].period_s == pytest.approx(0.5)
    assert back.tasks[1].depends_on == ["t1"] and back.error == ""

    seen = Perception(facts=["on(a,b)", "clear(a)"], confidences=[0.9, 0.75], source="test")
    back = deserialize_message(serialize_message(seen), Perception)
    assert back.facts == ["on(a,b)", "clear(a)"]
    assert list(back.confidences) == pytest.approx([0.9, 0.75])


# --- the action in one process ---------------------------------------------------------


def _wait(event: threading.Event, what: str) -> None:
    if not event.wait(WAIT_S):
        raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")


def _result_of(future: Any, what: str) -> Any:
    """A future's result, waiting for it on an event the executor sets (no polling)."""
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    _wait(done, what)
    return future.result()


class CommandServer:
    """A stand-in for the planner's ExecuteCommand server. Each step waits for the client
    to have seen the previous one, so the test never depends on how fast either side is:

    * "cancel me": one feedback, then waits until the client saw its cancel accepted and
      answers CANCELLED;
    * anything else: three feedbacks (one per task), then success;
    * an empty command is rejected.
    """

    TASKS = ("t1", "t2", "t3")

    def __init__(self, node: Any, action: str):
        from rclpy.action import ActionServer, CancelResponse, GoalResponse
        from rclpy.callback_groups import ReentrantCallbackGroup

        self.node = node
        self.goals: list[Any] = []
        self.feedback_seen = threading.Condition()
        self.feedbacks_seen = 0
        self.cancel_answered = threading.Event()
        self._ids = iter(range(1, 1000))
        self.server = ActionServer(
            node,
            ExecuteCommand,
            action,
            execute_callback=self.execute,
            goal_callback=lambda goal: (
                GoalResponse.ACCEPT if goal.command else GoalResponse.REJECT
            ),
            cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )

    def client_saw_feedback(self) -> None:
        with self.feedback_seen:
            self.feedbacks_seen += 1
            self.feedback_seen.notify_all()

    def _feedback(self, handle: Any, count: int, feedback: Any) -> bool:
        """Publish feedback number `count` and wait until the client has it."""
        handle.publish_feedback(feedback)
        with self.feedback_seen:
            return self.feedback_seen.wait_for(lambda: self.feedbacks_seen >= count, WAIT_S)

    def execute(self, handle: Any) -> Any:
        goal = handle.request
        self.goals.append(goal)
        command_id = goal.id or f"cmd-{next(self._ids)}"
        result = ExecuteCommand.Result(id=command_id)
        seen_before = self.feedbacks_seen
        if goal.command == "cancel me":
            planned = ExecuteCommand.Feedback(state="planned", tasks_total=3, id=command_id)
            if not self._feedback(handle, seen_before + 1, planned):
                handle.abort()
                return result
            if not self.cancel_answered.wait(WAIT_S) or not handle.is_cancel_requested:
                handle.abort()
                result.error_code = ExecuteCommand.Result.UNKNOWN
                return result
            handle.canceled()
            result.final_state = "cancelled"
            result.error_code = ExecuteCommand.Result.CANCELLED
            result.message = "cancelled by the client"
            return result
        for done, task in enumerate(self.TASKS):
            feedback = ExecuteCommand.Feedback(
                state="task_started",
                readback=f"I will {goal.command}",
                running_tasks=[task],
                tasks_done=done,
                tasks_total=len(self.TASKS),
                id=command_id,
            )
            if not self._feedback(handle, seen_before + done + 1, feedback):
                handle.abort()
                result.final_state = "failed"
                result.error_code = ExecuteCommand.Result.TIMEOUT
                return result
        handle.succeed()
        result.success = True
        result.final_state = "done"
        result.error_code = ExecuteCommand.Result.NONE
        result.final_facts = ["on(green_block,blue_block)"]
        return result


class InProcess:
    """A server node and a client node in one executor of a private context and domain."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("ROS_DOMAIN_ID", str(domain_id()))
        monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        import rclpy
        from rclpy.action import ActionClient
        from rclpy.executors import MultiThreadedExecutor

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        action = f"test_interfaces_{os.getpid()}/execute_command"
        self.server_node = rclpy.create_node("command_server", context=self.context)
        self.client_node = rclpy.create_node("command_client", context=self.context)
        self.server = CommandServer(self.server_node, action)
        self.client = ActionClient(self.client_node, ExecuteCommand, action)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(self.server_node)
        self.executor.add_node(self.client_node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def send(self, goal: Any, feedback: list[Any]) -> Any:
        """Send a goal; its feedback goes to `feedback`, and the server learns of each."""

        def on_feedback(message: Any) -> None:
            feedback.append(message.feedback)
            self.server.client_saw_feedback()

        if not self.client.wait_for_server(timeout_sec=WAIT_S):
            raise AssertionError("the action server was not discovered")
        return _result_of(
            self.client.send_goal_async(goal, feedback_callback=on_feedback), "goal response"
        )

    def close(self) -> None:
        # Executor stopped and its thread joined before any node goes (else an occasional
        # abort at exit).
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=5.0)
        alive = self._thread.is_alive()
        self.client.destroy()
        self.server.server.destroy()
        self.client_node.destroy_node()
        self.server_node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)
        assert not alive, "the executor thread did not stop"


@pytest.fixture
def ros(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    system = InProcess(monkeypatch)
    yield system
    system.close()


def test_goal_feedback_result(ros: InProcess):
    from action_msgs.msg import GoalStatus

    feedback: list[Any] = []
    goal = ExecuteCommand.Goal(
        command="put the green block on the blue block",
        source="test",
        options_json='{"speed": 2}',
    )
    handle = ros.send(goal, feedback)
    assert handle.accepted
    response = _result_of(handle.get_result_async(), "the result")
    assert response.status == GoalStatus.STATUS_SUCCEEDED
    result = response.result
    assert result.success and result.final_state == "done"
    assert result.error_code == ExecuteCommand.Result.NONE
    assert result.id == "cmd-1"  # the goal left the id empty: the server assigned one
    assert result.final_facts == ["on(green_block,blue_block)"]
    # Every feedback arrived (the server waited for each), in order, before the result.
    assert [(f.running_tasks, f.tasks_done, f.tasks_total) for f in feedback] == [
        (["t1"], 0, 3),
        (["t2"], 1, 3),
        (["t3"], 2, 3),
    ]
    assert {(f.state, f.id, f.readback) for f in feedback} == {
        ("task_started", "cmd-1", "I will put the green block on the blue block")
    }
    [received] = ros.server.goals
    assert (received.source, received.id, received.options_json) == ("test", "", '{"speed": 2}')


def test_cancel_of_a_running_goal(ros: InProcess):
    from action_msgs.msg import GoalStatus
    from action_msgs.srv import CancelGoal

    feedback: list[Any] = []
    handle = ros.send(ExecuteCommand.Goal(command="cancel me", id="c1"), feedback)
    assert handle.accepted
    # The server says it is running (feedback) before the client cancels.
    with ros.server.feedback_seen:
        assert ros.server.feedback_seen.wait_for(lambda: feedback, WAIT_S), "no feedback"
    answer = _result_of(handle.cancel_goal_async(), "the cancel response")
    assert answer.return_code == CancelGoal.Response.ERROR_NONE
    assert [bytes(g.goal_id.uuid) for g in answer.goals_canceling] == [bytes(handle.goal_id.uuid)]
    ros.server.cancel_answered.set()
    response = _result_of(handle.get_result_async(), "the result of the cancelled goal")
    assert response.status == GoalStatus.STATUS_CANCELED
    result = response.result
    assert not result.success and result.final_state == "cancelled"
    assert result.error_code == ExecuteCommand.Result.CANCELLED
    assert result.id == "c1"
    assert [(f.state, f.id, f.tasks_total) for f in feedback] == [("planned", "c1", 3)]


def test_an_empty_command_is_rejected(ros: InProcess):
    handle = ros.send(ExecuteCommand.Goal(command=""), [])
    assert not handle.accepted
    assert ros.server.goals == []
