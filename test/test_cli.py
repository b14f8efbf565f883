"""The `robot-planner` CLI: real entry points, exit codes, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PLANS

from robot_planner.cli import main

HANDOVER = str(PLANS / "handover.json")
CYCLE = str(PLANS / "cycle.json")


def test_validate_valid_plan(capsys):
    assert main(["validate", HANDOVER, "--scene", "tabletop"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        f"{HANDOVER}: valid plan: 5 task(s) on 2 robot(s) (left_arm, right_arm), "
        "4 dependencies, goal: in(red_block,right_bin)"
    )


def test_validate_cycle_exits_2_with_error_line(capsys):
    assert main(["validate", CYCLE, "--scene", "tabletop"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"{CYCLE}: dependency cycle: t1 -> t2 -> t3 -> t1"


def test_validate_from_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not json")))
    assert main(["validate", "-"]) == 2
    assert capsys.readouterr().err.startswith("-: bad JSON at line 1 column 1")


def test_validate_with_state_file(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            ["at(red_block,center_zone)", "on_table(red_block)", "gripper_empty(right_arm)"]
        )
    )
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "tasks": [
                    {
                        "id": "t1",
                        "skill": "pick",
                        "robot": "right_arm",
                        "args": {"object": "red_block"},
                    }
                ]
            }
        )
    )
    assert main(["validate", str(plan), "--state", str(state)]) == 0
    assert main(["validate", str(plan)]) == 2  # from the start state red is out of reach
    capsys.readouterr()
    state.write_text('["on(a"]')
    assert main(["validate", str(plan), "--state", str(state)]) == 2
    assert "state file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["validate", "/no/such/plan.json"], "cannot read plan /no/such/plan.json"),
        (["validate", HANDOVER, "--scene", "moonbase"], "unknown scene 'moonbase'"),
        (
            ["validate", HANDOVER, "--domain", "/no/domain.yaml"],
            "domain file /no/domain.yaml does not exist",
        ),
        (["execute", HANDOVER, "--fail", "nonsense"], "--fail expects KEY=REASON"),
        (["bench", "tree", "--tasks", "0"], "between 1 and 20000"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--command", "go home"],
        ["demo"],
        ["bench", "stack-drop", "--episodes", "1"],
        ["bench", "episodes", "--command", "go home"],
        ["bench", "language"],
    ],
)
@pytest.mark.parametrize(("seed", "fragment"), [("-1", "must be 0..2147483647"), ("x", "'x'")])
def test_a_seed_out_of_range_is_one_line_and_exit_2(argv, seed, fragment, capsys):
    """`--seed -1` reached numpy's generator and ended in a traceback."""
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--seed", seed])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "argument --seed" in err and fragment in err
    assert "Traceback" not in err


