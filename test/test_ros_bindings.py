"""The ros_bindings hardware adapter: bindings validation, and goals over real ROS 2 actions.

Pure tests check the bindings file format, the template language and the message-level
type checks without rclpy. ROS tests run Fibonacci action servers (`FakeSkillServers`,
the same code as `fake_hardware_node`) as the hardware, in one process: the hardware
node and the planner's node share a `MultiThreadedExecutor` spun in a background thread,
as the executor node spins its node, while the test thread plays the plan executor's
worker thread. Each ROS test has its own ROS_DOMAIN_ID; every wait has a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import plan, task

from robot_planner.adapters.base import AdapterError, SkillState, SkillStatus
from robot_planner.adapters.bindings import (
    BindingError,
    Bindings,
    GoalError,
    Kind,
    Placeholder,
    Text,
    Value,
    bindings_path,
    build_goal,
    compile_bindings,
    evaluate,
    feedback_values,
    field_type,
    load_bindings,
    parse_template,
    resolve_action,
    result_failure,
    set_field,
    world_position,
)
from robot_planner.testing.waiting import wait_for
from robot_planner.world.facts import Fact

ROOT = Path(__file__).resolve().parent.parent
FAKE = bindings_path("hardware_bindings_fake")
HARDWARE = bindings_path("hardware_bindings")
NESTED = "test_msgs/action/NestedMessage"


def fake_data() -> dict[str, Any]:
    return yaml.safe_load(FAKE.read_text())


def bindings_with(**skills: dict[str, Any]) -> Bindings:
    """The fake bindings with some skills' entries updated (None removes the skill)."""
    data = fake_data()
    for skill, update in skills.items():
        if update is None:
            data["skills"].pop(skill, None)
        else:
            data["skills"][skill] = {**data["skills"].get(skill, {}), **update}
    return Bindings.model_validate(data).with_source("test bindings")


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "bindings.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def load_with(tmp_path: Path, skill: str, entry: dict[str, Any]) -> Bindings:
    data = fake_data()
    data["skills"][skill] = entry
    return load_bindings(write(tmp_path, data))


def nested(skill: str = "place", **entry: Any) -> Bindings:
    """One skill bound to test_msgs' NestedMessage action (nested, typed goal fields)."""
    binding = {"action_type": NESTED, "action_name": f"/{{robot}}/{skill}", **entry}
    return Bindings.model_validate({"skills": {skill: binding}}).with_source("nested")


# --- the bindings file (pure) ---------------------------------------------------------


@pytest.mark.parametrize("path", [FAKE, HARDWARE], ids=["fake", "hardware"])
def test_packaged_bindings_cover_every_catalogue_skill(path, catalogue, scene):
    bindings = load_bindings(path)
    routes = compile_bindings(bindings, catalogue, scene)
    assert set(routes) == set(catalogue.skills)
    for skill, route in routes.items():
        assert route.timeout_s <= catalogue.timeout(skill)
    assert routes["wait"].is_local


def test_fake_bindings_resolve_against_the_installed_messages(catalogue, scene):
    bindings = load_bindings(FAKE)
    for route in compile_bindings(bindings, catalogue, scene).values():
        if not route.is_local:
            resolved = resolve_action(route, bindings.source)
            assert resolved.action.__name__ == "Fibonacci"


def test_hardware_bindings_type_pick_goal_from_the_scene(catalogue, scene):
    routes = compile_bindings(load_bindings(HARDWARE), catalogue, scene)
    assert routes["pick"].kinds["object_position"] == Kind("float", 3)
    assert routes["place"].kinds["object_size"] == Kind("float")
    assert routes["move_home"].timeout_s == 20
    assert routes["open_gripper"].binding.cancel_on_halt is False


