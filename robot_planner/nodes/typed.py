"""Typed mirrors of the JSON status and plan topics (robot_planner_interfaces).

Tools that want message types (Foxglove panels, rqt plugins, a C++ node drawing the DAG)
subscribe to these instead of parsing JSON: every status event is republished as a
`StatusEvent` message on ``/robot_planner/status_events`` and every plan as a `Plan`
message (tasks with robots, arguments, dependencies and constraints) on
``/robot_planner/plan_graph``. The JSON topics stay what the nodes talk over; free-form
details stay JSON only inside ``detail_json`` and ``args_json``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from builtin_interfaces.msg import Time

from robot_planner.service.events import StatusEvent
from robot_planner_interfaces.msg import Plan, PlanConstraint, PlanTask
from robot_planner_interfaces.msg import StatusEvent as StatusEventMsg

NS = "/robot_planner"
STATUS_EVENTS = f"{NS}/status_events"
PLAN_GRAPH = f"{NS}/plan_graph"


def stamp(seconds: float) -> Time:
    """Unix seconds as a `builtin_interfaces/Time` (0 for a value that is not a time)."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return Time()
    whole = int(seconds)
    return Time(sec=whole, nanosec=min(999_999_999, round((seconds - whole) * 1e9)))


def status_msg(event: StatusEvent) -> StatusEventMsg:
    """A status event as a message; `message` is its one-line reason, when it has one."""
    reason = event.details.get("reason", "")
    return StatusEventMsg(
        stamp=stamp(event.time),
        command_id=event.command_id,
        state=event.state,
        source=event.source,
        message=reason if isinstance(reason, str) else str(reason),
        detail_json=json.dumps(event.details, separators=(",", ":"), default=str),
    )


def plan_msg(message: dict[str, Any]) -> Plan:
    """The planner's plan message (``{"command_id", "revision", "issued", "plan" |
    "error", "readback"}``) as a `Plan`; an error message has no tasks."""
    plan = message.get("plan") or {}
    return Plan(
        stamp=stamp(message.get("issued", 0.0)),
        command_id=str(message.get("command_id", "")),
        revision=int(message.get("revision", 0)),
        command=str(plan.get("command", "")),
        readback=str(message.get("readback") or ""),
        goal=[str(fact) for fact in plan.get("goal", [])],
        tasks=[_task(task) for task in plan.get("tasks", [])],
        error=str(message.get("error") or ""),
    )


def _task(task: dict[str, Any]) -> PlanTask:
    return PlanTask(
        id=task["id"],
        skill=task["skill"],
        robot=task["robot"],
        args_json=json.dumps(task.get("args", {}), separators=(",", ":"), sort_keys=True),
        depends_on=list(task.get("depends_on", [])),
        constraints=[
            PlanConstraint(
                phase=c["phase"],
                fact=c["fact"],
                question=c["question"],
                expected=bool(c.get("expected", True)),
                period_s=float(c.get("period_s", 0.5)),
            )
            for c in task.get("constraints", [])
        ],
    )
