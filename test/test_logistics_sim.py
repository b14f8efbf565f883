"""The logistics cell in PyBullet: the world it builds, Husky bases that really drive (a
parcel riding on the tray by friction), the traffic rule between bases, ground truth in
the logistics domain's facts, and a full command run end to end. Headless, bounded in
simulated time, no sleeps."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from robot_planner.adapters.base import AdapterError, SkillState
from robot_planner.episode import EpisodeConfig, run_episode
from robot_planner.monitor.geometric import GeometricVqa
from robot_planner.sim import driving
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.models import SimBase
from robot_planner.sim.truth import ground_truth
from robot_planner.sim.world import SimWorld
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

F = Fact.parse


@pytest.fixture(scope="module")
def logistics() -> Scene:
    return load_scene("logistics")


@pytest.fixture
def world(logistics):
    with SimWorld(logistics, seed=1) as w:
        yield w


def run(adapter: PyBulletRobotAdapter, handles: list, limit_s: float, each_step=None) -> None:
    """Step until every skill in `handles` has ended (or `limit_s` of simulated time)."""
    end = adapter.world.time + limit_s
    while adapter.world.time < end:
        adapter.step()
        if each_step is not None:
            each_step()
        if all(adapter.poll(h).state is not SkillState.RUNNING for h in handles):
            return
    pytest.fail(f"skills still running after {limit_s} s: {[adapter.poll(h) for h in handles]}")


def on_tray(world: SimWorld, block: str, base: str) -> np.ndarray:
    """Where a parcel is in the tray's frame."""
    tray = world.bases[base].tray
    tray_pos, tray_orn = p.getBasePositionAndOrientation(tray, physicsClientId=world.client)
    pos, _ = p.getBasePositionAndOrientation(world.blocks[block], physicsClientId=world.client)
    inverse = p.invertTransform(tray_pos, tray_orn)
    return np.array(p.multiplyTransforms(*inverse, pos, [0, 0, 0, 1])[0])


# --- the world ------------------------------------------------------------------------


def test_the_cell_builds_from_the_scene(world, logistics):
    assert world.table is None and world.table_top == 0.0  # no shared table
    # The fetcher is a base and an arm: its parts are in both, under its one name.
    assert set(world.bases) == {"base_1", "base_2", "fetcher_1"}
    assert set(world.arms) == {"picker", "packer", "fetcher_1"}
    assert all(isinstance(b, SimBase) for b in world.bases.values())
    assert world.robot_kinds == {
        "base_1": "base",
        "base_2": "base",
        "fetcher_1": "fetcher",
        "picker": "arm",
        "packer": "arm",
    }
    # Stations are tables of their surface height, the bin an open box on a stand, the
    # arms on pedestals; the dock and the aisle are floor (no bodies).
    assert set(world.stations) == {"pick_station", "packing_station"}
    assert set(world.containers) == set(world.bins) == {"packing_bin"}
    assert set(world.pedestals) == {"picker", "packer"} and world.zones == {}
    for name, body in world.stations.items():
        top = p.getAABB(body, physicsClientId=world.client)[1][2]
        assert top == pytest.approx(logistics.places[name].surface_z, abs=1e-3)
    for name in logistics.objects:  # parcels start standing on the pick table
        pos, _ = world.block_pose(name)
        assert pos[2] == pytest.approx(0.45 + 0.03, abs=2e-3)
        assert abs(pos[1] - 1.35) < 0.2 and abs(pos[0]) < 0.25
    for name, base in world.bases.items():  # bases stand in their bays
        xy, yaw = base.pose()
        np.testing.assert_allclose(xy, logistics.robots[name].base_position[:2], atol=0.01)
        assert yaw == pytest.approx(logistics.robots[name].base_yaw, abs=0.01)
    # The simulator's facts are the scene's initial facts.
    assert ground_truth(world) == logistics.initial_facts()
    # Transfers run above the stations' tables, not the (absent) table top.
    assert world.work_height("picker") == pytest.approx(0.45)


