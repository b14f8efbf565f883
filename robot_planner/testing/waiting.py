"""One bounded wait for tests and benches: poll a condition until it holds or a deadline
passes. A test waits for the state it needs, never for a sleep to be long enough."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float, what: str, *, interval: float = 0.02
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    Args:
        predicate: the condition; called from the waiting thread.
        timeout: seconds to wait at most (a generous bound, not an expectation).
        what: what is waited for, for the failure message.
        interval: seconds between polls.

    Raises:
        AssertionError: `predicate` was still falsy after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
