"""Conversions between the package's own values and robot_planner_interfaces messages.

The nodes talk over typed messages: status events are `StatusEvent` messages on
``/robot_planner/status_events`` (every node -> every node, the CLI, tools); plans are
`Plan` messages (tasks with robots, arguments, dependencies and constraints) on
``/robot_planner/plan_graph`` (planner -> executor, monitor); the monitor's findings are
`Misalignment` messages on ``/robot_planner/misalignment`` and `Perception` messages on
``/robot_planner/perception`` (monitor -> executor); re-plan requests are
`ReplanRequest` messages on ``/robot_planner/replan`` and the robots' state is a
`WorldState` on ``/robot_planner/state`` (executor -> planner); the simulated robots'
proprioception is a `Proprioception` on ``/robot_planner/grippers`` (executor ->
monitor). A recording or a tool (Foxglove panels, rqt plugins, a C++ node drawing the
DAG) reads them without parsing JSON. The
JSON topics ``/robot_planner/status`` and ``/robot_planner/plan`` stay as human-readable
mirrors for ``ros2 topic echo`` and existing tools; no node reads them. Free-form details
stay JSON only inside ``detail_json`` and ``args_json``.

Each ``*_msg`` function makes a message; each ``*_from_msg`` reads a received one back
into what the JSON form gave, checked as the JSON form was (it comes from another
process).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time

from robot_planner.monitor.detector import Misalignment

# The typed topics' names, re-exported: their home is the topic table in `common`.
from robot_planner.nodes.common import PLAN_GRAPH as PLAN_GRAPH
from robot_planner.nodes.common import STATUS_EVENTS as STATUS_EVENTS
from robot_planner.nodes.sensors import from_time, to_time
from robot_planner.service.events import MAX_EVENT_BYTES, EventError, StatusEvent, validate_event
from robot_planner.service.wire import plan_fields, stamp_fields, status_fields, task_fields
from robot_planner.world.observation import BaseState, GripperState
from robot_planner_interfaces.msg import BaseState as BaseStateMsg
from robot_planner_interfaces.msg import FailedAction as FailedActionMsg
from robot_planner_interfaces.msg import GripperState as GripperStateMsg
from robot_planner_interfaces.msg import Misalignment as MisalignmentMsg
from robot_planner_interfaces.msg import (
    Perception,
    Plan,
    PlanConstraint,
    PlanTask,
    Proprioception,
    ReplanRequest,
    WorldState,
)
from robot_planner_interfaces.msg import StatusEvent as StatusEventMsg


def stamp(seconds: float) -> Time:
    """Unix seconds as a `builtin_interfaces/Time` (0 for a value that is not a time)."""
    return Time(**stamp_fields(seconds))


def seconds(time: Time) -> float:
    """A `builtin_interfaces/Time` as seconds (rounded to the microsecond: the stamps sent
    are rounded coarser, so a round trip gives the value back)."""
    return round(time.sec + time.nanosec * 1e-9, 6)


def status_msg(event: StatusEvent) -> StatusEventMsg:
    """A status event as a message (`wire.status_fields`)."""
    fields = status_fields(event)
    return StatusEventMsg(**{**fields, "stamp": Time(**fields["stamp"])})


def status_from_msg(msg: StatusEventMsg) -> StatusEvent:
    """A received `StatusEvent` message as the event its sender made, checked as
    `parse_event` checks the JSON one; `EventError` (one line) when malformed."""
    if len(msg.detail_json) > MAX_EVENT_BYTES:
        raise EventError(f"status event details over {MAX_EVENT_BYTES} bytes")
    try:
        details = json.loads(msg.detail_json) if msg.detail_json else {}
    except ValueError as exc:
        raise EventError(f"invalid status event: detail_json: {exc}") from None
    return validate_event(
        {
            "command_id": msg.command_id,
            "state": msg.state,
            "time": seconds(msg.stamp),
            "source": msg.source,
            "details": details,
        }
    )


def plan_msg(message: dict[str, Any]) -> Plan:
    """The planner's plan message as a `Plan` (`wire.plan_fields`)."""
    fields = plan_fields(message)
    tasks = [_task_msg(task) for task in fields["tasks"]]
    return Plan(**{**fields, "stamp": Time(**fields["stamp"]), "tasks": tasks})


def _task_msg(fields: dict[str, Any]) -> PlanTask:
    constraints = [PlanConstraint(**c) for c in fields["constraints"]]
    return PlanTask(**{**fields, "constraints": constraints})


def plan_from_msg(msg: Plan) -> dict[str, Any]:
    """A received `Plan` as the planner's plan message (`plan_msg`'s argument), for the
    checks the JSON one went through: the plan itself is still untrusted and validated by
    its reader. Arguments that are not a JSON object stay text, so the validator rejects
    the plan naming the task (as it did a JSON plan whose args were no object)."""
    message: dict[str, Any] = {
        "command_id": msg.command_id,
        "revision": int(msg.revision),
        "issued": seconds(msg.stamp),
    }
    if msg.error:
        message["error"] = msg.error
        return message
    message["plan"] = {
        "command": msg.command,
        "goal": list(msg.goal),
        "tasks": [task_from_msg(task) for task in msg.tasks],
    }
    if msg.readback:
        message["readback"] = msg.readback
    return message


