"""The logistics bindings' ``navigate``: a Nav2 NavigateToPose goal to a place's bay.

config/hardware_bindings_logistics.yaml binds ``navigate(place)`` to
``nav2_msgs/action/NavigateToPose`` with the goal pose from the scene's bays. nav2_msgs is
not on PyPI, so a stand-in with Nav2 Kilted's exact fields (test/interfaces/nav2_msgs, same
type hash) is built once per session into build/ (`nav2_standin.build`); only a missing
cmake skips these tests. Pure tests check the pose templates and the goal they fill; ROS
tests run the ros_bindings adapter against stand-in NavigateToPose servers in one
process (one executor spun by a thread, `test_ros_bindings.RosHarness`) and in another
process over DDS. Every wait is on an event or a state, with a deadline.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import plan, task
from nav2_standin import KILTED_TYPE_HASH, NavigateToPoseServers, Outcome, StandIn, build
from ros_system import domain_id
from test_ros_bindings import RosHarness, finish

from robot_planner.adapters.base import AdapterError, SkillState
from robot_planner.adapters.bindings import (
    BindingError,
    Bindings,
    Kind,
    PlanarPose,
    build_goal,
    compile_bindings,
    evaluate,
    load_bindings,
    parse_template,
    resolve_action,
    world_position,
)
from robot_planner.testing.waiting import wait_for
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

pytestmark = pytest.mark.timeout(900)  # the first build of the stand-in takes a minute

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "hardware_bindings_logistics.yaml"
WAIT_S = 20.0


def quaternion(yaw: float) -> list[float]:
    return [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]


def bay(scene: Scene, place: str, index: int = 0) -> PlanarPose:
    """A bay as the scene file gives it (the scene is data that may be re-measured)."""
    return PlanarPose(*scene.places[place].bays[index])


@pytest.fixture(scope="session")
def nav2() -> Iterator[StandIn | None]:
    """nav2_msgs importable in this process: the real one when a sourced ROS 2 has it
    (None), else the stand-in, built once per session."""
    if os.environ.get("ROS_DISTRO"):
        try:
            import nav2_msgs.action  # noqa: F401

            yield None
            return
        except ImportError:
            pass
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed, so the stand-in nav2_msgs cannot be built")
    standin = build()
    print(f"\nstand-in nav2_msgs ready in {standin.build_s:.1f} s ({standin.prefix})")
    standin.activate()
    yield standin
    if str(standin.site) in sys.path:
        sys.path.remove(str(standin.site))


@pytest.fixture(scope="module")
def logistics() -> Scene:
    scene = load_scene("logistics")
    # What these tests rely on: one bay per station, one per base at the dock.
    assert len(scene.places["pick_station"].bays) == 1
    assert len(scene.places["dock"].bays) == 2
    assert [r for r, spec in scene.robots.items() if spec.kind == "base"] == ["base_1", "base_2"]
    return scene


def pose_of(goal: Any) -> tuple[list[float], list[float]]:
    """A NavigateToPose goal's position and orientation, as lists."""
    pose = goal.pose.pose
    position, orientation = pose.position, pose.orientation
    return (
        [position.x, position.y, position.z],
        [orientation.x, orientation.y, orientation.z, orientation.w],
    )


def pose_of_bay(planar: PlanarPose) -> tuple[Any, Any]:
    """What a bay must become: on the floor, turned by its yaw about z."""
    return ([planar.x, planar.y, 0.0], pytest.approx(quaternion(planar.yaw)))


def example_routes(scene: Scene) -> dict[str, Any]:
    return compile_bindings(load_bindings(EXAMPLE), scene.domain.catalogue, scene)


def navigate_only() -> Bindings:
    """The example's navigate binding alone: the arms' panda_skills and control_msgs
    types are not installed here, and only navigate is under test."""
    example = load_bindings(EXAMPLE)
    return Bindings(skills={"navigate": example.skills["navigate"]}).with_source(str(EXAMPLE))


# --- the example file and the pose templates (pure: no rclpy) --------------------------


