"""Goal mode (the model reads the goal, the domain-independent planner plans) and the
rule of both modes that a reply must be about the command that was sent.

The OpenAI backend talks to the scripted local server (`fake_openai`); every plan that
comes out is compared with what `plan_goal` makes from the same goal, so the test knows
the planner, not the model, wrote it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from fake_openai import FakeOpenAIServer

from robot_planner.cli import main
from robot_planner.plan.schema import goal_json_schema, ground_facts
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError, PlanRequest
from robot_planner.planning.config import OpenAISettings, PlannerConfig, make_planner
from robot_planner.planning.general import plan_goal
from robot_planner.planning.goal_reading import read_goal
from robot_planner.planning.llm import command_mismatch, same_command
from robot_planner.planning.openai_backend import OpenAIPlanner
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.loading import ConfigError
from robot_planner.world.scene import Scene, load_scene

pytestmark = pytest.mark.timeout(120)

KEY_ENV = "RP_TEST_GOAL_MODE_KEY"
COMMAND = "put the red block in the right bin, then stack the green block on the blue block"
RED_IN_BIN = "in(red_block,right_bin)"
GREEN_ON_BLUE = "on(green_block,blue_block)"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, clean_openai_env: None) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture
def make(server: FakeOpenAIServer, catalogue: Catalogue, scene: Scene) -> Any:
    def build(mode: str = "goal", **overrides: Any) -> OpenAIPlanner:
        values: dict[str, Any] = {
            "model": "fake-model",
            "base_url": server.base_url,
            "api_key_env": KEY_ENV,
            "timeout_s": 5.0,
            "max_retries": 0,
            "max_repairs": 2,
            "structured_output": "json_schema",
        }
        values.update(overrides)
        return OpenAIPlanner(
            OpenAISettings(**values), catalogue, scene, sleep=lambda _: None, planning_mode=mode
        )

    return build


def goal_reply(
    command: str = COMMAND,
    goal: tuple[str, ...] = (RED_IN_BIN, GREEN_ON_BLUE),
    order: list[list[str]] | None = None,
    robots: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {"command": command, "goal": list(goal), "order": order or [], "robots": robots or []}


def request(scene: Scene, command: str = COMMAND) -> PlanRequest:
    return PlanRequest(command, scene.initial_facts())


def planner_plan(scene: Scene, catalogue: Catalogue, goal: list[str], **kwargs: Any) -> dict:
    """What the domain-independent planner makes of `goal` from the start (as JSON)."""
    facts = [Fact.parse(f) for f in goal]
    plan = plan_goal(COMMAND, facts, scene.initial_facts(), scene, catalogue, **kwargs)
    return plan.to_dict()


# --- the goal schema -------------------------------------------------------------------------


def _objects(node: Any) -> list[dict]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


@pytest.mark.parametrize("scene_name", ["tabletop", "logistics"])
def test_goal_schema_is_generated_from_the_domain(scene_name):
    scene = load_scene(scene_name)
    schema = goal_json_schema(scene)
    jsonschema.Draft202012Validator.check_schema(schema)
    for obj in _objects(schema):  # OpenAI strict mode: all required, nothing else
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    props = schema["properties"]
    assert list(props) == ["command", "goal", "order", "robots"]
    facts = ground_facts(scene)
    assert props["goal"]["items"]["enum"] == facts
    assert props["order"]["items"]["items"]["enum"] == facts
    pair = props["robots"]["items"]["properties"]
    assert pair["object"]["enum"] == list(scene.objects)
    assert pair["robot"]["enum"] == list(scene.robots)
    assert "enum" not in props["command"]  # stable: the same schema for every command
    # Only the scene's own vocabulary: a fact about another world does not validate.
    validator = jsonschema.Draft202012Validator(schema)
    first = facts[0]
    assert validator.is_valid(goal_reply("x", (first,)))
    other = "in(red_block,right_bin)" if scene_name == "logistics" else "in(red_parcel,dock)"
    assert not validator.is_valid(goal_reply("x", (other,)))
    pinned = goal_json_schema(scene, command="move it")
    assert pinned["properties"]["command"]["enum"] == ["move it"]


def test_logistics_goal_reading_and_planning(catalogue):
    """The same code reads a logistics goal and plans it: nothing tabletop-specific."""
    scene = load_scene("logistics")
    facts = [f for f in ground_facts(scene) if f.startswith("in(red_parcel")]
    assert facts, ground_facts(scene)
    reading, errors = read_goal(goal_reply("ship the red parcel", (facts[0],)), scene)
    assert errors == [] and reading is not None
    plan = plan_goal(
        "ship the red parcel",
        reading.goal,
        scene.initial_facts(),
        scene,
        scene.domain.catalogue,
    )
    assert plan.tasks and validate_plan(plan, scene.domain.catalogue, scene).ok


# --- goal mode, OpenAI backend -------------------------------------------------------------


def test_goal_reply_becomes_the_planners_validated_plan(make, server, scene, catalogue):
    server.plan(goal_reply(), prompt_tokens=300, completion_tokens=20)
    result = make().plan(request(scene))
    assert result.backend == "openai" and result.attempts == 1
    assert result.usage == {"prompt_tokens": 300, "completion_tokens": 20}
    assert result.guesses == ["the openai model's reading of the command"]
    assert result.plan.to_dict() == planner_plan(scene, catalogue, [RED_IN_BIN, GREEN_ON_BLUE])
    assert validate_plan(result.plan, catalogue, scene, scene.initial_facts()).ok
    body = server.requests[0]["body"]
    fmt = body["response_format"]["json_schema"]
    assert fmt["name"] == "goal" and fmt["strict"] is True
    assert fmt["schema"] == goal_json_schema(scene)
    system, user = (m["content"] for m in body["messages"])
    assert "Is BLOCK inside BIN?" in system  # predicates with their questions
    assert "left_arm (arm, franka_panda)" in system and "left_bin" in system
    assert '"tasks"' not in system  # the model is not asked for tasks
    assert COMMAND in user and "at(red_block,left_side)" in user


def test_order_and_robots_reach_the_planner(make, server, scene, catalogue, monkeypatch):
    """'then' steps and a named robot are passed on, as the offline planner passes them."""
    from robot_planner.planning import general

    calls: list[tuple[tuple, dict]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return plan_goal(*args, **kwargs)

    monkeypatch.setattr(general, "plan_goal", spy)
    reply = goal_reply(
        order=[[RED_IN_BIN], [GREEN_ON_BLUE]],
        robots=[{"object": "red_block", "robot": "right_arm"}],
    )
    server.plan(reply)
    plan = make().plan(request(scene)).plan
    ((args, _),) = calls
    steps, assign = args[5], args[6]
    assert steps == {Fact.parse(RED_IN_BIN): 0, Fact.parse(GREEN_ON_BLUE): 1}
    assert assign == {"red_block": "right_arm"}
    expected = planner_plan(
        scene, catalogue, [RED_IN_BIN, GREEN_ON_BLUE], steps=steps, assign=assign
    )
    assert plan.to_dict() == expected
    # "then": the stacking waits for the red block's last task.
    ids = {t.id: t for t in plan.tasks}
    red_last = [t for t in plan.tasks if t.args.get("object") == "red_block"][-1]
    green_first = next(t for t in plan.tasks if t.args.get("object") == "green_block")

    def before(task_id: str) -> set[str]:
        seen: set[str] = set()
        todo = list(ids[task_id].depends_on)
        while todo:
            dep = todo.pop()
            if dep not in seen:
                seen.add(dep)
                todo += ids[dep].depends_on
        return seen

    assert red_last.id in before(green_first.id)
    assert red_last.robot == "right_arm"


def test_bad_fact_is_repaired(make, server, scene):
    server.plan(
        goal_reply(goal=("in(purple_block,right_bin)", GREEN_ON_BLUE)), completion_tokens=5
    )
    server.plan(goal_reply(), completion_tokens=9)
    result = make().plan(request(scene))
    assert result.attempts == 2
    assert result.usage["completion_tokens"] == 14
    assert sorted(result.plan.goal) == [RED_IN_BIN, GREEN_ON_BLUE]
    second = server.sent_messages(1)
    assert second[:2] == server.sent_messages(0)
    assert second[2]["role"] == "assistant" and "purple_block" in second[2]["content"]
    repair = second[3]["content"]
    assert "That goal was rejected" in repair
    assert "goal[0]: 'in(purple_block,right_bin)': unknown name 'purple_block'" in repair


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (goal_reply(goal=("in(red_block,right_bin)", "in(red_block,left_bin)")), "cannot both"),
        (goal_reply(goal=("in(right_bin,red_block)",)), "is a bin, not a block"),
        (goal_reply(order=[["at(red_block,center_zone)"]]), "is not in the goal"),
        (goal_reply(robots=[{"object": "red_block", "robot": "arm_3"}]), "unknown robot"),
        (goal_reply(robots=[{"object": "yellow_block", "robot": "left_arm"}]), "no goal fact"),
    ],
    ids=["contradiction", "wrong-types", "order-not-in-goal", "unknown-robot", "unused-robot"],
)
def test_bad_goal_is_refused_with_one_line_after_the_budget(make, server, scene, reply, expected):
    for _ in range(3):
        server.plan(reply)
    with pytest.raises(PlanningError) as info:
        make().plan(request(scene))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("openai backend gave no valid goal in 3 attempt(s); last problem:")
    assert expected in message
    assert len(server.requests) == 3
    assert expected in server.sent_messages(2)[-1]["content"]  # each time sent back


def test_empty_goal_is_a_refusal_at_once(make, server, scene):
    server.plan(goal_reply(goal=()))
    with pytest.raises(PlanningError, match=r"refused the command \(no goal\): 'put the red"):
        make().plan(request(scene))
    assert len(server.requests) == 1


def test_goal_the_planner_cannot_reach_goes_back_to_the_model(make, server, scene):
    """A goal the planner proves impossible here is sent back (often a misreading)."""
    tower = goal_reply(goal=("holding(left_arm,red_block)", "holding(right_arm,red_block)"))
    server.plan(tower)
    server.plan(goal_reply())
    result = make().plan(request(scene))
    assert result.attempts == 2
    assert "cannot both hold" in server.sent_messages(1)[-1]["content"]


# --- the reply's command must be the request's (both modes) ------------------------------


def test_command_comparison_ignores_only_case_and_spacing():
    assert same_command(
        "  Put the RED block\tin the right bin ", "put the red block in the right bin"
    )
    assert not same_command(
        "put the red block in the left bin", "put the red block in the right bin"
    )
    assert command_mismatch("put red in the bin", "put red in the bin") is None
    line = command_mismatch("put the blue block in the left bin", "put red in the bin")
    assert line == (
        "the reply plans 'put the blue block in the left bin', but the command is "
        "'put red in the bin'"
    )
    assert "names no command" in command_mismatch(None, "put red in the bin")
    assert "\n" not in command_mismatch("a\nforged line", "b")


def test_goal_mode_other_command_is_repaired(make, server, scene):
    server.plan(
        goal_reply(command="put the blue block in the left bin", goal=("in(blue_block,left_bin)",))
    )
    server.plan(goal_reply(command=COMMAND.upper() + "  "))  # case and spacing: the same
    result = make().plan(request(scene))
    assert result.attempts == 2
    repair = server.sent_messages(1)[-1]["content"]
    assert (
        "the reply plans 'put the blue block in the left bin', but the command is 'put the red"
        in repair
    )


def test_goal_mode_other_command_every_time_is_a_planning_error(make, server, scene):
    for _ in range(3):
        server.plan(goal_reply(command="put the blue block in the left bin"))
    with pytest.raises(PlanningError) as info:
        make().plan(request(scene))
    message = str(info.value)
    assert "\n" not in message and "gave no valid goal in 3 attempt(s)" in message
    assert "the reply plans 'put the blue block in the left bin', but the command is" in message


def test_dag_mode_other_command_is_repaired_then_refused(make, server, scene, handover):
    command = handover["command"]
    other = copy.deepcopy(handover)
    other["command"] = "put the red block in the left bin"
    server.plan(other)
    server.plan(handover)
    result = make("dag").plan(request(scene, command))
    assert result.attempts == 2
    assert result.guesses == ["the openai model's reading of the command"]
    assert (
        "the reply plans 'put the red block in the left bin'"
        in server.sent_messages(1)[-1]["content"]
    )
    # The same wrong reply every time: refused with one line after the budget.
    for _ in range(3):
        server.plan(other)
    with pytest.raises(PlanningError) as info:
        make("dag").plan(request(scene, command))
    message = str(info.value)
    assert message == (
        "openai backend gave no valid plan in 3 attempt(s); last problem: the reply plans "
        f"'put the red block in the left bin', but the command is '{command}'"
    )
    missing = copy.deepcopy(handover)
    del missing["command"]
    for _ in range(3):
        server.plan(missing)
    with pytest.raises(PlanningError, match="the reply names no command"):
        make("dag").plan(request(scene, command))


# --- re-planning and configuration --------------------------------------------------------------


def test_goal_mode_replan_asks_no_model(make, server, scene, catalogue):
    """The goal is known: the planner plans what remains from the observed state."""
    observed = (scene.initial_facts() - {Fact.parse("at(red_block,left_side)")}) | {
        Fact.parse("at(red_block,center_zone)")
    }
    replan = PlanRequest(
        COMMAND,
        scene.derive(observed),
        goal=(Fact.parse(RED_IN_BIN),),
        evidence="the red block slipped",
    )
    result = make().replan(replan)
    assert server.requests == []  # no model call at all
    assert result.attempts == 0 and result.usage == {}
    assert result.plan.goal == [RED_IN_BIN]
    assert result.plan.tasks[0].args == {"object": "red_block"}
    assert validate_plan(result.plan, catalogue, scene, replan.state).ok
    assert any("without a model call" in note for note in result.notes)


def test_dag_mode_replan_still_asks_the_model(make, server, scene, handover):
    server.plan(handover)
    replan = PlanRequest(
        handover["command"], scene.initial_facts(), goal=(Fact.parse(RED_IN_BIN),)
    )
    make("dag").replan(replan)
    assert len(server.requests) == 1


def test_mode_comes_from_the_planner_config(tmp_path, server, catalogue, scene):
    config = PlannerConfig(
        backend="openai", mode="goal", openai=OpenAISettings(base_url=server.base_url)
    )
    planner = make_planner(config, catalogue, scene)
    assert isinstance(planner, OpenAIPlanner) and planner.planning_mode == "goal"
    assert PlannerConfig().mode == "dag"
    path = tmp_path / "planner.yaml"
    path.write_text("backend: openai\nmode: plan\n")
    from robot_planner.planning.config import load_planner_config

    with pytest.raises(ConfigError, match="mode"):
        load_planner_config(path)
    with pytest.raises(PlanningError, match="planning mode must be one of dag, goal"):
        OpenAIPlanner(config.openai, catalogue, scene, planning_mode="both")


# --- the CLI -------------------------------------------------------------------------------


def _config(tmp_path, server: FakeOpenAIServer, mode: str) -> str:
    path = tmp_path / f"planner_{mode}.yaml"
    path.write_text(
        f"backend: openai\nmode: {mode}\nopenai:\n  base_url: {server.base_url}\n"
        f"  api_key_env: {KEY_ENV}\n  max_retries: 0\n  structured_output: json_schema\n"
        "  timeout_s: 5\n"
    )
    return str(path)


def test_plan_command_in_goal_mode(tmp_path, server, capsys):
    server.plan(goal_reply())
    code = main(
        [
            "plan",
            "--json",
            "--planner-config",
            _config(tmp_path, server, "goal"),
            "--command",
            COMMAND,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads(out)
    plan = data.get("plan", data)
    assert sorted(plan["goal"]) == [RED_IN_BIN, GREEN_ON_BLUE]
    assert server.requests[0]["body"]["response_format"]["json_schema"]["name"] == "goal"


def test_plan_command_refuses_a_reply_for_another_command(tmp_path, server, capsys):
    for _ in range(3):
        server.plan(goal_reply(command="put the yellow block in the left bin"))
    code = main(
        ["plan", "--planner-config", _config(tmp_path, server, "goal"), "--command", COMMAND]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "the reply plans 'put the yellow block in the left bin'" in err


def test_bench_planner_both_modes_side_by_side(tmp_path, server, scene, catalogue, capsys):
    """The fake endpoint answers every command of the table right in both modes, except
    one goal-mode reply for another command (repaired); the report shows both."""
    from robot_planner.bench.commands import COMMANDS

    state = scene.initial_facts()
    for command, expected in ((c, e) for _, c, e in COMMANDS):
        if expected is None:
            server.plan({"command": command, "goal": [], "tasks": []})
            continue
        facts = [Fact.parse(f) for f in sorted(expected)]
        server.plan(plan_goal(command, facts, state, scene, catalogue).to_dict())
    first = COMMANDS[0][1]
    server.plan(
        goal_reply(
            command="put the green block in the left bin", goal=("in(green_block,left_bin)",)
        )
    )
    for command, expected in ((c, e) for _, c, e in COMMANDS):
        server.plan(goal_reply(command=command, goal=tuple(sorted(expected or ()))))
    out_dir = tmp_path / "bench"
    code = main(
        [
            "bench",
            "planner",
            "--mode",
            "both",
            "--json",
            "--out",
            str(out_dir),
            "--planner-config",
            _config(tmp_path, server, "dag"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["modes"] == ["dag", "goal"] and report["backend"] == "openai"
    n = len(COMMANDS)
    for mode in ("dag", "goal"):
        line = report["summary"][mode]
        assert line["goal_accuracy"] == 1.0, report["reports"][mode]["wrong"]
        assert line["tokens"] > 0 and line["latency_ms_median"] > 0
        assert report["reports"][mode]["mode"] == mode
    planned = sum(1 for _, _, e in COMMANDS if e is not None)
    assert report["summary"]["dag"]["valid_plans"] == planned
    assert report["summary"]["goal"]["valid_plans"] == planned
    assert report["differ"] == []
    goal_rows = report["reports"]["goal"]["rows"]
    assert goal_rows[0]["command"] == first and goal_rows[0]["attempts"] == 2
    assert len(server.requests) == 2 * n + 1  # everything scripted was asked, nothing more
    markdown = (out_dir / "planner.md").read_text()
    assert "| metric | dag | goal |" in markdown
    assert "| goal accuracy | 100.0% | 100.0% |" in markdown
    assert (out_dir / "planner_latency.png").is_file()


def test_bench_planner_mode_needs_an_llm_backend(tmp_path, capsys):
    code = main(["bench", "planner", "--mode", "both", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--mode: the offline planner has one mode" in err
    assert len(err.strip().splitlines()) == 1
