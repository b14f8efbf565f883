"""In-process node tests: the nodes in one executor of a private rclpy context and ROS
domain, with bounded spin loops. The test plays whichever node is not under test."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]

GREEN_ON_BLUE = "put the green block on the blue block"


class Ros:
    """A private context with the nodes under test and a probe node, spun in a thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, domain: int):
        monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        from std_msgs.msg import Empty, String

        from robot_planner.nodes import common
        from robot_planner.service.events import parse_event

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.probe = rclpy.create_node("probe", context=self.context)
        self.executor.add_node(self.probe)
        self.nodes: list[Any] = []
        self.events: list[Any] = []
        self.plans: list[dict] = []
        self.String, self.Empty = String, Empty
        self.probe.create_subscription(
            String,
            common.STATUS,
            lambda m: self.events.append(parse_event(m.data)),
            common.STATUS_QOS,
        )
        self.probe.create_subscription(String, common.PLAN, self._on_plan, common.latched())
        self.pub = {
            "command": self.probe.create_publisher(String, common.COMMAND, common.COMMAND_QOS),
            "status": self.probe.create_publisher(String, common.STATUS, common.STATUS_QOS),
            "plan": self.probe.create_publisher(String, common.PLAN, common.latched()),
            "cancel": self.probe.create_publisher(Empty, common.CANCEL, common.reliable()),
            "misalignment": self.probe.create_publisher(
                String, common.MISALIGNMENT, common.reliable(100)
            ),
        }
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop:
            self.executor.spin_once(timeout_sec=0.05)

    def _on_plan(self, msg: Any) -> None:
        with contextlib.suppress(ValueError):  # the malformed plans the tests send
            self.plans.append(json.loads(msg.data))

    def add(self, factory: Callable[..., Any], **params: Any) -> Any:
        from rclpy.parameter import Parameter

        overrides = [Parameter(k, value=v) for k, v in params.items()]
        node = factory(context=self.context, parameter_overrides=overrides)
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def connected(self, name: str, count: int = 1) -> None:
        publisher = self.pub[name]
        self.wait_for(lambda: publisher.get_subscription_count() >= count, 20, f"{name} peers")
        time.sleep(0.3)

    def say(self, text: str, command_id: str) -> None:
        self.pub["command"].publish(self.String(data=json.dumps({"id": command_id, "text": text})))

    def of(self, command_id: str, state: str | None = None) -> list[Any]:
        return [
            e
            for e in list(self.events)
            if e.command_id == command_id and (state is None or e.state == state)
        ]

    def executor_says(self, command_id: str, state: str, **details: Any) -> None:
        from robot_planner.service.events import make_event

        event = make_event(command_id, state, "executor", details)
        self.pub["status"].publish(self.String(data=event.to_json()))

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5.0)
        for node in self.nodes:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()
        self.probe.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


_domain = iter(range(10_000))


@pytest.fixture
def ros(monkeypatch):
    domain = 30 + (os.getpid() * 3 + next(_domain)) % 60
    system = Ros(monkeypatch, domain)
    yield system
    system.close()


def _planner(ros: Ros, tmp_path, **params: Any) -> Any:
    from robot_planner.nodes.planner_node import PlannerNode

    params.setdefault("journal", str(tmp_path / "journal.jsonl"))
    params.setdefault("backend", "offline")
    node = ros.add(PlannerNode, **params)
    ros.connected("command")
    return node


def _journal(tmp_path) -> list[dict]:
    from robot_planner.service.journal import read_journal

    return read_journal(tmp_path / "journal.jsonl")


# --- planner node (the test plays the executor) ------------------------------------


def test_planner_plans_and_journals(ros, tmp_path):
    _planner(ros, tmp_path)
    ros.say(GREEN_ON_BLUE, "a")
    ros.wait_for(lambda: ros.of("a", "planned"), 20, "planned")
    # The plan and the status event travel on different topics: either may come first.
    ros.wait_for(lambda: any(p["command_id"] == "a" for p in ros.plans), 10, "the plan")
    plan = next(p for p in ros.plans if p["command_id"] == "a")
    assert plan["revision"] == 0 and len(plan["plan"]["tasks"]) == 4
    assert plan["plan"]["goal"] == ["on(green_block,blue_block)"]
    ros.executor_says("a", "done")
    ros.wait_for(lambda: len(_journal(tmp_path)) == 2, 10, "the outcome in the journal")
    assert [(e["id"], e["state"]) for e in _journal(tmp_path)] == [
        ("a", "accepted"),
        ("a", "done"),
    ]


