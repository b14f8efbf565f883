"""Status events: the JSON documents on `/robot_planner/status`.

Every event names the command it belongs to, a state from `STATES`, the wall-clock time
(Unix seconds), the node that emitted it, and free-form details. The schema is
`StatusEvent.model_json_schema()` (printed by `robot-planner schema --status`) and is
documented in docs/status_events.md.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Life of a command: accepted (maybe queued) -> planned [-> awaiting_approval ->
#: approved] -> task_* ... -> done | failed | cancelled. `error` is bad input or a broken
#: backend; `rejected` a command turned away (busy with `on_new_command: reject`, the
#: queue is full) or a plan a person rejected or did not approve in time (`confirm`).
FINAL_STATES = ("done", "failed", "cancelled", "error", "rejected", "interrupted")
STATES = (
    "accepted",
    "transcript",
    "not_understood",
    "planned",
    "awaiting_approval",
    "approved",
    "task_started",
    "task_phase",
    "task_succeeded",
    "task_failed",
    "task_cancelled",
    "misalignment",
    "monitor_degraded",
    "progress_stalled",
    "progress_resumed",
    "replanning",
    "replanned",
    "verifying",
    *FINAL_STATES,
)
State = Literal[
    "accepted",
    "transcript",
    "not_understood",
    "planned",
    "awaiting_approval",
    "approved",
    "task_started",
    "task_phase",
    "task_succeeded",
    "task_failed",
    "task_cancelled",
    "misalignment",
    "monitor_degraded",
    "progress_stalled",
    "progress_resumed",
    "replanning",
    "replanned",
    "verifying",
    "done",
    "failed",
    "cancelled",
    "error",
    "rejected",
    "interrupted",
]
#: Events that do not belong to a command (a transcript nothing could be made of, a
#: malformed message) carry this id.
NO_COMMAND = ""
MAX_EVENT_BYTES = 256_000


class StatusEvent(BaseModel):
    """One status event."""

    model_config = ConfigDict(extra="forbid")

    command_id: str = Field(description="the command this event is about ('' for none)")
    state: State = Field(description="where the command is")
    time: float = Field(description="wall-clock time, Unix seconds")
    source: str = Field(description="the node that emitted it: planner, executor, ...")
    details: dict[str, Any] = Field(default_factory=dict, description="state-specific")

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def to_json(self) -> str:
        return json.dumps(self.model_dump(), separators=(",", ":"), default=str)


class EventError(ValueError):
    """A status message that is not a valid event (one line)."""


def make_event(
    command_id: str,
    state: str,
    source: str,
    details: dict[str, Any] | None = None,
    stamp: float | None = None,
) -> StatusEvent:
    """An event stamped now (or at `stamp`)."""
    return StatusEvent(
        command_id=command_id,
        state=state,  # type: ignore[arg-type]
        time=round(time.time() if stamp is None else stamp, 6),
        source=source,
        details=details or {},
    )


def parse_event(text: str) -> StatusEvent:
    """Parse and validate one status message; raise `EventError` with one line."""
    if len(text) > MAX_EVENT_BYTES:
        raise EventError(f"status event of {len(text)} bytes is over {MAX_EVENT_BYTES}")
    try:
        return StatusEvent.model_validate_json(text)
    except ValidationError as exc:
        raise _event_error(exc) from None


def validate_event(data: dict[str, Any]) -> StatusEvent:
    """Validate an event's fields received in another form (a typed `StatusEvent`
    message): the same checks as `parse_event`; raise `EventError` with one line."""
    try:
        return StatusEvent.model_validate(data)
    except ValidationError as exc:
        raise _event_error(exc) from None


def _event_error(exc: ValidationError) -> EventError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "event"
    return EventError(f"invalid status event: {where}: {first.get('msg')}")
