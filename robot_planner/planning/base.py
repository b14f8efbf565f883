"""The planner interface every backend implements (offline, OpenAI-compatible, transformers).

A planner turns a `PlanRequest` (the command, the current facts and, when re-planning,
what is done, what failed and why) into a `PlanResult` whose plan has passed the
validator. Backends never return unvalidated plans: LLM output that fails validation
goes back to the model with the error lines (the repair loop) and, when the budget is
spent, the call raises `PlanningError` with one readable line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from robot_planner.plan.model import Task, TaskPlan
from robot_planner.world.facts import Fact


class PlanningError(ValueError):
    """A command that cannot be planned (refused, impossible, backend failure): one line."""


#: How often an identical action (skill, robot, arguments) that failed may be tried
#: again while one command runs: once. After that a re-plan must do something else.
RETRIES = 1


@dataclass(frozen=True)
class FailedAction:
    """An action that failed while a command ran, and why (the supervisor's memory)."""

    skill: str
    robot: str
    args: tuple[tuple[str, Any], ...]
    reason: str
    times: int = 1
    #: Where the action's objects were when it last failed ("red_block@right_bin"): the
    #: same action with an object somewhere else is another attempt, not a repeat.
    where: tuple[str, ...] = ()

    @staticmethod
    def key_of(skill: str, robot: str, args: dict[str, Any]) -> tuple[str, str, tuple]:
        return skill, robot, tuple(sorted((k, str(v)) for k, v in args.items()))

    @property
    def key(self) -> tuple[str, str, tuple]:
        return self.skill, self.robot, self.args

    @property
    def excluded(self) -> bool:
        """Tried as often as allowed: a re-plan may not use it again."""
        return self.times > RETRIES

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``where`` only when known (a ROS `FailedAction` has no field for
        it: the supervisor sends only the failures that would be repeats now)."""
        data = {
            "skill": self.skill,
            "robot": self.robot,
            "args": dict(self.args),
            "reason": self.reason,
            "times": self.times,
        }
        return {**data, "where": list(self.where)} if self.where else data

    @classmethod
    def from_dict(cls, data: Any) -> FailedAction:
        """From `to_dict`'s form (a re-plan request over ROS: untrusted); ValueError."""
        if not isinstance(data, dict) or not isinstance(data.get("args"), dict):
            raise ValueError(f"a failed action must be an object with args, got {data!r:.80}")
        times = data.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 1000:
            raise ValueError(f"a failed action's times must be 1..1000, got {times!r:.20}")
        where = data.get("where", [])
        if not isinstance(where, list) or len(where) > 16:
            raise ValueError(f"a failed action's where must be a list, got {where!r:.80}")
        skill, robot, args = FailedAction.key_of(
            str(data.get("skill", "")), str(data.get("robot", "")), data["args"]
        )
        reason = str(data.get("reason", ""))[:500]
        return cls(skill, robot, args, reason, times, tuple(str(w)[:200] for w in where))

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.args)
        times = "once" if self.times == 1 else f"{self.times} times"
        return f"{self.skill}({args}) on {self.robot} failed {times}: {self.reason}"


@dataclass(frozen=True)
class PlanRequest:
    """What a planner is asked.

    Attributes:
        command: the user's words.
        state: the facts that hold now.
        goal: goal facts already known (a re-plan keeps the original goal).
        completed: ids and one-line descriptions of tasks already done (re-plan).
        failed_task: the task that failed or was halted (re-plan).
        evidence: why it failed: the misalignment or failure reason (re-plan).
        failures: every action that failed so far in this command; those `excluded`
            must not be in the new plan (re-plan).
    """

    command: str
    state: frozenset[Fact]
    goal: tuple[Fact, ...] | None = None
    completed: tuple[str, ...] = ()
    failed_task: Task | None = None
    evidence: str = ""
    failures: tuple[FailedAction, ...] = ()

    def excluded(self) -> tuple[FailedAction, ...]:
        """The failed actions a new plan must not contain."""
        return tuple(f for f in self.failures if f.excluded)

    @property
    def is_replan(self) -> bool:
        return self.goal is not None or self.failed_task is not None or bool(self.evidence)


def repeated_action(plan: TaskPlan, failures: tuple[FailedAction, ...]) -> FailedAction | None:
    """The first excluded failed action `plan` would run again (any backend's plan is
    checked: an LLM may ignore what it was told), or None."""
    excluded = {f.key: f for f in failures if f.excluded}
    for task in plan.tasks:
        found = excluded.get(FailedAction.key_of(task.skill, task.robot, task.args))
        if found is not None:
            return found
    return None


@dataclass
class PlanResult:
    """A validated plan and how it was obtained."""

    plan: TaskPlan
    backend: str
    attempts: int = 1
    latency_s: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Where the backend had to guess what was meant (a pronoun with two candidates, a
    #: model's reading of the words): a reason to ask before acting (`confirm: ambiguous`).
    guesses: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "backend": self.backend,
            "attempts": self.attempts,
            "latency_s": round(self.latency_s, 4),
            "usage": self.usage,
            "notes": self.notes,
            "guesses": self.guesses,
        }


@runtime_checkable
class Planner(Protocol):
    """A planning backend."""

    name: str

    def plan(self, request: PlanRequest) -> PlanResult:
        """A validated plan for the command from the request's state."""
        ...

    def replan(self, request: PlanRequest) -> PlanResult:
        """A validated plan for what remains of the goal, from the observed state."""
        ...
