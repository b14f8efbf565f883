"""The VQA backend interface used by the monitor.

A backend answers one yes/no question about one observation. The fact the question
stands for is passed too, so backends that reason geometrically (or the simulator's
oracle) can decide the fact directly, while vision-language models get the question.
Questions are phrased so that "yes" means the fact holds.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation


@dataclass(frozen=True)
class VqaAnswer:
    """An answer: yes (True), no (False) or cannot tell (None), with a confidence in
    [0, 1] and a short evidence string for logs and misalignment events."""

    answer: bool | None
    confidence: float
    evidence: str = ""


class VqaError(RuntimeError):
    """The backend could not answer (model unreachable, timeout, bad reply)."""


@runtime_checkable
class VqaBackend(Protocol):
    """Answers questions about observations."""

    name: str

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        """Answer `question` (which stands for `fact`) about `observation`."""
        ...


_YES = frozenset({"yes", "y", "true", "1", "yeah", "yep", "correct"})
_NO = frozenset({"no", "n", "false", "0", "nope", "incorrect"})


def parse_yes_no(text: object) -> bool | None:
    """Yes/no from a model's free-text answer (its first word), None when it says
    neither: an unclear answer must never count as evidence either way."""
    if isinstance(text, bool):
        return text
    if not isinstance(text, str):
        return None
    words = text.strip().lower().replace(",", " ").replace(".", " ").split()
    if not words:
        return None
    first = words[0].strip("\"'*:!")
    if first in _YES:
        return True
    if first in _NO:
        return False
    return None


class TimeLimitedVqa:
    """Wraps a backend so no question holds up the caller for more than `timeout_s`.

    The answer is computed in a worker thread; a question not answered in time is a
    `VqaError` (the monitor counts it and the run goes on, or fails safe, per its
    policy). While a timed-out call is still stuck, later questions fail at once rather
    than queue behind it: a hung model must not stall the robots' loop again and again.
    """

    def __init__(self, inner: VqaBackend, timeout_s: float):
        if not timeout_s > 0:
            raise ValueError(f"VQA timeout must be positive, not {timeout_s!r}")
        self.inner = inner
        self.name = inner.name
        self.timeout_s = float(timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"vqa-{inner.name}")
        self._stuck: Future[VqaAnswer] | None = None

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        if self._stuck is not None:
            if not self._stuck.done():
                raise VqaError(f"{self.name} VQA is still busy with a question that timed out")
            self._stuck = None
        future = self._pool.submit(self.inner.answer, observation, question, fact)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            self._stuck = future
            raise VqaError(f"{self.name} VQA did not answer within {self.timeout_s:g} s") from None

    def __getattr__(self, name: str) -> object:
        # estimate_facts, summary, ... of the wrapped backend stay reachable.
        return getattr(self.inner, name)
