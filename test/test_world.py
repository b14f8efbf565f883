"""Scenes and the skill catalogue: loading, one-line errors, and symbolic semantics."""

from pathlib import Path

import pytest

from robot_planner.world.catalogue import load_catalogue
from robot_planner.world.facts import Fact, parse_facts
from robot_planner.world.loading import ConfigError
from robot_planner.world.scene import load_scene


def test_tabletop_scene_matches_the_brief(scene):
    assert set(scene.robots) == {"left_arm", "right_arm"}
    assert all(r.model == "franka_panda" for r in scene.robots.values())
    assert {b: s.start for b, s in scene.objects.items()} == {
        "red_block": "left_side",
        "green_block": "left_side",
        "blue_block": "right_side",
        "yellow_block": "right_side",
    }
    assert scene.reaches("left_arm", "left_bin") and not scene.reaches("left_arm", "right_bin")
    assert scene.reaches("right_arm", "right_bin") and not scene.reaches("right_arm", "left_side")
    assert scene.reaches("left_arm", "center_zone") and scene.reaches("right_arm", "center_zone")


def test_initial_facts(scene):
    facts = scene.initial_facts()
    for fact in [
        "at(red_block,left_side)",
        "on_table(blue_block)",
        "clear(yellow_block)",
        "gripper_empty(left_arm)",
        "gripper_empty(right_arm)",
    ]:
        assert Fact.parse(fact) in facts
    assert scene.location_of("red_block", facts) == "left_side"


def test_location_follows_stacks_and_grippers(scene):
    facts = parse_facts(["in(a,left_bin)", "on(b,a)", "on(c,b)", "holding(left_arm,d)"])
    assert scene.location_of("c", facts) == "left_bin"
    assert scene.location_of("d", facts) == "left_arm"
    assert scene.location_of("e", facts) is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scene.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: [unclosed", "line 1"),
        ("- just\n- a list\n", "expected a mapping"),
        ("name: s\nrobots: {}\nobjects: {}\n", "at least one robot"),
        (
            "name: s\nrobots:\n  a: {kind: arm, model: m, base_position: [0,0,0], "
            "reach: [nowhere]}\nobjects: {}\n",
            "which is not a place",
        ),
        (
            "name: s\nrobots:\n  a: {kind: arm, model: m, base_position: [0,0,0], reach: []}\n"
            "objects:\n  b: {type: block, color: red, start: b}\n",
            "cannot start on itself",
        ),
        (
            "name: s\nrobots:\n  Bad-Name: {kind: arm, model: m, base_position: [0,0,0], "
            "reach: []}\nobjects: {}\n",
            "lower_snake_case",
        ),
        (
            "name: s\nrobots:\n  a: {kind: arm, model: m, base_position: [0,0,0], reach: [], "
            "extra: 1}\nobjects: {}\n",
            "Extra inputs",
        ),
        (
            "name: s\nrobots:\n  a: {kind: crane, model: m, base_position: [0,0,0], reach: []}\n"
            "objects: {}\n",
            "unknown kind 'crane' in domain tabletop (known: arm)",
        ),
        (
            "name: s\nrobots:\n  a: {kind: arm, model: m, base_position: [0,0,0], reach: []}\n"
            "objects:\n  b: {type: parcel, start: p}\nplaces:\n  p: {type: zone, center: [0,0]}\n",
            "b: unknown type 'parcel' in domain tabletop",
        ),
        (
            "name: s\ndomain: moonbase\nrobots: {}\nobjects: {}\n",
            "unknown domain 'moonbase' (known: logistics, tabletop)",
        ),
    ],
)
def test_bad_scene_files_give_one_line(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as info:
        load_scene(_write(tmp_path, text))
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_unknown_scene_name_lists_known_ones():
    with pytest.raises(FileNotFoundError, match="known: logistics, tabletop"):
        load_scene("moonbase")


def test_catalogue_rejects_templates_naming_unknown_arguments(tmp_path):
    domain = (Path(__file__).parent.parent / "config/domains/tabletop/domain.yaml").read_text()
    path = tmp_path / "domain.yaml"
    path.write_text(domain.replace('- fact: "clear(?object)"', '- fact: "clear(?thing)"'))
    with pytest.raises(ConfigError, match=r"unknown argument \?thing"):
        load_catalogue(path)


def test_catalogue_effects_pick_then_place_on_block(catalogue, scene):
    facts = scene.initial_facts()
    facts = catalogue.apply("pick", "left_arm", {"object": "red_block"}, scene, facts)
    assert Fact.parse("holding(left_arm,red_block)") in facts
    assert Fact.parse("at(red_block,left_side)") not in facts
    assert Fact.parse("gripper_empty(left_arm)") not in facts
    facts = catalogue.apply(
        "place", "left_arm", {"object": "red_block", "target": "green_block"}, scene, facts
    )
    assert Fact.parse("on(red_block,green_block)") in facts
    assert Fact.parse("clear(green_block)") not in facts
    assert Fact.parse("at(red_block,left_side)") in facts  # derived through the tower
    assert Fact.parse("gripper_empty(left_arm)") in facts


def test_catalogue_preconditions_and_reach(catalogue, scene):
    facts = scene.initial_facts()
    unmet = catalogue.unmet_preconditions(
        "place", "left_arm", {"object": "red_block", "target": "left_bin"}, scene, facts
    )
    assert unmet == [Fact.parse("holding(left_arm,red_block)")]
    errors = catalogue.reach_errors("pick", "right_arm", {"object": "green_block"}, scene, facts)
    assert errors and "right_arm cannot reach left_side" in errors[0]
