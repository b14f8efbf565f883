"""LLM prompts assembled from `config/prompts/` templates, the catalogue and the scene.

The system message is the stable part (rules, skills, scene, schema, examples) and comes
first, so provider-side prompt caching applies across commands; the user message carries
what changes (current facts, the command, re-plan context). Templates use
`string.Template` ($name) so JSON braces in them need no escaping. Nothing from a model
is ever executed: replies are parsed as JSON and validated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

from robot_planner.plan.schema import goal_json_schema, plan_json_schema
from robot_planner.planning.base import PlanRequest
from robot_planner.resources import share_dir
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import format_facts
from robot_planner.world.scene import Scene

Message = dict[str, str]
MAX_ERRORS_ECHOED = 20


@lru_cache(maxsize=16)
def _template(name: str, directory: str) -> Template:
    return Template((Path(directory) / name).read_text())


def _prompt_dir(directory: Path | None) -> str:
    return str(directory or share_dir() / "config" / "prompts")


def describe_skills(catalogue: Catalogue) -> str:
    lines = []
    for name, skill in catalogue.skills.items():
        args = ", ".join(f"{a}: {spec.label}" for a, spec in skill.args.items()) or "no arguments"
        lines.append(f"- {name}({args}): {skill.description}")
        if skill.preconditions:
            pre = ", ".join(
                c.fact + (f" when {c.when}" if c.when else "") for c in skill.preconditions
            )
            lines.append(f"  needs: {pre}")
    return "\n".join(lines)


def describe_scene(scene: Scene) -> str:
    """Robots (kind, skills, reach), objects and places by type, from the scene."""
    domain = scene.domain
    lines = ["Robots:"]
    for name, robot in scene.robots.items():
        skills = ", ".join(domain.skills_of(robot.kind))
        lines.append(
            f"- {name} ({robot.kind}, {robot.model}): skills {skills}; "
            f"reaches {', '.join(robot.reach) or 'nothing'}"
        )
    by_type: dict[str, list[str]] = {}
    for name, spec in [*scene.objects.items(), *scene.places.items()]:
        label = f"{name} ({spec.color})" if getattr(spec, "color", "") else name
        by_type.setdefault(spec.type, []).append(label)
    for type_name, names in by_type.items():
        parents = domain.ancestors(type_name)[1:]
        kind = f" (a kind of {parents[0]})" if parents else ""
        lines.append(f"{type_name}{kind}: {', '.join(names)}")
    lines.append(
        "Something in or at a place can be reached by the robots that reach that place;"
        " something standing on another object is where that object is."
    )
    return "\n".join(lines)


def describe_vocabulary(scene: Scene) -> str:
    """Each predicate with its argument types and what "yes" to its question means."""
    lines = []
    for name, spec in scene.domain.predicates.items():
        args = ",".join(a.upper() for a in spec.args)
        question = spec.question.format(*(a.upper() for a in spec.args)) if spec.question else ""
        derived = (
            " (derived: recomputed from the other facts)" if spec.observed == "derived" else ""
        )
        lines.append(f"- {name}({args}){': ' + question if question else ''}{derived}")
    return "\n".join(lines)


@dataclass
class PromptBuilder:
    """Builds chat messages for one catalogue and scene."""

    catalogue: Catalogue
    scene: Scene
    directory: Path | None = None

    def schema(self, command: str | None = None) -> dict[str, Any]:
        """The plan schema; with `command`, one that only admits that command."""
        return plan_json_schema(self.catalogue, self.scene, command=command)

    def goal_schema(self, command: str | None = None) -> dict[str, Any]:
        """The goal-only schema (goal mode); with `command`, only that command."""
        return goal_json_schema(self.scene, command=command)

    def _examples(self) -> list[dict[str, Any]]:
        examples_file = Path(self.scene.domain.source).parent / "examples.json"
        return json.loads(examples_file.read_text()) if examples_file.is_file() else []

    def system(self) -> str:
        directory = _prompt_dir(self.directory)
        examples = self._examples()
        shots = "\n\n".join(
            f"Command: {e['command']}\nAnswer:\n{json.dumps(e['plan'])}" for e in examples
        )
        return _template("system.md", directory).substitute(
            skills=describe_skills(self.catalogue),
            scene_name=self.scene.name,
            scene=describe_scene(self.scene),
            vocabulary=describe_vocabulary(self.scene),
            schema=json.dumps(self.schema()),
            examples=shots,
        )

    def user(self, request: PlanRequest) -> str:
        directory = _prompt_dir(self.directory)
        facts = ", ".join(format_facts(request.state)) or "(none)"
        if not request.is_replan:
            return _template("user.md", directory).substitute(facts=facts, command=request.command)
        failed = request.failed_task
        failed_text = (
            f"{failed.id}: {failed.skill} on {failed.robot} with {json.dumps(failed.args)}"
            if failed is not None
            else "(none)"
        )
        return _template("replan.md", directory).substitute(
            facts=facts,
            command=request.command,
            goal=", ".join(format_facts(request.goal or ())) or "(as in the command)",
            completed=", ".join(request.completed) or "(none)",
            failed_task=failed_text,
            evidence=request.evidence or "(not given)",
            tried="; ".join(f.describe() for f in request.failures) or "(none)",
        )

    def messages(self, request: PlanRequest) -> list[Message]:
        return [
            {"role": "system", "content": self.system()},
            {"role": "user", "content": self.user(request)},
        ]

    # --- goal mode: the model reads the command, the planner plans ------------------------

    def goal_system(self) -> str:
        """The stable part of a goal-mode prompt: rules, scene, vocabulary, schema and
        the domain's examples reduced to their goals (the same for every command)."""
        shots = "\n\n".join(
            f"Command: {e['command']}\nAnswer:\n"
            + json.dumps(
                {"command": e["command"], "goal": e["plan"]["goal"], "order": [], "robots": []}
            )
            for e in self._examples()
        )
        return _template("goal_system.md", _prompt_dir(self.directory)).substitute(
            scene_name=self.scene.name,
            scene=describe_scene(self.scene),
            vocabulary=describe_vocabulary(self.scene),
            skills=describe_skills(self.catalogue),
            schema=json.dumps(self.goal_schema()),
            examples=shots or "(none)",
        )

    def goal_user(self, request: PlanRequest) -> str:
        facts = ", ".join(format_facts(request.state)) or "(none)"
        return _template("goal_user.md", _prompt_dir(self.directory)).substitute(
            facts=facts, command=request.command
        )

    def goal_messages(self, request: PlanRequest) -> list[Message]:
        return [
            {"role": "system", "content": self.goal_system()},
            {"role": "user", "content": self.goal_user(request)},
        ]

    def goal_repair(self, errors: list[str]) -> str:
        return _template("goal_repair.md", _prompt_dir(self.directory)).substitute(
            errors=_bullets(errors)
        )

    def repair(self, errors: list[str]) -> str:
        return _template("repair.md", _prompt_dir(self.directory)).substitute(
            errors=_bullets(errors)
        )


def _bullets(errors: list[str]) -> str:
    """At most MAX_ERRORS_ECHOED error lines as a list (a long list helps no model)."""
    shown = errors[:MAX_ERRORS_ECHOED]
    if len(errors) > len(shown):
        shown.append(f"... and {len(errors) - len(shown)} more")
    return "\n".join(f"- {e}" for e in shown)


def extract_json_object(text: str) -> str | None:
    """The first top-level JSON object in `text`, for servers without JSON mode (models
    wrap JSON in prose or code fences). None when there is none."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return text[match.start() : end]
    return None
