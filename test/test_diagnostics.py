"""Node health on /diagnostics: the ROS-free rules (every level), then the nodes in one
executor publishing them once a second, OK when healthy and WARN when an executor is
missing or the VQA backend fails. Every wait is for a message, bounded."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from ros_nodes import Ros

from robot_planner.nodes.health import (
    EXECUTOR_STALL_S,
    Level,
    executor_health,
    monitor_health,
    planner_health,
    voice_health,
)

WAIT_S = 30

# --- the rules, without ROS ----------------------------------------------------------

PLANNER = {
    "backend": "offline",
    "active": None,
    "queued": 0,
    "max_queue": 10,
    "ended": {"done": 3, "failed": 1},
    "executors_alive": 1,
    "executor_gone_s": None,
}


def test_planner_is_ok_with_an_executor_and_counts_what_ended():
    health = planner_health(**PLANNER)
    assert (health.level, health.message) == (Level.OK, "idle")
    assert health.values["commands done"] == "3" and health.values["commands ended"] == "4"
    assert health.values["backend"] == "offline" and health.values["queue length"] == "0"


@pytest.mark.parametrize(
    ("change", "level", "fragment"),
    [
        ({"executors_alive": None}, Level.WARN, "no executor is alive"),
        ({"executors_alive": 0}, Level.WARN, "no executor is alive"),
        ({"active": "c1", "queued": 10}, Level.WARN, "queue full"),
        ({"active": "c1", "executor_gone_s": 1.5}, Level.ERROR, "executor running c1 is gone"),
    ],
)
def test_planner_warns_and_errs_for_a_reason(change, level, fragment):
    health = planner_health(**{**PLANNER, **change})
    assert health.level == level and fragment in health.message


def test_executor_levels_follow_its_execution_thread_and_adapter_errors():
    base = {
        "adapter": "pybullet",
        "running": "c1",
        "last_tick_age_s": 0.05,
        "adapter_errors": 0,
        "last_error_age_s": None,
    }
    ok = executor_health(**base)
    assert (ok.level, ok.message) == (Level.OK, "running c1")
    assert ok.values["last tick age s"] == "0.05" and ok.values["adapter"] == "pybullet"
    stalled = executor_health(**{**base, "last_tick_age_s": EXECUTOR_STALL_S + 0.5})
    assert stalled.level == Level.ERROR and "stalled" in stalled.message
    failing = executor_health(
        **{**base, "adapter_errors": 2, "last_error_age_s": 1.0}, last_error="boom"
    )
    assert failing.level == Level.WARN and "boom" in failing.message
    old = executor_health(**{**base, "adapter_errors": 2, "last_error_age_s": 60.0})
    assert old.level == Level.OK and old.values["adapter errors"] == "2"


def test_monitor_degraded_is_a_warning_or_an_error_by_policy():
    base = {
        "vqa": "openai",
        "mode": "on",
        "watching": "c1#0",
        "checks": 5,
        "vqa_errors": 0,
        "worker_errors": 0,
        "degraded": False,
        "on_vqa_error": "continue",
        "last_frame_age_s": 0.2,
    }
    assert monitor_health(**base).level == Level.OK
    degraded = monitor_health(**{**base, "degraded": True, "vqa_errors": 1})
    assert degraded.level == Level.WARN and "without the failed checks" in degraded.message
    assert degraded.values["degraded"] == "true" and degraded.values["vqa errors"] == "1"
    halted = monitor_health(**{**base, "degraded": True, "on_vqa_error": "fail"})
    assert halted.level == Level.ERROR
    assert monitor_health(**{**base, "worker_errors": 1}).level == Level.WARN


def test_voice_warns_when_the_decoder_is_full_or_the_last_utterance_failed():
    base = {
        "model": "pocketsphinx",
        "microphone": False,
        "pending": 0,
        "max_pending": 4,
        "decodes": 1,
        "errors": 0,
        "last_decode_s": 0.14,
    }
    ok = voice_health(**base)
    assert ok.level == Level.OK and ok.values["last decode s"] == "0.14"
    assert voice_health(**{**base, "pending": 4}).level == Level.WARN
    failed = voice_health(**{**base, "errors": 1}, last_error="nothing fits the grammar")
    assert failed.level == Level.WARN and "grammar" in failed.message


# --- the nodes, in process -----------------------------------------------------------


class Diagnostics:
    """Every status the probe receives on /diagnostics, by name."""

    def __init__(self, ros: Ros):
        from diagnostic_msgs.msg import DiagnosticArray

        from robot_planner.nodes import common

        self.lock = threading.Lock()
        self.seen: dict[str, list[Any]] = {}
        ros.probe.create_subscription(
            DiagnosticArray, common.DIAGNOSTICS, self._on_array, common.reliable(10)
        )

    def _on_array(self, msg: Any) -> None:
        with self.lock:
            for status in msg.status:
                self.seen.setdefault(status.name, []).append(status)

    def wait(self, ros: Ros, name: str, level: Level, fragment: str = "") -> Any:
        """The first status of `name` at `level` whose message has `fragment`."""

        def found() -> Any:
            with self.lock:
                return next(
                    (
                        s
                        for s in self.seen.get(name, [])
                        if s.level == bytes([level]) and fragment in s.message
                    ),
                    None,
                )

        return ros.wait_for(found, WAIT_S, f"{name} at {level.name} ({fragment!r})")


@pytest.fixture
def ros(ros_domain):
    system = Ros(ros_domain)
    yield system
    system.close()


def _values(status: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


@pytest.mark.ros
@pytest.mark.timeout(180)
def test_planner_warns_without_an_executor_and_all_are_ok_with_one(ros, tmp_path):
    from robot_planner.nodes.executor_node import ExecutorNode
    from robot_planner.nodes.monitor_node import MonitorNode
    from robot_planner.nodes.planner_node import PlannerNode

    diagnostics = Diagnostics(ros)
    ros.add(PlannerNode, journal=str(tmp_path / "j.jsonl"), backend="offline")
    lonely = diagnostics.wait(ros, "robot_planner/planner", Level.WARN, "no executor")
    assert _values(lonely)["executors alive"] == "0"

    ros.add(ExecutorNode, sim_speed=4.0, camera_rate_hz=1.0, monitor_mode="off")
    ros.add(MonitorNode, mode="on")
    planner = diagnostics.wait(ros, "robot_planner/planner", Level.OK, "idle")
    assert _values(planner)["executors alive"] == "1"
    assert _values(planner)["backend"] == "offline"
    executor = diagnostics.wait(ros, "robot_planner/executor", Level.OK, "idle")
    assert _values(executor)["adapter"] == "pybullet"
    assert float(_values(executor)["last tick age s"]) < EXECUTOR_STALL_S
    assert executor.hardware_id == "/executor"
    monitor = diagnostics.wait(ros, "robot_planner/monitor", Level.OK)
    assert _values(monitor)["vqa backend"] == "geometric"
    assert _values(monitor)["degraded"] == "false"


class FailingVqa:
    """A model backend that is down: every question fails."""

    name = "failing"

    def answer(self, observation: Any, question: str, fact: Any) -> Any:
        from robot_planner.monitor.base import VqaError

        raise VqaError("connection refused")


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_the_monitor_warns_while_its_vqa_backend_fails(ros, monkeypatch):
    from test_monitor_node import T0, _executor_says, _frame_processed, _monitor, _plan

    from robot_planner.testing.isolation import unique_id

    diagnostics = Diagnostics(ros)
    node, _found = _monitor(ros, monkeypatch, FailingVqa())  # type: ignore[arg-type]
    diagnostics.wait(ros, "robot_planner/monitor", Level.OK, "idle")
    command = unique_id("cmd")
    _plan(ros, node, command, revision=0)
    _executor_says(ros, node, command, "task_started", T0)
    _frame_processed(ros, node, T0 + 0.5)
    degraded = diagnostics.wait(ros, "robot_planner/monitor", Level.WARN, "failed")
    values = _values(degraded)
    assert values["degraded"] == "true" and int(values["vqa errors"]) >= 1
    assert values["watching"] == f"{command}#0" and values["on vqa error"] == "continue"
