"""The domain-independent planner (`robot_planner.planning.general`): parity with the
hand-written symbolic planner on the bench commands, re-planning from disturbed states,
hand-overs, parking and towers that come out of the domain, unsolvable goals, explicit
robots and "then" ordering, monitor constraints, and no tabletop names in its code."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from robot_planner.bench.baseline_planner import plan_from_state
from robot_planner.bench.commands import COMMANDS
from robot_planner.bench.tasks import TASKS
from robot_planner.plan.graph import dependency_graph
from robot_planner.plan.model import TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError
from robot_planner.planning.general import estimated_makespan, plan_goal
from robot_planner.planning.language import understand_command
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

R, G, B, Y = "red_block", "green_block", "blue_block", "yellow_block"
PLANNING = Path(__file__).resolve().parent.parent / "robot_planner" / "planning"


def facts(*texts: str) -> frozenset[Fact]:
    return frozenset(Fact.parse(t) for t in texts)


def table_state(**where: str) -> frozenset[Fact]:
    """Both grippers empty; each named block at a zone (``at`` + ``on_table``), in a
    bin, or on a block, as the tabletop scene writes it."""
    out = {Fact("gripper_empty", ("left_arm",)), Fact("gripper_empty", ("right_arm",))}
    place = {R: "left_side", G: "left_side", B: "right_side", Y: "right_side"}
    place.update({f"{k}_block": v for k, v in where.items()})
    for block, target in place.items():
        if target.endswith("_bin"):
            out.add(Fact("in", (block, target)))
        elif target.endswith("_block"):
            out.add(Fact("on", (block, target)))
        else:
            out |= {Fact("at", (block, target)), Fact("on_table", (block,))}
    return frozenset(out)


def meaning(command: str, scene: Scene) -> tuple[list[Fact], dict[Fact, int], dict[str, str]]:
    understood = understand_command(command, scene)
    return understood.goal, {i.fact: i.step for i in understood.items}, understood.assignments()


def check(plan: TaskPlan, catalogue: Any, scene: Scene, state: frozenset[Fact], goal) -> None:
    report = validate_plan(plan, catalogue, scene, state)
    assert report.ok, report.errors
    assert set(goal) <= set(report.final_facts)


def ancestors(plan: TaskPlan, task_id: str) -> set[str]:
    import networkx as nx

    return nx.ancestors(dependency_graph(plan), task_id)


# --- parity with the symbolic planner ----------------------------------------------------


@pytest.mark.parametrize(
    ("level", "command", "expected"), TASKS, ids=[f"{t[0]}:{t[1][:50]}" for t in TASKS]
)
def test_bench_task_parity(level, command, expected, catalogue, scene):
    """Both planners' plans validate from the start and reach the suite's goal; the
    general planner's estimated makespan is never longer."""
    goal, steps, assign = meaning(command, scene)
    state = scene.initial_facts()
    general = plan_goal(command, goal, state, scene, catalogue, steps, assign)
    symbolic = plan_from_state(command, goal, state, scene, catalogue, steps, assign)
    wanted = {Fact.parse(g) for g in expected}
    check(general, catalogue, scene, state, wanted)
    check(symbolic, catalogue, scene, state, wanted)
    ours, theirs = estimated_makespan(general, catalogue), estimated_makespan(symbolic, catalogue)
    assert ours <= theirs + 1e-6, f"makespan {ours:.1f} s > symbolic {theirs:.1f} s"


def test_parity_table_is_the_bench_suite():
    assert len(TASKS) == 43


@pytest.mark.parametrize(
    "command", [c for _, c, g in COMMANDS if g is not None], ids=lambda c: c[:50]
)
def test_every_understood_command_gets_a_valid_plan(command, catalogue, scene):
    goal, steps, assign = meaning(command, scene)
    plan = plan_goal(command, goal, scene.initial_facts(), scene, catalogue, steps, assign)
    check(plan, catalogue, scene, scene.initial_facts(), goal)


