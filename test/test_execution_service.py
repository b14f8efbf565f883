"""The executor's command execution without ROS: the plan queue, cancel and pre-emption,
misalignments, the re-plan exchange, the perceived state and the execution thread.

Nothing here sleeps or spins a second thread (except the one test of `start`): plans run
on the test's thread through `run_once()`, the service's clock is the scripted robots'
time, and what happens on other threads in the node (a cancel, a misalignment, the
planner's answer) is scripted to happen while robot time passes (`Robots.at`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import pytest

from robot_planner.adapters.base import SkillState, SkillStatus
from robot_planner.adapters.fake import FakeRobotAdapter
from robot_planner.monitor.base import VqaAnswer
from robot_planner.monitor.detector import Misalignment
from robot_planner.resources import scene_path
from robot_planner.service.events import StatusEvent, make_event
from robot_planner.service.execution_service import (
    STALE_PLAN_S,
    ExecutionService,
    ExecutionSettings,
)
from robot_planner.system import UNMONITORED, SystemOptions, build_system
from robot_planner.world.facts import Fact, format_facts
from robot_planner.world.scene import Scene, load_scene

#: Unix seconds the service "started" at (plans are issued after it).
STARTED = 1_700_000_000.0
HOLDING_RED = "holding(left_arm,red_block)"
PICK = {"id": "t1", "skill": "pick", "robot": "left_arm", "args": {"object": "red_block"}}
PLACE = {
    "id": "t2",
    "skill": "place",
    "robot": "left_arm",
    "args": {"object": "red_block", "target": "left_bin"},
    "depends_on": ["t1"],
}
PICK_AND_PLACE = {
    "command": "put the red block in the left bin",
    "goal": ["in(red_block,left_bin)"],
    "tasks": [PICK, PLACE],
}
PICK_ONLY = {"command": "pick up the red block", "goal": [HOLDING_RED], "tasks": [PICK]}
#: A plan for the other arm (the left one may be stuck in a scripted pick).
PICK_BLUE = {
    "command": "pick up the blue block",
    "goal": [],
    "tasks": [{**PICK, "robot": "right_arm", "args": {"object": "blue_block"}}],
}


class Robots:
    """Scripted robots (`FakeRobotAdapter`) whose time is the service's clock.

    `at(t, action)` runs `action` once robot time reaches `t`: as a ROS callback would,
    between two ticks of the execution thread. Running skills named in `phases` report
    that phase; `broken` makes `advance` raise.
    """

    def __init__(self, inner: FakeRobotAdapter, phases: Mapping[str, str] | None = None):
        self.inner = inner
        self.supported_skills = inner.supported_skills
        self.phases = dict(phases or {})
        self.broken: Exception | None = None
        self._due: list[tuple[float, Callable[[], None]]] = []

    def at(self, t: float, action: Callable[[], None]) -> None:
        self._due.append((t, action))

    def start_skill(self, robot: str, skill: str, args: Mapping[str, Any]) -> Hashable:
        return self.inner.start_skill(robot, skill, args)

    def poll(self, handle: Hashable) -> SkillStatus:
        status = self.inner.poll(handle)
        skill = self.inner._call(handle).skill
        if status.state is SkillState.RUNNING and skill in self.phases:
            return SkillStatus(status.state, status.progress, phase=self.phases[skill])
        return status

    def cancel(self, handle: Hashable) -> None:
        self.inner.cancel(handle)

    def read_state(self) -> frozenset[Fact]:
        return self.inner.read_state()

    def now(self) -> float:
        return self.inner.now()

    def advance(self, dt: float) -> None:
        if self.broken is not None:
            raise self.broken
        self.inner.advance(dt)
        due = [(t, action) for t, action in self._due if t <= self.now() + 1e-9]
        self._due = [entry for entry in self._due if entry not in due]
        for _, action in due:
            action()


class Log:
    """A log port that keeps the lines."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def debug(self, message: str) -> None:
        self.lines.append(("debug", message))

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))

    def error(self, message: str) -> None:
        self.lines.append(("error", message))


