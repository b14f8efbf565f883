"""The test-support helpers every ROS test relies on: the bounded wait, ROS domain
reservations (no two holders at once, given back on release) and unique command ids."""

from __future__ import annotations

import pytest

from robot_planner.service.commands import ID_PATTERN
from robot_planner.testing import isolation
from robot_planner.testing.waiting import wait_for


def test_wait_for_returns_what_the_condition_found():
    answers = iter([None, [], ["event"]])
    assert wait_for(lambda: next(answers), 10, "an event", interval=0) == ["event"]


def test_wait_for_names_what_never_came():
    with pytest.raises(AssertionError, match="timed out after 0 s waiting for the plan"):
        wait_for(lambda: False, 0, "the plan")


@pytest.fixture
def two_domains(monkeypatch, tmp_path):
    monkeypatch.setattr(isolation, "DOMAINS", range(7, 9))
    monkeypatch.setattr(isolation, "LOCK_DIR", tmp_path / "domains")


def test_a_reserved_domain_is_nobody_elses_until_released(two_domains):
    first, second = isolation.reserve_domain(), isolation.reserve_domain()
    assert {first.domain, second.domain} == {7, 8}
    # flock is per open file: a second reservation here is refused like another run's.
    with pytest.raises(RuntimeError, match="every ROS domain id 7-8 is reserved"):
        isolation.reserve_domain()
    second.release()
    again = isolation.reserve_domain()
    assert again.domain == second.domain
    first.release()
    again.release()


def test_reserved_domain_gives_the_id_back(two_domains):
    with isolation.reserved_domain() as a, isolation.reserved_domain() as b:
        assert a != b
    with isolation.reserved_domain() as c, isolation.reserved_domain() as d:
        assert {c, d} == {7, 8}


def test_unique_ids_are_valid_command_ids_and_differ():
    ids = {isolation.unique_id("burst199") for _ in range(100)}
    assert len(ids) == 100
    assert all(ID_PATTERN.fullmatch(i) and i.startswith("burst199-") for i in ids)
