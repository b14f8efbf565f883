"""Fitness of the registries: the catalogue, the sim skills, the hardware bindings and the
robot models agree, both ways.

A skill exists in three places -- the catalogue (what plans may ask for), a PyBullet
implementation registered by name (`robot_planner.sim.skills`) and a ROS 2 binding
(``config/hardware_bindings.yaml``) -- and a robot's ``model:`` names a registered sim
model. Nothing but these tests ties them together, so each check here names what is
missing on which side. The simulator serves every packaged domain (the tabletop, the
logistics cell), so the sim checks run for each of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from robot_planner.adapters.base import AdapterError
from robot_planner.adapters.bindings import load_bindings, placeholders
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.models import (
    MODELS,
    SimArm,
    SimBase,
    get_model,
    known_models,
    register_model,
)
from robot_planner.sim.models.panda import PandaArm, build_panda
from robot_planner.sim.skills import SIM_SKILLS, get, sim_skill
from robot_planner.sim.world import SimError, SimWorld
from robot_planner.world.catalogue import Catalogue, load_catalogue
from robot_planner.world.domain import load_domain
from robot_planner.world.scene import Scene, load_scene

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
#: Every packaged domain and scene: the simulator must serve them all.
DOMAINS = sorted(path.parent.name for path in (CONFIG / "domains").glob("*/domain.yaml"))
SCENES = sorted(path.stem for path in (ROOT / "sim" / "scenes").glob("*.yaml"))


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    # Always through load_catalogue() without a path: wherever the catalogue lives.
    return load_catalogue()


@pytest.fixture
def world(scene):
    with SimWorld(scene, seed=3) as w:
        yield w


def with_model(scene: Scene, robot: str, model: str) -> Scene:
    spec = scene.robots[robot].model_copy(update={"model": model})
    return scene.model_copy(update={"robots": {**scene.robots, robot: spec}})


# --- (a) catalogue <-> sim skills ---------------------------------------------------


def test_the_packaged_domains_and_scenes_are_all_checked():
    assert {"tabletop", "logistics"} <= set(DOMAINS)
    assert {"tabletop", "logistics"} <= set(SCENES)


@pytest.mark.parametrize("domain_name", DOMAINS)
def test_every_catalogue_skill_has_a_sim_implementation(domain_name):
    catalogue = load_domain(domain_name).catalogue
    missing = sorted(set(catalogue.skills) - set(SIM_SKILLS))
    assert not missing, (
        f"{domain_name}: catalogue skills without a @sim_skill implementation: {missing}"
    )


def test_every_sim_skill_is_in_some_domain():
    offered = {name for d in DOMAINS for name in load_domain(d).catalogue.skills}
    extra = sorted(set(SIM_SKILLS) - offered)
    assert not extra, f"sim skills that are in no domain's catalogue: {extra}"


@pytest.mark.parametrize("domain_name", DOMAINS)
def test_sim_skills_declare_the_catalogue_arguments(domain_name):
    catalogue = load_domain(domain_name).catalogue
    wrong = {
        name: {"catalogue": sorted(spec.args), "sim": sorted(SIM_SKILLS[name].args)}
        for name, spec in catalogue.skills.items()
        if name in SIM_SKILLS and set(spec.args) != set(SIM_SKILLS[name].args)
    }
    assert not wrong, (
        f"{domain_name}: sim skills whose declared args differ from the catalogue's: {wrong}"
    )


def test_the_adapter_offers_exactly_the_registered_skills_of_its_robots(world, catalogue):
    """The tabletop has arms only: every arm skill, and no base's ``navigate``."""
    adapter = PyBulletRobotAdapter(world)
    assert adapter.supported_skills == frozenset(catalogue.skills)
    assert adapter.supported_skills <= frozenset(SIM_SKILLS)
    assert "navigate" in SIM_SKILLS and "navigate" not in adapter.supported_skills


