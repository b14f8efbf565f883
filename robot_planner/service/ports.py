"""The ports the ROS-free services publish and log through (the nodes plug in their
publishers and loggers; tests plug in lists)."""

from __future__ import annotations

from typing import Any, Protocol


class LogPort(Protocol):
    """Where a service logs: a `logging.Logger`, or a node's logger so the lines keep the
    node's name. Messages are complete strings (no %-arguments)."""

    def debug(self, message: str) -> Any: ...

    def info(self, message: str) -> Any: ...

    def warning(self, message: str) -> Any: ...

    def error(self, message: str) -> Any: ...


class StatusPort(Protocol):
    """Publishes one status event (`robot_planner.nodes.common.StatusPublisher`)."""

    def __call__(self, command_id: str, state: str, **details: Any) -> Any: ...
