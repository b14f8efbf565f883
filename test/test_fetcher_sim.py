"""The fetcher in the simulated logistics cell: a Husky with a tray on its rear half and a
Panda on its front half (the model ``husky_panda``), which drives beside a parcel lying
on the aisle's floor and puts it on its own tray (the skill ``fetch``). Pure simulation,
no ROS: headless worlds, skills stepped through the adapter in bounded simulated time,
no sleeps."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from robot_planner.adapters.base import AdapterError, SkillState
from robot_planner.sim import driving
from robot_planner.sim.adapter import MobilePlanner, PyBulletRobotAdapter
from robot_planner.sim.models import SimArm, SimBase
from robot_planner.sim.models.husky import HuskyBase
from robot_planner.sim.models.husky_panda import MOUNT, MOUNT_YAW, TRAY_OFFSET, HuskyPanda
from robot_planner.sim.render_process import apply_snapshot, snapshot_layout, take_snapshot
from robot_planner.sim.skills import SIM_SKILLS, sim_skill
from robot_planner.sim.skills.registry import catalogue_name
from robot_planner.sim.truth import ground_truth
from robot_planner.sim.world import CompositeRobot, SimWorld
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

F = Fact.parse
#: Where a spill leaves a parcel: 0.5 m beside the lane's centre line (y = 0.45), on the
#: dock's side (`robot_planner.sim.disturbances.SPILL_REACH`), resting on the floor.
SPILL_Y = -0.05
ON_FLOOR_Z = 0.031


@pytest.fixture(scope="module")
def logistics() -> Scene:
    return load_scene("logistics")


@pytest.fixture
def world(logistics):
    with SimWorld(logistics, seed=1) as w:
        yield w


def run(adapter: PyBulletRobotAdapter, handle, limit_s: float, each_step=None) -> None:
    """Step until the skill has ended (or fail after `limit_s` of simulated time)."""
    end = adapter.world.time + limit_s
    while adapter.world.time < end:
        adapter.step()
        if each_step is not None:
            each_step()
        if adapter.poll(handle).state is not SkillState.RUNNING:
            return
    pytest.fail(f"still running after {limit_s} s: {adapter.poll(handle)}")


def drop(world: SimWorld, block: str, x: float, y: float = SPILL_Y) -> None:
    """Put `block` on the floor at (x, y), as a spill leaves it."""
    world.move_block(block, [x, y, ON_FLOOR_Z], yaw=0.3)
    world.settle(0.3)


def fetch(adapter: PyBulletRobotAdapter, block: str = "red_parcel"):
    return adapter.start_skill("fetcher_1", "fetch", {"object": block, "from": "aisle"})


def arm_contacts(world: SimWorld) -> list[tuple[str, int]]:
    """The fetcher's arm links touching its own chassis or tray now."""
    arm, base = world.arms["fetcher_1"], world.bases["fetcher_1"]
    return [
        (part, c[3])
        for part, body in (("chassis", base.body), ("tray", base.tray))
        for c in p.getContactPoints(arm.body, body, physicsClientId=world.client)
    ]


def chassis_frame(world: SimWorld, point: np.ndarray) -> np.ndarray:
    """`point` (x, y) in the fetcher's chassis frame (x along its heading)."""
    xy, yaw = world.bases["fetcher_1"].pose()
    d = np.asarray(point)[:2] - xy
    return np.array(
        [math.cos(yaw) * d[0] + math.sin(yaw) * d[1], -math.sin(yaw) * d[0] + math.cos(yaw) * d[1]]
    )


# --- the model ------------------------------------------------------------------------


