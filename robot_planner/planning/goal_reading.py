"""A model's goal-only reply (goal mode), read and checked before the planner sees it.

In goal mode the LLM only says what must hold at the end (`plan.schema.goal_json_schema`);
the domain-independent planner (`general.plan_goal`) finds the actions. The reply is
untrusted data: every fact must parse, name known things of the right types
(`Scene.check_fact`) and hold together with the others (`Domain.contradictions`); every
robot assignment must name a known object and robot. Anything else comes back as error
lines for the repair loop, so only validated facts reach the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robot_planner.untrusted import shown
from robot_planner.world.facts import Fact, FactError
from robot_planner.world.scene import Scene

#: More goal facts than this is not a reading of one command (the tabletop has ~50).
MAX_GOAL_FACTS = 200
#: Error lines reported per reply (a model that gets everything wrong needs only a few).
MAX_ERRORS = 20


@dataclass(frozen=True)
class GoalReading:
    """What a model read from a command: the goal, its steps and the robots named.

    Attributes:
        command: the command the reply says it read (compared with the request's).
        goal: every fact that must hold at the end.
        steps: fact -> step for "then" commands (facts in no step are in step 0).
        assign: object -> robot the command names for it.
    """

    command: str
    goal: tuple[Fact, ...]
    steps: dict[Fact, int] = field(default_factory=dict)
    assign: dict[str, str] = field(default_factory=dict)


def _facts(values: Any, where: str, scene: Scene, errors: list[str]) -> list[Fact]:
    if not isinstance(values, list):
        errors.append(f"{where} must be a list of facts, got {type(values).__name__}")
        return []
    facts: list[Fact] = []
    for index, value in enumerate(values[:MAX_GOAL_FACTS]):
        try:
            fact = scene.check_fact(scene.domain.parse_fact(value))
        except FactError as exc:
            errors.append(f"{where}[{index}]: {exc}")
            continue
        if fact not in facts:
            facts.append(fact)
    if len(values) > MAX_GOAL_FACTS:
        errors.append(f"{where} has {len(values)} facts; at most {MAX_GOAL_FACTS} are read")
    return facts


def _assignments(values: Any, goal: list[Fact], scene: Scene, errors: list[str]) -> dict:
    """`robots` as object -> robot: a list of {object, robot} pairs (the strict-mode
    shape) or, from a server without schemas, a plain {object: robot} map."""
    if isinstance(values, dict):
        values = [{"object": k, "robot": v} for k, v in values.items()]
    if not isinstance(values, list):
        errors.append(f"robots must be a list of {{object, robot}} pairs, got {values!r:.40}")
        return {}
    named = {arg for fact in goal for arg in fact.args}
    assign: dict[str, str] = {}
    for index, pair in enumerate(values[:MAX_GOAL_FACTS]):
        if not isinstance(pair, dict):
            errors.append(f"robots[{index}] must be an object with object and robot")
            continue
        obj, robot = pair.get("object"), pair.get("robot")
        if not isinstance(obj, str) or obj not in scene.objects:
            errors.append(f"robots[{index}]: unknown object '{shown(str(obj))}'")
        elif not isinstance(robot, str) or robot not in scene.robots:
            errors.append(f"robots[{index}]: unknown robot '{shown(str(robot))}'")
        elif obj not in named:
            errors.append(f"robots[{index}]: no goal fact is about {obj}")
        elif assign.get(obj, robot) != robot:
            errors.append(f"robots[{index}]: {obj} is given to both {assign[obj]} and {robot}")
        else:
            assign[obj] = robot
    return assign


def read_goal(data: Any, scene: Scene) -> tuple[GoalReading | None, list[str]]:
    """The checked reading in a parsed reply, or None and the error lines to send back.

    Contradictory goals (an object in two places) are errors too: the model may have
    misread the command, and a repair round costs less than a refused plan.
    """
    if not isinstance(data, dict):
        return None, [f"the reply must be a JSON object, got {type(data).__name__}"]
    errors: list[str] = []
    command = data.get("command", "")
    if not isinstance(command, str):
        errors.append("command must be a string: the command, copied verbatim")
        command = ""
    unknown = sorted(set(data) - {"command", "goal", "order", "robots"})
    if unknown:
        errors.append(
            f"unknown keys {[shown(k) for k in unknown[:5]]}; use command, goal, order, robots"
        )
    goal = _facts(data.get("goal", []), "goal", scene, errors)
    steps: dict[Fact, int] = {}
    order = data.get("order") or []
    if not isinstance(order, list):
        errors.append(f"order must be a list of steps, got {type(order).__name__}")
        order = []
    for step, facts in enumerate(order[:MAX_GOAL_FACTS]):
        for fact in _facts(facts, f"order[{step}]", scene, errors):
            if fact not in goal:
                errors.append(f"order[{step}]: {fact} is not in the goal; list it there too")
            elif fact in steps:
                errors.append(f"order[{step}]: {fact} is already in step {steps[fact]}")
            else:
                steps[fact] = step
    assign = _assignments(data.get("robots") or [], goal, scene, errors)
    errors += scene.domain.contradictions(goal)
    if errors:
        return None, errors[:MAX_ERRORS]
    return GoalReading(command, tuple(goal), steps, assign), []
