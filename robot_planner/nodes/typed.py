"""Conversions between the package's own values and robot_planner_interfaces messages.

The monitor's findings travel typed: `Misalignment` messages on
``/robot_planner/misalignment`` and `Perception` messages on
``/robot_planner/perception`` (monitor -> executor), so a recording or a tool reads them
without parsing JSON. Tools that want message types for the rest (Foxglove panels, rqt
plugins, a C++ node drawing the DAG) subscribe to the typed mirrors: every status event
is republished as a `StatusEvent` message on ``/robot_planner/status_events`` and every
plan as a `Plan` message (tasks with robots, arguments, dependencies and constraints) on
``/robot_planner/plan_graph``; the JSON status and plan topics stay what the nodes talk
over. Free-form details stay JSON only inside ``detail_json`` and ``args_json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from builtin_interfaces.msg import Time

from robot_planner.monitor.detector import Misalignment
from robot_planner.service.events import StatusEvent
from robot_planner_interfaces.msg import Misalignment as MisalignmentMsg
from robot_planner_interfaces.msg import Perception, Plan, PlanConstraint, PlanTask
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


def seconds(time: Time) -> float:
    """A `builtin_interfaces/Time` as seconds (rounded to the microsecond: the stamps sent
    are rounded coarser, so a round trip gives the value back)."""
    return round(time.sec + time.nanosec * 1e-9, 6)


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


# --- the monitor's findings (monitor -> executor) -------------------------------------


@dataclass(frozen=True)
class MisalignmentReport:
    """What a `Misalignment` message says: the finding about one plan revision of one
    command, and the facts the monitor perceived in that frame (None: its backend
    estimates none)."""

    command_id: str
    revision: int
    misalignment: Misalignment
    facts: tuple[str, ...] | None = None
    #: How long the confirming check took (ms), when the monitor measured it.
    check_ms: float | None = None


def misalignment_msg(report: MisalignmentReport) -> MisalignmentMsg:
    """The monitor's finding as a message; the VQA details (question, answers, evidence)
    are free-form and travel in ``detail_json``."""
    found = report.misalignment.to_dict()
    details = {
        "question": found["question"],
        "answers": found["answers"],
        "evidence": found["evidence"],
        "frame_stamp": found["frame_stamp"],
        "check_ms": report.check_ms,
    }
    return MisalignmentMsg(
        stamp=stamp(found["time"]),
        command_id=report.command_id,
        revision=report.revision,
        task_id=found["task"],
        robot=found["robot"],
        fact=found["fact"],
        phase=found["phase"],
        expected=bool(found["expected"]),
        confidence=float(found["confidence"]),
        reason=report.misalignment.describe(),
        facts=list(report.facts or ()),
        detail_json=json.dumps(details, separators=(",", ":"), default=str),
    )


def misalignment_from_msg(msg: MisalignmentMsg) -> MisalignmentReport:
    """A received `Misalignment` message, checked as `Misalignment.from_dict` checks one
    (it comes from another process); ValueError, KeyError or TypeError when malformed."""
    details = json.loads(msg.detail_json) if msg.detail_json else {}
    if not isinstance(details, dict):
        raise TypeError("misalignment detail_json must be a JSON object")
    found = Misalignment.from_dict(
        {
            "time": seconds(msg.stamp),
            "task": msg.task_id,
            "robot": msg.robot,
            "fact": msg.fact,
            "phase": msg.phase,
            "expected": msg.expected,
            "question": details.get("question", ""),
            "answers": details.get("answers"),
            "confidence": round(float(msg.confidence), 6),  # float32 on the wire
            "evidence": details.get("evidence", ""),
        }
    )
    check_ms = details.get("check_ms")
    return MisalignmentReport(
        command_id=msg.command_id,
        revision=int(msg.revision),
        misalignment=found,
        facts=tuple(msg.facts) if msg.facts else None,
        check_ms=float(check_ms) if check_ms is not None else None,
    )


def perception_msg(stamp_s: float, facts: Iterable[str], source: str) -> Perception:
    """Facts perceived in the camera frame of `stamp_s`, by `source` (backend:camera)."""
    return Perception(stamp=stamp(stamp_s), facts=list(facts), confidences=[], source=source)


def perception_facts(msg: Perception) -> list[str]:
    """The facts of a received `Perception` message (checked against the scene by the
    caller)."""
    return list(msg.facts)
