"""The `ExecuteCommand` action's meaning, ROS-free: goal -> command, status events ->
feedback, final event -> result with an error code.

The planner node only copies these dictionaries into the generated messages, so the rules
(which reason is NOT_UNDERSTOOD, what counts as a running task, what a rejected goal
answers) are tested here without rclpy. `ERROR_CODES` mirrors the constants of
``ExecuteCommand.Result``; a test checks they agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from robot_planner.service.commands import ID_PATTERN, Command, CommandError, parse_command
from robot_planner.service.events import FINAL_STATES, StatusEvent
from robot_planner.untrusted import quoted, shown

ERROR_CODES: dict[str, int] = {
    "NONE": 0,
    "UNKNOWN": 1,
    "NOT_UNDERSTOOD": 2,
    "INVALID_PLAN": 3,
    "PLAN_FAILED": 4,
    "EXECUTION_FAILED": 5,
    "CANCELLED": 6,
    "TIMEOUT": 7,
    "REJECTED": 8,
    "INTERRUPTED": 9,
}
CODE_NAMES: dict[int, str] = {code: name for name, code in ERROR_CODES.items()}

#: Why a planning `error` event happened (``details["kind"]``, set by the planner node):
#: the text was not understood, or no plan was found / the backend failed.
NOT_UNDERSTOOD, PLAN_FAILED = "not_understood", "plan_failed"
#: Options a goal may carry in `options_json` (none yet: unknown keys are refused, so a
#: client never believes an option took effect when it did not).
GOAL_OPTIONS: frozenset[str] = frozenset()
MAX_OPTIONS_CHARS = 2000
MAX_MESSAGE_CHARS = 500
MAX_RUNNING = 64


def command_from_goal(text: str, source: str, command_id: str, options_json: str) -> Command:
    """The command a goal asks for, checked exactly like one on the command topic.

    Raises:
        CommandError: empty, oversized or non-text command, a malformed id, or options
            that are not a JSON object of known keys (one readable line).
    """
    if not isinstance(text, str) or not isinstance(command_id, str):
        raise CommandError("command and id must be text")
    options = (options_json or "").strip()
    if len(options) > MAX_OPTIONS_CHARS:
        raise CommandError(f"options_json of {len(options)} characters is too long")
    if options:
        try:
            parsed = json.loads(options)
        except ValueError as exc:
            raise CommandError(f"options_json is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise CommandError("options_json must be a JSON object")
        unknown = sorted(set(parsed) - GOAL_OPTIONS)
        if unknown:
            names = ", ".join(shown(name, 30) for name in unknown)
            raise CommandError(f"unknown option(s) in options_json: {shown(names, 120)}")
    payload: dict[str, Any] = {"text": text, "source": (source or "action")[:32]}
    if command_id:
        payload["id"] = command_id
    # A JSON object: the id and source go through the topic's own checks.
    return parse_command(json.dumps(payload), source="action")


def error_code(state: str, details: dict[str, Any] | None = None) -> int:
    """The result's error code for a command that ended in `state` with `details` (the
    final status event's). Reasons are matched only where no structured field exists."""
    details = details or {}
    reason = str(details.get("reason", ""))
    if state == "done":
        return ERROR_CODES["NONE"]
    if state == "cancelled":
        return ERROR_CODES["CANCELLED"]
    if state == "rejected":
        # Turned away, or a plan a person rejected or left unanswered (`confirm`).
        return ERROR_CODES["REJECTED"]
    if state == "interrupted":
        return ERROR_CODES["INTERRUPTED"]
    if state == "failed":
        # The supervisor's time limit ("time limit: over N s") is the command's timeout.
        if reason.startswith("time limit"):
            return ERROR_CODES["TIMEOUT"]
        return ERROR_CODES["EXECUTION_FAILED"]
    if state == "error":
        kind = details.get("kind")
        if kind == NOT_UNDERSTOOD:
            return ERROR_CODES["NOT_UNDERSTOOD"]
        if kind == PLAN_FAILED:
            return ERROR_CODES["PLAN_FAILED"]
        if reason.startswith("plan rejected by the executor"):
            return ERROR_CODES["INVALID_PLAN"]
        return ERROR_CODES["UNKNOWN"]
    return ERROR_CODES["UNKNOWN"]