def test_ground_truth_speaks_the_logistics_domain(world):
    top, _ = world.bases["base_2"].tray_pose()
    world.move_block("red_parcel", top + np.array([0.0, 0.0, 0.031]))  # on base_2's tray
    world.move_block("green_parcel", [2.0, 0.3, 0.031])  # dropped in the aisle
    world.move_block("blue_parcel", [4.15, 1.0, 0.36])  # into the packing bin
    world.settle(1.0)
    facts = ground_truth(world)
    for fact in [
        "on_tray(red_parcel,base_2)",
        "at(green_parcel,aisle)",
        "in(blue_parcel,packing_bin)",
        "robot_at(base_1,dock)",
        "robot_at(base_2,dock)",
        "gripper_empty(picker)",
        "bay_free(pick_station)",
    ]:
        assert F(fact) in facts, fact
    assert not [f for f in facts if f.predicate == "at" and f.args[0] != "green_parcel"]
    assert F("at(blue_parcel,packing_station)") not in facts


# --- driving --------------------------------------------------------------------------


def test_a_base_drives_to_a_bay_and_back_with_a_parcel_riding_on_its_tray(world):
    adapter = PyBulletRobotAdapter(world)
    base = world.bases["base_1"]
    top, _ = base.tray_pose()
    world.move_block("red_parcel", top + np.array([0.05, 0.05, 0.031]))
    world.settle(0.5)
    assert F("on_tray(red_parcel,base_1)") in ground_truth(world)
    start_on_tray = on_tray(world, "red_parcel", "base_1")
    track: list[tuple[float, np.ndarray, float]] = []

    def record() -> None:
        xy, _ = base.pose()
        track.append((world.time, xy, base.velocity()[0]))

    for place in ("pick_station", "dock"):
        t0 = world.time
        handle = adapter.start_skill("base_1", "navigate", {"place": place})
        run(adapter, [handle], limit_s=40.0, each_step=record)
        status = adapter.poll(handle)
        assert status.state is SkillState.SUCCEEDED, status.reason
        assert world.time - t0 < 20.0  # 3.3 m with one turn: about 12 s
        truth = ground_truth(world)
        assert F(f"robot_at(base_1,{place})") in truth
        assert F("on_tray(red_parcel,base_1)") in truth
    bay = world.scene.places["pick_station"].bays[0]
    times = np.array([t for t, _, _ in track])
    xy = np.array([q for _, q, _ in track])
    speed = np.array([v for _, _, v in track])
    # It went to the pick station's bay (within 4 cm) and came back to its dock bay.
    assert float(np.min(np.linalg.norm(xy - np.array(bay[:2]), axis=1))) < 0.04
    np.testing.assert_allclose(xy[-1], [1.2, -1.6], atol=0.04)
    # Real motion: never faster than the speed limit, no jumps between steps, and the
    # speed changes at the acceleration limit at most (no teleporting, no jerks).
    dt = world.config.time_step
    assert float(np.max(np.abs(speed))) <= base.max_speed + 0.02
    assert float(np.max(np.linalg.norm(np.diff(xy, axis=0), axis=1))) <= base.max_speed * dt * 1.1
    # (measured over 0.1 s: contacts add a few mm/s of noise from one step to the next).
    k = 24
    accel = (speed[k:] - speed[:-k]) / (times[k:] - times[:-k])
    assert float(np.max(np.abs(accel))) <= base.max_accel * 1.3
    assert float(np.max(np.abs(speed))) > 0.9 * base.max_speed  # it did get up to speed
    # The parcel rode along by friction: it moved less than 5 mm on the tray.
    assert np.linalg.norm(on_tray(world, "red_parcel", "base_1") - start_on_tray) < 0.005


