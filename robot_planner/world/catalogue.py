"""The skill catalogue (``config/skills.yaml``) and its symbolic semantics.

One data file describes every skill: typed arguments, timeout, which argument places
the robot must reach, preconditions and effects in the fact vocabulary. From it come
the validator's checks, the plan JSON Schema, the planner prompt and the voice grammar,
so adding a skill is one YAML entry plus its implementation in each robot adapter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robot_planner.world.facts import PREDICATES, Fact, FactError, derive
from robot_planner.world.loading import load_yaml_model
from robot_planner.world.scene import Scene, location_of

ArgType = Literal["block", "target", "place", "number", "integer", "string", "boolean"]

#: Which scene kinds each name-valued argument type admits.
NAME_KINDS: dict[str, tuple[str, ...]] = {
    "block": ("block",),
    "target": ("block", "bin", "zone"),
    "place": ("bin", "zone"),
}
_TEMPLATE_RE = re.compile(r"^\s*([a-z_]+)\s*\(([^()]*)\)\s*$")
MAX_STRING_ARG = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArgSpec(_Strict):
    """One typed skill argument."""

    type: ArgType
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None


class Condition(_Strict):
    """A precondition fact template, optionally only for arguments of some kind."""

    fact: str
    when: dict[str, str] = {}


class Effect(_Strict):
    """Facts added and deleted by a skill, optionally only for arguments of some kind."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    add: tuple[str, ...] = ()
    delete: tuple[str, ...] = Field((), alias="del")
    when: dict[str, str] = {}


class SkillSpec(_Strict):
    """A skill: what it does, its arguments, timeout and symbolic model."""

    description: str
    timeout_s: float = Field(gt=0)
    args: dict[str, ArgSpec] = {}
    distinct: tuple[tuple[str, str], ...] = ()
    reach: tuple[str, ...] = ()
    preconditions: tuple[Condition, ...] = ()
    effects: tuple[Effect, ...] = ()
    #: "during" constraints hold until the skill enters this phase (e.g. a place's
    #: release, where the gripper opens on purpose); None: for the whole skill.
    during_until: str | None = None

    @model_validator(mode="after")
    def _templates_refer_to_arguments(self) -> SkillSpec:
        names = set(self.args) | {"robot"}
        templates = [c.fact for c in self.preconditions]
        for effect in self.effects:
            templates += list(effect.add) + list(effect.delete)
        for template in templates:
            match = _TEMPLATE_RE.match(template)
            if match is None or match.group(1) not in PREDICATES:
                raise ValueError(f"'{template}' is not a fact template")
            for part in (p.strip() for p in match.group(2).split(",")):
                if part.startswith("?") and part[1:] not in names:
                    raise ValueError(f"'{template}' refers to unknown argument {part}")
        for arg in list(self.reach) + [a for pair in self.distinct for a in pair]:
            if arg not in self.args:
                raise ValueError(f"'{arg}' is not an argument of this skill")
        for cond in list(self.preconditions) + list(self.effects):
            for arg in cond.when:
                if arg not in self.args:
                    raise ValueError(f"`when` names unknown argument '{arg}'")
        return self


