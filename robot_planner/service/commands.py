"""Incoming commands: parsing what arrives on `/robot_planner/command`, and the policy
for commands that arrive while another runs.

A command message is either plain text ("put the red block in the right bin") or a JSON
object ``{"id": "...", "text": "..."}`` so a sender (``robot-planner say``, the voice
node) can follow its own command's status events. Plain text gets an id here.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import unicodedata
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from robot_planner.untrusted import shown

MAX_COMMAND_CHARS = 500
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
Policy = Literal["queue", "preempt", "reject"]
POLICIES: tuple[str, ...] = ("queue", "preempt", "reject")
_counter = itertools.count(1)


class CommandError(ValueError):
    """A command message that cannot be accepted (one readable line)."""


@dataclass(frozen=True)
class Command:
    """An accepted command."""

    id: str
    text: str
    source: str = "topic"
    received: float = field(default_factory=time.time)


def new_command_id() -> str:
    """A short unique id (sortable within one process)."""
    return f"c{next(_counter):04d}-{uuid.uuid4().hex[:8]}"


def parse_command(data: str, source: str = "topic") -> Command:
    """A `Command` from a message's text; raise `CommandError` for anything unusable."""
    if not isinstance(data, str):
        raise CommandError("command must be text")
    raw = data.strip()
    if len(raw) > 4 * MAX_COMMAND_CHARS:
        raise CommandError(f"command message of {len(raw)} characters is too long")
    command_id = None
    if raw.startswith("{"):
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise CommandError(f"command looks like JSON but is not: {exc}") from None
        if not isinstance(payload, dict):
            raise CommandError("a JSON command must be an object with 'text'")
        unknown = sorted(set(payload) - {"id", "text", "source"})
        if unknown:
            names = ", ".join(shown(name, 30) for name in unknown)
            raise CommandError(f"unknown field(s) in JSON command: {shown(names, 120)}")
        text, command_id = payload.get("text"), payload.get("id")
        if not isinstance(text, str):
            raise CommandError("JSON command needs a 'text' string")
        if command_id is not None and (
            not isinstance(command_id, str) or not ID_PATTERN.fullmatch(command_id)
        ):
            raise CommandError("command 'id' must be 1-64 characters of [A-Za-z0-9_.:-]")
        if isinstance(payload.get("source"), str):
            source = payload["source"][:32]
        raw = text.strip()
    text = " ".join(raw.split())
    if not text:
        raise CommandError("empty command")
    if len(text) > MAX_COMMAND_CHARS:
        raise CommandError(f"command of {len(text)} characters is over {MAX_COMMAND_CHARS}")
    if any(unicodedata.category(ch) == "Cc" for ch in text):  # incl. DEL and C1 escapes
        raise CommandError("command contains control characters")
    if any(unicodedata.category(ch) == "Cs" for ch in text):  # e.g. JSON "\udcff"
        raise CommandError("command is not valid Unicode text (it has lone surrogates)")
    return Command(command_id or new_command_id(), text, source)


@dataclass(frozen=True)
class Decision:
    """What to do with a command that arrived: ``start`` it now, ``queue`` it (at
    `position`), ``preempt`` the running one then start it, or ``reject`` it (`reason`)."""

    action: Literal["start", "queue", "preempt", "reject"]
    position: int = 0
    reason: str = ""


class CommandQueue:
    """The active command and the bounded queue behind it, under one policy.

    Not thread-safe: the planner node calls it from one callback group.
    """

    def __init__(self, policy: str = "queue", max_queue: int = 10):
        if policy not in POLICIES:
            raise ValueError(
                f"on_new_command must be one of {', '.join(POLICIES)}, not {policy!r}"
            )
        if max_queue < 0:
            raise ValueError("queue size must be >= 0")
        self.policy = policy
        self.max_queue = max_queue
        self.active: Command | None = None
        self.waiting: deque[Command] = deque()

    def offer(self, command: Command) -> Decision:
        """Decide what happens to `command` and record it (active or waiting)."""
        if self.active is None:
            self.active = command
            return Decision("start")
        if self.policy == "reject":
            return Decision("reject", reason=f"busy with command {self.active.id}")
        if self.policy == "preempt":
            self.waiting.clear()
            self.active = command
            return Decision("preempt")
        if len(self.waiting) >= self.max_queue:
            return Decision("reject", reason=f"queue full ({self.max_queue} waiting)")
        self.waiting.append(command)
        return Decision("queue", position=len(self.waiting))

    def finish(self, command_id: str) -> Command | None:
        """The active command ended; return the next one (now active) or None."""
        if self.active is not None and self.active.id == command_id:
            self.active = self.waiting.popleft() if self.waiting else None
            return self.active
        return None

    def holds(self, command_id: str) -> bool:
        """Whether `command_id` is active or waiting (a second command with it is refused)."""
        if self.active is not None and self.active.id == command_id:
            return True
        return any(command.id == command_id for command in self.waiting)

    def remove_waiting(self, command_id: str) -> Command | None:
        """Take one waiting command out of the queue (cancelled before it started)."""
        for command in self.waiting:
            if command.id == command_id:
                self.waiting.remove(command)
                return command
        return None

    def drop_waiting(self) -> list[Command]:
        """Empty the queue (cancel): the commands that were waiting."""
        dropped = list(self.waiting)
        self.waiting.clear()
        return dropped
