"""Compiler and executor: dependency gating, concurrency, halting, timeouts, failures."""

from __future__ import annotations

from collections.abc import Hashable

import py_trees
import pytest
from conftest import plan, task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_planner.adapters.base import SkillState, SkillStatus
from robot_planner.adapters.fake import FakeRobotAdapter
from robot_planner.bt.compiler import CompileError, compile_plan
from robot_planner.bt.ledger import TaskState
from robot_planner.execution.executor import Outcome, PlanExecutor
from robot_planner.plan.model import TaskPlan
from robot_planner.plan.validation import require_valid
from robot_planner.world.scene import Scene


def run(data, catalogue, scene, adapter=None, **kwargs):
    parsed = require_valid(data, catalogue, scene)
    adapter = adapter or FakeRobotAdapter(catalogue, scene)
    executor = PlanExecutor(parsed, catalogue, adapter, period_s=0.1, **kwargs)
    return executor, executor.run(max_sim_time_s=1000), adapter


def events(result, kind):
    return [e for e in result.events if e.kind == kind]


# --- structure -----------------------------------------------------------------------


def test_tree_shape_one_lane_per_robot(handover, catalogue, scene, fake):
    compiled = compile_plan(require_valid(handover, catalogue, scene), catalogue, fake)
    root = compiled.root
    assert isinstance(root, py_trees.composites.Parallel)
    assert [lane.name for lane in root.children] == ["left_arm", "right_arm"]
    assert [node.name for node in root.children[0].children] == ["t1", "t2", "t3"]
    gate, skill = root.children[1].children[0].children
    assert gate.name == "wait for t2"
    assert skill.name == "t4: pick(object=red_block)"


def test_compile_refuses_skill_the_adapter_lacks(handover, catalogue, scene, fake):
    fake.supported_skills = frozenset({"pick"})
    with pytest.raises(CompileError, match="does not implement 'place'"):
        compile_plan(require_valid(handover, catalogue, scene), catalogue, fake)


def test_compile_refuses_skill_outside_the_catalogue(catalogue, fake):
    rogue = TaskPlan.model_validate({"tasks": [task("t1", "rm_rf", "left_arm")]})
    with pytest.raises(CompileError, match="not in the catalogue"):
        compile_plan(rogue, catalogue, fake)


# --- gating --------------------------------------------------------------------------


def test_cross_robot_dependency_is_respected(handover, catalogue, scene):
    _, result, _ = run(handover, catalogue, scene)
    assert result.outcome is Outcome.SUCCEEDED and result.goal_satisfied
    t = result.tasks
    assert t["t4"].started_at >= t["t2"].ended_at  # the right arm waited for the hand-over
    # ... but not for the left arm's unrelated move_home, which ran at the same time.
    assert t["t4"].started_at < t["t3"].ended_at
    assert t["t3"].started_at == pytest.approx(t["t4"].started_at)


def test_diamond(catalogue, scene):
    data = plan(
        task("a", "wait", "left_arm", seconds=1),
        task("b", "wait", "left_arm", ("a",), seconds=2),
        task("c", "wait", "right_arm", ("a",), seconds=3),
        task("d", "wait", "right_arm", ("b", "c"), seconds=1),
    )
    _, result, _ = run(data, catalogue, scene)
    t = result.tasks
    assert result.outcome is Outcome.SUCCEEDED
    assert t["c"].started_at == pytest.approx(t["a"].ended_at)
    assert t["d"].started_at >= max(t["b"].ended_at, t["c"].ended_at) - 1e-9
    assert t["d"].started_at == pytest.approx(4.0, abs=0.11)


def test_parallel_branches_run_concurrently(catalogue, scene):
    data = plan(
        task("l1", "pick", "left_arm", object="green_block"),
        task("l2", "place", "left_arm", ("l1",), object="green_block", target="left_bin"),
        task("r1", "pick", "right_arm", object="yellow_block"),
        task("r2", "place", "right_arm", ("r1",), object="yellow_block", target="blue_block"),
        goal=("in(green_block,left_bin)", "on(yellow_block,blue_block)"),
    )
    _, result, adapter = run(data, catalogue, scene)
    assert result.outcome is Outcome.SUCCEEDED and result.goal_satisfied
    assert adapter.max_concurrency() == 2
    # Two 2-skill branches of 1 s skills in parallel: 2 s, not 4 s.
    assert result.sim_time_s == pytest.approx(2.0, abs=0.21)


