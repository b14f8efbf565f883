"""Behaviours that make up a compiled plan: dependency gates and skill calls.

Both follow py_trees' skeleton: ``__init__`` does no I/O (a tree can be built and
rendered offline), ``initialise`` starts work, ``update`` never blocks, ``terminate``
cancels a RUNNING skill when the tree is halted or pre-empted.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

import py_trees
from py_trees.common import Status

from robot_planner.adapters.base import RobotAdapter, SkillState, SkillStatus
from robot_planner.bt.ledger import TaskLedger, TaskState
from robot_planner.plan.model import Task

log = logging.getLogger(__name__)


class DependencyGate(py_trees.behaviour.Behaviour):
    """Wait until this task's own prerequisites succeeded (not a whole plan level).

    RUNNING while any prerequisite is pending or running; SUCCESS when all succeeded;
    FAILURE, and the task marked failed with the reason, when any of them failed or was
    cancelled, so a dependant fails visibly instead of waiting forever.
    """

    def __init__(self, task_id: str, depends_on: Sequence[str], ledger: TaskLedger):
        super().__init__(name=f"wait for {', '.join(depends_on)}" if depends_on else "ready")
        self.task_id = task_id
        self.depends_on = tuple(depends_on)
        self.ledger = ledger

    def update(self) -> Status:
        waiting = []
        for dep in self.depends_on:
            record = self.ledger.records[dep]
            if record.state in (TaskState.FAILED, TaskState.CANCELLED):
                self.ledger.fail_dependant(self.task_id, dep)
                self.feedback_message = f"{dep} {record.state.value}"
                return Status.FAILURE
            if record.state is not TaskState.SUCCEEDED:
                waiting.append(dep)
        if waiting:
            self.feedback_message = f"waiting for {', '.join(waiting)}"
            return Status.RUNNING
        self.feedback_message = "prerequisites succeeded"
        return Status.SUCCESS


class SkillBehaviour(py_trees.behaviour.Behaviour):
    """Run one task's skill on the robot adapter, with the catalogue's timeout."""

    def __init__(self, task: Task, adapter: RobotAdapter, ledger: TaskLedger, timeout_s: float):
        super().__init__(name=f"{task.id}: {task.skill}({_format_args(task.args)})")
        self.task = task
        self.adapter = adapter
        self.ledger = ledger
        self.timeout_s = timeout_s
        self._handle: Hashable | None = None
        self._started_at = 0.0
        self._start_error = ""

    def initialise(self) -> None:
        self._handle = None
        self._start_error = ""
        self._started_at = self.ledger.now()
        self.ledger.start(self.task.id)
        try:
            self._handle = self.adapter.start_skill(
                self.task.robot, self.task.skill, self.task.args
            )
        except Exception as exc:
            self._start_error = f"could not start {self.task.skill}: {exc}"
            log.warning("task %s: %s", self.task.id, self._start_error)

    def update(self) -> Status:
        if self._handle is None:
            self.ledger.fail(self.task.id, self._start_error or "skill was not started")
            return Status.FAILURE
        try:
            status = self.adapter.poll(self._handle)
            if not isinstance(status, SkillStatus):
                raise TypeError(f"adapter returned {type(status).__name__}, not SkillStatus")
        except Exception as exc:
            self._cancel_quietly()
            self._handle = None
            self.ledger.fail(self.task.id, f"polling {self.task.skill} failed: {exc}")
            return Status.FAILURE
        if status.state is SkillState.SUCCEEDED:
            self._handle = None
            self.feedback_message = "done"
            self.ledger.succeed(self.task.id)
            return Status.SUCCESS
        if status.state in (SkillState.FAILED, SkillState.CANCELLED):
            self._handle = None
            self.ledger.fail(self.task.id, status.reason or status.state.value)
            return Status.FAILURE
        elapsed = self.ledger.now() - self._started_at
        if elapsed > self.timeout_s:
            self._cancel_quietly()
            self._handle = None
            self.ledger.fail(
                self.task.id, f"timeout: {self.task.skill} took over {self.timeout_s:g} s"
            )
            return Status.FAILURE
        record = self.ledger.records[self.task.id]
        record.progress = status.progress
        record.phase = status.phase
        self.feedback_message = f"{status.progress:.0%}"
        return Status.RUNNING

    def terminate(self, new_status: Status) -> None:
        # INVALID means halted from above (cancel, a failed sibling lane, pre-emption).
        if new_status == Status.INVALID and self._handle is not None:
            self._cancel_quietly()
            self._handle = None
            self.ledger.cancel(self.task.id, "halted")

    def _cancel_quietly(self) -> None:
        if self._handle is None:
            return
        try:
            self.adapter.cancel(self._handle)
        except Exception:
            log.exception("task %s: cancel failed", self.task.id)


def _format_args(args: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())