def test_the_fetcher_is_a_base_and_an_arm_under_one_name(world, logistics):
    assert isinstance(world.composites["fetcher_1"], CompositeRobot)
    assert isinstance(world.composites["fetcher_1"], HuskyPanda)
    base, arm = world.bases["fetcher_1"], world.arms["fetcher_1"]
    assert isinstance(base, SimBase) and isinstance(arm, SimArm)
    assert world.robot_kinds["fetcher_1"] == "fetcher"
    assert world.robots["fetcher_1"] is world.composites["fetcher_1"]
    assert world.robots["base_1"] is world.bases["base_1"]
    assert world.robots["picker"] is world.arms["picker"]
    assert "fetcher_1" not in world.pedestals  # it stands on its base
    named = world.named_bodies()
    assert named["robot:fetcher_1"] == base.body and named["arm:fetcher_1"] == arm.body
    assert (
        named["tray:fetcher_1"] == base.tray and named["robot:picker"] == world.arms["picker"].body
    )
    # It starts parked in the service bay, its arm stowed, its gripper empty.
    np.testing.assert_allclose(
        base.pose()[0], logistics.robots["fetcher_1"].base_position[:2], atol=0.01
    )
    np.testing.assert_allclose(arm.joint_positions(), arm.home, atol=0.01)
    truth = ground_truth(world)
    assert {F("robot_at(fetcher_1,service_bay)"), F("gripper_empty(fetcher_1)")} <= truth
    names, positions, _ = arm.joint_state()
    assert names[0] == "fetcher_1/panda_joint1" and len(positions) == 9


def test_the_tray_rides_on_the_rear_half_and_the_arm_on_the_front_half(world):
    base, arm = world.bases["fetcher_1"], world.arms["fetcher_1"]
    tray = chassis_frame(world, base.tray_pose()[0])
    np.testing.assert_allclose(tray, [TRAY_OFFSET, 0.0], atol=0.005)
    mount = chassis_frame(world, arm.base_position)
    np.testing.assert_allclose(mount, MOUNT[:2], atol=0.002)
    assert math.remainder(arm.base_yaw - base.pose()[1] - MOUNT_YAW, math.tau) == pytest.approx(
        0.0, abs=0.01
    )
    # Stowed: nothing touches the chassis or the tray, every link is over the front half
    # (ahead of the tray's front rim at x = -0.04) and inside the Husky's footprint.
    world.settle(1.0)
    assert arm_contacts(world) == []
    for link in range(12):
        lo, hi = p.getAABB(arm.body, link, physicsClientId=world.client)
        for corner in ((lo[0], lo[1]), (lo[0], hi[1]), (hi[0], lo[1]), (hi[0], hi[1])):
            x, y = chassis_frame(world, np.array(corner))
            assert x > 0.1 and abs(x) <= base.footprint[0] and abs(y) <= base.footprint[1] + 0.01
    clearance = min(
        pt[8]
        for link in range(1, 12)
        for body in (base.body, base.tray)
        for pt in p.getClosestPoints(arm.body, body, 0.2, link, physicsClientId=world.client)
    )
    assert clearance > 0.04


def test_the_bases_trays_are_where_they_were(world):
    """The two bases keep the default tray: centred on the chassis, as before."""
    for name in ("base_1", "base_2"):
        base = world.bases[name]
        assert isinstance(base, HuskyBase) and base.tray_offset == 0.0
        center, _ = base.tray_pose()
        np.testing.assert_allclose(center[:2], base.pose()[0], atol=0.002)
        assert center[2] == pytest.approx(0.4045 + 0.001 + 0.01, abs=0.003)


def test_the_arm_follows_its_base_and_each_part_is_stepped_once(world, monkeypatch):
    base, arm = world.bases["fetcher_1"], world.arms["fetcher_1"]
    calls = {"base": 0, "arm": 0}
    for part, key in ((base, "base"), (arm, "arm")):
        original = part.apply_targets

        def counted(original=original, key=key) -> None:
            calls[key] += 1
            original()

        monkeypatch.setattr(part, "apply_targets", counted)
    adapter = PyBulletRobotAdapter(world)
    handle = adapter.start_skill("fetcher_1", "navigate", {"place": "pick_station"})
    steps = 0

    def count() -> None:
        nonlocal steps
        steps += 1

    run(adapter, handle, limit_s=40.0, each_step=count)
    assert adapter.poll(handle).state is SkillState.SUCCEEDED, adapter.poll(handle).reason
    assert calls == {"base": steps, "arm": steps}
    assert F("robot_at(fetcher_1,pick_station)") in ground_truth(world)
    np.testing.assert_allclose(chassis_frame(world, arm.base_position), MOUNT[:2], atol=0.002)
    # A second world of the same scene (the render process's) shows the arm where it is.
    layout = snapshot_layout(world)
    with SimWorld(world.scene, seed=1) as copy:
        apply_snapshot(copy, layout, copy.named_bodies(), take_snapshot(world, layout).values)
        np.testing.assert_allclose(
            copy.arms["fetcher_1"].tool_pose()[0], arm.tool_pose()[0], atol=1e-4
        )


