"""The geometric VQA backend on real rendered frames (TinyRenderer, headless).

Every answer is decided from pixels (colour, depth, intrinsics, camera pose) plus the
grippers' proprioception, and is checked against the simulator's ground truth:
towers, bins, zones, a real pick, an empty gripper, arms covering blocks, a block on the
floor, and the agreement over all facts on several seeds, at 320x240 and 640x480.
"""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_planner.adapters.base import SkillState
from robot_planner.bench.vqa import ground_facts
from robot_planner.monitor.base import VqaAnswer, VqaBackend
from robot_planner.monitor.geometric import GeometricConfig, GeometricVqa
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.truth import ground_truth
from robot_planner.sim.world import SimWorld
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation

F = Fact.parse
SIZES = [(320, 240), (640, 480)]
SIZE_IDS = ["320x240", "640x480"]
MODULE = Path(__file__).resolve().parent.parent / "robot_planner" / "monitor" / "geometric.py"


def all_facts(scene) -> list[Fact]:
    """Every ground fact of the vocabulary over the scene's names."""
    return ground_facts(scene)


def ask(vqa: GeometricVqa, observation: Observation, text: str) -> VqaAnswer:
    answer = vqa.answer(observation, f"is {text} true?", F(text))
    assert 0.0 <= answer.confidence <= 1.0
    return answer


def expect(vqa: GeometricVqa, observation: Observation, text: str, value: bool) -> None:
    """The answer is `value`, confidently enough for the monitor to act on it."""
    answer = ask(vqa, observation, text)
    assert answer.answer is value, (text, answer)
    assert answer.confidence >= 0.6, (text, answer)
    assert answer.evidence, text


def run_skill(adapter: PyBulletRobotAdapter, robot: str, skill: str, args: dict) -> None:
    handle = adapter.start_skill(robot, skill, args)
    while adapter.poll(handle).state is SkillState.RUNNING and adapter.now() < 60:
        adapter.advance(0.05)
    status = adapter.poll(handle)
    assert status.state is SkillState.SUCCEEDED, status.reason


def observe_all(world: SimWorld) -> dict[tuple[int, int], Observation]:
    return {size: world.observe(world.camera("overhead", *size)) for size in SIZES}


@pytest.fixture(scope="module")
def vqa(scene) -> GeometricVqa:
    return GeometricVqa(scene)


@pytest.fixture(scope="module")
def arranged(scene):
    """A tower (green on red) in the center zone, blue in the right bin, yellow turned
    on the right side of the table."""
    with SimWorld(scene, seed=3) as world:
        top = world.table_top
        world.move_block("red_block", [0.0, -0.05, top + 0.025])
        world.move_block("green_block", [0.0, -0.05, top + 0.076])
        world.move_block("blue_block", [0.25, 0.30, top + 0.04])
        world.move_block("yellow_block", [0.21, -0.15, top + 0.025], yaw=0.5)
        world.settle(1.0)
        yield observe_all(world), ground_truth(world)


@pytest.fixture(scope="module")
def picked(scene):
    """The left arm's open hand around red_block just before the grasp (an arm
    partly covering a block), then red_block held after a real pick, with the right
    arm's gripper closed on nothing."""
    with SimWorld(scene, seed=1) as world:
        adapter = PyBulletRobotAdapter(world)
        handle = adapter.start_skill("left_arm", "pick", {"object": "red_block"})
        # Step by step near the end of the descent: stop as the grasp starts, before
        # the fingers have moved.
        while adapter.poll(handle).phase != "grasp":
            assert adapter.poll(handle).state is SkillState.RUNNING
            low = world.arms["left_arm"].tool_pose()[0][2] < world.table_top + 0.06
            adapter.step() if low else adapter.advance(0.05)
        around = observe_all(world), ground_truth(world)
        while adapter.poll(handle).state is SkillState.RUNNING:
            adapter.advance(0.05)
        assert adapter.poll(handle).state is SkillState.SUCCEEDED
        run_skill(adapter, "right_arm", "close_gripper", {})
        yield {"around": around, "held": (observe_all(world), ground_truth(world))}


# --- the backend itself --------------------------------------------------------------


