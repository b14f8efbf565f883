"""The validator: every rejection named in the foundation issue has its own test."""

import json

import pytest
from conftest import PLANS, plan, task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_planner.bench.synthetic import synthetic_plan
from robot_planner.plan.validation import PlanValidationError, require_valid, validate_plan
from robot_planner.world.facts import parse_facts


def errors_of(data, catalogue, scene, state=None):
    report = validate_plan(
        data if isinstance(data, (bytes, str)) else json.dumps(data), catalogue, scene, state
    )
    assert not report.ok
    assert report.plan is None
    assert report.errors, "an invalid plan must come with error lines"
    for line in report.errors:
        assert "\n" not in line
    return report.errors


def one_error(data, catalogue, scene, state=None) -> str:
    errors = errors_of(data, catalogue, scene, state)
    assert len(errors) == 1, errors
    return errors[0]


# --- valid plans -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["handover.json", "parallel_sort.json"])
def test_packaged_example_plans_are_valid(name, catalogue, scene):
    report = validate_plan((PLANS / name).read_bytes(), catalogue, scene)
    assert report.ok, report.errors
    assert report.summary().startswith("valid plan:")


def test_valid_plan_round_trips_through_json(handover, catalogue, scene):
    parsed = require_valid(json.dumps(handover), catalogue, scene)
    again = require_valid(parsed.to_json(), catalogue, scene)
    assert again == parsed
    assert set(parsed.to_dict()) == {"command", "goal", "tasks"}
    assert set(parsed.to_dict()["tasks"][0]) == {
        "id",
        "skill",
        "robot",
        "args",
        "depends_on",
        "constraints",
    }


def test_final_facts_reported(handover, catalogue, scene):
    report = validate_plan(handover, catalogue, scene)
    assert "in(red_block,right_bin)" in {str(f) for f in report.final_facts}


# --- input bytes and JSON ---------------------------------------------------------------


def test_rejects_bad_json(catalogue, scene):
    assert one_error(b'{"tasks": [', catalogue, scene).startswith("bad JSON at line 1")


def test_rejects_non_utf8(catalogue, scene):
    assert "not UTF-8" in one_error(b"\xff\xfe{}", catalogue, scene)


def test_rejects_empty_input(catalogue, scene):
    assert one_error(b"   ", catalogue, scene) == "plan is empty"


def test_rejects_non_object(catalogue, scene):
    assert "must be a JSON object, got an array" in one_error(b"[]", catalogue, scene)


def test_rejects_deeply_nested_json(catalogue, scene):
    assert "bad JSON" in one_error(b"[" * 200_000, catalogue, scene)


def test_rejects_oversized_input(catalogue, scene):
    assert "larger than" in one_error(b" " * (16 * 1024 * 1024 + 1), catalogue, scene)


# --- schema ------------------------------------------------------------------------------


def test_rejects_missing_tasks(catalogue, scene):
    assert one_error({"command": "x"}, catalogue, scene) == "plan: tasks: Field required"


def test_rejects_unknown_top_level_key(catalogue, scene):
    error = one_error({"tasks": [], "robots": []}, catalogue, scene)
    assert error.startswith("plan: robots: Extra inputs are not permitted")


def test_schema_violation_names_the_task(handover, catalogue, scene):
    handover["tasks"][2]["depends_on"] = "t2"
    assert one_error(handover, catalogue, scene).startswith("task t3: depends_on:")


def test_schema_violation_without_id_uses_position(handover, catalogue, scene):
    del handover["tasks"][1]["id"]
    assert one_error(handover, catalogue, scene) == "task #2: id: Field required"


def test_rejects_bad_constraint_phase(handover, catalogue, scene):
    handover["tasks"][0]["constraints"][0]["phase"] = "sometimes"
    assert one_error(handover, catalogue, scene).startswith("task t1: constraints.0.phase")


# --- names and arguments ----------------------------------------------------------------


def test_rejects_unknown_skill(catalogue, scene):
    error = one_error(plan(task("t1", "throw", "left_arm", object="red_block")), catalogue, scene)
    assert error.startswith("task t1: unknown skill 'throw' (known: pick, place")


def test_rejects_unknown_robot(catalogue, scene):
    error = one_error(plan(task("t1", "pick", "third_arm", object="red_block")), catalogue, scene)
    assert error == "task t1: unknown robot 'third_arm' (known: left_arm, right_arm)"


def test_rejects_unknown_object(catalogue, scene):
    error = one_error(
        plan(task("t1", "pick", "left_arm", object="purple_block")), catalogue, scene
    )
    assert error == "task t1: pick argument object: unknown block 'purple_block'"


def test_rejects_unknown_target(catalogue, scene):
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="shelf"),
    )
    assert one_error(data, catalogue, scene) == (
        "task t2: place argument target: unknown block / bin / zone 'shelf'"
    )


def test_rejects_target_of_wrong_kind(catalogue, scene):
    data = plan(task("t1", "pick", "left_arm", object="left_bin"))
    assert one_error(data, catalogue, scene) == (
        "task t1: pick argument object: 'left_bin' is a bin, expected a block"
    )


