"""`bench ros-latency`'s report: the new intervals (task start -> motion, cancel -> stop)
and the action feedback rate are summarised and shown, without running the bench."""

from __future__ import annotations

from robot_planner.bench.ros_latency import (
    FeedbackSample,
    LatencyReport,
    Sample,
    markdown,
)


def _report() -> LatencyReport:
    samples = [
        Sample("c", 5.0, 40.0, 100.0, 200.0, 30.0, 100.0, 20.0, 60.0),
        Sample("c", 7.0, 50.0, 110.0, 230.0, 31.0, 120.0, 25.0, 80.0),
        Sample("c", 6.0, 45.0, 105.0, None, 32.0, None, 22.0, None),  # never moved
    ]
    return LatencyReport(samples, FeedbackSample(12, 8.0, 900.0), (2.5, 3.0, 4.0))


def test_the_summary_has_the_stop_and_the_feedback_rate():
    summary = _report().summary()
    assert summary["commands"] == 3
    assert summary["start_to_motion_ms"] == {"n": 2, "median": 110.0, "p95": 120.0, "max": 120.0}
    assert summary["stopped_ms"]["median"] == 70.0 and summary["stopped_ms"]["n"] == 2
    assert summary["cancelled_ms"]["n"] == 3
    assert summary["feedback"] == {
        "messages": 12,
        "seconds": 8.0,
        "per_s": 1.5,
        "max_gap_ms": 900.0,
    }
    assert summary["load_average"] == [2.5, 3.0, 4.0]


def test_the_markdown_shows_every_interval_the_load_and_the_feedback():
    text = markdown(_report().summary())
    assert "load average 2.50" in text and "/joint_states at 100 Hz" in text
    assert "| cancel -> arms stopped (/joint_states) | 2 | 70.0 |" in text
    assert "| cancel -> cancelled event | 3 | 22.0 |" in text
    assert "|   first task started -> first joint motion | 2 | 110.0 |" in text
    assert "Action feedback: 12 message(s) in 8.0 s (1.5/s), longest gap 900.0 ms." in text


def test_a_summary_without_samples_shows_dashes_and_no_feedback_line():
    text = markdown(LatencyReport().summary())
    assert "| cancel -> arms stopped (/joint_states) | 0 | - | - | - |" in text
    assert "Action feedback" not in text