def test_parallel_work_has_no_dependency_across_robots(catalogue, scene):
    goal, steps, assign = meaning(
        "put the red block in the left bin and the blue block in the right bin", scene
    )
    plan = plan_goal("x", goal, scene.initial_facts(), scene, catalogue, steps, assign)
    robot_of = {t.id: t.robot for t in plan.tasks}
    assert {t.robot for t in plan.tasks} == {"left_arm", "right_arm"}
    assert all(robot_of[d] == t.robot for t in plan.tasks for d in t.depends_on)
    assert estimated_makespan(plan, catalogue) == pytest.approx(7.1)


# --- structure that comes out of the domain ------------------------------------------


def test_hand_over_emerges_from_reach(catalogue, scene):
    goal = [Fact("in", (R, "right_bin"))]
    plan = plan_goal("x", goal, scene.initial_facts(), scene, catalogue)
    assert [(t.robot, t.skill, t.args.get("target")) for t in plan.tasks] == [
        ("left_arm", "pick", None),
        ("left_arm", "place", "center_zone"),
        ("right_arm", "pick", None),
        ("right_arm", "place", "right_bin"),
    ]
    assert [t.depends_on for t in plan.tasks] == [[], ["t1"], ["t2"], ["t3"]]


def chain_scene(base: Scene, shared_bin: bool = False) -> Scene:
    """Three arms in a row: a block on the first arm's side can only reach the last
    arm's bin through two hand-overs (`shared_bin`: a bin the first two arms reach)."""
    kind = next(iter(base.domain.robot_kinds))
    places = {
        "a_side": {"type": "zone", "center": [0.0, 0.0]},
        "ab_zone": {"type": "zone", "center": [0.5, 0.0]},
        "bc_zone": {"type": "zone", "center": [1.5, 0.0]},
        "c_bin": {"type": "bin", "center": [2.0, 0.0]},
    }
    reach = {"arm_a": ["a_side", "ab_zone"], "arm_b": ["ab_zone", "bc_zone"]}
    reach["arm_c"] = ["bc_zone", "c_bin"]
    if shared_bin:
        places["ab_bin"] = {"type": "bin", "center": [0.5, 0.5]}
        reach["arm_a"].append("ab_bin")
        reach["arm_b"].append("ab_bin")
    robots = {
        name: {"kind": kind, "model": "test", "base_position": [i, -0.5, 0.0], "reach": r}
        for i, (name, r) in enumerate(reach.items())
    }
    return Scene.model_validate(
        {
            "name": "chain",
            "domain": base.domain,
            "robots": robots,
            "objects": {"cube": {"type": "block", "start": "a_side"}},
            "places": places,
        }
    )


def test_two_hand_overs_through_a_chain_of_arms(scene):
    chain = chain_scene(scene)
    catalogue = chain.domain.catalogue
    goal = [Fact("in", ("cube", "c_bin"))]
    plan = plan_goal("x", goal, chain.initial_facts(), chain, catalogue)
    check(plan, catalogue, chain, chain.initial_facts(), goal)
    places = [(t.robot, t.args["target"]) for t in plan.tasks if "target" in t.args]
    assert places == [("arm_a", "ab_zone"), ("arm_b", "bc_zone"), ("arm_c", "c_bin")]


def test_block_in_the_way_is_parked_first(catalogue, scene):
    start = table_state(green="red_block")
    goal = [Fact("in", (R, "left_bin"))]
    plan = plan_goal("x", goal, start, scene, catalogue)
    check(plan, catalogue, scene, start, goal)
    first, second = plan.tasks[0], plan.tasks[1]
    assert (first.skill, first.args) == ("pick", {"object": G})
    assert second.args["object"] == G and second.args["target"] != R
    red_pick = next(t for t in plan.tasks if t.skill == "pick" and t.args["object"] == R)
    assert second.id in ancestors(plan, red_pick.id)


def test_block_on_the_target_is_parked_first(catalogue, scene):
    start = table_state(yellow="blue_block")
    goal = [Fact("on", (R, B))]
    plan = plan_goal("x", goal, start, scene, catalogue)
    check(plan, catalogue, scene, start, goal)
    lift = next(t for t in plan.tasks if t.skill == "pick" and t.args["object"] == Y)
    stack = next(t for t in plan.tasks if t.args.get("target") == B)
    assert lift.id in ancestors(plan, stack.id)


