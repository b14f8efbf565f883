"""The language of the domain, covered: every catalogue skill is reachable by words from
the domain's `language.skills` (wait, go home, open/close the gripper; hold = stay held),
ellipsis, exclusions, counts and locations, relations resolved from the current state,
did-you-mean suggestions that are never acted on, and the guesses a command needed."""

from __future__ import annotations

import pytest

from robot_planner.planning.base import PlanningError, PlanRequest
from robot_planner.planning.jsgf import jsgf_grammar
from robot_planner.planning.language import understand_command
from robot_planner.planning.lexicon import UnderstandingError
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.resources import scene_path
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene, load_scene

TABLETOP = load_scene(scene_path("tabletop"))
LOGISTICS = load_scene(scene_path("logistics"))
R, G, B, Y = "red_block", "green_block", "blue_block", "yellow_block"


def goal(command: str, scene: Scene = TABLETOP, state: frozenset[Fact] | None = None) -> set:
    return {str(f) for f in understand_command(command, scene, state).goal}


def tasks(command: str, scene: Scene = TABLETOP) -> list[tuple]:
    plan = OfflinePlanner(scene.domain.catalogue, scene).plan_text(command)
    return [(t.id, t.skill, t.robot, t.args, t.depends_on) for t in plan.tasks]


def after(command: str, scene: Scene = TABLETOP) -> frozenset[Fact]:
    """The state once `command`'s plan has run (every task succeeded)."""
    plan = OfflinePlanner(scene.domain.catalogue, scene).plan_text(command)
    state = scene.initial_facts()
    for task in plan.tasks:
        state = scene.domain.catalogue.apply(task.skill, task.robot, task.args, scene, state)
    return scene.derive(state)


# --- every skill by words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("wait 5 seconds", [("t1", "wait", "left_arm", {"seconds": 5.0}, [])]),
        ("left arm, wait for 3 seconds", [("t1", "wait", "left_arm", {"seconds": 3.0}, [])]),
        (
            "the right arm, pause for ten seconds",
            [("t1", "wait", "right_arm", {"seconds": 10.0}, [])],
        ),
        ("go home", [("t1", "move_home", "left_arm", {}, [])]),
        ("right arm, go home", [("t1", "move_home", "right_arm", {}, [])]),
        ("right arm, go back to the home position", [("t1", "move_home", "right_arm", {}, [])]),
        ("open the gripper", [("t1", "open_gripper", "left_arm", {}, [])]),
        ("close the left gripper", [("t1", "close_gripper", "left_arm", {}, [])]),
        ("with the right arm, close the gripper", [("t1", "close_gripper", "right_arm", {}, [])]),
    ],
)
def test_every_skill_is_reachable_by_words(command, expected):
    assert tasks(command) == expected


def test_pick_up_and_hold_leaves_the_block_held():
    assert goal("pick up the red block and hold it") == {f"holding(left_arm,{R})"}
    assert [t[1] for t in tasks("pick up the red block and hold it")] == ["pick"]


def test_requested_skills_run_in_the_order_said():
    # After the step before it: the skill waits for the put.
    plan = tasks("put the red block in the left bin, then go home")
    assert [t[1] for t in plan] == ["pick", "place", "move_home"]
    assert plan[-1][4] == [plan[-2][0]]
    # Before the step after it: the put waits for the skill.
    plan = tasks("right arm, go home, then put the blue block in the right bin")
    assert [t[1] for t in plan] == ["move_home", "pick", "place"]
    assert plan[1][4] == ["t1"]
    # "... and wait": after the work said before it in the same step.
    plan = tasks("pick up the red block and wait 2 seconds")
    assert [(t[1], t[4]) for t in plan] == [("pick", []), ("wait", ["t1"])]


def test_two_robots_asked_at_once_do_not_wait_for_each_other():
    plan = tasks("left arm, go home while the right arm goes home")
    assert {(t[2], tuple(t[4])) for t in plan} == {("left_arm", ()), ("right_arm", ())}


def test_a_skill_that_undoes_the_goal_is_refused():
    planner = OfflinePlanner(TABLETOP.domain.catalogue, TABLETOP)
    with pytest.raises(PlanningError, match=r"open_gripper on left_arm undoes holding"):
        planner.plan_text("pick up the red block, then open the gripper")


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("wait 500 seconds", "seconds must be between 0 and 120, not 500"),
        ("go home the blue block", "could not understand|unknown"),
    ],
)
def test_skill_phrases_that_do_not_fit_are_refused(command, error):
    with pytest.raises(UnderstandingError, match=error):
        understand_command(command, TABLETOP)


# --- ellipsis, exclusions, counts, locations, relations -----------------------------------


