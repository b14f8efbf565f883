"""The command language comes from the domain: a world with other verbs, robot nouns and
no towers is understood in its own words, and the tabletop's words mean nothing there.
Nothing in the grammar module changes for it."""

from __future__ import annotations

import pytest

from robot_planner.planning.jsgf import jsgf_grammar
from robot_planner.planning.language import understand_command
from robot_planner.planning.lexicon import (
    Lexicon,
    UnderstandingError,
    third_person,
)
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.world.loading import ConfigError
from robot_planner.world.scene import load_scene

DOMAIN = """
name: depot
types:
  crate: {nouns: [crate, case]}
  place: {}
  shelf: {parent: place, nouns: [shelf, rack]}
robot_kinds:
  forklift:
    nouns: [forklift, truck]
    skills: [lift, lower]
    initial: ["forks_free(?robot)"]
predicates:
  stored: {args: [crate, shelf], question: "Is {0} on {1}?"}
  carrying: {args: [robot, crate], question: "Does {0} carry {1}?"}
  forks_free: {args: [robot], observed: robot, question: "Are {0}'s forks free?"}
locations:
  put:
    shelf: ["stored(?object,?target)"]
  holder: carrying
invariants:
  - at_most_one: ["stored(?x,*)", "carrying(*,?x)"]
    why: a crate is in one place
language:
  put_verbs: [store, shelve, deliver, carry]
  fillers: [tidy up]
  example: store the red crate on the high shelf
skills:
  lift:
    description: Lift a crate off a shelf.
    duration_s: 5
    timeout_s: 30
    args: {crate: {type: crate}}
    reach: [crate]
    preconditions: [{fact: "forks_free(?robot)"}]
    effects:
      - del: ["stored(?crate,*)", "forks_free(?robot)"]
        add: ["carrying(?robot,?crate)"]
  lower:
    description: Set the carried crate down on a shelf.
    duration_s: 5
    timeout_s: 30
    args: {crate: {type: crate}, shelf: {type: shelf}}
    reach: [shelf]
    preconditions: [{fact: "carrying(?robot,?crate)"}]
    effects:
      - del: ["carrying(?robot,?crate)"]
        add: ["stored(?crate,?shelf)", "forks_free(?robot)"]
"""

SCENE = """
name: depot
domain: depot/domain.yaml
robots:
  east_forklift: {kind: forklift, model: none, base_position: [0, 0, 0],
                  reach: [low_shelf, high_shelf, dock_shelf]}
objects:
  red_crate: {type: crate, color: red, start: low_shelf}
  blue_crate: {type: crate, color: blue, start: low_shelf}
places:
  low_shelf: {type: shelf, center: [0, 0]}
  high_shelf: {type: shelf, center: [1, 0]}
  dock_shelf: {type: shelf, center: [2, 0], aliases: [pick up point]}
"""


