"""`robot-planner approve | reject` and the awaiting_approval line of `say`/`status`: the
CLI's own client against an in-process planner on a reserved ROS domain (bad input fails
before any ROS is touched)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
from test_action import GREEN_ON_BLUE, WAIT_S
from test_approval_ros import ApprovalSystem

from robot_planner import ros_cli
from robot_planner.cli import main
from robot_planner.service.events import make_event
from robot_planner.testing.isolation import unique_id
from robot_planner.testing.waiting import wait_for


@pytest.fixture
def ros(ros_domain, monkeypatch):
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ros_domain))  # the CLI's client joins it
    system = ApprovalSystem(ros_domain)
    yield system
    system.close()


def _lines(capsys: pytest.CaptureFixture[str]) -> tuple[list[str], list[str]]:
    captured = capsys.readouterr()
    return captured.out.splitlines(), captured.err.splitlines()


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_approve_without_id_runs_the_one_waiting_then_says_none_is(ros, tmp_path, capsys):
    ros.planner(tmp_path, confirm="always")
    command_id = unique_id("cli")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    ros.awaiting(command_id)
    assert main(["approve", "--reason", "fine by me"]) == 0
    out, err = _lines(capsys)
    assert out == [f"command {command_id} approved"] and err == []
    # The CLI's answer comes from the service; the status event and the plan follow on
    # their topics: wait for them.
    approved = wait_for(lambda: ros.of(command_id, "approved"), WAIT_S, "approved event")[0]
    assert approved.details == {"by": "service", "reason": "fine by me"}
    plans = wait_for(lambda: ros.plans_of(command_id), WAIT_S, "the approved plan")
    assert [p["command_id"] for p in plans] == [command_id]
    ros.executor_says(command_id, "done", facts=["on(green_block,blue_block)"])
    assert ros.result(goal, WAIT_S).success
    assert main(["approve"]) == 2
    out, err = _lines(capsys)
    assert out == [] and err == ["robot-planner: error: no command is waiting for approval"]


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_reject_by_id_ends_the_command_rejected_with_the_reason(ros, tmp_path, capsys):
    ros.planner(tmp_path, confirm="always")
    command_id = unique_id("cli")
    goal = ros.send(GREEN_ON_BLUE, command_id)
    ros.awaiting(command_id)
    assert main(["reject", "--id", "someone-else"]) == 2
    _, err = _lines(capsys)
    assert err == ["robot-planner: error: command someone-else is not waiting for approval"]
    assert main(["reject", "--id", command_id, "--reason", "not that tower"]) == 0
    out, _ = _lines(capsys)
    assert out == [f"command {command_id} rejected"]
    result = ros.result(goal, WAIT_S)
    assert (result.final_state, result.message) == ("rejected", "not that tower")
    assert ros.plans_of(command_id) == []


@pytest.fixture
def no_ros(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("rclpy", "std_msgs", "std_msgs.msg", "robot_planner.nodes.common"):
        monkeypatch.setitem(sys.modules, module, None)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"touched ROS: {args!r}")

    monkeypatch.setattr(ros_cli, "_Client", forbidden)


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["approve", "--id", "bad id"], "--id must be 1-64 characters"),
        (["reject", "--id", "x" * 65], "--id must be 1-64 characters"),
        (["approve", "--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_bad_options_fail_before_ros_with_one_line(no_ros, capsys, argv, why):
    assert main(argv) == 2
    out, err = _lines(capsys)
    assert out == [] and len(err) == 1 and why in err[0]


def test_the_awaiting_line_reads_back_and_says_how_to_answer():
    event = make_event(
        "c7",
        "awaiting_approval",
        "planner",
        {
            "readback": "left arm: green block → blue block",
            "guesses": ["it: green"],
            "timeout_s": 30,
        },
    )
    line = ros_cli._progress(event)
    assert "awaiting_approval" in line and "left arm: green block → blue block" in line
    assert "[guessed: it: green]" in line and "approve within 30 s" in line
    assert "robot-planner approve --id c7" in line and "reject --id c7" in line
    feedback = SimpleNamespace(
        state="awaiting_approval", readback="x → y", id="c8", running_tasks=[]
    )
    assert "x → y -- approve: robot-planner approve --id c8" in ros_cli._feedback_line(feedback)


def test_a_stalled_base_is_one_progress_line():
    event = make_event(
        "c9",
        "progress_stalled",
        "executor",
        {"task": "t1", "robot": "base_1", "phase": "drive", "stalled_s": 3.2},
    )
    line = ros_cli._progress(event)
    assert "progress_stalled" in line and "base_1 in t1's drive, stood 3.2 s" in line
    feedback = SimpleNamespace(
        state="progress_stalled", tasks_done=0, tasks_total=1, running_tasks=["t1"]
    )
    assert "0/1 done, running t1" in ros_cli._feedback_line(feedback)
