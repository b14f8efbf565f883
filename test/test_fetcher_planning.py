"""A parcel spilled in the aisle is fetched: the fetcher (a base with an arm, a kind under
the base kind) picks it off the floor, and a base stopped half-way drives on first.

Pure planning and perception: no simulator. The domain says it all (`fetch` needs the
aisle `clear`, which a base standing in it is not), and the core names none of it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robot_planner.adapters.bindings import bay_pose
from robot_planner.monitor.geometric import GeometricVqa
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError, PlanRequest
from robot_planner.planning.language import understand_command
from robot_planner.planning.lexicon import UnderstandingError
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.world.facts import Fact
from robot_planner.world.observation import BaseState, CameraFrame, Observation
from robot_planner.world.scene import load_scene

COMMAND = "bring the red parcel to the packing station"


@pytest.fixture(scope="module")
def scene():
    return load_scene("logistics")


@pytest.fixture(scope="module")
def planner(scene):
    return OfflinePlanner(scene.domain.catalogue, scene)


def spilled(scene, *, base_in_aisle: bool = True) -> frozenset[Fact]:
    """The facts after base_1 spilled the red parcel half-way to the packing station."""
    start = scene.initial_facts()
    gone = {Fact.parse("at(red_parcel,pick_station)"), Fact.parse("robot_at(base_1,dock)")}
    new = {Fact.parse("at(red_parcel,aisle)")}
    if base_in_aisle:
        new.add(Fact.parse("robot_at(base_1,aisle)"))
    return scene.derive(frozenset((start - gone) | new))


def test_the_fetcher_is_a_base_that_starts_in_its_service_bay(scene):
    assert scene.is_a("fetcher_1", "base") and scene.reaches("fetcher_1", "aisle")
    assert "robot_at(fetcher_1,service_bay)" in {str(f) for f in scene.initial_facts()}
    # Hardware bindings give each mobile robot its own bay of a place with several
    # (a fetcher counts with the bases: it is one) and the one bay of a place with one.
    docked = [bay_pose("dock", robot, "robot", scene) for robot in ("base_1", "base_2")]
    assert [(b.x, b.y) for b in docked] == [tuple(bay[:2]) for bay in scene.places["dock"].bays]
    home = bay_pose("service_bay", "fetcher_1", "robot", scene)
    assert (home.x, home.y) == tuple(scene.places["service_bay"].bays[0][:2])


def test_a_spilled_parcel_is_fetched_after_the_stopped_base_drives_on(planner, scene):
    plan = planner.plan(PlanRequest(COMMAND, spilled(scene))).plan
    steps = [(t.robot, t.skill, t.args) for t in plan.tasks]
    by_id = {t.id: t for t in plan.tasks}
    [fetch] = [t for t in plan.tasks if t.skill == "fetch"]
    assert fetch.robot == "fetcher_1" and fetch.args == {"object": "red_parcel", "from": "aisle"}
    # base_1 stands in the aisle's one lane: it leaves before the fetcher works there,
    # for the dock, not a station's bay (where it would block the next robot).
    [drive_on] = [t for t in plan.tasks if t.robot == "base_1"]
    assert drive_on.skill == "navigate" and drive_on.id in fetch.depends_on
    assert drive_on.args == {"place": "dock"}
    # The fetcher carries it to the packing station, where the packer unloads it.
    assert ("fetcher_1", "navigate", {"place": "packing_station"}) in steps
    assert steps[-1] == ("packer", "place", {"object": "red_parcel", "target": "packing_station"})
    unload = next(t for t in plan.tasks if t.skill == "pick")
    assert any(by_id[d].robot == "fetcher_1" for d in unload.depends_on)
    assert validate_plan(plan, scene.domain.catalogue, scene, spilled(scene)).ok


def test_with_the_aisle_clear_the_fetcher_goes_at_once(planner, scene):
    plan = planner.plan(PlanRequest(COMMAND, spilled(scene, base_in_aisle=False))).plan
    assert plan.tasks[0].skill == "fetch" and not plan.tasks[0].depends_on
    assert all(t.robot != "base_1" for t in plan.tasks)


def test_a_delivery_from_the_table_leaves_the_fetcher_at_the_dock(planner):
    plan = planner.plan_text(COMMAND)
    assert "fetcher_1" not in {t.robot for t in plan.tasks}


def test_without_a_fetcher_the_refusal_says_who_reaches_what(scene):
    robots = {n: r for n, r in scene.robots.items() if n != "fetcher_1"}
    bare = load_scene("logistics").model_copy(update={"robots": robots})
    with pytest.raises(PlanningError) as info:
        OfflinePlanner(bare.domain.catalogue, bare).plan(PlanRequest(COMMAND, spilled(bare)))
    message = str(info.value)
    assert "the red parcel is at the aisle, which no robot reaches" in message
    assert "\n" not in message


def test_the_fetcher_is_sent_by_its_noun_and_carries_what_it_cannot_place(planner, scene):
    plan = planner.plan_text("send the fetcher to the packing station")
    assert [(t.robot, t.skill, t.args) for t in plan.tasks] == [
        ("fetcher_1", "navigate", {"place": "packing_station"})
    ]
    # It reaches the aisle's floor (to fetch) but parks in no bay there.
    with pytest.raises(PlanningError) as info:
        planner.plan_text("the fetcher, go to the aisle")
    assert "no fetcher goes to the aisle (fetchers go to the pick station" in str(info.value)
    # Named for a delivery it cannot finish, it carries: the arms load and unload it.
    plan = planner.plan_text("the fetcher brings the red parcel to the packing station")
    loads = [t.args["target"] for t in plan.tasks if t.skill == "place"]
    assert loads == ["fetcher_1", "packing_station"]
    assert {t.robot for t in plan.tasks} == {"fetcher_1", "picker", "packer"}


def _observe(x: float, y: float, yaw: float) -> Observation:
    frame = CameraFrame(
        "test",
        0.0,
        np.zeros((4, 4, 3), np.uint8),
        np.ones((4, 4), np.float32),
        np.eye(3),
        np.eye(4),
    )
    state = BaseState(np.array([x, y]), yaw, np.array([x, y, 0.42]), (0.4, 0.32))
    return Observation(0.0, frame, {}, {"base_1": state})


@pytest.mark.parametrize(
    ("pose", "where"),
    [
        ((2.0, 0.45, 0.0), "aisle"),  # stopped half-way along the lane
        ((2.0, -0.1, math.pi / 2), "aisle"),  # turned, still on the aisle's floor
        ((0.0, 0.45, 0.0), "pick_station"),  # parked in the pick bay (inside the aisle)
        ((1.2, -1.6, math.pi / 2), "dock"),
        ((2.0, -3.5, 0.0), None),  # outside every place
    ],
)
def test_odometry_puts_a_base_in_a_bay_or_else_on_the_floor_it_stands_on(scene, pose, where):
    vqa = GeometricVqa(scene)
    facts = vqa.estimate_facts(_observe(*pose))
    at = {f.args[1] for f in facts if f.predicate == "robot_at" and f.args[0] == "base_1"}
    assert at == ({where} if where else set())


@pytest.mark.parametrize(
    ("command", "goal"),
    [
        # a kind noun spoken to without "the", before a comma
        ("fetcher, go to the dock", {"robot_at(fetcher_1,dock)"}),
        ("fetchers: go to the dock", {"robot_at(fetcher_1,dock)"}),
        # a kind noun in a list of robots, and as the robot a delivery is done "with"
        (
            "send the fetcher and robot two to the dock",
            {"robot_at(fetcher_1,dock)", "robot_at(base_2,dock)"},
        ),
        (
            "base one and the fetcher, go to the dock",
            {"robot_at(base_1,dock)", "robot_at(fetcher_1,dock)"},
        ),
        (
            "bring the blue parcel to the packing station with the fetcher",
            {"at(blue_parcel,packing_station)"},
        ),
    ],
)
def test_the_fetcher_is_named_by_its_noun_anywhere_a_robot_is(planner, command, goal):
    plan = planner.plan_text(command)
    assert {str(f) for f in plan.goal} == goal
    if "with the fetcher" in command:  # it carries: it is the one robot that drives
        assert {t.robot for t in plan.tasks if t.skill == "navigate"} == {"fetcher_1"}


@pytest.mark.parametrize(
    ("command", "message"),
    [
        # a robot spoken to that is not in the scene: named as a robot, with the known ones
        (
            "the truck, go to the dock",
            "unknown robot 'truck' in 'the truck, go to the dock' "
            "(known: base 1, base 2, fetcher 1, picker, packer)",
        ),
        # "robots" is also a filler: spoken to all, it names no robot to go
        ("robots, go to the dock", "'robots' does not say which robot goes"),
    ],
)
def test_a_robot_spoken_to_that_is_none_is_refused_as_a_robot(scene, command, message):
    with pytest.raises(UnderstandingError) as info:
        understand_command(command, scene)
    assert message in str(info.value)
