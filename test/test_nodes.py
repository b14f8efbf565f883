"""In-process node tests: the nodes in one executor of a private rclpy context and ROS
domain (reserved for the test), with bounded spin loops. The test plays whichever node is
not under test. Command ids are unique per test; a "nothing happened" check waits for a
later event that must come after the thing that must not happen."""

from __future__ import annotations

import json
import os
import time
from typing import Any, ClassVar

import pytest
from ros_nodes import Ros, recording

from robot_planner.testing.isolation import unique_id

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]

GREEN_ON_BLUE = "put the green block on the blue block"


@pytest.fixture
def ros(ros_domain):
    system = Ros(ros_domain)
    yield system
    system.close()


def _planner(ros: Ros, tmp_path, factory: Any = None, **params: Any) -> Any:
    from robot_planner.nodes.planner_node import PlannerNode

    params.setdefault("journal", str(tmp_path / "journal.jsonl"))
    params.setdefault("backend", "offline")
    node = ros.add(factory or PlannerNode, **params)
    ros.connected("command")
    return node


def _journal(tmp_path) -> list[dict]:
    from robot_planner.service.journal import read_journal

    return read_journal(tmp_path / "journal.jsonl")


def test_no_node_reads_the_json_mirrors(ros, tmp_path):
    """The nodes subscribe to the typed status events and plans; the JSON topics are
    mirrors for people and tools, and nothing of ours may depend on them."""
    from robot_planner.nodes import common
    from robot_planner.nodes.executor_node import ExecutorNode
    from robot_planner.nodes.monitor_node import MonitorNode
    from robot_planner.nodes.planner_node import PlannerNode
    from robot_planner_interfaces.msg import Plan, StatusEvent

    nodes = {
        "planner": ros.add(
            PlannerNode, backend="offline", journal=str(tmp_path / "journal.jsonl")
        ),
        "executor": ros.add(ExecutorNode, monitor_mode="off", camera_rate_hz=1.0),
        "monitor": ros.add(MonitorNode, mode="on"),
    }
    for name, node in nodes.items():
        read = {s.topic_name: s.msg_type for s in node.subscriptions}
        assert not set(read) & {common.STATUS, common.PLAN}, name
        assert read[common.STATUS_EVENTS] is StatusEvent, name
        if name != "planner":
            assert read[common.PLAN_GRAPH] is Plan, name
        # Text only where people write it: the planner's commands and cancels by id.
        strings = {topic for topic, kind in read.items() if kind is ros.String}
        assert strings <= {common.COMMAND, common.CANCEL_COMMAND}, (name, strings)


# --- planner node (the test plays the executor) ------------------------------------


def test_planner_plans_and_journals(ros, tmp_path):
    _planner(ros, tmp_path)
    a = unique_id("a")
    ros.say(GREEN_ON_BLUE, a)
    ros.wait_for(lambda: ros.of(a, "planned"), 20, "planned")
    # The plan and the status event travel on different topics: either may come first.
    ros.wait_for(lambda: any(p["command_id"] == a for p in ros.plans), 10, "the plan")
    plan = next(p for p in ros.plans if p["command_id"] == a)
    assert plan["revision"] == 0 and len(plan["plan"]["tasks"]) == 4
    assert plan["plan"]["goal"] == ["on(green_block,blue_block)"]
    ros.executor_says(a, "done")
    ros.wait_for(lambda: len(_journal(tmp_path)) == 2, 10, "the outcome in the journal")
    assert [(e["id"], e["state"]) for e in _journal(tmp_path)] == [
        (a, "accepted"),
        (a, "done"),
    ]