def test_is_a_vqa_backend_named_geometric(vqa):
    assert isinstance(vqa, VqaBackend)
    assert vqa.name == "geometric"


def test_module_does_not_import_the_simulator():
    tree = ast.parse(MODULE.read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [m for m in imported if m and (m.startswith("robot_planner.sim") or "bullet" in m)]
    code = (
        "import sys, robot_planner.monitor.geometric; "
        "bad = [m for m in sys.modules if m.startswith(('pybullet', 'robot_planner.sim'))]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="open_kernel"):
        GeometricConfig(open_kernel=2)
    with pytest.raises(ValueError, match="cache_size"):
        GeometricConfig(cache_size=0)


def test_unknown_predicates_names_and_kinds_cannot_be_told(vqa, arranged):
    observation = arranged[0][(320, 240)]
    for fact in [
        Fact("near", ("red_block", "blue_block")),
        Fact("on", ("red_block", "purple_block")),
        Fact("holding", ("red_block", "left_arm")),  # arguments of the wrong kinds
        Fact("in", ("red_block", "center_zone")),
        Fact("clear", ("red_block", "blue_block")),  # wrong arity
    ]:
        answer = vqa.answer(observation, "?", fact)
        assert answer == VqaAnswer(None, 0.0, answer.evidence), fact
        assert answer.evidence
    assert vqa.answer(observation, "?", F("on(red_block,red_block)")).answer is False


def test_a_frame_is_segmented_once_for_many_questions(scene, arranged, monkeypatch):
    vqa = GeometricVqa(scene)
    calls = []
    segment = vqa._segment
    monkeypatch.setattr(vqa, "_segment", lambda frame: calls.append(1) or segment(frame))
    observation = arranged[0][(640, 480)]
    for fact in all_facts(scene):
        vqa.answer(observation, "?", fact)
    vqa.estimate_facts(observation)
    assert len(calls) == 1
    vqa.answer(arranged[0][(320, 240)], "?", F("clear(red_block)"))
    assert len(calls) == 2


# --- constructed scenes ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_tower_on_clear_and_on_table(vqa, arranged, size):
    observation = arranged[0][size]
    expect(vqa, observation, "on(green_block,red_block)", True)
    expect(vqa, observation, "on(red_block,green_block)", False)
    expect(vqa, observation, "on(green_block,yellow_block)", False)
    expect(vqa, observation, "clear(green_block)", True)
    expect(vqa, observation, "clear(red_block)", False)
    expect(vqa, observation, "on_table(red_block)", True)
    expect(vqa, observation, "on_table(green_block)", False)
    # The bottom block shows only its sides, yet its height is right.
    centre = vqa.perceive(observation.frame)["red_block"].center
    assert centre[2] == pytest.approx(0.625 + 0.025, abs=0.005)


def _tower(scene, *xy: tuple[float, float]):
    """The overhead frame of yellow, blue and red stacked at these (x, y), and the table
    top's height."""
    with SimWorld(scene, seed=0) as world:
        top = world.table_top
        for level, (block, (x, y)) in enumerate(
            zip(("yellow_block", "blue_block", "red_block"), xy, strict=True)
        ):
            world.move_block(block, [x, y, top + 0.025 + 0.05 * level])
        world.settle(0.5)
        return world.observe(world.camera("overhead", *SIZES[0])), top


@pytest.fixture(scope="module")
def three_high(scene):
    """A three-block tower as the stack-drop bench built it in seed 118 (p = 0.15): the
    top block sits 3 mm nearer the camera than the middle one."""
    return _tower(scene, (0.192, 0.082), (0.189, 0.0823), (0.19, 0.079))


def test_the_middle_block_of_a_tower_is_at_its_height(vqa, three_high):
    """Its top edge shows in only a column or two beside the block on it; that outline
    alone put it 1.1 cm low, `on` failed, and a standing tower was judged not built."""
    observation, top = three_high
    centre = vqa.perceive(observation.frame)["blue_block"].center
    assert centre[2] == pytest.approx(top + 0.075, abs=0.005)
    expect(vqa, observation, "on(blue_block,yellow_block)", True)
    expect(vqa, observation, "on(red_block,blue_block)", True)


def test_the_bottom_block_of_an_offset_tower_is_at_its_height(vqa, scene):
    """A tower as the q = 3 cm bench left it (seed 42): the middle block pushed 2.2 cm
    aside. The bottom block's edge on the table shows in a dozen columns, a sliver
    beside the block on it in three; the two outlines disagreed, neither was trusted,
    and the side faces' lower part put it 1.2 cm low: `on` failed on a standing tower."""
    observation, top = _tower(scene, (0.208, 0.077), (0.211, 0.055), (0.211, 0.066))
    centre = vqa.perceive(observation.frame)["yellow_block"].center
    assert centre[2] == pytest.approx(top + 0.025, abs=0.005)
    expect(vqa, observation, "on(blue_block,yellow_block)", True)
    expect(vqa, observation, "on(red_block,blue_block)", True)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_block_in_a_bin(vqa, arranged, size):
    observation = arranged[0][size]
    expect(vqa, observation, "in(blue_block,right_bin)", True)
    expect(vqa, observation, "in(blue_block,left_bin)", False)
    expect(vqa, observation, "in(yellow_block,right_bin)", False)
    expect(vqa, observation, "on_table(blue_block)", False)  # on the bin's floor
    expect(vqa, observation, "at(blue_block,right_side)", False)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_blocks_in_zones(vqa, arranged, size):
    observation = arranged[0][size]
    expect(vqa, observation, "at(red_block,center_zone)", True)
    expect(vqa, observation, "at(green_block,center_zone)", True)  # its tower's zone
    expect(vqa, observation, "at(red_block,left_side)", False)
    expect(vqa, observation, "at(yellow_block,right_side)", True)
    expect(vqa, observation, "at(yellow_block,center_zone)", False)
    expect(vqa, observation, "on_table(yellow_block)", True)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_idle_open_grippers_are_empty(vqa, arranged, size):
    observation = arranged[0][size]
    for robot in ("left_arm", "right_arm"):
        expect(vqa, observation, f"gripper_empty({robot})", True)
        for block in ("red_block", "green_block", "blue_block", "yellow_block"):
            expect(vqa, observation, f"holding({robot},{block})", False)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_constructed_scene_matches_ground_truth(vqa, arranged, size):
    observations, truth = arranged
    assert vqa.estimate_facts(observations[size]) == truth


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_answers_agree_with_the_estimated_fact_set(scene, vqa, arranged, picked, size):
    for observation in (arranged[0][size], picked["held"][0][size]):
        estimated = vqa.estimate_facts(observation)
        assert scene.derive(estimated) == estimated  # clear and at as derive() has them
        for fact in all_facts(scene):
            answer = vqa.answer(observation, "?", fact)
            assert (answer.answer is True) == (fact in estimated), (fact, answer)
            assert 0.0 <= answer.confidence <= 1.0


# --- a real pick, an empty gripper, arms in the way ------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_holding_after_a_real_pick(vqa, picked, size):
    observations, truth = picked["held"]
    observation = observations[size]
    assert F("holding(left_arm,red_block)") in truth
    expect(vqa, observation, "holding(left_arm,red_block)", True)
    expect(vqa, observation, "holding(right_arm,red_block)", False)  # the other arm
    expect(vqa, observation, "holding(left_arm,green_block)", False)
    expect(vqa, observation, "gripper_empty(left_arm)", False)
    expect(vqa, observation, "clear(red_block)", False)
    expect(vqa, observation, "on_table(red_block)", False)
    expect(vqa, observation, "at(red_block,left_side)", False)
    # The fingers hide part of the held block: what is visible still places it.
    seen = vqa.perceive(observation.frame)["red_block"]
    assert seen.seen and seen.visible < 0.9
    tool = observation.grippers["left_arm"].position
    assert np.linalg.norm(seen.center - tool) < 0.03
    assert vqa.estimate_facts(observation) == truth


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_a_gripper_closed_on_nothing_is_empty(vqa, picked, size):
    observation = picked["held"][0][size]
    assert observation.grippers["right_arm"].width < 0.01
    expect(vqa, observation, "gripper_empty(right_arm)", True)
    for block in ("red_block", "green_block", "blue_block", "yellow_block"):
        expect(vqa, observation, f"holding(right_arm,{block})", False)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_open_hand_partly_covering_a_block(vqa, picked, size):
    observations, truth = picked["around"]
    observation = observations[size]
    seen = vqa.perceive(observation.frame)["red_block"]
    assert seen.seen and seen.visible < 0.9  # the hand really covers part of it
    assert F("holding(left_arm,red_block)") not in truth
    expect(vqa, observation, "holding(left_arm,red_block)", False)  # fingers still open
    expect(vqa, observation, "gripper_empty(left_arm)", True)
    for text in ("on_table(red_block)", "at(red_block,left_side)", "clear(red_block)"):
        assert F(text) in truth
        answer = ask(vqa, observation, text)
        assert answer.answer is True or (answer.answer is None and answer.confidence < 0.5)
    assert vqa.estimate_facts(observation) <= truth


@pytest.fixture(scope="module")
def covered(scene):
    """The left hand held low in front of green_block: most of it hidden (an arm
    partly covering a block), then all of it (not seen at all)."""
    with SimWorld(scene, seed=3) as world:
        top = world.table_top
        world.move_block("green_block", [-0.2, -0.12, top + 0.025], yaw=0.0)
        world.settle(0.3)
        arm = world.arms["left_arm"]
        frames = {}
        for key, dy in (("partly", -0.09), ("fully", -0.13)):
            arm.command_arm(arm.solve_ik([-0.2, -0.12 + dy, top + 0.085], math.pi / 2))
            world.settle(1.0)
            frames[key] = (observe_all(world), ground_truth(world))
        yield frames


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_arm_covering_most_of_a_block(vqa, covered, size):
    observations, truth = covered["partly"]
    observation = observations[size]
    seen = vqa.perceive(observation.frame)["green_block"]
    assert seen.seen and seen.visible < 0.5
    for text in ("on_table(green_block)", "at(green_block,left_side)", "clear(green_block)"):
        assert F(text) in truth
        expect(vqa, observation, text, True)
    expect(vqa, observation, "holding(left_arm,green_block)", False)
    assert vqa.estimate_facts(observation) == truth


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_a_hidden_block_cannot_be_told(vqa, covered, size):
    observations, truth = covered["fully"]
    observation = observations[size]
    if vqa.perceive(observation.frame)["green_block"].seen:
        pytest.fail("green_block should be hidden behind the hand")
    for text in ("on_table(green_block)", "at(green_block,left_side)", "clear(green_block)"):
        assert ask(vqa, observation, text) == VqaAnswer(None, 0.0, "green_block not seen")
    # Proprioception still answers for the hand: its fingers are wide open.
    expect(vqa, observation, "holding(left_arm,green_block)", False)
    estimated = vqa.estimate_facts(observation)
    assert estimated <= truth
    assert not [f for f in estimated if "green_block" in f.args]


def test_a_block_hidden_under_another_is_inferred(scene, vqa):
    """Blue dropped onto yellow, overhanging the camera side, hides yellow completely in
    the monitor's 320x240 frame (stack-drop seed 52: the re-planner failed with
    'yellow_block is not seen'). Blue stands one block high with nothing seen under it,
    and yellow is the only object out of sight and in no hand: yellow is under blue."""
    with SimWorld(scene, seed=3) as world:
        top = world.table_top
        world.move_block("yellow_block", [0.181, 0.046, top + 0.025], yaw=0.4)
        world.move_block("blue_block", [0.179, 0.021, top + 0.076], yaw=0.4)
        world.settle(0.5)
        observation = world.observe(world.camera("overhead", 320, 240))
        truth = ground_truth(world)
    assert F("on(blue_block,yellow_block)") in truth
    assert not vqa.perceive(observation.frame)["yellow_block"].seen
    for text in ("on(blue_block,yellow_block)", "at(yellow_block,right_side)"):
        assert ask(vqa, observation, text).answer is True, text
    for text in ("clear(yellow_block)", "on_table(blue_block)", "on(yellow_block,blue_block)"):
        assert ask(vqa, observation, text).answer is False, text
    estimated = vqa.estimate_facts(observation)
    assert F("on(blue_block,yellow_block)") in estimated
    assert estimated <= truth


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_blocks_off_the_table_are_never_placed_on_it(scene, vqa, size):
    with SimWorld(scene, seed=3) as world:
        world.move_block("yellow_block", [-0.3, -0.8, 0.03])  # under the camera: not seen
        world.move_block("blue_block", [0.0, 2.0, 0.03])  # on the floor far away: seen
        world.settle(0.5)
        observation = world.observe(world.camera("overhead", *size))
        truth = ground_truth(world)
    sightings = vqa.perceive(observation.frame)
    assert not sightings["yellow_block"].seen
    assert sightings["blue_block"].seen
    for fact in all_facts(scene):
        if {"yellow_block", "blue_block"} & set(fact.args) and fact.predicate != "clear":
            answer = vqa.answer(observation, "?", fact)
            assert answer.answer is not True, (fact, answer)
    expect(vqa, observation, "on_table(blue_block)", False)
    expect(vqa, observation, "at(blue_block,center_zone)", False)
    assert ask(vqa, observation, "on_table(yellow_block)").answer is None
    expect(vqa, observation, "on_table(red_block)", True)  # the rest is still perceived
    estimated = vqa.estimate_facts(observation)
    assert estimated <= truth and truth - estimated == {F("clear(yellow_block)")}


# --- agreement with ground truth, and speed ------------------------------------------


def _arrange(world: SimWorld, seed: int) -> None:
    """A seeded mix: a small tower, a block in a bin, a block moved elsewhere on the
    table, and (odd seeds) a block picked up and held."""
    rng = np.random.default_rng(seed)
    top = world.table_top
    blocks = list(world.blocks)
    rng.shuffle(blocks)
    mode = seed % 4
    if mode >= 1:
        x, y, z = world.block_pose(blocks[1])[0]
        jitter = rng.uniform(-0.01, 0.01, 2)
        world.move_block(
            blocks[0], [x + jitter[0], y + jitter[1], z + 0.051], yaw=rng.uniform(-0.5, 0.5)
        )
    if mode >= 2:
        bins = world.scene.places_of("bin")
        cx, cy = bins[str(rng.choice(list(bins)))].position
        offset = rng.uniform(-0.05, 0.05, 2)
        world.move_block(
            blocks[2], [cx + offset[0], cy + offset[1], top + 0.04], yaw=rng.uniform(-1, 1)
        )
    if mode >= 3:
        world.move_block(
            blocks[3],
            [rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.15), top + 0.03],
            yaw=rng.uniform(-1, 1),
        )
    world.settle(0.7)
    if seed % 2:
        x = world.block_pose(blocks[3])[0][0]
        robot = "left_arm" if x < 0 else "right_arm"
        run_skill(PyBulletRobotAdapter(world), robot, "pick", {"object": blocks[3]})


def test_agreement_with_ground_truth_over_seeds(scene, vqa):
    facts = all_facts(scene)
    agree = total = unsure = 0
    both = either = 0
    wrong_and_sure: list[tuple] = []
    for seed in range(8):
        with SimWorld(scene, seed=seed) as world:
            _arrange(world, seed)
            truth = ground_truth(world)
            for size in SIZES:
                observation = world.observe(world.camera("overhead", *size))
                estimated = vqa.estimate_facts(observation)
                for fact in facts:
                    answer = vqa.answer(observation, "?", fact)
                    total += 1
                    agree += (fact in estimated) == (fact in truth)
                    unsure += answer.answer is None
                    wrong = answer.answer is not None and answer.answer != (fact in truth)
                    if wrong and answer.confidence >= 0.6:
                        wrong_and_sure.append((seed, size, str(fact), answer))
                both += len(estimated & truth)
                either += len(estimated | truth)
    accuracy, overlap = agree / total, both / either
    print(
        f"\ngeometric VQA vs ground truth: {agree}/{total} facts agree ({accuracy:.2%}), "
        f"true facts {both}/{either} ({overlap:.2%}), {unsure} cannot tell"
    )
    assert accuracy >= 0.98
    assert overlap >= 0.95
    assert not wrong_and_sure, wrong_and_sure


def test_a_block_behind_a_tower_is_placed_from_the_far_side_camera(scene, vqa):
    """Stack-drop seeds 54 and 63 at p = 0.3: a dropped block came to rest behind the
    two-block tower, out of the overhead camera's sight, and the re-plan failed with
    'red_block is not seen'. Re-planning looks through the scene's other cameras too."""
    with SimWorld(scene, seed=3) as world:
        top = world.table_top
        world.move_block("yellow_block", [0.18, 0.0, top + 0.025], yaw=0.0)
        world.move_block("blue_block", [0.18, 0.0, top + 0.076], yaw=0.0)
        world.move_block("red_block", [0.18, 0.05, top + 0.025], yaw=0.0)
        world.settle(0.5)
        overhead = world.observe(world.camera("overhead"))
        both = world.observe(world.camera("overhead"), [world.camera("far_side")])
        truth = ground_truth(world)
    assert not vqa.perceive(overhead.frame)["red_block"].seen
    assert not [f for f in vqa.estimate_facts(overhead) if "red_block" in f.args]
    red = {f for f in vqa.estimate_facts(both) if "red_block" in f.args}
    assert red == {F("on_table(red_block)"), F("at(red_block,right_side)"), F("clear(red_block)")}
    assert red <= truth
    # What the main camera sees is decided from it alone: the tower is the same.
    for fact in ("on(blue_block,yellow_block)", "at(yellow_block,right_side)"):
        assert F(fact) in vqa.estimate_facts(both) and F(fact) in vqa.estimate_facts(overhead)


def test_a_block_just_past_the_zones_edge_is_in_the_zone_it_reaches_into(scene, vqa):
    """Stack-drop seed 133 at p = 0.3: a block knocked off the tower came to rest beside
    the right bin, its centre 1.9 cm past the right side's far edge, in no place; the
    re-plan failed with 'red_block is in no place of the scene'. Its footprint reaches
    into the zone, so it is in the zone; one whose centre is in a zone stays in that one."""
    edge = scene.places["right_side"].center[1] + scene.places["right_side"].size[1] / 2
    with SimWorld(scene, seed=3) as world:
        top = world.table_top
        world.move_block("red_block", [0.12, edge + 0.019, top + 0.025], yaw=0.0)
        world.move_block("yellow_block", [0.12, edge - 0.2, top + 0.025], yaw=0.0)
        world.settle(0.5)
        seen = world.observe(world.camera("overhead"), [world.camera("far_side")])
    facts = vqa.estimate_facts(seen)
    assert {f for f in facts if f.predicate == "at" and f.args[0] == "red_block"} == {
        F("at(red_block,right_side)")
    }
    assert {f for f in facts if f.predicate == "at" and f.args[0] == "yellow_block"} == {
        F("at(yellow_block,right_side)")
    }


@pytest.mark.parametrize(("where", "guessed"), [("right_bin", False), ("right_side", True)])
def test_a_hidden_block_is_guessed_under_a_raised_block_on_the_table_not_in_a_bin(
    scene, vqa, where, guessed
):
    """Clutter seed 1: the red block in the left bin, hidden by the arm working there,
    was guessed under the blue block lying in the right bin (its lower part hidden by the
    walls, its height passed for one block above the table); the collateral check then
    said the red block had left the left bin, six times. On the table the guess stands."""
    from robot_planner.monitor.geometric import ObjectSighting

    spec = scene.places[where]
    x, y = spec.center
    top = vqa.table_top
    blue = ObjectSighting("blue_block", np.array([x, y, top + 0.046]), 40, 0.5, None, 0.004, 0.015)
    seen = {
        "red_block": ObjectSighting("red_block", None, 0, 0.0, None, 0.01, 0.01),
        "blue_block": blue,
        "green_block": ObjectSighting(
            "green_block", np.array([-0.2, -0.2, top + 0.025]), 200, 1.0, None, 0.002, 0.002
        ),
        "yellow_block": ObjectSighting(
            "yellow_block", np.array([0.2, -0.25, top + 0.025]), 200, 1.0, None, 0.002, 0.002
        ),
    }
    held = dict.fromkeys(seen, False)
    assert vqa._beneath(seen, held)["red_block"].seen is guessed