# --- fetch ----------------------------------------------------------------------------


@pytest.mark.parametrize("x", [1.0, 2.0, 3.0])
def test_the_fetcher_puts_a_parcel_from_the_aisle_floor_on_its_tray(world, x):
    drop(world, "red_parcel", x)
    assert F("at(red_parcel,aisle)") in ground_truth(world)
    adapter = PyBulletRobotAdapter(world)
    touched: list = []
    handle = fetch(adapter)
    run(adapter, handle, limit_s=120.0, each_step=lambda: touched.extend(arm_contacts(world)))
    status = adapter.poll(handle)
    assert status.state is SkillState.SUCCEEDED, status.reason
    truth = ground_truth(world)
    assert {F("on_tray(red_parcel,fetcher_1)"), F("gripper_empty(fetcher_1)")} <= truth
    assert F("robot_at(fetcher_1,aisle)") in truth  # it stands in the lane beside the spot
    assert not [f for f in truth if f.predicate == "at" and f.args[0] == "red_parcel"]
    arm = world.arms["fetcher_1"]
    np.testing.assert_allclose(arm.joint_positions(), arm.home, atol=0.02)  # stowed again
    assert touched == []  # the arm never touched its own chassis, wheels or tray
    assert "fetcher_1" not in adapter.traffic.paths  # the path is free again
    assert not [bay for bay, owner in adapter.traffic.bays.items() if owner == "fetcher_1"]


def test_a_fetched_parcel_is_unloaded_at_the_packing_station(world):
    drop(world, "red_parcel", 2.0)
    adapter = PyBulletRobotAdapter(world)
    handle = fetch(adapter)
    run(adapter, handle, limit_s=120.0)
    assert adapter.poll(handle).state is SkillState.SUCCEEDED, adapter.poll(handle).reason
    for robot, skill, args in (
        ("fetcher_1", "navigate", {"place": "packing_station"}),
        ("packer", "pick", {"object": "red_parcel"}),
        ("packer", "place", {"object": "red_parcel", "target": "packing_station"}),
    ):
        handle = adapter.start_skill(robot, skill, args)
        run(adapter, handle, limit_s=60.0)
        assert adapter.poll(handle).state is SkillState.SUCCEEDED, adapter.poll(handle).reason
    truth = ground_truth(world)
    assert {F("at(red_parcel,packing_station)"), F("robot_at(fetcher_1,packing_station)")} <= truth


def test_a_station_arm_loads_the_fetcher_like_any_base(world):
    adapter = PyBulletRobotAdapter(world)
    for robot, skill, args in (
        ("fetcher_1", "navigate", {"place": "pick_station"}),
        ("picker", "pick", {"object": "green_parcel"}),
        ("picker", "place", {"object": "green_parcel", "target": "fetcher_1"}),
    ):
        handle = adapter.start_skill(robot, skill, args)
        run(adapter, handle, limit_s=60.0)
        assert adapter.poll(handle).state is SkillState.SUCCEEDED, adapter.poll(handle).reason
    assert F("on_tray(green_parcel,fetcher_1)") in ground_truth(world)
    with pytest.raises(AdapterError, match="fetcher_1 is a fetcher; pick runs on: arm"):
        adapter.start_skill("fetcher_1", "pick", {"object": "green_parcel"})


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        (
            (2.0, 0.75, ON_FLOOR_Z),
            "fetch: red_parcel lies in the lane, 0.30 m from its centre line: "
            "fetcher_1 cannot stand beside it",
        ),
        (
            (2.0, -0.5, ON_FLOOR_Z),
            "fetch: red_parcel is not in aisle: it lies 0.30 m outside it",
        ),
        (None, "fetch: red_parcel is not on the floor: its bottom is 0.45 m up"),
    ],
)
def test_a_parcel_the_fetcher_cannot_fetch_fails_in_one_line(world, where, reason):
    if where is not None:
        world.move_block("red_parcel", list(where))
        world.settle(0.3)
    adapter = PyBulletRobotAdapter(world)
    start, _ = world.bases["fetcher_1"].pose()
    handle = fetch(adapter)
    run(adapter, handle, limit_s=5.0)
    status = adapter.poll(handle)
    assert status.state is SkillState.FAILED
    assert status.reason == reason
    np.testing.assert_allclose(world.bases["fetcher_1"].pose()[0], start, atol=0.01)  # unmoved
    assert adapter.traffic.paths == {}