def test_status_and_plans_are_mirrored_as_json(ros, tmp_path):
    """The nodes read the typed status events and plans (the probe too); the JSON topics
    carry exactly the same, for `ros2 topic echo` and existing tools."""
    from robot_planner.nodes import common
    from robot_planner.nodes.typed import PLAN_GRAPH, STATUS_EVENTS
    from robot_planner.service.events import parse_event
    from robot_planner_interfaces.msg import Plan, StatusEvent

    typed_events: list = []
    typed_plans: list = []
    ros.probe.create_subscription(
        StatusEvent, STATUS_EVENTS, typed_events.append, common.STATUS_QOS
    )
    ros.probe.create_subscription(Plan, PLAN_GRAPH, typed_plans.append, common.latched())
    json_events: list = []
    json_plans: list = []
    ros.probe.create_subscription(
        ros.String,
        common.STATUS,
        lambda m: json_events.append(parse_event(m.data)),
        common.STATUS_QOS,
    )
    ros.probe.create_subscription(
        ros.String, common.PLAN, lambda m: json_plans.append(json.loads(m.data)), common.latched()
    )
    _planner(ros, tmp_path)
    a = unique_id("a")
    ros.say(GREEN_ON_BLUE, a)
    ros.wait_for(lambda: ros.of(a, "planned"), 20, "the typed planned event")
    ros.wait_for(lambda: [p for p in json_plans if p["command_id"] == a], 10, "the JSON plan")
    ros.wait_for(lambda: [p for p in ros.plans if p["command_id"] == a], 10, "the typed plan")
    json_plan = next(p for p in json_plans if p["command_id"] == a)
    assert next(p for p in ros.plans if p["command_id"] == a) == json_plan
    typed = next(p for p in typed_plans if p.command_id == a)
    assert typed.revision == 0 and typed.command == GREEN_ON_BLUE and typed.error == ""
    assert list(typed.goal) == ["on(green_block,blue_block)"]
    assert [
        (t.id, t.skill, t.robot, list(t.depends_on), json.loads(t.args_json)) for t in typed.tasks
    ] == [
        (t["id"], t["skill"], t["robot"], t["depends_on"], t["args"])
        for t in json_plan["plan"]["tasks"]
    ]
    assert typed.readback == json_plan.get("readback", "") and typed.stamp.sec > 0
    ros.executor_says(a, "done")
    # A bad command: the typed error event carries its one-line reason in `message`.
    b = unique_id("b")
    ros.say("make me a sandwich", b)
    ros.wait_for(lambda: ros.of(b, "error"), 20, "the typed error event")
    error = next(e for e in typed_events if (e.command_id, e.state) == (b, "error"))
    assert error.source == "planner" and error.message
    assert json.loads(error.detail_json)["reason"] == error.message
    ros.wait_for(
        lambda: [e for e in json_events if (e.command_id, e.state) == (b, "error")],
        10,
        "the JSON error event",
    )
    mine = {a, b}
    assert [e for e in json_events if e.command_id in mine] == [
        e for e in ros.events if e.command_id in mine and e.source == "planner"
    ]


def test_bad_commands_get_an_error_event_and_no_plan(ros, tmp_path):
    _planner(ros, tmp_path)
    nonsense = unique_id("nonsense")
    ros.pub["command"].publish(ros.String(data='{"text": 5}'))
    ros.pub["command"].publish(ros.String(data="x" * 5000))
    ros.say("make me a sandwich", nonsense)
    ros.wait_for(lambda: ros.of(nonsense, "error"), 20, "error for a command not understood")
    ros.wait_for(lambda: len(ros.of("", "error")) >= 2, 10, "errors for malformed messages")
    assert not ros.plans
    reasons = [e.details["reason"] for e in ros.of("", "error")]
    assert all("\n" not in r for r in reasons)
    assert [e["state"] for e in _journal(tmp_path)] == ["accepted", "error"]


def test_queue_policy_runs_commands_in_order(ros, tmp_path):
    _planner(ros, tmp_path, max_queue=2)
    a, b, c, d = (unique_id(name) for name in "abcd")
    for name in (a, b, c, d):
        ros.say(GREEN_ON_BLUE, name)
    ros.wait_for(lambda: ros.of(d, "rejected"), 10, "overflow rejected")
    assert ros.of(b, "accepted")[0].details["queued"] == 1
    assert ros.of(c, "accepted")[0].details["queued"] == 2
    assert "queue full" in ros.of(d, "rejected")[0].details["reason"]
    ros.wait_for(lambda: ros.of(a, "planned"), 20, "a planned")
    assert not ros.of(b, "planned")  # waits for a's outcome
    ros.executor_says(a, "failed", reason="test")
    ros.wait_for(lambda: ros.of(b, "planned"), 20, "b planned after a ended")
    ros.executor_says(b, "done")
    ros.wait_for(lambda: ros.of(c, "planned"), 20, "c planned after b ended")