def test_bad_commands_get_an_error_event_and_no_plan(ros, tmp_path):
    _planner(ros, tmp_path)
    ros.pub["command"].publish(ros.String(data='{"text": 5}'))
    ros.pub["command"].publish(ros.String(data="x" * 5000))
    ros.say("make me a sandwich", "nonsense")
    ros.wait_for(lambda: ros.of("nonsense", "error"), 20, "error for a command not understood")
    ros.wait_for(lambda: len(ros.of("", "error")) >= 2, 10, "errors for malformed messages")
    assert not ros.plans
    reasons = [e.details["reason"] for e in ros.of("", "error")]
    assert all("\n" not in r for r in reasons)
    assert [e["state"] for e in _journal(tmp_path)] == ["accepted", "error"]


def test_queue_policy_runs_commands_in_order(ros, tmp_path):
    _planner(ros, tmp_path, max_queue=2)
    for name in ("a", "b", "c", "d"):
        ros.say(GREEN_ON_BLUE, name)
    ros.wait_for(lambda: ros.of("d", "rejected"), 10, "overflow rejected")
    assert ros.of("b", "accepted")[0].details["queued"] == 1
    assert ros.of("c", "accepted")[0].details["queued"] == 2
    assert "queue full" in ros.of("d", "rejected")[0].details["reason"]
    ros.wait_for(lambda: ros.of("a", "planned"), 20, "a planned")
    assert not ros.of("b", "planned")  # waits for a's outcome
    ros.executor_says("a", "failed", reason="test")
    ros.wait_for(lambda: ros.of("b", "planned"), 20, "b planned after a ended")
    ros.executor_says("b", "done")
    ros.wait_for(lambda: ros.of("c", "planned"), 20, "c planned after b ended")


def test_reject_policy_turns_away_commands_while_busy(ros, tmp_path):
    _planner(ros, tmp_path, on_new_command="reject")
    ros.say(GREEN_ON_BLUE, "a")
    ros.wait_for(lambda: ros.of("a", "planned"), 20, "a planned")
    ros.say(GREEN_ON_BLUE, "b")
    ros.wait_for(lambda: ros.of("b", "rejected"), 10, "b rejected")
    assert "busy with command a" in ros.of("b", "rejected")[0].details["reason"]
    states = {(e["id"], e["state"]) for e in _journal(tmp_path)}
    assert ("b", "rejected") in states and ("b", "accepted") not in states


def test_preempt_policy_announces_the_preempted_command(ros, tmp_path):
    _planner(ros, tmp_path, on_new_command="preempt")
    ros.say(GREEN_ON_BLUE, "a")
    ros.wait_for(lambda: ros.of("a", "planned"), 20, "a planned")
    ros.say(GREEN_ON_BLUE, "b")
    ros.wait_for(lambda: ros.of("b", "planned"), 20, "b planned at once")
    assert ros.of("b", "accepted")[0].details["preempts"] == "a"
    ros.executor_says("a", "cancelled", reason="preempted by b")
    ros.wait_for(
        lambda: ("a", "cancelled") in {(e["id"], e["state"]) for e in _journal(tmp_path)},
        10,
        "a's outcome journalled",
    )


def test_cancel_drops_the_queue_with_events(ros, tmp_path):
    _planner(ros, tmp_path)
    for name in ("a", "b", "c"):
        ros.say(GREEN_ON_BLUE, name)
    ros.wait_for(lambda: ros.of("c", "accepted"), 10, "all accepted")
    ros.connected("cancel")
    ros.pub["cancel"].publish(ros.Empty())
    ros.wait_for(lambda: ros.of("b", "cancelled") and ros.of("c", "cancelled"), 10, "dropped")
    ros.executor_says("a", "cancelled")
    ros.wait_for(lambda: len(_journal(tmp_path)) == 6, 10, "every outcome journalled")