def test_a_parcel_beyond_the_arm_from_the_lane_fails_before_driving(world, monkeypatch):
    """Anywhere in the aisle is in reach from the lane (its edge is 0.65 m from the
    centre line, 0.56 m from the arm); stopping farther off, it is not."""
    from robot_planner.sim.skills import fetch as fetch_skill

    monkeypatch.setattr(fetch_skill, "AHEAD", 0.6)
    drop(world, "red_parcel", 2.0)
    adapter = PyBulletRobotAdapter(world)
    handle = fetch(adapter)
    run(adapter, handle, limit_s=5.0)
    assert adapter.poll(handle).reason == (
        "fetch: red_parcel lies 0.50 m from the lane's centre line: "
        "0.68 m from fetcher_1's arm beside it, out of its reach"
    )
    np.testing.assert_allclose(world.bases["fetcher_1"].pose()[0], [2.0, 2.2], atol=0.01)


def test_only_floor_areas_are_fetched_from(world):
    drop(world, "red_parcel", 2.0)
    adapter = PyBulletRobotAdapter(world)
    handle = adapter.start_skill(
        "fetcher_1", "fetch", {"object": "red_parcel", "from": "pick_station"}
    )
    run(adapter, handle, limit_s=5.0)
    assert adapter.poll(handle).reason == (
        "fetch: pick_station is not a floor area (no bays, nothing built on it)"
    )


def test_a_parcel_moved_away_during_the_drive_is_out_of_reach_after_the_approach(world):
    drop(world, "red_parcel", 2.0)
    adapter = PyBulletRobotAdapter(world)
    handle = fetch(adapter)
    end = world.time + 30.0
    while world.time < end and adapter.poll(handle).phase != "drive":
        adapter.step()
    world.move_block("red_parcel", [3.0, SPILL_Y, ON_FLOOR_Z])  # kicked along the aisle
    run(adapter, handle, limit_s=60.0)
    status = adapter.poll(handle)
    assert status.state is SkillState.FAILED
    assert status.reason.startswith("fetch: red_parcel is ")
    assert status.reason.endswith(" m from fetcher_1's arm after the approach")
    assert float(status.reason.split()[3]) > 0.7  # about 1 m along the lane, 0.3 m aside
    assert "\n" not in status.reason


def test_the_fetcher_waits_for_a_clear_path_then_gives_up(world, monkeypatch):
    """A base halted half-way along the lane stands on the fetcher's way to the parcel."""
    drop(world, "red_parcel", 2.0)
    monkeypatch.setattr(driving, "BLOCKED_S", 2.0)
    adapter = PyBulletRobotAdapter(world)
    handle = adapter.start_skill("base_1", "navigate", {"place": "packing_station"})
    base = world.bases["base_1"]
    end = world.time + 40.0
    while not (base.pose()[0][1] > 0.4 and base.pose()[0][0] > 1.6) and world.time < end:
        adapter.step()
    adapter.cancel(handle)  # halted in the lane, past the parcel
    handle = fetch(adapter)
    run(adapter, handle, limit_s=10.0)
    status = adapter.poll(handle)
    assert status.state is SkillState.FAILED
    assert status.reason == (
        "fetch: fetcher_1 waited 2 s: base_1 is in the way to the approach to red_parcel"
    )
    np.testing.assert_allclose(world.bases["fetcher_1"].pose()[0], [2.0, 2.2], atol=0.01)


