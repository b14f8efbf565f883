"""The readback: one line of plain words per accepted plan, printed by `plan`/`run`, in
the run report and in the planner node's `planned` status event."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest

from robot_planner.cli import main
from robot_planner.plan.model import Task, TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanRequest
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.planning.readback import (
    MAX_READBACK_CHARS,
    fact_words,
    readback,
    skill_meaning,
)
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

HANDOVER = "left arm: red block → center zone; then right arm: red block → right bin"


@pytest.fixture(scope="module")
def logistics() -> Scene:
    return load_scene("logistics")


def _said(scene: Scene, command: str) -> str:
    planner = OfflinePlanner(scene.domain.catalogue, scene)
    plan = planner.plan(PlanRequest(command, scene.initial_facts())).plan
    return readback(plan, scene)


# --- tabletop --------------------------------------------------------------------------


def test_a_pick_and_place_reads_as_one_step(scene):
    assert _said(scene, "put the red block in the left bin") == "left arm: red block → left bin"


def test_two_arms_at_once_are_one_stage(scene):
    said = _said(scene, "put the red block in the left bin and the blue block in the right bin")
    assert said == "left arm: red block → left bin, right arm: blue block → right bin"


def test_a_hand_over_reads_as_two_stages_with_both_robots(scene):
    # Only the left arm reaches the red block and only the right arm the right bin.
    assert _said(scene, "put the red block in the right bin") == HANDOVER


def test_a_tower_reads_block_onto_block(scene):
    said = _said(scene, "build a tower with blue at the bottom and yellow on top")
    assert said == "right arm: yellow block → blue block"


def test_a_tall_tower_is_one_stage_per_level(scene):
    said = _said(scene, "blue at the bottom, then red, then yellow, green on top")
    stages = said.split("; then ")
    # Each block goes onto the one below it, in order, however the arms share the work.
    assert [s.split(": ", 1)[1] for s in stages[-3:]] == [
        "red block → blue block",
        "yellow block → red block",
        "green block → yellow block",
    ]


def test_stages_follow_dependencies_not_plan_order(scene):
    # A place listed before another robot's pick still reads in the right stage.
    plan = TaskPlan(
        goal=["in(red_block,left_bin)", "in(blue_block,right_bin)"],
        tasks=[
            Task(id="a", skill="pick", robot="right_arm", args={"object": "blue_block"}),
            Task(id="b", skill="pick", robot="left_arm", args={"object": "red_block"}),
            Task(
                id="c",
                skill="place",
                robot="left_arm",
                args={"object": "red_block", "target": "left_bin"},
                depends_on=["b", "d"],
            ),
            Task(
                id="d",
                skill="place",
                robot="right_arm",
                args={"object": "blue_block", "target": "right_bin"},
                depends_on=["a"],
            ),
        ],
    )
    assert readback(plan, scene) == (
        "right arm: blue block → right bin; then left arm: red block → left bin"
    )


def test_other_skills_read_as_their_name_and_arguments(scene):
    plan = TaskPlan(
        tasks=[
            Task(id="w", skill="wait", robot="left_arm", args={"seconds": 2}),
            Task(id="h", skill="move_home", robot="right_arm"),
            Task(id="o", skill="open_gripper", robot="left_arm", depends_on=["w"]),
        ]
    )
    assert readback(plan, scene) == (
        "left arm: wait 2 seconds, right arm: move home; then left arm: open gripper"
    )


def test_a_place_without_its_pick_reads_as_a_move(scene):
    # A re-plan after the pick: the block is already held.
    plan = TaskPlan(
        tasks=[
            Task(
                id="t1",
                skill="place",
                robot="right_arm",
                args={"object": "red_block", "target": "right_bin"},
            )
        ]
    )
    assert readback(plan, scene) == "right arm: red block → right bin"


def test_a_pick_alone_reads_as_the_skill(scene):
    plan = TaskPlan(
        tasks=[Task(id="t1", skill="pick", robot="left_arm", args={"object": "red_block"})]
    )
    assert readback(plan, scene) == "left arm: pick red block"


def test_an_empty_plan_says_the_goal_already_holds(scene):
    plan = TaskPlan(goal=["on(green_block,blue_block)", "in(red_block,left_bin)"], tasks=[])
    assert readback(plan, scene) == (
        "nothing to do (goal already holds: green block on blue block, red block inside left bin)"
    )
    assert readback(TaskPlan(tasks=[]), scene) == "nothing to do (no goal)"


def test_a_step_whose_goal_already_holds_is_said_not_dropped(scene, logistics):
    """ "robot two, wait 5 seconds, then go to the dock" read back as "base 2: wait 5
    seconds": the base was at the dock already, but the user could not tell that the
    second step was understood."""
    said = _said(logistics, "robot two, wait 5 seconds, then go to the dock")
    assert said == "base 2: wait 5 seconds (already so: base 2 at dock)"
    said = _said(scene, "put the red block in the left bin and the green block on the left side")
    assert said == "left arm: red block → left bin (already so: green block in left side)"
    # A goal all of whose facts a task makes says nothing more.
    assert "already" not in _said(scene, "put the red block in the left bin")


def test_long_plans_are_cut_with_an_ellipsis(scene):
    waits = [
        Task(
            id=f"t{i}",
            skill="wait",
            robot="left_arm",
            args={"seconds": 1},
            depends_on=[f"t{i - 1}"] if i else [],
        )
        for i in range(60)
    ]
    said = readback(TaskPlan(tasks=waits), scene)
    assert len(said) <= MAX_READBACK_CHARS and said.endswith("…")
    assert said.startswith("left arm: wait 1 seconds; then left arm: wait 1 seconds")
    short = readback(
        OfflinePlanner(scene.domain.catalogue, scene)
        .plan(PlanRequest("put the red block in the right bin", scene.initial_facts()))
        .plan,
        scene,
        limit=40,
    )
    assert len(short) <= 40 and short.endswith("…") and HANDOVER.startswith(short[:-1])


def test_roles_come_from_the_skills_effects(scene, logistics):
    tabletop = scene.domain.skills
    assert skill_meaning(tabletop["pick"], scene).takes == "object"
    assert skill_meaning(tabletop["place"], scene).moves == ("object", "target")
    assert skill_meaning(tabletop["open_gripper"], scene) == skill_meaning(tabletop["wait"], scene)
    assert skill_meaning(logistics.domain.skills["navigate"], logistics).goes_to == "place"


def test_facts_read_from_the_predicates_questions(scene, logistics):
    assert fact_words(Fact.parse("in(red_block,right_bin)"), scene) == "red block inside right bin"
    assert fact_words(Fact.parse("holding(left_arm,red_block)"), scene) == (
        "red block in left arm's gripper"
    )
    assert fact_words(Fact.parse("robot_at(base_1,dock)"), logistics) == "base 1 at dock"


# --- logistics ---------------------------------------------------------------------------


def test_navigation_reads_robot_to_place(logistics):
    assert _said(logistics, "send robot one to the pick station") == "base 1 → pick station"
    said = _said(
        logistics, "send robot one to the packing station and robot two to the pick station"
    )
    assert said == "base 1 → packing station, base 2 → pick station"


def test_a_delivery_reads_drive_load_drive_unload(logistics):
    assert _said(logistics, "bring the red parcel to the packing station") == (
        "base 1 → pick station; then picker: red parcel → base 1; then "
        "base 1 → packing station; then packer: red parcel → packing station"
    )


def test_nothing_to_do_in_logistics(logistics):
    assert _said(logistics, "send both robots to the dock") == (
        "nothing to do (goal already holds: base 1 at dock, base 2 at dock)"
    )


# --- the CLI -----------------------------------------------------------------------------


def test_plan_prints_the_readback_and_keeps_the_plan_file_valid(scene, capsys):
    command = "put the red block in the right bin"
    assert main(["plan", "--command", command]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == f"readback: {HANDOVER}"
    plan = json.loads(out)
    assert "readback" not in plan  # a plan file has no such key ...
    assert validate_plan(out, scene.domain.catalogue, scene).ok  # ... and still validates
    assert main(["plan", "--json", "--command", command]) == 0
    assert json.loads(capsys.readouterr().out)["readback"] == HANDOVER


def test_run_reports_the_readback_of_each_plan(capsys):
    # Every carried block is dropped: the first plan fails and each re-plan's readback is
    # in its `replanned` event and in the report (a re-plan after the first carry has less
    # left to do, so the budget of one re-plan without progress allows a second).
    code = main(
        [
            "run",
            "--command",
            "put the red block in the right bin",
            "--seed",
            "1",
            "--drop-prob",
            "1",
            "--max-replans",
            "1",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["readback"] == HANDOVER
    replanned = [e for e in report["events"] if e.get("event") == "replanned"]
    assert replanned and len(replanned) == len(report["replan_readbacks"]) == len(report["plans"])
    assert [e["readback"] for e in replanned] == report["replan_readbacks"]
    assert all("→" in e["readback"] for e in replanned)


def test_status_lines_show_the_readback():
    from robot_planner.ros_cli import _progress
    from robot_planner.service.events import make_event

    event = make_event(
        "a", "planned", "planner", {"tasks": 4, "backend": "offline", "readback": HANDOVER}
    )
    assert _progress(event).endswith(f"4 task(s) by offline: {HANDOVER}")
    replanned = make_event("a", "replanned", "executor", {"tasks": 2, "readback": "x → y"})
    assert _progress(replanned).endswith("2 task(s): x → y")


# --- the planner node --------------------------------------------------------------------


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_the_planned_status_event_carries_the_readback(monkeypatch, tmp_path):
    monkeypatch.setenv("ROS_DOMAIN_ID", str(230 + os.getpid() % 3))
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter
    from std_msgs.msg import String

    from robot_planner.nodes import common
    from robot_planner.nodes.planner_node import PlannerNode
    from robot_planner.service.events import parse_event

    context = rclpy.Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    probe = rclpy.create_node("readback_probe", context=context)
    events: list[Any] = []
    probe.create_subscription(
        String, common.STATUS, lambda m: events.append(parse_event(m.data)), common.STATUS_QOS
    )
    publisher = probe.create_publisher(String, common.COMMAND, common.COMMAND_QOS)
    node = PlannerNode(
        context=context,
        parameter_overrides=[
            Parameter("backend", value="offline"),
            Parameter("journal", value=str(tmp_path / "journal.jsonl")),
        ],
    )
    executor.add_node(probe)
    executor.add_node(node)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()

    def planned() -> list[Any]:
        return [e for e in list(events) if e.command_id == "rb" and e.state == "planned"]

    try:
        deadline = time.monotonic() + 60.0
        text = json.dumps({"id": "rb", "text": "put the red block in the right bin"})
        # Publish until heard: discovery may match the two ends at different moments (a
        # repeat is answered "duplicate command id" and planned once).
        while not planned():
            assert time.monotonic() < deadline, "no planned event within 60 s"
            if publisher.get_subscription_count() >= 1:
                publisher.publish(String(data=text))
            for _ in range(50):
                if planned():
                    break
                time.sleep(0.02)
        assert planned()[0].details["readback"] == HANDOVER
    finally:
        stop.set()
        spinner.join(timeout=5.0)
        node.close()
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        probe.destroy_node()
        rclpy.try_shutdown(context=context)
