"""The lifted model and its unified-planning / PDDL form: what the domain compiles to, the
export round trip through UP's PDDLReader, and Fast Downward solving the exported
4-block tower for two arms."""

from __future__ import annotations

import pytest

from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError
from robot_planner.planning.general import plan_goal
from robot_planner.planning.lifted import ModelError, compile_model
from robot_planner.world.facts import Fact

R, G, B, Y = "red_block", "green_block", "blue_block", "yellow_block"
TOWER = [
    Fact("at", (Y, "center_zone")),
    Fact("on", (B, Y)),
    Fact("on", (R, B)),
    Fact("on", (G, R)),
]

up = pytest.importorskip("unified_planning")
# UP's PDDL reader uses pyparsing's old camelCase names.
pytestmark = pytest.mark.filterwarnings("ignore:'parseString' deprecated")


def test_model_follows_the_domain(scene, catalogue):
    model = compile_model(scene, catalogue)
    skills = {a.skill for a in model.actions}
    # Skills that change nothing are not planned with; opening the gripper would leave
    # a held block nowhere, so it is left out too.
    assert skills == {"pick", "place"}
    assert "open_gripper" in model.dropped and "wait" in model.dropped
    # `place` splits by its target's type, as its `when` clauses do.
    assert sorted(a.name for a in model.actions if a.skill == "place") == [
        "place__bin",
        "place__block",
        "place__zone",
    ]
    # The derived free-top fact becomes negative conditions; the derived tower `at`
    # is read from the location bookkeeping.
    assert "clear" in model.negations and model.aliases == {"at": "zone"}
    assert model.types["bin"] == "place" and model.types["zone"] == "place"
    assert model.static == {model.reaches}


def test_state_translation_tracks_places_through_stacks(scene, catalogue):
    model = compile_model(scene, catalogue)
    state = scene.parse_facts(
        [
            "gripper_empty(left_arm)",
            "gripper_empty(right_arm)",
            f"in({B},right_bin)",
            f"on({R},{B})",
            f"at({G},left_side)",
            f"on_table({G})",
            f"holding(right_arm,{Y})",
        ]
    )
    located = {f for f in model.state(state) if f.predicate == model.located}
    assert located == {
        Fact(model.located, (B, "right_bin")),
        Fact(model.located, (R, "right_bin")),
        Fact(model.located, (G, "left_side")),
    }


def test_export_parses_back_with_up(scene, catalogue):
    from unified_planning.io import PDDLReader

    from robot_planner.planning.pddl import export_pddl

    domain, problem = export_pddl(scene, catalogue, None, TOWER)
    assert "(:action pick" in domain and "(:action place__block" in domain
    assert "(reaches left_arm center_zone)" in problem
    parsed = PDDLReader().parse_problem_string(domain, problem)
    assert {a.name for a in parsed.actions} == {
        "pick",
        "place__block",
        "place__bin",
        "place__zone",
    }
    assert len(parsed.goals) == 1 and len(parsed.all_objects) == 4 + 5 + 2


def test_fast_downward_solves_the_exported_four_block_tower(scene, catalogue):
    from unified_planning.engines import PlanGenerationResultStatus as Status
    from unified_planning.environment import get_environment
    from unified_planning.io import PDDLReader
    from unified_planning.shortcuts import OneshotPlanner

    from robot_planner.planning.pddl import export_pddl

    get_environment().credits_stream = None
    domain, problem = export_pddl(scene, catalogue, None, TOWER)
    parsed = PDDLReader().parse_problem_string(domain, problem)
    with OneshotPlanner(name="fast-downward") as planner:
        result = planner.solve(parsed, timeout=120)
    assert result.status in (Status.SOLVED_SATISFICING, Status.SOLVED_OPTIMALLY)
    robots = {str(a.actual_parameters[0]) for a in result.plan.actions}
    assert robots == {"left_arm", "right_arm"}  # the tower needs both arms


def test_fast_downward_as_the_planners_engine(scene, catalogue):
    plan = plan_goal(
        "tower", TOWER, scene.initial_facts(), scene, catalogue, engine="fast-downward"
    )
    report = validate_plan(plan, catalogue, scene)
    assert report.ok, report.errors
    assert set(TOWER) <= set(report.final_facts)


def test_a_derived_rule_the_compiler_cannot_plan_with_is_refused(scene, catalogue):
    domain = scene.domain
    odd = domain.model_copy(
        update={
            "derived": (
                *domain.derived,
                domain.derived[0].model_copy(update={"fact": "on_table(?x)"}),
            )
        }
    )
    with pytest.raises(ModelError, match="derived rule on_table"):
        compile_model(scene.model_copy(update={"domain": odd}), catalogue)
    with pytest.raises(PlanningError, match="cannot plan in domain"):
        plan_goal(
            "x", TOWER, scene.initial_facts(), scene.model_copy(update={"domain": odd}), catalogue
        )


def test_the_logistics_cell_exports_and_fast_downward_plans_it():
    """Robots as put targets and a place named like its type (`dock`) survive the export;
    Fast Downward's plan for a delivery is valid in the domain's own terms."""
    from unified_planning.io import PDDLReader

    from robot_planner.planning.pddl import export_pddl
    from robot_planner.world.scene import load_scene

    cell = load_scene("logistics")
    catalogue = cell.domain.catalogue
    goal = [Fact("in", ("red_parcel", "packing_bin")), Fact("robot_at", ("base_2", "dock"))]
    domain, problem = export_pddl(cell, catalogue, None, goal)
    assert "(robot_at base_1 dock_)" in problem  # the place `dock`, renamed for UP
    PDDLReader().parse_problem_string(domain, problem)
    plan = plan_goal(
        "deliver", goal, cell.initial_facts(), cell, catalogue, engine="fast-downward"
    )
    report = validate_plan(plan, catalogue, cell)
    assert report.ok, report.errors
    assert set(goal) <= set(report.final_facts)
    # Something is loaded onto a mobile base (a base, or the fetcher: a base too).
    loads = {t.skill for t in plan.tasks if cell.is_a(t.args.get("target", ""), "base")}
    assert "place" in loads
