"""The ROS side of the CLI, where it needs no ROS: option parsing and bad input.

Everything here must fail (exit 2, one line on stderr) before rclpy, a DDS participant or
a child process is created; the `no_ros` fixture makes any such attempt fail the test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from robot_planner import ros_cli
from robot_planner.cli import main
from robot_planner.ros_cli import RosCliError, _overrides
from robot_planner.service.commands import MAX_COMMAND_CHARS


@pytest.fixture
def no_ros(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing rclpy/std_msgs, creating a client or starting a node fails loudly."""
    for module in ("rclpy", "std_msgs", "std_msgs.msg", "robot_planner.nodes.common"):
        monkeypatch.setitem(sys.modules, module, None)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"touched ROS or started a process: {args!r}")

    monkeypatch.setattr(ros_cli, "_Client", forbidden)
    monkeypatch.setattr(ros_cli.subprocess, "Popen", forbidden)


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("robot-planner: error: ")
    return lines[0].removeprefix("robot-planner: error: ")


# --- _overrides ----------------------------------------------------------------------


def test_no_overrides():
    assert _overrides([]) == {}


def test_overrides_are_grouped_by_node():
    assert _overrides(
        ["executor.drop_prob=0.3", "planner.backend=offline", "executor.seed=7"]
    ) == {"executor": {"drop_prob": "0.3", "seed": "7"}, "planner": {"backend": "offline"}}


def test_a_later_override_of_the_same_parameter_wins():
    assert _overrides(["executor.seed=1", "executor.seed=2"]) == {"executor": {"seed": "2"}}


def test_value_keeps_everything_after_the_first_equals_sign():
    assert _overrides(["planner.journal=/tmp/a=b.jsonl"]) == {
        "planner": {"journal": "/tmp/a=b.jsonl"}
    }


def test_empty_value_is_allowed():
    assert _overrides(["planner.backend="]) == {"planner": {"backend": ""}}


def test_parameter_names_may_be_nested():
    assert _overrides(["monitor.vqa.model=x"]) == {"monitor": {"vqa.model": "x"}}


@pytest.mark.parametrize(
    "item",
    ["drop_prob=0.3", "executor.drop_prob", "executor.=0.3", "=0.3", "", "executor", "executor."],
)
def test_malformed_overrides_are_errors(item):
    with pytest.raises(RosCliError) as info:
        _overrides([item])
    assert str(info.value) == f"--set {item!r}: expected NODE.PARAM=VALUE"


@pytest.mark.parametrize("item", ["camera.rate=5", "Planner.backend=offline", ".seed=1"])
def test_unknown_node_is_an_error_listing_the_nodes(item):
    node = item.partition(".")[0]
    with pytest.raises(RosCliError) as info:
        _overrides([item])
    assert str(info.value) == (
        f"--set {item!r}: unknown node {node!r} (executor, monitor, planner, recorder, voice)"
    )


def test_first_bad_override_is_reported_even_after_good_ones():
    with pytest.raises(RosCliError, match=r"unknown node 'camera'"):
        _overrides(["executor.seed=1", "camera.rate=5", "bogus"])


# --- say -----------------------------------------------------------------------------


def test_say_empty_command_exits_2_before_touching_ros(no_ros, capsys):
    assert main(["say", ""]) == 2
    assert _one_error_line(capsys) == "empty command"


def test_say_blank_command_exits_2(no_ros, capsys):
    assert main(["say", "   \t  "]) == 2
    assert _one_error_line(capsys) == "empty command"


def test_say_too_long_command_exits_2(no_ros, capsys):
    assert main(["say", "a" * (MAX_COMMAND_CHARS + 1)]) == 2
    assert "is over 500" in _one_error_line(capsys)


def test_say_control_characters_exit_2(no_ros, capsys):
    assert main(["say", "go\x00now"]) == 2
    assert _one_error_line(capsys) == "command contains control characters"


# Python hands argv bytes that are not UTF-8 to the program as lone surrogates
# (surrogateescape): b"\xff\xfe put" arrives as "\udcff\udcfe put".
NOT_UTF8 = b"\xff\xfe put".decode("utf-8", "surrogateescape")


def test_say_non_utf8_command_exits_2_with_one_line(no_ros, capsys):
    assert main(["say", NOT_UTF8]) == 2
    assert _one_error_line(capsys) == (
        "the command is not UTF-8 text: '\\xff\\xfe put' (byte 0xff at character 0); "
        "is the terminal's locale UTF-8?"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["say", "go", "--id", NOT_UTF8],
        ["status", "--command", NOT_UTF8],
        ["bringup", "--set", f"executor.seed={NOT_UTF8}"],
        ["bringup", "--config", f"/tmp/{NOT_UTF8}.yaml"],
    ],
)
def test_other_ros_text_arguments_that_are_not_utf8_exit_2(no_ros, capsys, argv):
    assert main(argv) == 2
    assert "is not UTF-8 text: " in _one_error_line(capsys)


def test_say_a_stray_surrogate_is_named_as_a_code_point(no_ros, capsys):
    assert main(["say", "go \ud800"]) == 2
    assert "(U+D800 at character 3)" in _one_error_line(capsys)


@pytest.mark.parametrize("command_id", ["bad id", "a/b", "x" * 65])
def test_say_bad_id_exits_2(no_ros, capsys, command_id):
    assert main(["say", "go", "--id", command_id]) == 2
    assert _one_error_line(capsys).startswith("command 'id' must be")


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_say_non_positive_timeout_exits_2(no_ros, capsys, timeout):
    assert main(["say", "go", "--wait", "--timeout", timeout]) == 2
    assert _one_error_line(capsys) == "--timeout must be positive"


def test_say_needs_text_or_audio_but_not_both(no_ros, capsys, tmp_path):
    assert main(["say"]) == 2
    assert _one_error_line(capsys) == "give either the command TEXT or --audio FILE.wav"
    assert main(["say", "go", "--audio", str(tmp_path / "x.wav")]) == 2
    assert _one_error_line(capsys) == "give either the command TEXT or --audio FILE.wav"


def test_say_audio_that_is_not_a_wav_exits_2(no_ros, capsys, tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    assert main(["say", "--audio", str(tmp_path / "notes.wav")]) == 2
    assert "not a 16-bit PCM WAV file" in _one_error_line(capsys)
    assert main(["say", "--audio", str(tmp_path / "missing.wav")]) == 2
    assert _one_error_line(capsys).endswith("missing.wav: no such file")


def test_say_audio_refuses_an_id(no_ros, capsys):
    wav = str(Path(__file__).parent / "fixtures/audio/put_the_green_block_on_the_blue_block.wav")
    assert main(["say", "--audio", wav, "--id", "mine"]) == 2
    assert "--id cannot be used with --audio" in _one_error_line(capsys)


# --- bringup -------------------------------------------------------------------------


def test_bringup_with_a_missing_config_exits_2(no_ros, capsys):
    assert main(["bringup", "--config", "/nonexistent.yaml"]) == 2
    assert _one_error_line(capsys) == "parameter file /nonexistent.yaml does not exist"


def test_bringup_with_a_bad_override_exits_2_before_starting_nodes(no_ros, capsys):
    assert main(["bringup", "--set", "camera.rate=5"]) == 2
    assert _one_error_line(capsys).startswith("--set 'camera.rate=5': unknown node 'camera'")


def test_bringup_with_a_malformed_override_exits_2(no_ros, capsys):
    assert main(["bringup", "--set", "executor.seed"]) == 2
    assert _one_error_line(capsys) == "--set 'executor.seed': expected NODE.PARAM=VALUE"