def test_malformed_action_type_is_one_line_naming_file_and_key(tmp_path):
    entry = {"action_type": "test_msgs/Fibonacci", "action_name": "/{robot}/pick"}
    with pytest.raises(BindingError) as info:
        load_with(tmp_path, "pick", entry)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "bindings.yaml") in message
    assert "skills.pick.action_type" in message
    assert "expected pkg/action/Type" in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"action_type": "test_msgs/action/Fibonacci"}, "missing action_name"),
        ({"local": "sleep"}, "local: sleep needs duration_s"),
        (
            {"local": "sleep", "duration_s": 1, "action_type": "test_msgs/action/Fibonacci"},
            "a local skill takes no action_type",
        ),
        (
            {"action_type": "test_msgs/action/Fibonacci", "action_name": "/{arm}/pick"},
            "may only use {robot}",
        ),
        (
            {"action_type": "test_msgs/action/Fibonacci", "action_name": "/a b/pick"},
            "not a valid ROS action name",
        ),
        (
            {**fake_data()["skills"]["pick"], "timeout_s": -1},
            "skills.pick.timeout_s",
        ),
        ({**fake_data()["skills"]["pick"], "retries": 3}, "skills.pick.retries"),
        (
            {**fake_data()["skills"]["pick"], "success": {"field": "sequence"}},
            "exactly one of equals, min_length",
        ),
    ],
)
def test_binding_structure_errors(tmp_path, entry, expected):
    with pytest.raises(BindingError, match=r"bindings file .*: skills\.pick") as info:
        load_with(tmp_path, "pick", entry)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"pos": "object"}, "must be a lookup"),
        ("{object", "unmatched '{'"),
        ({"position": "object", "axis": "w"}, "axis (x, y or z) only goes with position"),
        ({"size": "object", "axis": "x"}, "axis (x, y or z) only goes with position"),
        ([[1, 2]], "lists cannot be nested"),
        (None, "empty value"),
        (float("nan"), "not a finite number"),
    ],
)
def test_bad_goal_templates_are_load_errors(tmp_path, value, expected):
    entry = {**fake_data()["skills"]["pick"], "goal": {"order": value}}
    with pytest.raises(BindingError, match=r"skills\.pick\.goal") as info:
        load_with(tmp_path, "pick", entry)
    assert expected in str(info.value)
    assert "goal field 'order'" in str(info.value)


def test_overlapping_goal_fields_are_refused(tmp_path):
    entry = {**fake_data()["skills"]["pick"], "goal": {"pose": 1, "pose.position": 2}}
    with pytest.raises(BindingError, match=r"'pose' and 'pose\.position' overlap"):
        load_with(tmp_path, "pick", entry)


@pytest.mark.parametrize(
    ("skills", "expected"),
    [
        ({"dance": {"local": "sleep", "duration_s": 1}}, "skill 'dance' is not in the catalogue"),
        (
            {"pick": {"goal": {"order": "{colour}"}}},
            "uses 'colour', which is not an argument of pick (names: object, robot)",
        ),
        (
            {"place": {"goal": {"order": {"size": "target"}}}},
            "{size: target} needs an argument naming objects (places have no size); "
            "'target' is a block / bin / zone",
        ),
        (
            {"pick": {"goal": {"order": {"position": "robot"}}}},
            "{position: robot} needs an argument naming something in the scene",
        ),
        ({"pick": {"timeout_s": 90}}, "timeout_s 90 exceeds the catalogue's 60 s"),
        ({"wait": {"duration_s": "{robot}"}}, "duration_s must be a number"),
        (
            {"close_gripper": {"action_name": "/{robot}/open_gripper", "action_type": NESTED}},
            "bind /left_arm/open_gripper to different types",
        ),
        ({"pick": {"goal": {"order": [1, "a"]}}}, "the list mixes int and str values"),
    ],
)
def test_bindings_are_checked_against_the_catalogue(skills, expected, catalogue, scene):
    with pytest.raises(BindingError) as info:
        compile_bindings(bindings_with(**skills), catalogue, scene)
    assert expected in str(info.value)
    assert str(info.value).startswith("test bindings: ")


# --- message-level checks (pure: they import message packages, not rclpy) ----------------