def test_ellipsis_repeats_the_last_put():
    assert goal("put the red block in the left bin, and the yellow block too") == {
        f"in({R},left_bin)",
        f"in({Y},left_bin)",
    }
    meaning = understand_command(
        "left arm, put red in the center zone, and green as well", TABLETOP
    )
    assert {(str(i.fact), i.robot) for i in meaning.items} == {
        (f"at({R},center_zone)", "left_arm"),
        (f"at({G},center_zone)", "left_arm"),
    }
    with pytest.raises(UnderstandingError, match="'too' does not say what to do"):
        understand_command("go home, and the red block too", TABLETOP)


def test_exclusions_leave_out_what_they_name():
    assert goal("put all blocks except the red one in the right bin") == {
        f"in({b},right_bin)" for b in (G, B, Y)
    }
    assert goal("put all the blocks but green in the left bin") == {
        f"in({b},left_bin)" for b in (R, B, Y)
    }
    assert goal("put all the cubes except red and blue in the left bin") == {
        f"in({b},left_bin)" for b in (G, Y)
    }
    with pytest.raises(UnderstandingError, match="'green' is not among 'all red blocks'"):
        understand_command("put all red blocks except green in the left bin", TABLETOP)


def test_counts_must_match_exactly():
    assert goal("put the two blocks on the left side in the right bin") == {
        f"in({R},right_bin)",
        f"in({G},right_bin)",
    }
    with pytest.raises(
        UnderstandingError,
        match=r"'three blocks at the left side' names 3, but there are 2: red block, green block",
    ):
        understand_command("put the three blocks on the left side in the right bin", TABLETOP)
    with pytest.raises(UnderstandingError, match="'block' names 1, but there are 4"):
        understand_command("pick up the block", TABLETOP)


def test_locations_and_relations_come_from_the_current_state():
    # The yellow block on the red block, both handed over in the center zone.
    state = after("put the yellow block on the red block, then put the blue block in the left bin")
    assert goal("put the block on the red block in the right bin", state=state) == {
        f"in({Y},right_bin)"
    }
    assert goal("put the block in the left bin on the green block", state=state) == {
        f"on({B},{G})"
    }
    assert goal("pick up the block in the left bin", state=state) == {f"holding(left_arm,{B})"}
    # From the start, nothing is on the red block: refused with where the blocks are.
    with pytest.raises(UnderstandingError, match=r"there are none; red block at left side"):
        understand_command("put the block on the red block in the right bin", TABLETOP)


# --- did you mean, guesses, quoting --------------------------------------------------------


def test_near_miss_words_get_a_suggestion_never_an_action():
    with pytest.raises(
        UnderstandingError, match=r"did you mean 'the red block in the left bin'\?$"
    ):
        understand_command("teh red blok in the left bin", TABLETOP)
    with pytest.raises(
        UnderstandingError, match=r"did you mean 'put the red block in the left bin'\?$"
    ):
        understand_command("put the red block in the lfet bni", TABLETOP)
    # The whole command, corrected, in the user's words otherwise (was "yellow block on
    # the green", the span between the first and the last slip).
    with pytest.raises(
        UnderstandingError, match=r"did you mean 'Put the yellow block on the green block!'\?$"
    ):
        understand_command("Put the yelow block on the gren block!", TABLETOP)
    planner = OfflinePlanner(TABLETOP.domain.catalogue, TABLETOP)
    with pytest.raises(PlanningError, match="did you mean"):
        planner.plan(PlanRequest("teh red blok in the left bin", TABLETOP.initial_facts()))


def test_no_suggestion_when_every_word_is_known_or_none_is_near():
    with pytest.raises(UnderstandingError) as known:
        understand_command("put the red block in the left bin quickly", TABLETOP)
    assert "did you mean" not in str(known.value)
    with pytest.raises(UnderstandingError) as far:
        understand_command("put the xqzzv block in the left bin", TABLETOP)
    assert "did you mean" not in str(far.value)


@pytest.mark.parametrize(
    "command",
    [
        "give the red block to the right arm",  # "give" is one letter from "five"
        "put the purple block in the left bin",  # was "did you mean 'pile'?"
        "put the red block in the left bin twice",  # was "did you mean 'time'?"
        "clear the table",  # was "did you mean 'close'?"
        "put the 红 block in the left bin",  # a one-letter word is one edit from "a"
    ],
)
def test_a_real_word_the_language_lacks_gets_no_suggestion(command):
    with pytest.raises(UnderstandingError) as caught:
        understand_command(command, TABLETOP)
    assert "did you mean" not in str(caught.value)


def test_a_word_in_another_alphabet_is_quoted_as_said():
    """'réd' was quoted as 'r d': the normaliser dropped every non-ASCII letter."""
    with pytest.raises(UnderstandingError) as caught:
        understand_command("put the réd block in the left bin", TABLETOP)
    assert "'réd block in the left bin'" in str(caught.value)
    assert str(caught.value).endswith("did you mean 'put the red block in the left bin'?")