def test_a_robot_never_runs_two_skills_at_once(catalogue, scene):
    data = plan(*[task(f"w{i}", "wait", "left_arm", seconds=1) for i in range(4)])
    _, result, adapter = run(data, catalogue, scene)
    assert result.outcome is Outcome.SUCCEEDED
    assert adapter.max_concurrency() == 1
    assert result.sim_time_s == pytest.approx(4.0, abs=0.21)


# --- halting, timeouts, failures -----------------------------------------------------


def test_cancel_halts_every_running_skill(catalogue, scene):
    data = plan(
        task("l", "wait", "left_arm", seconds=10),
        task("r", "wait", "right_arm", seconds=10),
        task("after", "move_home", "left_arm", ("l", "r")),
    )
    parsed = require_valid(data, catalogue, scene)
    adapter = FakeRobotAdapter(catalogue, scene)
    executor = PlanExecutor(parsed, catalogue, adapter, period_s=0.1)
    for _ in range(5):
        executor.tick()
    assert {c.state for c in adapter.calls} == {SkillState.RUNNING}
    executor.cancel("operator pressed stop")
    assert [c.state for c in adapter.calls] == [SkillState.CANCELLED, SkillState.CANCELLED]
    result = executor.result()
    assert result.outcome is Outcome.CANCELLED and result.reason == "operator pressed stop"
    assert {e.task for e in events(result, "task_cancelled")} == {"l", "r"}
    assert events(result, "plan_cancelled")[0].details["not_started"] == ["after"]
    assert executor.tick() is Outcome.CANCELLED  # nothing starts after a cancel
    assert len(adapter.calls) == 2


def test_timeout_fails_the_task_and_cancels_the_skill(catalogue, scene):
    adapter = FakeRobotAdapter(catalogue, scene, hangs={"left_arm:move_home"})
    _, result, _ = run(plan(task("t1", "move_home", "left_arm")), catalogue, scene, adapter)
    assert result.outcome is Outcome.FAILED
    record = result.tasks["t1"]
    assert record.state is TaskState.FAILED
    assert record.reason == "timeout: move_home took over 30 s"
    assert record.ended_at == pytest.approx(30.0, abs=0.21)
    assert adapter.calls[0].state is SkillState.CANCELLED


def test_failed_task_fails_its_dependants_with_the_reason(handover, catalogue, scene):
    adapter = FakeRobotAdapter(catalogue, scene, failures={"left_arm:place": "grasp slipped"})
    _, result, _ = run(handover, catalogue, scene, adapter)
    assert result.outcome is Outcome.FAILED
    assert result.reason == "task t2 (place on left_arm) failed: grasp slipped"
    t = result.tasks
    assert t["t2"].reason == "grasp slipped"
    for dependant in ("t3", "t4"):
        assert t[dependant].state is TaskState.FAILED
        assert t[dependant].reason == "dependency t2 failed: grasp slipped"
    assert t["t5"].reason == "dependency t4 failed: grasp slipped"
    assert not any(c.skill == "pick" and c.robot == "right_arm" for c in adapter.calls)


def test_halt_policy_cancels_other_robots(catalogue, scene):
    data = plan(
        task("l", "pick", "left_arm", object="red_block"),
        task("r", "wait", "right_arm", seconds=30),
    )
    adapter = FakeRobotAdapter(catalogue, scene, failures={"pick": "grasp missed"})
    _, result, _ = run(data, catalogue, scene, adapter)
    assert result.outcome is Outcome.FAILED
    assert result.tasks["r"].state is TaskState.CANCELLED
    assert result.sim_time_s < 2.0


def test_continue_policy_finishes_independent_work(catalogue, scene):
    data = plan(
        task("l1", "pick", "left_arm", object="red_block"),
        task("l2", "place", "left_arm", ("l1",), object="red_block", target="left_bin"),
        task("r1", "wait", "right_arm", seconds=3),
        task("r2", "move_home", "right_arm", ("r1",)),
    )
    adapter = FakeRobotAdapter(catalogue, scene, failures={"pick": "grasp missed"})
    _, result, _ = run(data, catalogue, scene, adapter, failure_policy="continue")
    assert result.outcome is Outcome.FAILED
    assert result.tasks["r2"].state is TaskState.SUCCEEDED
    assert result.tasks["l2"].reason == "dependency l1 failed: grasp missed"


class _BrokenAdapter(FakeRobotAdapter):
    """Raises on start for one skill and answers nonsense to polls for another."""

    def start_skill(self, robot, skill, args) -> Hashable:
        if skill == "move_home":
            raise ConnectionError("controller offline")
        return super().start_skill(robot, skill, args)

    def poll(self, handle) -> SkillStatus:
        status = super().poll(handle)
        if self._by_handle[handle].skill == "wait":
            return "done!"  # type: ignore[return-value]
        return status