def test_example_binds_every_logistics_skill(logistics):
    routes = example_routes(logistics)
    assert set(routes) == set(logistics.domain.catalogue.skills)
    assert routes["wait"].is_local
    navigate = routes["navigate"].binding
    assert navigate.action_type == "nav2_msgs/action/NavigateToPose"
    assert navigate.action_name_for("base_1") == "/base_1/navigate_to_pose"
    assert routes["navigate"].kinds == {
        "pose.header.frame_id": Kind("str"),
        "pose.pose": Kind("pose"),
    }
    assert routes["navigate"].timeout_s == logistics.domain.catalogue.timeout("navigate")
    assert navigate.cancel_on_halt is True


def test_pose_lookups_give_a_bay_and_its_parts(logistics):
    facts = logistics.initial_facts()

    def value(raw: dict, robot: str = "base_1", place: str = "dock") -> Any:
        return evaluate(parse_template(raw), robot, {"place": place}, logistics, facts)

    pick, dock_1, dock_2 = (
        bay(logistics, "pick_station"),
        *(bay(logistics, "dock", i) for i in (0, 1)),
    )
    assert value({"pose": "place"}, place="pick_station") == pick
    assert value({"pose": "place"}) == dock_1  # the first bay
    # The dock has a bay per base: bay: robot gives base_2 the second one.
    assert value({"pose": "place", "bay": "robot"}, "base_1") == dock_1
    assert value({"pose": "place", "bay": "robot"}, "base_2") == dock_2
    assert value({"pose": "place", "bay": 1}, "base_1") == dock_2
    assert value({"pose": "place", "bay": "robot"}, "base_2", "pick_station") == pick
    assert value({"pose": "place", "bay": 1, "part": "x"}) == dock_2.x
    assert value({"pose": "place", "bay": 1, "part": "y"}) == dock_2.y
    assert value({"pose": "place", "bay": 1, "part": "yaw"}) == dock_2.yaw
    assert value({"pose": "place", "bay": 1, "part": "position"}) == [dock_2.x, dock_2.y, 0.0]
    assert value({"pose": "place", "bay": 1, "part": "orientation"}) == pytest.approx(
        quaternion(dock_2.yaw)
    )
    assert PlanarPose(0.0, 0.0, math.pi / 2).quaternion() == pytest.approx(
        (0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5))
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"pose": "place", "axis": "x"}, "axis (x, y or z) only goes with position"),
        ({"position": "place", "part": "yaw"}, "part (x, y, yaw, position, orientation)"),
        ({"pose": "place", "part": "z"}, "part (x, y, yaw, position, orientation)"),
        ({"pose": "place", "bay": -1}, "bay (an index from 0, or robot) only goes with pose"),
        ({"pose": "place", "bay": True}, "bay (an index from 0, or robot)"),
        ({"size": "place", "bay": 1}, "bay (an index from 0, or robot) only goes with pose"),
        ({"pose": "place", "heading": 1}, "a mapping must be a lookup"),
    ],
)
def test_bad_pose_templates_are_load_errors(raw, expected):
    with pytest.raises(ValueError) as info:
        parse_template(raw)
    assert expected in str(info.value)


def binding(goal: dict[str, Any], **extra: Any) -> Bindings:
    entry = {
        "action_type": "nav2_msgs/action/NavigateToPose",
        "action_name": "/{robot}/navigate_to_pose",
        "goal": goal,
        **extra,
    }
    return Bindings.model_validate({"skills": {"navigate": entry}}).with_source("test")


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        (
            {"pose.pose": {"pose": "place", "bay": 1}},
            "{pose: place, bay: 1} needs places with 2 bay(s) (x, y, yaw where a mobile "
            "robot parks); 'place' can be pick_station, which has 1",
        ),
        (
            {"pose.pose.position.x": [{"pose": "place"}]},
            "a lookup giving a list or a pose cannot be an item of a list",
        ),
    ],
)
def test_pose_lookups_are_checked_against_the_scene(goal, expected, logistics):
    with pytest.raises(BindingError) as info:
        compile_bindings(binding(goal), logistics.domain.catalogue, logistics)
    assert expected in str(info.value)


