"""Incoming commands: `parse_command` and the `CommandQueue` policies (ROS-free)."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robot_planner.service.commands import (
    MAX_COMMAND_CHARS,
    POLICIES,
    Command,
    CommandError,
    CommandQueue,
    Decision,
    new_command_id,
    parse_command,
)


def _valid_id(command_id: str) -> bool:
    """The documented id rule, checked independently of the module's own pattern."""
    return re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", command_id) is not None


# --- parse_command: plain text -------------------------------------------------------


def test_plain_text_becomes_a_command_with_a_generated_id():
    command = parse_command("put the red block in the right bin")
    assert command.text == "put the red block in the right bin"
    assert command.source == "topic"
    assert _valid_id(command.id)
    assert isinstance(command.received, float)


def test_plain_text_keeps_the_given_source():
    assert parse_command("stack the blocks", source="voice").source == "voice"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("  put   the red\tblock \n in the bin  ", "put the red block in the bin"),
        ("\n\nhello\r\nworld\n", "hello world"),
        ("a\u00a0b\u2003c", "a b c"),  # non-breaking and em spaces are whitespace too
        ("x", "x"),
    ],
)
def test_whitespace_is_normalised_to_single_spaces(raw, text):
    assert parse_command(raw).text == text


def test_generated_ids_are_unique_and_valid():
    ids = [parse_command("go").id for _ in range(500)] + [new_command_id() for _ in range(500)]
    assert len(set(ids)) == len(ids)
    assert all(_valid_id(command_id) for command_id in ids)


def test_command_is_immutable():
    command = parse_command("go")
    with pytest.raises(AttributeError):
        command.text = "stop"  # type: ignore[misc]


# --- parse_command: JSON -------------------------------------------------------------


def test_json_command_keeps_id_text_and_source():
    data = json.dumps({"id": "say-01:a_b.c", "text": "  stack  the blocks ", "source": "say"})
    command = parse_command(data)
    assert (command.id, command.text, command.source) == (
        "say-01:a_b.c",
        "stack the blocks",
        "say",
    )


def test_json_command_without_id_gets_a_generated_one():
    first = parse_command('{"text": "go"}')
    second = parse_command('{"text": "go"}')
    assert first.text == second.text == "go"
    assert first.id != second.id
    assert _valid_id(first.id)


def test_json_command_without_source_keeps_the_caller_source():
    assert parse_command('{"text": "go"}', source="voice").source == "voice"


def test_json_source_is_cut_to_32_characters():
    command = parse_command(json.dumps({"text": "go", "source": "s" * 100}))
    assert command.source == "s" * 32


def test_json_surrounded_by_whitespace_is_still_json():
    assert parse_command('  \n {"id": "abc", "text": "go"}\n').id == "abc"


def test_json_null_id_gets_a_generated_one():
    command = parse_command('{"id": null, "text": "go"}')
    assert _valid_id(command.id)


@pytest.mark.parametrize("command_id", ["a", "A" * 64, "0", "x.y:z-w_v"])
def test_valid_ids_are_accepted(command_id):
    assert parse_command(json.dumps({"id": command_id, "text": "go"})).id == command_id


def _error(data: object) -> str:
    with pytest.raises(CommandError) as info:
        parse_command(data)  # type: ignore[arg-type]
    message = str(info.value)
    assert message and "\n" not in message, "errors are one readable line"
    return message


def test_bad_json_is_an_error():
    assert _error('{"text": "go"').startswith("command looks like JSON but is not:")


def test_trailing_garbage_after_json_is_an_error():
    assert "looks like JSON" in _error('{"text": "go"} and more')


@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "42", "null"])
def test_json_that_is_not_an_object_is_plain_text(data):
    # Only a message that starts with "{" is read as JSON, and valid JSON starting with
    # "{" is always an object; any other JSON value arrives as plain text.
    command = parse_command(data)
    assert command.text == data


def test_json_without_text_is_an_error():
    assert _error('{"id": "abc"}') == "JSON command needs a 'text' string"


@pytest.mark.parametrize("text", [42, None, ["go"], {"t": "go"}, True])
def test_json_text_that_is_not_a_string_is_an_error(text):
    assert _error(json.dumps({"text": text})) == "JSON command needs a 'text' string"


def test_unknown_json_fields_are_named_in_order():
    message = _error(json.dumps({"text": "go", "zeta": 1, "alpha": 2}))
    assert message == "unknown field(s) in JSON command: alpha, zeta"


@pytest.mark.parametrize(
    "command_id",
    ["", "a b", "a/b", "a\nb", "é", "a;rm -rf", "A" * 65, 7, ["x"], True],
)
def test_bad_ids_are_errors(command_id):
    message = _error(json.dumps({"id": command_id, "text": "go"}))
    assert message == "command 'id' must be 1-64 characters of [A-Za-z0-9_.:-]"