@pytest.mark.parametrize("scene_name", SCENES)
def test_sim_skills_run_on_the_robot_kinds_of_the_domain(scene_name):
    """Every kind of the domain that has a sim model has a sim implementation of each
    skill it offers; every implementation's kinds that the domain declares offer it;
    every sim model's kind is some domain's kind; the scene's models have its kinds."""
    scene = load_scene(scene_name)
    domain = scene.domain
    simulated = {model.kind for model in MODELS.values()}
    kinds = {kind for d in DOMAINS for kind in load_domain(d).robot_kinds}
    assert simulated <= kinds, f"sim models of kinds no domain declares: {simulated - kinds}"
    for kind in simulated & set(domain.robot_kinds):
        for skill in domain.robot_kinds[kind].skills:
            assert skill in SIM_SKILLS and kind in SIM_SKILLS[skill].robot_kinds, (
                f"{domain.name}: robot kind {kind} offers {skill}, but no sim implementation "
                f"runs on {kind}"
            )
    for name, skill in SIM_SKILLS.items():
        if name not in domain.catalogue.skills:
            continue
        for kind in set(skill.robot_kinds) & set(domain.robot_kinds):
            assert name in domain.robot_kinds[kind].skills, (
                f"{domain.name}: sim skill {name} declares robot kind {kind}, which does not "
                "offer it"
            )
    for robot, spec in scene.robots.items():
        assert spec.model in MODELS, f"{scene_name}: {robot}'s model {spec.model} is unknown"
        assert get_model(spec.model).kind == spec.kind, (
            f"{robot}: model {spec.model} is a {get_model(spec.model).kind}, "
            f"the scene says {spec.kind}"
        )


# --- (b) catalogue <-> hardware bindings --------------------------------------------


#: Each packaged bindings file and the domain whose catalogue it binds.
BINDINGS = {
    "hardware_bindings": "tabletop",
    "hardware_bindings_fake": "tabletop",
    "hardware_bindings_logistics": "logistics",
}


def test_every_packaged_bindings_file_is_checked():
    files = {path.stem for path in CONFIG.glob("hardware_bindings*.yaml")}
    unchecked = sorted(files - set(BINDINGS))
    assert not unchecked, f"bindings files that BINDINGS does not check: {unchecked}"


@pytest.mark.parametrize(("name", "domain"), sorted(BINDINGS.items()))
def test_every_catalogue_skill_is_bound_to_hardware_and_no_other(name, domain):
    catalogue = load_catalogue(CONFIG / "domains" / domain)
    bindings = load_bindings(CONFIG / f"{name}.yaml")
    missing = sorted(set(catalogue.skills) - set(bindings.skills))
    extra = sorted(set(bindings.skills) - set(catalogue.skills))
    assert not missing, f"{name}: {domain} catalogue skills without a binding: {missing}"
    assert not extra, f"{name}: bindings for skills not in the {domain} catalogue: {extra}"


@pytest.mark.parametrize(
    ("name", "domain"), [(n, d) for n, d in sorted(BINDINGS.items()) if not n.endswith("_fake")]
)
def test_hardware_bindings_use_exactly_the_catalogue_arguments(name, domain):
    """A binding that ignores an argument would run the same goal for every block; one
    that names an unknown argument cannot fill its goal. (The fake bindings send the
    same Fibonacci goal for every call on purpose.)"""
    catalogue = load_catalogue(CONFIG / "domains" / domain)
    bindings = load_bindings(CONFIG / f"{name}.yaml")
    wrong = {}
    for skill, binding in bindings.skills.items():
        templates = list(binding.goal.values())
        if binding.duration_s is not None:
            templates.append(binding.duration_s)
        used = {n for t in templates for n in placeholders(t)} - {"robot"}
        expected = set(catalogue.skills[skill].args) if skill in catalogue.skills else set()
        if used != expected:
            wrong[skill] = {"catalogue": sorted(expected), "binding": sorted(used)}
    assert not wrong, (
        f"{name}: bindings whose argument references differ from the catalogue: {wrong}"
    )


# --- (c) scene models <-> robot-model registry --------------------------------------


@pytest.mark.parametrize("scene_name", SCENES)
def test_the_scene_models_are_registered(scene_name):
    scene = load_scene(scene_name)
    unknown = {r: s.model for r, s in scene.robots.items() if s.model not in MODELS}
    assert not unknown, f"{scene_name}: robots whose model no sim model implements: {unknown}"


def test_robots_are_built_by_their_scene_model(scene):
    """The world builds each robot with its model's factory, not always a Panda."""
    built = []

    def recording_factory(client, name, spec, config):
        built.append((name, spec.model))
        return build_panda(client, name, spec, config)

    register_model("test_recording_arm", recording_factory, kind="arm")
    try:
        with SimWorld(with_model(scene, "right_arm", "test_recording_arm")) as world:
            assert built == [("right_arm", "test_recording_arm")]
            assert isinstance(world.arms["left_arm"], PandaArm)
            assert world.robot_kinds == {"left_arm": "arm", "right_arm": "arm"}
    finally:
        del MODELS["test_recording_arm"]