def test_replan_requests_are_answered_on_the_plan_topic(ros, tmp_path):
    from robot_planner.nodes import common

    _planner(ros, tmp_path)
    replan = ros.probe.create_publisher(ros.String, common.REPLAN, common.reliable())
    ros.say(GREEN_ON_BLUE, "a")
    ros.wait_for(lambda: ros.of("a", "planned"), 20, "planned")
    ros.wait_for(lambda: replan.get_subscription_count() > 0, 10, "replan peer")
    from robot_planner.resources import scene_path
    from robot_planner.world.facts import format_facts
    from robot_planner.world.scene import load_scene

    state = load_scene(scene_path("tabletop")).initial_facts()
    request = {
        "command_id": "a",
        "revision": 0,
        "command": GREEN_ON_BLUE,
        "facts": format_facts(state),
        "goal": ["on(green_block,blue_block)"],
        "completed": [],
        "failed_task": None,
        "evidence": "test",
    }
    replan.publish(ros.String(data=json.dumps(request)))
    ros.wait_for(lambda: any(p["revision"] == 1 for p in ros.plans), 20, "revision 1")
    answer = next(p for p in ros.plans if p["revision"] == 1)
    assert answer["command_id"] == "a" and answer["plan"]["tasks"]
    replan.publish(ros.String(data='{"command_id": "a"}'))  # malformed: an error event
    ros.wait_for(lambda: ros.of("", "error"), 10, "error for a malformed request")


def test_a_restarted_planner_marks_unfinished_commands_interrupted(ros, tmp_path):
    from robot_planner.service.journal import Journal

    journal = Journal(tmp_path / "journal.jsonl")
    journal.write("old", "accepted", text=GREEN_ON_BLUE)
    journal.close()
    _planner(ros, tmp_path)
    assert [(e["id"], e["state"]) for e in _journal(tmp_path)] == [
        ("old", "accepted"),
        ("old", "interrupted"),
    ]
    time.sleep(0.5)
    assert not ros.plans  # never replayed


def test_a_command_whose_executor_vanishes_ends_interrupted_and_is_not_replayed(ros, tmp_path):
    from robot_planner.nodes import common

    executor = ros.rclpy.create_node("executor", context=ros.context)  # a stand-in
    replan = executor.create_publisher(ros.String, common.REPLAN, common.reliable())
    ros.executor.add_node(executor)
    _planner(ros, tmp_path, executor_timeout_s=1.0)
    ros.say(GREEN_ON_BLUE, "lost")
    ros.say("put the red block in the left bin", "next")
    ros.wait_for(lambda: ros.of("lost", "planned"), 20, "planned")
    time.sleep(1.5)  # the watchdog sees the executor while the command runs
    assert not ros.of("lost", "interrupted")
    executor.destroy_publisher(replan)  # killed: its endpoint disappears from the graph
    ros.wait_for(lambda: ros.of("lost", "interrupted"), 15, "interrupted")
    assert "not replayed" in ros.of("lost", "interrupted")[0].details["reason"]
    # The queue moves on; the lost command is journalled once, and never planned again.
    ros.wait_for(lambda: ros.of("next", "planned"), 20, "the next command planned")
    entries = [(e["id"], e["state"]) for e in _journal(tmp_path)]
    assert entries[:3] == [("lost", "accepted"), ("next", "accepted"), ("lost", "interrupted")]
    assert len(ros.of("lost", "planned")) == 1
    ros.executor.remove_node(executor)
    executor.destroy_node()


# --- executor node (the test plays the planner) ------------------------------------


def _executor(ros: Ros, **params: Any) -> Any:
    from robot_planner.nodes.executor_node import ExecutorNode

    params.setdefault("sim_speed", 4.0)
    params.setdefault("monitor_mode", "off")
    params.setdefault("camera_rate_hz", 1.0)
    node = ros.add(ExecutorNode, **params)
    ros.connected("plan")
    return node


def _plan_message(command_id: str, plan: Any, revision: int = 0) -> str:
    return json.dumps(
        {"command_id": command_id, "revision": revision, "issued": time.time(), "plan": plan}
    )