def test_reject_policy_turns_away_commands_while_busy(ros, tmp_path):
    _planner(ros, tmp_path, on_new_command="reject")
    a, b = unique_id("a"), unique_id("b")
    ros.say(GREEN_ON_BLUE, a)
    ros.wait_for(lambda: ros.of(a, "planned"), 20, "a planned")
    ros.say(GREEN_ON_BLUE, b)
    ros.wait_for(lambda: ros.of(b, "rejected"), 10, "b rejected")
    assert f"busy with command {a}" in ros.of(b, "rejected")[0].details["reason"]
    states = {(e["id"], e["state"]) for e in _journal(tmp_path)}
    assert (b, "rejected") in states and (b, "accepted") not in states


def test_preempt_policy_announces_the_preempted_command(ros, tmp_path):
    _planner(ros, tmp_path, on_new_command="preempt")
    a, b = unique_id("a"), unique_id("b")
    ros.say(GREEN_ON_BLUE, a)
    ros.wait_for(lambda: ros.of(a, "planned"), 20, "a planned")
    ros.say(GREEN_ON_BLUE, b)
    ros.wait_for(lambda: ros.of(b, "planned"), 20, "b planned at once")
    assert ros.of(b, "accepted")[0].details["preempts"] == a
    ros.executor_says(a, "cancelled", reason=f"preempted by {b}")
    ros.wait_for(
        lambda: (a, "cancelled") in {(e["id"], e["state"]) for e in _journal(tmp_path)},
        10,
        "a's outcome journalled",
    )


def test_cancel_drops_the_queue_with_events(ros, tmp_path):
    _planner(ros, tmp_path)
    a, b, c = (unique_id(name) for name in "abc")
    for name in (a, b, c):
        ros.say(GREEN_ON_BLUE, name)
    ros.wait_for(lambda: ros.of(c, "accepted"), 10, "all accepted")
    ros.connected("cancel")
    ros.pub["cancel"].publish(ros.Empty())
    ros.wait_for(lambda: ros.of(b, "cancelled") and ros.of(c, "cancelled"), 10, "dropped")
    ros.executor_says(a, "cancelled")
    ros.wait_for(lambda: len(_journal(tmp_path)) == 6, 10, "every outcome journalled")


def test_replan_requests_are_answered_on_the_plan_topic(ros, tmp_path):
    from robot_planner.nodes import common
    from robot_planner.nodes.typed import replan_request_msg
    from robot_planner_interfaces.msg import ReplanRequest

    _planner(ros, tmp_path)
    replan = ros.probe.create_publisher(ReplanRequest, common.REPLAN, common.reliable())
    a = unique_id("a")
    ros.say(GREEN_ON_BLUE, a)
    ros.wait_for(lambda: ros.of(a, "planned"), 20, "planned")
    ros.wait_for(lambda: replan.get_subscription_count() > 0, 10, "replan peer")
    from robot_planner.resources import scene_path
    from robot_planner.world.facts import format_facts
    from robot_planner.world.scene import load_scene

    state = load_scene(scene_path("tabletop")).initial_facts()
    request = {
        "command_id": a,
        "revision": 0,
        "command": GREEN_ON_BLUE,
        "facts": format_facts(state),
        "goal": ["on(green_block,blue_block)"],
        "completed": [],
        "failed_task": None,
        "evidence": "test",
    }
    replan.publish(replan_request_msg(request, time.time()))
    ros.wait_for(lambda: any(p["revision"] == 1 for p in ros.plans), 20, "revision 1")
    answer = next(p for p in ros.plans if p["revision"] == 1)
    assert answer["command_id"] == a and answer["plan"]["tasks"]
    # Malformed (a fact that is none, a failed action without arguments): errors.
    garbled = replan_request_msg({**request, "revision": 1, "facts": ["on(a"]}, time.time())
    replan.publish(garbled)
    ros.wait_for(lambda: ros.of("", "error"), 10, "error for a malformed request")
    assert "bad re-plan request" in ros.of("", "error")[0].details["reason"]
    failures = [{"skill": "pick", "robot": "left_arm", "args": {}, "reason": "x", "times": 1}]
    unargued = replan_request_msg({**request, "revision": 1, "failures": failures}, 0.0)
    unargued.failures[0].args_json = "[1]"
    replan.publish(unargued)
    ros.wait_for(lambda: len(ros.of("", "error")) == 2, 10, "error for a failure without args")
    reason = ros.of("", "error")[1].details["reason"]
    assert "a failed action must be an object with args" in reason