def task_from_msg(task: PlanTask) -> dict[str, Any]:
    """A `PlanTask` as the plan's JSON task (`Task.model_dump`'s keys and order)."""
    return {
        "id": task.id,
        "skill": task.skill,
        "robot": task.robot,
        "args": _json_object(task.args_json),
        "depends_on": list(task.depends_on),
        "constraints": [
            {
                "phase": c.phase,
                "fact": c.fact,
                "question": c.question,
                "expected": bool(c.expected),
                "period_s": float(c.period_s),
                "kind": c.kind or "task",
            }
            for c in task.constraints
        ],
    }


def _json_object(text: str) -> Any:
    """`text` as the JSON object it holds ("" is {}); anything else stays the text, for
    the reader's checks to refuse (they want an object)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


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


# --- the re-plan exchange and the world state (executor -> planner) -------------------


def replan_request_msg(request: dict[str, Any], stamp_s: float) -> ReplanRequest:
    """The executor's re-plan request (``{"command_id", "revision", "command", "facts",
    "goal", "completed", "failed_task", "evidence", "failures"}``, made at `stamp_s`) as
    a message; the failed task and the failed actions' arguments keep their JSON."""
    failed = request.get("failed_task")
    return ReplanRequest(
        stamp=stamp(stamp_s),
        command_id=str(request["command_id"]),
        revision=int(request.get("revision") or 0),
        command=str(request.get("command", "")),
        facts=[str(fact) for fact in request.get("facts", [])],
        goal=[str(fact) for fact in request.get("goal", [])],
        completed=[str(done) for done in request.get("completed", [])],
        failed_task=[_task_msg(task_fields(failed))] if failed else [],
        evidence=str(request.get("evidence", "")),
        failures=[
            FailedActionMsg(
                skill=str(f["skill"]),
                robot=str(f["robot"]),
                args_json=json.dumps(f.get("args", {}), separators=(",", ":")),
                reason=str(f.get("reason", "")),
                times=int(f.get("times", 1)),
            )
            for f in request.get("failures", [])
        ],
    )


def replan_request_from_msg(msg: ReplanRequest) -> dict[str, Any]:
    """A received `ReplanRequest` as the request dict the planner's lifecycle checks (it
    comes from another process); arguments that are not a JSON object stay text, so
    those checks refuse the request as they refused such a JSON one."""
    return {
        "command_id": msg.command_id,
        "revision": int(msg.revision),
        "command": msg.command,
        "facts": list(msg.facts),
        "goal": list(msg.goal),
        "completed": list(msg.completed),
        "failed_task": task_from_msg(msg.failed_task[0]) if msg.failed_task else None,
        "evidence": msg.evidence,
        "failures": [
            {
                "skill": f.skill,
                "robot": f.robot,
                "args": _json_object(f.args_json),
                "reason": f.reason,
                "times": int(f.times),
            }
            for f in msg.failures
        ],
    }


def world_state_msg(state: dict[str, Any], stamp_s: float) -> WorldState:
    """The executor's world state (``{"facts", "source"}``, read at `stamp_s`)."""
    return WorldState(
        stamp=stamp(stamp_s),
        facts=[str(fact) for fact in state.get("facts", [])],
        source=str(state.get("source", "")),
    )


def world_state_from_msg(msg: WorldState) -> dict[str, Any]:
    """A received `WorldState` as ``{"facts", "source"}`` (the facts are checked against
    the scene by the planner); an empty source reads as the executor's."""
    return {"facts": list(msg.facts), "source": msg.source or "executor"}


# --- proprioception (executor, simulated -> monitor) ----------------------------------


def proprioception_msg(
    grippers: dict[str, GripperState], stamp_s: float, bases: dict[str, BaseState] | None = None
) -> Proprioception:
    """The robots' own state at the camera frame of `stamp_s`. The stamp is converted as
    the images' header stamps are (`sensors.to_time`), so the monitor pairs them exactly."""
    return Proprioception(
        stamp=to_time(stamp_s),
        grippers=[
            GripperStateMsg(
                robot=name,
                position=[float(v) for v in g.position[:3]],
                width=float(g.width),
            )
            for name, g in grippers.items()
        ],
        bases=[
            BaseStateMsg(
                robot=name,
                center=[float(v) for v in b.center[:2]],
                yaw=float(b.yaw),
                tray_top=[float(v) for v in b.tray_top[:3]],
                tray_size=[float(v) for v in b.tray_size],
            )
            for name, b in (bases or {}).items()
        ],
    )


def proprioception_from_msg(
    msg: Proprioception,
) -> tuple[float, dict[str, GripperState], dict[str, BaseState]]:
    """The stamp (as `sensors.from_time` reads an image's), grippers and bases of a
    received `Proprioception` message (fixed-size arrays: no lengths to check)."""
    grippers = {
        g.robot: GripperState(np.asarray(g.position, dtype=float).copy(), float(g.width))
        for g in msg.grippers
    }
    bases = {
        b.robot: BaseState(
            np.asarray(b.center, dtype=float).copy(),
            float(b.yaw),
            np.asarray(b.tray_top, dtype=float).copy(),
            (float(b.tray_size[0]), float(b.tray_size[1])),
        )
        for b in msg.bases
    }
    return from_time(msg.stamp), grippers, bases