def test_executor_refuses_invalid_plans_without_moving(ros):
    _executor(ros)
    bad = {"command": "x", "goal": [], "tasks": [{"id": "t1", "skill": "fly", "robot": "r"}]}
    ros.pub["plan"].publish(ros.String(data=_plan_message("bad", bad)))
    ros.wait_for(lambda: ros.of("bad", "error"), 20, "error for an invalid plan")
    assert "rejected by the executor" in ros.of("bad", "error")[0].details["reason"]
    ros.pub["plan"].publish(ros.String(data="{not json"))
    ros.wait_for(lambda: ros.of("", "error"), 20, "error for a malformed message")
    assert not ros.of("bad", "task_started")


def test_executor_runs_a_plan_and_reports_the_outcome(ros):
    from robot_planner.planning.base import PlanRequest
    from robot_planner.planning.offline import OfflinePlanner
    from robot_planner.resources import scene_path
    from robot_planner.world.catalogue import load_catalogue
    from robot_planner.world.scene import load_scene

    scene = load_scene(scene_path("tabletop"))
    planner = OfflinePlanner(load_catalogue(), scene)
    plan = planner.plan(PlanRequest("put the red block in the left bin", scene.initial_facts()))
    _executor(ros)
    ros.pub["plan"].publish(ros.String(data=_plan_message("run", plan.plan.to_dict())))
    ros.wait_for(lambda: ros.of("run", "done") or ros.of("run", "failed"), 60, "the outcome")
    done = ros.of("run", "done")
    assert done, [e.state for e in ros.of("run")]
    assert "in(red_block,left_bin)" in done[0].details["facts"]
    started = [e.details["task"] for e in ros.of("run", "task_started")]
    assert started == [t.id for t in plan.plan.tasks]


def test_joint_states_reach_a_default_reliable_subscriber(ros):
    """`/joint_states` is published reliable, depth 10, as ros2_control's
    joint_state_broadcaster and joint_state_publisher do: a subscriber with the default
    QoS (reliable) gets it, and so does a best-effort one (robot_state_publisher's)."""
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import JointState

    from robot_planner.nodes.common import JOINT_STATES

    received: dict[str, list[Any]] = {"reliable": [], "best_effort": []}
    ros.probe.create_subscription(JointState, JOINT_STATES, received["reliable"].append, 10)
    ros.probe.create_subscription(
        JointState, JOINT_STATES, received["best_effort"].append, qos_profile_sensor_data
    )
    _executor(ros, joint_state_rate_hz=20.0)
    ros.wait_for(lambda: received["reliable"], 30, "joint states on a reliable subscriber")
    ros.wait_for(lambda: received["best_effort"], 30, "joint states on a best-effort one")
    [info] = ros.probe.get_publishers_info_by_topic(JOINT_STATES)
    # Discovery carries reliability and durability, not the history depth.
    assert info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    assert info.qos_profile.durability == DurabilityPolicy.VOLATILE
    msg = received["reliable"][0]
    assert {n.split("/")[0] for n in msg.name} == {"left_arm", "right_arm"}
    assert len(msg.position) == len(msg.velocity) == len(msg.name) > 0


def test_executor_ignores_plans_latched_before_it_started(ros):
    ros.pub["plan"].publish(
        ros.String(
            data=json.dumps(
                {"command_id": "stale", "revision": 0, "issued": time.time() - 3600, "plan": {}}
            )
        )
    )
    _executor(ros)
    time.sleep(1.0)
    assert not ros.of("stale")


def test_malformed_misalignments_are_ignored(ros):
    node = _executor(ros)
    for text in ("{}", "[1,2]", '{"command_id": "x", "revision": 0, "misalignment": {}}'):
        ros.pub["misalignment"].publish(ros.String(data=text))
    time.sleep(0.5)
    assert node._thread.is_alive()
    assert not ros.of("", "error")


# --- executor node on the ros_bindings adapter (fake hardware) ---------------------