class Harness:
    """The service on scripted robots, with every output port recorded."""

    def __init__(
        self,
        *,
        monitored: bool = False,
        max_replans: int = 0,
        hangs: tuple[str, ...] = (),
        failures: Mapping[str, str] | None = None,
        phases: Mapping[str, str] | None = None,
        replan_timeout_s: float = 5.0,
        perception_timeout_s: float = 0.5,
        disturbances: Callable[[], list[Any]] | None = None,
    ) -> None:
        self.scene: Scene = load_scene(scene_path("tabletop"))
        catalogue = self.scene.domain.catalogue
        inner = FakeRobotAdapter(
            catalogue, self.scene, hangs=frozenset(hangs), failures=dict(failures or {})
        )
        self.robots = Robots(inner, phases)
        options = SystemOptions(monitor=UNMONITORED, max_replans=max_replans, period_s=0.05)
        system = build_system(self.scene, catalogue, self.robots, options)  # type: ignore[arg-type]
        self.events: list[StatusEvent] = []
        self.requests: list[dict[str, Any]] = []
        self.states: list[dict[str, Any]] = []
        self.trees: list[str] = []
        self.log = Log()
        #: Set by a command's last event (the one test with the execution thread waits).
        self.ended = threading.Event()
        #: Called with each re-plan request, as the planner node would answer it.
        self.planner: Callable[[dict[str, Any]], None] | None = None
        self.service = ExecutionService(
            system=system,
            settings=ExecutionSettings(
                monitored=monitored,
                verify_s=0.2,
                max_command_s=120.0,
                replan_timeout_s=replan_timeout_s,
                perception_timeout_s=perception_timeout_s,
            ),
            status=self.status,
            publish_replan=self._replan,
            publish_state=self.states.append,
            publish_tree=self.trees.append,
            clock=self.robots.now,
            started=STARTED,
            disturbances=disturbances,
            log=self.log,
        )

    def status(self, command_id: str, state: str, **details: Any) -> StatusEvent:
        event = make_event(command_id, state, "executor", details)
        self.events.append(event)
        if event.final:
            self.ended.set()
        return event

    def _replan(self, message: dict[str, Any]) -> None:
        self.requests.append(message)
        if self.planner is not None:
            self.planner(message)

    def send(self, command_id: str, plan: dict[str, Any] | None, revision: int = 0, **more: Any):
        """The planner's plan message (`plan` None: no plan, only `more`)."""
        message: dict[str, Any] = {
            "command_id": command_id,
            "revision": revision,
            "issued": STARTED + 1.0,
            **more,
        }
        if plan is not None:
            message["plan"] = plan
        self.service.plan_message(json.dumps(message))

    def of(self, command_id: str, state: str | None = None) -> list[StatusEvent]:
        return [
            e
            for e in self.events
            if e.command_id == command_id and (state is None or e.state == state)
        ]

    def states_of(self, command_id: str) -> list[str]:
        return [e.state for e in self.of(command_id)]

    def final(self, command_id: str) -> StatusEvent:
        [end] = [e for e in self.of(command_id) if e.state in ("done", "failed", "cancelled")]
        return end

    def warnings(self) -> list[str]:
        return [line for level, line in self.log.lines if level == "warning"]


def misalignment(fact: str = HOLDING_RED, task: str = "t1") -> Misalignment:
    """The monitor's finding: `fact` (of `task` on the left arm) answered no twice."""
    no = VqaAnswer(False, 0.9, "scripted")
    return Misalignment(task, "left_arm", fact, "during", True, 0.0, (no, no), "Is it held?")