def test_a_pose_lookup_needs_places_with_bays(catalogue, scene):
    """The tabletop's places have no bays: a pose of one is refused at load."""
    entry = {
        "action_type": "nav2_msgs/action/NavigateToPose",
        "action_name": "/{robot}/navigate_to_pose",
        "goal": {"pose.pose": {"pose": "target"}},
    }
    bindings = Bindings.model_validate({"skills": {"place": entry}}).with_source("test")
    with pytest.raises(BindingError, match=r"'target' can be red_block, which has 0"):
        compile_bindings(bindings, catalogue, scene)


def test_positions_stand_on_a_place_s_surface(logistics):
    """Logistics places have their own surface height (tables, bin), not a shared table."""
    facts = logistics.initial_facts()
    bin_, station = logistics.places["packing_bin"], logistics.places["pick_station"]
    assert bin_.surface_z is not None and station.surface_z is not None
    assert world_position("packing_bin", logistics, facts) == pytest.approx(
        (*bin_.center, bin_.surface_z)
    )
    assert logistics.location_of("red_parcel", facts) == "pick_station"
    half = logistics.objects["red_parcel"].size / 2
    assert world_position("red_parcel", logistics, facts) == pytest.approx(
        (*station.center, station.surface_z + half)
    )


# --- against the stand-in's messages (imports nav2_msgs, no rclpy node) ----------------


def test_the_stand_in_is_nav2_kilted_navigate_to_pose(nav2):
    from nav2_msgs.action import NavigateToPose

    assert NavigateToPose.Goal.get_fields_and_field_types() == {
        "pose": "geometry_msgs/PoseStamped",
        "behavior_tree": "string",
    }
    assert NavigateToPose.Result.get_fields_and_field_types() == {
        "error_code": "uint16",
        "error_msg": "string",
    }
    assert NavigateToPose.Feedback.get_fields_and_field_types() == {
        "current_pose": "geometry_msgs/PoseStamped",
        "navigation_time": "builtin_interfaces/Duration",
        "estimated_time_remaining": "builtin_interfaces/Duration",
        "number_of_recoveries": "int16",
        "distance_remaining": "float",
    }
    result = NavigateToPose.Result
    codes = (result.NONE, result.UNKNOWN, result.FAILED_TO_LOAD_BEHAVIOR_TREE)
    assert (*codes, result.TF_ERROR, result.TIMEOUT) == (0, 9000, 9001, 9002, 9003)
    if nav2 is not None:
        # The type hash DDS peers compare: the same as the real Kilted nav2_msgs'.
        hashes = json.loads(nav2.type_hash_file.read_text())["type_hashes"]
        assert hashes[0] == {
            "type_name": "nav2_msgs/action/NavigateToPose",
            "hash_string": KILTED_TYPE_HASH,
        }


def test_the_navigate_goal_is_the_bay_pose_in_map(nav2, logistics):
    resolved = resolve_action(example_routes(logistics)["navigate"], str(EXAMPLE))
    facts = logistics.initial_facts()
    goal = build_goal(resolved, "base_1", {"place": "pick_station"}, logistics, facts)
    assert goal.pose.header.frame_id == "map"
    assert goal.behavior_tree == ""
    assert pose_of(goal) == pose_of_bay(bay(logistics, "pick_station"))
    goal = build_goal(resolved, "base_2", {"place": "dock"}, logistics, facts)
    assert pose_of(goal) == pose_of_bay(bay(logistics, "dock", 1))