def test_two_bases_take_turns_on_a_shared_path_and_never_touch(world, logistics):
    """base_1 leaves the pick station for the packing station while base_2 wants the
    pick station's bay: base_2 waits for the bay and for a clear path, then goes."""
    adapter = PyBulletRobotAdapter(world)
    first = adapter.start_skill("base_1", "navigate", {"place": "pick_station"})
    run(adapter, [first], limit_s=30.0)
    assert adapter.poll(first).state is SkillState.SUCCEEDED
    one, two = world.bases["base_1"], world.bases["base_2"]
    closest = {"centres": math.inf, "contacts": 0}

    def watch() -> None:
        gap = float(np.linalg.norm(one.pose()[0] - two.pose()[0]))
        closest["centres"] = min(closest["centres"], gap)
        closest["contacts"] += len(
            p.getContactPoints(one.body, two.body, physicsClientId=world.client)
        )
        closest["contacts"] += len(
            p.getContactPoints(one.tray, two.body, physicsClientId=world.client)
        )

    leave = adapter.start_skill("base_1", "navigate", {"place": "packing_station"})
    come = adapter.start_skill("base_2", "navigate", {"place": "pick_station"})
    phases = set()
    end = world.time + 60.0
    while world.time < end and adapter.poll(come).state is SkillState.RUNNING:
        adapter.step()
        watch()
        phases.add(adapter.poll(come).phase)
    run(adapter, [leave, come], limit_s=10.0, each_step=watch)
    assert adapter.poll(leave).state is SkillState.SUCCEEDED, adapter.poll(leave).reason
    assert adapter.poll(come).state is SkillState.SUCCEEDED, adapter.poll(come).reason
    assert "wait for a clear path" in phases  # it did have to wait for base_1
    assert closest["contacts"] == 0
    assert closest["centres"] > 1.0  # a Husky is 1.02 m long: they stayed well apart
    truth = ground_truth(world)
    assert {F("robot_at(base_1,packing_station)"), F("robot_at(base_2,pick_station)")} <= truth


def test_navigate_is_cancellable_and_stops_gently(world):
    adapter = PyBulletRobotAdapter(world)
    base = world.bases["base_2"]
    handle = adapter.start_skill("base_2", "navigate", {"place": "packing_station"})
    end = world.time + 10.0
    while world.time < end and abs(base.velocity()[0]) < 0.5:  # until it is at speed
        adapter.step()
    assert abs(base.velocity()[0]) >= 0.5
    adapter.cancel(handle)
    assert adapter.poll(handle).state is SkillState.CANCELLED
    assert adapter.traffic.paths == {}  # its path is free for the other base again
    world_time = world.time
    while world.time < world_time + 2.0:
        adapter.step()
    assert abs(base.velocity()[0]) < 0.01  # braked at the acceleration limit: 1.2 s
    # The other base may now use its bay at the dock, which base_2 no longer claims.
    assert ("dock", 1) not in adapter.traffic.bays
    with pytest.raises(AdapterError, match="base_2 is a base; pick runs on: arm"):
        adapter.start_skill("base_2", "pick", {"object": "red_parcel"})


def test_navigate_failures_are_one_line(world, monkeypatch):
    adapter = PyBulletRobotAdapter(world)
    handle = adapter.start_skill("base_1", "navigate", {"place": "aisle"})
    run(adapter, [handle], limit_s=1.0)
    assert adapter.poll(handle).reason == "navigate: aisle has no bay to park in"
    # A bay another base holds: wait, then give up with the reason.
    monkeypatch.setattr(driving, "BLOCKED_S", 2.0)
    first = adapter.start_skill("base_1", "navigate", {"place": "pick_station"})
    run(adapter, [first], limit_s=30.0)
    second = adapter.start_skill("base_2", "navigate", {"place": "pick_station"})
    run(adapter, [second], limit_s=5.0)
    status = adapter.poll(second)
    assert status.state is SkillState.FAILED
    assert status.reason == "navigate: base_2 waited 2 s: no free bay at pick_station"
    np.testing.assert_allclose(world.bases["base_2"].pose()[0], [2.8, -1.6], atol=0.01)


