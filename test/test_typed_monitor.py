"""The monitor's typed messages (robot_planner.nodes.typed): a misalignment and a
perceived state survive the conversion to robot_planner_interfaces messages, the CDR
wire format and back, and tell the executor exactly what the JSON documents told it
before. No rclpy context: only the message classes and their serialisation."""

from __future__ import annotations

import json

import pytest

from robot_planner.monitor.base import VqaAnswer
from robot_planner.monitor.detector import Misalignment
from robot_planner.nodes.typed import (
    MisalignmentReport,
    misalignment_from_msg,
    misalignment_msg,
    perception_facts,
    perception_msg,
    seconds,
)

pytestmark = [pytest.mark.ros]

HOLDING = "holding(left_arm,red_block)"


def _wire(msg: object) -> object:
    """`msg` after a trip through the C typesupport (what a subscriber receives)."""
    from rclpy.serialization import deserialize_message, serialize_message

    return deserialize_message(serialize_message(msg), type(msg))


def _found(answers: tuple[bool | None, ...] = (False, None, False)) -> Misalignment:
    parsed = tuple(VqaAnswer(a, 0.87, "the gripper is empty") for a in answers)
    return Misalignment(
        task="t1",
        robot="left_arm",
        fact=HOLDING,
        phase="during",
        expected=True,
        stamp=1234.5678,
        answers=parsed,
        question="Is the red block in the left gripper?",
    )


def test_a_misalignment_survives_the_round_trip() -> None:
    report = MisalignmentReport(
        command_id="c0001-35dfab72",
        revision=3,
        misalignment=_found(),
        facts=("gripper_empty(left_arm)", "on_table(red_block)"),
        check_ms=12.34,
    )
    msg = _wire(misalignment_msg(report))
    assert (msg.command_id, msg.revision, msg.task_id, msg.fact) == (
        "c0001-35dfab72",
        3,
        "t1",
        HOLDING,
    )
    assert msg.reason == report.misalignment.describe()
    assert seconds(msg.stamp) == 1234.5678
    back = misalignment_from_msg(msg)
    assert back.misalignment.to_dict() == report.misalignment.to_dict()
    assert (back.command_id, back.revision) == (report.command_id, report.revision)
    assert back.facts == report.facts and back.check_ms == 12.34


def test_the_executor_gets_what_the_json_document_gave_it() -> None:
    """What the executor rebuilt from the JSON message (and reports in its
    `misalignment` status event) is what it rebuilds from the typed one."""
    found = _found((False, False))
    document = json.loads(json.dumps({**found.to_dict(), "check_ms": 3.0}))
    from_json = Misalignment.from_dict(document)
    from_msg = misalignment_from_msg(_wire(misalignment_msg(MisalignmentReport("a", 0, found))))
    assert from_msg.misalignment.to_dict() == from_json.to_dict()


def test_no_perceived_facts_stay_none() -> None:
    msg = _wire(misalignment_msg(MisalignmentReport("a", 0, _found(), facts=None)))
    assert msg.facts == []
    back = misalignment_from_msg(msg)
    assert back.facts is None and back.check_ms is None


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("detail_json", "{not json", ValueError),
        ("detail_json", "[1,2]", TypeError),
        ("detail_json", '{"answers": []}', ValueError),
        ("detail_json", "", ValueError),  # no answers at all
        ("fact", "holding(left_arm", ValueError),
    ],
)
def test_a_malformed_misalignment_is_an_error(field: str, value: str, error: type) -> None:
    msg = misalignment_msg(MisalignmentReport("a", 0, _found()))
    setattr(msg, field, value)
    with pytest.raises(error):
        misalignment_from_msg(_wire(msg))


def test_perceived_facts_survive_the_round_trip() -> None:
    facts = ["on(red_block,blue_block)", "gripper_empty(left_arm)"]
    msg = _wire(perception_msg(1_700_000_000.25, facts, "geometric:overhead"))
    assert perception_facts(msg) == facts
    assert seconds(msg.stamp) == 1_700_000_000.25
    assert msg.source == "geometric:overhead" and list(msg.confidences) == []
