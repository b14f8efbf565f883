"""Facts and the domain's vocabulary: parsing, printing, derived facts, contradictions."""

import pytest

from robot_planner.world.domain import load_domain
from robot_planner.world.facts import Fact, FactError, format_facts, parse_facts
from robot_planner.world.scene import load_scene


@pytest.fixture(scope="module")
def domain():
    return load_domain("tabletop")


def test_parse_and_print_round_trip():
    f = Fact.parse(" on( red_block , blue_block ) ")
    assert f == Fact("on", ("red_block", "blue_block"))
    assert str(f) == "on(red_block,blue_block)"
    assert Fact.parse(str(f)) == f


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("on(red_block)", "takes 2 argument"),
        ("under(a,b)", "unknown predicate 'under'"),
        ("on red_block blue_block", "not of the form"),
        ("on(red block,x)", "not a valid name"),
        ("on(a,b", "not of the form"),
        ("x" * 300, "longer than"),
    ],
)
def test_domain_parse_rejects_with_reason(domain, text, fragment):
    with pytest.raises(FactError, match=fragment):
        domain.parse_fact(text)


def test_syntax_alone_knows_no_vocabulary():
    # The fact syntax is the core's; which predicates exist is the domain's.
    assert Fact.parse("under(a,b)") == Fact("under", ("a", "b"))


def test_parse_rejects_non_strings():
    with pytest.raises(FactError, match="must be a string"):
        Fact.parse(42)  # type: ignore[arg-type]


def test_scene_checks_argument_types():
    scene = load_scene("tabletop")
    with pytest.raises(FactError, match="left_bin is a bin, not a block"):
        scene.parse_facts(["on(red_block,left_bin)"])
    with pytest.raises(FactError, match="unknown name 'purple_block'"):
        scene.parse_facts(["in(purple_block,left_bin)"])


def test_derive_clear_and_tower_zone():
    scene = load_scene("tabletop")
    facts = parse_facts(
        [
            "at(red_block,center_zone)",
            "on_table(red_block)",
            "on(green_block,red_block)",
            "on(blue_block,green_block)",
            "holding(left_arm,yellow_block)",
        ]
    )
    derived = scene.derive(facts)
    assert Fact.parse("clear(blue_block)") in derived
    assert Fact.parse("clear(red_block)") not in derived
    assert Fact.parse("clear(yellow_block)") not in derived  # held blocks are not clear
    assert Fact.parse("at(blue_block,center_zone)") in derived  # a tower stands in its zone
    assert Fact.parse("at(green_block,center_zone)") in derived
    # Purely derived facts given as input are recomputed, not trusted.
    assert Fact.parse("clear(red_block)") not in scene.derive(
        facts | {Fact.parse("clear(red_block)")}
    )


def test_format_is_sorted_strings():
    assert format_facts(parse_facts(["on(b,c)", "clear(a)"])) == ["clear(a)", "on(b,c)"]


@pytest.mark.parametrize(
    ("goal", "fragment"),
    [
        (["on(a,a)"], "loop"),
        (["on(a,b)", "on(a,c)"], "one place at a time"),
        (["on(a,b)", "in(a,bin1)"], "one place at a time"),
        (["on(a,c)", "on(b,c)"], "one block fits on a block"),
        (["on(a,b)", "on(b,a)"], "loop"),
        (["on(a,b)", "on(b,c)", "on(c,a)"], "loop"),
        (["clear(b)", "on(a,b)"], "not clear"),
        (["holding(r1,a)", "holding(r2,a)"], "one place at a time"),
        (["holding(r1,a)", "holding(r1,b)"], "holds one thing"),
        (["holding(r1,a)", "gripper_empty(r1)"], "holds one thing"),
        (["holding(r1,a)", "in(a,bin1)"], "one place at a time"),
        (["at(a,z1)", "at(a,z2)"], "one place at a time"),
    ],
)
def test_contradictions(domain, goal, fragment):
    problems = domain.contradictions(parse_facts(goal))
    assert any(fragment in p for p in problems), problems


def test_consistent_goal_has_no_contradictions(domain):
    goal = parse_facts(["on(a,b)", "on(b,c)", "at(c,center_zone)", "clear(a)", "in(d,bin1)"])
    assert domain.contradictions(goal) == []