def test_four_block_tower_bottom_up(catalogue, scene):
    goal = list(facts(f"at({Y},center_zone)", f"on({B},{Y})", f"on({R},{B})", f"on({G},{R})"))
    plan = plan_goal("x", goal, scene.initial_facts(), scene, catalogue)
    check(plan, catalogue, scene, scene.initial_facts(), goal)
    stacked = [t.args["object"] for t in plan.tasks if t.args.get("target") in (Y, B, R)]
    assert stacked == [B, R, G]
    top = next(t for t in plan.tasks if t.args.get("target") == R)
    after = {c.fact for c in top.constraints if c.phase == "after"}
    assert {f"on({G},{R})", f"on({R},{B})", f"on({B},{Y})"} <= after


# --- re-planning from observed states ---------------------------------------------------


def test_replan_after_a_drop_in_the_center_zone(catalogue, scene):
    observed = table_state(red="center_zone")
    goal = [Fact("on", (R, B))]
    plan = plan_goal("x", goal, observed, scene, catalogue)
    check(plan, catalogue, scene, observed, goal)
    assert [(t.robot, t.skill) for t in plan.tasks] == [
        ("right_arm", "pick"),
        ("right_arm", "place"),
    ]


def test_replan_after_a_block_is_knocked_into_the_other_bin(catalogue, scene):
    observed = table_state(red="right_bin")
    goal = [Fact("in", (R, "left_bin"))]
    plan = plan_goal("x", goal, observed, scene, catalogue)
    check(plan, catalogue, scene, observed, goal)
    assert [t.robot for t in plan.tasks] == ["right_arm", "right_arm", "left_arm", "left_arm"]


def test_replan_with_a_block_still_held(catalogue, scene):
    observed = (
        table_state()
        - {Fact("gripper_empty", ("left_arm",))}
        - facts(f"at({R},left_side)", f"on_table({R})")
    ) | facts(f"holding(left_arm,{R})")
    goal = [Fact("in", (R, "left_bin"))]
    plan = plan_goal("x", goal, observed, scene, catalogue)
    assert [(t.robot, t.skill) for t in plan.tasks] == [("left_arm", "place")]


def test_goal_that_already_holds_gives_an_empty_plan(catalogue, scene):
    observed = table_state(red="left_bin")
    plan = plan_goal("x", [Fact("in", (R, "left_bin"))], observed, scene, catalogue)
    assert plan.tasks == [] and plan.goal == [f"in({R},left_bin)"]


# --- failures ------------------------------------------------------------------------------


def test_block_of_unknown_location_is_one_clear_line(catalogue, scene):
    observed = table_state() - facts(f"at({R},left_side)", f"on_table({R})")
    with pytest.raises(PlanningError) as info:
        plan_goal("x", [Fact("in", (R, "left_bin"))], observed, scene, catalogue)
    message = str(info.value)
    assert message.startswith(f"no plan reaches in({R},left_bin) from the current state")
    assert "the location of red_block is unknown" in message and "\n" not in message


def test_goal_out_of_every_robots_reach(scene):
    chain = chain_scene(scene)
    lonely = chain.model_copy(
        update={"robots": {k: v for k, v in chain.robots.items() if k != "arm_c"}}
    )
    with pytest.raises(PlanningError, match=r"no sequence of the robots' skills makes in"):
        plan_goal(
            "x",
            [Fact("in", ("cube", "c_bin"))],
            lonely.initial_facts(),
            lonely,
            lonely.domain.catalogue,
        )


def test_two_goals_that_exclude_each_other_are_named_with_the_domains_reason():
    """'Both robots to the pick station' was refused with "every state the robots can
    reach was searched": the station holds one base (the domain's derived `bay_free`)."""
    cell = load_scene("logistics")
    goal = facts("robot_at(base_1,pick_station)", "robot_at(base_2,pick_station)")
    with pytest.raises(PlanningError) as info:
        plan_goal("x", goal, cell.initial_facts(), cell, cell.domain.catalogue)
    assert str(info.value).endswith(
        "robot_at(base_1,pick_station) and robot_at(base_2,pick_station) cannot hold at "
        "once: one base parks at a station at a time"
    )
    # Each alone plans, so the pair is the reason, not either fact.
    for fact in goal:
        assert plan_goal("x", [fact], cell.initial_facts(), cell, cell.domain.catalogue).tasks


