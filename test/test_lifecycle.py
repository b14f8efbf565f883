"""The planner's command lifecycle without ROS: queue, revisions, cancel, the executor
watchdog, the re-plan exchange and approval, driven by hand.

Nothing here sleeps: the clock is a fake the test moves, planning jobs run on the test's
thread through `step()`, and the status port feeds each event straight back in (as the
planner node's own status subscription does).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from robot_planner.plan.model import Task, TaskPlan
from robot_planner.planning.base import PlanningError, PlanRequest, PlanResult
from robot_planner.resources import scene_path
from robot_planner.service.approval import Approvals
from robot_planner.service.commands import Command, CommandQueue
from robot_planner.service.events import StatusEvent, make_event
from robot_planner.service.journal import Journal, read_journal
from robot_planner.service.lifecycle import CommandLifecycle, Follower
from robot_planner.world.facts import format_facts
from robot_planner.world.scene import load_scene

GOAL = "on(green_block,blue_block)"
EXECUTOR_A, EXECUTOR_B = b"executor-a", b"executor-b"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakePlanner:
    """Answers every request with a one-task plan (or raises `fail`); counts the calls."""

    name = "fake"

    def __init__(self) -> None:
        self.requests: list[PlanRequest] = []
        self.fail: Exception | None = None
        self.threads: list[str] = []

    def _result(self, request: PlanRequest) -> PlanResult:
        self.requests.append(request)
        self.threads.append(threading.current_thread().name)
        if self.fail is not None:
            raise self.fail
        task = Task(id="t1", skill="pick", robot="left_arm", args={"object": "green_block"})
        return PlanResult(TaskPlan(command=request.command, goal=[GOAL], tasks=[task]), "offline")

    plan = _result
    replan = _result


class Harness:
    """A lifecycle with recording ports: `events`, `plans`, `cancels`."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        policy: str = "queue",
        confirm: str = "never",
        confirm_timeout_s: float = 30.0,
        max_followers: int | None = None,
    ) -> None:
        self.clock = Clock()
        self.scene = load_scene(scene_path("tabletop"))
        self.planner = FakePlanner()
        self.events: list[StatusEvent] = []
        self.plans: list[dict[str, Any]] = []
        self.cancels = 0
        self.journal_path = tmp_path / "journal.jsonl"
        self.lc = CommandLifecycle(
            planner=self.planner,
            scene=self.scene,
            queue=CommandQueue(policy, 10),
            journal=Journal(self.journal_path),
            approvals=Approvals(timeout_s=confirm_timeout_s, clock=self.clock),
            confirm=confirm,
            executor_timeout_s=3.0,
            publish_plan=self.plans.append,
            status=self._status,
            send_cancel=self._cancel,
            clock=self.clock,
            max_followers=max_followers,
        )

    def _status(self, command_id: str, state: str, **details: Any) -> StatusEvent:
        event = make_event(command_id, state, "planner", details)
        self.events.append(event)
        self.lc.on_status_event(event)  # the node hears its own events on the topic
        return event

    def _cancel(self) -> None:
        self.cancels += 1

    def submit(self, command_id: str, follower: Follower | None = None) -> str | None:
        text = f"put the green block on the blue block ({command_id})"
        return self.lc.submit(Command(command_id, text), follower)

    def executor_says(self, command_id: str, state: str, **details: Any) -> None:
        self.lc.on_status_event(make_event(command_id, state, "executor", details))

    def of(self, command_id: str, state: str | None = None) -> list[StatusEvent]:
        return [
            e
            for e in self.events
            if e.command_id == command_id and (state is None or e.state == state)
        ]

    def states(self, command_id: str) -> list[str]:
        return [e.state for e in self.of(command_id)]

    def journal(self) -> list[tuple[str, str]]:
        return [(e["id"], e["state"]) for e in read_journal(self.journal_path)]

    def replan_request(self, command_id: str, revision: int | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "command_id": command_id,
            "command": "put the green block on the blue block",
            "facts": format_facts(self.scene.initial_facts()),
            "goal": [GOAL],
            "completed": [],
            "failed_task": None,
            "evidence": "monitor: the green block fell",
        }
        if revision is not None:
            request["revision"] = revision
        return request


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    yield harness
    harness.lc.close()


