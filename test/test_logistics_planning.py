"""The logistics cell, planned by the same code as the tabletop: nothing but its domain
and scene files. Cross-robot dependencies (the base parks before the arm loads it, the
arm lets go before the base leaves) come out of the domain's preconditions and effects."""

from __future__ import annotations

import pytest

from robot_planner.adapters.fake import FakeRobotAdapter
from robot_planner.bench.tasks import task_set
from robot_planner.bench.tasks_logistics import TASKS as LOGISTICS_TASKS
from robot_planner.execution.executor import Outcome, PlanExecutor
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.language import understand_command
from robot_planner.planning.lexicon import UnderstandingError
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.world.facts import Fact
from robot_planner.world.scene import load_scene


@pytest.fixture(scope="module")
def scene():
    return load_scene("logistics")


@pytest.fixture(scope="module")
def planner(scene):
    return OfflinePlanner(scene.domain.catalogue, scene)


def steps(plan) -> list[tuple[str, str, dict]]:
    return [(t.skill, t.robot, t.args) for t in plan.tasks]


def test_the_scene_starts_with_both_bases_at_the_dock(scene):
    facts = {str(f) for f in scene.initial_facts()}
    assert {"robot_at(base_1,dock)", "robot_at(base_2,dock)"} <= facts
    assert "at(red_parcel,pick_station)" in facts
    assert {"bay_free(pick_station)", "bay_free(packing_station)"} <= {
        str(f) for f in scene.derive(scene.initial_facts())
    }


def test_a_delivery_uses_a_base_between_two_arms(planner, scene):
    plan = planner.plan_text("bring the red parcel to the packing station")
    assert plan.goal == ["at(red_parcel,packing_station)"]
    by_id = {t.id: t for t in plan.tasks}
    kinds = [(t.skill, scene.robots[t.robot].kind) for t in plan.tasks]
    assert ("navigate", "base") in kinds and ("pick", "arm") in kinds
    load = next(t for t in plan.tasks if t.skill == "place" and t.args["target"] in scene.robots)
    base = load.args["target"]
    drive_in, drive_out = (t for t in plan.tasks if t.skill == "navigate" and t.robot == base)
    assert load.robot == "picker" and drive_in.args == {"place": "pick_station"}

    def before(a, b) -> bool:  # a must finish before b starts (transitively)
        seen, todo = set(), list(b.depends_on)
        while todo:
            current = todo.pop()
            if current == a.id:
                return True
            if current not in seen:
                seen.add(current)
                todo += by_id[current].depends_on
        return False

    # The base is parked before the arm loads it; the arm has let go before it leaves.
    assert before(drive_in, load) and before(load, drive_out)
    unload = next(t for t in plan.tasks if t.skill == "pick" and t.robot == "packer")
    assert before(drive_out, unload)
    assert validate_plan(plan, scene.domain.catalogue, scene).ok


def test_the_packing_bin_is_only_reached_by_the_packer(planner):
    plan = planner.plan_text("put the green parcel in the packing bin")
    assert steps(plan)[-1] == (
        "place",
        "packer",
        {"object": "green_parcel", "target": "packing_bin"},
    )


def test_a_plan_runs_on_the_fake_adapter_and_the_parcel_arrives(planner, scene):
    catalogue = scene.domain.catalogue
    plan = planner.plan_text("bring the blue parcel to the packing station")
    adapter = FakeRobotAdapter(catalogue, scene)
    result = PlanExecutor(plan, catalogue, adapter).run(max_sim_time_s=300)
    assert result.outcome is Outcome.SUCCEEDED
    state = adapter.read_state()
    assert Fact.parse("at(blue_parcel,packing_station)") in state


def test_an_arm_cannot_take_a_parcel_out_of_another_arms_gripper(scene):
    catalogue = scene.domain.catalogue
    facts = frozenset(
        {*scene.initial_facts(), Fact.parse("holding(picker,red_parcel)")}
        - {Fact.parse("at(red_parcel,pick_station)"), Fact.parse("gripper_empty(picker)")}
    )
    errors = catalogue.reach_errors("pick", "packer", {"object": "red_parcel"}, scene, facts)
    assert errors == ["red_parcel is held by picker, not by packer"]


def test_a_parcel_on_a_tray_is_where_the_base_is(scene):
    catalogue = scene.domain.catalogue
    facts = frozenset(
        {
            Fact.parse("on_tray(red_parcel,base_1)"),
            Fact.parse("robot_at(base_1,packing_station)"),
            Fact.parse("gripper_empty(picker)"),
        }
    )
    assert catalogue.reach_errors("pick", "packer", {"object": "red_parcel"}, scene, facts) == []
    errors = catalogue.reach_errors("pick", "picker", {"object": "red_parcel"}, scene, facts)
    assert errors and "picker cannot reach packing_station" in errors[0]


