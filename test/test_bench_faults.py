"""`robot-planner bench faults` without ROS: every injected fault is survived, and the
summary says what was tried (the ROS flood and the killed executor have their own e2e
tests in test_e2e_ros.py)."""

from __future__ import annotations

import json

import pytest

from robot_planner.bench import faults
from robot_planner.cli import main


@pytest.fixture(scope="module")
def result(catalogue, scene):
    return faults.run(catalogue, scene, fuzz_examples=20, ros=False)


def test_every_fault_is_survived_and_nothing_is_lost(result):
    totals = result["totals"]
    assert totals["scenarios_failed"] == [] and totals["lost"] == 0
    assert totals["survived"] == totals["injected"] > 0


def test_llm_faults_end_in_bounded_planning_errors_never_a_plan(result):
    rows = [r for r in result["rows"] if r["scenario"].startswith("LLM:")]
    assert len(rows) == 10
    for row in rows:
        assert row["motion"] == "none" and 1 <= row["requests"] <= 9, row
        assert "\n" not in row["answer"] and row["answer"]


def test_vqa_faults_warn_then_go_on_or_halt(result):
    rows = {r["scenario"]: r for r in result["rows"] if r["scenario"].startswith("VQA")}
    assert rows["VQA errors, on_vqa_error=continue"]["outcome"] == "succeeded"
    assert rows["VQA errors, on_vqa_error=fail"]["outcome"] == "failed"
    assert rows["VQA hangs, on_vqa_error=continue"]["outcome"] == "succeeded"
    assert rows["VQA hangs, on_vqa_error=fail"]["outcome"] == "failed"


def test_the_fake_key_is_sent_but_appears_nowhere(result):
    row = next(r for r in result["rows"] if r["scenario"].startswith("secrets"))
    assert row["injected"] >= 1 and row["leaked_into"] == "nowhere"
    assert "***" in row["answer"] and faults.FAKE_KEY not in json.dumps(result)


def test_cancel_latency_is_measured(result):
    row = next(r for r in result["rows"] if "cancel during motion" in r["scenario"])
    assert row["survived"] == 3 and row["cancel_ms"]["n"] == 3
    assert row["arms_still_after_ms"]["n"] == 3


def test_markdown_and_files(result, tmp_path):
    from robot_planner.bench import report

    text = faults.markdown(result)
    assert "faults injected" in text and "every scenario survived" in text
    written = report.write(tmp_path, "faults", result, text, faults.plots(result))
    assert {p.name for p in written} == {"faults.json", "faults.md", "faults_survived.png"}


def test_a_fault_that_is_not_survived_is_reported(result):
    broken = json.loads(json.dumps(result))
    broken["rows"][0]["survived"] = 0
    broken["totals"] = {**broken["totals"], "scenarios_failed": [broken["rows"][0]["scenario"]]}
    assert "not survived: LLM: timeout" in faults.markdown(broken)


@pytest.mark.parametrize(
    "argv", [["--fuzz-examples", "0"], ["--flood", "0"], ["--scene", "no_such_scene"]]
)
def test_bad_arguments_exit_2(argv, capsys, tmp_path):
    assert main(["bench", "faults", "--no-ros", "--out", str(tmp_path), *argv]) == 2
    assert capsys.readouterr().err.startswith("robot-planner: error:")
