"""Closed-loop execution (DoReMi): execute, monitor, and re-plan when reality leaves the plan.

The supervisor ticks a `PlanExecutor`, feeds task starts/ends/phases to a
`MisalignmentDetector`, and renders an observation only when a check is due. On a
confirmed misalignment — or a task that fails — it halts every robot, reads the current
facts (from perception when a state estimator is given), asks the planner to re-plan the
remaining goal from there, keeps what is done, and resumes with the new plan. After
`max_replans` re-plans in a row that bring the goal no closer (a progress check, as Nav2's
controller has one), or `REPLAN_CAP_FACTOR` times that many in all, it stops with a clear
failure. Nothing here knows whether the robots are
simulated.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from robot_planner.adapters.base import AdapterError, RobotAdapter, SkillState
from robot_planner.bt.ledger import ExecutionEvent, TaskState
from robot_planner.execution.executor import Outcome, PlanExecutor
from robot_planner.monitor.base import VqaBackend
from robot_planner.monitor.detector import (
    GOAL_TASK,
    DetectorConfig,
    Misalignment,
    MisalignmentDetector,
)
from robot_planner.monitor.observability import Observability
from robot_planner.plan.model import Task, TaskPlan
from robot_planner.planning.base import (
    FailedAction,
    Planner,
    PlanningError,
    PlanRequest,
    repeated_action,
)
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
#: After the last task, how long (simulated s) the final `after` and goal checks may take.
VERIFY_S = 2.0
#: Before re-planning, how often the scene is re-estimated until it is at rest, and for
#: how long at most (simulated s): a dropped object is still falling when it is noticed.
SETTLE_STEP_S = 0.1
SETTLE_MAX_S = 1.0
#: Re-plans in all, as a multiple of `max_replans`: the bound that holds even when every
#: re-plan brings the goal closer (a run that keeps losing and redoing work still ends).
REPLAN_CAP_FACTOR = 3


@dataclass
class SupervisorResult:
    """The outcome of a supervised command."""

    outcome: Outcome
    reason: str
    plans: list[TaskPlan]
    events: list[dict[str, Any]]
    replans: int
    misalignments: list[Misalignment]
    completed: list[str]
    monitor_checks: int
    monitor_errors: int
    monitor_ms_per_check: float
    sim_time_s: float
    final_facts: frozenset[Fact] = field(default_factory=frozenset)
    #: Facts the monitor was due to check but cannot observe (fact -> reason).
    uncheckable: dict[str, str] = field(default_factory=dict)


class Supervisor:
    """Runs one command's plan to the goal, re-planning on misalignments and failures.

    Args:
        planner: used for re-planning (its `replan`).
        adapter: the robots.
        catalogue: the skill catalogue.
        backend: the VQA backend, or None for no monitoring.
        observe: renders an `Observation` now (only called when a check is due).
        estimate_state: facts from perception for re-planning; the adapter's
            `read_state` is used when None.
        detector_config: monitor mode, debounce, confidence threshold.
        max_replans: re-plans in a row without progress allowed before giving up. A
            re-plan makes progress when its plan is shorter than every plan before it
            (work done stays done): a run that recovers from one slip after another
            goes on, one that keeps failing at the same point stops. Never more than
            `REPLAN_CAP_FACTOR` times this in all.
        external_monitor: misalignments come from another process (the monitor node)
            through `report`; after the last task the supervisor emits `verifying` and
            waits `verify_s` for a late one before declaring success.
        on_tick: called with the executor after every tick (publish phases, the tree).
        observability: what the monitor's perceiver cannot observe in the scene: those
            checks are skipped (reported as uncheckable), and re-planning keeps the
            believed facts about what the camera cannot see.
    """

    def __init__(
        self,
        planner: Planner,
        adapter: RobotAdapter,
        catalogue: Catalogue,
        backend: VqaBackend | None,
        observe: Callable[[], Observation] | None,
        *,
        estimate_state: Callable[[], frozenset[Fact]] | None = None,
        detector_config: DetectorConfig | None = None,
        max_replans: int = 5,
        period_s: float = 0.05,
        listeners: list[Listener] | None = None,
        external_monitor: bool = False,
        verify_s: float = VERIFY_S,
        on_tick: Callable[[PlanExecutor], None] | None = None,
        observability: Observability | None = None,
        scene: Scene | None = None,
    ):
        self.planner = planner
        #: Which robots can run which skills (by kind); from `observability` without one.
        self.scene = scene or (observability.scene if observability is not None else None)
        self.adapter = adapter
        self.catalogue = catalogue
        self.backend = backend
        self.observe = observe
        self.estimate_state = estimate_state or adapter.read_state
        self.config = detector_config or DetectorConfig()
        self.max_replans = max_replans
        self.period_s = period_s
        self.listeners = list(listeners or [])
        self.events: list[dict[str, Any]] = []
        self.misalignments: list[Misalignment] = []
        self.completed: list[str] = []
        self.checks = self.errors = 0
        self.check_seconds = 0.0
        self._cancel_reason: str | None = None
        self._cancel_failed = False
        self._plans_started: list[TaskPlan] = []
        self.external_monitor = external_monitor
        self.verify_s = verify_s
        self.on_tick = on_tick
        self._reported: list[Misalignment] = []
        self._reported_lock = threading.Lock()
        #: `monitor_degraded` was announced (once per run).
        self._degraded = False
        self.observability = observability
        #: Facts the monitor could not check (fact -> reason), over the whole run.
        self.uncheckable: dict[str, str] = {}
        #: What the supervisor believes holds: the planning state with the effects of
        #: the tasks done since (kept only with `observability` and a known start).
        self._belief: frozenset[Fact] | None = None
        #: Every action that failed while the current command ran (its key -> what
        #: failed, why and how often): the planner must not repeat one too often.
        self.failures: dict[tuple, FailedAction] = {}
        self._fresh: tuple | None = None

    def _emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("supervisor listener failed")

    def cancel(self, reason: str = "cancelled by request", failed: bool = False) -> None:
        """Stop at the next tick (thread-safe enough: a flag read by the loop); `failed`
        ends the run failed rather than cancelled (a safety stop, not a user's wish)."""
        self._cancel_failed = failed
        self._cancel_reason = reason

    def report(self, misalignment: Misalignment) -> None:
        """A misalignment found by an external monitor; acted on at the next tick
        (thread-safe: called from a ROS callback while the loop runs elsewhere)."""
        with self._reported_lock:
            self._reported.append(misalignment)

    def _take_reported(self) -> Misalignment | None:
        with self._reported_lock:
            return self._reported.pop(0) if self._reported else None

    def _monitor_failed(
        self, executor: PlanExecutor, detector: MisalignmentDetector
    ) -> tuple[str, str, Task | None] | None:
        """The VQA backend just erred. Warn once per run (`monitor_degraded`); under
        ``on_vqa_error: fail`` halt every robot and end the run."""
        policy = self.config.on_vqa_error
        reason = f"monitor: VQA backend failed: {detector.last_error}"
        if not self._degraded:
            self._degraded = True
            self._emit(
                {
                    "event": "monitor_degraded",
                    "time": round(self.adapter.now(), 4),
                    "reason": reason,
                    "policy": policy,
                    "effect": "halting: on_vqa_error is fail"
                    if policy == "fail"
                    else "continuing without the failed checks",
                }
            )
        if policy != "fail":
            return None
        executor.cancel(f"halted: {reason}", failed=True)
        return "monitor_failed", f"{reason} (on_vqa_error: fail)", None

    def _halt_for(
        self, executor: PlanExecutor, found: Misalignment
    ) -> tuple[str, str, Task | None]:
        self.misalignments.append(found)
        self._emit(found.to_dict())
        executor.cancel(f"halted: {found.describe()}")
        ids = {task.id for task in executor.plan.tasks}
        failed = executor.plan.task(found.task) if found.task in ids else None
        return "misalignment", found.describe(), failed

    # --- the loop ----------------------------------------------------------------------

    def run(
        self,
        command: str,
        plan: TaskPlan,
        max_sim_time_s: float = 600.0,
        realtime: bool = False,
        state: frozenset[Fact] | None = None,
    ) -> SupervisorResult:
        """Run `plan` (made from `state`, when known) to its goal, re-planning as needed."""
        goal = tuple(Fact.parse(g) for g in plan.goal)
        self._belief = state if self.observability is not None else None
        self._degraded = False
        self.failures, self._fresh = {}, None
        plans = [plan]
        replans = stalled = 0
        fewest = len(plan.tasks)  # the shortest plan so far: progress is going below it
        started = self.adapter.now()
        outcome, reason = Outcome.RUNNING, ""
        while outcome is Outcome.RUNNING:
            executor, detector = self._start(plan)
            trigger = self._drive(executor, detector, goal, started, max_sim_time_s, realtime)
            self._fold(detector)
            kind, detail, failed = trigger
            if kind in ("succeeded", "cancelled", "timeout", "monitor_failed", "aborted"):
                outcome = {
                    "succeeded": Outcome.SUCCEEDED,
                    "cancelled": Outcome.CANCELLED,
                    "timeout": Outcome.FAILED,
                    "monitor_failed": Outcome.FAILED,
                    "aborted": Outcome.FAILED,
                }[kind]
                reason = detail
                break
            # A misalignment or a failed task: re-plan from what is observed now.
            if stalled >= self.max_replans or replans >= REPLAN_CAP_FACTOR * self.max_replans:
                outcome = Outcome.FAILED
                reason = self._gave_up(replans, stalled, fewest, detail)
                break
            last = self.misalignments[-1] if kind == "misalignment" else None
            if failed is not None and (kind == "failed" or (last is not None and last.stalled)):
                self._remember(failed, detail)  # a base that stalled for good: as a failure
            elif failed is not None and last is not None and self._not_achieved(last):
                self._remember(
                    failed, f"{last.fact} did not hold when it ended ({last.answers[-1].evidence})"
                )
            if last is not None and last.task == GOAL_TASK and last.unconfirmed:
                self._clear_view(detail)  # let the camera see the whole table first
            elif kind == "failed" and self._in_the_way(failed, detail):
                # Robots halted mid-motion stay where they stopped: one that another ran
                # into would be in the way of the re-plan too ("touching left_arm").
                self._clear_view(detail)
            try:
                plan = self._replan(command, goal, failed, detail)
                if (
                    not plan.tasks
                    and failed is not None
                    and self._clear_view(
                        "the goal looks reached with robots halted mid-task: look again with "
                        "them clear"
                    )
                ):  # a block that landed leaning on a halted hand falls once it moves away
                    plan = self._replan(command, goal, failed, detail)
            except PlanningError as exc:
                outcome, reason = Outcome.FAILED, f"re-planning failed: {exc}"
                break
            replans += 1
            if len(plan.tasks) < fewest:
                fewest, stalled = len(plan.tasks), 0
            else:
                stalled += 1
            plans.append(plan)
            self._emit(
                {
                    "event": "replanned",
                    "time": round(self.adapter.now(), 4),
                    "replans": replans,
                    "tasks": len(plan.tasks),
                    "reason": detail,
                }
            )
        self._emit(
            {
                "event": f"plan_{outcome.value}",
                "time": round(self.adapter.now(), 4),
                "reason": reason,
                "replans": replans,
                "supervised": True,
            }
        )
        return SupervisorResult(
            outcome,
            reason,
            plans,
            list(self.events),
            replans,
            list(self.misalignments),
            list(self.completed),
            self.checks,
            self.errors,
            1000.0 * self.check_seconds / self.checks if self.checks else 0.0,
            self.adapter.now() - started,
            self.adapter.read_state(),
            dict(self.uncheckable),
        )

    def _gave_up(self, replans: int, stalled: int, fewest: int, detail: str) -> str:
        """Why the re-plan budget ran out, in one line."""
        if stalled == replans:
            return f"gave up after {replans} re-plan(s); last problem: {detail}"
        if stalled >= self.max_replans:
            why = f"the last {stalled} without progress (no plan shorter than {fewest} task(s))"
        else:
            why = f"the most allowed ({REPLAN_CAP_FACTOR} x max_replans {self.max_replans})"
        return f"gave up after {replans} re-plan(s), {why}; last problem: {detail}"

    def _start(self, plan: TaskPlan) -> tuple[PlanExecutor, MisalignmentDetector | None]:
        self._plans_started.append(plan)
        detector = None
        if self.backend is not None and self.observe is not None and self.config.mode != "off":
            detector = MisalignmentDetector(
                self.backend, plan, self.catalogue, self.config, self.observability
            )
        tasks = {t.id: t for t in plan.tasks}

        def on_event(event: ExecutionEvent) -> None:
            self._emit(event.to_dict())
            if event.task is None:
                return
            if event.kind == "task_succeeded":
                self.completed.append(f"plan {len(self._plans_started)}: {event.task}")
                self._believe(tasks.get(event.task))
            if detector is None:
                return
            if event.kind == "task_started":
                detector.task_started(event.task, event.time)
            elif event.kind in ("task_succeeded", "task_failed", "task_cancelled"):
                detector.task_finished(event.task, event.time, event.kind == "task_succeeded")

        executor = PlanExecutor(
            plan, self.catalogue, self.adapter, period_s=self.period_s, listeners=[on_event]
        )
        return executor, detector

    def _drive(
        self,
        executor: PlanExecutor,
        detector: MisalignmentDetector | None,
        goal: tuple[Fact, ...],
        started: float,
        max_sim_time_s: float,
        realtime: bool,
    ) -> tuple[str, str, Task | None]:
        """Tick until success, a trigger for re-planning, cancel or the time limit."""
        next_tick = time.perf_counter()
        finished_at: float | None = None
        while True:
            if self._cancel_reason is not None:
                executor.cancel(self._cancel_reason, failed=self._cancel_failed)
                kind = "aborted" if self._cancel_failed else "cancelled"
                return kind, self._cancel_reason, None
            outcome = executor.tick()
            if self.on_tick is not None:
                self.on_tick(executor)
            reported = self._take_reported()
            if reported is not None:
                return self._halt_for(executor, reported)
            if detector is not None:
                for record in executor.ledger.records.values():
                    if record.state is TaskState.RUNNING and record.phase:
                        detector.task_phase(record.task_id, record.phase)
                now = self.adapter.now()
                if detector.due(now):
                    errors = detector.errors
                    found = detector.check(self.observe())
                    for notice in detector.take_notices():
                        self._emit(notice)  # a base stalled or moving again
                    if found is not None:
                        return self._halt_for(executor, found)
                    if detector.errors > errors:
                        stop = self._monitor_failed(executor, detector)
                        if stop is not None:
                            return stop
            if outcome is Outcome.SUCCEEDED:
                if finished_at is None:
                    if detector is not None:
                        # An object can topple a moment after the last place: judge the
                        # goal once the scene has come to rest.
                        self._settled_state()
                        detector.verify_goal(goal, self.adapter.now())
                    finished_at = self.adapter.now()
                    if self.external_monitor:
                        self._emit({"event": "verifying", "time": round(finished_at, 4)})
                settling = self.adapter.now() - finished_at < self.verify_s
                waiting = self.external_monitor or (detector is not None and detector.pending)
                if waiting and settling:
                    self.adapter.advance(self.period_s)  # let the last after-checks run
                    continue
                return "succeeded", "", None
            if outcome is Outcome.FAILED:
                failed_ids = executor.ledger.failed
                failed = executor.plan.task(failed_ids[0]) if failed_ids else None
                return "failed", executor.reason, failed
            if outcome is Outcome.CANCELLED:
                return "cancelled", executor.reason, None
            if self.adapter.now() - started > max_sim_time_s:
                executor.cancel(f"time limit: over {max_sim_time_s:g} s", failed=True)
                return "timeout", f"time limit: over {max_sim_time_s:g} s", None
            if realtime:
                next_tick += self.period_s
                time.sleep(max(0.0, next_tick - time.perf_counter()))

    def _replan(
        self, command: str, goal: tuple[Fact, ...], failed: Task | None, detail: str
    ) -> TaskPlan:
        """A plan for the rest of the goal from the observed state. When the planner
        cannot use what the camera sees (an object hidden behind a halted arm), the arms
        go home out of the view and it looks once more before giving up."""
        for attempt in (1, 2):
            state = self._settled_state()
            if self.observability is not None and self._belief is not None:
                state = self.observability.keep_belief(state, self._belief)
            self._place_failure(state)
            request = PlanRequest(
                command,
                state,
                goal=goal,
                completed=tuple(self.completed),
                failed_task=failed,
                evidence=detail,
                failures=self._relevant_failures(state),
            )
            try:
                plan = self.planner.replan(request).plan
                repeated = repeated_action(plan, request.failures)
                if repeated is not None:  # any backend's plan is checked, an LLM's too
                    raise PlanningError(
                        f"the new plan repeats what failed too often: {repeated.describe()}"
                    )
                if self._belief is not None:
                    self._belief = state
                return plan
            except PlanningError as exc:
                if attempt == 2 or not self._clear_view(str(exc)):
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _remember(self, task: Task, detail: str) -> None:
        """Count a failure of `task`'s action (skill, robot, arguments) with its reason
        (the skill's own words, without the executor's "task t1 (...) failed: ")."""
        key = FailedAction.key_of(task.skill, task.robot, task.args)
        reason = detail.split(" failed: ", 1)[-1]
        known = self.failures.get(key)
        times, where = (known.times, known.where) if known else (0, ())
        self.failures[key] = FailedAction(*key, reason, 1 + times, where)
        self._fresh = key  # placed (`_place_failure`) once the scene is at rest

    def _not_achieved(self, found: Misalignment) -> bool:
        """Whether a misalignment says its task ended without its effect: a placement
        that did not hold once the skill finished (a block left leaning off the tower
        each time it is put there) fails like a skill that reported failure, and is not
        repeated more than once from the same spot. A grasp lost after the pick ended is
        a slip on the way (a drop), not the pick's failure."""
        if found.phase != "after" or found.task == GOAL_TASK or not found.expected:
            return False
        spec = self.catalogue.domain.predicates.get(Fact.parse(found.fact).predicate)
        return spec is not None and spec.geometry != "gripped"

    def _in_the_way(self, failed: Task | None, detail: str) -> bool:
        """Whether a failure's reason names another robot of the scene (it stood in the
        failed robot's way)."""
        if failed is None or self.scene is None:
            return False
        reason = detail.split(" failed: ", 1)[-1]
        others = (r for r in self.scene.robots if r != failed.robot)
        return any(re.search(rf"\b{re.escape(r)}\b", reason) for r in others)

    def _where(self, failure: FailedAction, state: frozenset[Fact]) -> tuple[str, ...]:
        """Where `failure`'s objects are in `state` ("red_block@right_bin"), by the
        domain's locations; () without a scene."""
        if self.scene is None:
            return ()
        objects = sorted({str(v) for _, v in failure.args if str(v) in self.scene.objects})
        return tuple(f"{o}@{self.scene.location_of(o, state)}" for o in objects)

    def _place_failure(self, state: frozenset[Fact]) -> None:
        """Record where the action that just failed had its objects. The same action
        with an object moved elsewhere since it last failed is another attempt (a pick
        that missed on the table, then a pick from the bin it was put in): it counts
        from one again."""
        key, self._fresh = self._fresh, None
        if key is None:
            return
        failure = self.failures[key]
        where = self._where(failure, state)
        if failure.times > 1 and failure.where and failure.where != where:
            failure = dataclasses.replace(failure, times=1)
        self.failures[key] = failure = dataclasses.replace(failure, where=where)
        self._emit(
            {
                "event": "failure_remembered",
                "time": round(self.adapter.now(), 4),
                "action": failure.describe(),
                "excluded": failure.excluded,
                "where": list(where),
            }
        )

    def _relevant_failures(self, state: frozenset[Fact]) -> tuple[FailedAction, ...]:
        """The failures that would be repeats now: those whose objects are still where
        they were when they failed."""
        return tuple(
            f for f in self.failures.values() if not f.where or f.where == self._where(f, state)
        )

    def _clear_view(self, why: str) -> bool:
        """Run the domain's clear-view skill (an arm's "go home") on every robot so the
        camera sees the whole scene; False when the domain has none."""
        skill = self.catalogue.clear_view_skill
        if skill is None:
            return False
        robots = sorted({task.robot for plan in self._plans_started for task in plan.tasks})
        if self.scene is not None:  # only robots whose kind offers it (not a base)
            robots = [r for r in robots if not self.catalogue.robot_errors(skill, r, self.scene)]
        self._emit(
            {
                "event": "clearing_view",
                "time": round(self.adapter.now(), 4),
                "robots": robots,
                "reason": why,
            }
        )
        handles = []
        for robot in robots:
            try:
                handles.append(self.adapter.start_skill(robot, skill, {}))
            except AdapterError as exc:
                log.warning("cannot run %s on %s to clear the view: %s", skill, robot, exc)
        limit = self.adapter.now() + self.catalogue.skills[skill].timeout_s
        while handles and self.adapter.now() < limit:
            self.adapter.advance(self.period_s)
            handles = [h for h in handles if self.adapter.poll(h).state is SkillState.RUNNING]
        for handle in handles:
            self.adapter.cancel(handle)
        return True

    def _settled_state(self) -> frozenset[Fact]:
        """The estimated facts once two estimates a step apart agree (the scene is at
        rest), or the last estimate after `SETTLE_MAX_S`. The robots are halted."""
        previous = self.estimate_state()
        waited = 0.0
        while waited < SETTLE_MAX_S - 1e-9:
            self.adapter.advance(SETTLE_STEP_S)
            waited += SETTLE_STEP_S
            current = self.estimate_state()
            if current == previous:
                return current
            previous = current
        log.info("scene still changing after %.1f s; re-planning from the last estimate", waited)
        return previous

    def _believe(self, task: Task | None) -> None:
        """Advance the belief by a task that succeeded."""
        if self._belief is None or task is None or self.observability is None:
            return
        self._belief = self.catalogue.apply(
            task.skill, task.robot, task.args, self.observability.scene, self._belief
        )

    def _fold(self, detector: MisalignmentDetector | None) -> None:
        if detector is not None:
            self.uncheckable.update(detector.uncheckable)
            self.checks += detector.checks
            self.errors += detector.errors
            self.check_seconds += detector.check_seconds