def test_the_planner_plans_from_the_typed_world_state(ros, tmp_path):
    from robot_planner.nodes import common
    from robot_planner.nodes.typed import world_state_msg
    from robot_planner_interfaces.msg import WorldState

    state = ros.probe.create_publisher(WorldState, common.STATE, common.latched())
    planner = _planner(ros, tmp_path)
    ros.wait_for(lambda: state.get_subscription_count() > 0, 20, "state peer")
    facts = list(planner.lifecycle.facts())
    assert "on(green_block,blue_block)" not in facts
    moved = [f for f in facts if not f.startswith("on_table(green_block")]
    moved.append("on(green_block,blue_block)")
    state.publish(world_state_msg({"facts": ["on(a"], "source": "executor"}, time.time()))
    state.publish(world_state_msg({"facts": moved, "source": "executor"}, time.time()))
    ros.wait_for(
        lambda: "on(green_block,blue_block)" in planner.lifecycle.facts(), 20, "the new state"
    )
    assert sorted(planner.lifecycle.facts()) == sorted(moved)  # the malformed one ignored


def test_a_restarted_planner_marks_unfinished_commands_interrupted(ros, tmp_path):
    from robot_planner.service.journal import Journal

    old, fresh = unique_id("old"), unique_id("fresh")
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write(old, "accepted", text=GREEN_ON_BLUE)
    journal.close()
    _planner(ros, tmp_path)
    assert [(e["id"], e["state"]) for e in _journal(tmp_path)] == [
        (old, "accepted"),
        (old, "interrupted"),
    ]
    # Never replayed: a replay would be planned before any new command, so once a new
    # command's plan is here, the old one's would be too.
    ros.say(GREEN_ON_BLUE, fresh)
    ros.wait_for(lambda: ros.of(fresh, "planned"), 20, "a new command planned")
    ros.wait_for(lambda: ros.plans, 10, "its plan")
    assert [p["command_id"] for p in ros.plans] == [fresh]
    assert not ros.of(old)


def test_a_command_whose_executor_vanishes_ends_interrupted_and_is_not_replayed(ros, tmp_path):
    from robot_planner.nodes import common
    from robot_planner.nodes.planner_node import PlannerNode

    lost, following = unique_id("lost"), unique_id("next")
    from robot_planner_interfaces.msg import ReplanRequest

    executor = ros.rclpy.create_node("executor", context=ros.context)  # a stand-in
    replan = executor.create_publisher(ReplanRequest, common.REPLAN, common.reliable())
    ros.executor.add_node(executor)
    planner = _planner(ros, tmp_path, _watchdog_logging(PlannerNode), executor_timeout_s=1.0)
    ros.say(GREEN_ON_BLUE, lost)
    ros.say("put the red block in the left bin", following)
    ros.wait_for(lambda: ros.of(lost, "planned"), 20, "planned")

    def watching() -> list:
        return [gone for watched, gone in list(planner.watchdog) if watched == lost]

    # While the command runs the watchdog sees the executor: it ticks (every 0.5 s) for
    # longer than executor_timeout_s and never starts the countdown.
    ros.wait_for(lambda: len(watching()) >= 4, 20, "four watchdog ticks on the command")
    assert watching() == [None] * len(watching())
    assert not ros.of(lost, "interrupted")
    executor.destroy_publisher(replan)  # killed: its endpoint disappears from the graph
    ros.wait_for(lambda: ros.of(lost, "interrupted"), 15, "interrupted")
    assert "not replayed" in ros.of(lost, "interrupted")[0].details["reason"]
    # The queue moves on; the lost command is journalled once, and never planned again.
    ros.wait_for(lambda: ros.of(following, "planned"), 20, "the next command planned")
    entries = [(e["id"], e["state"]) for e in _journal(tmp_path)]
    assert entries[:3] == [(lost, "accepted"), (following, "accepted"), (lost, "interrupted")]
    assert len(ros.of(lost, "planned")) == 1
    ros.executor.remove_node(executor)
    executor.destroy_node()


