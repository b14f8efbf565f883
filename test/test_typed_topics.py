"""The typed messages the nodes talk over (robot_planner.nodes.typed): each value survives
the conversion to its robot_planner_interfaces message, the CDR wire format and back, and
tells the receiving node exactly what the JSON document told it before; malformed
messages are errors. No rclpy context: only the message classes and their serialisation.
The packaged SROS2 policy lets every node publish and read its typed topics."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from robot_planner.nodes.typed import (
    plan_from_msg,
    plan_msg,
    proprioception_from_msg,
    proprioception_msg,
    replan_request_from_msg,
    replan_request_msg,
    seconds,
    status_from_msg,
    status_msg,
    world_state_from_msg,
    world_state_msg,
)
from robot_planner.service.events import MAX_EVENT_BYTES, EventError, make_event, parse_event

pytestmark = [pytest.mark.ros]


def _wire(msg: Any) -> Any:
    """`msg` after a trip through the C typesupport (what a subscriber receives)."""
    from rclpy.serialization import deserialize_message, serialize_message

    return deserialize_message(serialize_message(msg), type(msg))


# --- status events --------------------------------------------------------------------

MISALIGNED = {
    "task": "t2",
    "robot": "left_arm",
    "fact": "holding(left_arm,green_block)",
    "answers": [False, None, False],
    "confidence": 0.875,
    "evidence": "fingers 8.0 cm apart — not closed on a block",
    "robot_time": 10.35,
    "revision": 2,
    "nested": {"facts": ["on(a,b)"], "empty": {}},
}


@pytest.mark.parametrize(
    ("command_id", "state", "details"),
    [
        ("c0001-35dfab72", "misalignment", MISALIGNED),
        ("c2", "failed", {"reason": "a task failed", "facts": []}),
        ("", "error", {"reason": "malformed plan message: Expecting value"}),
        ("c3", "accepted", {}),
    ],
)
def test_a_status_event_survives_the_round_trip(command_id: str, state: str, details: dict):
    event = make_event(command_id, state, "executor", details, 1_795_602_761.421337)
    msg = _wire(status_msg(event))
    assert (msg.command_id, msg.state, msg.source) == (command_id, state, "executor")
    assert seconds(msg.stamp) == event.time
    assert msg.message == details.get("reason", "")
    back = status_from_msg(msg)
    assert back == event
    assert back.to_json() == event.to_json()  # the same text `say --wait` prints


def test_the_nodes_get_what_the_json_mirror_gave_them():
    """What a node rebuilt from the JSON status message is what it rebuilds from the
    typed one, details (their order too) and all."""
    event = make_event("c1", "replanned", "executor", {"z": 1, "a": [1.5, "x"], "m": None})
    from_json = parse_event(event.to_json())
    from_msg = status_from_msg(_wire(status_msg(event)))
    assert from_msg == from_json
    assert list(from_msg.details) == ["z", "a", "m"]


def test_details_that_are_not_json_travel_as_text_as_in_the_mirror():
    """`to_json` writes what JSON cannot hold as its text (default=str); so does the
    typed message."""
    event = make_event("c1", "done", "executor", {"path": Path("/tmp/x"), "n": 3})
    assert status_from_msg(_wire(status_msg(event))) == parse_event(event.to_json())


def _status(**fields: Any) -> Any:
    msg = status_msg(make_event("c1", "done", "executor", {"facts": []}, 1_000.0))
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"state": "finished"}, "invalid status event: state"),
        ({"state": ""}, "invalid status event: state"),
        ({"detail_json": "{not json"}, "invalid status event: detail_json"),
        ({"detail_json": "[1, 2]"}, "invalid status event: details"),
        ({"detail_json": json.dumps({"x": "y" * MAX_EVENT_BYTES})}, "over"),
    ],
)
def test_a_malformed_status_event_is_an_error(fields: dict, fragment: str):
    with pytest.raises(EventError, match=fragment) as info:
        status_from_msg(_wire(_status(**fields)))
    assert "\n" not in str(info.value)


def test_empty_details_are_no_details():
    assert status_from_msg(_status(detail_json="")).details == {}


# --- plans ----------------------------------------------------------------------------

GREEN_ON_BLUE = "put the green block on the blue block"


def _planned() -> dict[str, Any]:
    """A plan of the offline planner as JSON data (constraints of both kinds)."""
    from robot_planner.planning.base import PlanRequest
    from robot_planner.planning.offline import OfflinePlanner
    from robot_planner.resources import scene_path
    from robot_planner.world.catalogue import load_catalogue
    from robot_planner.world.scene import load_scene

    scene = load_scene(scene_path("tabletop"))
    planner = OfflinePlanner(load_catalogue(), scene)
    return planner.plan(PlanRequest(GREEN_ON_BLUE, scene.initial_facts())).plan.to_dict()


def test_a_plan_message_survives_the_round_trip():
    """What the executor and the monitor read from the typed plan is what the JSON plan
    message gave them: the same dict, constraint kinds and periods included."""
    from robot_planner.plan.model import TaskPlan

    plan = _planned()
    kinds = {c["kind"] for task in plan["tasks"] for c in task["constraints"]}
    assert kinds == {"task", "collateral"}
    message = {
        "command_id": "c0001-35dfab72",
        "revision": 2,
        "issued": 1_795_602_761.421337,
        "plan": plan,
        "readback": "right arm: blue block to the centre; left arm: green block on it",
    }
    back = plan_from_msg(_wire(plan_msg(message)))
    assert back == json.loads(json.dumps(message))
    assert TaskPlan.model_validate(back["plan"]) == TaskPlan.model_validate(plan)


def test_arguments_keep_their_order_and_periods_their_value():
    task = {
        "id": "t1",
        "skill": "place",
        "robot": "left_arm",
        "args": {"target": "left_bin", "object": "red_block", "n": 2},
        "depends_on": [],
        "constraints": [
            {
                "phase": "during",
                "fact": "holding(left_arm,red_block)",
                "question": "Is it held?",
                "expected": False,
                "period_s": 59.123457,  # not a float32
                "kind": "task",
            }
        ],
    }
    message = {"command_id": "c", "revision": 0, "issued": 5.5, "plan": {"tasks": [task]}}
    [back] = plan_from_msg(_wire(plan_msg(message)))["plan"]["tasks"]
    assert back == task and list(back["args"]) == ["target", "object", "n"]


def test_a_plan_without_readback_has_none_and_an_empty_plan_stays_a_plan():
    message = {"command_id": "c", "revision": 0, "issued": 7.0, "plan": {"goal": ["on(a,b)"]}}
    back = plan_from_msg(_wire(plan_msg(message)))
    assert back == {
        "command_id": "c",
        "revision": 0,
        "issued": 7.0,
        "plan": {"command": "", "goal": ["on(a,b)"], "tasks": []},
    }


@pytest.mark.parametrize(
    ("error", "expected"),
    [("no plan reaches the goal", "no plan reaches the goal"), ("", "no plan"), (None, "no plan")],
)
def test_an_answer_without_a_plan_carries_its_error(error: str | None, expected: str):
    message: dict[str, Any] = {"command_id": "c", "revision": 3, "issued": 9.25}
    if error is not None:
        message["error"] = error
    back = plan_from_msg(_wire(plan_msg(message)))
    assert back == {"command_id": "c", "revision": 3, "issued": 9.25, "error": expected}


@pytest.mark.parametrize("args_json", ["{not json", "[1, 2]", '"red_block"'])
def test_arguments_that_are_no_json_object_fail_validation_naming_the_task(args_json: str):
    from pydantic import ValidationError

    from robot_planner.plan.model import TaskPlan

    msg = plan_msg({"command_id": "c", "revision": 0, "plan": _planned()})
    msg.tasks[1].args_json = args_json
    back = plan_from_msg(_wire(msg))
    assert back["plan"]["tasks"][1]["args"] == args_json
    with pytest.raises(ValidationError, match=r"tasks\.1\.args"):
        TaskPlan.model_validate(back["plan"])


def test_a_constraint_without_a_kind_is_about_its_task():
    msg = plan_msg({"command_id": "c", "revision": 0, "plan": _planned()})
    msg.tasks[0].constraints[1].kind = ""
    back = plan_from_msg(_wire(msg))
    assert back["plan"]["tasks"][0]["constraints"][1]["kind"] == "task"


# --- the re-plan request and the world state --------------------------------------------


def _replan_request(failed: bool = True) -> dict[str, Any]:
    """A re-plan request as the executor makes it (`ExecutionService.request_replan`)."""
    from robot_planner.plan.model import Task
    from robot_planner.planning.base import FailedAction

    plan = _planned()
    task = Task.model_validate(plan["tasks"][2]) if failed else None
    failure = FailedAction(
        "place", "right_arm", (("object", "blue_block"), ("target", "center_zone")), "dropped", 2
    )
    return {
        "command_id": "c0001-35dfab72",
        "revision": 1,
        "command": GREEN_ON_BLUE,
        "facts": ["on_table(green_block)", "gripper_empty(left_arm)"],
        "goal": ["on(green_block,blue_block)"],
        "completed": ["plan 1: t1", "plan 1: t2"],
        "failed_task": task.model_dump(mode="json") if task is not None else None,
        "evidence": "monitor: 'Is the blue block in the centre zone?' answered no",
        "failures": [failure.to_dict()],
    }


@pytest.mark.parametrize("failed", [True, False], ids=["failed-task", "halted-between"])
def test_a_replan_request_survives_the_round_trip(failed: bool):
    request = _replan_request(failed)
    msg = _wire(replan_request_msg(request, 1_795_602_761.5))
    assert seconds(msg.stamp) == 1_795_602_761.5 and len(msg.failed_task) == int(failed)
    assert replan_request_from_msg(msg) == request


def test_the_planner_reads_the_same_request_as_from_the_json():
    """The lifecycle's checks (facts, goal, failed task, failures) take the typed
    request as they took the JSON one."""
    from robot_planner.plan.model import Task
    from robot_planner.planning.base import FailedAction

    request = _replan_request()
    back = replan_request_from_msg(_wire(replan_request_msg(request, 0.0)))
    from_json = json.loads(json.dumps(request))
    assert Task.model_validate(back["failed_task"]) == Task.model_validate(
        from_json["failed_task"]
    )
    assert [FailedAction.from_dict(f) for f in back["failures"]] == [
        FailedAction.from_dict(f) for f in from_json["failures"]
    ]


def test_a_failed_action_without_object_arguments_is_refused_as_in_json():
    from robot_planner.planning.base import FailedAction

    msg = replan_request_msg(_replan_request(), 0.0)
    msg.failures[0].args_json = '["object"]'
    [failure] = replan_request_from_msg(_wire(msg))["failures"]
    with pytest.raises(ValueError, match="must be an object with args"):
        FailedAction.from_dict(failure)


def test_a_world_state_survives_the_round_trip():
    state = {"facts": ["on(green_block,blue_block)", "gripper_empty(left_arm)"], "source": "x"}
    msg = _wire(world_state_msg(state, 12.25))
    assert world_state_from_msg(msg) == state and seconds(msg.stamp) == 12.25
    assert world_state_from_msg(_wire(world_state_msg({"facts": []}, 0.0))) == {
        "facts": [],
        "source": "executor",
    }


# --- proprioception ---------------------------------------------------------------------


def test_grippers_and_bases_survive_the_round_trip_at_the_images_stamp():
    """The monitor pairs a frame with the gripper state of the same stamp: both stamps
    go through the same conversion, so they compare equal."""
    import numpy as np

    from robot_planner.nodes.sensors import from_time, rgb_message
    from robot_planner.world.observation import BaseState, GripperState

    grippers = {
        "left_arm": GripperState(np.array([0.41, -0.2, 0.113]), 0.08),
        "right_arm": GripperState(np.array([0.39, 0.21, 0.3]), 0.0),
    }
    bases = {
        "base_1": BaseState(np.array([1.5, -0.25]), 1.25, np.array([1.5, -0.25, 0.41]), (0.4, 0.3))
    }
    when = 1_795_602_761.123456789
    stamp, got_grippers, got_bases = proprioception_from_msg(
        _wire(proprioception_msg(grippers, when, bases))
    )
    assert stamp == from_time(rgb_message(np.zeros((2, 2, 3), np.uint8), when, "c").header.stamp)
    assert list(got_grippers) == ["left_arm", "right_arm"]
    for name, gripper in grippers.items():
        assert np.array_equal(got_grippers[name].position, gripper.position)
        assert got_grippers[name].width == gripper.width
    [base] = got_bases.values()
    assert np.array_equal(base.center, bases["base_1"].center)
    assert np.array_equal(base.tray_top, bases["base_1"].tray_top)
    assert (base.yaw, base.tray_size) == (1.25, (0.4, 0.3))


def test_a_camera_only_setup_has_no_bases():
    stamp, grippers, bases = proprioception_from_msg(_wire(proprioception_msg({}, 3.5)))
    assert (stamp, grippers, bases) == (3.5, {}, {})


# --- the messages' fields (a contract, as test_interfaces.py has for the others) --------


def test_the_new_messages_have_their_documented_fields():
    from robot_planner_interfaces.msg import (
        BaseState,
        FailedAction,
        GripperState,
        Proprioception,
        ReplanRequest,
        WorldState,
    )

    time, strings = "builtin_interfaces/Time", "sequence<string>"
    expected = {
        ReplanRequest: {
            "stamp": time,
            "command_id": "string",
            "revision": "uint32",
            "command": "string",
            "facts": strings,
            "goal": strings,
            "completed": strings,
            "failed_task": "sequence<robot_planner_interfaces/PlanTask, 1>",
            "evidence": "string",
            "failures": "sequence<robot_planner_interfaces/FailedAction>",
        },
        FailedAction: {
            "skill": "string",
            "robot": "string",
            "args_json": "string",
            "reason": "string",
            "times": "uint32",
        },
        WorldState: {"stamp": time, "facts": strings, "source": "string"},
        Proprioception: {
            "stamp": time,
            "grippers": "sequence<robot_planner_interfaces/GripperState>",
            "bases": "sequence<robot_planner_interfaces/BaseState>",
        },
        GripperState: {"robot": "string", "position": "double[3]", "width": "double"},
        BaseState: {
            "robot": "string",
            "center": "double[2]",
            "yaw": "double",
            "tray_top": "double[3]",
            "tray_size": "double[2]",
        },
    }
    for kind, fields in expected.items():
        assert list(kind.get_fields_and_field_types().items()) == list(fields.items()), kind


# --- the SROS2 policy -----------------------------------------------------------------

POLICY = Path(__file__).parents[1] / "config" / "sros2" / "policy.xml"


def _allowed(enclave: str, kind: str) -> set[str]:
    """The topics `enclave` may publish or subscribe to (ROS names, with the slash)."""
    topics: set[str] = set()
    for node in ET.parse(POLICY).getroot().iter("enclave"):
        if node.get("path") != f"/robot_planner/{enclave}":
            continue
        for group in node.iter("topics"):
            if group.get(kind) == "ALLOW":
                topics |= {"/" + t.text.strip() for t in group.iter("topic") if t.text}
    return topics


def test_the_policy_lets_the_nodes_exchange_the_typed_status_events():
    from robot_planner.nodes import common

    for node in ("planner", "executor", "monitor", "voice"):
        assert common.STATUS_EVENTS in _allowed(node, "publish"), node
        assert common.STATUS in _allowed(node, "publish"), node  # the JSON mirror
    for node in ("planner", "executor", "monitor", "operator"):
        assert common.STATUS_EVENTS in _allowed(node, "subscribe"), node
    for node in ("planner", "executor", "monitor"):
        assert common.STATUS not in _allowed(node, "subscribe"), f"{node} reads the mirror"


def test_the_policy_lets_the_planner_send_typed_plans_to_the_executor_and_the_monitor():
    from robot_planner.nodes import common

    assert {common.PLAN_GRAPH, common.PLAN} <= _allowed("planner", "publish")
    for node in ("executor", "monitor"):
        assert common.PLAN_GRAPH in _allowed(node, "subscribe"), node
        assert common.PLAN not in _allowed(node, "subscribe"), f"{node} reads the mirror"