def test_impossible_goal_goes_through_the_domain_invariants(catalogue, scene):
    goal = facts(f"on({R},{B})", f"on({G},{B})")
    with pytest.raises(PlanningError, match="impossible goal"):
        plan_goal("x", goal, scene.initial_facts(), scene, catalogue)


def test_goal_naming_an_unknown_thing(catalogue, scene):
    with pytest.raises(PlanningError, match=r"goal: .*unknown"):
        plan_goal(
            "x",
            [Fact("in", ("purple_block", "left_bin"))],
            scene.initial_facts(),
            scene,
            catalogue,
        )


# --- explicit robots and ordering -------------------------------------------------------


def test_assigned_robot_makes_the_final_placement(catalogue, scene):
    goal, steps, assign = meaning("with the left arm put the blue block in the left bin", scene)
    assert assign == {B: "left_arm"}
    plan = plan_goal("x", goal, scene.initial_facts(), scene, catalogue, steps, assign)
    check(plan, catalogue, scene, scene.initial_facts(), goal)
    assert (plan.tasks[-1].robot, plan.tasks[-1].args["target"]) == ("left_arm", "left_bin")


def test_assignment_overrides_the_nearer_robot(scene):
    """arm_a could put the cube in the bin it shares with arm_b; the command asks arm_b
    to, so arm_a hands the cube over."""
    chain = chain_scene(scene, shared_bin=True)
    catalogue = chain.domain.catalogue
    goal = [Fact("in", ("cube", "ab_bin"))]
    free = plan_goal("x", goal, chain.initial_facts(), chain, catalogue)
    assert [t.robot for t in free.tasks] == ["arm_a", "arm_a"]
    plan = plan_goal("x", goal, chain.initial_facts(), chain, catalogue, assign={"cube": "arm_b"})
    check(plan, catalogue, chain, chain.initial_facts(), goal)
    assert [t.robot for t in plan.tasks] == ["arm_a", "arm_a", "arm_b", "arm_b"]


def test_assignment_that_cannot_be_the_only_one_falls_back(catalogue, scene, caplog):
    """The center zone is the goal and the only hand-over place: the left arm cannot be
    the only one to put the blue block there, so the right arm does (as the symbolic
    planner does), with a warning."""
    goal = [Fact("at", (B, "center_zone"))]
    plan = plan_goal("x", goal, scene.initial_facts(), scene, catalogue, assign={B: "left_arm"})
    check(plan, catalogue, scene, scene.initial_facts(), goal)
    assert "planning without the robot assignment" in caplog.text


def test_assignment_out_of_reach_is_one_clear_line(catalogue, scene):
    with pytest.raises(PlanningError, match="the left arm cannot reach the right bin"):
        plan_goal(
            "x",
            [Fact("in", (B, "right_bin"))],
            scene.initial_facts(),
            scene,
            catalogue,
            assign={B: "left_arm"},
        )


def test_then_orders_every_later_task_after_the_earlier_step(catalogue, scene):
    command = "first put the red block in the left bin, then put the blue block in the right bin"
    goal, steps, assign = meaning(command, scene)
    assert steps[Fact("in", (B, "right_bin"))] == 1
    plan = plan_goal(command, goal, scene.initial_facts(), scene, catalogue, steps, assign)
    check(plan, catalogue, scene, scene.initial_facts(), goal)
    red = {t.id for t in plan.tasks if t.args["object"] == R}
    for task in plan.tasks:
        if task.args["object"] == B:
            assert red <= ancestors(plan, task.id)
    unordered = plan_goal(command, goal, scene.initial_facts(), scene, catalogue)
    assert estimated_makespan(unordered, catalogue) < estimated_makespan(plan, catalogue)


# --- constraints ---------------------------------------------------------------------------


def test_constraints_come_from_effects_and_preconditions(catalogue, scene):
    plan = plan_goal("x", [Fact("on", (R, G))], scene.initial_facts(), scene, catalogue)
    pick, place = plan.tasks

    def own(task):
        return [c for c in task.constraints if c.kind == "task"]

    assert [(c.phase, c.fact) for c in own(pick)] == [("after", f"holding(left_arm,{R})")]
    assert [(c.phase, c.fact) for c in own(place)] == [
        ("during", f"holding(left_arm,{R})"),
        ("after", f"on({R},{G})"),
    ]
    assert own(place)[1].question == "Is the red block on the green block?"
    assert own(pick)[0].question == "Is the red block in the left arm's gripper?"