def test_pose_parts_fill_point_and_quaternion_fields(nav2, logistics):
    """Field by field gives the same goal as the whole pose."""
    parts = binding(
        {
            "pose.pose.position": {"pose": "place", "bay": "robot", "part": "position"},
            "pose.pose.orientation": {"pose": "place", "bay": "robot", "part": "orientation"},
            "pose.header.frame_id": "map",
        }
    )
    whole = binding(
        {"pose.pose": {"pose": "place", "bay": "robot"}, "pose.header.frame_id": "map"}
    )
    goals = []
    for bindings in (parts, whole):
        route = compile_bindings(bindings, logistics.domain.catalogue, logistics)["navigate"]
        resolved = resolve_action(route, "test")
        goals.append(
            build_goal(resolved, "base_2", {"place": "dock"}, logistics, logistics.initial_facts())
        )
    assert goals[0] == goals[1]
    assert pose_of(goals[0]) == pose_of_bay(bay(logistics, "dock", 1))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"goal": {"pose.header.frame_id": {"pose": "place"}}},
            "goal field 'pose.header.frame_id' is string but {pose: place} gives a pose "
            "(position and orientation)",
        ),
        (
            {"goal": {"pose": {"pose": "place"}}},
            "is geometry_msgs/PoseStamped but {pose: place} gives a pose",
        ),
        (
            {"goal": {"pose.pose.orientation": {"pose": "place", "part": "position"}}},
            "is geometry_msgs/Quaternion but {pose: place, part: position} gives a list of 3",
        ),
        (
            {"goal": {}, "success": {"field": "error_code", "equals": "ok"}},
            "the field is uint16, it can never equal 'ok'",
        ),
        ({"goal": {}, "result_message": "error_code"}, "result_message 'error_code' is uint16"),
        ({"goal": {}, "result_message": "message"}, "Result has no field 'message'"),
    ],
)
def test_nav2_message_level_errors(entry, expected, nav2, logistics):
    goal = entry.pop("goal")
    route = compile_bindings(binding(goal, **entry), logistics.domain.catalogue, logistics)
    with pytest.raises(BindingError) as info:
        resolve_action(route["navigate"], "test")
    assert expected in str(info.value)


def test_result_message_is_not_for_local_skills(tmp_path):
    path = tmp_path / "bindings.yaml"
    path.write_text(
        "skills:\n  wait: {local: sleep, duration_s: '{seconds}', result_message: error_msg}\n"
    )
    with pytest.raises(BindingError, match="a local skill takes no result_message"):
        load_bindings(path)


# --- ROS: the adapter against stand-in NavigateToPose servers ---------------------------


@pytest.fixture
def ros(monkeypatch, nav2, logistics) -> Iterator[RosHarness]:
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain_id()))
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    harness = None
    try:
        harness = RosHarness(context, logistics.domain.catalogue, logistics)
        yield harness
    finally:
        if harness is not None:
            harness.close()
        rclpy.shutdown(context=context)


def serve(ros: RosHarness, outcome: Outcome | None = None) -> NavigateToPoseServers:
    """Nav2 on every mobile base, the fetcher too (not on the arms: the adapter must not
    wait for those)."""
    servers = NavigateToPoseServers(ros.hardware, ["base_1", "base_2", "fetcher_1"], outcome)
    ros.fakes.append(servers)  # released before the harness shuts the executor down
    return servers


AT_PICK = Fact.parse("robot_at(base_1,pick_station)")
AT_DOCK = Fact.parse("robot_at(base_1,dock)")


@pytest.mark.ros
def test_navigate_sends_the_bay_pose_and_succeeds(ros):
    servers = serve(ros)
    adapter = ros.adapter(navigate_only())  # check(): both bases' servers are up
    assert AT_DOCK in adapter.read_state()
    status = finish(adapter, adapter.start_skill("base_1", "navigate", {"place": "pick_station"}))
    assert status.state is SkillState.SUCCEEDED, status.reason
    (name, goal), *_ = servers.goals()
    assert name == "/base_1/navigate_to_pose"
    assert goal.pose.header.frame_id == "map"
    assert pose_of(goal) == pose_of_bay(bay(ros.scene, "pick_station"))
    assert servers.received.feedback == 1 and servers.received.results == [(name, "succeeded")]
    facts = adapter.read_state()
    assert AT_PICK in facts and AT_DOCK not in facts
    assert Fact.parse("bay_free(pick_station)") not in facts  # derived from the belief
    # The second base to its own bay of the dock, facing +y: a quaternion from the yaw.
    status = finish(adapter, adapter.start_skill("base_2", "navigate", {"place": "dock"}))
    assert status.state is SkillState.SUCCEEDED, status.reason
    name, goal = servers.goals()[1]
    assert name == "/base_2/navigate_to_pose"
    assert pose_of(goal) == pose_of_bay(bay(ros.scene, "dock", 1))