@pytest.mark.parametrize(
    ("command", "goal"),
    [
        ("send both robots to the dock", ["robot_at(base_1,dock)", "robot_at(base_2,dock)"]),
        ("robot one, go to the pick station", ["robot_at(base_1,pick_station)"]),
        ("robot two goes to the packing station", ["robot_at(base_2,packing_station)"]),
        (
            "send robot one to the pick station and robot two to the packing station",
            ["robot_at(base_1,pick_station)", "robot_at(base_2,packing_station)"],
        ),
        (
            "put the green parcel in the packing bin, then send robot two to the dock",
            ["in(green_parcel,packing_bin)", "robot_at(base_2,dock)"],
        ),
        ("please put the red parcel on base one", ["on_tray(red_parcel,base_1)"]),
        ("send the robots to the dock", ["robot_at(base_1,dock)", "robot_at(base_2,dock)"]),
        (
            "bring the red and the blue parcels to packing",
            ["at(red_parcel,packing_station)", "at(blue_parcel,packing_station)"],
        ),
        (
            "pick up the blue package and take it to the packing table",
            ["at(blue_parcel,packing_station)"],
        ),
        # "take" points at a parcel as "pick up" does (it was only a put verb here).
        (
            "take the red parcel and put it in the packing bin",
            ["in(red_parcel,packing_bin)"],
        ),
        (
            "take the green parcel from the pick table and bring it to packing",
            ["at(green_parcel,packing_station)"],
        ),
    ],
)
def test_the_cell_is_commanded_in_its_own_words(scene, command, goal):
    assert [str(f) for f in understand_command(command, scene).goal] == goal


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("go to the dock", "'go' does not say which robot"),
        ("build a tower of red and blue", "unknown action 'build'"),
        ("send robot three to the dock", r"unknown robot 'robot three' \(known: base 1"),
        ("send robot one to the red parcel", "is not a place a robot goes to"),
        ("send the base to the dock", "'the base' could be any of base 1, base 2: name one"),
        ("put the red parcel on the picker", "unknown place 'picker'"),
        ("put the red parcel on the panda arm", "nothing can be put on/in the picker"),
    ],
)
def test_refusals_are_one_line(scene, command, message):
    with pytest.raises(UnderstandingError, match=message) as info:
        understand_command(command, scene)
    assert "\n" not in str(info.value)


def test_both_bases_are_sent_home_after_a_delivery(planner):
    plan = planner.plan_text(
        "bring the red parcel to the packing station, then send both robots to the dock"
    )
    assert plan.goal[-2:] == ["robot_at(base_1,dock)", "robot_at(base_2,dock)"]
    # Nothing to do for a base already there; the one that delivered drives back.
    assert [t.skill for t in plan.tasks].count("navigate") == 3


def test_one_on_each_robot_spreads_the_parcels_over_the_bases(planner, scene):
    plan = planner.plan_text("bring the red and the blue parcels to packing, one on each robot")
    loads = {
        t.args["object"]: t.args["target"]
        for t in plan.tasks
        if t.skill == "place" and t.args["target"] in scene.robots
    }
    assert loads == {"red_parcel": "base_1", "blue_parcel": "base_2"}
    # Stations hold one base: the first leaves the packing bay before the second arrives.
    assert validate_plan(plan, scene.domain.catalogue, scene).ok
    with pytest.raises(UnderstandingError, match="3 parcels but only 2 robots"):
        understand_command("bring all parcels to packing, one on each robot", scene)


@pytest.mark.parametrize(
    ("level", "command", "expected"),
    LOGISTICS_TASKS,
    ids=[f"{t[0]}:{t[1][:50]}" for t in LOGISTICS_TASKS],
)
def test_every_bench_task_plans_to_its_goal(level, command, expected, planner, scene):
    """The `bench tasks --scene logistics` suite, checked symbolically: a valid plan whose
    final facts hold the suite's goal; L3 plans use several robots."""
    plan = planner.plan_text(command)
    report = validate_plan(plan, scene.domain.catalogue, scene)
    assert report.ok, report.errors
    assert {Fact.parse(g) for g in expected} <= set(report.final_facts)
    if level == "L3":
        assert len({t.robot for t in plan.tasks}) >= 2


def test_the_suite_has_every_level():
    counts = {lv: sum(t[0] == lv for t in LOGISTICS_TASKS) for lv in ("L1", "L2", "L3")}
    assert len(LOGISTICS_TASKS) >= 30 and min(counts.values()) >= 5, counts
    assert task_set("logistics") is LOGISTICS_TASKS
    with pytest.raises(ValueError, match="no task set for scene 'moon'"):
        task_set("moon")


def test_what_rides_on_a_base_is_watched_while_it_drives(planner):
    """DoReMi's constraint from the domain: the parcel put on the tray must stay there
    while the base drives (and be there when it arrives)."""
    plan = planner.plan_text("bring the red parcel to the packing station")
    drive = next(
        t for t in plan.tasks if t.skill == "navigate" and t.args["place"] == "packing_station"
    )
    checks = {(c.phase, c.fact) for c in drive.constraints}
    assert ("during", "on_tray(red_parcel,base_1)") in checks
    assert ("after", "on_tray(red_parcel,base_1)") in checks
    empty_drive = next(t for t in plan.tasks if t.skill == "navigate" and t is not drive)
    assert [c for c in empty_drive.constraints if c.kind == "task"] == []


def test_a_named_base_carries_what_it_cannot_place(planner):
    """'robot two, bring ...': a base cannot put a parcel anywhere, but it can carry it."""
    plan = planner.plan_text("robot two, bring the red parcel to the packing station")
    loads = [t.args["target"] for t in plan.tasks if t.skill == "place"]
    assert "base_2" in loads and "base_1" not in loads
