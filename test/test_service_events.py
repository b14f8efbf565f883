"""Status events: building, serialising and validating `/robot_planner/status` messages."""

from __future__ import annotations

import json
import typing

import pytest

from robot_planner.service.events import (
    FINAL_STATES,
    MAX_EVENT_BYTES,
    NO_COMMAND,
    STATES,
    EventError,
    State,
    StatusEvent,
    make_event,
    parse_event,
)


def _valid(**changes: object) -> dict:
    event = {"command_id": "c1", "state": "accepted", "time": 1.5, "source": "planner"}
    event.update(changes)
    return event


def _error(text: str) -> str:
    with pytest.raises(EventError) as info:
        parse_event(text)
    message = str(info.value)
    assert message and "\n" not in message, "errors are one readable line"
    return message


def test_states_and_the_state_type_agree():
    assert typing.get_args(State) == STATES
    assert len(set(STATES)) == len(STATES)
    assert set(FINAL_STATES) <= set(STATES)
    assert STATES[-len(FINAL_STATES) :] == FINAL_STATES


def test_round_trip_keeps_every_field():
    details = {"task": "t1", "phase": "grasp", "n": 3, "ok": True, "nested": {"a": [1, 2.5]}}
    event = make_event("c1", "task_phase", "executor", details, stamp=1700000000.1234567)
    assert event.time == 1700000000.123457, "stamps are rounded to microseconds"
    text = event.to_json()
    assert "\n" not in text and " " not in text.replace("grasp", ""), "compact, one line"
    parsed = parse_event(text)
    assert parsed == event
    assert json.loads(text) == {
        "command_id": "c1",
        "state": "task_phase",
        "time": 1700000000.123457,
        "source": "executor",
        "details": details,
    }


def test_make_event_stamps_now_and_defaults_details(monkeypatch):
    monkeypatch.setattr("robot_planner.service.events.time.time", lambda: 42.0000004)
    event = make_event(NO_COMMAND, "error", "planner")
    assert (event.command_id, event.time, event.details) == ("", 42.0, {})
    assert parse_event(event.to_json()) == event


def test_details_that_are_not_json_are_sent_as_text():
    event = make_event("c1", "failed", "executor", {"reason": ValueError("boom")}, stamp=1.0)
    assert parse_event(event.to_json()).details == {"reason": "boom"}


@pytest.mark.parametrize("state", STATES)
def test_every_state_is_accepted(state):
    event = parse_event(json.dumps(_valid(state=state)))
    assert event.state == state
    assert event.final is (state in FINAL_STATES)
    assert make_event("c1", state, "planner", stamp=1.0).state == state


@pytest.mark.parametrize("state", FINAL_STATES)
def test_final_states_are_final(state):
    assert make_event("c1", state, "planner", stamp=1.0).final is True


def test_progress_states_are_not_final():
    progress = [s for s in STATES if s not in FINAL_STATES]
    assert "accepted" in progress and "replanning" in progress
    assert not any(make_event("c1", s, "planner", stamp=1.0).final for s in progress)


def test_unknown_state_is_an_error():
    message = _error(json.dumps(_valid(state="exploded")))
    assert message.startswith("invalid status event: state: ")


def test_make_event_refuses_an_unknown_state():
    with pytest.raises(ValueError):
        make_event("c1", "exploded", "planner")


def test_extra_field_is_an_error():
    message = _error(json.dumps(_valid(priority=1)))
    assert message.startswith("invalid status event: priority: ")


@pytest.mark.parametrize("field", ["command_id", "state", "time", "source"])
def test_missing_field_is_an_error(field):
    event = _valid()
    del event[field]
    assert _error(json.dumps(event)) == f"invalid status event: {field}: Field required"


def test_details_are_optional():
    assert parse_event(json.dumps(_valid())).details == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [("time", "soon"), ("details", [1, 2]), ("command_id", 7), ("source", None)],
)
def test_wrong_field_types_are_errors(field, value):
    assert _error(json.dumps(_valid(**{field: value}))).startswith(
        f"invalid status event: {field}"
    )


@pytest.mark.parametrize("text", ["", "not json", "{", '{"state": "done"', "[1, 2]", "null"])
def test_non_json_or_non_object_is_an_error(text):
    assert _error(text).startswith("invalid status event: event: ")


def test_oversize_event_is_refused_before_parsing():
    filler = "x" * MAX_EVENT_BYTES
    text = json.dumps(_valid(details={"blob": filler}))
    assert len(text) > MAX_EVENT_BYTES
    assert _error(text) == f"status event of {len(text)} bytes is over {MAX_EVENT_BYTES}"


def test_event_at_the_size_limit_is_accepted():
    base = json.dumps(_valid(details={"blob": ""}))
    text = json.dumps(_valid(details={"blob": "x" * (MAX_EVENT_BYTES - len(base))}))
    assert len(text) == MAX_EVENT_BYTES
    assert len(parse_event(text).details["blob"]) == MAX_EVENT_BYTES - len(base)


def test_schema_lists_the_states_and_required_fields():
    schema = StatusEvent.model_json_schema()
    assert schema["properties"]["state"]["enum"] == list(STATES)
    assert set(schema["required"]) == {"command_id", "state", "time", "source"}
    assert schema["additionalProperties"] is False
    assert all(prop.get("description") for prop in schema["properties"].values())
    json.dumps(schema)  # the schema itself is JSON (printed by `schema --status`)


def test_progress_notices_of_the_in_process_monitor_are_published():
    """The executor publishes the supervisor's events through `status_of`: a stalled or
    moving-again base is a status event with the monitor's details, on the robot's
    clock."""
    from robot_planner.service.wire import status_of

    notice = {
        "event": "progress_stalled",
        "time": 6.3,
        "task": "t1",
        "robot": "base_1",
        "phase": "drive",
        "stalled_s": 3.2,
    }
    state, details = status_of(notice)
    assert state == "progress_stalled" and state in STATES
    assert details == {
        "task": "t1",
        "robot": "base_1",
        "phase": "drive",
        "stalled_s": 3.2,
        "robot_time": 6.3,
    }
    assert status_of({**notice, "event": "progress_resumed"})[0] == "progress_resumed"