def test_id_with_trailing_newline_is_rejected():
    # `$` in a pattern also matches before a final newline; the id must still be refused.
    _error(json.dumps({"id": "abc\n", "text": "go"}))


@pytest.mark.parametrize("data", ["", "   ", "\n\t\r ", '{"text": ""}', '{"text": "  \\n "}'])
def test_empty_commands_are_errors(data):
    assert _error(data) == "empty command"


def test_longest_command_is_accepted_and_one_more_is_not():
    assert parse_command("a" * MAX_COMMAND_CHARS).text == "a" * MAX_COMMAND_CHARS
    message = _error("a" * (MAX_COMMAND_CHARS + 1))
    assert message == f"command of {MAX_COMMAND_CHARS + 1} characters is over {MAX_COMMAND_CHARS}"


def test_length_counts_after_whitespace_normalisation():
    padded = "  ".join(["ab"] * 200)  # 998 characters, 599 after normalisation
    assert len(padded) < 4 * MAX_COMMAND_CHARS
    assert "over 500" in _error(padded)
    squeezed = "   ".join(["a"] * 200)  # 798 characters, 399 after normalisation
    assert len(parse_command(squeezed).text) == 399


def test_huge_messages_are_refused_before_parsing():
    message = _error("{" + "x" * (4 * MAX_COMMAND_CHARS))
    assert message == f"command message of {4 * MAX_COMMAND_CHARS + 1} characters is too long"


def test_too_long_json_text_is_an_error():
    assert "is over 500" in _error(json.dumps({"text": "b" * 600}))


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x08"])
def test_control_characters_are_errors(char):
    assert _error(f"go{char}now") == "command contains control characters"
    assert _error(json.dumps({"text": f"go{char}now"})) == "command contains control characters"


@pytest.mark.parametrize("char", ["\x7f", "\x85", "\x9b"])
def test_del_and_c1_control_characters_are_errors(char):
    # DEL and the C1 controls (U+0080-U+009F, e.g. CSI U+009B which starts terminal
    # escape sequences) are Unicode control characters just like U+0000-U+001F.
    assert unicodedata.category(char) == "Cc"
    if char.isspace():  # U+0085 (NEL) is whitespace: normalised away instead
        assert parse_command(f"go{char}now").text == "go now"
    else:
        assert _error(f"go{char}now") == "command contains control characters"


@pytest.mark.parametrize("text", ["\udcff\udcfe put", "go \ud800 now"])
def test_lone_surrogates_are_errors(text):
    # Undecodable argv bytes reach Python as lone surrogates, and a JSON message can
    # spell one ("\\udcff"); no such text can be encoded into a ROS string.
    message = "command is not valid Unicode text (it has lone surrogates)"
    assert _error(text) == message
    assert _error(json.dumps({"text": text})) == message


@pytest.mark.parametrize("data", [None, 42, b"go", ["go"], {"text": "go"}])
def test_non_string_messages_are_errors(data):
    assert _error(data) == "command must be text"


def _printable_command_text(text: str) -> bool:
    """Normalised, one line, no control characters: what a command's text may be."""
    return (
        text == " ".join(text.split())
        and not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)
        and all(ch == " " or not ch.isspace() for ch in text)
    )


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(max_size=700) | st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=700))
def test_any_text_gives_a_clean_command_or_a_command_error(data):
    try:
        command = parse_command(data)
    except CommandError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(command, Command)
    assert 1 <= len(command.text) <= MAX_COMMAND_CHARS
    assert _printable_command_text(command.text), repr(command.text)
    assert _valid_id(command.id)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"text": st.text(max_size=600)},
        optional={
            "id": st.one_of(st.none(), st.text(max_size=70), st.integers()),
            "source": st.one_of(st.text(max_size=50), st.integers(), st.none()),
        },
    )
)
def test_any_json_command_gives_a_clean_command_or_a_command_error(payload):
    try:
        command = parse_command(json.dumps(payload))
    except CommandError:
        return
    assert 1 <= len(command.text) <= MAX_COMMAND_CHARS
    assert _printable_command_text(command.text), repr(command.text)
    assert _valid_id(command.id)
    if payload.get("id") is not None:
        assert command.id == payload["id"]
    assert len(command.source) <= 32


# --- CommandQueue --------------------------------------------------------------------


def _command(command_id: str) -> Command:
    return Command(command_id, f"command {command_id}")


def test_first_command_starts_under_every_policy():
    for policy in POLICIES:
        queue = CommandQueue(policy)
        assert queue.offer(_command("a")) == Decision("start")
        assert queue.active.id == "a"
        assert list(queue.waiting) == []


def test_queue_policy_gives_positions_in_arrival_order():
    queue = CommandQueue("queue", max_queue=3)
    assert queue.offer(_command("a")).action == "start"
    decisions = [queue.offer(_command(c)) for c in "bcd"]
    assert [(d.action, d.position) for d in decisions] == [
        ("queue", 1),
        ("queue", 2),
        ("queue", 3),
    ]
    assert queue.active.id == "a"
    assert [c.id for c in queue.waiting] == ["b", "c", "d"]


