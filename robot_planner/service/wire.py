"""The field values of robot_planner_interfaces' `StatusEvent` and `Plan` messages as
plain dicts, with no ROS import.

One mapping serves both ways of running: the nodes build their typed messages from these
dicts (`robot_planner.nodes.typed`), and `robot-planner run --record-mcap`, which stays
ROS-free, writes the same dicts to MCAP under the same schema, so a recording of a run
and one of a bring-up hold the same channels and a tool reads both alike.
"""

from __future__ import annotations

import json
import math
from typing import Any

from robot_planner.service.events import StatusEvent

#: Supervisor events -> status states (others are not published).
STATE_OF = {
    "task_started": "task_started",
    "task_succeeded": "task_succeeded",
    "task_failed": "task_failed",
    "task_cancelled": "task_cancelled",
    "misalignment": "misalignment",
    "monitor_degraded": "monitor_degraded",
    "progress_stalled": "progress_stalled",
    "progress_resumed": "progress_resumed",
    "replanned": "replanned",
    "clearing_view": "replanning",
    "verifying": "verifying",
    "plan_succeeded": "done",
    "plan_failed": "failed",
    "plan_cancelled": "cancelled",
}
#: The states that end a command's run on the robots.
RUN_FINAL = ("done", "failed", "cancelled")


def stamp_fields(seconds: float) -> dict[str, int]:
    """Seconds as `builtin_interfaces/Time` fields (0 for a value that is not a time)."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return {"sec": 0, "nanosec": 0}
    whole = int(seconds)
    return {"sec": whole, "nanosec": min(999_999_999, round((seconds - whole) * 1e9))}


def status_of(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A supervisor event as the executor publishes it: (state, details), or None for an
    event that is not published (the tree's own ``plan_*`` events: the supervisor's final
    one follows). The robot's clock moves to ``robot_time``; ``time`` is the event's."""
    name = event.get("event", "")
    state = STATE_OF.get(name)
    if state is None or (name.startswith("plan_") and not event.get("supervised")):
        return None
    details = {k: v for k, v in event.items() if k not in ("event", "supervised")}
    details["robot_time"] = details.pop("time", None)
    return state, details


def status_fields(event: StatusEvent) -> dict[str, Any]:
    """A status event as `StatusEvent` message fields; `message` is its one-line reason,
    when it has one; the details stay JSON (free-form by nature)."""
    reason = event.details.get("reason", "")
    return {
        "stamp": stamp_fields(event.time),
        "command_id": event.command_id,
        "state": event.state,
        "source": event.source,
        "message": reason if isinstance(reason, str) else str(reason),
        "detail_json": json.dumps(event.details, separators=(",", ":"), default=str),
    }


def plan_fields(message: dict[str, Any]) -> dict[str, Any]:
    """The planner's plan message (``{"command_id", "revision", "issued", "plan" |
    "error", "readback"}``) as `Plan` message fields; one without a plan has no tasks and
    a non-empty `error` (an empty plan is a plan: a goal that already holds)."""
    plan = message.get("plan")
    error = "" if plan is not None else str(message.get("error") or "no plan")
    plan = plan or {}
    return {
        "stamp": stamp_fields(message.get("issued", 0.0)),
        "command_id": str(message.get("command_id", "")),
        "revision": int(message.get("revision", 0)),
        "command": str(plan.get("command", "")),
        "readback": str(message.get("readback") or ""),
        "goal": [str(fact) for fact in plan.get("goal", [])],
        "tasks": [task_fields(task) for task in plan.get("tasks", [])],
        "error": error,
    }


def task_fields(task: dict[str, Any]) -> dict[str, Any]:
    """A plan's JSON task as `PlanTask` fields (arguments as a JSON object, key order
    kept: the executor's tree and an LLM's re-plan prompt show them so)."""
    return {
        "id": task["id"],
        "skill": task["skill"],
        "robot": task["robot"],
        "args_json": json.dumps(task.get("args", {}), separators=(",", ":")),
        "depends_on": list(task.get("depends_on", [])),
        "constraints": [
            {
                "phase": c["phase"],
                "fact": c["fact"],
                "question": c["question"],
                "expected": bool(c.get("expected", True)),
                "period_s": float(c.get("period_s", 0.5)),
                "kind": str(c.get("kind", "task")),
            }
            for c in task.get("constraints", [])
        ],
    }