def _watchdog_logging(planner_class: type) -> type:
    """The planner with a log of its executor watchdog's ticks: (watched command id or
    None, the time its executor went missing or None) after each tick."""

    class WatchdogLogging(planner_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.watchdog: list[tuple[str | None, float | None]] = []
            super().__init__(*args, **kwargs)

        def _watch_executor(self) -> None:
            super()._watch_executor()
            watched = self._watched[0] if self._watched is not None else None
            self.watchdog.append((watched, self._gone_since))

    return WatchdogLogging


# --- executor node (the test plays the planner) ------------------------------------


def _executor(ros: Ros, factory: Any = None, **params: Any) -> Any:
    from robot_planner.nodes.executor_node import ExecutorNode

    params.setdefault("sim_speed", 4.0)
    params.setdefault("monitor_mode", "off")
    params.setdefault("camera_rate_hz", 1.0)
    node = ros.add(factory or ExecutorNode, **params)
    ros.connected("plan")
    return node


def _plan_message(command_id: str, plan: Any, revision: int = 0) -> dict[str, Any]:
    """The planner's plan message (published typed by `ros.publish_plan`)."""
    return {"command_id": command_id, "revision": revision, "issued": time.time(), "plan": plan}


def test_executor_refuses_invalid_plans_without_moving(ros):
    from robot_planner.nodes.typed import plan_msg

    _executor(ros)
    bad = unique_id("bad")
    invalid = {"command": "x", "goal": [], "tasks": [{"id": "t1", "skill": "fly", "robot": "r"}]}
    ros.publish_plan(_plan_message(bad, invalid))
    ros.wait_for(lambda: ros.of(bad, "error"), 20, "error for an invalid plan")
    assert "rejected by the executor" in ros.of(bad, "error")[0].details["reason"]
    # A task whose arguments are not a JSON object: the plan is refused, naming it.
    garbled = unique_id("garbled")
    pick = {"id": "t1", "skill": "pick", "robot": "left_arm", "args": {"object": "red_block"}}
    msg = plan_msg(_plan_message(garbled, {"command": "x", "goal": [], "tasks": [pick]}))
    msg.tasks[0].args_json = "{not json"
    ros.pub["plan"].publish(msg)
    ros.wait_for(lambda: ros.of(garbled, "error"), 20, "error for a garbled plan")
    assert "t1" in ros.of(garbled, "error")[0].details["reason"]
    assert not ros.of(bad, "task_started") and not ros.of(garbled, "task_started")


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
    run = unique_id("run")
    ros.publish_plan(_plan_message(run, plan.plan.to_dict()))
    ros.wait_for(lambda: ros.of(run, "done") or ros.of(run, "failed"), 60, "the outcome")
    done = ros.of(run, "done")
    assert done, [e.state for e in ros.of(run)]
    assert "in(red_block,left_bin)" in done[0].details["facts"]
    started = [e.details["task"] for e in ros.of(run, "task_started")]
    assert started == [t.id for t in plan.plan.tasks]


def test_the_executor_publishes_its_world_state_typed(ros):
    """At start-up (and after each command) the executor's robots' state goes out as a
    latched `WorldState`, facts the planner's scene reads."""
    from robot_planner.nodes import common
    from robot_planner.nodes.typed import seconds, world_state_from_msg
    from robot_planner.resources import scene_path
    from robot_planner.world.scene import load_scene
    from robot_planner_interfaces.msg import WorldState

    received: list[Any] = []
    ros.probe.create_subscription(WorldState, common.STATE, received.append, common.latched())
    before = time.time()
    _executor(ros)
    ros.wait_for(lambda: received, 30, "the world state")
    state = world_state_from_msg(received[0])
    assert state["source"] == "executor" and seconds(received[0].stamp) >= before - 1.0
    facts = load_scene(scene_path("tabletop")).parse_facts(state["facts"])
    assert any(fact.predicate == "on_table" for fact in facts)


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


HOLDING_RED = "holding(left_arm,red_block)"


def _misalignment(command_id: str, revision: int, fact: str, **fields: Any) -> Any:
    """A misalignment message as the monitor node publishes it: `fact` (of task t1 on
    the left arm) answered no twice; `fields` override the message's fields."""
    from robot_planner.monitor.base import VqaAnswer
    from robot_planner.monitor.detector import Misalignment
    from robot_planner.nodes.typed import MisalignmentReport, misalignment_msg

    no = VqaAnswer(False, 0.75, "")  # exact in float32: sent and received compare equal
    found = Misalignment("t1", "left_arm", fact, "during", True, 0.0, (no, no), f"Is {fact}?")
    msg = misalignment_msg(MisalignmentReport(command_id, revision, found))
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def test_executor_ignores_plans_latched_before_it_started(ros):
    from robot_planner.nodes.executor_node import ExecutorNode

    stale, later = unique_id("stale"), unique_id("later")
    ros.publish_plan(
        {"command_id": stale, "revision": 0, "issued": time.time() - 3600, "plan": {}}
    )
    node = _executor(ros, recording(ExecutorNode, "_on_plan"))
    ros.wait_for(
        lambda: any(m.command_id == stale for m in node.handled["_on_plan"]),
        20,
        "the stale plan",
    )
    # Plans run in the order they arrive: had the stale one been taken, its events would
    # come before the outcome of a plan sent after it.
    fly = {"id": "t1", "skill": "fly", "robot": "left_arm"}
    ros.publish_plan(_plan_message(later, {"command": "x", "goal": [], "tasks": [fly]}))
    ros.wait_for(lambda: ros.of(later, "error"), 20, "the later plan refused")
    assert not ros.of(stale)


def test_executor_acts_on_the_current_misalignment_and_ignores_the_rest(ros):
    """Misalignments that are malformed, about another command or about another plan
    revision are dropped without an error; the one about the running plan halts it."""
    from robot_planner.nodes.executor_node import ExecutorNode

    _fake_hardware(ros, hang_skills="left_arm:pick")  # runs until the executor halts it
    node = _executor(
        ros,
        recording(ExecutorNode, "_on_misalignment"),
        adapter="ros_bindings",
        bindings=_fake_bindings(),
        monitor_mode="on",
        max_replans=0,
    )
    ros.connected("misalignment")
    command = unique_id("watched")
    plan = {
        "command": "pick up the red block",
        "goal": ["holding(left_arm,red_block)"],
        "tasks": [
            {"id": "t1", "skill": "pick", "robot": "left_arm", "args": {"object": "red_block"}}
        ],
    }
    ros.publish_plan(_plan_message(command, plan))
    ros.wait_for(lambda: ros.of(command, "task_started"), 30, "the pick started")

    from robot_planner_interfaces.msg import Misalignment as MisalignmentMsg

    messages = [
        MisalignmentMsg(),
        _misalignment(command, 0, "gripper_empty(right_arm)", detail_json="[1,2]"),
        _misalignment(command, 0, "gripper_empty(right_arm)", detail_json='{"answers": []}'),
        _misalignment(command, 0, "holding(left_arm"),
        _misalignment(command, 0, "gripper_empty(right_arm)", facts=["levitating(red_block)"]),
        _misalignment(unique_id("other"), 0, "gripper_empty(right_arm)"),
        _misalignment(command, 1, "gripper_empty(right_arm)"),
        _misalignment(command, 0, HOLDING_RED),  # the only real one
    ]
    for message in messages:
        ros.pub["misalignment"].publish(message)
    ros.wait_for(lambda: ros.of(command, "failed"), 30, "the command halted")
    ros.wait_for(
        lambda: len(node.handled["_on_misalignment"]) == len(messages),
        10,
        "every misalignment message handled",
    )
    assert node.handled["_on_misalignment"] == messages
    [halt] = ros.of(command, "misalignment")
    assert halt.details["fact"] == "holding(left_arm,red_block)"
    assert "gave up after 0 re-plan(s)" in ros.of(command, "failed")[0].details["reason"]
    assert ros.of(command, "task_cancelled")  # the hanging pick was halted
    assert not ros.of("", "error")
    assert node.service.thread.is_alive()


def test_after_a_failed_replan_the_executor_waits_for_the_next_answer(ros):
    """The planner answers every re-plan request with the next revision of the command,
    a failure too; after a failed re-plan the supervisor clears the view and asks again,
    and the executor must wait for the answer after the failed one (it waited for the
    failed one's revision until replan_timeout_s and the command failed; e2e seed 3)."""
    from robot_planner.nodes import common
    from robot_planner.nodes.typed import replan_request_from_msg
    from robot_planner_interfaces.msg import ReplanRequest

    requests: list[dict] = []
    ros.probe.create_subscription(
        ReplanRequest, common.REPLAN, lambda m: requests.append(replan_request_from_msg(m)), 10
    )
    _fake_hardware(ros, hang_skills="left_arm:pick")  # runs until the executor halts it
    _executor(
        ros,
        adapter="ros_bindings",
        bindings=_fake_bindings(),
        monitor_mode="on",
        max_replans=1,
        replan_timeout_s=60.0,
    )
    ros.connected("misalignment")
    command = unique_id("replan")
    task = {"id": "t1", "skill": "pick", "robot": "left_arm", "args": {"object": "red_block"}}
    pick = {"command": "pick up the red block", "goal": [HOLDING_RED], "tasks": [task]}
    ros.publish_plan(_plan_message(command, pick))
    ros.wait_for(lambda: ros.of(command, "task_started"), 30, "the pick started")
    ros.pub["misalignment"].publish(_misalignment(command, 0, HOLDING_RED))

    def answer(revision: int, **body: Any) -> None:
        message = {"command_id": command, "revision": revision, "issued": time.time(), **body}
        ros.publish_plan(message)

    ros.wait_for(lambda: requests, 30, "a re-plan request")
    assert requests[0]["revision"] == 0
    assert requests[0]["command_id"] == command and requests[0]["goal"] == [HOLDING_RED]
    assert requests[0]["failed_task"] is None or requests[0]["failed_task"]["id"] == "t1"
    answer(1, error="no plan reaches the goal")  # the planner's revision 1: a failure
    ros.wait_for(lambda: len(requests) == 2, 30, "the second attempt, after clearing the view")
    assert requests[1]["revision"] == 1
    answer(2, plan=pick)  # the pick again (it hangs again: the test cancels it)
    ros.wait_for(
        lambda: ros.of(command, "replanned") or ros.of(command, "failed"), 30, "the re-plan"
    )
    assert ros.of(command, "replanned"), [e.details.get("reason") for e in ros.of(command)]
    ros.connected("cancel")
    ros.pub["cancel"].publish(ros.Empty())
    ros.wait_for(lambda: ros.of(command, "cancelled") or ros.of(command, "done"), 30, "the end")


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
    hw = unique_id("hw")
    ros.publish_plan(_plan_message(hw, plan))
    ros.wait_for(lambda: ros.of(hw, "done") or ros.of(hw, "failed"), 30, "the outcome")
    done = ros.of(hw, "done")
    assert done, [(e.state, e.details.get("reason")) for e in ros.of(hw)]
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
    hwfail = unique_id("hwfail")
    ros.publish_plan(_plan_message(hwfail, plan))
    ros.wait_for(lambda: ros.of(hwfail, "failed"), 30, "failed")
    assert ros.of(hwfail, "task_failed")[0].details["task"] == "t2"


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

    from robot_planner.speech import read_wav

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
    # Utterances are handled in order: once a good one's command is here, a command from
    # the unusable audio would have come first.
    pcm, _ = read_wav(WAV)
    _speak(ros, pcm)
    ros.wait_for(lambda: commands.received, 30, "the command of a good utterance")
    assert [c["text"] for c in commands.received] == [GREEN_ON_BLUE]


def test_voice_sends_only_whole_sentences_and_shows_the_best_guess(ros):
    import numpy as np

    from robot_planner.speech import read_wav

    commands = _Commands(ros)
    _voice(ros)
    # Loud noise: the decoder's search ends in no final state of the grammar.
    noise = np.random.default_rng(2).normal(0, 8_000, 16_000)
    _speak(ros, np.clip(np.round(noise), -32768, 32767).astype("<i2").tobytes())
    ros.wait_for(
        lambda: [e for e in ros.events if e.state == "not_understood"], 30, "not understood"
    )
    event = next(e for e in ros.events if e.state == "not_understood")
    assert event.command_id == "" and event.source == "voice"
    assert event.details["reason"].startswith("not understood")
    assert isinstance(event.details["guess"], str) and event.details["origin"] == "topic"
    assert event.details["audio_s"] == pytest.approx(1.0)
    # Utterances are handled in order: the good one's command is the only command.
    pcm, _ = read_wav(WAV)
    _speak(ros, pcm)
    ros.wait_for(lambda: commands.received, 30, "the command of a good utterance")
    assert [c["text"] for c in commands.received] == [GREEN_ON_BLUE]
    assert not [e for e in ros.events if e.state == "error"]


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