class Catalogue(_Strict):
    """All skills, keyed by name."""

    version: int = 1
    skills: dict[str, SkillSpec]

    @field_validator("skills")
    @classmethod
    def _not_empty(cls, value: dict[str, SkillSpec]) -> dict[str, SkillSpec]:
        if not value:
            raise ValueError("the catalogue has no skills")
        return value

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.skills)

    def timeout(self, skill: str) -> float:
        return self.skills[skill].timeout_s

    # --- argument checking -----------------------------------------------------------

    def argument_errors(self, skill: str, args: Mapping[str, Any], scene: Scene) -> list[str]:
        """Problems with a call's arguments (missing, extra, wrong type, unknown name)."""
        spec = self.skills[skill]
        errors = []
        missing = [a for a in spec.args if a not in args]
        extra = [a for a in args if a not in spec.args]
        if missing:
            errors.append(f"{skill} is missing argument(s) {', '.join(missing)}")
        if extra:
            allowed = ", ".join(spec.args) or "none"
            errors.append(
                f"{skill} does not take argument(s) {', '.join(map(str, extra))} "
                f"(it takes: {allowed})"
            )
        for name, arg in spec.args.items():
            if name in args:
                problem = _argument_problem(arg, args[name], scene)
                if problem:
                    errors.append(f"{skill} argument {name}: {problem}")
        for first, second in spec.distinct:
            if first in args and args.get(first) == args.get(second):
                errors.append(
                    f"{skill}: {first} and {second} are both '{args[first]}' "
                    f"(a block cannot be placed on itself)"
                )
        return errors

    # --- symbolic semantics ----------------------------------------------------------

    def reach_errors(
        self, skill: str, robot: str, args: Mapping[str, Any], scene: Scene, facts: frozenset
    ) -> list[str]:
        """Places this call needs that the robot cannot reach in the given state."""
        errors = []
        for arg in self.skills[skill].reach:
            name = args[arg]
            if scene.kind_of(name) == "block":
                place = location_of(name, facts)
                if place is None:
                    errors.append(f"the location of {name} is unknown at that point")
                    continue
                if place in scene.robots:
                    continue  # held: the holder's reach was checked when it was picked
            else:
                place = name
            if not scene.reaches(robot, place):
                reach = ", ".join(scene.robots[robot].reach)
                via = f" ({name} is in/at {place})" if place != name else ""
                errors.append(f"{robot} cannot reach {place}{via}; it reaches {reach}")
        return errors

    def unmet_preconditions(
        self, skill: str, robot: str, args: Mapping[str, Any], scene: Scene, facts: frozenset
    ) -> list[Fact]:
        """Precondition facts of this call that do not hold in `facts`."""
        binding = _binding(robot, args)
        unmet = []
        for cond in self.skills[skill].preconditions:
            if _applies(cond.when, args, scene):
                wanted = _ground(cond.fact, binding)
                if wanted not in facts:
                    unmet.append(wanted)
        return unmet

    def apply(
        self, skill: str, robot: str, args: Mapping[str, Any], scene: Scene, facts: frozenset
    ) -> frozenset[Fact]:
        """The state after the call succeeds (STRIPS-style, with derived facts recomputed)."""
        binding = _binding(robot, args)
        state = set(facts)
        for effect in self.skills[skill].effects:
            if not _applies(effect.when, args, scene):
                continue
            for template in effect.delete:
                pattern = _ground(template, binding, wildcard=True)
                state = {f for f in state if not _matches(pattern, f)}
            for template in effect.add:
                state.add(_ground(template, binding))
        return derive(state, scene.blocks)


def _argument_problem(spec: ArgSpec, value: Any, scene: Scene) -> str | None:
    if spec.type in NAME_KINDS:
        kinds = NAME_KINDS[spec.type]
        if not isinstance(value, str):
            return f"expected the name of a {' / '.join(kinds)}, got {type(value).__name__}"
        kind = scene.kind_of(value)
        if kind is None:
            return f"unknown {' / '.join(kinds)} '{value[:60]}'"
        if kind not in kinds:
            return f"'{value}' is a {kind}, expected a {' / '.join(kinds)}"
        return None
    if spec.type in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a {spec.type}, got {type(value).__name__}"
        if isinstance(value, int) and abs(value) > 10**15:
            return "number is too large"
        if spec.type == "integer" and not isinstance(value, int):
            return f"expected an integer, got {value!r}"
        if not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        if spec.minimum is not None and value < spec.minimum:
            return f"{value} is below the minimum {spec.minimum:g}"
        if spec.maximum is not None and value > spec.maximum:
            return f"{value} is above the maximum {spec.maximum:g}"
        return None
    if spec.type == "boolean":
        return None if isinstance(value, bool) else f"expected true/false, got {value!r}"
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if len(value) > MAX_STRING_ARG:
        return f"string longer than {MAX_STRING_ARG} characters"
    return None


def _binding(robot: str, args: Mapping[str, Any]) -> dict[str, str]:
    binding = {"robot": robot}
    binding.update({k: str(v) for k, v in args.items()})
    return binding


def _applies(when: Mapping[str, str], args: Mapping[str, Any], scene: Scene) -> bool:
    return all(scene.kind_of(str(args.get(arg))) == kind for arg, kind in when.items())


def _ground(template: str, binding: Mapping[str, str], wildcard: bool = False) -> Fact:
    match = _TEMPLATE_RE.match(template)
    if match is None:  # guarded by SkillSpec validation
        raise FactError(f"bad template {template}")
    parts = []
    for part in (p.strip() for p in match.group(2).split(",")):
        if part.startswith("?"):
            parts.append(binding[part[1:]])
        elif part == "*" and wildcard:
            parts.append("*")
        else:
            parts.append(part)
    return Fact(match.group(1), tuple(parts))


def _matches(pattern: Fact, fact: Fact) -> bool:
    return pattern.predicate == fact.predicate and all(
        p in ("*", a) for p, a in zip(pattern.args, fact.args, strict=False)
    )


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load the catalogue (the packaged one by default); raise `ConfigError` on problems."""
    from robot_planner.resources import catalogue_path

    return load_yaml_model(Path(path) if path else catalogue_path(), Catalogue, "catalogue")