@pytest.mark.ros
def test_only_robots_that_offer_a_skill_need_its_server(ros):
    """The stand-in serves the bases only; check() passed without /picker/navigate_to_pose,
    and an arm is refused before any goal is sent."""
    servers = serve(ros)
    adapter = ros.adapter(navigate_only())
    with pytest.raises(AdapterError, match="picker is an arm, which does not offer navigate"):
        adapter.start_skill("picker", "navigate", {"place": "pick_station"})
    assert servers.goals() == []


@pytest.mark.ros
@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (
            Outcome("abort", 9002, "Transform from map to base_link is not available"),
            "/base_1/navigate_to_pose aborted the goal: "
            "Transform from map to base_link is not available",
        ),
        (
            Outcome("succeed", 9003, "Navigation timed out"),
            "/base_1/navigate_to_pose: result check failed: error_code is 9003, expected 0 "
            "(Navigation timed out)",
        ),
    ],
    ids=["aborted", "succeeded-with-error-code"],
)
def test_a_nav2_failure_fails_the_task_with_its_error_msg(ros, outcome, expected):
    serve(ros, outcome)
    adapter = ros.adapter(navigate_only())
    status = finish(adapter, adapter.start_skill("base_1", "navigate", {"place": "pick_station"}))
    assert status.state is SkillState.FAILED
    assert status.reason == expected
    assert AT_DOCK in adapter.read_state() and AT_PICK not in adapter.read_state()


@pytest.mark.ros
def test_halting_the_plan_cancels_the_navigation(ros):
    from robot_planner.execution.executor import Outcome as RunOutcome
    from robot_planner.execution.executor import PlanExecutor
    from robot_planner.plan.validation import require_valid

    servers = serve(ros, Outcome(hold=True))
    adapter = ros.adapter(navigate_only())
    data = plan(
        task("t1", "navigate", "base_1", place="pick_station"),
        task("t2", "navigate", "base_1", ("t1",), place="dock"),
    )
    parsed = require_valid(data, ros.catalogue, ros.scene)
    executor = PlanExecutor(parsed, ros.catalogue, adapter, period_s=0.02)
    ticks = 0
    while not servers.goal_received.is_set() and ticks < 1000:
        assert executor.tick() is RunOutcome.RUNNING
        servers.goal_received.wait(0.02)
        ticks += 1
    assert servers.goal_received.is_set(), "the navigation goal never reached the server"
    executor.cancel("operator pressed stop")
    assert executor.outcome is RunOutcome.CANCELLED
    assert servers.cancel_requested.wait(WAIT_S), "the cancel never reached the server"
    assert servers.finished.wait(WAIT_S)
    assert servers.received.cancels == ["/base_1/navigate_to_pose"]
    assert servers.received.results == [("/base_1/navigate_to_pose", "canceled")]
    assert AT_DOCK in adapter.read_state()  # the base did not arrive


@pytest.mark.ros
@pytest.mark.e2e
def test_navigate_to_a_nav2_server_in_another_process(ros, nav2):
    """Over DDS between processes; the child finds the stand-in through its environment."""
    env = (nav2.env() if nav2 is not None else dict(os.environ)) | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "nav2_standin.py"),
            "base_1",
            "base_2",
            "fetcher_1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        for line in process.stdout or ():
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        adapter = ros.adapter(navigate_only(), check=False)
        adapter.check(timeout_s=60.0)
        status = finish(adapter, adapter.start_skill("base_1", "navigate", {"place": "dock"}))
        assert status.state is SkillState.SUCCEEDED, status.reason
        wait_for(
            lambda: any(line.startswith("goal ") for line in lines),
            WAIT_S,
            "the stand-in server to print a goal line",
        )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=10)
    goal = json.loads(next(line for line in lines if line.startswith("goal "))[5:])
    assert goal["action"] == "/base_1/navigate_to_pose"
    assert goal["frame_id"] == "map"
    expected = pose_of_bay(bay(ros.scene, "dock", 0))  # base_1's bay of the dock
    assert (goal["position"], goal["orientation"]) == expected
    assert process.returncode == 0, "\n".join(lines)