def test_the_service_imports_no_ros_and_no_simulator() -> None:
    code = (
        "import sys, robot_planner.service.execution_service\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('rclpy', 'std_msgs', 'robot_planner_interfaces', 'rosidl_runtime_py', "
        "'pybullet', 'pybullet_data'))\n"
        "print(found)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert found.stdout.strip() == "[]"


# --- plans in ---------------------------------------------------------------------------


def test_a_plan_runs_to_done_with_its_facts_and_the_state_and_tree_are_published() -> None:
    h = Harness()
    h.send("a", PICK_AND_PLACE)
    assert h.service.run_once()
    assert h.states_of("a") == [
        "task_started",
        "task_succeeded",
        "task_started",
        "task_succeeded",
        "done",
    ]
    done = h.final("a")
    assert "in(red_block,left_bin)" in done.details["facts"]
    assert done.details["revision"] == 0 and "robot_time" in done.details
    assert "disturbances" not in done.details  # hardware: none to report
    # After the command: the robots' own state, and the final tree with every task done.
    assert h.states[-1] == {
        "facts": format_facts(h.robots.read_state()),
        "source": "executor",
    }
    assert "t2: place" in h.trees[-1] and "[✓]" in h.trees[-1]
    assert h.service.current is None and h.service.supervisor is None


def test_an_invalid_plan_is_an_error_and_moves_nothing() -> None:
    h = Harness()
    h.send("bad", {"command": "x", "goal": [], "tasks": [{"id": "t1", "skill": "fly"}]})
    h.service.run_once()
    [error] = h.of("bad", "error")
    assert "plan rejected by the executor" in error.details["reason"]
    assert h.robots.inner.calls == []


def test_a_plan_message_without_a_plan_is_an_error_with_its_reason() -> None:
    h = Harness()
    h.send("none", None, error="no plan reaches the goal")
    h.service.run_once()
    [error] = h.of("none", "error")
    assert error.details["reason"] == "no plan reaches the goal"


@pytest.mark.parametrize(
    "text", ["{not json", "[1,2]", "{}", '"text"', '{"command_id": "a", "revision": "x"}']
)
def test_a_malformed_plan_message_is_an_error_about_no_command(text: str) -> None:
    h = Harness()
    h.service.plan_message(text)
    [error] = h.of("", "error")
    assert error.details["reason"].startswith("malformed plan message")
    assert h.service.run_once() and h.robots.inner.calls == []  # nothing was queued


def test_a_plan_latched_before_start_up_is_never_replayed_and_ids_run_once() -> None:
    h = Harness()
    stale = {"command_id": "stale", "revision": 0, "issued": STARTED - STALE_PLAN_S - 0.1}
    h.service.plan_message(json.dumps({**stale, "plan": PICK_ONLY}))
    h.send("a", PICK_ONLY)
    h.send("a", PICK_AND_PLACE)  # the same id again (a latched plan re-delivered)
    h.service.run_once()
    h.service.run_once()
    assert h.of("stale") == []
    assert h.states_of("a") == ["task_started", "task_succeeded", "done"]
    assert [c.skill for c in h.robots.inner.calls] == ["pick"]
    assert any("issued before start-up" in line for _, line in h.log.lines)


def test_plans_run_one_at_a_time_in_the_order_they_arrive() -> None:
    h = Harness()
    h.send("a", PICK_ONLY)
    h.send("b", PICK_BLUE)
    h.service.run_once()
    assert h.states_of("a")[-1] == "done" and h.of("b") == []
    h.service.run_once()
    assert h.states_of("b")[-1] == "done"
    assert [c.robot for c in h.robots.inner.calls] == ["left_arm", "right_arm"]


# --- cancel and pre-emption -------------------------------------------------------------


def test_cancel_halts_the_running_plan_and_cancels_the_waiting_ones() -> None:
    h = Harness(hangs=("left_arm:pick",))
    h.send("a", PICK_ONLY)
    h.send("b", PICK_ONLY | {"command": "again"})
    h.robots.at(1.0, h.service.cancel_all)
    h.service.run_once()
    assert h.final("a").state == "cancelled"
    assert h.final("a").details["reason"] == "cancelled by request"
    assert h.of("a", "task_cancelled")
    [b] = h.of("b")
    assert (b.state, b.details["reason"]) == ("cancelled", "cancelled by request")
    assert h.service.run_once() and len(h.robots.inner.calls) == 1  # b never started
    assert any("cancel: halting a" in line for line in h.warnings())


def test_a_cancel_with_nothing_running_drains_the_queue_only() -> None:
    h = Harness()
    h.send("a", PICK_ONLY)
    h.service.cancel_all()
    assert h.states_of("a") == ["cancelled"]
    assert h.warnings() == []


def test_a_command_that_preempts_the_running_one_halts_it() -> None:
    h = Harness(hangs=("left_arm:pick",))
    h.send("a", PICK_ONLY)
    other = make_event("c", "accepted", "planner", {"text": "x", "preempts": "someone"})
    preempt = make_event("b", "accepted", "planner", {"text": "x", "preempts": "a"})
    h.robots.at(0.5, lambda: h.service.status_event(other))  # not the running command
    h.robots.at(1.0, lambda: h.service.status_event(preempt))
    h.service.run_once()
    end = h.final("a")
    assert (end.state, end.details["reason"]) == ("cancelled", "preempted by b")
    assert end.details["robot_time"] == pytest.approx(1.0, abs=0.11)


def test_the_monitor_failing_under_the_fail_policy_fails_the_command() -> None:
    h = Harness(hangs=("left_arm:pick",))
    h.send("a", PICK_ONLY)
    go_on = make_event("a", "monitor_degraded", "monitor", {"policy": "continue"})
    fail = make_event(
        "a", "monitor_degraded", "monitor", {"policy": "fail", "reason": "VQA timed out"}
    )
    h.robots.at(0.5, lambda: h.service.status_event(go_on))
    h.robots.at(1.0, lambda: h.service.status_event(fail))
    h.service.run_once()
    end = h.final("a")
    assert end.state == "failed"
    assert end.details["reason"] == "halted: VQA timed out (on_vqa_error: fail)"
    assert end.details["robot_time"] == pytest.approx(1.0, abs=0.11)


# --- misalignments and re-planning ------------------------------------------------------


def test_only_a_misalignment_about_the_running_plan_revision_halts_it() -> None:
    h = Harness(hangs=("left_arm:pick",), monitored=True)
    assert not h.service.misalignment("a", 0, misalignment())  # nothing runs yet
    h.send("a", PICK_ONLY)
    taken: list[bool] = []

    def report() -> None:
        taken.append(h.service.misalignment("other", 0, misalignment()))
        taken.append(h.service.misalignment("a", 1, misalignment()))
        taken.append(h.service.misalignment("a", 0, misalignment()))

    h.robots.at(1.0, report)
    h.service.run_once()
    assert taken == [False, False, True]
    [halt] = h.of("a", "misalignment")
    assert halt.details["fact"] == HOLDING_RED and halt.details["revision"] == 0
    assert "gave up after 0 re-plan(s)" in h.final("a").details["reason"]
    assert h.of("a", "task_cancelled")  # the hanging pick was halted


def test_a_replan_request_carries_the_fresh_perceived_state_and_the_answer_runs() -> None:
    h = Harness(hangs=("left_arm:pick",), monitored=True, max_replans=1)
    # What the camera sees differs from what the robots believe: re-planning uses it.
    perceived = h.scene.initial_facts() | {Fact.parse("on_table(red_block)")}
    h.send("a", PICK_ONLY)
    h.robots.at(1.0, lambda: h.service.misalignment("a", 0, misalignment()))

    def keep_perceiving() -> None:  # the monitor's frames while the robots are halted
        h.service.perception(perceived)
        if not h.requests:
            h.robots.at(h.robots.now() + 0.05, keep_perceiving)

    h.robots.at(1.05, keep_perceiving)
    h.planner = lambda request: h.send(
        "a", PICK_BLUE, revision=request["revision"] + 1, readback="the right arm picks it"
    )
    h.service.run_once()
    [request] = h.requests
    assert request["command_id"] == "a" and request["revision"] == 0
    assert request["facts"] == format_facts(perceived)
    assert request["goal"] == [HOLDING_RED] and request["failed_task"]["id"] == "t1"
    assert h.of("a", "replanning")[0].details["reason"] == request["evidence"][:300]
    [replanned] = h.of("a", "replanned")
    assert replanned.details["readback"] == "the right arm picks it"
    assert replanned.details["revision"] == 1
    assert h.final("a").state == "done" and h.final("a").details["revision"] == 1
    assert h.warnings() == []


def test_without_fresh_perception_the_replan_starts_from_the_robots_state() -> None:
    h = Harness(hangs=("left_arm:pick",), monitored=True, max_replans=1)
    h.send("a", PICK_ONLY)
    stale = h.scene.initial_facts() | {Fact.parse("on_table(red_block)")}
    h.robots.at(0.5, lambda: h.service.perception(stale))  # before the halt: not fresh
    h.robots.at(1.0, lambda: h.service.misalignment("a", 0, misalignment()))
    h.planner = lambda request: h.send("a", None, revision=1, error="no plan")
    h.service.run_once()
    assert h.requests[0]["facts"] == format_facts(h.robots.read_state())
    assert any("no fresh perception" in line for line in h.warnings())


def test_after_a_failed_replan_the_next_request_waits_for_the_next_revision() -> None:
    """The planner answers every request with the next revision, a failure too; after a
    failed re-plan the arms clear the view and the executor asks again, and must wait for
    the answer after the failed one (it waited for the failed one's revision until
    `replan_timeout_s` and the command failed; e2e seed 3)."""
    h = Harness(hangs=("left_arm:pick",), monitored=True, max_replans=1)
    h.send("a", PICK_ONLY)
    h.robots.at(1.0, lambda: h.service.misalignment("a", 0, misalignment()))
    answers = iter([{"error": "no plan reaches the goal"}, {"plan": PICK_BLUE}])

    def planner(request: dict[str, Any]) -> None:
        answer = next(answers)
        h.send(
            "a",
            answer.get("plan"),
            revision=request["revision"] + 1,
            **{k: v for k, v in answer.items() if k != "plan"},
        )

    h.planner = planner
    h.service.run_once()
    assert [r["revision"] for r in h.requests] == [0, 1]
    assert h.of("a", "replanning")  # clearing the view is a replanning event too
    assert h.final("a").state == "done", h.final("a").details["reason"]


def test_no_answer_within_the_replan_timeout_fails_the_command() -> None:
    h = Harness(hangs=("left_arm:pick",), max_replans=1, replan_timeout_s=1.0)
    h.send("a", PICK_ONLY)
    h.robots.at(1.0, lambda: h.service.misalignment("a", 0, misalignment()))
    h.service.run_once()
    end = h.final("a")
    assert end.state == "failed"
    assert "no re-plan from the planner node within 1.0 s" in end.details["reason"]
    # Robot time went on while waiting (the clock here is robot time).
    assert end.details["robot_time"] > 2.0


def test_an_answer_about_another_revision_is_not_taken() -> None:
    h = Harness(hangs=("left_arm:pick",), max_replans=1, replan_timeout_s=1.0)
    h.send("a", PICK_ONLY)
    h.robots.at(1.0, lambda: h.service.misalignment("a", 0, misalignment()))
    h.planner = lambda request: h.send("a", PICK_ONLY, revision=5)
    h.service.run_once()
    assert "no re-plan from the planner node" in h.final("a").details["reason"]


def test_a_cancel_while_waiting_for_the_replan_ends_the_wait() -> None:
    h = Harness(hangs=("left_arm:pick",), max_replans=1, replan_timeout_s=60.0)
    h.send("a", PICK_ONLY)
    h.robots.at(1.0, lambda: h.service.misalignment("a", 0, misalignment()))
    h.planner = lambda request: h.robots.at(h.robots.now() + 1.0, h.service.cancel_all)
    h.service.run_once()
    end = h.final("a")
    assert end.state == "failed"
    assert end.details["reason"] == "re-planning failed: cancelled by request"
    assert end.details["robot_time"] < 10.0  # long before the re-plan timeout


def test_an_invalid_replan_is_refused_by_the_executor() -> None:
    h = Harness(hangs=("left_arm:pick",), max_replans=1)
    h.send("a", PICK_ONLY)
    h.robots.at(1.0, lambda: h.service.misalignment("a", 0, misalignment()))
    bad = {"command": "x", "goal": [], "tasks": [{"id": "t1", "skill": "fly"}]}
    h.planner = lambda request: h.send("a", bad, revision=request["revision"] + 1)
    h.service.run_once()
    assert "re-plan rejected by the executor" in h.final("a").details["reason"]


def test_a_replan_outside_a_command_is_refused() -> None:
    from robot_planner.planning.base import PlanningError, PlanRequest

    h = Harness()
    with pytest.raises(PlanningError, match="no command is running"):
        h.service.request_replan(PlanRequest("x", h.scene.initial_facts()))


# --- what else is published -------------------------------------------------------------


def test_task_phases_are_published_only_for_a_monitor() -> None:
    watched = Harness(monitored=True, phases={"pick": "grasp"})
    watched.send("a", PICK_ONLY)
    watched.service.run_once()
    [phase] = watched.of("a", "task_phase")
    assert phase.details == {"task": "t1", "phase": "grasp", "revision": 0}
    assert "verifying" in watched.states_of("a")  # the monitor's goal check is awaited
    alone = Harness(monitored=False, phases={"pick": "grasp"})
    alone.send("a", PICK_ONLY)
    alone.service.run_once()
    assert alone.of("a", "task_phase") == [] and alone.of("a", "verifying") == []


def test_the_end_of_a_command_reports_the_latest_disturbances() -> None:
    events = [{"kind": "drop", "n": i} for i in range(25)]
    h = Harness(disturbances=lambda: events)
    h.send("a", PICK_ONLY)
    h.service.run_once()
    assert h.final("a").details["disturbances"] == events[-20:]


def test_tree_snapshots_are_published_while_a_plan_runs() -> None:
    h = Harness(hangs=("left_arm:pick",))
    h.send("a", PICK_ONLY)
    h.robots.at(2.0, h.service.cancel_all)
    h.service.run_once()
    # 2 s of robot time at one snapshot per 0.5 s, and the final one.
    assert 4 <= len(h.trees) <= 6
    assert "t1: pick" in h.trees[0]


# --- the execution thread ---------------------------------------------------------------


def test_an_adapter_error_while_idle_is_counted_and_the_loop_goes_on() -> None:
    h = Harness()
    h.robots.broken = RuntimeError("driver gone")
    assert h.service.run_once()
    snapshot = h.service.snapshot()
    assert snapshot.adapter_errors == 1 and snapshot.last_error == "RuntimeError: driver gone"
    assert snapshot.last_error_age_s == 0.0 and snapshot.running is None
    assert ("error", "robot adapter: RuntimeError: driver gone") in h.log.lines
    h.robots.broken = None
    h.send("a", PICK_ONLY)
    assert h.service.run_once() and h.final("a").state == "done"


def test_a_command_that_breaks_the_executor_is_an_error_and_the_loop_goes_on() -> None:
    h = Harness()
    h.send("a", PICK_ONLY)
    h.robots.broken = RuntimeError("driver gone")
    assert h.service.run_once()
    assert h.states_of("a")[-1] == "error"
    assert h.of("a", "error")[0].details["reason"].startswith("executor: ")
    assert h.service.current is None and h.states  # the state is published after it too
    h.robots.broken = None
    h.send("b", PICK_BLUE)  # the left arm is still busy with the pick that broke
    h.service.run_once()
    assert h.final("b").state == "done"


def test_the_running_command_shows_in_the_snapshot() -> None:
    h = Harness(hangs=("left_arm:pick",))
    h.send("a", PICK_ONLY)
    seen: list[str | None] = []
    h.robots.at(0.5, lambda: seen.append(h.service.snapshot().running))
    h.robots.at(1.0, h.service.cancel_all)
    h.service.run_once()
    assert seen == ["a"] and h.service.snapshot().running is None


def test_the_execution_thread_runs_plans_until_close() -> None:
    h = Harness()
    h.service.start()
    try:
        h.send("a", PICK_ONLY)
        assert h.ended.wait(60.0), h.events
    finally:
        h.service.close()
    assert h.final("a").state == "done"
    assert h.service.thread is not None and not h.service.thread.is_alive()
    assert not h.service.run_once()  # closed
