"""MCAP recordings: schemas from the installed .msg files, `run --record-mcap` read back,
the recorder node in-process and as a process stopped by SIGINT/SIGTERM, the bring-up's
`record` argument, and bad paths refused before anything runs."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robot_planner import bringup, recording
from robot_planner.cli import main
from robot_planner.recording import (
    McapRecorder,
    RecordingError,
    check_output,
    message_definition,
    read_messages,
)
from robot_planner.testing.waiting import wait_for

COMMAND = "put the red block in the left bin"


def _decode_image(data: bytes) -> np.ndarray:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None, "not a decodable JPEG/PNG"
    return bgr[:, :, ::-1]


# --- schemas and the writer (no ROS) -------------------------------------------------


def test_message_definition_appends_each_dependency_once_depth_first():
    text = message_definition("sensor_msgs/CompressedImage")
    installed = Path(sys.prefix, "share", "sensor_msgs", "msg", "CompressedImage.msg")
    assert text.startswith(installed.read_text().rstrip("\n") + "\n" + "=" * 80)
    headers = [line for line in text.splitlines() if line.startswith("MSG: ")]
    assert headers == ["MSG: std_msgs/Header", "MSG: builtin_interfaces/Time"]
    assert text.count("=" * 80 + "\nMSG: ") == 2


def test_message_definition_of_an_unknown_type_names_it():
    with pytest.raises(RecordingError, match=r"no definition of sensor_msgs/msg/Nope"):
        message_definition("sensor_msgs/msg/Nope")
    with pytest.raises(RecordingError, match=r"expected pkg/msg/Type"):
        message_definition("Image")


def test_recorder_round_trip_and_close_is_idempotent(tmp_path):
    path = tmp_path / "unit.mcap"
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[:, :4] = (255, 0, 0)
    with McapRecorder(path, {"command": "test"}) as recorder:
        recorder.write(recording.STATUS, recording.STRING, {"data": "a"}, 1_000)
        recorder.write(
            recording.COLOR_COMPRESSED,
            recording.COMPRESSED_IMAGE,
            recording.compressed_image(rgb, 2_000, "cam", "png"),
            2_000,
        )
        recorder.write(recording.STATUS, recording.STRING, {"data": "b"}, 3_000)
    recorder.close()
    recorder.write(recording.STATUS, recording.STRING, {"data": "late"}, 4_000)  # dropped
    messages = read_messages(path)
    assert [(t, ns) for t, _, ns, _ in messages] == [
        (recording.STATUS, 1_000),
        (recording.COLOR_COMPRESSED, 2_000),
        (recording.STATUS, 3_000),
    ]
    image = messages[1][3]
    assert image.format == "png" and image.header.frame_id == "cam"
    assert np.array_equal(_decode_image(image.data), rgb)  # PNG: lossless, RGB order kept


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("missing/run.mcap", "does not exist"),
        ("run.bag", "must end in .mcap"),
        ("adir.mcap", "is a directory"),
        ("afile/run.mcap", "does not exist"),
    ],
)
def test_check_output_refuses_paths_it_cannot_write(tmp_path, name, fragment):
    (tmp_path / "adir.mcap").mkdir()
    (tmp_path / "afile").write_text("")
    with pytest.raises(RecordingError, match=fragment):
        check_output(tmp_path / name)


def test_check_output_refuses_a_directory_without_write_permission(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes anywhere: deny as a read-only mount would
        real = os.access
        monkeypatch.setattr(
            recording.os, "access", lambda p, mode: real(p, mode) and Path(p) != locked
        )
    with pytest.raises(RecordingError, match="not writable"):
        check_output(locked / "run.mcap")


# --- run --record-mcap ---------------------------------------------------------------

#: The supervisor events the executor node publishes, with their states.
_PUBLISHED = {
    "task_started": "task_started",
    "task_succeeded": "task_succeeded",
    "misalignment": "misalignment",
    "replanned": "replanned",
    "verifying": "verifying",
    "plan_succeeded": "done",  # the supervisor's (`supervised`), not the tree's own
}


@pytest.mark.slow
def test_run_record_mcap_reads_back_events_plan_frames_and_joints(tmp_path, capsys):
    path = tmp_path / "run.mcap"
    code = main(["run", "--command", COMMAND, "--json", "--record-mcap", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["success"] is True
    assert report["recording_mcap"] == str(path)

    messages = read_messages(path)
    counts = Counter((topic, schema) for topic, schema, _, _ in messages)
    assert set(counts) == {
        (recording.STATUS_EVENTS, "robot_planner_interfaces/msg/StatusEvent"),
        (recording.PLAN_GRAPH, "robot_planner_interfaces/msg/Plan"),
        (recording.COLOR_COMPRESSED, "sensor_msgs/msg/CompressedImage"),
        (recording.JOINT_STATES, "sensor_msgs/msg/JointState"),
    }
    by_topic: dict[str, list[tuple[int, Any]]] = {}
    for topic, _, ns, message in messages:
        by_topic.setdefault(topic, []).append((ns, message))

    # Status: what the planner and executor nodes would publish, in order, at the
    # simulated times of the run's events.
    statuses = by_topic[recording.STATUS_EVENTS]
    events = [(m.state, m.source, json.loads(m.detail_json)) for _, m in statuses]
    assert {m.command_id for _, m in statuses} == {"run"}
    supervised = [
        e
        for e in report["events"]
        if e["event"] in _PUBLISHED and (e["event"] != "plan_succeeded" or e.get("supervised"))
    ]
    assert [state for state, _, _ in events] == ["planned"] + [
        _PUBLISHED[e["event"]] for e in supervised
    ]
    assert events[0][1] == "planner" and events[0][2]["readback"] == report["readback"]
    assert events[-1][0] == "done" and events[-1][1] == "executor"
    assert events[-1][2]["facts"] == report["final_facts"]
    assert [ns for ns, _ in statuses][1:] == [round(e["time"] * 1e9) for e in supervised]
    assert [d["robot_time"] for _, _, d in events[1:]] == [e["time"] for e in supervised]
    assert all(m.stamp.sec * 10**9 + m.stamp.nanosec == ns for ns, m in statuses)

    # The plan, as the planner node publishes it: revision 0, tasks with their arguments.
    ((_, plan),) = by_topic[recording.PLAN_GRAPH]
    assert plan.revision == 0 and plan.readback == report["readback"] and not plan.error
    assert list(plan.goal) == report["plan"]["goal"]
    tasks = [(t.id, t.skill, t.robot, json.loads(t.args_json)) for t in plan.tasks]
    assert tasks == [(t["id"], t["skill"], t["robot"], t["args"]) for t in report["plan"]["tasks"]]

    # Camera: JPEG frames of the monitor's size, at least 2 per simulated second.
    frames = by_topic[recording.COLOR_COMPRESSED]
    frame_times = [ns / 1e9 for ns, _ in frames]
    assert max(b - a for a, b in itertools.pairwise(frame_times)) <= 0.5 + 0.06
    first = frames[0][1]
    assert first.format == "jpeg" and first.header.frame_id == "overhead_camera_optical_frame"
    rgb = _decode_image(first.data)
    assert rgb.shape == (240, 320, 3) and rgb.std() > 5  # a scene, not a blank frame

    # Simulated time: increasing per channel, ending where the run ended.
    for topic, stamped in by_topic.items():
        times = [ns for ns, _ in stamped]
        assert times == sorted(times), topic
    assert len(set(frame_times)) == len(frame_times), "one frame per instant"
    assert frame_times[0] == 0
    assert abs(frame_times[-1] - report["sim_time_s"]) < 0.1, "the end state is recorded"
    joints = by_topic[recording.JOINT_STATES][-1][1]
    assert len(joints.name) == len(joints.position) > 0


@pytest.mark.parametrize(
    ("target", "fragment"),
    [("nowhere/run.mcap", "does not exist"), ("run.gif", "must end in .mcap")],
)
def test_run_with_a_bad_record_path_is_one_line_and_exit_2_before_running(
    tmp_path, capsys, target, fragment
):
    code = main(["run", "--command", COMMAND, "--record-mcap", str(tmp_path / target)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == "", "nothing ran (no plan, no events)"
    assert captured.err.count("\n") == 1 and fragment in captured.err
    assert "--record-mcap" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_run_record_mcap_hz_must_be_positive(tmp_path, capsys):
    argv = ["run", "--command", COMMAND, "--record-mcap", str(tmp_path / "r.mcap")]
    assert main([*argv, "--record-mcap-hz", "0"]) == 2
    assert "--record-mcap-hz must be positive" in capsys.readouterr().err


# --- bring-up ------------------------------------------------------------------------


def test_bringup_record_starts_the_recorder_first_with_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    procs = bringup.processes("sim", {"record": "out.mcap", "voice": "false"})
    assert [p.spec.name for p in procs] == ["recorder", "planner", "executor", "monitor"]
    recorder = procs[0]
    assert recorder.spec.module == "robot_planner.nodes.recorder_node"
    assert recorder.params == {"path": str(tmp_path / "out.mcap")}
    argv = recorder.argv(["recorder_node"])
    assert argv[argv.index("-p") + 1] == f'path:="{tmp_path / "out.mcap"}"'
    assert "recorder" not in [p.spec.name for p in bringup.processes("sim", {})]


def test_bringup_record_to_a_missing_directory_is_a_one_line_value_error(tmp_path):
    with pytest.raises(ValueError) as info:
        bringup.processes("sim", {"record": str(tmp_path / "no" / "run.mcap")})
    assert "does not exist" in str(info.value) and "\n" not in str(info.value)


# --- the recorder node ---------------------------------------------------------------


@pytest.mark.ros
def test_recording_topic_names_are_the_nodes_topic_names():
    from robot_planner.nodes import common

    names = ("STATUS", "PLAN", "STATUS_EVENTS", "PLAN_GRAPH", "COLOR", "JOINT_STATES")
    assert [getattr(recording, n) for n in names] == [getattr(common, n) for n in names]


def _event(state: str) -> Any:
    """A status event as the nodes publish it (fixed time: the recording is compared)."""
    from robot_planner.service.events import make_event

    return make_event("rec-test", state, "test", {"revision": 0}, 1_000.0)


def _recorded_event(message: Any) -> Any:
    """A recorded `StatusEvent` message (decoded from the file) as the event it carries."""
    from robot_planner.nodes.typed import status_from_msg
    from robot_planner_interfaces.msg import StatusEvent

    fields = ("command_id", "state", "source", "message", "detail_json")
    typed = StatusEvent(**{name: getattr(message, name) for name in fields})
    typed.stamp.sec, typed.stamp.nanosec = message.stamp.sec, message.stamp.nanosec
    return status_from_msg(typed)


def test_recorder_records_the_typed_status_events_and_plans_not_the_json_mirrors():
    from robot_planner.nodes import common
    from robot_planner.nodes.recorder_node import DEFAULT_TOPICS

    assert common.STATUS_EVENTS in DEFAULT_TOPICS and common.STATUS not in DEFAULT_TOPICS
    assert common.PLAN_GRAPH in DEFAULT_TOPICS and common.PLAN not in DEFAULT_TOPICS


@pytest.fixture
def ros(ros_domain):
    from ros_nodes import Ros

    system = Ros(ros_domain)
    yield system
    system.close()


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_recorder_node_records_what_is_published_and_closes_a_readable_file(ros, tmp_path):
    from sensor_msgs.msg import CameraInfo, Image

    from robot_planner.nodes import common, sensors
    from robot_planner.nodes.recorder_node import RecorderNode

    path = tmp_path / "node.mcap"
    # Published before the recorder exists: a latched plan must still be recorded.
    ros.publish_plan({"command_id": "rec-test", "revision": 1, "error": "none"})
    color = ros.probe.create_publisher(Image, common.COLOR, common.CAMERA_PUB_QOS)
    depth = ros.probe.create_publisher(Image, common.DEPTH, common.CAMERA_PUB_QOS)
    info = ros.probe.create_publisher(CameraInfo, common.CAMERA_INFO, common.CAMERA_PUB_QOS)
    topics = [common.STATUS_EVENTS, common.PLAN_GRAPH, common.COLOR, common.DEPTH]
    topics.append(common.CAMERA_INFO)
    once = "/rec_test/once"  # no publisher yet: typed, so subscribed at start anyway
    node = ros.add(
        RecorderNode,
        path=str(path),
        topics=[*topics, f"{once}:std_msgs/String"],
        image_format="png",
        discovery_period_s=0.1,
    )
    assert node.subscribed[once] == "std_msgs/msg/String"
    wait_for(lambda: set(node.subscribed) == {*topics, once}, 20, "the recorder to subscribe")
    one_shot = ros.probe.create_publisher(ros.String, once, common.reliable())
    # The probe subscribes to status itself: the recorder is the second subscriber.
    wait_for(lambda: ros.pub["status"].get_subscription_count() >= 2, 20, "status matched")
    for publisher in (color, depth, info, one_shot):
        wait_for(lambda p=publisher: p.get_subscription_count() >= 1, 20, "camera matched")

    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[2:4, 2:6] = (0, 200, 30)
    from robot_planner.nodes.typed import status_msg

    events = [_event("accepted"), _event("planned"), _event("done")]
    for event in events:
        ros.pub["status"].publish(status_msg(event))
    one_shot.publish(ros.String(data="once"))
    color.publish(sensors.rgb_message(rgb, 5.0, "cam"))
    depth.publish(sensors.depth_message(np.full((6, 8), 0.75, np.float32), 5.0, "cam"))
    info.publish(sensors.info_message(np.diag([100.0, 100.0, 1.0]), 8, 6, 5.0, "cam"))
    expected = {
        once: 1,
        common.STATUS_EVENTS: 3,
        common.PLAN_GRAPH: 1,
        f"{common.COLOR}/compressed": 1,
        common.DEPTH: 1,
        common.CAMERA_INFO: 1,
    }
    wait_for(lambda: dict(node.recorder.counts) == expected, 20, f"recorded {expected}")
    node.close()
    assert node.recorder.closed

    messages = read_messages(path)
    by_topic: dict[str, list[Any]] = {}
    for topic, schema, _, message in messages:
        by_topic.setdefault(topic, []).append((schema, message))
    assert {schema for schema, _ in by_topic[common.STATUS_EVENTS]} == {
        "robot_planner_interfaces/msg/StatusEvent"
    }
    assert [_recorded_event(m) for _, m in by_topic[common.STATUS_EVENTS]] == events
    schema, plan = by_topic[common.PLAN_GRAPH][0]
    assert schema == "robot_planner_interfaces/msg/Plan"
    assert (plan.command_id, plan.revision, plan.error) == ("rec-test", 1, "none")
    assert by_topic[once][0][1].data == "once"
    schema, image = by_topic[f"{common.COLOR}/compressed"][0]
    assert schema == "sensor_msgs/msg/CompressedImage" and image.format == "png"
    assert np.array_equal(_decode_image(image.data), rgb)
    assert image.header.stamp.sec == 5 and image.header.frame_id == "cam"
    schema, raw_depth = by_topic[common.DEPTH][0]
    assert schema == "sensor_msgs/msg/Image" and raw_depth.encoding == "32FC1"
    assert list(by_topic[common.CAMERA_INFO][0][1].k)[:1] == [100.0]
    assert common.COLOR not in by_topic, "colour images are written compressed only"


@pytest.mark.ros
@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "parameter path is empty"),
        ({"path": "/nonexistent-dir/r.mcap"}, "does not exist"),
        ({"path": "r.mcap", "topics": ["/a:Nope"]}, "expected pkg/msg/Type"),
        ({"path": "r.mcap", "image_format": "gif"}, "image_format must be"),
    ],
)
def test_recorder_node_with_bad_parameters_fails_to_start(ros, tmp_path, params, fragment):
    from robot_planner.nodes.recorder_node import RecorderNode

    if params.get("path") == "r.mcap":
        params = {**params, "path": str(tmp_path / "r.mcap")}
    with pytest.raises(ValueError, match=fragment):
        ros.add(RecorderNode, **params)


class _Lines:
    """A child process's output, collected by a thread (waited on, never slept on)."""

    def __init__(self, stream: Any):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for line in iter(stream.readline, ""):
            self.lines.append(line)

    def has(self, fragment: str) -> bool:
        return any(fragment in line for line in list(self.lines))