def test_rejects_missing_argument(catalogue, scene):
    error = one_error(plan(task("t1", "pick", "left_arm")), catalogue, scene)
    assert error == "task t1: pick is missing argument(s) object"


def test_rejects_extra_argument(catalogue, scene):
    data = plan(task("t1", "pick", "left_arm", object="red_block", speed=3))
    assert one_error(data, catalogue, scene) == (
        "task t1: pick does not take argument(s) speed (it takes: object)"
    )


def test_rejects_wrong_argument_type(catalogue, scene):
    data = plan(task("t1", "pick", "left_arm", object=7))
    assert "expected the name of a block, got int" in one_error(data, catalogue, scene)


def test_rejects_number_out_of_range(catalogue, scene):
    data = plan(task("t1", "wait", "left_arm", seconds=1e9))
    assert "above the maximum 120" in one_error(data, catalogue, scene)


def test_rejects_boolean_as_number(catalogue, scene):
    data = plan(task("t1", "wait", "left_arm", seconds=True))
    assert "expected a number, got bool" in one_error(data, catalogue, scene)


def test_rejects_duplicate_ids(catalogue, scene):
    data = plan(task("t1", "move_home", "left_arm"), task("t1", "move_home", "right_arm"))
    assert one_error(data, catalogue, scene) == "task t1: duplicate task id (ids must be unique)"


def test_rejects_dangling_dependency(catalogue, scene):
    data = plan(task("t1", "move_home", "left_arm", ("t0",)))
    assert one_error(data, catalogue, scene) == (
        "task t1: depends on 't0', which is not a task in the plan"
    )


def test_rejects_unknown_fact_in_goal(catalogue, scene):
    data = plan(task("t1", "move_home", "left_arm"), goal=("on(red_block,moon)",))
    assert one_error(data, catalogue, scene) == "goal: on(red_block,moon): unknown block 'moon'"


def test_rejects_bad_constraint_fact(catalogue, scene):
    data = plan(task("t1", "pick", "left_arm", object="red_block"))
    data["tasks"][0]["constraints"] = [
        {"phase": "during", "fact": "holding(red_block,left_arm)", "question": "?"}
    ]
    errors = errors_of(data, catalogue, scene)
    assert errors[0] == (
        "task t1: constraint: holding(red_block,left_arm): "
        "'red_block' is a block, expected a robot"
    )


def test_reports_every_name_problem_at_once(catalogue, scene):
    data = plan(task("t1", "throw", "left_arm"), task("t2", "pick", "x", ("t9",), object="red"))
    assert len(errors_of(data, catalogue, scene)) == 4


# --- graph -------------------------------------------------------------------------------


def test_rejects_cycle_and_names_it(catalogue, scene):
    error = one_error((PLANS / "cycle.json").read_bytes(), catalogue, scene)
    assert error == "dependency cycle: t1 -> t2 -> t3 -> t1"


def test_rejects_self_dependency(catalogue, scene):
    data = plan(task("t1", "move_home", "left_arm", ("t1",)))
    assert one_error(data, catalogue, scene) == "dependency cycle: t1 -> t1"


def test_reports_each_cycle(catalogue, scene):
    data = plan(
        task("a", "wait", "left_arm", ("b",), seconds=1),
        task("b", "wait", "left_arm", ("a",), seconds=1),
        task("c", "wait", "right_arm", ("d",), seconds=1),
        task("d", "wait", "right_arm", ("c",), seconds=1),
    )
    assert errors_of(data, catalogue, scene) == [
        "dependency cycle: a -> b -> a",
        "dependency cycle: c -> d -> c",
    ]


# --- goals -------------------------------------------------------------------------------


def test_rejects_block_on_itself_goal(catalogue, scene):
    data = plan(task("t1", "move_home", "left_arm"), goal=("on(red_block,red_block)",))
    assert one_error(data, catalogue, scene) == (
        "impossible goal: on(red_block,red_block): blocks cannot stack in a loop"
    )


def test_rejects_contradictory_goal(catalogue, scene):
    data = plan(
        task("t1", "move_home", "left_arm"),
        goal=("on(red_block,blue_block)", "on(blue_block,red_block)"),
    )
    assert "stack in a loop" in one_error(data, catalogue, scene)


def test_rejects_goal_the_plan_does_not_achieve(catalogue, scene):
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="left_bin"),
        goal=("in(red_block,right_bin)",),
    )
    assert one_error(data, catalogue, scene) == (
        "goal fact in(red_block,right_bin) does not hold after the plan"
    )


# --- reach and preconditions (symbolic run) ---------------------------------------------


def test_rejects_place_the_robot_cannot_reach(catalogue, scene):
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="right_bin"),
    )
    assert one_error(data, catalogue, scene) == (
        "task t2 (place on left_arm): left_arm cannot reach right_bin; "
        "it reaches left_side, center_zone, left_bin"
    )


