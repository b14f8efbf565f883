"""Plans that wait for a person's approval before the robots move (`confirm`), ROS-free.

The planner node holds a command's plan here instead of sending it to the executor when
`needs_approval` says so, and only adapts: the `ApprovePlan` service, the ``yes``/``no``
words on the command topic and a timer call `Approvals.decide` and `Approvals.expire`.
A held plan leaves exactly once: approved (the node publishes it), rejected (the command
ends ``rejected`` with the reason), expired (rejected: no answer in time) or dropped
(cancelled, pre-empted). Re-plans during execution are not held: the robots are halted
and waiting, and the person approved the command's goal already.

The approval words are English structure, the same in every domain, and live only here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from robot_planner.service.commands import ID_PATTERN
from robot_planner.untrusted import quoted, shown

#: The planner node's `ApprovePlan` service.
APPROVE_PLAN = "/robot_planner/approve_plan"
ConfirmMode = Literal["never", "ambiguous", "always"]
CONFIRM_MODES: tuple[str, ...] = ("never", "ambiguous", "always")
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 1.0, 600.0
MAX_REASON_CHARS = 300
#: Whole utterances that answer a waiting plan (spoken or typed on the command topic).
APPROVE_WORDS: tuple[str, ...] = (
    "yes",
    "yes please",
    "yeah",
    "go ahead",
    "confirm",
    "confirmed",
    "approve",
    "approved",
    "do it",
    "ok go ahead",
    "okay go ahead",
)
REJECT_WORDS: tuple[str, ...] = (
    "no",
    "no thanks",
    "no thank you",
    "cancel",
    "cancel that",
    "stop",
    "reject",
    "don't",
    "do not",
)


class ApprovalError(ValueError):
    """An answer that cannot be taken (one readable line for the person who sent it)."""


def needs_approval(mode: str, backend: str, guesses: Iterable[str]) -> bool:
    """Whether a first plan must wait for approval under `mode`.

    `ambiguous` asks when the plan rests on a guess: a listed one (a pronoun with two
    candidates, a fuzzy word match, the words of a spoken command) or a plan by any
    backend but the offline one (a model's reading of the words is a guess). A default
    robot choice is no guess.
    """
    if mode == "always":
        return True
    if mode == "ambiguous":
        return backend != "offline" or any(True for _ in guesses)
    if mode == "never":
        return False
    raise ValueError(f"confirm must be one of {', '.join(CONFIRM_MODES)}, not {mode!r}")


def guesses_of(backend: str, guesses: Iterable[str]) -> list[str]:
    """The guesses to show the person: the backend's own; a model plan that lists none is
    named as one."""
    listed = [shown(str(g), 200) for g in guesses][:20]
    if backend != "offline" and not listed:
        listed.append(f"the plan is {shown(backend, 32)}'s reading of the command")
    return listed


def answer_of(text: str) -> bool | None:
    """True for an approval word, False for a rejection word, None for anything else.

    Only a whole utterance counts ("yes", "go ahead."), so "no blocks on the left" or
    "stop the left arm" are never answers. Case, spaces and end punctuation are ignored.
    """
    if not isinstance(text, str) or len(text) > 40:
        return None
    words = " ".join(re.sub(r"[.!?,]+", " ", text.lower().replace("\u2019", "'")).split())
    if words in APPROVE_WORDS:
        return True
    if words in REJECT_WORDS:
        return False
    return None


@dataclass(frozen=True)
class PendingApproval:
    """A plan held until a person answers (`deadline` on the `Approvals` clock)."""

    command_id: str
    revision: int
    plan: dict[str, Any]
    readback: str
    guesses: tuple[str, ...]
    asked: float
    deadline: float
    timeout_s: float


@dataclass(frozen=True)
class Decision:
    """How a held plan ended: approved, or rejected with a reason (`by`: who decided)."""

    pending: PendingApproval
    approved: bool
    reason: str
    by: str

    @property
    def command_id(self) -> str:
        return self.pending.command_id


@dataclass
class Approvals:
    """Held plans by command id: hold, decide, expire, drop. Not thread-safe (the node
    calls it under its lock); `clock` is injectable so tests need no sleeps."""

    timeout_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _held: dict[str, PendingApproval] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not MIN_TIMEOUT_S <= self.timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(
                f"confirm_timeout_s must be {MIN_TIMEOUT_S:g}..{MAX_TIMEOUT_S:g}, "
                f"not {self.timeout_s:g}"
            )

    def hold(
        self,
        command_id: str,
        revision: int,
        plan: dict[str, Any],
        readback: str = "",
        guesses: Iterable[str] = (),
    ) -> PendingApproval:
        """Hold `plan` until it is decided or its deadline passes."""
        if command_id in self._held:
            raise ValueError(f"command {command_id} already waits for approval")
        now = self.clock()
        pending = PendingApproval(
            command_id,
            revision,
            plan,
            readback,
            tuple(guesses),
            now,
            now + self.timeout_s,
            self.timeout_s,
        )
        self._held[command_id] = pending
        return pending

    def holds(self, command_id: str) -> bool:
        return command_id in self._held

    def pending(self) -> list[PendingApproval]:
        """The held plans, oldest first."""
        return sorted(self._held.values(), key=lambda p: p.asked)

    def decide(
        self,
        command_id: str,
        approve: bool,
        reason: str = "",
        *,
        revision: int | None = None,
        by: str = "request",
    ) -> Decision:
        """Answer one held plan; `command_id` "" means the only one held.

        Raises:
            ApprovalError: a malformed id, no such plan (never held, decided already,
                expired), "" with none or several held, or an answer about another
                revision. The plan stays held on every error but the first.
        """
        if not isinstance(command_id, str) or not isinstance(approve, bool):
            raise ApprovalError("command_id must be text and approve a boolean")
        command_id = command_id.strip()
        if not command_id:
            pending = self._only()
        elif not ID_PATTERN.fullmatch(command_id):
            raise ApprovalError(f"not a command id: {quoted(command_id, 70)}")
        else:
            found = self._held.get(command_id)
            if found is None:
                raise ApprovalError(f"command {command_id} is not waiting for approval")
            pending = found
        if revision is not None and revision != pending.revision:
            raise ApprovalError(
                f"command {pending.command_id} waits with plan revision {pending.revision}, "
                f"not {revision}"
            )
        del self._held[pending.command_id]
        said = " ".join(str(reason or "").split())
        said = quoted(said, MAX_REASON_CHARS) if said else ""
        if approve:
            return Decision(pending, True, said, by)
        return Decision(pending, False, said or f"rejected by {by}", by)

    def expire(self) -> list[Decision]:
        """Reject every held plan whose deadline has passed."""
        now = self.clock()
        ended = [p for p in self._held.values() if now >= p.deadline]
        for pending in ended:
            del self._held[pending.command_id]
        return [
            Decision(p, False, f"no approval within {p.timeout_s:g} s", "timeout") for p in ended
        ]

    def drop(self, command_id: str) -> PendingApproval | None:
        """Forget a held plan without a decision (cancelled, pre-empted, shutdown)."""
        return self._held.pop(command_id, None)

    def remaining_s(self, command_id: str) -> float | None:
        pending = self._held.get(command_id)
        return None if pending is None else max(0.0, pending.deadline - self.clock())

    def _only(self) -> PendingApproval:
        if not self._held:
            raise ApprovalError("no command is waiting for approval")
        if len(self._held) > 1:
            ids = ", ".join(p.command_id for p in self.pending()[:5])
            raise ApprovalError(
                f"{len(self._held)} commands wait for approval ({ids}): give the id"
            )
        return next(iter(self._held.values()))