def resolve(bindings: Bindings, skill: str, catalogue, scene):
    return resolve_action(compile_bindings(bindings, catalogue, scene)[skill], bindings.source)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"goal": {"nested_field.int32_value": "{object}"}},
            "goal field 'nested_field.int32_value' is int32 but \"{object}\" gives a string",
        ),
        (
            {"goal": {"nested_field.bool_value": 1}},
            "is boolean but 1 gives an integer",
        ),
        (
            {"goal": {"nested_field.float64_value": {"position": "target"}}},
            "is double but {position: target} gives a list of 3 numbers",
        ),
        (
            {"goal": {"nested_field.nope": 1}},
            "'nested_field.nope': nested_field has no field 'nope' (fields: bool_value,",
        ),
        (
            {"goal": {"nested_field.int32_value.x": 1}},
            "'int32_value' is int32, not a message",
        ),
        (
            {"success": {"field": "nested_field.bool_value", "min_length": 1}},
            "min_length needs a list or string, the field is boolean",
        ),
        (
            {"success": {"field": "nested_field.bool_value", "equals": "yes"}},
            "the field is boolean, it can never equal 'yes'",
        ),
        ({"success": {"field": "missing", "equals": True}}, "Result has no field 'missing'"),
        ({"feedback_phase": "nested_field.int8_value"}, "feedback field"),
        ({"action_type": "test_msgs/action/Nope"}, "test_msgs.action has no type Nope"),
        ({"action_type": "no_such_pkg/action/Pick"}, "cannot import no_such_pkg.action"),
    ],
)
def test_message_level_errors_name_skill_type_and_field(entry, expected, catalogue, scene):
    with pytest.raises(BindingError) as info:
        resolve(nested(**entry), "place", catalogue, scene)
    message = str(info.value)
    assert expected in message
    assert message.startswith("nested: skill 'place' (")
    assert "\n" not in message


def test_goal_is_filled_from_arguments_scene_and_belief(catalogue, scene):
    resolved = resolve(
        nested(
            goal={
                "nested_field.float64_value": {"position": "target", "axis": "y"},
                "nested_field.float32_value": {"size": "object"},
                "nested_field.int32_value": 7,
                "nested_field.bool_value": True,
                "nested_different_pkg.sec": 3,
                "nested_field.int64_value": 11,
            }
        ),
        "place",
        catalogue,
        scene,
    )
    goal = build_goal(
        resolved,
        "left_arm",
        {"object": "red_block", "target": "left_bin"},
        scene,
        scene.initial_facts(),
    )
    assert goal.nested_field.float64_value == pytest.approx(0.30)  # left_bin's y
    assert goal.nested_field.float32_value == pytest.approx(0.05)
    assert goal.nested_field.int32_value == 7
    assert goal.nested_field.bool_value is True
    assert goal.nested_different_pkg.sec == 3
    assert goal.nested_field.int64_value == 11


def test_goal_value_out_of_range_fails_at_start_not_in_ros(catalogue, scene):
    """rosidl does not range-check by default; an int32 that wraps would move a robot wrongly."""
    resolved = resolve(nested(goal={"nested_field.uint8_value": 300}), "place", catalogue, scene)
    args = {"object": "red_block", "target": "left_bin"}
    expected = r"goal field 'nested_field\.uint8_value' \(uint8\) cannot take 300: out of the"
    with pytest.raises(GoalError, match=expected):
        build_goal(resolved, "left_arm", args, scene, scene.initial_facts())


def test_point_fields_take_a_whole_position(scene):
    from geometry_msgs.msg import PoseStamped

    message = PoseStamped()
    ftype = field_type(PoseStamped, "pose.position")
    assert ftype.is_point()
    set_field(message, "pose.position", ftype, [1, 2.5, 3])
    assert (message.pose.position.x, message.pose.position.y, message.pose.position.z) == (
        1.0,
        2.5,
        3.0,
    )
    set_field(message, "header.frame_id", field_type(PoseStamped, "header.frame_id"), "world")
    assert message.header.frame_id == "world"


