"""JSON Schema for task plans, generated from the catalogue and the scene.

LLM backends pass it as a structured-output schema (OpenAI ``json_schema`` with
``strict: true``, xgrammar for local models), so a decoder can only emit known skills,
robots, objects and facts. It follows the strict-mode subset: every object lists all
its properties as required and forbids others; alternatives use ``anyOf``; names are
``enum`` lists. The validator still checks everything the schema cannot say (cycles,
reach, preconditions), because not every server enforces schemas.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene


def ground_facts(scene: Scene) -> list[str]:
    """Every well-typed fact over the scene's names that could hold on its own (the
    fact enum for decoders)."""
    facts = []
    for predicate, spec in scene.domain.predicates.items():
        pools = [scene.names_of_type(t) for t in spec.args]
        for args in product(*pools):
            fact = Fact(predicate, tuple(args))
            if not scene.domain.contradictions([fact]):
                facts.append(str(fact))
    return facts


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _command(command: str | None) -> dict[str, Any]:
    """The `command` property: any string, or exactly the request's command when known,
    so a constrained decoder cannot plan a different one (the reply is still checked)."""
    schema: dict[str, Any] = {"type": "string", "description": "the command being planned"}
    if command is not None:
        schema["enum"] = [command]
        schema["description"] = "the command being planned, verbatim"
    return schema


def plan_json_schema(
    catalogue: Catalogue, scene: Scene, *, command: str | None = None
) -> dict[str, Any]:
    """The plan schema for this catalogue and scene (Draft 2020-12, strict-mode subset);
    with `command`, the reply's command must be exactly that."""
    facts = ground_facts(scene)
    constraint = _object(
        {
            "phase": {"type": "string", "enum": ["before", "during", "after"]},
            "fact": {"type": "string", "enum": facts},
            "question": {"type": "string", "description": "yes/no question for the camera"},
            "expected": {"type": "boolean", "description": "the answer when the fact holds"},
            "period_s": {"type": "number", "description": "seconds between checks"},
            "kind": {
                "type": "string",
                "enum": ["task", "collateral"],
                "description": "task: about what the task does; collateral: an object "
                "no running task changes stays where it is",
            },
        },
        "a fact that must hold before, during or after the task",
    )
    task_variants = []
    for name, skill in catalogue.skills.items():
        args = _object({a: spec.json_schema(scene) for a, spec in skill.args.items()})
        task_variants.append(
            _object(
                {
                    "id": {"type": "string", "description": "unique task id, e.g. t1"},
                    "skill": {"type": "string", "enum": [name], "description": skill.description},
                    "robot": {"type": "string", "enum": list(scene.robots)},
                    "args": args,
                    "depends_on": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "ids of tasks that must succeed before this one",
                    },
                    "constraints": {"type": "array", "items": {"$ref": "#/$defs/constraint"}},
                }
            )
        )
    schema = _object(
        {
            "command": _command(command),
            "goal": {
                "type": "array",
                "items": {"type": "string", "enum": facts},
                "description": "facts that must hold when the command is done",
            },
            "tasks": {"type": "array", "items": {"anyOf": task_variants}},
        },
        f"task plan for scene {scene.name}",
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "robot_planner task plan"
    schema["$defs"] = {"constraint": constraint}
    return schema


def goal_json_schema(scene: Scene, *, command: str | None = None) -> dict[str, Any]:
    """The schema of a goal-only reply (the LLM reads the command, the domain-independent
    planner makes the plan): what `general.plan_goal` takes and nothing more.

    ``goal`` is every fact that must hold at the end; ``order`` optionally splits the goal
    into steps for "then" (each inner list is one step; facts of a later step are made
    after those of earlier ones; goal facts in no step belong to the first); ``robots``
    optionally names the robot that must finish each listed object. Strict mode allows
    no free-form keys, so ``robots`` is a list of {object, robot} pairs, not a map.
    """
    facts = ground_facts(scene)
    fact = {"type": "string", "enum": facts}
    assignment = _object(
        {
            "object": {"type": "string", "enum": list(scene.objects)},
            "robot": {"type": "string", "enum": list(scene.robots)},
        },
        "the robot that must make the final change to this object",
    )
    schema = _object(
        {
            "command": _command(command),
            "goal": {
                "type": "array",
                "items": fact,
                "description": "facts that must hold when the command is done",
            },
            "order": {
                "type": "array",
                "items": {"type": "array", "items": fact},
                "description": "for 'then' commands: the goal's facts step by step, else empty",
            },
            "robots": {
                "type": "array",
                "items": assignment,
                "description": "robots the command names for objects, else empty",
            },
        },
        f"goal for scene {scene.name}",
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "robot_planner goal"
    return schema
