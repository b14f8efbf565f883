"""The task ledger: the state of every task in a running plan, and its event stream.

Dependency gates read it, skill behaviours write it, the executor reports from it.
It is a plain object handed to the behaviours rather than py_trees' blackboard, whose
storage is process-global: two executors in one process (parallel benchmark worlds,
an executor node next to a test harness) must never see each other's tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TaskState(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)


@dataclass
class TaskRecord:
    """One task's state, timing and failure reason."""

    task_id: str
    robot: str
    skill: str
    state: TaskState = TaskState.PENDING
    reason: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    progress: float = 0.0
    phase: str = ""
    #: For a task failed because a prerequisite failed: the original failure reason.
    cause: str = ""


@dataclass(frozen=True)
class ExecutionEvent:
    """Something that happened while executing a plan (JSON-friendly)."""

    kind: str  # task_started | task_succeeded | task_failed | task_cancelled | plan_*
    time: float
    task: str | None = None
    robot: str | None = None
    skill: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.kind, "time": round(self.time, 4)}
        for key in ("task", "robot", "skill"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.reason:
            data["reason"] = self.reason
        if self.details:
            data["details"] = self.details
        return data


Listener = Callable[[ExecutionEvent], None]


class TaskLedger:
    """Task states for one plan, with listeners notified on every transition."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.records: dict[str, TaskRecord] = {}
        #: Ids of failed tasks in failure order (kept so a tick need not scan every task).
        self.failed: list[str] = []
        self._listeners: list[Listener] = []

    def add_task(self, task_id: str, robot: str, skill: str) -> None:
        self.records[task_id] = TaskRecord(task_id, robot, skill)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: ExecutionEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def state(self, task_id: str) -> TaskState:
        return self.records[task_id].state

    def now(self) -> float:
        return self._clock()

    def _finish(self, task_id: str, state: TaskState, reason: str, kind: str) -> None:
        record = self.records[task_id]
        if record.state.finished:
            return
        record.state = state
        record.reason = reason
        record.ended_at = self._clock()
        if state is TaskState.FAILED:
            self.failed.append(task_id)
        self.emit(
            ExecutionEvent(kind, record.ended_at, task_id, record.robot, record.skill, reason)
        )

    def start(self, task_id: str) -> None:
        record = self.records[task_id]
        record.state = TaskState.RUNNING
        record.started_at = self._clock()
        self.emit(
            ExecutionEvent("task_started", record.started_at, task_id, record.robot, record.skill)
        )

    def succeed(self, task_id: str) -> None:
        self.records[task_id].progress = 1.0
        self._finish(task_id, TaskState.SUCCEEDED, "", "task_succeeded")

    def fail(self, task_id: str, reason: str) -> None:
        self._finish(task_id, TaskState.FAILED, reason, "task_failed")

    def fail_dependant(self, task_id: str, dep_id: str) -> None:
        """Fail a task because prerequisite `dep_id` failed or was cancelled.

        The reason names the direct prerequisite and the root cause, never a chain, so a
        failure early in a 1,000-task plan does not produce kilobyte-long reasons.
        """
        dep = self.records[dep_id]
        cause = dep.cause or dep.reason
        self.records[task_id].cause = cause
        why = f": {cause}" if cause else ""
        self.fail(task_id, f"dependency {dep_id} {dep.state.value}{why}")

    def cancel(self, task_id: str, reason: str) -> None:
        self._finish(task_id, TaskState.CANCELLED, reason, "task_cancelled")

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in TaskState}
        for record in self.records.values():
            counts[record.state.value] += 1
        return counts