def test_an_unknown_model_is_one_line_before_pybullet_is_touched(scene, monkeypatch):
    def no_connect(*args, **kwargs):
        raise AssertionError("PyBullet was connected before the model check")

    monkeypatch.setattr(p, "connect", no_connect)
    with pytest.raises(SimError) as info:
        SimWorld(with_model(scene, "left_arm", "ur5"))
    assert str(info.value) == (
        f"robot left_arm: unknown robot model 'ur5' (known: {', '.join(known_models())})"
    )
    assert "franka_panda" in str(info.value)


def test_a_model_of_another_kind_than_the_scene_says_is_refused(scene, monkeypatch):
    monkeypatch.setattr(p, "connect", lambda *a, **k: pytest.fail("connected to PyBullet"))
    spec = scene.robots["left_arm"].model_copy(update={"kind": "mobile_base"})
    odd = scene.model_copy(update={"robots": {**scene.robots, "left_arm": spec}})
    with pytest.raises(SimError) as info:
        SimWorld(odd)
    assert str(info.value) == (
        "robot left_arm: model 'franka_panda' is a robot of kind arm, "
        "but the scene says left_arm is a mobile_base"
    )


def test_the_panda_satisfies_the_sim_arm_protocol(world):
    for arm in world.arms.values():
        assert isinstance(arm, SimArm)
    assert world.bases == {}


def test_the_husky_is_a_sim_base_and_not_an_arm(scene):
    """A base model builds through the same registry: it lands in `bases`, arms stay
    arms, and the world knows each robot's kind."""
    assert get_model("husky").kind == "base"
    base = scene.robots["left_arm"].model_copy(
        update={"kind": "base", "model": "husky", "base_position": (0.0, -1.2, 0.0)}
    )
    with pytest.raises(SimError, match=r"model 'husky' is a robot of kind base, but the scene"):
        SimWorld(with_model(scene, "left_arm", "husky"))
    mixed = scene.model_copy(update={"robots": {**scene.robots, "cart": base}})
    with SimWorld(mixed) as world:
        assert set(world.bases) == {"cart"} and set(world.arms) == {"left_arm", "right_arm"}
        assert isinstance(world.bases["cart"], SimBase)
        assert not isinstance(world.bases["cart"], SimArm)
        assert world.robot_kinds["cart"] == "base"
        adapter = PyBulletRobotAdapter(world)
        with pytest.raises(AdapterError, match="cart is a base; pick runs on: arm"):
            adapter.start_skill("cart", "pick", {"object": "red_block"})


# --- (d) arguments are checked before any motion ------------------------------------


@pytest.mark.parametrize(
    ("skill", "args", "message"),
    [
        ("place", {"object": "red_block"}, "skill place takes (object, target): missing target"),
        (
            "pick",
            {"object": "red_block", "speed": 2.0},
            "skill pick takes (object): unexpected speed",
        ),
        ("wait", {}, "skill wait takes (seconds): missing seconds"),
        ("move_home", {"seconds": 1}, "skill move_home takes no arguments: unexpected seconds"),
    ],
)
def test_a_missing_or_extra_argument_fails_before_motion(world, skill, args, message):
    adapter = PyBulletRobotAdapter(world)
    arm = world.arms["left_arm"]
    joints, time = arm.joint_positions(), world.time
    with pytest.raises(AdapterError) as info:
        adapter.start_skill("left_arm", skill, args)
    assert str(info.value) == message
    assert adapter.running() == []
    adapter.advance(0.2)
    assert world.time > time
    np.testing.assert_allclose(arm.joint_positions(), joints, atol=1e-3)


def test_a_registration_must_match_its_function():
    with pytest.raises(TypeError, match=r"declares args \(object, target\) but .* takes \(obj"):

        @sim_skill("test_mismatched", args=("object", "target"))
        def mismatched(motion, obj, target):
            return []

    with pytest.raises(ValueError, match="registered twice"):

        @sim_skill("wait", args=("seconds",))
        def another_wait(motion, seconds):
            return []

    assert "test_mismatched" not in SIM_SKILLS
    from robot_planner.sim.skills.wait import wait

    assert SIM_SKILLS["wait"].build is wait  # the first registration stands
    with pytest.raises(AdapterError, match=r"unknown skill 'fly' \(known: "):
        get("fly")
