"""Multi-process end-to-end tests over DDS: `robot-planner bringup --sim` in one process
group, `robot-planner say/cancel` or an rclpy client in others, each system in its own
ROS domain (reserved for the test: no other run on this host shares it) and unique
command ids. Simulated time runs at 2x the wall clock to keep the suite short. Every test
here is `e2e` and `slow`: ``-m "not e2e"`` runs the fast tiers alone.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from ros_system import Client, System

from robot_planner.testing.isolation import reserved_domain, unique_id

pytestmark = [
    pytest.mark.ros,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

FAST = ("executor.sim_speed=2.0",)
GREEN_ON_BLUE = "put the green block on the blue block"
WAV = Path(__file__).parent / "fixtures" / "audio" / "put_the_green_block_on_the_blue_block.wav"


@pytest.fixture
def system_factory(tmp_path):
    systems: list[System] = []
    with contextlib.ExitStack() as domains:

        def start(**kwargs) -> System:
            system = System(tmp_path, domain=domains.enter_context(reserved_domain()), **kwargs)
            systems.append(system)
            system.wait_ready()
            return system

        yield start
        for system in systems:
            system.stop()


def _states(stderr: str) -> list[str]:
    """The states in `say --wait` progress lines ("<time> <source> <state> ...")."""
    return [line.split()[2] for line in stderr.splitlines() if len(line.split()) >= 3]


def test_say_wait_from_another_process_succeeds(system_factory):
    system = system_factory(sets=FAST)
    result = system.run(
        "say", "put the green block on the blue block", "--wait", "--timeout", "150"
    )
    assert result.returncode == 0, result.stderr + system.log[-3000:]
    final = json.loads(result.stdout)
    assert final["state"] == "done" and final["source"] == "executor"
    assert "on(green_block,blue_block)" in final["details"]["facts"]
    states = _states(result.stderr)
    assert states[:2] == ["accepted", "planned"] and states[-1] == "done"
    assert "task_started" in states and "verifying" in states
    journal = system.journalled(final["command_id"])
    assert [(e["id"], e["state"]) for e in journal] == [
        (final["command_id"], "accepted"),
        (final["command_id"], "done"),
    ]


def test_the_logistics_cell_over_dds(system_factory):
    """The second world through the same nodes: `bringup --scene logistics`, a command
    in its own words, a base driving with the monitor deciding where it is from odometry
    sent beside the camera frames."""
    system = system_factory(sets=FAST, args=("--scene", "logistics"))
    result = system.run(
        "say", "robot two, go to the packing station", "--wait", "--timeout", "150"
    )
    assert result.returncode == 0, result.stderr + system.log[-3000:]
    final = json.loads(result.stdout)
    assert final["state"] == "done", final
    assert "robot_at(base_2,packing_station)" in final["details"]["facts"]
    assert final["details"]["replans"] == 0, result.stderr + system.log[-3000:]
    assert "misalignment" not in system.log


def test_a_drop_is_seen_replanned_and_recovered(system_factory):
    system = system_factory(
        sets=(*FAST, "executor.drop_prob=0.5", "executor.blind_skills=true", "executor.seed=3")
    )
    result = system.run(
        "say", "put the green block on the blue block", "--wait", "--timeout", "200"
    )
    assert result.returncode == 0, result.stderr + system.log[-3000:]
    states = _states(result.stderr)
    first = states.index("misalignment")
    assert states.index("replanned", first) < states.index("done")
    final = json.loads(result.stdout)
    assert final["details"]["replans"] >= 1
    assert any(d["kind"] == "drop" for d in final["details"]["disturbances"])


def test_bad_input_is_one_error_line_and_exit_2(system_factory):
    system = system_factory(sets=FAST)
    result = system.run("say", "make me a sandwich", "--wait", "--timeout", "60")
    assert result.returncode == 2
    final = json.loads(result.stdout)
    assert final["state"] == "error" and final["details"]["reason"]
    assert system.process.poll() is None  # the system is still up
    assert system.run("say", "   ", "--wait").returncode == 2


def test_voice_wav_on_the_audio_topic_ends_in_done(system_factory):
    from std_msgs.msg import UInt8MultiArray

    from robot_planner.speech.recognizer import read_wav

    system = system_factory(sets=FAST, voice=True)
    client = Client(system.domain)
    try:
        client.wait_connected(client.audio_pub, status_publishers=4)  # and the voice node
        pcm, rate = read_wav(WAV)
        assert rate == 16000
        client.audio_pub.publish(UInt8MultiArray(data=pcm))
        client.wait_for(
            lambda: any(e.state == "transcript" for e in client.events), 60, "a transcript"
        )
        transcript = next(e for e in client.events if e.state == "transcript")
        assert transcript.details["text"] == "put the green block on the blue block"
        command_id = transcript.command_id
        client.wait_for(lambda: client.final(command_id) is not None, 150, "the outcome")
        assert client.final(command_id).state == "done", system.log[-3000:]
    finally:
        client.close()


def _arm_speeds(msg) -> dict[str, float]:
    """The fastest joint of each arm in one JointState ("left_arm/panda_joint1" ...)."""
    speeds: dict[str, float] = {}
    for name, velocity in zip(msg.name, msg.velocity, strict=True):
        arm = name.split("/")[0]
        speeds[arm] = max(speeds.get(arm, 0.0), abs(velocity))
    return speeds


def _joints_since(client: Client, since: float) -> list:
    """The joint states received after monotonic time `since`, as (time, message)."""
    with client._lock:
        return [(stamp, msg) for stamp, msg in client.joints if stamp > since]


MOVING_RAD_S = 0.05


def test_cancel_during_motion_stops_both_arms(system_factory):
    """Both arms start a pick at once (green on blue: the right arm picks blue, the left
    green); the test cancels the moment /joint_states shows both moving, so the cancel
    cannot arrive after the command ends (a separate `robot-planner cancel` process did,
    on a slow machine). The command ends cancelled and both arms stand still."""
    from std_msgs.msg import Empty

    from robot_planner.nodes.common import STATUS_EVENTS as STATUS

    system = system_factory(sets=FAST)
    client = Client(system.domain)
    try:
        [status_sub] = [s for s in client.node.subscriptions if s.topic_name == STATUS]
        client.wait_for(
            lambda: (
                client.command_pub.get_subscription_count() >= 1  # planner
                and client.cancel_pub.get_subscription_count() >= 2  # planner, executor
                and client.node.count_publishers(STATUS) >= 3  # planner, executor, monitor
                and status_sub.get_publisher_count() >= client.node.count_publishers(STATUS)
                and len(client.joints) > 0
            ),
            30,
            "the nodes matched with the client",
        )
        move = unique_id("move")
        said = time.monotonic()
        client.say(GREEN_ON_BLUE, move)
        client.wait_for(
            lambda: any(
                len(_arm_speeds(msg)) == 2 and min(_arm_speeds(msg).values()) > MOVING_RAD_S
                for _, msg in _joints_since(client, said)
            ),
            60,
            "both arms moving",
        )
        client.cancel_pub.publish(Empty())
        client.wait_for(lambda: client.final(move) is not None, 30, "the outcome")
        ended = time.monotonic()
        final = client.final(move)
        assert final.state == "cancelled", [e.state for e in client.of(move)]
        assert final.source == "executor"

        def still() -> list:
            return [
                (stamp, msg)
                for stamp, msg in _joints_since(client, ended)
                if max(_arm_speeds(msg).values()) < MOVING_RAD_S
            ]

        client.wait_for(lambda: still(), 10, "both arms still")
        halted_at, halted = still()[0]
        # ... and they stay there: 40 more joint states (2 s of robot time at 20 Hz).
        client.wait_for(lambda: len(_joints_since(client, halted_at)) >= 40, 30, "joint states")
        for _, msg in _joints_since(client, halted_at):
            assert list(msg.name) == list(halted.name)
            drift = np.max(np.abs(np.asarray(msg.position) - np.asarray(halted.position)))
            assert drift < 0.01, f"an arm moved {drift:.3f} rad after the cancel"
            assert max(_arm_speeds(msg).values()) < MOVING_RAD_S
        outcome = [e for e in system.journalled(move) if e["id"] == move][-1]
        assert outcome["state"] == "cancelled"
        # The CLI's cancel reaches the nodes too (nothing runs now: no race to lose).
        result = system.run("cancel")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("cancel sent to "), result.stdout
    finally:
        client.close()


def test_a_burst_of_200_commands_is_queued_or_rejected_none_lost(system_factory):
    system = system_factory(sets=(*FAST, "planner.max_queue=10"))
    client = Client(system.domain)
    ids = [unique_id(f"burst{i:03d}") for i in range(200)]
    try:
        client.wait_connected(client.command_pub, status_publishers=3)
        for command_id in ids:
            client.say("put the red block in the right bin", command_id)
        client.wait_for(
            lambda: all(
                any(e.state in ("accepted", "rejected") for e in client.of(i)) for i in ids
            ),
            60,
            "an answer to every command",
        )
        client.cancel_pub.publish(client._types["Empty"]())
        client.wait_for(lambda: all(client.final(i) is not None for i in ids), 90, "every outcome")
    finally:
        client.close()
    answered = {i: [e.state for e in client.of(i)] for i in ids}
    accepted = [i for i in ids if "accepted" in answered[i]]
    rejected = [i for i in ids if "rejected" in answered[i]]
    assert len(accepted) + len(rejected) == 200
    assert 1 <= len(accepted) <= 11  # one running + at most max_queue waiting
    journal = system.journalled(*ids)
    states_of: dict[str, list[str]] = {}
    for entry in journal:
        states_of.setdefault(entry["id"], []).append(entry["state"])
    assert set(states_of) == set(ids)  # every command is in the journal
    for command_id in accepted:
        assert states_of[command_id][0] == "accepted"
        assert states_of[command_id][-1] in ("done", "cancelled"), states_of[command_id]
    for command_id in rejected:
        assert states_of[command_id] == ["rejected"]


SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"


@pytest.mark.parametrize("policy", ["continue", "fail"])
def test_a_failing_vqa_server_warns_or_fails_safe_and_never_leaks_the_key(
    system_factory, tmp_path, monkeypatch, policy
):
    """The monitor's OpenAI-compatible VQA server answers every question with a 401 that
    echoes the API key (hostile). Policy continue: a monitor_degraded event and the
    command still ends done; fail: the robots halt and it ends failed. Either way the
    key is in no log line, status event or journal entry."""
    from fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer()
    for _ in range(2000):
        server.script.append((401, {"echo_auth": True}, {}))
    server.start()
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        f"vqa: openai\nmode: 'on'\non_vqa_error: {policy}\nvqa_timeout_s: 5\n"
        f"openai:\n  base_url: {server.base_url}\n  timeout_s: 2\n  max_retries: 0\n"
    )
    try:
        system = system_factory(
            sets=(*FAST, f"monitor.monitor_config={config}"),
            args=("--planner-backend", "offline"),  # "auto" would take the key: use OpenAI
        )
        result = system.run("say", GREEN_ON_BLUE, "--wait", "--timeout", "150")
        watched = system.run("status", "--timeout", "1")  # the log is what was printed
    finally:
        server.stop()
    assert server.requests, result.stdout + result.stderr + system.log[-3000:]
    assert any(SECRET in r["headers"].get("authorization", "") for r in server.requests)
    final = json.loads(result.stdout)
    states = _states(result.stderr)
    assert "monitor_degraded" in states, result.stderr
    if policy == "continue":
        assert result.returncode == 0 and final["state"] == "done", result.stderr
    else:
        assert result.returncode == 1 and final["state"] == "failed", result.stderr
        assert final["details"]["reason"].endswith("(on_vqa_error: fail)")
        assert "task_cancelled" in states  # the robots were halted, not left running
    system.journalled(final["command_id"])
    journal_text = system.journal.read_text()
    for where, text in (
        ("say output", result.stdout + result.stderr),
        ("status output", watched.stdout + watched.stderr),
        ("bring-up log", system.log),
        ("journal", journal_text),
    ):
        assert SECRET not in text, f"the API key leaked into the {where}"
    assert "***" in result.stderr or "***" in system.log  # the echo was scrubbed, not lost


def test_killing_the_executor_mid_command_marks_it_interrupted_never_replayed(
    tmp_path, ros_domain
):
    from robot_planner.bench.faults import _node
    from robot_planner.service.journal import read_journal

    domain = ros_domain
    journal = tmp_path / "journal.jsonl"
    planner = _node(
        "planner_node",
        domain,
        f"journal:={journal}",
        "backend:=offline",
        "executor_timeout_s:=2.0",
    )
    executor = _node("executor_node", domain, "monitor_mode:=off", "sim_speed:=2.0")
    restarted = None
    client = Client(domain)
    doomed = unique_id("doomed")
    try:
        client.wait_for(lambda: executor.poll() is None and len(client.joints) > 0, 60, "up")
        client.wait_connected(client.command_pub, status_publishers=2)  # planner, executor
        client.say(GREEN_ON_BLUE, doomed)
        client.wait_for(
            lambda: any(e.state == "task_started" for e in client.of(doomed)), 60, "motion"
        )
        executor.send_signal(signal.SIGKILL)  # no clean shutdown, no final event
        executor.wait(timeout=10)
        client.wait_for(lambda: client.final(doomed) is not None, 30, "the outcome")
        final = client.final(doomed)
        assert final.state == "interrupted" and final.source == "planner"
        entries = [(e["id"], e["state"]) for e in read_journal(journal)]
        assert entries == [(doomed, "accepted"), (doomed, "interrupted")]
        # A new executor starts: it gets the command's plan (latched on the plan topic) and
        # says on /rosout that it ignores it (only a running executor that received the
        # stale plan can say so); the command is not picked up again.
        started = len(client.of(doomed))
        restarted = _node("executor_node", domain, "monitor_mode:=off", "sim_speed:=2.0")
        client.wait_for(
            lambda: (
                client.logged("executor", f"ignoring plan for {doomed} issued before")
                or restarted.poll() is not None
            ),
            60,
            "the restarted executor to receive the stale plan",
        )
        assert restarted.poll() is None, f"the restarted executor exited {restarted.returncode}"
        assert len(client.of(doomed)) == started, [e.state for e in client.of(doomed)]
        assert [e["state"] for e in read_journal(journal)] == ["accepted", "interrupted"]
    finally:
        client.close()
        for process in (planner, executor, restarted):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