def test_block_positions_follow_the_belief(catalogue, scene):
    top = scene.table.top_z
    facts = scene.initial_facts()
    left_x, left_y = scene.places["left_side"].center  # red starts there: its centre
    assert world_position("red_block", scene, facts) == pytest.approx(
        (left_x, left_y, top + 0.025)
    )
    assert world_position("right_bin", scene, facts) == pytest.approx((0.25, 0.30, top))
    # Stack green on red: green's centre is one block higher.
    facts = catalogue.apply("pick", "left_arm", {"object": "green_block"}, scene, facts)
    with pytest.raises(GoalError, match="green_block is held by left_arm"):
        world_position("green_block", scene, facts)
    facts = catalogue.apply(
        "place", "left_arm", {"object": "green_block", "target": "red_block"}, scene, facts
    )
    assert world_position("green_block", scene, facts) == pytest.approx(
        (left_x, left_y, top + 0.05 + 0.025)
    )


def test_placeholders_keep_their_type_and_text_substitutes(scene):
    facts = scene.initial_facts()
    assert parse_template("{seconds}") == Placeholder("seconds")
    assert evaluate(parse_template("{seconds}"), "left_arm", {"seconds": 2.5}, scene, facts) == 2.5
    text = parse_template("/{robot}/hand_{object}")
    assert isinstance(text, Text)
    assert evaluate(text, "left_arm", {"object": "red_block"}, scene, facts) == (
        "/left_arm/hand_red_block"
    )
    assert parse_template("{{not a placeholder}}") == Value("{not a placeholder}")
    assert parse_template("world") == Value("world")


def test_result_checks_and_feedback(catalogue, scene):
    from test_msgs.action import NestedMessage

    resolved = resolve(
        nested(
            success=[
                {"field": "nested_field.bool_value", "equals": True},
                {"field": "nested_field.int32_value", "equals": 0},
            ],
            feedback_progress="nested_field.float64_value",
        ),
        "place",
        catalogue,
        scene,
    )
    result = NestedMessage.Result()
    assert result_failure(resolved, result) == (
        "result check failed: nested_field.bool_value is False, expected True"
    )
    result.nested_field.bool_value = True
    assert result_failure(resolved, result) is None
    feedback = NestedMessage.Feedback()
    feedback.nested_field.float64_value = 1.7
    assert feedback_values(resolved, feedback) == (1.0, None)  # clamped to [0, 1]


# --- ROS: the adapter against Fibonacci servers ----------------------------------------


class RosHarness:
    """Hardware node + planner node in one MultiThreadedExecutor spun by a thread."""

    def __init__(self, context, catalogue, scene):
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        self.context = context
        self.catalogue = catalogue
        self.scene = scene
        self.hardware = rclpy.create_node("test_hardware", context=context)
        self.planner = rclpy.create_node("test_planner", context=context)
        self.executor = MultiThreadedExecutor(num_threads=8, context=context)
        self.executor.add_node(self.hardware)
        self.executor.add_node(self.planner)
        self.extra_nodes: list = []
        self.fakes: list = []
        self.adapters: list = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        # A loop of bounded spin_once calls that the test can stop, rather than spin():
        # rclpy 9.1.2's Executor.shutdown does not wait for running handlers, so it is
        # called only after this thread has stopped submitting them.
        while not self._stop.is_set() and self.context.ok():
            self.executor.spin_once(timeout_sec=0.05)

    def servers(self, duration_s: float = 0.2, bindings: Bindings | None = None, **modes):
        from robot_planner.nodes.fake_hardware import FakeSkillServers, served_actions

        served = served_actions(bindings or load_bindings(FAKE), self.scene.robots)
        fake = FakeSkillServers(
            self.hardware,
            served,
            goal_duration_s=duration_s,
            feedback_period_s=0.05,
            modes={k: frozenset(v) for k, v in modes.items()},
        )
        self.fakes.append(fake)
        return fake

    def adapter(self, bindings: Bindings | None = None, check: bool = True, **kwargs):
        from robot_planner.adapters.ros_bindings import RosBindingsAdapter

        adapter = RosBindingsAdapter(
            self.planner, bindings or load_bindings(FAKE), self.catalogue, self.scene, **kwargs
        )
        self.adapters.append(adapter)
        if check:
            adapter.check(timeout_s=20.0)
        return adapter

    def close(self) -> None:
        for fake in self.fakes:
            fake.stop()
        for adapter in self.adapters:
            adapter.close()
        self._stop.set()
        self.thread.join(timeout=10.0)
        self.executor.shutdown(timeout_sec=10.0)
        for node in [self.hardware, self.planner, *self.extra_nodes]:
            node.destroy_node()


