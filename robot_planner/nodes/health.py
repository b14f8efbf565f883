"""Each node's health as one `/diagnostics` status, decided without ROS.

The nodes publish a ``diagnostic_msgs/DiagnosticArray`` once a second (see
`robot_planner.nodes.common.DiagnosticsPublisher`); what goes in it (level, message,
key-values) is decided here from plain numbers, so every OK/WARN/ERROR rule is unit-tested
without `rclpy`. Levels follow ``diagnostic_msgs/DiagnosticStatus`` (OK 0, WARN 1,
ERROR 2), so ``rqt_robot_monitor`` and the diagnostic aggregator read them as usual.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

#: The execution thread advances the robots every tick, idle or not; silent this long,
#: it is stuck (a blocking adapter call, a deadlock) and the robots are not supervised.
EXECUTOR_STALL_S = 2.0
#: An adapter error this recent makes the executor's status a warning.
RECENT_ERROR_S = 10.0


class Level(enum.IntEnum):
    OK = 0
    WARN = 1
    ERROR = 2


@dataclass(frozen=True)
class Health:
    """One node's status: the worst problem found decides the level and the message."""

    level: Level
    message: str
    values: dict[str, str] = field(default_factory=dict)


def _age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f}"


def planner_health(
    *,
    backend: str,
    active: str | None,
    queued: int,
    max_queue: int,
    ended: dict[str, int],
    executors_alive: int | None,
    executor_gone_s: float | None,
) -> Health:
    """The planner: its queue, what ended how, and whether an executor is there.

    Args:
        backend: the planning backend's name.
        active: the running command's id, if any.
        queued: commands waiting behind it; `max_queue` the bound.
        ended: commands ended so far, by outcome (done, failed, cancelled, ...).
        executors_alive: executors whose liveliness holds (None: never heard of one).
        executor_gone_s: how long the executor running `active` has been gone, if it is.
    """
    values = {
        "backend": backend,
        "active command": active or "",
        "queue length": str(queued),
        "max queue": str(max_queue),
        "commands done": str(ended.get("done", 0)),
        "commands ended": str(sum(ended.values())),
        "executors alive": "unknown" if executors_alive is None else str(executors_alive),
    }
    if active and executor_gone_s is not None:
        return Health(
            Level.ERROR,
            f"the executor running {active} is gone ({executor_gone_s:.1f} s)",
            values,
        )
    if not executors_alive:
        return Health(Level.WARN, "no executor is alive: plans will wait", values)
    if queued >= max_queue > 0 or (max_queue == 0 and active):
        return Health(Level.WARN, f"queue full ({queued}): new commands are rejected", values)
    return Health(Level.OK, f"running {active}" if active else "idle", values)


def executor_health(
    *,
    adapter: str,
    running: str | None,
    last_tick_age_s: float | None,
    adapter_errors: int,
    last_error_age_s: float | None,
    last_error: str = "",
    stall_s: float = EXECUTOR_STALL_S,
) -> Health:
    """The executor: whether its execution thread still advances the robots.

    Args:
        adapter: the robot adapter kind (pybullet, ros_bindings).
        running: the running command's id, if any.
        last_tick_age_s: seconds since the robots were last advanced (None: not yet).
        adapter_errors: adapter errors so far; `last_error_age_s` how old the last is.
    """
    values = {
        "adapter": adapter,
        "running command": running or "",
        "last tick age s": _age(last_tick_age_s),
        "adapter errors": str(adapter_errors),
    }
    if last_tick_age_s is not None and last_tick_age_s > stall_s:
        return Health(
            Level.ERROR,
            f"execution thread stalled: no tick for {last_tick_age_s:.1f} s",
            values,
        )
    if last_error_age_s is not None and last_error_age_s < RECENT_ERROR_S:
        return Health(Level.WARN, f"robot adapter error: {last_error}"[:200], values)
    return Health(Level.OK, f"running {running}" if running else "idle", values)


def monitor_health(
    *,
    vqa: str,
    mode: str,
    watching: str | None,
    checks: int,
    vqa_errors: int,
    worker_errors: int,
    degraded: bool,
    on_vqa_error: str,
    last_frame_age_s: float | None,
) -> Health:
    """The monitor: its VQA backend, checks made, failures, and whether it is degraded.

    Args:
        vqa: the VQA backend's name; `mode` on, after-skill or off.
        watching: the command (``id#revision``) whose plan is being checked, if any.
        checks: constraint checks so far; `vqa_errors` the backend's failures among them;
            `worker_errors` unexpected errors in the frame worker.
        degraded: the watched plan runs with failed checks (`on_vqa_error`: continue).
        last_frame_age_s: seconds since the last camera frame was used (None: never).
    """
    values = {
        "vqa backend": vqa,
        "mode": mode,
        "watching": watching or "",
        "checks": str(checks),
        "vqa errors": str(vqa_errors),
        "worker errors": str(worker_errors),
        "degraded": str(degraded).lower(),
        "on vqa error": on_vqa_error,
        "last frame age s": _age(last_frame_age_s),
    }
    if degraded:
        return Health(
            Level.WARN if on_vqa_error == "continue" else Level.ERROR,
            f"VQA backend {vqa} failed: the plan runs without the failed checks"
            if on_vqa_error == "continue"
            else f"VQA backend {vqa} failed: the command was halted",
            values,
        )
    if worker_errors:
        return Health(Level.WARN, f"{worker_errors} error(s) processing frames", values)
    if mode == "off":
        return Health(Level.OK, "monitoring off", values)
    return Health(Level.OK, f"watching {watching}" if watching else "idle", values)


def voice_health(
    *,
    model: str,
    microphone: bool,
    pending: int,
    max_pending: int,
    decodes: int,
    errors: int,
    last_decode_s: float | None,
    last_error: str = "",
) -> Health:
    """The voice node: its recogniser, the decode queue, the last decode's duration.

    Args:
        model: the recogniser (acoustic model and grammar) in use.
        pending: utterances waiting for the decoder; `max_pending` the bound.
        decodes: utterances decoded into a command; `errors` those that failed.
        last_decode_s: the last decode's duration in seconds (None: none yet).
    """
    values = {
        "model": model,
        "microphone": str(microphone).lower(),
        "pending": str(pending),
        "max pending": str(max_pending),
        "decodes": str(decodes),
        "errors": str(errors),
        "last decode s": _age(last_decode_s),
    }
    if pending >= max_pending:
        return Health(Level.WARN, "decoder busy: new utterances are dropped", values)
    if last_error:
        return Health(Level.WARN, f"last utterance failed: {last_error}"[:200], values)
    return Health(Level.OK, "listening", values)
