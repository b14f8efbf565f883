"""Parameter descriptors (Nav2 style): ranges and choices that `ros2 param describe`
shows, checked at start-up as one line, read-only because the nodes read them once."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from ros_nodes import Ros

from robot_planner.nodes.common import check_parameter, parameter_descriptor

STARTUP_S = 60


@pytest.fixture
def ros(ros_domain):
    system = Ros(ros_domain)
    yield system
    system.close()


def test_a_float_default_gets_a_floating_point_range_and_an_int_an_integer_range():
    floating = parameter_descriptor("tick", 0.05, limits=(0.001, 1.0))
    assert [(r.from_value, r.to_value) for r in floating.floating_point_range] == [(0.001, 1.0)]
    assert not floating.integer_range
    integer = parameter_descriptor("queue", 10, limits=(0, 100))
    assert [(r.from_value, r.to_value) for r in integer.integer_range] == [(0, 100)]
    assert not integer.floating_point_range
    # Still dynamically typed: YAML's `2` for a float parameter is coerced, not refused.
    assert floating.dynamic_typing and integer.dynamic_typing


def test_choices_become_additional_constraints_with_the_empty_choice_shown():
    descriptor = parameter_descriptor(
        "mode", "", choices=("", "on", "off"), constraints="'' = the config's"
    )
    assert descriptor.additional_constraints == "one of: '', on, off; '' = the config's"


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (-1.0, {"limits": (0.001, 1.0)}, "parameter p: must be in [0.001, 1], not -1.0"),
        (float("nan"), {"limits": (0.0, 1.0)}, "parameter p: must be in [0, 1], not nan"),
        (101, {"limits": (0, 100)}, "parameter p: must be in [0, 100], not 101"),
        ("fifo", {"choices": ("queue", "reject")}, "must be one of queue, reject, not 'fifo'"),
    ],
)
def test_values_outside_the_range_or_choices_are_one_line_errors(value, kwargs, message):
    with pytest.raises(ValueError) as info:
        check_parameter("p", value, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_range_edges_and_listed_choices_are_accepted():
    check_parameter("p", 0.001, limits=(0.001, 1.0))
    check_parameter("p", 1, limits=(0, 1))
    check_parameter("p", "", choices=("", "on"))


def _describe(node: Any, name: str) -> Any:
    (descriptor,) = node.describe_parameters([name])
    return descriptor


def test_the_nodes_describe_their_ranges_and_choices(ros, tmp_path):
    from robot_planner.nodes.executor_node import ExecutorNode
    from robot_planner.nodes.monitor_node import MonitorNode
    from robot_planner.nodes.planner_node import PlannerNode

    planner = ros.add(PlannerNode, journal=str(tmp_path / "j.jsonl"), backend="offline")
    queue = _describe(planner, "max_queue")
    assert queue.description and queue.read_only
    assert [(r.from_value, r.to_value) for r in queue.integer_range] == [(0, 100)]
    policy = _describe(planner, "on_new_command").additional_constraints
    assert policy == "one of: queue, preempt, reject"
    assert "offline" in _describe(planner, "backend").additional_constraints

    executor = ros.add(ExecutorNode, sim_speed=4, camera_rate_hz=1.0, monitor_mode="off")
    period = _describe(executor, "period_s")
    assert [(r.from_value, r.to_value) for r in period.floating_point_range] == [(0.001, 1.0)]
    assert _describe(executor, "adapter").additional_constraints == (
        "one of: pybullet, ros_bindings"
    )
    # The YAML integer 4 for a float parameter is still taken (coerced, range-checked).
    assert executor.params["sim_speed"] == 4.0

    monitor = ros.add(MonitorNode)
    assert "geometric" in _describe(monitor, "vqa").additional_constraints


def test_a_change_at_run_time_is_refused_not_silently_ignored(ros, tmp_path):
    from rclpy.parameter import Parameter

    from robot_planner.nodes.planner_node import PlannerNode

    planner = ros.add(PlannerNode, journal=str(tmp_path / "j.jsonl"), backend="offline")
    (result,) = planner.set_parameters([Parameter("max_queue", value=3)])
    assert not result.successful and "read-only" in result.reason
    assert planner.get_parameter("max_queue").value == 10


@pytest.mark.parametrize(
    ("module", "argument", "fragment"),
    [
        ("executor_node", "period_s:=-1", "parameter period_s: must be in [0.001, 1], not -1"),
        ("executor_node", "sim_speed:=500", "parameter sim_speed: must be in [0.01, 100]"),
        ("planner_node", "on_new_command:=fifo", "parameter on_new_command: must be one of"),
        ("voice_node", "max_pending:=0", "parameter max_pending: must be in [1, 64], not 0"),
        ("voice_node", "mllr:=/no/such/mllr", "MLLR transform /no/such/mllr: no such file"),
    ],
)
def test_an_out_of_range_value_at_start_up_is_one_line_and_exit_2(
    ros_domain, tmp_path, module, argument, fragment
):
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros_domain), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", f"robot_planner.nodes.{module}", "--ros-args", "-p", argument],
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], done.stderr
    assert "Traceback" not in done.stderr
