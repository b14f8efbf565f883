"""The composition root: it builds the simulated stack, the oracle comes from the
simulation layer (the core never imports the simulator), and a run has one verdict, the
system's own, with the simulator's ground truth beside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from robot_planner.adapters.fake import FakeRobotAdapter
from robot_planner.cli import main
from robot_planner.episode import EpisodeConfig, judge_run, run_episode, verdict_lines
from robot_planner.execution.executor import Outcome
from robot_planner.monitor.base import VqaAnswer, VqaError
from robot_planner.monitor.config import MonitorConfig
from robot_planner.monitor.oracle import ScoredVqa
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.disturbances import DisturbanceConfig
from robot_planner.sim.oracle import OracleVqa
from robot_planner.system import (
    UNMONITORED,
    SystemOptions,
    build_sim_system,
    build_system,
)
from robot_planner.world.facts import Fact

ROOT = Path(__file__).resolve().parent.parent
#: Layers below the composition root that must run without a simulator (DESIGN.md).
SIM_FREE_LAYERS = ("monitor", "execution", "planning", "plan", "world", "bt")


# --- the root builds the stack --------------------------------------------------------


def test_root_builds_the_simulated_tabletop_stack(scene, catalogue):
    options = SystemOptions(
        seed=2,
        disturbances=DisturbanceConfig(drop_prob=0.5),
        self_check=False,
        camera_size=(400, 300),
        max_replans=3,
        period_s=0.1,
    )
    with build_sim_system(scene, catalogue, options) as system:
        assert system.simulation is not None
        world = system.simulation.world
        adapter = system.adapter
        assert isinstance(adapter, PyBulletRobotAdapter) and adapter.world is world
        assert adapter.self_check is False
        assert adapter.disturbances.config.drop_prob == 0.5
        assert world.seed == 2 and set(world.arms) == set(scene.robots)
        # The monitor: the configured backend, the camera at the asked size, perception
        # for re-planning.
        assert system.vqa is not None and system.vqa.name == "geometric"
        assert system.observe is not None
        assert system.observe().frame.rgb.shape == (300, 400, 3)
        assert system.state_source == "perception"
        assert system.ground_truth() == scene.initial_facts()
        assert Fact.parse("on_table(red_block)") in system.believed_state()
        supervisor = system.supervisor(OfflinePlanner(catalogue, scene))
        assert supervisor.adapter is adapter and supervisor.backend is system.vqa
        assert supervisor.observe is system.observe
        assert supervisor.estimate_state is system.estimate_state
        assert (supervisor.max_replans, supervisor.period_s) == (3, 0.1)
        assert supervisor.observability is system.observability
        assert system.observability is not None and system.observability.blind == {}
    assert world.client == -1  # the system closed its world


def test_the_oracle_is_injected_by_the_simulation_layer(scene, catalogue):
    oracle_options = SystemOptions(monitor=MonitorConfig(vqa="oracle"), camera_size=(64, 48))
    with build_sim_system(scene, catalogue, oracle_options) as system:
        assert isinstance(system.vqa, OracleVqa)
        truth = system.ground_truth()
        observation = system.observe()
        assert system.vqa.estimate_facts(observation) == truth
        fact = Fact.parse("on_table(red_block)")
        assert system.vqa.answer(observation, "", fact).answer == (fact in truth)
    scored = SystemOptions(score_vqa=True, camera_size=(64, 48))
    with build_sim_system(scene, catalogue, scored) as system:
        assert isinstance(system.vqa, ScoredVqa) and system.vqa.name == "geometric"
        assert isinstance(system.vqa.reference, OracleVqa)


def test_unmonitored_system_has_no_camera_and_believes_its_robots(scene, catalogue):
    with build_sim_system(scene, catalogue, SystemOptions(monitor=UNMONITORED)) as system:
        assert system.vqa is None and system.observe is None
        assert system.state_source == "robot state"
        assert system.believed_state() == system.adapter.read_state()


def test_robots_without_a_simulator_have_no_ground_truth_and_no_oracle(scene, catalogue):
    adapter = FakeRobotAdapter(catalogue, scene)
    system = build_system(scene, catalogue, adapter, SystemOptions(monitor=UNMONITORED))
    assert system.simulation is None and system.ground_truth() is None
    assert system.believed_state() == adapter.read_state()
    with pytest.raises(VqaError, match="needs a sim world"):
        build_system(
            scene,
            catalogue,
            adapter,
            SystemOptions(monitor=MonitorConfig(vqa="oracle")),
            observe=lambda: None,  # type: ignore[arg-type,return-value]
        )
    with pytest.raises(ValueError, match="disturbances are simulated"):
        build_system(scene, catalogue, adapter, SystemOptions(disturbances=DisturbanceConfig()))


def test_what_the_perceiver_cannot_see_reaches_the_supervisor(scene, catalogue):
    class GreyBlind(GoalDenier):
        def blind_spots(self, scene):
            return {"red_block": "too grey to segment by colour"}

    adapter = FakeRobotAdapter(catalogue, scene)
    system = build_system(scene, catalogue, adapter, observe=lambda: None, vqa=GreyBlind())
    assert system.observability is not None
    assert "cannot observe red_block" in system.observability.reason(
        Fact.parse("on_table(red_block)")
    )
    assert system.observability.reason(Fact.parse("on_table(blue_block)")) is None
    assert system.supervisor(OfflinePlanner(catalogue, scene)).observability is (
        system.observability
    )


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="replan_state"):
        SystemOptions(replan_state="oracle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period_s"):
        SystemOptions(period_s=0)


# --- layering ---------------------------------------------------------------------------


def _simulator_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Imports of the simulator or PyBullet anywhere in a module (inside functions and
    TYPE_CHECKING blocks too, and by importlib)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = getattr(func, "attr", None) or getattr(func, "id", None)
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                names = [str(first.value)]
        for name in names:
            simulator = name == "robot_planner.sim" or name.startswith("robot_planner.sim.")
            if simulator or name.split(".")[0] in ("pybullet", "pybullet_data"):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return found


def test_core_layers_never_import_the_simulator():
    offenders = []
    for layer in SIM_FREE_LAYERS:
        for path in sorted((ROOT / "robot_planner" / layer).rglob("*.py")):
            offenders += _simulator_imports(path)
    assert offenders == []


def test_the_layering_check_sees_hidden_imports(tmp_path):
    module = tmp_path / "hidden.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from robot_planner.sim.world import SimWorld\n"
        "def f():\n"
        "    import pybullet as p\n"
        "    import importlib\n"
        "    importlib.import_module('robot_planner.sim.truth')\n"
    )
    found = _simulator_imports(module, tmp_path)
    assert [line.split(": ")[1] for line in found] == [
        "robot_planner.sim.world",
        "pybullet",
        "robot_planner.sim.truth",
    ]


# --- one verdict ------------------------------------------------------------------------

GOAL = Fact.parse("in(green_block,left_bin)")
COMMAND = "put the green block in the left bin"


class GoalDenier:
    """A camera that contradicts the goal and cannot place any block: after it raises
    its alarm, the re-plan from what it perceives must fail, while in the simulator the
    goal holds. Every other fact it confirms, so the run goes as planned until then."""

    name = "goal-denier"

    def answer(self, observation, question, fact) -> VqaAnswer:
        return VqaAnswer(fact != GOAL, 1.0, "scripted")

    def estimate_facts(self, observation) -> frozenset[Fact]:
        return frozenset()


def test_verdict_is_the_systems_own_with_ground_truth_beside():
    goal = frozenset({GOAL})
    failed = judge_run(Outcome.FAILED, "re-planning failed: lost", goal, goal, goal)
    assert failed["success"] is False and failed["reason"] == "re-planning failed: lost"
    assert failed["ground_truth"]["goal_holds"] is True
    assert failed["ground_truth"]["agrees"] is False
    unseen = judge_run(Outcome.SUCCEEDED, "", goal, frozenset(), goal)
    assert unseen["success"] is False and "not observed to hold" in unseen["reason"]
    done = judge_run(Outcome.SUCCEEDED, "", goal, goal, frozenset())
    assert done["success"] is True and done["ground_truth"]["missing"] == [str(GOAL)]
    assert done["ground_truth"]["agrees"] is False
    assert judge_run(Outcome.SUCCEEDED, "", goal, goal, None)["ground_truth"] is None
    # A goal fact the perceiver cannot observe at all is reported, not failed.
    blind = judge_run(
        Outcome.SUCCEEDED, "", goal, frozenset(), goal, unchecked={str(GOAL): "too grey"}
    )
    assert blind["success"] is True and blind["goal_observed"] is True


def test_failed_replan_fails_the_run_even_when_the_goal_holds(scene, catalogue):
    report = run_episode(
        EpisodeConfig(command=COMMAND, seed=2, max_replans=2), catalogue, scene, vqa=GoalDenier()
    )
    assert report["outcome"] == "failed" and report["success"] is False
    assert report["reason"].startswith("re-planning failed:"), report["reason"]
    assert report["ground_truth"]["goal_holds"] is True  # the simulator disagrees
    assert report["ground_truth"]["agrees"] is False
    assert str(GOAL) in report["ground_truth"]["facts"]
    assert report["final_facts"] == [] and report["final_facts_source"] == "perception"
    lines = verdict_lines(report)
    assert lines[0].startswith("FAILED: goal not achieved (in(green_block,left_bin))")
    assert lines[0].endswith("; " + report["reason"])
    assert lines[1] == "simulator ground truth: goal holds"
    assert lines[2].startswith("DISAGREEMENT: the system reports failure")


def test_cli_run_exits_1_when_replanning_fails_though_the_goal_holds(monkeypatch, capsys):
    # The run's backend comes from the monitor's factory: replace it with the denier.
    monkeypatch.setattr(
        "robot_planner.monitor.backends.make_vqa", lambda *args, **kwargs: GoalDenier()
    )
    code = main(["run", "--command", COMMAND, "--seed", "2", "--max-replans", "2"])
    out = capsys.readouterr().out
    assert "; re-planning failed: " in out
    assert code == 1
    assert "== FAILED: goal not achieved (in(green_block,left_bin))" in out
    assert "== simulator ground truth: goal holds\n" in out
    assert "== DISAGREEMENT: the system reports failure, but in the simulator" in out