def test_objects_no_task_beside_it_changes_are_checked_to_stay_put(catalogue, scene):
    """Collateral constraints: while a task runs, the objects that neither it nor a task
    that may run beside it changes must stay where they were when it started."""
    goal = [Fact("on", (R, G)), Fact("in", ("blue_block", "right_bin"))]
    plan = plan_goal("x", goal, scene.initial_facts(), scene, catalogue)
    collateral = {
        (t.skill, t.args["object"]): {c.fact for c in t.constraints if c.kind == "collateral"}
        for t in plan.tasks
    }
    kinds = [c.phase for t in plan.tasks for c in t.constraints if c.kind == "collateral"]
    assert kinds and set(kinds) == {"during"}
    # The arms work side by side: blue is busy beside every red task and the other way
    # round; green only once the red block is put on it; yellow never.
    assert collateral == {
        ("pick", R): {f"at({G},left_side)", "at(yellow_block,right_side)"},
        ("place", R): {"at(yellow_block,right_side)"},
        ("pick", "blue_block"): {"at(yellow_block,right_side)"},
        ("place", "blue_block"): {"at(yellow_block,right_side)"},
    }
    tower = plan_goal(
        "x",
        [Fact("on", ("yellow_block", "blue_block")), Fact("in", (R, "right_bin"))],
        scene.initial_facts(),
        scene,
        catalogue,
        {Fact("on", ("yellow_block", "blue_block")): 0, Fact("in", (R, "right_bin")): 1},
    )
    later = [t for t in tower.tasks if t.args.get("object") == R]
    # Once the tower stands, every move of the red block (the hand-over) keeps it standing.
    for task in later:
        facts = {c.fact for c in task.constraints if c.kind == "collateral"}
        assert "on(yellow_block,blue_block)" in facts, (task.id, facts)


def test_zone_placement_checks_the_put_fact_only(catalogue, scene):
    plan = plan_goal(
        "x", [Fact("at", (R, "center_zone"))], scene.initial_facts(), scene, catalogue
    )
    after = [c.fact for c in plan.tasks[-1].constraints if c.phase == "after"]
    assert after == [f"at({R},center_zone)"]


def test_same_constraints_as_the_symbolic_planner_on_the_bench(catalogue, scene):
    for _, command, _ in TASKS:
        goal, steps, assign = meaning(command, scene)
        state = scene.initial_facts()
        ours = plan_goal(command, goal, state, scene, catalogue, steps, assign)
        theirs = plan_from_state(command, goal, state, scene, catalogue, steps, assign)

        def kinds(plan: TaskPlan) -> set[tuple]:
            return {
                (t.skill, t.robot, tuple(sorted(t.args.items())), c.phase, c.fact)
                for t in plan.tasks
                for c in t.constraints
                if c.kind == "task"  # collateral checks are the general planner's own
            }

        common = {(t.skill, t.robot, tuple(sorted(t.args.items()))) for t in theirs.tasks}
        mine = {k for k in kinds(ours) if k[:3] in common}
        assert mine == {k for k in kinds(theirs) if k[:3] in {k2[:3] for k2 in mine}}, command


# --- grounding and successors ------------------------------------------------------------


def _task(scene: Scene, catalogue: Any) -> Any:
    from robot_planner.planning.lifted import compile_model
    from robot_planner.planning.search import GroundTask

    return GroundTask(compile_model(scene, catalogue))