@pytest.mark.ros
@pytest.mark.e2e
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_recorder_process_stopped_by_a_signal_leaves_a_readable_file(ros, tmp_path, sig):
    from robot_planner.nodes import common
    from robot_planner.nodes.typed import status_msg

    path = tmp_path / "process.mcap"
    ros.publish_plan({"command_id": "rec-test", "revision": 7, "error": "none"})
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros.context.get_domain_id()), PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "robot_planner.nodes.recorder_node", "--ros-args"]
    argv += ["-p", f"path:={path}", "-p", "discovery_period_s:=0.1"]
    argv += ["-p", f"topics:=[{common.PLAN_GRAPH},{common.STATUS_EVENTS}]"]
    child = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        output = _Lines(child.stdout)
        wait_for(
            lambda: output.has(f"first message on {common.PLAN_GRAPH}"), 60, "the latched plan"
        )
        wait_for(lambda: ros.pub["status"].get_subscription_count() >= 2, 30, "status matched")
        ros.pub["status"].publish(status_msg(_event("done")))
        wait_for(lambda: output.has(f"first message on {common.STATUS_EVENTS}"), 30, "the status")
        child.send_signal(sig)
        assert child.wait(timeout=30) == 0, "".join(output.lines)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    output.thread.join(timeout=5)
    assert output.has("recording closed"), "".join(output.lines)
    recorded = {t: m for t, _, _, m in read_messages(path)}
    assert set(recorded) == {common.PLAN_GRAPH, common.STATUS_EVENTS}
    assert recorded[common.PLAN_GRAPH].revision == 7
    assert _recorded_event(recorded[common.STATUS_EVENTS]) == _event("done")
