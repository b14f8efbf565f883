"""Shared fixtures: the packaged catalogue and scene, plan builders, a fake adapter."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer

from robot_planner.adapters.fake import FakeRobotAdapter
from robot_planner.testing.isolation import reserved_domain
from robot_planner.world.catalogue import Catalogue, load_catalogue
from robot_planner.world.scene import Scene, load_scene

#: DDS traffic of the ROS tests stays on this host (no multicast onto the network, no
#: cross-talk with other machines' runs); each test still takes its own ROS_DOMAIN_ID.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "examples" / "plans"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def scene() -> Scene:
    return load_scene("tabletop")


@pytest.fixture
def handover() -> dict[str, Any]:
    """The hand-over plan as mutable JSON data (left arm -> center zone -> right bin)."""
    return json.loads((PLANS / "handover.json").read_text())


@pytest.fixture
def fake(catalogue: Catalogue, scene: Scene) -> FakeRobotAdapter:
    return FakeRobotAdapter(catalogue, scene)


def task(task_id: str, skill: str, robot: str, deps: tuple[str, ...] = (), **args: Any) -> dict:
    """A task as JSON data."""
    return {
        "id": task_id,
        "skill": skill,
        "robot": robot,
        "args": args,
        "depends_on": list(deps),
        "constraints": [],
    }


def plan(*tasks: dict, goal: tuple[str, ...] = (), command: str = "test") -> dict:
    return {"command": command, "goal": list(goal), "tasks": [copy.deepcopy(t) for t in tasks]}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def clean_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real key, base URL or proxy from the developer's shell leaks into a test."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def ros_domain() -> Iterator[int]:
    """A ROS domain id that no other test, and no other test run on this host, uses while
    this test runs (a file lock; see robot_planner.testing.isolation)."""
    with reserved_domain() as domain:
        yield domain


@pytest.fixture(autouse=True)
def _collect_ros_garbage(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collect a ROS test's garbage before the next test starts. rclpy prints "The
    following exception was never retrieved" when a future that failed at shutdown is
    garbage collected, which otherwise lands in whichever later test the collector runs in
    (once in a CLI test's captured stderr that must be one error line)."""
    yield
    if request.node.get_closest_marker("ros") is not None or "ros_domain" in request.fixturenames:
        import gc

        gc.collect()