def test_grounding_is_every_binding_that_meets_the_static_conditions(catalogue, scene):
    """The join on static facts drops exactly the bindings a plain enumeration of every
    parameter's names would drop, and keeps them in that enumeration's order."""
    from itertools import product

    task = _task(scene, catalogue)
    model, static = task.model, task.model.static_facts()
    for schema in model.actions:
        names = [v for v, _ in schema.params]
        expected = []
        for values in product(*(model.names_of(t) for _, t in schema.params)):
            binding = dict(zip(names, values, strict=True))
            if any(binding[a] == binding[b] for a, b in schema.distinct):
                continue
            if all(
                Fact(a.predicate, a.bind(binding).args) in static
                for a in schema.pre
                if a.predicate in model.static
            ):
                expected.append(values)
        got = [a.values for a in task.actions if a.schema is schema]
        assert sorted(got) == sorted(expected), schema.name
        for action in task.actions:
            if action.schema is schema:
                assert task.lookup(schema.name, action.binding) is action
                assert action.robot == action.binding[schema.robot]


def test_successors_are_the_applicable_actions_in_one_order(catalogue, scene):
    """The successor index, whichever state it learnt from, gives exactly the applicable
    actions, always in the same order (search ties depend on it)."""
    observed = [
        scene.initial_facts(),
        table_state(red="blue_block", green="left_bin", yellow="center_zone"),
        table_state(blue="red_block", yellow="right_bin"),
        table_state() - facts(f"at({R},left_side)", f"on_table({R})", "gripper_empty(left_arm)")
        | facts(f"holding(left_arm,{R})"),
    ]
    first, second = _task(scene, catalogue), _task(scene, catalogue)
    states = [first.mask(first.model.state(s)) for s in observed]
    assert [second.mask(second.model.state(s)) for s in observed] == states
    first.successors(states[0], frozenset())  # each index learns from a different state
    second.successors(states[-1], frozenset())
    for state in states:
        found = first.successors(state, frozenset())
        assert found and found == second.successors(state, frozenset())
        assert {a.index for a in found} == {
            a.index for a in first.actions if first.applicable(state, a)
        }
        banned = frozenset(a.index for a in found[::2])
        assert first.successors(state, banned) == found[1::2]


# --- no world in the code ------------------------------------------------------------------


@pytest.mark.parametrize("module", ["general.py", "lifted.py", "search.py", "pddl.py"])
def test_planner_code_names_nothing_of_the_tabletop(module, scene):
    """No string in the code (docstrings aside) is a name from the tabletop domain or
    scene: skills, predicates, types, robot kinds, robots, objects, places, colours."""
    domain = scene.domain
    names = {*domain.skills, *domain.predicates, *domain.types, *domain.robot_kinds}
    names |= {*scene.robots, *scene.objects, *scene.places}
    names |= {spec.color for spec in scene.objects.values() if spec.color}
    tree = ast.parse((PLANNING / module).read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value.strip("?*_ ") in names
    }
    assert not found, f"{module} names {sorted(found)}"


@pytest.mark.parametrize(
    "command",
    [
        "put all blocks in the center zone",
        "put all the blocks in the left bin",
        "put all the blocks in the right bin",
    ],
)
def test_no_stacking_nobody_asked_for(scene: Scene, command: str) -> None:
    """A tower stands in its zone, so stacking is *a* way to put blocks "in" a zone or to
    hand two over at once -- one that makes blocks wait on each other and can topple. The
    search keeps to plans that stack nothing the goal does not ask for."""
    meaning = understand_command(command, scene)
    catalogue = scene.domain.catalogue
    plan = plan_goal(command, meaning.goal, scene.initial_facts(), scene, catalogue)
    assert validate_plan(plan, catalogue, scene, scene.initial_facts()).ok
    onto = [t.args["target"] for t in plan.tasks if t.skill == "place"]
    assert not [target for target in onto if target in scene.objects], plan.tasks
    if "center" in command:  # both arms work at once: two rounds of pick + place
        assert estimated_makespan(plan, catalogue) == pytest.approx(14.2)


def test_a_block_seen_outside_every_place_is_told_apart_from_an_unseen_one(catalogue, scene):
    """A dropped block on the table beside every zone (where the arms' bases keep them
    from reaching down) is seen; the failure says where it is, not that it is unknown."""
    observed = table_state() - facts(f"at({R},left_side)")
    with pytest.raises(PlanningError) as info:
        plan_goal("x", [Fact("in", (R, "left_bin"))], observed, scene, catalogue)
    message = str(info.value)
    assert f"{R} is in no place of the scene (on_table({R})), so no robot is known" in message
    assert "unknown" not in message and "\n" not in message
