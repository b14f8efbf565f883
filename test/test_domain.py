"""Domain files: the tabletop loads; a bad file is one clear line (CLI: exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robot_planner.cli import main
from robot_planner.world.domain import load_domain
from robot_planner.world.loading import ConfigError

TABLETOP = Path(__file__).resolve().parent.parent / "config" / "domains" / "tabletop"


def test_tabletop_domain_declares_its_world():
    domain = load_domain("tabletop")
    assert domain.is_a("bin", "place") and domain.is_a("zone", "place")
    assert not domain.is_a("block", "place")
    assert set(domain.robot_kinds["arm"].skills) == set(domain.skills)
    assert domain.predicates["clear"].observed == "derived"
    assert domain.put_fact("a", "b", "bin").predicate == "in"
    assert domain.catalogue.skill_for_alias("grasp") == "pick"
    assert domain.catalogue.clear_view_skill == "move_home"


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (TABLETOP / "domain.yaml").read_text()
    assert old in text, old
    path = tmp_path / "domain.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


BROKEN = [
    (
        "object: {type: block, description: the block to pick up}",
        "object: {type: blok, description: the block to pick up}",
        "skill pick argument object: unknown type 'blok'",
    ),
    (
        'add: ["holding(?robot,?object)"]',
        'add: ["grasped(?robot,?object)"]',
        "'grasped(?robot,?object)' names undeclared predicate 'grasped'",
    ),
    (
        "skills: [pick, place, move_home, open_gripper, close_gripper, wait]",
        "skills: [pick, place, move_home, open_gripper, close_gripper]",
        "skill wait is offered by no robot kind",
    ),
    (
        "skills: [pick, place, move_home, open_gripper, close_gripper, wait]",
        "skills: [pick, place, move_home, open_gripper, close_gripper, wait, fly]",
        "robot kind arm offers unknown skill 'fly'",
    ),
    ('  "on":\n', "  on:\n", "YAML reads unquoted on/off/yes/no as true/false"),
    ("    parent: place\n", "    parent: spot\n", "type bin: unknown parent type 'spot'"),
    ("args: [block, bin]", "args: [block, crate]", "predicate in: unknown type 'crate'"),
    ('- fact: "clear(?object)"', '- fact: "clear(?object,?robot)"', "clear takes 1 argument"),
    ("aliases: [sleep, pause]", "aliases: [sleep, grasp]", "alias 'grasp' already names pick"),
    ('acyclic: "on"', "acyclic: under", "undeclared predicate 'under'"),
    ("\n  move_home:\n", "\n  wait:\n", "duplicate key 'wait'"),
]


@pytest.mark.parametrize(("old", "new", "fragment"), BROKEN, ids=[b[2][:40] for b in BROKEN])
def test_a_broken_domain_is_one_line(tmp_path, old, new, fragment):
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as info:
        load_domain(path)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("old", "new", "fragment"), BROKEN[:3], ids=["type", "predicate", "kind"])
def test_cli_says_it_in_one_line_and_exits_2(tmp_path, capsys, old, new, fragment):
    path = _broken(tmp_path, old, new)
    assert main(["domain", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    # The same domain under a scene: the scene cannot load either.
    assert main(["plan", "--domain", str(path), "--command", "put red in the left bin"]) == 2
    assert fragment in capsys.readouterr().err


def test_domain_command_describes_the_domain_and_what_the_camera_cannot_see(tmp_path, capsys):
    assert main(["domain"]) == 0
    out = capsys.readouterr().out
    assert "skill place(object: block, target: block / bin / zone) by arm" in out
    assert "fact clear(block): derived" in out
    scene = (TABLETOP.parent.parent.parent / "sim" / "scenes" / "tabletop.yaml").read_text()
    orange = "  orange_block: {type: block, color: orange, rgba: [0.95, 0.45, 0.1, 1.0], "
    orange += "start: left_side}\n"
    path = tmp_path / "orange.yaml"
    path.write_text(scene.replace("\nplaces:\n", "\n" + orange + "places:\n", 1))
    assert main(["domain", "--scene", str(path)]) == 0
    out = capsys.readouterr().out
    assert "cannot observe orange_block (cannot be told from red_block by colour)" in out
    assert main(["domain", "--scene", "tabletop"]) == 0
    assert "can observe every object and place" in capsys.readouterr().out


def test_pddl_export_writes_a_domain_and_problem_planners_can_read(tmp_path, capsys):
    from unified_planning.io import PDDLReader

    out = tmp_path / "pddl"
    args = ["pddl", "--scene", "tabletop", "--command", "stack red on blue", "--out", str(out)]
    assert main(args) == 0
    problem = PDDLReader().parse_problem(str(out / "domain.pddl"), str(out / "problem.pddl"))
    assert {a.name for a in problem.actions} >= {"pick", "place__block", "place__bin"}
    assert "(on red_block blue_block)" in (out / "problem.pddl").read_text()
    capsys.readouterr()
    assert main(["pddl", "--goal", "on(red_block,left_bin)"]) == 2
    assert "left_bin is a bin, not a block" in capsys.readouterr().err


def test_an_unsolvable_goal_is_one_line_and_exit_2(tmp_path, capsys):
    scene = (TABLETOP.parent.parent.parent / "sim" / "scenes" / "tabletop.yaml").read_text()
    old = "reach: [right_side, center_zone, right_bin]"
    assert old in scene
    path = tmp_path / "no_right_bin.yaml"
    path.write_text(scene.replace(old, "reach: [right_side, center_zone]"))
    assert main(["plan", "--scene", str(path), "--command", "put red in the right bin"]) == 2
    err = capsys.readouterr().err
    assert "no plan reaches in(red_block,right_bin) from the current state" in err
    assert err.count("\n") == 1 and "Traceback" not in err


LOGISTICS = TABLETOP.parent / "logistics"


def test_a_kind_under_a_parent_kind_is_one_and_offers_its_skills_too():
    """The fetcher is a base with an arm: a carrier and a parker for typing, offering the
    base's skills besides its own; called only by its own nouns."""
    domain = load_domain("logistics")
    assert domain.ancestors("fetcher") == ("fetcher", "base", "robot")
    assert domain.is_a("fetcher", "base") and not domain.is_a("base", "fetcher")
    assert domain.skills_of("fetcher") == ("fetch", "navigate", "wait")
    assert domain.kind_offers("fetcher", "navigate") and not domain.kind_offers("base", "fetch")
    assert "robot" not in domain.robot_nouns("fetcher")


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ("    parent: bass\n", "robot kind fetcher: unknown parent robot kind 'bass'"),
        ("    parent: fetcher\n", "robot kind fetcher: its parents form a loop"),
    ],
)
def test_a_bad_parent_kind_is_one_line(tmp_path, new, fragment):
    text = (LOGISTICS / "domain.yaml").read_text()
    assert "    parent: base\n" in text
    path = tmp_path / "domain.yaml"
    path.write_text(text.replace("    parent: base\n", new, 1))
    with pytest.raises(ConfigError) as info:
        load_domain(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)
