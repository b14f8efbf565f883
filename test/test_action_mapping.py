"""robot_planner.service.action_mapping without ROS: goal -> command, status events ->
feedback, final event -> result and error code."""

from __future__ import annotations

import pytest

from robot_planner.service.action_mapping import (
    ERROR_CODES,
    NOT_UNDERSTOOD,
    PLAN_FAILED,
    CommandProgress,
    command_from_goal,
    error_code,
    rejected_result,
)
from robot_planner.service.commands import MAX_COMMAND_CHARS, CommandError
from robot_planner.service.events import make_event

GREEN_ON_BLUE = "put the green block on the blue block"


def _event(state: str, source: str = "executor", command_id: str = "c1", **details):
    return make_event(command_id, state, source, details)


# --- goals ---------------------------------------------------------------------------


def test_a_goal_becomes_a_command_like_one_on_the_topic():
    command = command_from_goal(f"  {GREEN_ON_BLUE} ", "cli", "say-1", "")
    assert (command.id, command.text, command.source) == ("say-1", GREEN_ON_BLUE, "cli")


def test_a_goal_without_id_or_source_gets_them():
    command = command_from_goal(GREEN_ON_BLUE, "", "", "{}")
    assert command.id and command.source == "action"


@pytest.mark.parametrize(
    ("text", "command_id", "options", "message"),
    [
        ("", "", "", "empty command"),
        (" \t ", "", "", "empty command"),
        ("a" * (MAX_COMMAND_CHARS + 1), "", "", f"over {MAX_COMMAND_CHARS}"),
        ("go\x1bnow", "", "", "control characters"),
        ("go \ud800", "", "", "lone surrogates"),
        ("go", "has space", "", "command 'id'"),
        ("go", "x" * 65, "", "command 'id'"),
        ("go", "", "[]", "must be a JSON object"),
        ("go", "", "{", "not JSON"),
        ("go", "", '{"a\\nb": 1}', r"unknown option(s) in options_json: a b"),
        ("go", "", " " + "x" * 3000, "too long"),
    ],
)
def test_bad_goals_are_one_line_command_errors(text, command_id, options, message):
    with pytest.raises(CommandError) as info:
        command_from_goal(text, "cli", command_id, options)
    assert message in str(info.value) and "\n" not in str(info.value)


# --- error codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "details", "code"),
    [
        ("done", {}, "NONE"),
        ("cancelled", {"reason": "cancelled by request"}, "CANCELLED"),
        ("cancelled", {"reason": "preempted by c2"}, "CANCELLED"),
        ("rejected", {"reason": "queue full (10 waiting)"}, "REJECTED"),
        ("interrupted", {"reason": "the executor stopped"}, "INTERRUPTED"),
        ("failed", {"reason": "time limit: over 600 s"}, "TIMEOUT"),
        ("failed", {"reason": "gave up after 5 re-plan(s)"}, "EXECUTION_FAILED"),
        ("error", {"reason": "unknown object 'x'", "kind": NOT_UNDERSTOOD}, "NOT_UNDERSTOOD"),
        ("error", {"reason": "impossible goal: ...", "kind": PLAN_FAILED}, "PLAN_FAILED"),
        ("error", {"reason": "plan rejected by the executor: t1: no skill"}, "INVALID_PLAN"),
        ("error", {"reason": "executor: boom"}, "UNKNOWN"),
        ("accepted", {}, "UNKNOWN"),
    ],
)
def test_error_code_of_each_end(state, details, code):
    assert error_code(state, details) == ERROR_CODES[code]


def test_error_codes_are_the_interface_constants():
    from robot_planner_interfaces.action import ExecuteCommand

    for name, code in ERROR_CODES.items():
        assert getattr(ExecuteCommand.Result, name) == code


# --- progress -> feedback and result -------------------------------------------------


def test_feedback_follows_the_command_through_a_replan():
    progress = CommandProgress("c1")
    assert progress.update(_event("accepted", "planner", text=GREEN_ON_BLUE))
    assert progress.update(_event("planned", "planner", tasks=4, readback="the left arm ..."))
    progress.update(_event("task_started", task="t1"))
    progress.update(_event("task_started", task="t3"))
    feedback = progress.feedback()
    assert feedback["running_tasks"] == ["t1", "t3"] and feedback["tasks_total"] == 4
    progress.update(_event("task_succeeded", task="t1"))
    progress.update(_event("task_phase", task="t3", phase="lift"))
    assert progress.feedback() == {
        "state": "task_phase",
        "readback": "the left arm ...",
        "running_tasks": ["t3"],
        "tasks_done": 1,
        "tasks_total": 4,
        "replans": 0,
        "id": "c1",
    }
    progress.update(_event("misalignment", fact="holding(left_arm,green_block)"))
    progress.update(_event("replanned", replans=1, tasks=2, readback="again"))
    feedback = progress.feedback()
    assert (feedback["replans"], feedback["tasks_total"], feedback["tasks_done"]) == (1, 2, 0)
    assert feedback["readback"] == "again" and feedback["running_tasks"] == []
    progress.update(_event("task_started", task="t1"))
    progress.update(_event("task_succeeded", task="t1"))
    facts = ["on(green_block,blue_block)"]
    assert progress.update(_event("done", replans=1, facts=facts))
    assert progress.result(["ignored"]) == {
        "success": True,
        "final_state": "done",
        "error_code": 0,
        "message": "done: again",
        "final_facts": facts,
        "id": "c1",
    }


def test_other_commands_voice_and_events_after_the_end_are_ignored():
    progress = CommandProgress("c1")
    assert not progress.update(_event("planned", command_id="c2", tasks=3))
    assert not progress.update(_event("error", "voice", reason="not heard"))
    assert progress.update(_event("cancelled", "planner", reason="cancelled while planning"))
    assert not progress.update(_event("done"))
    assert progress.final is not None and progress.final.state == "cancelled"


def test_a_planning_error_result_has_the_planner_state_and_one_line():
    progress = CommandProgress("c1")
    progress.update(
        _event("error", "planner", reason="unknown object 'sandwich'\nsecond", kind=NOT_UNDERSTOOD)
    )
    result = progress.result(["on_table(red_block)"])
    assert result["error_code"] == ERROR_CODES["NOT_UNDERSTOOD"] and not result["success"]
    assert result["message"] == "unknown object 'sandwich' second"
    assert result["final_facts"] == ["on_table(red_block)"]


def test_malformed_details_do_not_break_feedback_or_result():
    progress = CommandProgress("c1")
    progress.update(_event("planned", "planner", tasks="four", readback=7))
    progress.update(_event("task_started", task=["t1"]))
    progress.update(_event("replanned", replans=-3))
    assert progress.feedback()["tasks_total"] == 0 and progress.feedback()["replans"] == 1
    progress.update(_event("failed", facts="not a list", replans=True))
    result = progress.result(["fallback"])
    assert result["final_facts"] == ["fallback"] and result["message"] == "failed"


def test_result_before_the_end_is_an_error():
    with pytest.raises(ValueError, match="has not ended"):
        CommandProgress("c1").result()


def test_a_rejected_result_does_not_echo_a_malformed_id():
    assert rejected_result("ok-1", "busy")["id"] == "ok-1"
    bad = rejected_result("bad id\n", "command 'id' must be ...")
    assert bad["id"] == "" and bad["error_code"] == ERROR_CODES["REJECTED"]
    assert len(rejected_result("x", "y" * 2000)["message"]) <= 500