def test_cancelling_a_fetch_stops_the_arm_and_the_base(world):
    drop(world, "red_parcel", 2.0)
    adapter = PyBulletRobotAdapter(world)
    assert isinstance(adapter.planners["fetcher_1"], MobilePlanner)
    handle = fetch(adapter)
    end = world.time + 60.0
    while world.time < end and adapter.poll(handle).phase != "descend":
        adapter.step()
    assert adapter.poll(handle).phase == "descend"
    for _ in range(60):  # well on its way down
        adapter.step()
    adapter.cancel(handle)
    assert adapter.poll(handle).state is SkillState.CANCELLED
    assert adapter.traffic.paths == {}
    arm, base = world.arms["fetcher_1"], world.bases["fetcher_1"]
    held = arm.tool_pose()[0]
    for _ in range(240):
        adapter.step()
    assert np.linalg.norm(arm.tool_pose()[0] - held) < 0.01  # it stopped where it was
    assert abs(base.velocity()[0]) < 0.01 and base.target == (0.0, 0.0)
    assert arm.tool_pose()[0][2] > 0.1  # halted on the way down, not at the parcel


# --- the registry: a catalogue argument named by a Python keyword -------------------


def test_a_keyword_argument_is_a_parameter_with_a_trailing_underscore():
    assert catalogue_name("from_") == "from" and catalogue_name("object") == "object"
    assert catalogue_name("place_") == "place_"  # not a keyword: the name as it is
    assert SIM_SKILLS["fetch"].args == ("object", "from")
    seen = {}

    @sim_skill("test_keyword_arg", args=("object", "from"))
    def keyword_arg(motion, object, from_):
        seen.update(object=object, from_=from_)
        return []

    try:
        SIM_SKILLS["test_keyword_arg"].phases(None, {"object": "red_parcel", "from": "aisle"})
        assert seen == {"object": "red_parcel", "from_": "aisle"}
        with pytest.raises(AdapterError, match=r"takes \(object, from\): missing from"):
            SIM_SKILLS["test_keyword_arg"].phases(None, {"object": "red_parcel"})
    finally:
        del SIM_SKILLS["test_keyword_arg"]
    with pytest.raises(
        TypeError, match=r"declares args \(object, from\) but .* takes \(object, frm"
    ):

        @sim_skill("test_wrong_keyword_arg", args=("object", "from"))
        def wrong(motion, object, frm):
            return []

    assert "test_wrong_keyword_arg" not in SIM_SKILLS


def test_a_base_takes_a_bay_whose_way_in_no_parcel_lies_on(world):
    """Bases push what they drive into (a spilled parcel pushed out of the aisle is in no
    place): a bay whose way in something lies on is not taken; with no other, the drive
    fails at once and says what is in the way."""
    from robot_planner.sim.driving import plan_route

    adapter = PyBulletRobotAdapter(world)
    traffic, base = adapter.traffic, world.bases["base_1"]
    xy, yaw = base.pose()
    to_pick = plan_route(world, xy, yaw, "pick_station", 0)
    assert traffic.floor_blocker(base, to_pick, yaw) is None  # parcels on the table
    drop(world, "red_parcel", 1.2, -0.6)  # on base_1's way from its dock bay to the lane
    assert traffic.floor_blocker(base, to_pick, yaw) == "red_parcel"
    drop(world, "red_parcel", 2.0, SPILL_Y)  # beside the lane, clear of base_1's way
    assert traffic.floor_blocker(base, to_pick, yaw) is None
    run(adapter, adapter.start_skill("base_1", "navigate", {"place": "pick_station"}), 40.0)
    # base_1 at the pick station: its own dock bay is free (base_2 holds the other).
    assert traffic.free_bay("base_1", "dock") == (0, None)
    drop(world, "red_parcel", 2.8, -0.6)  # not on base_1's way in
    assert traffic.free_bay("base_1", "dock") == (0, None)
    drop(world, "red_parcel", 1.2, -0.6)
    assert traffic.free_bay("base_1", "dock") == (None, "red_parcel")
    # A drive that would push it fails at once, saying what is in the way, unmoved.
    start, _ = base.pose()
    handle = adapter.start_skill("base_1", "navigate", {"place": "dock"})
    run(adapter, handle, 2.0)
    assert adapter.poll(handle).reason == "navigate: red_parcel lies in the way to dock"
    np.testing.assert_allclose(base.pose()[0], start, atol=0.01)