def test_queue_policy_rejects_when_full_with_a_reason():
    queue = CommandQueue("queue", max_queue=2)
    for c in "abc":
        queue.offer(_command(c))
    decision = queue.offer(_command("d"))
    assert decision.action == "reject"
    assert decision.reason == "queue full (2 waiting)"
    assert [c.id for c in queue.waiting] == ["b", "c"], "a rejected command is not recorded"
    assert queue.active.id == "a"


def test_queue_of_size_zero_only_runs_one_at_a_time():
    queue = CommandQueue("queue", max_queue=0)
    assert queue.offer(_command("a")).action == "start"
    assert queue.offer(_command("b")) == Decision("reject", reason="queue full (0 waiting)")
    assert queue.finish("a") is None
    assert queue.offer(_command("c")).action == "start"


def test_queue_accepts_again_after_room_is_made():
    queue = CommandQueue("queue", max_queue=1)
    queue.offer(_command("a"))
    queue.offer(_command("b"))
    assert queue.offer(_command("c")).action == "reject"
    assert queue.finish("a").id == "b"
    assert queue.offer(_command("c")) == Decision("queue", position=1)


def test_finish_returns_the_next_commands_in_order_then_none():
    queue = CommandQueue("queue")
    for c in "abc":
        queue.offer(_command(c))
    assert queue.finish("a").id == "b"
    assert queue.active.id == "b"
    assert queue.finish("b").id == "c"
    assert queue.finish("c") is None
    assert queue.active is None
    assert queue.offer(_command("d")).action == "start"


def test_finish_ignores_unknown_and_waiting_ids():
    queue = CommandQueue("queue")
    queue.offer(_command("a"))
    queue.offer(_command("b"))
    assert queue.finish("nope") is None
    assert queue.finish("b") is None, "only the active command can finish"
    assert queue.active.id == "a"
    assert [c.id for c in queue.waiting] == ["b"]


def test_finish_on_an_idle_queue_is_a_no_op():
    queue = CommandQueue()
    assert queue.finish("a") is None
    assert queue.active is None


def test_finishing_twice_does_not_skip_a_command():
    queue = CommandQueue("queue")
    for c in "abc":
        queue.offer(_command(c))
    assert queue.finish("a").id == "b"
    assert queue.finish("a") is None
    assert queue.active.id == "b"
    assert [c.id for c in queue.waiting] == ["c"]


def test_preempt_replaces_the_active_command_and_clears_the_queue():
    queue = CommandQueue("preempt", max_queue=5)
    queue.offer(_command("a"))
    queue.waiting.extend([_command("x"), _command("y")])  # e.g. left over from a policy
    assert queue.offer(_command("b")) == Decision("preempt")
    assert queue.active.id == "b"
    assert list(queue.waiting) == []
    assert queue.offer(_command("c")).action == "preempt"
    assert queue.active.id == "c"


def test_preempted_command_finishing_later_is_ignored():
    queue = CommandQueue("preempt")
    queue.offer(_command("a"))
    queue.offer(_command("b"))
    assert queue.finish("a") is None, "the pre-empted command's end does not end the new one"
    assert queue.active.id == "b"
    assert queue.finish("b") is None
    assert queue.active is None


def test_preempt_ignores_the_queue_size():
    queue = CommandQueue("preempt", max_queue=0)
    queue.offer(_command("a"))
    assert queue.offer(_command("b")).action == "preempt"


def test_reject_policy_turns_commands_away_while_busy():
    queue = CommandQueue("reject")
    queue.offer(_command("a"))
    decision = queue.offer(_command("b"))
    assert decision == Decision("reject", reason="busy with command a")
    assert queue.active.id == "a"
    assert list(queue.waiting) == []
    assert queue.finish("a") is None
    assert queue.offer(_command("c")).action == "start"


def test_drop_waiting_returns_the_waiting_commands_and_keeps_the_active_one():
    queue = CommandQueue("queue")
    for c in "abc":
        queue.offer(_command(c))
    assert [c.id for c in queue.drop_waiting()] == ["b", "c"]
    assert list(queue.waiting) == []
    assert queue.active.id == "a"
    assert queue.drop_waiting() == []
    assert queue.finish("a") is None


def test_invalid_policy_is_a_value_error_naming_the_choices():
    with pytest.raises(ValueError) as info:
        CommandQueue("fifo")
    assert str(info.value) == "on_new_command must be one of queue, preempt, reject, not 'fifo'"


def test_negative_queue_size_is_a_value_error():
    with pytest.raises(ValueError, match=r"queue size must be >= 0"):
        CommandQueue("queue", max_queue=-1)
