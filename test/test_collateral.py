"""Collateral checks in the simulator: a tower the running task does not touch is
knocked over, and the monitor notices within a check period and re-plans."""

from __future__ import annotations

import pytest

from robot_planner.bench.clutter import random_layout, with_starts
from robot_planner.execution.executor import Outcome
from robot_planner.execution.supervisor import Supervisor
from robot_planner.monitor.detector import DetectorConfig
from robot_planner.plan.model import Constraint, Task, TaskPlan
from robot_planner.planning.base import PlanRequest
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.disturbances import DisturbanceConfig, Knock
from robot_planner.sim.oracle import OracleVqa
from robot_planner.sim.truth import ground_truth
from robot_planner.sim.world import SimWorld
from robot_planner.system import SystemOptions, build_sim_system
from robot_planner.world.facts import Fact


def _knocked_run(scene, collateral: bool):
    scene = with_starts(scene, {"blue_block": "yellow_block"})  # a tower on the right
    world = SimWorld(scene, seed=0)
    knock = Knock(time_s=2.0, object="blue_block", speed=0.8)
    adapter = PyBulletRobotAdapter(world, DisturbanceConfig(knocks=(knock,)), self_check=False)
    planner = OfflinePlanner(scene.domain.catalogue, scene)
    command = "put the red block in the left bin"
    first = planner.plan(PlanRequest(command, adapter.read_state())).plan
    camera = world.camera("overhead", 64, 48)
    supervisor = Supervisor(
        planner,
        adapter,
        scene.domain.catalogue,
        OracleVqa(world),
        lambda: world.observe(camera),
        detector_config=DetectorConfig(collateral=collateral),
    )
    result = supervisor.run(command, first, max_sim_time_s=120)
    return world, adapter, result


def test_a_knocked_tower_beside_the_task_is_noticed_and_replanned(scene):
    world, adapter, result = _knocked_run(scene, collateral=True)
    knocked = next(e for e in adapter.events if e["kind"] == "knock")
    alarm = result.misalignments[0]
    # Whichever of the blue block's facts the knock broke first: it left the tower and
    # the right side.
    assert alarm.fact in ("on(blue_block,yellow_block)", "at(blue_block,right_side)")
    assert alarm.phase == "during"
    # One check period (0.2 s) to the first contrary answer, 0.1 s to confirm it.
    assert 0 <= alarm.stamp - knocked["time"] <= 0.35
    assert result.replans >= 1
    assert result.outcome is Outcome.SUCCEEDED, result.reason
    assert Fact.parse("in(red_block,left_bin)") in ground_truth(world)
    world.close()


def test_without_collateral_checks_the_knock_goes_unnoticed(scene):
    world, adapter, result = _knocked_run(scene, collateral=False)
    assert any(e["kind"] == "knock" for e in adapter.events)
    assert Fact.parse("on(blue_block,yellow_block)") not in ground_truth(world)
    assert not result.misalignments and result.replans == 0
    world.close()


def test_random_layouts_are_valid_scenes_and_vary_with_the_seed(scene):
    layouts = [random_layout(scene, seed) for seed in range(12)]
    starts = [tuple(o.start for o in s.objects.values()) for s in layouts]
    assert len(set(starts)) > 6
    for variant in layouts:
        assert set(variant.objects) == set(scene.objects)
        for spec in variant.objects.values():
            assert spec.start in variant.places or spec.start in variant.objects
            assert spec.start not in ("left_bin", "right_bin")
        # Towers of two at most, and the symbolic start is consistent.
        below = [s.start for s in variant.objects.values() if s.start in variant.objects]
        assert all(variant.objects[b].start in variant.places for b in below)
        assert not variant.domain.contradictions(variant.initial_facts())
    assert random_layout(scene, 3) == random_layout(scene, 3)


@pytest.mark.slow
def test_a_long_nominal_session_raises_no_alarm(scene):
    """Several commands in one world with the geometric monitor on, one of them a long
    wait while a block is held: nothing is disturbed, so nothing may alarm (no false
    alarm from the task checks, the collateral checks or the goal checks)."""
    catalogue = scene.domain.catalogue
    planner = OfflinePlanner(catalogue, scene)
    with build_sim_system(scene, catalogue, SystemOptions(seed=2)) as system:
        held = Fact.parse("holding(left_arm,red_block)")
        wait = TaskPlan(
            command="hold it for a while",
            goal=[str(held)],
            tasks=[
                Task(
                    id="t1",
                    skill="wait",
                    robot="left_arm",
                    args={"seconds": 20},
                    constraints=[
                        Constraint(
                            phase="during",
                            fact=str(held),
                            question=scene.domain.question_for(held),
                        )
                    ],
                )
            ],
        )
        steps: list[str | TaskPlan] = [
            "pick up the red block",
            wait,
            "put the red block in the left bin",
            "build a tower in the center zone with blue at the bottom and yellow on top",
            "put the green block in the right bin",
        ]
        checks = 0
        for step in steps:
            state = system.adapter.read_state()
            plan = step if isinstance(step, TaskPlan) else planner.plan_text(step, state)
            result = system.supervisor(planner).run(plan.command, plan, state=state)
            assert result.outcome is Outcome.SUCCEEDED, (plan.command, result.reason)
            assert result.misalignments == [], (plan.command, result.misalignments)
            assert result.replans == 0
            checks += result.monitor_checks
        assert checks > 100  # the monitor did look, all along
        truth = ground_truth(system.simulation.world)
        for fact in ("in(red_block,left_bin)", "on(yellow_block,blue_block)"):
            assert Fact.parse(fact) in truth