# --- arms at the stations -------------------------------------------------------------


def test_the_packer_puts_a_parcel_from_its_table_into_the_bin(world):
    """The xArm6 on its pedestal picks from the station's table and places into the bin
    on its stand; ground truth says so and the arm's own placement check agreed."""
    world.move_block("blue_parcel", [3.95, 1.3, 0.45 + 0.031])  # test set-up: on the table
    world.settle(0.5)
    assert F("at(blue_parcel,packing_station)") in ground_truth(world)
    adapter = PyBulletRobotAdapter(world)
    for skill, args in (
        ("pick", {"object": "blue_parcel"}),
        ("place", {"object": "blue_parcel", "target": "packing_bin"}),
    ):
        handle = adapter.start_skill("packer", skill, args)
        run(adapter, [handle], limit_s=30.0)
        assert adapter.poll(handle).state is SkillState.SUCCEEDED, adapter.poll(handle).reason
    truth = ground_truth(world)
    assert {F("in(blue_parcel,packing_bin)"), F("gripper_empty(packer)")} <= truth
    assert not [f for f in truth if f.predicate == "at" and f.args[0] == "blue_parcel"]


# --- end to end -----------------------------------------------------------------------


def test_bring_the_red_parcel_to_the_packing_station(logistics):
    """The planner's six tasks run on the simulated cell: the base drives to the pick
    station, the Panda loads the parcel onto its tray, the base drives to the packing
    station, the xArm6 unloads it; the simulator agrees the goal holds."""
    report = run_episode(
        EpisodeConfig(
            command="bring the red parcel to the packing station",
            monitor="off",
            max_sim_time_s=120.0,
        ),
        logistics.domain.catalogue,
        logistics,
    )
    assert report["success"], report["reason"]
    assert report["goal"] == ["at(red_parcel,packing_station)"]
    assert report["ground_truth"]["goal_holds"] and report["ground_truth"]["agrees"]
    skills = [(t["skill"], t["robot"]) for t in report["plan"]["tasks"]]
    assert ("navigate", "base_1") in skills and ("place", "picker") in skills
    assert report["replans"] == 0
    assert report["sim_time_s"] < 60.0
    truth = {F(f) for f in report["ground_truth"]["facts"]}
    assert F("robot_at(base_1,packing_station)") in truth
    assert F("gripper_empty(packer)") in truth


def test_a_parcel_in_the_packing_bin_is_seen_with_a_base_in_the_bay(logistics):
    """From the first camera pose (lower, further back) a parcel in the packing bin
    showed only a sliver over the bin's front wall behind a base parked in the bay:
    "bring the green parcel to the packing bin, then send robot one to the dock" put the
    parcel in the bin and failed, because the goal check could not see it there."""
    bay = logistics.places["packing_station"].bays[0]
    parked = logistics.robots["base_2"].model_copy(
        update={"base_position": [bay[0], bay[1], 0.0], "base_yaw": bay[2]}
    )
    scene = logistics.model_copy(update={"robots": {**logistics.robots, "base_2": parked}})
    spec = logistics.places["packing_bin"]
    half = logistics.objects["green_parcel"].size / 2
    vqa = GeometricVqa(scene)
    with SimWorld(scene, seed=0) as world:
        for dx in (-0.06, 0.0, 0.06):
            for dy in (-0.06, 0.0, 0.06):
                at = [spec.center[0] + dx, spec.center[1] + dy, spec.surface_z + half]
                world.move_block("green_parcel", np.array(at))
                for _ in range(60):
                    world.step()
                sighting = vqa.perceive(world.camera().capture())["green_parcel"]
                assert sighting.seen, (dx, dy, sighting.describe())
