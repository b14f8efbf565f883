"""What keeps one test run from seeing another's on the same host.

ROS domain ids: every test (or test system) gets a domain that no other test run on this
host holds at the same time, so two runs never see each other's topics. Command ids:
`unique_id` adds a random suffix, so a stray event can never pass for the test's own.

A domain is reserved by an exclusive `flock` on ``<tmp>/robot_planner-ros-domains/<id>.lock``;
the kernel drops the lock when its holder closes it or dies, so a crashed run leaves no
stale reservation. Reservations start at a random id, and a process prefers ids it has
not used yet (a participant from an earlier test can linger in DDS discovery for a
moment). No rclpy here: the id goes into ``rclpy.init(domain_id=...)`` or a child
process's ``ROS_DOMAIN_ID``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

#: The ids ROS recommends on every platform (their DDS ports stay below the ephemeral
#: range); 0, everyone's default, is left to real systems.
DOMAINS = range(1, 102)
LOCK_DIR = Path(tempfile.gettempdir()) / "robot_planner-ros-domains"

_used_here: set[int] = set()


class DomainReservation:
    """A reserved domain id; `release` (or process exit) gives it back."""

    def __init__(self, domain: int, fd: int):
        self.domain = domain
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __repr__(self) -> str:
        return f"DomainReservation({self.domain}, held={self._fd is not None})"


def _lock_dir() -> Path:
    if not LOCK_DIR.is_dir():
        LOCK_DIR.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):  # shared by every user's runs on the host
            LOCK_DIR.chmod(0o1777)
    return LOCK_DIR


def reserve_domain(rng: random.Random | None = None) -> DomainReservation:
    """Reserve a free ROS domain id (see the module docstring).

    Raises:
        RuntimeError: every id in `DOMAINS` is held by other runs.
    """
    directory = _lock_dir()
    candidates = list(DOMAINS)
    (rng or random.Random()).shuffle(candidates)
    own = os.environ.get("ROS_DOMAIN_ID", "")
    candidates.sort(key=lambda d: (str(d) == own, d in _used_here))  # stable: still shuffled
    for domain in candidates:
        path = directory / f"{domain}.lock"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError:  # another user's directory or file we may not create: skip it
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another run (or another test of this one)
            os.close(fd)
            continue
        _used_here.add(domain)
        return DomainReservation(domain, fd)
    raise RuntimeError(
        f"every ROS domain id {DOMAINS.start}-{DOMAINS.stop - 1} is reserved by other test "
        f"runs on this host (locks in {directory})"
    )


@contextlib.contextmanager
def reserved_domain() -> Iterator[int]:
    """A domain id held for the duration of the ``with`` block."""
    reservation = reserve_domain()
    try:
        yield reservation.domain
    finally:
        reservation.release()


def unique_id(label: str) -> str:
    """A command id no other test or run uses: `label` plus 8 random hex digits."""
    return f"{label}-{uuid.uuid4().hex[:8]}"
