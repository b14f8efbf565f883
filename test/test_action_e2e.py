"""The ExecuteCommand action over DDS between processes: `robot-planner bringup --sim` in
one process group (its own reserved ROS domain), `robot-planner say/status/cancel` in
others, as a user runs them in two terminals. Every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from ros_system import System, cli

from robot_planner.testing.isolation import reserved_domain, unique_id
from robot_planner.testing.waiting import wait_for

pytestmark = [pytest.mark.ros, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

FAST = ("executor.sim_speed=2.0",)
GREEN_ON_BLUE = "put the green block on the blue block"


@pytest.fixture
def system(tmp_path):
    with reserved_domain() as domain:
        started = System(tmp_path, domain=domain, sets=FAST)
        try:
            started.wait_ready()
            yield started
        finally:
            started.stop()


def _states(stderr: str) -> list[str]:
    """The states of the progress lines ("<time> <who> <state> ...")."""
    return [line.split()[2] for line in stderr.splitlines() if len(line.split()) >= 3]


def test_say_wait_streams_feedback_and_ends_with_the_result(system):
    command_id = unique_id("e2e")
    idle = system.run("status", timeout=60)
    assert idle.returncode == 0, idle.stderr
    assert json.loads(idle.stdout)["state"] == "idle"
    said = system.run("say", GREEN_ON_BLUE, "--wait", "--timeout", "150", "--id", command_id)
    assert said.returncode == 0, said.stderr + system.log[-3000:]
    final = json.loads(said.stdout)
    result = final["result"]
    assert (result["success"], result["final_state"], result["error"]) == (True, "done", "NONE")
    assert result["id"] == command_id and result["goal_status"] == "succeeded"
    assert "on(green_block,blue_block)" in result["final_facts"]
    assert final["state"] == "done" and final["source"] == "executor"  # the status event
    states = _states(said.stderr)
    assert states[:2] == ["accepted", "planned"], said.stderr
    assert "task_started" in states and states[-1] == "done"
    outcome = system.run("status", "--command", command_id, timeout=60)
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads(outcome.stdout)["state"] == "done"
    now = system.run("status", "--brief", timeout=60)
    assert now.stdout.startswith(f"{command_id} idle"), now.stdout + now.stderr


def test_ctrl_c_during_say_wait_cancels_the_goal(system):
    command_id = unique_id("ctrlc")
    process = subprocess.Popen(
        cli("say", GREEN_ON_BLUE, "--wait", "--timeout", "150", "--id", command_id),
        env=system.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        # The robots are moving: a task started (so the cancel cannot come after the end).
        wait_for(lambda: any(" task_started " in line for line in lines), 90, "a task started")
        process.send_signal(signal.SIGINT)
        assert process.stdout is not None
        out = process.stdout.read()  # (not communicate(): the reader owns stderr)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
    err = "".join(lines)
    assert process.returncode == 1, err + system.log[-3000:]
    assert f"cancelling command {command_id}" in err
    result = json.loads(out)["result"]
    assert (result["final_state"], result["error"]) == ("cancelled", "CANCELLED"), result
    assert result["goal_status"] == "canceled"
    entries = system.journalled(command_id)
    assert [e["state"] for e in entries if e["id"] == command_id] == ["accepted", "cancelled"]


def test_no_planner_is_one_line_and_exit_2_without_hanging(tmp_path):
    with reserved_domain() as domain:  # nothing runs in it
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "robot_planner.cli", "say", GREEN_ON_BLUE, "--timeout", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "robot-planner: error: no planner serves /robot_planner/execute after 2 s "
        "(is `robot-planner bringup` running with the same ROS_DOMAIN_ID?)"
    ]
    assert result.stdout == "" and time.monotonic() - started < 30