def test_an_unknown_action_is_only_corrected_to_a_verb():
    with pytest.raises(UnderstandingError, match=r"did you mean 'put the red block in"):
        understand_command("pur the red block in the left bin", TABLETOP)


def test_a_pronoun_with_two_candidates_is_a_guess_and_reaches_the_plan_result():
    command = "put the red and green blocks in the left bin, then put the blue block on it"
    meaning = understand_command(command, TABLETOP)
    assert f"on({B},{G})" in {str(f) for f in meaning.goal}
    assert meaning.guesses == ["'it' taken as the green block (not the red block)"]
    planner = OfflinePlanner(TABLETOP.domain.catalogue, TABLETOP)
    result = planner.plan(PlanRequest(command, TABLETOP.initial_facts()))
    assert result.guesses == meaning.guesses
    assert result.to_dict()["guesses"] == meaning.guesses


def test_a_default_robot_is_not_a_guess():
    assert understand_command("go home", TABLETOP).guesses == []
    assert understand_command("pick up the red block and hold it", TABLETOP).guesses == []


def test_a_long_command_with_a_near_miss_is_cut_with_an_ellipsis():
    command = "put teh red blok in the left bin " + "and then wait 5 seconds " * 8
    with pytest.raises(UnderstandingError) as raised:
        understand_command(command, TABLETOP)
    message = str(raised.value)
    assert "\n" not in message
    assert command[:60] not in message or "…" in message


# --- logistics ---------------------------------------------------------------------------


def test_logistics_skills_by_words():
    assert tasks("robot one, wait 10 seconds", LOGISTICS) == [
        ("t1", "wait", "base_1", {"seconds": 10.0}, [])
    ]
    assert tasks("the picker arm, go home", LOGISTICS) == [("t1", "move_home", "picker", {}, [])]
    assert tasks("open the packer gripper", LOGISTICS) == [
        ("t1", "open_gripper", "packer", {}, [])
    ]
    with pytest.raises(UnderstandingError, match=r"base 2 cannot move home \(robots that can"):
        understand_command("base two, go to your home position", LOGISTICS)
    # "home" alone is the dock's alias in this scene: a base goes there
    assert [str(f) for f in understand_command("base two, go home", LOGISTICS).goal] == [
        "robot_at(base_2,dock)"
    ]
    plan = tasks("robot one, go to the dock, then wait 3 seconds", LOGISTICS)
    assert plan[-1][1:3] == ("wait", "base_1")


def test_logistics_ellipsis_and_exclusions():
    assert goal(
        "bring the red parcel to the packing station, and the blue parcel too", LOGISTICS
    ) == {
        "at(red_parcel,packing_station)",
        "at(blue_parcel,packing_station)",
    }
    assert goal("bring all parcels except the red one to the packing station", LOGISTICS) == {
        "at(green_parcel,packing_station)",
        "at(blue_parcel,packing_station)",
    }


# --- the words are the domain's --------------------------------------------------------------


def test_the_voice_grammar_has_the_skill_phrases():
    grammar = jsgf_grammar(TABLETOP)
    assert "<skill> = " in grammar
    assert "(wait|pause) [for] <number> (seconds|second)" in grammar
    assert "close <robots>" in grammar  # one robot or several ("both arms")
    assert "except" in grammar


DEPOT_SKILLS = """
language:
  skills:
    settle:
      - "(settle|rest) the forks [for] {seconds} seconds"
  put_verbs: [store, shelve, deliver, carry]
"""


def test_skill_phrases_come_from_the_domain(tmp_path):
    from test_language_domain import DOMAIN, SCENE

    domain = DOMAIN.replace(
        "language:\n  put_verbs: [store, shelve, deliver, carry]\n", DEPOT_SKILLS.lstrip()
    ).replace("skills: [lift, lower]", "skills: [lift, lower, settle]")
    domain += """  settle:
    description: Let the forks settle.
    duration_s: 1
    timeout_s: 130
    args: {seconds: {type: number, minimum: 0, maximum: 60}}
"""
    (tmp_path / "depot").mkdir()
    (tmp_path / "depot" / "domain.yaml").write_text(domain)
    (tmp_path / "scene.yaml").write_text(SCENE)
    depot = load_scene(tmp_path / "scene.yaml")
    meaning = understand_command("rest the forks for 4 seconds", depot)
    assert [(a.robot, a.skill, a.args) for a in meaning.actions] == [
        ("east_forklift", "settle", {"seconds": 4.0})
    ]
    # The tabletop's skill words mean nothing here.
    with pytest.raises(UnderstandingError):
        understand_command("wait 4 seconds", depot)
    with pytest.raises(UnderstandingError):
        understand_command("go home", depot)