def _fake_hardware(ros: Ros, **params: Any) -> Any:
    from robot_planner.nodes.fake_hardware import FakeHardwareNode

    params.setdefault("goal_duration_s", 0.3)
    return ros.add(FakeHardwareNode, **params)


def _fake_bindings() -> str:
    from robot_planner.resources import share_dir

    return str(share_dir() / "config" / "hardware_bindings_fake.yaml")


def test_executor_drives_fake_hardware_through_ros_actions(ros):
    _fake_hardware(ros)
    _executor(ros, adapter="ros_bindings", bindings=_fake_bindings())
    plan = {
        "command": "put the red block in the left bin",
        "goal": ["in(red_block,left_bin)"],
        "tasks": [
            {"id": "t1", "skill": "pick", "robot": "left_arm", "args": {"object": "red_block"}},
            {
                "id": "t2",
                "skill": "place",
                "robot": "left_arm",
                "args": {"object": "red_block", "target": "left_bin"},
                "depends_on": ["t1"],
            },
        ],
    }
    ros.pub["plan"].publish(ros.String(data=_plan_message("hw", plan)))
    ros.wait_for(lambda: ros.of("hw", "done") or ros.of("hw", "failed"), 30, "the outcome")
    done = ros.of("hw", "done")
    assert done, [(e.state, e.details.get("reason")) for e in ros.of("hw")]
    assert "in(red_block,left_bin)" in done[0].details["facts"]  # the adapter's belief


def test_executor_fails_a_task_the_hardware_aborts(ros):
    _fake_hardware(ros, fail_skills="left_arm:place")
    _executor(ros, adapter="ros_bindings", bindings=_fake_bindings(), max_replans=0)
    plan = {
        "command": "x",
        "goal": ["in(red_block,left_bin)"],
        "tasks": [
            {"id": "t1", "skill": "pick", "robot": "left_arm", "args": {"object": "red_block"}},
            {
                "id": "t2",
                "skill": "place",
                "robot": "left_arm",
                "args": {"object": "red_block", "target": "left_bin"},
                "depends_on": ["t1"],
            },
        ],
    }
    ros.pub["plan"].publish(ros.String(data=_plan_message("hwfail", plan)))
    ros.wait_for(lambda: ros.of("hwfail", "failed"), 30, "failed")
    assert ros.of("hwfail", "task_failed")[0].details["task"] == "t2"


def test_executor_refuses_to_start_without_its_action_servers(ros):
    from robot_planner.nodes.executor_node import ExecutorNode

    with pytest.raises(ValueError, match="not available"):
        ros.add(
            ExecutorNode,
            adapter="ros_bindings",
            bindings=_fake_bindings(),
            bindings_timeout_s=0.5,
        )


# --- voice node (the test plays the microphone and the planner) ---------------------

WAV = os.path.join(
    os.path.dirname(__file__), "fixtures", "audio", f"{GREEN_ON_BLUE.replace(' ', '_')}.wav"
)


class _Commands:
    """Collects what is published on the command topic."""

    def __init__(self, ros: Ros):
        from robot_planner.nodes import common

        self.received: list[dict] = []
        ros.probe.create_subscription(
            ros.String,
            common.COMMAND,
            lambda m: self.received.append(json.loads(m.data)),
            common.COMMAND_QOS,
        )


def _voice(ros: Ros, **params: Any) -> Any:
    from std_msgs.msg import UInt8MultiArray

    from robot_planner.nodes import common
    from robot_planner.nodes.voice_node import VoiceNode

    ros.pub["audio"] = ros.probe.create_publisher(
        UInt8MultiArray, common.AUDIO, common.reliable(4)
    )
    node = ros.add(VoiceNode, **params)
    ros.connected("audio")
    return node


def _speak(ros: Ros, pcm: bytes) -> None:
    from std_msgs.msg import UInt8MultiArray

    ros.pub["audio"].publish(UInt8MultiArray(data=pcm))


