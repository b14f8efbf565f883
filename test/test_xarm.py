"""The xArm6 robot model: a second arm through the robot-model registry.

`test/data/tabletop_xarm.yaml` is the tabletop with an xArm6 as the right arm (its base
5 cm nearer the centre, for the xArm's shorter reach). The same sim skills drive it as
the Panda; these tests check what a model has to get right for that (registration, IK
to the tool point, the gripper's width, a firm grasp, reach) and then run commands end
to end through the CLI with the monitor on, including a hand-over between the two
models.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from robot_planner.adapters.base import SkillState
from robot_planner.cli import main
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.models import SimArm, get_model, known_models
from robot_planner.sim.models.panda import PandaArm
from robot_planner.sim.models.xarm import CLOSED_WIDTH, OPEN_WIDTH, XArm6, build_xarm6
from robot_planner.sim.skills import yaw_of
from robot_planner.sim.truth import ground_truth
from robot_planner.sim.world import SimError, SimWorld
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

SCENE_FILE = Path(__file__).resolve().parent / "data" / "tabletop_xarm.yaml"
F = Fact.parse


@pytest.fixture(scope="module")
def xarm_scene() -> Scene:
    return load_scene(str(SCENE_FILE))


@pytest.fixture
def world(xarm_scene):
    with SimWorld(xarm_scene, seed=3) as w:
        yield w


def run_skill(adapter, robot, skill, args, limit_s=30.0, during=None):
    """Run one skill to its end; `during(phase)` is called after every 50 ms step."""
    handle = adapter.start_skill(robot, skill, args)
    start = adapter.now()
    while adapter.poll(handle).state is SkillState.RUNNING and adapter.now() < start + limit_s:
        adapter.advance(0.05)
        if during is not None:
            during(adapter.poll(handle).phase)
    return adapter.poll(handle)


def tilt_in_fingers(world, arm, block) -> float:
    """Degrees between the block's nearest face axis and the tool's z axis."""
    _, block_q = p.getBasePositionAndOrientation(world.blocks[block], physicsClientId=world.client)
    block_axes = np.array(p.getMatrixFromQuaternion(block_q)).reshape(3, 3)
    tool_z = np.array(p.getMatrixFromQuaternion(arm.tool_pose()[1].tolist())).reshape(3, 3)[:, 2]
    return math.degrees(math.acos(min(1.0, float(np.max(np.abs(block_axes.T @ tool_z))))))


# --- registration ----------------------------------------------------------------------


def test_xarm6_is_registered_as_an_arm_and_listed():
    model = get_model("xarm6")
    assert model.kind == "arm" and model.factory is build_xarm6
    assert "xarm6" in known_models() and "franka_panda" in known_models()


def test_an_unknown_model_lists_the_xarm(xarm_scene):
    spec = xarm_scene.robots["right_arm"].model_copy(update={"model": "ur5"})
    odd = xarm_scene.model_copy(update={"robots": {**xarm_scene.robots, "right_arm": spec}})
    with pytest.raises(SimError, match=r"known: .*xarm6"):
        SimWorld(odd)


def test_the_scene_builds_a_panda_and_an_xarm(world):
    assert isinstance(world.arms["left_arm"], PandaArm)
    right = world.arms["right_arm"]
    assert isinstance(right, XArm6) and isinstance(right, SimArm)
    names, positions, velocities = right.joint_state()
    assert names[0] == "right_arm/joint1" and names[-1] == "right_arm/drive_joint"
    assert len(names) == len(positions) == len(velocities) == 7


# --- kinematics ------------------------------------------------------------------------


def test_home_points_the_tool_down_in_front_of_the_base(world):
    arm = world.arms["right_arm"]
    position, orientation = arm.tool_pose()
    tool_z = np.array(p.getMatrixFromQuaternion(orientation.tolist())).reshape(3, 3)[:, 2]
    assert tool_z[2] == pytest.approx(-1.0, abs=1e-3)
    # 0.30 m in front of a base that faces -x, 0.40 m above the table
    assert position == pytest.approx([0.20, 0.0, world.table_top + 0.40], abs=0.01)


@pytest.mark.parametrize(
    ("place", "corner"),
    [
        ("right_side", (1, 1)),
        ("right_side", (1, -1)),
        ("center_zone", (-1, -1)),
        ("right_bin", (1, 1)),
    ],
)
def test_ik_puts_the_tool_point_on_block_centres_across_its_reach(world, place, corner):
    """Block centres at the far corners of every place the scene says it reaches: IK
    (solved as the skills solve it, from where the arm is) lands on them pointing down."""
    arm = world.arms["right_arm"]
    spec = world.scene.places[place]
    centre, size = np.array(spec.position), np.array(spec.size)
    xy = centre + (size / 2 - 0.03) * np.array(corner)
    target = np.array([xy[0], xy[1], world.table_top + 0.025])
    assert arm.can_reach(target)
    yaw = arm.base_yaw
    for _ in range(20):  # the skills re-solve every few steps as the arm moves
        joints = arm.solve_ik(target, yaw, arm.ik_damping)
        arm.reset(joints, arm.open_width)
    position, orientation = arm.tool_pose()
    assert float(np.linalg.norm(position - target)) < 0.002
    assert math.remainder(yaw_of(orientation) - yaw, math.tau) == pytest.approx(0.0, abs=0.01)


def test_the_far_side_of_the_table_is_out_of_reach(world):
    arm = world.arms["right_arm"]
    left_bin = world.scene.places["left_bin"].position
    assert not arm.can_reach([left_bin[0], left_bin[1], world.table_top + 0.025])


# --- gripper ---------------------------------------------------------------------------


def test_gripper_reports_its_opening(world):
    adapter = PyBulletRobotAdapter(world)
    arm = world.arms["right_arm"]
    assert run_skill(adapter, "right_arm", "close_gripper", {}).state is SkillState.SUCCEEDED
    assert arm.finger_width() < 0.005
    assert run_skill(adapter, "right_arm", "open_gripper", {}).state is SkillState.SUCCEEDED
    assert arm.finger_width() == pytest.approx(OPEN_WIDTH, abs=0.002)
    assert 0.08 < OPEN_WIDTH < 0.09 and CLOSED_WIDTH == 0.0
    arm.command_gripper(0.06)
    world.settle(0.5)
    assert arm.finger_width() == pytest.approx(0.06, abs=0.002)


def test_pick_holds_the_block_firmly_while_carrying(world):
    """The fingers close on the block's faces (the width the monitor reads is the
    block's), and the block neither slips nor swings in them while carried."""
    adapter = PyBulletRobotAdapter(world)
    arm = world.arms["right_arm"]
    status = run_skill(adapter, "right_arm", "pick", {"object": "blue_block"})
    assert status.state is SkillState.SUCCEEDED, status.reason
    assert F("holding(right_arm,blue_block)") in ground_truth(world)
    assert arm.finger_width() == pytest.approx(0.05, abs=0.002)
    assert world.block_pose("blue_block")[0][2] > world.table_top + 0.15
    carried = {"widths": [], "tilts": [], "offsets": []}

    def watch(phase: str) -> None:
        if phase in ("carry", "lower"):
            carried["widths"].append(arm.finger_width())
            carried["tilts"].append(tilt_in_fingers(world, arm, "blue_block"))
            offset = world.block_pose("blue_block")[0] - arm.tool_pose()[0]
            carried["offsets"].append(float(np.linalg.norm(offset)))

    status = run_skill(
        adapter,
        "right_arm",
        "place",
        {"object": "blue_block", "target": "right_bin"},
        during=watch,
    )
    assert status.state is SkillState.SUCCEEDED, status.reason
    assert F("in(blue_block,right_bin)") in ground_truth(world)
    assert len(carried["widths"]) > 20
    assert min(carried["widths"]) > 0.048 and max(carried["widths"]) < 0.052
    assert max(carried["tilts"]) < 6.0
    assert max(carried["offsets"]) < 0.01  # the block's centre stays at the tool point


