"""The misalignment detector: asks each running task's constraints of fresh frames.

DoReMi's idea: every task carries facts that must hold before, during or after it. The
detector schedules the checks — `during` constraints every `period_s` while the task runs
(until the skill's own `during_until` phase, e.g. a place's release), `before` when it
starts, `after` when it succeeds — and reports a misalignment once `debounce` consecutive
answers contradict the expectation with enough confidence, so one noisy frame is not an
alarm. Rendering is the costly part, so the caller asks `due(now)` first and only then
builds an observation.

Modes: ``on`` (before, during and after), ``after-skill`` (only after each skill: the
Inner-Monologue-style baseline DoReMi compares against), ``off``.

A skill with a `progress` spec (a base's drive) is also watched from odometry, as Nav2's
progress checker does: in the phases it names the robot must keep moving or turning; a
stall is a notice (an event: the robot may be waiting for a person to step aside), and
a misalignment only when the spec has an `abort_s` and the stall has lasted that long.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from robot_planner.monitor.base import VqaAnswer, VqaBackend, VqaError
from robot_planner.monitor.observability import Observability
from robot_planner.plan.model import Constraint, TaskPlan
from robot_planner.world.catalogue import Catalogue, ProgressSpec
from robot_planner.world.facts import Fact
from robot_planner.world.observation import CameraFrame, Observation

log = logging.getLogger(__name__)

MonitorMode = Literal["on", "after-skill", "off"]
#: The pseudo-task of the goal checks taken when a plan has finished.
GOAL_TASK = "(goal)"
#: The predicate of a progress misalignment's fact (``progress(base_1)``): no domain's,
#: it names what was expected of the robot.
PROGRESS = "progress"
MODES: tuple[str, ...] = ("on", "after-skill", "off")


VQA_ERROR_POLICIES = ("continue", "fail")


@dataclass(frozen=True)
class DetectorConfig:
    """How eagerly to check and how sure to be before raising an alarm."""

    mode: MonitorMode = "on"
    debounce: int = 2
    min_confidence: float = 0.6
    #: Period of the repeated checks that confirm a contrary answer (seconds).
    confirm_period_s: float = 0.1
    #: Cap on the `during` check period from the plan (seconds); None keeps the plan's.
    max_period_s: float | None = 0.2
    #: When the VQA backend errors or times out: run on unmonitored with a warning event
    #: (``continue``), or halt and fail the command (``fail``: no motion unwatched).
    on_vqa_error: str = "continue"
    #: Also check that objects no running task changes stay where they are (collateral
    #: constraints). Off saves questions to a slow model backend.
    collateral: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown monitor mode '{self.mode}' ({', '.join(MODES)})")
        if self.on_vqa_error not in VQA_ERROR_POLICIES:
            raise ValueError(
                f"unknown on_vqa_error '{self.on_vqa_error}' ({', '.join(VQA_ERROR_POLICIES)})"
            )
        if self.debounce < 1:
            raise ValueError("debounce must be at least 1")


@dataclass(frozen=True)
class Misalignment:
    """A confirmed contradiction between the plan and what the camera shows."""

    task: str
    robot: str
    fact: str
    phase: str
    expected: bool
    stamp: float
    answers: tuple[VqaAnswer, ...]
    question: str
    #: The camera frame of the confirming answer (kept out of `to_dict`: events are JSON;
    #: callers that keep frames save it and add its path).
    frame: CameraFrame | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        last = self.answers[-1]
        return {
            "event": "misalignment",
            "time": round(self.stamp, 4),
            "frame_stamp": round(self.frame.stamp, 4) if self.frame is not None else None,
            "task": self.task,
            "robot": self.robot,
            "fact": self.fact,
            "phase": self.phase,
            "expected": self.expected,
            "question": self.question,
            "answers": [a.answer for a in self.answers],
            "confidence": round(last.confidence, 3),
            "evidence": last.evidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Misalignment:
        """Rebuild one from `to_dict` output received from another process (the monitor
        node); raise ValueError, KeyError or TypeError on a malformed document."""
        answers = data["answers"]
        if not isinstance(answers, list) or not answers or len(answers) > 100:
            raise ValueError("misalignment 'answers' must be a non-empty list")
        confidence = float(data.get("confidence", 1.0))
        evidence = str(data.get("evidence", ""))[:500]
        parsed = tuple(
            VqaAnswer(a if isinstance(a, bool) else None, confidence, evidence) for a in answers
        )
        fact = str(data["fact"])
        Fact.parse(fact)  # a malformed fact is an error here, not later
        return cls(
            task=str(data["task"])[:64],
            robot=str(data.get("robot", ""))[:64],
            fact=fact,
            phase=str(data["phase"])[:16],
            expected=bool(data["expected"]),
            stamp=float(data.get("time", 0.0)),
            answers=parsed,
            question=str(data.get("question", ""))[:500],
        )

    @property
    def stalled(self) -> bool:
        """A robot made no progress (a progress check), not a fact the camera refuted.
        (Read from the text: a malformed fact from another process is refused where it is
        parsed, not here.)"""
        return self.fact.startswith(f"{PROGRESS}(")

    @property
    def unconfirmed(self) -> bool:
        """Raised because the camera could not tell (goal checks only), not because it
        saw the opposite."""
        return any(a.answer is None or a.answer == self.expected for a in self.answers)

    def describe(self) -> str:
        said = "no" if self.expected else "yes"
        if self.stalled:
            return f"monitor: {self.answers[-1].evidence} while {self.task} ran"
        if self.task == GOAL_TASK:
            if self.unconfirmed:
                return (
                    f"monitor: goal check '{self.question}' could not be confirmed from the "
                    f"camera after the plan finished ({self.answers[-1].evidence})"
                )
            return (
                f"monitor: goal check '{self.question}' answered {said} "
                f"{len(self.answers)} time(s) after the plan finished ({self.fact} not reached)"
            )
        when = {"before": "before {} started", "after": "after {} finished"}.get(
            self.phase, "while {} ran"
        ).format(self.task)
        return (
            f"monitor: '{self.question}' answered {said} {len(self.answers)} time(s) "
            f"{when} ({self.fact} expected "
            f"{'true' if self.expected else 'false'})"
        )


@dataclass
class _Check:
    task: str
    robot: str
    constraint: Constraint
    fact: Fact
    next_at: float
    repeat: float | None  # None: a one-off (before/after) check, confirmed by repetition
    contrary: list[VqaAnswer] = field(default_factory=list)
    remaining: int = 0  # one-off checks: how many more answers to take


@dataclass
class _Progress:
    """Where a moving robot last made progress (anchor pose and time)."""

    spec: ProgressSpec
    robot: str
    phase: str = ""
    center: np.ndarray | None = None
    yaw: float = 0.0
    since: float = 0.0
    next_at: float = 0.0
    noticed: bool = False


class MisalignmentDetector:
    """Schedules and debounces constraint checks for one plan."""

    def __init__(
        self,
        backend: VqaBackend,
        plan: TaskPlan,
        catalogue: Catalogue,
        config: DetectorConfig | None = None,
        observability: Observability | None = None,
    ):
        self.backend = backend
        self.config = config or DetectorConfig()
        self.catalogue = catalogue
        self.observability = observability
        #: Facts that were due a check but cannot be checked (fact -> reason).
        self.uncheckable: dict[str, str] = {}
        self.tasks = {t.id: t for t in plan.tasks}
        self.active: dict[tuple[str, int], _Check] = {}
        self.phase_of: dict[str, str] = {}
        self._progress: dict[str, _Progress] = {}
        #: Stall and resume notices of progress checks (events), for the caller to take.
        self.notices: list[dict[str, Any]] = []
        self.checks = 0
        self.errors = 0
        self.check_seconds = 0.0
        self.last_error = ""

    # --- task lifecycle (from executor events) -------------------------------------

    def _schedule(self, task_id: str, phase: str, now: float) -> None:
        task = self.tasks.get(task_id)
        if task is None or self.config.mode == "off":
            return
        for index, constraint in enumerate(task.constraints):
            if constraint.phase != phase:
                continue
            if self.config.mode == "after-skill" and phase != "after":
                continue
            if constraint.kind == "collateral" and not self.config.collateral:
                continue
            fact = Fact.parse(constraint.fact)
            if self._cannot_check(fact):
                continue
            if phase == "during":
                period = constraint.period_s
                if self.config.max_period_s is not None:
                    period = min(period, self.config.max_period_s)
                self.active[(task_id, index)] = _Check(
                    task_id, task.robot, constraint, fact, now + period, period
                )
            else:
                self.active[(task_id, index)] = _Check(
                    task_id,
                    task.robot,
                    constraint,
                    fact,
                    now,
                    None,
                    remaining=self.config.debounce,
                )

    def task_started(self, task_id: str, now: float) -> None:
        self._schedule(task_id, "before", now)
        self._schedule(task_id, "during", now)
        task = self.tasks.get(task_id)
        spec = self.catalogue.skills.get(task.skill) if task is not None else None
        if spec is not None and spec.progress is not None and self.config.mode == "on":
            self._progress[task_id] = _Progress(spec.progress, task.robot)  # type: ignore[union-attr]

    def task_finished(self, task_id: str, now: float, succeeded: bool) -> None:
        tracker = self._progress.pop(task_id, None)
        if tracker is not None and tracker.noticed:
            self._notice("progress_resumed", task_id, tracker, now, "its skill ended")
        for key in [
            k
            for k in self.active
            if k[0] == task_id and self.active[k].constraint.phase == "during"
        ]:
            del self.active[key]
        if succeeded:
            self._schedule(task_id, "after", now)

    def task_phase(self, task_id: str, phase: str) -> None:
        """The skill's current phase; `during` checks stop at the skill's `during_until`."""
        self.phase_of[task_id] = phase
        tracker = self._progress.get(task_id)
        if tracker is not None and tracker.phase != phase:
            tracker.phase, tracker.center = phase, None  # judged afresh in each phase
        task = self.tasks.get(task_id)
        if task is None:
            return
        until = (
            self.catalogue.skills[task.skill].during_until
            if task.skill in self.catalogue.skills
            else None
        )
        if until is not None and phase == until:
            for key in [
                k
                for k in self.active
                if k[0] == task_id and self.active[k].constraint.phase == "during"
            ]:
                del self.active[key]

    def verify_goal(self, goal: Iterable[Fact], now: float) -> None:
        """The plan is done: confirm each goal fact with the camera, debounced like an
        after-check. A goal the camera contradicts (an object that fell off a stack
        between checks) is a misalignment like any other and leads to a re-plan."""
        if self.config.mode == "off":
            return
        for index, fact in enumerate(goal):
            if self._cannot_check(fact):
                continue
            constraint = Constraint(
                phase="after", fact=str(fact), question=self.catalogue.domain.question_for(fact)
            )
            self.active[(GOAL_TASK, index)] = _Check(
                GOAL_TASK, "", constraint, fact, now, None, remaining=self.config.debounce
            )

    def reset(self) -> None:
        self.active.clear()
        self._progress.clear()

    def _cannot_check(self, fact: Fact) -> bool:
        """True (and remembered) when the perceiver cannot check `fact` at all."""
        reason = self.observability.reason(fact) if self.observability else None
        if reason is not None:
            self.uncheckable.setdefault(str(fact), reason)
        return reason is not None

    # --- checking ------------------------------------------------------------------

    def due(self, now: float) -> bool:
        return any(check.next_at <= now + 1e-9 for check in self.active.values()) or any(
            t.phase in t.spec.phases and t.next_at <= now + 1e-9 for t in self._progress.values()
        )

    @property
    def pending(self) -> bool:
        """One-off (after/before) checks still to take (the plan is not verified yet)."""
        return any(c.repeat is None for c in self.active.values())

    def check(self, observation: Observation) -> Misalignment | None:
        """Run every due check on this observation; a confirmed misalignment or None."""
        now = observation.stamp
        stalled = self._check_progress(observation)
        if stalled is not None:
            return stalled
        for key, check in list(self.active.items()):
            if check.next_at > now + 1e-9:
                continue
            answer = self._ask(observation, check)
            if answer is None:  # backend failure: counted, not an alarm
                if check.repeat is None:
                    check.remaining -= 1
                    if check.remaining <= 0:  # give up on this one: run on unmonitored
                        del self.active[key]
                        continue
                check.next_at = now + (check.repeat or self.config.confirm_period_s)
                continue
            expected = check.constraint.expected
            sure = answer.answer is not None and answer.confidence >= self.config.min_confidence
            contrary = sure and answer.answer != expected
            if check.task == GOAL_TASK and answer.answer is None:
                # "Done" must be seen to be done: a goal the camera cannot see at all (a
                # object hidden under another) is not taken on trust. A borderline "yes"
                # (an object near a tolerance) still confirms it.
                contrary = True
            if contrary:
                check.contrary.append(answer)
            elif answer.answer is not None:
                check.contrary.clear()
            if len(check.contrary) >= self.config.debounce:
                del self.active[key]
                return Misalignment(
                    check.task,
                    check.robot,
                    str(check.fact),
                    check.constraint.phase,
                    expected,
                    now,
                    tuple(check.contrary),
                    check.constraint.question,
                    observation.frame,
                )
            if check.repeat is not None:
                # A contrary answer is confirmed quickly rather than a whole period later.
                wait = self.config.confirm_period_s if check.contrary else check.repeat
                check.next_at = now + wait
            else:
                check.remaining -= 1
                if check.remaining <= 0 and not check.contrary:
                    del self.active[key]
                else:
                    check.remaining = max(check.remaining, 1)
                    check.next_at = now + self.config.confirm_period_s
        return None

    def _check_progress(self, observation: Observation) -> Misalignment | None:
        """Judge each moving robot's progress from its odometry (see the module)."""
        now = observation.stamp
        period = self.config.max_period_s or 0.2
        for task_id, tracker in list(self._progress.items()):
            state = observation.bases.get(tracker.robot)
            if tracker.phase not in tracker.spec.phases or state is None:
                continue  # waiting on purpose, or no odometry to judge by
            if tracker.next_at > now + 1e-9:
                continue
            tracker.next_at = now + period
            center = np.asarray(state.center[:2], dtype=float)
            if tracker.center is not None:
                moved = float(np.linalg.norm(center - tracker.center))
                turned = abs(math.remainder(state.yaw - tracker.yaw, math.tau))
                spec = tracker.spec
                if moved < spec.moved_m and math.degrees(turned) < spec.turned_deg:
                    stalled = now - tracker.since
                    if spec.abort_s is not None and stalled >= spec.abort_s:
                        del self._progress[task_id]
                        return self._stalled(task_id, tracker, stalled, observation)
                    if stalled >= spec.notice_s and not tracker.noticed:
                        tracker.noticed = True
                        self._notice("progress_stalled", task_id, tracker, now, stalled)
                    continue
                if tracker.noticed:
                    self._notice("progress_resumed", task_id, tracker, now, now - tracker.since)
            tracker.center, tracker.yaw, tracker.since = center, state.yaw, now
            tracker.noticed = False
        return None

    def _notice(
        self, kind: str, task_id: str, tracker: _Progress, now: float, detail: float | str
    ) -> None:
        event: dict[str, Any] = {
            "event": kind,
            "time": round(now, 4),
            "task": task_id,
            "robot": tracker.robot,
            "phase": tracker.phase,
        }
        if isinstance(detail, str):
            event["reason"] = detail
        else:
            event["stalled_s"] = round(detail, 2)
        self.notices.append(event)
        log.info("monitor: %s", event)

    def take_notices(self) -> list[dict[str, Any]]:
        """The notices since the last call (stalls and resumes), oldest first."""
        notices, self.notices = self.notices, []
        return notices

    def _stalled(
        self, task_id: str, tracker: _Progress, stalled: float, observation: Observation
    ) -> Misalignment:
        spec = tracker.spec
        evidence = (
            f"{tracker.robot} made no progress for {stalled:.1f} s in '{tracker.phase}' "
            f"(moved under {spec.moved_m:g} m and turned under {spec.turned_deg:g} degrees)"
        )
        return Misalignment(
            task_id,
            tracker.robot,
            f"{PROGRESS}({tracker.robot})",
            "during",
            True,
            observation.stamp,
            (VqaAnswer(False, 1.0, evidence),),
            f"is {tracker.robot} making progress?",
            observation.frame,
        )

    def _ask(self, observation: Observation, check: _Check) -> VqaAnswer | None:
        started = time.perf_counter()
        try:
            answer = self.backend.answer(observation, check.constraint.question, check.fact)
        except VqaError as exc:
            self.errors += 1
            self.last_error = str(exc)
            log.warning("monitor: %s backend failed: %s", self.backend.name, exc)
            return None
        finally:
            self.checks += 1
            self.check_seconds += time.perf_counter() - started
        return answer

    @property
    def ms_per_check(self) -> float:
        return 1000.0 * self.check_seconds / self.checks if self.checks else 0.0