def test_render_prints_tree_and_writes_png_and_dot(tmp_path, capsys):
    png, dot = tmp_path / "tree.png", tmp_path / "tree.dot"
    assert main(["render", HANDOVER, "--png", str(png), "--dot", str(dot)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "/_/ plan"
    assert "--> t4: pick(object=red_block)" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert dot.read_text().lstrip().startswith("digraph")


def test_render_rejects_invalid_plan(capsys):
    assert main(["render", CYCLE]) == 2
    assert "dependency cycle" in capsys.readouterr().err


def test_schema_command(capsys):
    assert main(["schema", "--scene", "tabletop"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "robot_planner task plan"


def test_execute_success_and_failure(capsys):
    assert main(["execute", HANDOVER, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "succeeded" and report["goal_satisfied"] is True
    assert main(["execute", HANDOVER, "--fail", "right_arm:pick=grasp missed"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0])["event"] == "plan_started"
    assert lines[-1].startswith("failed:") and "grasp missed" in lines[-1]


def test_bench_tree_json(capsys):
    assert main(["bench", "tree", "--tasks", "5", "40", "--repeat", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["results"]
    assert [r["tasks"] for r in rows] == [5, 40]
    for row in rows:
        assert row["outcome"] == "succeeded"
        assert row["compile_ms"] > 0 and row["tick_median_ms"] > 0
    assert rows[1]["parallelism"] > 1.0  # both arms busy at once


def test_run_json_report(capsys):
    code = main(
        [
            "run",
            "--scene",
            "tabletop",
            "--command",
            "please put the green block in the left bin",
            "--seed",
            "2",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(report) >= {
        "success",
        "goal",
        "final_facts",
        "plan",
        "events",
        "replans",
        "sim_time_s",
        "wall_time_s",
    }
    assert report["success"] is True and report["goal"] == ["in(green_block,left_bin)"]
    assert "in(green_block,left_bin)" in report["final_facts"]
    assert report["plan"]["tasks"][0]["skill"] == "pick"
    assert report["events"][-1]["event"] == "plan_succeeded"
    assert report["sim_time_s"] > 1.0


def test_run_exit_1_when_the_goal_does_not_hold(capsys):
    code = main(
        [
            "run",
            "--command",
            "put the red block on the green block",
            "--seed",
            "1",
            "--drop-prob",
            "1",
            "--max-replans",
            "0",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["success"] is False
    assert any(e.get("kind") == "drop" for e in report["events"])
    assert report["reason"].startswith("gave up after 0 re-plan(s)")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "--command", "throw the red block"], "unknown action 'throw'"),
        (["run", "--command", "put the purple block in the left bin"], "unknown object"),
        (["run", "--command", "   "], "--command is empty"),
        (["run", "--command", "put red on green", "--drop-prob", "2"], "drop probability"),
        (["bench", "episodes", "--command", "fly"], "cannot plan 'fly'"),
        # Each of these ran: inf/NaN passed the range checks, /proc passed the
        # permission check as root and failed with a traceback at the first write.
        (["run", "--command", "go home", "--displace-cm", "inf"], "finite number of cm"),
        (["run", "--command", "go home", "--max-time", "nan"], "--max-time must be"),
        (["run", "--command", "go home", "--record-mcap", "/proc/x.mcap"], "--record-mcap"),
    ],
)
def test_run_refuses_bad_input(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_run_gui_without_display_is_refused(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["run", "--command", "put red on green", "--gui"]) == 2
    assert "needs a display" in capsys.readouterr().err


def test_demo_records_a_gif(tmp_path, capsys):
    gif = tmp_path / "demo.gif"
    assert main(["demo", "--record", str(gif)]) == 0
    out = capsys.readouterr().out
    assert "== SUCCESS: goal holds" in out and "== behaviour tree:" in out
    assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")


def test_bench_episodes_and_sim_speed(capsys):
    assert (
        main(
            [
                "bench",
                "episodes",
                "--command",
                "put the red block on the green block",
                "--seeds",
                "1",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["episodes"] == 1 and report["success_rate"] == 1.0
    assert main(["bench", "sim-speed", "--seconds", "1", "--json"]) == 0
    speed = json.loads(capsys.readouterr().out)
    assert speed["without_camera"]["real_time_factor"] > 0
    assert speed["camera_fps_320x240"] > 0
    # Any scene: its robots work its own demo command (the logistics cell's bases drive).
    argv = ["bench", "sim-speed", "--scene", "logistics", "--seconds", "1", "--json"]
    assert main(argv) == 0
    speed = json.loads(capsys.readouterr().out)
    assert speed["without_camera"]["real_time_factor"] > 0
    assert "one on each robot" in speed["command"]


def test_installed_console_script():
    exe = Path(sys.executable).parent / "robot-planner"
    assert exe.is_file(), "make setup installs the robot-planner console script"
    proc = subprocess.run(
        [str(exe), "validate", CYCLE],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("dependency cycle: t1 -> t2 -> t3 -> t1")


# Free text given on the command line that is not UTF-8 (a Latin-1 terminal, a pasted
# binary): Python hands such argv bytes over as lone surrogates (surrogateescape).
NOT_UTF8 = b"\xff\xfe put".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--command", NOT_UTF8],
        ["run", "--command", NOT_UTF8],
        ["bench", "episodes", "--command", NOT_UTF8, "--seeds", "1"],
        ["pddl", "--command", NOT_UTF8],
        ["pddl", "--goal", "in(red_block,right_bin)", NOT_UTF8],
    ],
)
def test_free_text_that_is_not_utf8_is_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "is not UTF-8 text: '\\xff\\xfe put' (byte 0xff at character 0)" in captured.err


@pytest.mark.parametrize(
    "argv", [[b"say", b"\xff\xfe put"], [b"plan", b"--command", b"put the red block \xe9"]]
)
def test_console_script_non_utf8_argument_is_one_line_and_exit_2(argv):
    """The real process, raw argv bytes: no traceback (say used to crash in rclpy.init)."""
    exe = Path(sys.executable).parent / "robot-planner"
    proc = subprocess.run(
        [str(exe).encode(), *argv],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "LC_ALL": "C.UTF-8"},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("robot-planner: error: ") and "is not UTF-8 text" in lines[0]