def test_move_home_from_anywhere(world):
    adapter = PyBulletRobotAdapter(world)
    arm = world.arms["right_arm"]
    assert run_skill(adapter, "right_arm", "pick", {"object": "yellow_block"}).state is (
        SkillState.SUCCEEDED
    )
    assert run_skill(adapter, "right_arm", "move_home", {}).state is SkillState.SUCCEEDED
    assert np.max(np.abs(arm.joint_positions() - np.array(arm.home))) < 0.02


def test_a_drop_opens_the_xarms_own_gripper(xarm_scene):
    """The drop disturbance opens the carrying arm's gripper to its model's full width."""
    from robot_planner.sim.disturbances import DisturbanceConfig

    with SimWorld(xarm_scene, seed=5) as world:
        adapter = PyBulletRobotAdapter(
            world, self_check=False, disturbances=DisturbanceConfig(drop_prob=1.0)
        )
        arm = world.arms["right_arm"]
        assert run_skill(adapter, "right_arm", "pick", {"object": "blue_block"}).state is (
            SkillState.SUCCEEDED
        )
        run_skill(adapter, "right_arm", "place", {"object": "blue_block", "target": "right_bin"})
        assert [e["object"] for e in adapter.events if e["kind"] == "drop"] == ["blue_block"]
        assert arm.finger_width() == pytest.approx(OPEN_WIDTH, abs=0.002)
        assert F("in(blue_block,right_bin)") not in ground_truth(world)


# --- end to end, through the CLI, monitor on -------------------------------------------


@pytest.mark.parametrize(
    ("command", "goal", "robots"),
    [
        ("put the blue block in the right bin", "in(blue_block,right_bin)", {"right_arm"}),
        (
            "put the yellow block in the center zone",
            "at(yellow_block,center_zone)",
            {"right_arm"},
        ),
        # hand-overs through the center zone: xArm to Panda, and Panda to xArm
        (
            "put the blue block in the left bin",
            "in(blue_block,left_bin)",
            {"right_arm", "left_arm"},
        ),
        (
            "put the red block in the right bin",
            "in(red_block,right_bin)",
            {"right_arm", "left_arm"},
        ),
    ],
)
def test_commands_run_end_to_end_on_the_xarm(command, goal, robots, capsys):
    code = main(["run", "--scene", str(SCENE_FILE), "--command", command, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["reason"]
    assert report["success"] is True and report["goal"] == [goal]
    assert report["monitor"]["mode"] == "on" and report["monitor"]["checks"] > 0
    assert report["misalignments"] == [] and report["replans"] == 0
    assert report["ground_truth"]["goal_holds"] is True and report["ground_truth"]["agrees"]
    assert {task["robot"] for task in report["plan"]["tasks"]} == robots
    assert goal in report["final_facts"]
