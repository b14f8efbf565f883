"""In-process tests of monitor_node: the node in one executor with a probe that plays the
planner (plans), the executor (status events) and the camera (frames), and a scripted VQA
backend injected where the configured one is made. Event and frame stamps are chosen by
the test (robot time is data here, not a clock); every wait is for an event."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from ros_nodes import Ros, recording

from robot_planner.testing.isolation import unique_id

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]

T0 = 1_000.0
HOLDING = "holding(left_arm,red_block)"


class ScriptedVqa:
    """Says the fact does not hold, sure of it; records the frame stamp of every question.
    With a `gate`, each call waits for the test to open it (a slow model, in flight)."""

    name = "scripted"

    def __init__(self, gate: threading.Event | None = None):
        self.gate = gate
        self.asked: list[float] = []
        self.in_flight = threading.Event()

    def answer(self, observation: Any, question: str, fact: Any) -> Any:
        from robot_planner.monitor.base import VqaAnswer

        self.asked.append(observation.stamp)
        self.in_flight.set()
        if self.gate is not None:
            self.gate.wait(60.0)  # bounded: a failed test must not hang the worker
        return VqaAnswer(False, 0.95, "scripted: no")


@pytest.fixture
def ros(ros_domain):
    system = Ros(ros_domain)
    yield system
    system.close()


def _monitor(
    ros: Ros, monkeypatch: pytest.MonkeyPatch, backend: ScriptedVqa
) -> tuple[Any, list[Any]]:
    """The monitor node (mode on) with `backend`, which records what it handled, and the
    misalignments it publishes (as the probe receives them: `MisalignmentReport`s)."""
    from sensor_msgs.msg import Image

    from robot_planner.monitor import backends
    from robot_planner.nodes import common
    from robot_planner.nodes.monitor_node import MonitorNode
    from robot_planner.nodes.typed import misalignment_from_msg
    from robot_planner_interfaces.msg import Misalignment as MisalignmentMsg

    monkeypatch.setattr(backends, "make_vqa", lambda *args, **kwargs: backend)
    ros.pub["color"] = ros.probe.create_publisher(Image, common.COLOR, common.CAMERA_PUB_QOS)
    ros.pub["depth"] = ros.probe.create_publisher(Image, common.DEPTH, common.CAMERA_PUB_QOS)
    found: list[Any] = []
    ros.probe.create_subscription(
        MisalignmentMsg,
        common.MISALIGNMENT,
        lambda m: found.append(misalignment_from_msg(m)),
        common.reliable(100),
    )
    callbacks = ("_on_plan", "_on_status", "_on_color", "_on_depth", "_process")
    node = ros.add(recording(MonitorNode, *callbacks), mode="on")
    ros.connected("color")
    return node, found


def _plan(ros: Ros, node: Any, command_id: str, revision: int) -> None:
    """A one-task plan whose pick must see the red block in the left gripper."""
    plan = {
        "command": "pick up the red block",
        "goal": [HOLDING],
        "tasks": [
            {
                "id": "t1",
                "skill": "pick",
                "robot": "left_arm",
                "args": {"object": "red_block"},
                "constraints": [{"phase": "before", "fact": HOLDING, "question": "Is it held?"}],
            }
        ],
    }
    seen = len(node.handled["_on_plan"])
    ros.publish_plan({"command_id": command_id, "revision": revision, "plan": plan})
    ros.wait_for(lambda: len(node.handled["_on_plan"]) > seen, 20, "the plan handled")


def _executor_says(ros: Ros, node: Any, command_id: str, state: str, stamp: float, **details):
    """A status event from the executor, handled by the monitor before this returns."""
    from robot_planner.nodes.typed import status_msg
    from robot_planner.service.events import make_event

    event = make_event(command_id, state, "executor", {"task": "t1", **details}, stamp)
    msg = status_msg(event)
    ros.pub["status"].publish(msg)
    ros.wait_for(
        lambda: any(m == msg for m in node.handled["_on_status"]),
        20,
        f"the monitor to handle {state} of {command_id}",
    )


def _frame(ros: Ros, stamp: float) -> None:
    """A colour and a depth image with the same stamp (4x4, a table 1 m away)."""
    from robot_planner.nodes.sensors import depth_message, rgb_message

    ros.pub["depth"].publish(depth_message(np.ones((4, 4), np.float32), stamp, "camera"))
    ros.pub["color"].publish(rgb_message(np.zeros((4, 4, 3), np.uint8), stamp, "camera"))


def _processed(node: Any) -> list[float]:
    from robot_planner.nodes.sensors import from_time

    return [from_time(color.header.stamp) for color in node.handled["_process"]]


def _frame_processed(ros: Ros, node: Any, stamp: float) -> None:
    _frame(ros, stamp)
    ros.wait_for(lambda: stamp in _processed(node), 20, f"the frame of {stamp} processed")


def test_only_the_running_command_and_plan_revision_are_checked(ros, monkeypatch):
    backend = ScriptedVqa()
    node, found = _monitor(ros, monkeypatch, backend)
    command, other = unique_id("cmd"), unique_id("other")
    _plan(ros, node, command, revision=1)
    # Events about another command, or about the plan revision before this one, start
    # no checks: a frame after them asks nothing.
    _executor_says(ros, node, other, "task_started", T0, revision=1)
    _executor_says(ros, node, command, "task_started", T0, revision=0)
    _frame_processed(ros, node, T0 + 1)
    assert backend.asked == []
    # The running revision's task start does: two contrary answers confirm it.
    _executor_says(ros, node, command, "task_started", T0 + 2, revision=1)
    _frame_processed(ros, node, T0 + 3)
    _frame_processed(ros, node, T0 + 4)
    ros.wait_for(lambda: found, 20, "the misalignment")
    [report] = found
    assert (report.command_id, report.revision) == (command, 1)
    assert report.misalignment.fact == HOLDING
    assert [a.answer for a in report.misalignment.answers] == [False, False]
    assert report.misalignment.question == "Is it held?"
    assert report.facts is None  # the scripted backend estimates no facts
    assert backend.asked == [T0 + 3, T0 + 4]
    # One report per plan revision: its later events and frames ask nothing more.
    _executor_says(ros, node, command, "task_started", T0 + 5, revision=1)
    _executor_says(ros, node, command, "misalignment", T0 + 5, revision=1)
    _frame_processed(ros, node, T0 + 6)
    assert backend.asked == [T0 + 3, T0 + 4]
    assert len(found) == 1


def test_a_new_plan_revision_replaces_the_checks_of_the_last(ros, monkeypatch):
    backend = ScriptedVqa()
    node, _ = _monitor(ros, monkeypatch, backend)
    command = unique_id("cmd")
    _plan(ros, node, command, revision=0)
    _executor_says(ros, node, command, "task_started", T0, revision=0)
    _plan(ros, node, command, revision=1)  # re-planned before any frame came
    _executor_says(ros, node, command, "task_started", T0 + 1, revision=0)  # a late one
    _frame_processed(ros, node, T0 + 2)
    assert backend.asked == []
    _executor_says(ros, node, command, "task_started", T0 + 3, revision=1)
    _frame_processed(ros, node, T0 + 4)
    assert backend.asked == [T0 + 4]


def test_frames_that_arrive_while_a_vqa_call_is_in_flight_are_skipped(ros, monkeypatch):
    """The worker asks about one frame at a time; frames that come meanwhile replace one
    another, and only the newest is looked at when the call returns."""
    gate = threading.Event()
    backend = ScriptedVqa(gate)
    node, found = _monitor(ros, monkeypatch, backend)
    command = unique_id("cmd")
    _plan(ros, node, command, revision=0)
    _executor_says(ros, node, command, "task_started", T0, revision=0)
    try:
        _frame(ros, T0 + 1)
        ros.wait_for(backend.in_flight.is_set, 20, "a VQA call in flight")
        for k in range(2, 6):  # one at a time (the camera topics keep only 2 per reader)
            _frame(ros, T0 + k)
            ros.wait_for(
                lambda k=k: len(node.handled["_on_color"]) == len(node.handled["_on_depth"]) == k,
                20,
                f"frame {k} received",
            )
        assert backend.asked == [T0 + 1]
    finally:
        gate.set()
    ros.wait_for(lambda: found, 20, "the misalignment")  # two answers: T0+1, T0+5
    assert backend.asked == [T0 + 1, T0 + 5]
    # A later frame comes next: the skipped ones were dropped, not queued.
    _frame_processed(ros, node, T0 + 6)
    assert _processed(node) == [T0 + 1, T0 + 5, T0 + 6]


def test_a_frame_waits_for_the_gripper_state_of_its_own_stamp(ros, monkeypatch):
    """Once gripper messages come, a frame whose gripper message is still in flight waits
    for it. It did not: right after a pairing the gripper store is empty, the frame paired
    alone, and a base's odometry was missing, so the monitor could not see it parked
    (test_the_logistics_cell_over_dds re-planned on a busy CI machine)."""
    from robot_planner.nodes import common
    from robot_planner.nodes.sensors import from_time
    from robot_planner.nodes.typed import proprioception_msg
    from robot_planner.world.observation import BaseState
    from robot_planner_interfaces.msg import Proprioception

    node, _ = _monitor(ros, monkeypatch, ScriptedVqa())
    looked_at: list[tuple[float, tuple[dict, dict]]] = []
    process = node._process

    def spy(color: Any, depth: Any, proprioception: tuple[dict, dict]) -> None:
        looked_at.append((from_time(color.header.stamp), proprioception))
        process(color, depth, proprioception)

    node._process = spy  # the worker looks the method up on the instance
    ros.pub["grippers"] = ros.probe.create_publisher(
        Proprioception, common.GRIPPERS, common.CAMERA_PUB_QOS
    )
    ros.connected("grippers")
    base = BaseState(np.zeros(3), 0.0, np.array([0.0, 0.0, 0.4]), (0.4, 0.3))

    def odometry(stamp: float) -> None:
        ros.pub["grippers"].publish(proprioception_msg({}, stamp, {"base_1": base}))

    odometry(T0 + 1)
    ros.wait_for(lambda: node._proprioceptive, 20, "the first gripper message handled")
    _frame(ros, T0 + 1)
    ros.wait_for(lambda: [s for s, _ in looked_at] == [T0 + 1], 20, "the frame of T0+1")
    _frame(ros, T0 + 2)  # its gripper message comes after it
    ros.wait_for(
        lambda: len(node.handled["_on_color"]) == len(node.handled["_on_depth"]) == 2,
        20,
        "the frame of T0+2 received",
    )
    odometry(T0 + 2)
    ros.wait_for(lambda: len(looked_at) >= 2, 20, "the frame of T0+2 looked at")
    assert [s for s, _ in looked_at] == [T0 + 1, T0 + 2]
    assert all(list(bases) == ["base_1"] for _, (_, bases) in looked_at)
