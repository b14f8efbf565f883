"""The command journal: every accepted command and its outcome, appended to disk.

One JSON object per line, flushed on every write, so a crash loses at most the line
being written. ``{"id", "state", "time", ...}`` with state ``accepted`` (plus ``text`` and
``source``), ``rejected``, or a final state (``done``, ``failed``, ``cancelled``,
``error``, ``interrupted``). On start-up, commands that were accepted but never finished
(the process died) are marked ``interrupted``; they are never replayed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OUTCOMES = ("done", "failed", "cancelled", "error", "interrupted", "rejected")


class JournalError(RuntimeError):
    """The journal cannot be opened or written (one line)."""


def read_journal(path: Path) -> list[dict[str, Any]]:
    """All readable entries (a torn last line from a crash is skipped)."""
    entries = []
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and "id" in entry and "state" in entry:
                    entries.append(entry)
    except FileNotFoundError:
        return []
    return entries


def unfinished(entries: list[dict[str, Any]]) -> list[str]:
    """Ids accepted without an outcome, in acceptance order."""
    open_ids: dict[str, None] = {}
    for entry in entries:
        if entry["state"] == "accepted":
            open_ids[entry["id"]] = None
        elif entry["state"] in OUTCOMES:
            open_ids.pop(entry["id"], None)
    return list(open_ids)


class Journal:
    """Append-only JSON-lines journal (thread-safe)."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.interrupted = unfinished(read_journal(self.path))
            self._handle = self.path.open("a", encoding="utf-8")
            if self._handle.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
                self._handle.write("\n")  # end a line torn by a crash; keep the next whole
        except OSError as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc.strerror or exc}") from None
        self._lock = threading.Lock()
        for command_id in self.interrupted:
            self.write(command_id, "interrupted", reason="the node stopped before it finished")
        if self.interrupted:
            log.warning(
                "journal %s: %d command(s) were interrupted by a restart and are not replayed",
                self.path,
                len(self.interrupted),
            )

    def write(self, command_id: str, state: str, **fields: Any) -> None:
        entry = {"id": command_id, "state": state, "time": round(time.time(), 6), **fields}
        line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            try:
                self._handle.write(line)
                self._handle.flush()
            except (OSError, ValueError) as exc:
                log.error("cannot write journal %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
