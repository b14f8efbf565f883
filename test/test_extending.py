"""Extending robot_planner with nothing but data: a toy skill in a temporary domain is
understood, planned, validated and run on the fake adapter, with no change to any file
of the package (docs/extending.md walks through the same steps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robot_planner.adapters.fake import FakeRobotAdapter
from robot_planner.execution.executor import Outcome, PlanExecutor
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.world.facts import Fact
from robot_planner.world.scene import load_scene

ROOT = Path(__file__).resolve().parent.parent

#: The new skill, as a user would add it to their copy of the domain: slide a block
#: along the table into a zone, without lifting it (quicker than pick + place).
PUSH = """
  push:
    description: Slide a block standing on the table into a zone without lifting it.
    timeout_s: 30
    duration_s: 2.0
    args:
      object: {type: block, description: the block to slide}
      zone: {type: zone, description: where it ends up}
    reach: [object, zone]
    preconditions:
      - fact: "gripper_empty(?robot)"
      - fact: "clear(?object)"
      - fact: "on_table(?object)"
    effects:
      - del: ["at(?object,*)"]
        add: ["at(?object,?zone)"]
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory):
    """A temporary domain (the tabletop's plus `push`) and a scene that names it by a
    relative path; nothing under the package changes."""
    folder = tmp_path_factory.mktemp("toy")
    domain = (ROOT / "config" / "domains" / "tabletop" / "domain.yaml").read_text()
    domain = domain.replace(
        "skills: [pick, place, move_home, open_gripper, close_gripper, wait]",
        "skills: [pick, place, move_home, open_gripper, close_gripper, wait, push]",
    )
    (folder / "domains" / "toy").mkdir(parents=True)
    (folder / "domains" / "toy" / "domain.yaml").write_text(domain + PUSH)
    scene = (ROOT / "sim" / "scenes" / "tabletop.yaml").read_text()
    scene = scene.replace("domain: tabletop", "domain: domains/toy/domain.yaml")
    (folder / "toy_scene.yaml").write_text(scene.replace("name: tabletop", "name: toy"))
    return load_scene(folder / "toy_scene.yaml")


def test_the_toy_domain_loads_with_its_skill(toy):
    assert toy.domain.source.endswith("domains/toy/domain.yaml")
    assert "push" in toy.domain.catalogue.skills
    assert toy.domain.kind_offers("arm", "push")


def test_the_toy_skill_is_planned_and_runs_on_the_fake_adapter(toy):
    catalogue = toy.domain.catalogue
    planner = OfflinePlanner(catalogue, toy)
    plan = planner.plan_text("move the red block to the center zone")
    # One push (2 s) beats pick + place (7.1 s): the planner found it from the domain.
    assert [(t.skill, t.args) for t in plan.tasks] == [
        ("push", {"object": "red_block", "zone": "center_zone"})
    ]
    # The monitor's constraints come from push's own preconditions and effect.
    checks = {(c.phase, c.fact) for c in plan.tasks[0].constraints}
    assert ("after", "at(red_block,center_zone)") in checks
    assert ("during", "on_table(red_block)") in checks
    adapter = FakeRobotAdapter(catalogue, toy)
    result = PlanExecutor(plan, catalogue, adapter).run(max_sim_time_s=60)
    assert result.outcome is Outcome.SUCCEEDED
    assert Fact.parse("at(red_block,center_zone)") in adapter.read_state()
    assert [c.skill for c in adapter.calls] == ["push"]


def test_the_packaged_tabletop_is_untouched(scene):
    assert "push" not in scene.domain.catalogue.skills
