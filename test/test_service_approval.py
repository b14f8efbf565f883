"""Plans held for approval (`confirm`), without ROS: decide, expire, drop, the words."""

from __future__ import annotations

import pytest

from robot_planner.service.approval import (
    APPROVE_WORDS,
    REJECT_WORDS,
    ApprovalError,
    Approvals,
    answer_of,
    guesses_of,
    needs_approval,
)
from robot_planner.service.events import STATES, make_event
from robot_planner.service.journal import Journal, read_journal, unfinished

PLAN = {"command": "put the green block on the blue block", "goal": [], "tasks": []}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def approvals(clock: Clock) -> Approvals:
    return Approvals(timeout_s=30.0, clock=clock)


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(ApprovalError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_approve_returns_the_held_plan_once(approvals):
    held = approvals.hold("c1", 0, PLAN, "left arm: green block → blue block", ["it: two"])
    assert approvals.holds("c1") and held.deadline == 130.0 and held.guesses == ("it: two",)
    decision = approvals.decide("c1", True, "looks right", revision=0, by="cli")
    assert decision.approved and decision.pending.plan is PLAN
    assert (decision.command_id, decision.reason, decision.by) == ("c1", "looks right", "cli")
    assert not approvals.holds("c1") and approvals.pending() == []
    # A second answer (approve or reject) finds nothing: a plan leaves once.
    assert "not waiting for approval" in _error(approvals.decide, "c1", True)
    assert "not waiting for approval" in _error(approvals.decide, "c1", False)


def test_reject_carries_the_reason_or_says_who(approvals):
    approvals.hold("c1", 0, PLAN)
    approvals.hold("c2", 0, PLAN)
    said = approvals.decide("c1", False, "  wrong\nbin  ", by="cli")
    assert not said.approved and said.reason == "wrong bin"
    silent = approvals.decide("c2", False, by="voice")
    assert silent.reason == "rejected by voice"


def test_no_answer_in_time_rejects_only_the_late_ones(approvals, clock):
    approvals.hold("c1", 0, PLAN)
    clock.now += 20
    approvals.hold("c2", 0, PLAN)
    clock.now += 9.9
    assert approvals.expire() == [] and approvals.remaining_s("c1") == pytest.approx(0.1)
    clock.now += 0.1
    [late] = approvals.expire()
    assert (late.command_id, late.approved, late.by) == ("c1", False, "timeout")
    assert late.reason == "no approval within 30 s"
    assert approvals.holds("c2") and not approvals.holds("c1")
    assert "not waiting" in _error(approvals.decide, "c1", True)  # too late to approve
    assert approvals.expire() == []


def test_unknown_malformed_and_stale_answers_are_refused_and_keep_the_plan(approvals):
    approvals.hold("c1", 0, PLAN)
    assert "command nope is not waiting" in _error(approvals.decide, "nope", True)
    assert "not a command id" in _error(approvals.decide, "bad id\x1b[2J", True)
    assert "\x1b" not in _error(approvals.decide, "bad id\x1b[2J", True)
    assert "revision 0, not 3" in _error(approvals.decide, "c1", True, revision=3)
    assert "approve a boolean" in _error(approvals.decide, "c1", "yes")
    assert approvals.holds("c1")
    assert approvals.decide("c1", True).approved


def test_no_id_means_the_only_one_waiting(approvals):
    assert _error(approvals.decide, "", True) == "no command is waiting for approval"
    approvals.hold("c1", 0, PLAN)
    approvals.hold("c2", 0, PLAN)
    assert "2 commands wait for approval (c1, c2)" in _error(approvals.decide, " ", True)
    approvals.drop("c1")
    assert approvals.decide("", True).command_id == "c2"


def test_drop_forgets_without_a_decision(approvals):
    approvals.hold("c1", 0, PLAN)
    assert approvals.drop("c1").command_id == "c1"
    assert approvals.drop("c1") is None and approvals.expire() == []
    approvals.hold("c2", 0, PLAN)
    with pytest.raises(ValueError, match="already waits"):
        approvals.hold("c2", 0, PLAN)


@pytest.mark.parametrize("timeout", [0.0, 0.5, 601.0, -1.0])
def test_timeout_out_of_range_is_refused(timeout):
    with pytest.raises(ValueError, match=r"1\.\.600"):
        Approvals(timeout_s=timeout)


@pytest.mark.parametrize(
    ("mode", "backend", "guesses", "asks"),
    [
        ("never", "openai", ["it: red or green"], False),
        ("always", "offline", [], True),
        ("ambiguous", "offline", [], False),  # a default robot choice is no guess
        ("ambiguous", "offline", ["'it' could be the red or the green block"], True),
        ("ambiguous", "openai", [], True),  # an LLM plan is a guess
        ("ambiguous", "transformers", [], True),
    ],
)
def test_which_plans_wait(mode, backend, guesses, asks):
    assert needs_approval(mode, backend, guesses) is asks


def test_an_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="never, ambiguous, always"):
        needs_approval("sometimes", "offline", [])


def test_guesses_shown_name_a_model_plan():
    assert guesses_of("offline", ["a\nb"]) == ["a b"]
    assert guesses_of("openai", []) == ["the plan is openai's reading of the command"]
    assert guesses_of("openai", ["the model read the goal"]) == ["the model read the goal"]


@pytest.mark.parametrize("text", ["yes", "Yes please", "go ahead.", "CONFIRM!", "  yes  "])
def test_approval_words(text):
    assert answer_of(text) is True


@pytest.mark.parametrize("text", ["no", "Cancel", "stop.", "don't", "don\u2019t"])
def test_rejection_words(text):
    assert answer_of(text) is False


@pytest.mark.parametrize(
    "text",
    ["stop the left arm", "no blocks on the left", "yes put the red block in the bin", "", "y"],
)
def test_other_text_is_no_answer(text):
    assert answer_of(text) is None


def test_the_words_are_distinct_and_domain_free():
    assert not set(APPROVE_WORDS) & set(REJECT_WORDS)
    for word in (*APPROVE_WORDS, *REJECT_WORDS):
        assert answer_of(word) is not None
        assert not {"block", "bin", "arm", "red"} & set(word.split())


def test_the_status_states_know_approval():
    assert {"awaiting_approval", "approved"} <= set(STATES)
    event = make_event("c1", "awaiting_approval", "planner", {"readback": "x", "guesses": []})
    assert not event.final


def test_a_rejected_approval_is_an_outcome_in_the_journal(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.write("c1", "accepted", text="x")
    journal.write("c1", "rejected", reason="no approval within 30 s")
    journal.close()
    assert unfinished(read_journal(tmp_path / "j.jsonl")) == []
