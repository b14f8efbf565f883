"""Plans that wait for approval (`confirm`), in process: the planner (and, where the robots
must move, the executor with the simulation) and a client node in one executor on a
reserved ROS domain (test_action's `ActionSystem`). The client watches the plan topic:
a held plan must never reach it before the approval."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import ANY

import pytest
from test_action import GREEN_ON_BLUE, WAIT_S, ActionSystem

from robot_planner.testing.isolation import unique_id
from robot_planner.testing.waiting import wait_for

try:
    from robot_planner_interfaces.action import ExecuteCommand
    from robot_planner_interfaces.srv import ApprovePlan
except ImportError as exc:  # make setup builds it into .venv
    raise ImportError(f"{exc}: run make setup (robot_planner_interfaces)") from exc

pytestmark = [pytest.mark.ros, pytest.mark.timeout(240)]
Result = ExecuteCommand.Result


class ApprovalSystem(ActionSystem):
    """`ActionSystem` plus the plan topic, the command topic and the approval service."""

    def __init__(self, domain: int) -> None:
        super().__init__(domain)
        from robot_planner.nodes import common
        from robot_planner.nodes.typed import plan_from_msg
        from robot_planner.service.approval import APPROVE_PLAN
        from robot_planner_interfaces.msg import Plan

        self.plans: list[dict[str, Any]] = []

        def on_plan(msg: Any) -> None:
            with self.lock:
                self.plans.append(plan_from_msg(msg))

        self.client.create_subscription(Plan, common.PLAN_GRAPH, on_plan, common.latched())
        self.command_pub = self.client.create_publisher(
            self.String, common.COMMAND, common.COMMAND_QOS
        )
        self.approve_client = self.client.create_client(ApprovePlan, APPROVE_PLAN)

    def planner(self, tmp_path: Any, **params: Any) -> Any:
        node = super().planner(tmp_path, **params)
        wait_for(self.approve_client.service_is_ready, WAIT_S, "the approval service")
        wait_for(lambda: self.command_pub.get_subscription_count() >= 1, WAIT_S, "command peer")
        return node

    def answer(self, command_id: str, approve: bool, reason: str = "", revision: int = 0) -> Any:
        request = ApprovePlan.Request(
            command_id=command_id, revision=revision, approve=approve, reason=reason
        )
        future = self.approve_client.call_async(request)
        wait_for(future.done, WAIT_S, "the approval answer")
        return future.result()

    def plans_of(self, command_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.plans if p.get("command_id") == command_id]

    def awaiting(self, command_id: str) -> Any:
        return wait_for(
            lambda: self.of(command_id, "awaiting_approval"), WAIT_S, "awaiting_approval"
        )[0]


@pytest.fixture
def ros(ros_domain):
    system = ApprovalSystem(ros_domain)
    yield system
    system.close()


def _journal(tmp_path: Any) -> list[tuple[str, str]]:
    from robot_planner.service.journal import read_journal

    return [(e["id"], e["state"]) for e in read_journal(tmp_path / "journal.jsonl")]


def test_always_holds_the_plan_until_approved_then_the_robots_do_it(ros, tmp_path):
    ros.planner(tmp_path, confirm="always", confirm_timeout_s=120.0)
    ros.executor_node()
    command_id = unique_id("ask")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    asked = ros.awaiting(command_id)
    assert asked.details["readback"] and asked.details["guesses"] == []
    assert asked.details["timeout_s"] == 120.0 and asked.details["deadline"] > asked.time
    assert f"approve|reject --id {command_id}" in asked.details["answer"]
    wait_for(lambda: ros.state(command_id).state == "awaiting_approval", WAIT_S, "GetState")
    assert ros.plans_of(command_id) == [], "a held plan reached the plan topic"
    assert not ros.of(command_id, "task_started") and goal.result is None
    answer = ros.answer(command_id, True, "looks right")
    assert (answer.accepted, answer.message) == (True, f"command {command_id} approved")
    result = ros.result(goal)
    assert result.success and result.final_state == "done", result.message
    assert "on(green_block,blue_block)" in result.final_facts
    states = [e.state for e in ros.of(command_id)]
    assert states[:4] == ["accepted", "planned", "awaiting_approval", "approved"], states
    assert "task_started" in states[4:]
    assert [f.state for f in goal.feedback][:3] == ["accepted", "planned", "awaiting_approval"]
    assert goal.feedback[2].readback == asked.details["readback"]
    [plan] = ros.plans_of(command_id)
    assert plan["revision"] == 0 and plan["readback"] == asked.details["readback"]
    approved = ros.of(command_id, "approved")[0].details
    assert approved == {"by": "service", "reason": "looks right"}
    assert _journal(tmp_path) == [
        (command_id, "accepted"),
        (command_id, "approved"),
        (command_id, "done"),
    ]
    # Decided once: a second answer is refused with one line.
    again = ros.answer(command_id, False)
    assert not again.accepted
    assert again.message == f"command {command_id} is not waiting for approval"


def test_a_rejected_plan_never_reaches_the_executor_and_ends_rejected(ros, tmp_path):
    ros.planner(tmp_path, confirm="always")
    first, second = unique_id("no"), unique_id("next")
    goal = ros.send(GREEN_ON_BLUE, first)
    queued = ros.send(GREEN_ON_BLUE, second)  # waits behind it, then is asked about
    ros.awaiting(first)
    answer = ros.answer(first, False, "wrong tower")
    assert answer.accepted and answer.message == f"command {first} rejected"
    result = ros.result(goal, WAIT_S)
    assert (result.final_state, result.error_code) == ("rejected", Result.REJECTED)
    assert result.message == "wrong tower" and not result.success
    # The status event and the action's result travel apart: wait for the event.
    rejected = wait_for(lambda: ros.of(first, "rejected"), WAIT_S, "rejected event")
    assert rejected[-1].details == {"by": "service", "reason": "wrong tower"}
    assert ros.state(first).state == "rejected"
    ros.awaiting(second)  # the queue went on
    assert ros.plans_of(first) == [] and not ros.of(first, "approved")
    assert (first, "rejected") in _journal(tmp_path)
    ros.answer(second, False)
    assert ros.result(queued, WAIT_S).message == "rejected by service"


def test_no_answer_in_time_rejects_the_command(ros, tmp_path):
    ros.planner(tmp_path, confirm="always", confirm_timeout_s=1.0)
    command_id = unique_id("late")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    asked = ros.awaiting(command_id)
    result = ros.result(goal, WAIT_S)
    assert (result.final_state, result.error_code) == ("rejected", Result.REJECTED)
    assert result.message == "no approval within 1 s"
    ended = wait_for(lambda: ros.of(command_id, "rejected"), WAIT_S, "rejected event")[-1]
    assert ended.details["by"] == "timeout" and ended.time - asked.time >= 0.9
    assert ros.plans_of(command_id) == []
    late = ros.answer(command_id, True)
    assert not late.accepted and "not waiting for approval" in late.message
    assert _journal(tmp_path) == [(command_id, "accepted"), (command_id, "rejected")]


def test_yes_on_the_command_topic_approves_and_no_rejects(ros, tmp_path):
    ros.planner(tmp_path, confirm="always")
    first, second = unique_id("yes"), unique_id("no")
    ros.command_pub.publish(ros.String(data=json.dumps({"id": first, "text": GREEN_ON_BLUE})))
    ros.awaiting(first)
    spoken = {"id": "ans-1", "text": "Yes please", "source": "voice"}  # as the voice node says it
    ros.command_pub.publish(ros.String(data=json.dumps(spoken)))
    approved = wait_for(lambda: ros.of(first, "approved"), WAIT_S, "approved by words")[0]
    assert approved.details["by"] == "voice" and approved.details["answer_id"] == "ans-1"
    wait_for(lambda: ros.plans_of(first), WAIT_S, "the plan published")
    assert not ros.of("ans-1"), "an answer is not a command"
    ros.executor_says(first, "done", facts=["on(green_block,blue_block)"])
    wait_for(lambda: ros.state(first).state == "done", WAIT_S, "the first command done")
    ros.command_pub.publish(ros.String(data=json.dumps({"id": second, "text": GREEN_ON_BLUE})))
    ros.awaiting(second)
    ros.command_pub.publish(ros.String(data="stop"))
    rejected = wait_for(lambda: ros.of(second, "rejected"), WAIT_S, "rejected by words")[0]
    assert rejected.details == {"by": "topic", "reason": "said 'stop'", "answer_id": ANY}
    assert ros.plans_of(second) == []


def test_yes_with_nothing_waiting_is_refused_as_an_answer_to_nothing(ros, tmp_path):
    ros.planner(tmp_path, confirm="always")
    goal = ros.send("yes")
    result = ros.result(goal, WAIT_S)
    assert (result.final_state, result.error_code) == ("rejected", Result.REJECTED)
    assert result.message.startswith("no plan is waiting for approval, so 'yes' answers nothing")
    ros.command_pub.publish(ros.String(data=json.dumps({"id": "lone-yes", "text": "yes"})))
    ended = wait_for(lambda: ros.of("lone-yes", "rejected"), WAIT_S, "refused")[0]
    assert ended.details["reason"] == result.message
    assert not ros.of("lone-yes", "accepted")  # never a command


def test_ambiguous_runs_an_offline_plan_without_guesses_at_once(ros, tmp_path):
    ros.planner(tmp_path, confirm="ambiguous")
    command_id = unique_id("plain")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    wait_for(lambda: ros.plans_of(command_id), WAIT_S, "the plan published")
    assert not ros.of(command_id, "awaiting_approval")
    ros.executor_says(command_id, "done", facts=["on(green_block,blue_block)"])
    assert ros.result(goal, WAIT_S).success


def test_ambiguous_asks_when_the_planner_guessed(ros, tmp_path):
    """A backend that reports a guess (as the offline understanding does for a pronoun
    with two candidates) makes the plan wait; the guess is shown."""
    planner = ros.planner(tmp_path, confirm="ambiguous")
    real = planner.planner.plan

    def guessing(request: Any) -> Any:
        result = real(request)
        result.guesses = ["'it' read as the green block"]
        return result

    planner.planner.plan = guessing
    command_id = unique_id("guess")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    asked = ros.awaiting(command_id)
    assert asked.details["guesses"] == ["'it' read as the green block"]
    ros.answer(command_id, False)
    assert ros.result(goal, WAIT_S).final_state == "rejected"


def test_cancelling_a_command_awaiting_approval_ends_it_cancelled(ros, tmp_path):
    ros.planner(tmp_path, confirm="always")
    by_topic, by_goal = unique_id("ct"), unique_id("cg")
    first, second = ros.send(GREEN_ON_BLUE, by_topic), ros.send(GREEN_ON_BLUE, by_goal)
    ros.awaiting(by_topic)
    wait_for(lambda: ros.cancel_one.get_subscription_count() >= 1, WAIT_S, "cancel peer")
    ros.cancel_one.publish(ros.String(data=by_topic))
    result = ros.result(first, WAIT_S)
    assert (result.final_state, result.error_code) == ("cancelled", Result.CANCELLED)
    assert result.message == "cancelled while awaiting approval"
    ros.awaiting(by_goal)
    cancel = second.handle.cancel_goal_async()
    assert ros.result(second, WAIT_S).error_code == Result.CANCELLED
    assert cancel.done()
    assert ros.plans_of(by_topic) == ros.plans_of(by_goal) == []
    assert not ros.answer(by_goal, True).accepted


def test_preempting_a_command_awaiting_approval_cancels_it(ros, tmp_path):
    ros.planner(tmp_path, confirm="always", on_new_command="preempt")
    old, new = unique_id("old"), unique_id("new")
    first = ros.send(GREEN_ON_BLUE, old)
    ros.awaiting(old)
    second = ros.send(GREEN_ON_BLUE, new)
    result = ros.result(first, WAIT_S)
    assert result.final_state == "cancelled" and new in result.message
    ros.awaiting(new)
    ros.answer("", False)  # no id: the only one waiting
    assert ros.result(second, WAIT_S).final_state == "rejected"


@pytest.mark.parametrize(
    ("command_id", "revision", "why"),
    [
        ("", 0, "no command is waiting for approval"),
        ("never-asked", 0, "command never-asked is not waiting for approval"),
        ("bad id\x1b[2J", 0, "not a command id"),
    ],
)
def test_bad_answers_are_refused_with_one_line(ros, tmp_path, command_id, revision, why):
    ros.planner(tmp_path, confirm="always")
    answer = ros.answer(command_id, True, "x" * 5000, revision)
    assert not answer.accepted and why in answer.message
    assert "\n" not in answer.message and "\x1b" not in answer.message


def test_an_answer_about_another_revision_keeps_the_plan_waiting(ros, tmp_path):
    ros.planner(tmp_path, confirm="always")
    command_id = unique_id("rev")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    ros.awaiting(command_id)
    stale = ros.answer(command_id, True, revision=3)
    assert not stale.accepted and "revision 0, not 3" in stale.message
    assert ros.state(command_id).state == "awaiting_approval"
    assert ros.answer(command_id, False, "z" * 5000).accepted
    result = ros.result(goal, WAIT_S)
    assert len(result.message) <= 300 and result.message.endswith("…")


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"confirm": "sometimes"}, "parameter confirm"),
        ({"confirm_timeout_s": 0.5}, "1..600"),
        ({"confirm_timeout_s": 900.0}, "confirm_timeout_s"),
    ],
)
def test_bad_confirm_parameters_stop_the_node_with_one_line(ros, tmp_path, params, why):
    from robot_planner.nodes.planner_node import PlannerNode

    with pytest.raises(Exception) as info:
        ros.add(PlannerNode, journal=str(tmp_path / "j.jsonl"), backend="offline", **params)
    assert why in str(info.value) and "\n" not in str(info.value)