@pytest.fixture
def ros(monkeypatch, ros_domain, catalogue, scene) -> Iterator[RosHarness]:
    # In the environment too: test_fake_hardware_process_over_dds starts a process.
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ros_domain))
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain)
    harness = None
    try:
        harness = RosHarness(context, catalogue, scene)
        yield harness
    finally:
        if harness is not None:
            harness.close()
        rclpy.shutdown(context=context)


def finish(adapter, handle, timeout_s: float = 15.0) -> SkillStatus:
    """Poll like the executor does until the skill leaves RUNNING (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = adapter.poll(handle)
        if status.state is not SkillState.RUNNING:
            return status
        adapter.advance(0.02)
    raise AssertionError(f"skill still running after {timeout_s} s: {adapter.poll(handle)}")


HOLDING_RED = Fact.parse("holding(left_arm,red_block)")
PICK_RED = {"object": "red_block"}


@pytest.mark.ros
def test_pick_succeeds_and_updates_the_belief(ros):
    fake = ros.servers()
    adapter = ros.adapter()
    assert adapter.supported_skills == frozenset(ros.catalogue.skills)
    assert HOLDING_RED not in adapter.read_state()
    handle = adapter.start_skill("left_arm", "pick", PICK_RED)
    status = finish(adapter, handle)
    assert status.state is SkillState.SUCCEEDED, status.reason
    facts = adapter.read_state()
    assert HOLDING_RED in facts
    assert Fact.parse("gripper_empty(left_arm)") not in facts
    assert Fact.parse("on_table(red_block)") not in facts
    assert fake.log.goals == [("/left_arm/pick", 5)]  # the goal template reached the server
    assert fake.log.cancels == []


@pytest.mark.ros
def test_server_abort_fails_the_skill(ros):
    ros.servers(fail={"pick"})
    adapter = ros.adapter()
    status = finish(adapter, adapter.start_skill("left_arm", "pick", PICK_RED))
    assert status.state is SkillState.FAILED
    assert "/left_arm/pick aborted the goal" in status.reason
    assert HOLDING_RED not in adapter.read_state()


@pytest.mark.ros
def test_result_check_failure_fails_the_skill(ros):
    ros.servers(empty={"left_arm:pick"})
    adapter = ros.adapter()
    status = finish(adapter, adapter.start_skill("left_arm", "pick", PICK_RED))
    assert status.state is SkillState.FAILED
    assert status.reason == (
        "/left_arm/pick: result check failed: sequence has 0 items, expected at least 3"
    )
    assert HOLDING_RED not in adapter.read_state()
    # The rule named left_arm only: the right arm's pick passes its check.
    status = finish(adapter, adapter.start_skill("right_arm", "pick", {"object": "blue_block"}))
    assert status.state is SkillState.SUCCEEDED


@pytest.mark.ros
def test_rejected_goal_fails_the_skill(ros):
    fake = ros.servers(reject={"pick"})
    adapter = ros.adapter()
    status = finish(adapter, adapter.start_skill("left_arm", "pick", PICK_RED))
    assert status.state is SkillState.FAILED
    assert status.reason == "/left_arm/pick rejected the goal"
    assert fake.log.rejected == ["/left_arm/pick"]


@pytest.mark.ros
def test_timeout_fails_and_cancels_on_the_server(ros):
    fake = ros.servers(hang={"pick"})
    adapter = ros.adapter(bindings_with(pick={"timeout_s": 0.5}))
    handle = adapter.start_skill("left_arm", "pick", PICK_RED)
    status = finish(adapter, handle)
    assert status.state is SkillState.FAILED
    assert status.reason.startswith("timeout: pick on left_arm did not finish within 0.5 s")
    wait_for(lambda: fake.log.cancels == ["/left_arm/pick"], 15, "the cancel on the server")
    # The server's cancellation does not turn the failure into anything else, and the
    # arm is free for the next skill.
    wait_for(lambda: adapter.settled(handle), 15, "the goal to settle")
    assert adapter.poll(handle).state is SkillState.FAILED
    assert HOLDING_RED not in adapter.read_state()
    fake.modes = {}
    assert finish(adapter, adapter.start_skill("left_arm", "pick", PICK_RED)).state is (
        SkillState.SUCCEEDED
    )


@pytest.mark.ros
def test_cancel_while_running_reaches_the_server(ros):
    fake = ros.servers(hang={"pick"})
    adapter = ros.adapter()
    handle = adapter.start_skill("left_arm", "pick", PICK_RED)
    wait_for(lambda: fake.log.goals == [("/left_arm/pick", 5)], 15, "the goal on the server")
    assert adapter.poll(handle).state is SkillState.RUNNING
    adapter.cancel(handle)
    assert adapter.poll(handle).state is SkillState.CANCELLED  # at once, not after the server
    wait_for(lambda: fake.log.cancels == ["/left_arm/pick"], 15, "the cancel on the server")
    wait_for(lambda: adapter.settled(handle), 15, "the goal to settle")
    assert adapter.poll(handle).state is SkillState.CANCELLED
    adapter.cancel(handle)  # idempotent
    assert fake.log.cancels == ["/left_arm/pick"]


@pytest.mark.ros
def test_cancel_right_after_start_still_reaches_the_server(ros):
    """A halt may come before the server accepted the goal: the cancel follows acceptance."""
    fake = ros.servers(hang={"pick"})
    adapter = ros.adapter()
    handle = adapter.start_skill("left_arm", "pick", PICK_RED)
    adapter.cancel(handle)
    assert adapter.poll(handle).state is SkillState.CANCELLED
    wait_for(lambda: fake.log.cancels == ["/left_arm/pick"], 15, "the cancel on the server")


@pytest.mark.ros
def test_without_cancel_on_halt_the_goal_finishes_and_the_belief_follows(ros):
    fake = ros.servers(duration_s=0.3)
    adapter = ros.adapter(bindings_with(pick={"cancel_on_halt": False}))
    handle = adapter.start_skill("left_arm", "pick", PICK_RED)
    adapter.cancel(handle)
    assert adapter.poll(handle).state is SkillState.CANCELLED
    # The arm completed the pick, so the adapter believes it holds the block.
    wait_for(lambda: HOLDING_RED in adapter.read_state(), 15, "the belief after the pick")
    assert fake.log.cancels == []
    assert adapter.poll(handle).state is SkillState.CANCELLED


@pytest.mark.ros
def test_one_skill_per_robot_and_robots_in_parallel(ros):
    ros.servers(hang={"pick"})
    adapter = ros.adapter()
    left = adapter.start_skill("left_arm", "pick", PICK_RED)
    with pytest.raises(AdapterError, match="left_arm is busy with pick"):
        adapter.start_skill("left_arm", "move_home", {})
    right = adapter.start_skill("right_arm", "pick", {"object": "blue_block"})
    with pytest.raises(AdapterError, match="unknown robot 'third_arm'"):
        adapter.start_skill("third_arm", "move_home", {})
    with pytest.raises(AdapterError, match="unknown skill handle"):
        adapter.poll(12345)
    assert adapter.poll(left).state is adapter.poll(right).state is SkillState.RUNNING
    adapter.cancel(left)
    adapter.cancel(right)
    wait_for(lambda: adapter.settled(left) and adapter.settled(right), 15, "both goals to settle")


@pytest.mark.ros
def test_unbound_skill_is_not_supported(ros):
    ros.servers()
    adapter = ros.adapter(bindings_with(close_gripper=None))
    assert "close_gripper" not in adapter.supported_skills
    with pytest.raises(AdapterError, match="skill 'close_gripper' is not bound"):
        adapter.start_skill("left_arm", "close_gripper", {})


@pytest.mark.ros
def test_check_reports_a_missing_server(ros):
    adapter = ros.adapter(check=False)
    with pytest.raises(BindingError) as info:
        adapter.check(timeout_s=0.3)
    message = str(info.value)
    assert message.startswith(
        "skill 'pick': action server /left_arm/pick (test_msgs/action/Fibonacci) "
        "not available after 0.3 s; also missing: "
    )
    assert "/right_arm/close_gripper" in message and "\n" not in message


@pytest.mark.ros
def test_check_reports_one_missing_server_among_running_ones(ros):
    ros.servers(bindings=bindings_with(place=None))
    adapter = ros.adapter(check=False)
    with pytest.raises(BindingError, match=r"skill 'place': action server /left_arm/place"):
        adapter.check(timeout_s=1.0)


@pytest.mark.ros
@pytest.mark.parametrize(
    ("action_type", "expected"),
    [
        ("no_such_pkg/action/Pick", "cannot import no_such_pkg.action"),
        ("test_msgs/action/Nope", "test_msgs.action has no type Nope"),
    ],
)
def test_check_reports_a_missing_action_type(ros, action_type, expected):
    adapter = ros.adapter(bindings_with(pick={"action_type": action_type}), check=False)
    with pytest.raises(BindingError) as info:
        adapter.check(timeout_s=0.3)
    message = str(info.value)
    assert message.startswith(f"test bindings: skill 'pick' ({action_type}): ")
    assert expected in message


@pytest.mark.ros
def test_start_without_check_resolves_and_reports_missing_server(ros):
    adapter = ros.adapter(check=False)
    with pytest.raises(AdapterError, match=r"action server /left_arm/pick .* is not available"):
        adapter.start_skill("left_arm", "pick", PICK_RED)


@pytest.mark.ros
def test_plan_executor_runs_a_plan_over_the_actions(ros):
    from robot_planner.bt.ledger import TaskState
    from robot_planner.execution.executor import Outcome, PlanExecutor
    from robot_planner.plan.validation import require_valid

    fake = ros.servers(duration_s=0.15)
    adapter = ros.adapter()
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="left_bin"),
        task("t3", "wait", "left_arm", ("t2",), seconds=0.1),
        task("t4", "pick", "right_arm", object="blue_block"),
        task("t5", "place", "right_arm", ("t4",), object="blue_block", target="right_bin"),
        goal=("in(red_block,left_bin)", "in(blue_block,right_bin)"),
    )
    parsed = require_valid(data, ros.catalogue, ros.scene)
    executor = PlanExecutor(parsed, ros.catalogue, adapter, period_s=0.02)
    result = executor.run(max_wall_time_s=60.0)
    assert result.outcome is Outcome.SUCCEEDED, result.reason
    assert result.goal_satisfied
    assert all(r.state is TaskState.SUCCEEDED for r in result.tasks.values())
    # Both arms started on the first tick: the right arm did not wait for the left.
    assert result.tasks["t4"].started_at < result.tasks["t1"].ended_at
    assert sorted(name for name, _ in fake.log.goals) == [
        "/left_arm/pick",
        "/left_arm/place",
        "/right_arm/pick",
        "/right_arm/place",
    ]


@pytest.mark.ros
def test_halting_the_plan_cancels_the_running_goal(ros):
    from robot_planner.execution.executor import Outcome, PlanExecutor
    from robot_planner.plan.validation import require_valid

    fake = ros.servers(hang={"pick"})
    adapter = ros.adapter()
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="left_bin"),
    )
    executor = PlanExecutor(
        require_valid(data, ros.catalogue, ros.scene), ros.catalogue, adapter, period_s=0.02
    )
    deadline = time.monotonic() + 15.0
    while not fake.log.goals and time.monotonic() < deadline:
        assert executor.tick() is Outcome.RUNNING
    assert fake.log.goals == [("/left_arm/pick", 5)]
    executor.cancel("operator pressed stop")
    assert executor.outcome is Outcome.CANCELLED
    wait_for(lambda: fake.log.cancels == ["/left_arm/pick"], 15, "the cancel on the server")


@pytest.mark.ros
def test_fake_hardware_node_serves_the_packaged_fake_bindings(ros):
    from rclpy.parameter import Parameter

    from robot_planner.nodes.fake_hardware import FakeHardwareNode

    node = FakeHardwareNode(
        context=ros.context,
        parameter_overrides=[
            Parameter("goal_duration_s", value=0.1),
            Parameter("fail_skills", value="right_arm:place, move_home"),
        ],
    )
    ros.extra_nodes.append(node)
    ros.fakes.append(node.fake)
    ros.executor.add_node(node)
    adapter = ros.adapter()  # check() passes: every bound server is up
    assert finish(adapter, adapter.start_skill("left_arm", "pick", PICK_RED)).state is (
        SkillState.SUCCEEDED
    )
    args = {"object": "blue_block", "target": "right_bin"}
    status = finish(adapter, adapter.start_skill("right_arm", "place", args))
    assert status.state is SkillState.FAILED and "aborted" in status.reason
    status = finish(adapter, adapter.start_skill("right_arm", "move_home", {}))
    assert status.state is SkillState.FAILED


@pytest.mark.ros
def test_fake_hardware_help_lists_its_parameters(capsys):
    from robot_planner.nodes.fake_hardware import main

    assert main(["fake_hardware_node", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("goal_duration_s", "fail_skills", "hang_skills", "reject_skills", "bindings"):
        assert name in out


@pytest.mark.ros
@pytest.mark.e2e
def test_fake_hardware_process_over_dds(ros):
    """The real entry point in its own process; the adapter reaches it over DDS."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "robot_planner.nodes.fake_hardware",
            "--ros-args",
            "-p",
            "goal_duration_s:=0.1",
            "-p",
            "hang_skills:=move_home",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        adapter = ros.adapter(check=False)
        adapter.check(timeout_s=30.0)
        status = finish(adapter, adapter.start_skill("left_arm", "pick", PICK_RED))
        assert status.state is SkillState.SUCCEEDED, status.reason
        handle = adapter.start_skill("right_arm", "move_home", {})
        adapter.advance(0.3)
        assert adapter.poll(handle).state is SkillState.RUNNING  # hangs until cancelled
        adapter.cancel(handle)
        assert adapter.poll(handle).state is SkillState.CANCELLED
        wait_for(lambda: adapter.settled(handle), 15, "the goal to settle")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert "serving 10 fake skill actions" in output


@pytest.mark.ros
def test_action_clients_have_their_lock_before_an_executor_can_see_them(ros, monkeypatch):
    """rclpy registers an ActionClient with the node's wait set before creating its lock;
    an executor thread collecting entities in between died with AttributeError and
    stopped serving every callback (CI: goals that never started). Checked at the moment
    of registration, so the test does not depend on winning a race."""
    from test_msgs.action import Fibonacci

    from robot_planner.adapters.ros_bindings import _ActionClient

    seen: list[bool] = []
    register = ros.planner.add_waitable

    def add_waitable(waitable: Any) -> None:
        seen.append(hasattr(waitable, "_lock"))
        register(waitable)

    monkeypatch.setattr(ros.planner, "add_waitable", add_waitable)
    client = _ActionClient(ros.planner, Fibonacci, "/lock_first")
    assert seen == [True]
    assert client.get_num_entities() is not None  # the lock it keeps works
    client.destroy()