@dataclass
class CommandProgress:
    """What the status events of one command say so far (the feedback's source)."""

    command_id: str
    state: str = "accepted"
    readback: str = ""
    running: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    total: int = 0
    replans: int = 0
    final: StatusEvent | None = None

    def update(self, event: StatusEvent) -> bool:
        """Fold in `event`; False when it is not this command's (or adds nothing).

        After a re-plan the counts start again over the new plan's tasks (its task ids
        may repeat the old plan's).
        """
        if event.command_id != self.command_id or self.final is not None:
            return False
        if event.source == "voice":  # the voice node's transcript or error: not the command
            return False
        details = event.details
        self.state = event.state
        if event.state in ("planned", "replanned", "awaiting_approval") and isinstance(
            details.get("readback"), str
        ):
            self.readback = details["readback"][:MAX_MESSAGE_CHARS]
        if event.state in ("planned", "replanned"):
            self.total = _count(details.get("tasks"), self.total)
            self.running, self.done = [], set()
            if event.state == "replanned":
                self.replans = _count(details.get("replans"), self.replans + 1)
        task = details.get("task")
        if isinstance(task, str) and task:
            if event.state == "task_started" and task not in self.running:
                self.running = [*self.running, task][-MAX_RUNNING:]
            elif event.state in ("task_succeeded", "task_failed", "task_cancelled"):
                self.running = [t for t in self.running if t != task]
                if event.state == "task_succeeded":
                    self.done.add(task)
        if event.state in FINAL_STATES:
            self.running = []
            if "replans" in details:
                self.replans = _count(details.get("replans"), self.replans)
            self.final = event
        return True

    @property
    def message(self) -> str:
        """One line: the final reason, else what the command is (its read-back)."""
        if self.final is not None:
            reason = self.final.details.get("reason")
            if reason:
                return quoted(reason, MAX_MESSAGE_CHARS)
            if self.final.state == "done":
                return quoted(f"done: {self.readback}" if self.readback else "done", 500)
            return self.final.state
        return quoted(self.readback, MAX_MESSAGE_CHARS) if self.readback else self.state

    def feedback(self) -> dict[str, Any]:
        """The feedback message's fields."""
        return {
            "state": self.state,
            "readback": self.readback,
            "running_tasks": list(self.running),
            "tasks_done": min(len(self.done), self.total) if self.total else len(self.done),
            "tasks_total": self.total,
            "replans": self.replans,
            "id": self.command_id,
        }

    def result(self, fallback_facts: list[str] | None = None) -> dict[str, Any]:
        """The result's fields once the command ended (`final` is set).

        `fallback_facts`: the world state the planner knows, for an end that carries no
        facts (the executor's done/failed/cancelled events carry the robots' own).
        """
        if self.final is None:
            raise ValueError(f"command {self.command_id} has not ended")
        facts = self.final.details.get("facts")
        if not (isinstance(facts, list) and all(isinstance(f, str) for f in facts)):
            facts = list(fallback_facts or [])
        code = error_code(self.final.state, self.final.details)
        return {
            "success": code == ERROR_CODES["NONE"],
            "final_state": self.final.state,
            "error_code": code,
            "message": self.message,
            "final_facts": facts,
            "id": self.command_id,
        }


def rejected_result(command_id: str, reason: str, facts: list[str] | None = None) -> dict:
    """The result of a goal turned away before it became a command."""
    return {
        "success": False,
        "final_state": "rejected",
        "error_code": ERROR_CODES["REJECTED"],
        "message": quoted(reason, MAX_MESSAGE_CHARS),
        "final_facts": list(facts or []),
        # A malformed id is not echoed back (it may be what was wrong).
        "id": command_id if _valid_id(command_id) else "",
    }


def _valid_id(command_id: Any) -> bool:
    return isinstance(command_id, str) and bool(ID_PATTERN.fullmatch(command_id))


def _count(value: Any, default: int) -> int:
    """A count from an event's details, or `default` when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default