def test_the_lifecycle_imports_no_ros() -> None:
    code = (
        "import sys, robot_planner.service.lifecycle\n"
        "ros = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('rclpy', 'std_msgs', 'robot_planner_interfaces', 'rosidl_runtime_py'))\n"
        "print(ros)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert found.stdout.strip() == "[]"


def test_commands_queue_in_order_and_the_second_waits_for_the_first(h: Harness) -> None:
    assert h.submit("a") is None and h.submit("b") is None
    assert h.of("a", "accepted")[0].details.get("queued") is None
    assert h.of("b", "accepted")[0].details["queued"] == 1
    assert h.lc.step()  # plans a
    assert [p["command_id"] for p in h.plans] == ["a"] and h.states("a")[-1] == "planned"
    # b waits while a runs: no job for it yet.
    assert not h.lc.step()
    assert h.states("b") == ["accepted"] and len(h.planner.requests) == 1
    h.executor_says("a", "done", reason="")
    assert h.lc.step()  # now b
    assert [(p["command_id"], p["revision"]) for p in h.plans] == [("a", 0), ("b", 0)]
    assert h.journal() == [("a", "accepted"), ("b", "accepted"), ("a", "done")]
    state = h.lc.state_of("")
    assert (state["state"], state["command_id"], state["busy"]) == ("planned", "b", True)


def test_the_reject_policy_turns_a_second_command_away(tmp_path: Path) -> None:
    h = Harness(tmp_path, policy="reject")
    assert h.submit("a") is None
    assert h.submit("b") == "busy with command a"
    assert h.states("b") == ["rejected"] and ("b", "rejected") in h.journal()
    assert h.submit("a") == "duplicate command id"
    assert h.of("a", "rejected")[0].details["duplicate"] is True
    h.lc.close()


def test_revisions_increase_on_replan_and_a_stale_request_is_ignored(h: Harness) -> None:
    h.submit("a")
    h.lc.step()
    h.lc.request_replan(h.replan_request("a", 0))
    assert h.lc.step()
    h.lc.request_replan(h.replan_request("a", 1))
    assert h.lc.step()
    assert [p["revision"] for p in h.plans] == [0, 1, 2]
    assert all("plan" in p for p in h.plans) and h.plans[-1]["readback"]
    # A request made at revision 1 again (answered already): no job, no answer.
    h.lc.request_replan(h.replan_request("a", 1))
    assert not h.lc.step()
    # The same request twice before the worker gets to it: one answer.
    h.lc.request_replan(h.replan_request("a", 2))
    h.lc.request_replan(h.replan_request("a", 2))
    assert h.lc.step() and h.lc.step()
    assert [p["revision"] for p in h.plans] == [0, 1, 2, 3]
    assert h.lc.revision["a"] == 3


def test_a_failed_replan_is_answered_with_an_error_and_counts_a_revision(h: Harness) -> None:
    h.submit("a")
    h.lc.step()
    h.planner.fail = PlanningError("no plan reaches the goal")
    h.lc.request_replan(h.replan_request("a", 0))
    h.lc.step()
    assert h.plans[-1]["revision"] == 1 and h.plans[-1]["error"] == "no plan reaches the goal"
    assert "plan" not in h.plans[-1]


def test_a_replan_request_for_an_unknown_or_finished_command_is_answered_with_an_error(
    h: Harness,
) -> None:
    h.lc.request_replan(h.replan_request("ghost", 0))
    assert not h.lc.step()  # nothing to plan
    answer = h.plans[-1]
    assert (answer["command_id"], answer["revision"]) == ("ghost", 1)
    assert "not active" in answer["error"] and "plan" not in answer
    h.submit("a")
    h.lc.step()
    h.executor_says("a", "done")
    h.lc.request_replan(h.replan_request("a", 0))
    assert not h.lc.step() and len(h.planner.requests) == 1
    assert h.plans[-1]["command_id"] == "a" and "not active" in h.plans[-1]["error"]
    # A malformed request is an error event, not an answer.
    h.lc.request_replan({"command_id": "a"})
    assert h.of("", "error")[-1].details["reason"].startswith("bad re-plan request")


def test_cancelling_a_queued_command_ends_it_at_once(h: Harness) -> None:
    h.submit("a")
    h.submit("b")
    h.lc.step()
    assert h.lc.cancel("b")
    assert h.of("b", "cancelled")[0].details["reason"] == "cancelled before it started"
    assert h.cancels == 0  # the robots run a, not b
    h.executor_says("a", "done")
    assert not h.lc.step()  # b never starts
    assert ("b", "cancelled") in h.journal() and h.lc.state_of("")["state"] == "idle"


def test_cancelling_the_running_command_halts_the_executor(h: Harness) -> None:
    follower = Follower("a")
    h.submit("a", follower)
    h.submit("b")
    h.lc.step()
    assert h.lc.cancel("a")
    assert h.cancels == 1
    # The halt comes back on the cancel topic: it is this lifecycle's own, and b stays.
    h.lc.cancel_all()
    assert h.lc.own_cancels == 0 and h.lc.queue.holds("b")
    h.executor_says("a", "cancelled", reason="cancelled by request")
    assert follower.ended.is_set()
    assert follower.progress.result()["final_state"] == "cancelled"
    assert ("a", "cancelled") in h.journal()
    assert h.lc.step() and h.plans[-1]["command_id"] == "b"


def test_cancelling_a_command_while_it_is_planned_drops_its_plan(h: Harness) -> None:
    h.submit("a")
    assert h.lc.cancel("a")
    assert h.cancels == 0  # nothing moves yet
    h.lc.step()
    assert h.of("a", "cancelled")[0].details["reason"] == "cancelled while planning"
    assert h.plans == []


def test_an_outside_cancel_drops_the_queue(h: Harness) -> None:
    h.submit("a")
    h.submit("b")
    h.submit("c")
    h.lc.step()
    h.lc.cancel_all()
    assert h.states("b")[-1] == "cancelled" and h.states("c")[-1] == "cancelled"
    assert h.cancels == 0 and not h.lc.queue.waiting


def test_the_watchdog_ends_the_command_when_its_executor_is_gone(h: Harness) -> None:
    h.submit("a")
    h.submit("b")
    h.lc.step()
    h.lc.watch_executor(frozenset({EXECUTOR_A}))  # armed: an executor runs a
    assert h.lc.watched == ("a", frozenset({EXECUTOR_A}))
    h.clock.now += 60.0
    h.lc.watch_executor(frozenset({EXECUTOR_A}))
    assert h.lc.gone_since is None and not h.of("a", "interrupted")
    h.lc.watch_executor(frozenset())  # gone: the countdown starts
    h.clock.now += 2.9
    h.lc.watch_executor(frozenset())
    assert h.lc.gone_since is not None and not h.of("a", "interrupted")
    assert h.lc.snapshot().executor_gone_s == pytest.approx(2.9)
    h.clock.now += 0.1
    h.lc.watch_executor(frozenset())
    reason = h.of("a", "interrupted")[0].details["reason"]
    assert "executor stopped" in reason and "3 s" in reason and "not replayed" in reason
    assert ("a", "interrupted") in h.journal()
    # The queue moves on: b is planned, and a new executor is watched for it.
    assert h.lc.step() and h.plans[-1]["command_id"] == "b"
    h.lc.watch_executor(frozenset({EXECUTOR_B}))
    assert h.lc.watched == ("b", frozenset({EXECUTOR_B})) and h.lc.gone_since is None


def test_the_watchdog_forgives_an_executor_that_comes_back(h: Harness) -> None:
    h.submit("a")
    h.lc.step()
    h.lc.watch_executor(frozenset({EXECUTOR_A}))
    h.lc.watch_executor(frozenset())
    h.clock.now += 2.5
    h.lc.watch_executor(frozenset())
    assert h.lc.gone_since is not None
    h.lc.watch_executor(frozenset({EXECUTOR_A}))  # back within the time-out
    assert h.lc.gone_since is None
    h.clock.now += 1.0
    h.lc.watch_executor(frozenset())  # gone again: a fresh countdown, not 3.5 s
    h.clock.now += 1.0
    h.lc.watch_executor(frozenset())
    assert not h.of("a", "interrupted")


def test_a_lost_liveliness_counts_as_gone_though_the_graph_still_lists_it(h: Harness) -> None:
    h.submit("a")
    h.lc.step()
    h.lc.watch_executor(frozenset({EXECUTOR_A}))
    h.lc.executor_liveliness(0)  # killed: DDS keeps its endpoints for the lease
    h.lc.watch_executor(frozenset({EXECUTOR_A}))
    h.clock.now += 3.0
    h.lc.watch_executor(frozenset({EXECUTOR_A}))
    assert h.of("a", "interrupted")


def test_the_watchdog_waits_for_an_executor_before_it_arms(h: Harness) -> None:
    h.submit("a")
    h.lc.watch_executor(frozenset())  # still planning
    h.lc.step()
    for _ in range(3):
        h.clock.now += 10.0
        h.lc.watch_executor(frozenset())  # no executor ever seen (a node under test)
    assert h.lc.watched is None and not h.of("a", "interrupted")


def test_an_unanswered_plan_is_rejected_at_its_deadline(tmp_path: Path) -> None:
    h = Harness(tmp_path, confirm="always", confirm_timeout_s=5.0)
    h.submit("a")
    h.submit("b")
    h.lc.step()
    asked = h.of("a", "awaiting_approval")[0].details
    assert asked["timeout_s"] == 5.0 and asked["revision"] == 0
    assert h.plans == []  # held: the executor never sees it
    h.lc.watch_executor(frozenset({EXECUTOR_A}))  # no executor has it: not watched
    assert h.lc.watched is None
    h.clock.now += 4.9
    h.lc.expire_approvals()
    assert not h.of("a", "rejected")
    h.clock.now += 0.1
    h.lc.expire_approvals()
    rejected = h.of("a", "rejected")[0].details
    assert rejected == {"by": "timeout", "reason": "no approval within 5 s"}
    assert ("a", "rejected") in h.journal() and h.plans == []
    assert h.lc.step() and h.of("b", "awaiting_approval")  # the next one goes on
    h.lc.close()


def test_an_approved_plan_goes_to_the_executor(tmp_path: Path) -> None:
    h = Harness(tmp_path, confirm="always")
    h.submit("a")
    h.lc.step()
    assert h.lc.approve("a", True, "", revision=1) == (
        False,
        "command a waits with plan revision 0, not 1",
    )
    assert h.lc.approve("a", True, "looks right", revision=0) == (True, "command a approved")
    assert h.of("a", "approved")[0].details == {"by": "service", "reason": "looks right"}
    assert [(p["command_id"], p["revision"]) for p in h.plans] == [("a", 0)]
    assert h.plans[0]["readback"]
    h.lc.close()


def test_a_yes_on_the_command_topic_answers_the_waiting_plan(tmp_path: Path) -> None:
    h = Harness(tmp_path, confirm="always")
    h.lc.command_text('{"id": "a", "text": "put the green block on the blue block"}')
    h.lc.step()
    h.lc.command_text('{"id": "yes1", "text": "yes"}')
    assert h.of("a", "approved")[0].details["answer_id"] == "yes1"
    assert not h.of("yes1") and len(h.plans) == 1
    h.lc.command_text("")
    assert h.of("", "error")[-1].details["reason"] == "bad command: empty command"
    h.lc.close()


@pytest.mark.parametrize("word", ["yes", "No.", "go ahead"])
def test_an_answer_with_no_plan_waiting_is_refused_as_an_answer_not_planned(
    tmp_path: Path, word: str
) -> None:
    h = Harness(tmp_path, confirm="always")
    h.lc.command_text(json.dumps({"id": "w", "text": word}))
    (rejected,) = h.of("w")
    assert rejected.state == "rejected" and h.lc.step() is False
    assert rejected.details["reason"].startswith(f"no plan is waiting for approval, so {word!r}")
    assert h.plans == [] and ("w", "accepted") not in h.journal()
    h.lc.close()


def test_a_stop_with_no_plan_waiting_cancels_the_running_command(h: Harness) -> None:
    h.submit("a")
    h.lc.step()
    assert h.plans and not h.cancels
    h.lc.command_text('{"id": "s", "text": "Stop!"}')
    assert h.cancels == 1  # the executor is told to halt at once
    assert (
        h.of("s", "rejected")[0].details["reason"]
        == "'Stop!' is no command: it cancelled command a"
    )
    h.executor_says("a", "cancelled", reason="cancelled")
    assert ("a", "cancelled") in h.journal()  # ended: nothing runs now
    h.lc.command_text('{"id": "s2", "text": "stop"}')  # nothing runs now: answers nothing
    assert h.of("s2", "rejected")[0].details["reason"].startswith("no plan is waiting")
    assert h.cancels == 1


def test_a_follower_gets_feedback_and_is_released_at_the_end(tmp_path: Path) -> None:
    h = Harness(tmp_path, max_followers=1)
    seen: list[dict[str, Any]] = []
    follower = Follower("a", seen.append)
    assert h.submit("a", follower) is None
    assert h.submit("b", Follower("b")) == "too many goals at once (1)"
    assert not h.of("b")  # turned away before it became a command
    h.lc.step()
    assert [f["state"] for f in seen] == ["accepted", "planned"]
    assert seen[-1]["tasks_total"] == 1 and not follower.ended.is_set()
    h.executor_says("a", "done", facts=["on(green_block,blue_block)"])
    assert follower.ended.is_set()
    assert follower.progress.result()["final_facts"] == ["on(green_block,blue_block)"]
    h.lc.unfollow("a")
    h.lc.close()
    assert h.lc.submit(Command("c", "put the green block"), Follower("c")) == (
        "the planner is shutting down"
    )


def test_a_planning_error_ends_the_command_and_the_next_one_starts(h: Harness) -> None:
    h.planner.fail = RuntimeError("backend bug")
    h.submit("a")
    h.submit("b")
    h.lc.step()
    error = h.of("a", "error")[0].details
    assert error["reason"] == "planner failed: RuntimeError('backend bug')"
    assert error["kind"] == "plan_failed"
    h.planner.fail = None
    assert h.lc.step() and h.plans[-1]["command_id"] == "b"


def test_the_worker_thread_runs_the_jobs(h: Harness) -> None:
    planned = threading.Event()
    follower = Follower("a", lambda fields: fields["state"] == "planned" and planned.set())
    h.lc.start()
    h.submit("a", follower)
    assert planned.wait(30.0), "no plan from the worker thread"
    assert h.planner.threads == ["planner-worker"] and h.plans[0]["command_id"] == "a"


def test_the_world_state_from_the_executor_is_what_the_next_plan_starts_from(
    h: Harness,
) -> None:
    h.lc.world_state('{"facts": ["on(green_block,blue_block)"], "source": "executor"}')
    h.lc.world_state("not json")  # ignored (logged)
    assert h.lc.facts() == ["on(green_block,blue_block)"]
    h.submit("a")
    h.lc.step()
    assert format_facts(h.planner.requests[0].state) == ["on(green_block,blue_block)"]
    assert h.of("a", "planned")[0].details["state_from"] == "executor"


@pytest.mark.parametrize(
    ("confirm", "source", "asks"),
    [
        ("ambiguous", "voice", True),  # the recogniser's best match is a guess at the words
        ("ambiguous", "topic", False),
        ("never", "voice", False),
    ],
)
def test_a_spoken_command_waits_for_a_yes_when_guesses_are_confirmed(
    tmp_path: Path, confirm: str, source: str, asks: bool
) -> None:
    h = Harness(tmp_path, confirm=confirm)
    said = "put all the block to the left region"
    h.lc.command_text(json.dumps({"id": "v", "text": said, "source": source}))
    h.lc.step()
    waiting = h.of("v", "awaiting_approval")
    assert bool(waiting) is asks and (h.plans == []) is asks
    if asks:
        assert waiting[0].details["guesses"] == [
            f"the words are what the recogniser heard: {said!r}"
        ]
    h.lc.close()