def test_voice_turns_an_utterance_into_a_command_the_planner_accepts(ros, tmp_path):
    from robot_planner.speech import read_wav

    commands = _Commands(ros)
    _planner(ros, tmp_path)
    _voice(ros)
    pcm, _ = read_wav(WAV)
    _speak(ros, pcm)
    ros.wait_for(lambda: [e for e in ros.events if e.state == "transcript"], 30, "transcript")
    transcript = next(e for e in ros.events if e.state == "transcript")
    assert transcript.source == "voice" and transcript.details["text"] == GREEN_ON_BLUE
    assert transcript.details["audio_s"] == pytest.approx(2.41, abs=0.01)
    assert transcript.details["origin"] == "topic"
    command_id = transcript.command_id
    ros.wait_for(lambda: ros.of(command_id, "planned"), 20, "the spoken command planned")
    accepted = ros.of(command_id, "accepted")[0]
    assert accepted.details["source"] == "voice" and accepted.details["text"] == GREEN_ON_BLUE
    assert commands.received == [{"id": command_id, "text": GREEN_ON_BLUE, "source": "voice"}]


def test_voice_answers_unusable_audio_with_errors_and_no_command(ros):
    import numpy as np

    commands = _Commands(ros)
    _voice(ros)
    silence = np.zeros(16_000, dtype="<i2").tobytes()
    for pcm in (b"", b"\x01\x02\x03", silence, b"\x00" * (2 * 16_000 * 31)):
        _speak(ros, pcm)
    ros.wait_for(lambda: len([e for e in ros.events if e.state == "error"]) >= 4, 30, "errors")
    reasons = [e.details["reason"] for e in ros.events if e.state == "error"]
    assert all(e.command_id == "" and e.source == "voice" for e in ros.events)
    assert "empty audio" in reasons[0] and "odd byte count" in reasons[1]
    assert "silent" in " ".join(reasons) and "over the 30 s limit" in " ".join(reasons)
    time.sleep(0.3)
    assert commands.received == []


class _FakeStream:
    """Stands in for sounddevice.RawInputStream: the test pushes blocks through the
    callback the node registered."""

    instances: ClassVar[list[_FakeStream]] = []

    def __init__(self, *, samplerate, channels, dtype, device, blocksize, callback):
        assert (samplerate, channels, dtype) == (16_000, 1, "int16")
        self.device, self.callback, self.started = device, callback, False
        _FakeStream.instances.append(self)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        pass


def test_voice_hears_the_microphone_through_the_energy_gate(ros, monkeypatch):
    import types

    import numpy as np

    from robot_planner.speech import read_wav

    monkeypatch.setitem(
        __import__("sys").modules, "sounddevice", types.SimpleNamespace(RawInputStream=_FakeStream)
    )
    _FakeStream.instances.clear()
    commands = _Commands(ros)
    _voice(ros, microphone=True, device="2")
    stream = _FakeStream.instances[0]
    assert stream.started and stream.device == 2
    pcm, _ = read_wav(WAV)
    quiet = np.zeros(16_000, dtype="<i2").tobytes()
    audio = quiet + pcm + quiet
    for start in range(0, len(audio), 3200):  # 100 ms blocks, as a sound card delivers
        stream.callback(audio[start : start + 3200], 1600, None, None)
    ros.wait_for(lambda: commands.received, 30, "a command from the microphone")
    assert [c["text"] for c in commands.received] == [GREEN_ON_BLUE]
    assert next(e for e in ros.events if e.state == "transcript").details["origin"] == "microphone"


def test_voice_refuses_to_start_with_a_microphone_that_cannot_open(ros, monkeypatch):
    import types

    from robot_planner.nodes.voice_node import VoiceNode

    def broken(**kwargs):
        raise ValueError("No input device matching 'usb'")

    monkeypatch.setitem(
        __import__("sys").modules, "sounddevice", types.SimpleNamespace(RawInputStream=broken)
    )
    with pytest.raises(RuntimeError, match="microphone usb: No input device matching"):
        ros.add(VoiceNode, microphone=True, device="usb")


def test_voice_without_portaudio_says_how_to_get_it(ros, monkeypatch):
    from robot_planner.nodes.voice_node import VoiceNode

    monkeypatch.setitem(__import__("sys").modules, "sounddevice", None)  # import fails
    with pytest.raises(RuntimeError, match=r"microphone: .*apt install libportaudio2"):
        ros.add(VoiceNode, microphone=True)