@pytest.fixture(scope="module")
def depot(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("depot")
    (folder / "depot").mkdir()
    (folder / "depot" / "domain.yaml").write_text(DOMAIN)
    (folder / "scene.yaml").write_text(SCENE)
    return load_scene(folder / "scene.yaml")


def goal(command: str, scene) -> list[str]:
    return [str(f) for f in understand_command(command, scene).goal]


def test_the_domains_verbs_and_their_third_person_are_understood(depot):
    assert goal("store the red crate on the high shelf", depot) == ["stored(red_crate,high_shelf)"]
    assert goal("tidy up: the east truck delivers the blue case to the high rack", depot) == [
        "stored(blue_crate,high_shelf)"
    ]
    assert goal("shelve all crates on the high shelf", depot) == [
        "stored(red_crate,high_shelf)",
        "stored(blue_crate,high_shelf)",
    ]


def test_robot_nouns_come_from_the_robot_kind(depot):
    meaning = understand_command(
        "with the east forklift, store the red crate on the high shelf", depot
    )
    assert [i.robot for i in meaning.items] == ["east_forklift"]
    # "arm" is a tabletop word: here it names no robot, so the sentence is refused.
    with pytest.raises(UnderstandingError):
        understand_command("the east arm stores the red crate on the high shelf", depot)


def test_the_tabletops_words_mean_nothing_here(depot):
    with pytest.raises(UnderstandingError, match=r"unknown action 'put'.*known: store, shelve"):
        understand_command("put the red crate on the high shelf", depot)
    with pytest.raises(UnderstandingError, match="unknown action 'build'"):
        understand_command("build a tower of red and blue", depot)


def test_an_alias_with_grammar_words_in_it_is_one_name(depot):
    # "up" ends a phrase in the grammar; the alias is joined before parsing.
    assert goal("carry the red crate to the pick up point", depot) == [
        "stored(red_crate,dock_shelf)"
    ]


def test_messages_use_the_domains_nouns_and_example(depot):
    with pytest.raises(UnderstandingError, match="does not refer to any crate yet"):
        understand_command("store it on the high shelf", depot)
    with pytest.raises(UnderstandingError, match=r"e\.g\. 'store the red crate on the high"):
        understand_command("   ", depot)


def test_the_planner_plans_in_the_domains_words(depot):
    planner = OfflinePlanner(depot.domain.catalogue, depot)
    plan = planner.plan_text("deliver the red crate to the dock shelf")
    assert [(t.skill, t.robot, t.args) for t in plan.tasks] == [
        ("lift", "east_forklift", {"crate": "red_crate"}),
        ("lower", "east_forklift", {"crate": "red_crate", "shelf": "dock_shelf"}),
    ]


def test_the_voice_grammar_has_the_domains_words_and_no_towers(depot):
    text = jsgf_grammar(depot)
    assert "store" in text and "delivers" in text and "forklift" in text
    assert "tower" not in text and "<tower_verb>" not in text
    assert "put" not in text.split("<verb> =")[1].split(";")[0].split(" | ")


def test_lexicons_differ_by_domain(depot):
    tabletop = load_scene("tabletop")
    assert Lexicon.of(depot.domain) != Lexicon.of(tabletop.domain)
    assert "puts" in Lexicon.of(tabletop.domain).verbs
    assert "arm" in Lexicon.of(tabletop.domain).robot_nouns


@pytest.mark.parametrize(
    ("verb", "expected"),
    [
        ("put", "puts"),
        ("carry", "carries"),
        ("toss", "tosses"),
        ("pick up", "picks up"),
        ("go", "goes"),
        ("lay", "lays"),
    ],
)
def test_third_person(verb: str, expected: str):
    assert third_person(verb) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("  fillers: [tidy up]", "  fillers: [Tidy Up!]"), "is not lower-case words"),
        (
            ("  fillers: [tidy up]", "  tower: {verbs: [build], nouns: [tower]}"),
            "language.tower needs locations.support",
        ),
        (
            ("  put_verbs: [store, shelve, deliver, carry]", "  put_verbs: []"),
            "put_verbs is empty",
        ),
    ],
)
def test_bad_language_sections_are_one_line(tmp_path, change, message):
    (tmp_path / "depot").mkdir()
    (tmp_path / "depot" / "domain.yaml").write_text(DOMAIN.replace(*change))
    (tmp_path / "scene.yaml").write_text(SCENE)
    with pytest.raises(ConfigError, match=message) as info:
        load_scene(tmp_path / "scene.yaml")
    assert "\n" not in str(info.value)


def test_both_names_two_robots_or_is_refused(tmp_path):
    """'both forklifts' where three are forklifts was all three: a count nobody said."""
    (tmp_path / "depot").mkdir()
    (tmp_path / "depot" / "domain.yaml").write_text(DOMAIN)
    robot = (
        "  {name}: {{kind: forklift, model: none, base_position: [{x}, 0, 0],\n"
        "                  reach: [low_shelf, high_shelf, dock_shelf]}}\n"
    )
    east = robot.format(name="east_forklift", x=0)
    three = (
        east + robot.format(name="west_forklift", x=1) + robot.format(name="north_forklift", x=2)
    )
    (tmp_path / "scene.yaml").write_text(SCENE.replace(east, three))
    scene = load_scene(tmp_path / "scene.yaml")
    with pytest.raises(UnderstandingError) as caught:
        understand_command("both forklifts, store the red crate on the high shelf", scene)
    assert str(caught.value) == (
        "'both forklifts' names two, but the forklifts here are east forklift, west forklift, "
        "north forklift: name them, or say 'all forklifts'"
    )