def test_adapter_start_error_fails_the_task(catalogue, scene):
    adapter = _BrokenAdapter(catalogue, scene)
    _, result, _ = run(plan(task("t1", "move_home", "left_arm")), catalogue, scene, adapter)
    assert result.tasks["t1"].reason == "could not start move_home: controller offline"


def test_adapter_nonsense_status_fails_the_task(catalogue, scene):
    adapter = _BrokenAdapter(catalogue, scene)
    _, result, _ = run(plan(task("t1", "wait", "left_arm", seconds=1)), catalogue, scene, adapter)
    assert result.outcome is Outcome.FAILED
    assert "returned str, not SkillStatus" in result.tasks["t1"].reason


def test_empty_plan_succeeds_at_once(catalogue, scene):
    _, result, adapter = run(plan(), catalogue, scene)
    assert result.outcome is Outcome.SUCCEEDED and adapter.calls == []


def test_time_limit_fails_and_cancels(catalogue, scene):
    parsed = require_valid(plan(task("t1", "wait", "left_arm", seconds=100)), catalogue, scene)
    adapter = FakeRobotAdapter(catalogue, scene)
    result = PlanExecutor(parsed, catalogue, adapter, period_s=0.5).run(max_sim_time_s=5)
    assert result.outcome is Outcome.FAILED and result.reason.startswith("time limit")
    assert adapter.calls[0].state is SkillState.CANCELLED


def test_events_are_ordered_and_json_friendly(handover, catalogue, scene):
    _, result, _ = run(handover, catalogue, scene)
    kinds = [e.kind for e in result.events]
    assert kinds[0] == "plan_started" and kinds[-1] == "plan_succeeded"
    assert kinds.count("task_started") == kinds.count("task_succeeded") == 5
    times = [e.time for e in result.events]
    assert times == sorted(times)
    assert result.to_dict()["events"][1] == {
        "event": "task_started",
        "time": 0.0,
        "task": "t1",
        "robot": "left_arm",
        "skill": "pick",
    }


# --- property: random DAGs never start a task before its dependencies succeeded ------


THREE_ARMS = Scene.model_validate(
    {
        "name": "three_arms",
        "robots": {
            name: {"kind": "arm", "model": "m", "base_position": [0, 0, 0], "reach": ["z"]}
            for name in ("a1", "a2", "a3")
        },
        "objects": {},
        "places": {"z": {"type": "zone", "center": [0, 0], "size": [1, 1]}},
    }
)


@st.composite
def random_dags(draw):
    n = draw(st.integers(min_value=1, max_value=25))
    tasks = []
    for i in range(n):
        deps = (
            draw(
                st.lists(
                    st.integers(min_value=0, max_value=max(i - 1, 0)), max_size=3, unique=True
                )
            )
            if i
            else []
        )
        tasks.append(
            {
                "id": f"t{i}",
                "skill": draw(st.sampled_from(["wait", "move_home"])),
                "robot": draw(st.sampled_from(["a1", "a2", "a3"])),
                "depends_on": [f"t{d}" for d in deps],
                "duration": draw(st.sampled_from([0.1, 0.3, 0.5, 1.0, 2.0])),
            }
        )
    order = draw(st.permutations(list(range(n))))  # plan order need not be topological
    return [tasks[i] for i in order]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_dags())
def test_random_dags_never_start_a_task_early(catalogue, specs):
    data = plan(
        *[
            task(
                s["id"],
                s["skill"],
                s["robot"],
                tuple(s["depends_on"]),
                **({"seconds": s["duration"]} if s["skill"] == "wait" else {}),
            )
            for s in specs
        ]
    )
    parsed = require_valid(data, catalogue, THREE_ARMS)
    adapter = FakeRobotAdapter(catalogue, THREE_ARMS, default_duration=0.4)
    executor = PlanExecutor(parsed, catalogue, adapter, period_s=0.1)
    started: list[str] = []
    early: list[tuple[str, str, str]] = []

    def check(event):
        # Listener exceptions are contained by the executor, so collect, assert later.
        if event.kind == "task_started":
            started.append(event.task)
            for dep in parsed.task(event.task).depends_on:
                state = executor.ledger.records[dep].state
                if state is not TaskState.SUCCEEDED:
                    early.append((event.task, dep, state.value))

    executor.add_listener(check)
    result = executor.run(max_sim_time_s=500)
    assert early == []
    assert result.outcome is Outcome.SUCCEEDED
    assert sorted(started) == sorted(s["id"] for s in specs)
    assert adapter.max_concurrency() <= 3