def test_rejects_pick_of_block_out_of_reach(catalogue, scene):
    data = plan(task("t1", "pick", "right_arm", object="red_block"))
    error = one_error(data, catalogue, scene)
    assert "right_arm cannot reach left_side (red_block is in/at left_side)" in error


def test_rejects_stacking_on_a_block_out_of_reach(catalogue, scene):
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="blue_block"),
    )
    assert "left_arm cannot reach right_side (blue_block is in/at right_side)" in one_error(
        data, catalogue, scene
    )


def test_reach_uses_the_given_state(catalogue, scene):
    state = scene.initial_facts() - parse_facts(["at(red_block,left_side)"]) | parse_facts(
        ["at(red_block,center_zone)"]
    )
    data = plan(task("t1", "pick", "right_arm", object="red_block"))
    assert validate_plan(data, catalogue, scene, state).ok


def test_rejects_place_without_holding(catalogue, scene):
    data = plan(task("t1", "place", "left_arm", object="red_block", target="left_bin"))
    assert one_error(data, catalogue, scene) == (
        "task t1 (place on left_arm): precondition holding(left_arm,red_block) "
        "does not hold at that point of the plan"
    )


def test_rejects_pick_with_full_gripper(catalogue, scene):
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "pick", "left_arm", ("t1",), object="green_block"),
    )
    assert "precondition gripper_empty(left_arm)" in one_error(data, catalogue, scene)


def test_rejects_placing_a_block_on_itself(catalogue, scene):
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="red_block"),
    )
    assert "are both 'red_block' (they must differ)" in one_error(data, catalogue, scene)


def test_rejects_cross_robot_use_of_a_block_without_dependency(catalogue, scene):
    data = plan(
        task("t1", "pick", "left_arm", object="red_block"),
        task("t2", "place", "left_arm", ("t1",), object="red_block", target="center_zone"),
        task("t3", "pick", "right_arm", object="red_block"),
    )
    error = one_error(data, catalogue, scene)
    assert error == (
        "task t3 (pick on right_arm): uses red_block, as task t2 on left_arm "
        "does, but does not depend on it (add t2 to depends_on)"
    )


def test_require_valid_raises_with_all_lines(catalogue, scene):
    with pytest.raises(PlanValidationError) as info:
        require_valid(b"{}", catalogue, scene)
    assert info.value.errors == ["plan: tasks: Field required"]


# --- scale and robustness ---------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 16, 17, 500])
def test_synthetic_plans_are_valid(size, catalogue, scene):
    report = validate_plan(synthetic_plan(size, scene), catalogue, scene)
    assert report.ok, report.errors


def test_too_many_tasks(catalogue, scene):
    data = {"tasks": [task(f"t{i}", "move_home", "left_arm") for i in range(20_001)]}
    assert one_error(data, catalogue, scene).startswith("plan: tasks: List should have at most")


def test_error_list_is_capped(catalogue, scene):
    data = plan(*[task(f"t{i}", "throw", "left_arm") for i in range(200)])
    errors = errors_of(data, catalogue, scene)
    assert len(errors) == 51 and errors[-1] == "... and 150 more error(s)"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
names = st.sampled_from(
    [
        "t1",
        "t2",
        "left_arm",
        "right_arm",
        "red_block",
        "left_bin",
        "center_zone",
        "pick",
        "place",
        "wait",
        "nope",
        "",
    ]
)
plan_like = st.fixed_dictionaries(
    {
        "tasks": st.lists(
            st.fixed_dictionaries(
                {
                    "id": names,
                    "skill": names,
                    "robot": names,
                    "args": st.dictionaries(
                        st.sampled_from(["object", "target", "seconds"]),
                        names | st.integers() | st.floats(),
                        max_size=3,
                    ),
                    "depends_on": st.lists(names, max_size=3),
                }
            ),
            max_size=6,
        )
    },
    optional={
        "goal": st.lists(st.text(max_size=30) | names, max_size=3),
        "command": st.text(max_size=30),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_never_raises_on_random_bytes(catalogue, scene, data):
    report = validate_plan(data, catalogue, scene)
    assert report.ok or report.errors
    assert not any("internal validator error" in e for e in report.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_never_raises_on_random_json(catalogue, scene, value):
    report = validate_plan(json.dumps(value), catalogue, scene)
    assert not report.ok and report.errors
    assert not any("internal validator error" in e for e in report.errors)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_like)
def test_never_raises_on_plan_shaped_json(catalogue, scene, value):
    report = validate_plan(json.dumps(value), catalogue, scene)
    assert report.ok or report.errors
    assert not any("internal validator error" in e for e in report.errors)


def test_names_with_newlines_stay_on_one_line(catalogue, scene):
    data = plan(task("t1", "fly\nINJECTED", "left_arm"))
    (error,) = errors_of(data, catalogue, scene)
    assert "\n" not in error and "fly\\nINJECTED" in error


def test_huge_integer_argument_is_rejected_cleanly(catalogue, scene):
    data = plan(task("t1", "wait", "left_arm", seconds=10**5000))
    report = validate_plan(data, catalogue, scene)
    assert report.errors == ["task t1: wait argument seconds: number is too large"]
