"""The skill catalogue (the ``skills:`` section of a domain file) and its semantics.

Each skill has typed arguments, a timeout, the arguments whose place the robot must
reach, and preconditions and effects as fact templates. From it come the validator's
checks, the plan JSON Schema, the planner prompt and the voice grammar. The templates'
predicates are checked against the domain's vocabulary when the domain loads
(`robot_planner.world.domain`); this module only knows their shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robot_planner.world.argtypes import ArgSpec
from robot_planner.world.facts import TEMPLATE_RE, Fact, Pattern

if TYPE_CHECKING:
    from robot_planner.world.scene import Scene


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """A precondition fact template, optionally only for arguments of some type."""

    fact: str
    when: dict[str, str] = {}


class Effect(_Strict):
    """Facts added and deleted by a skill, optionally only for arguments of some type."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    add: tuple[str, ...] = ()
    delete: tuple[str, ...] = Field((), alias="del")
    when: dict[str, str] = {}


class ProgressSpec(_Strict):
    """A Nav2-style progress check for a skill that moves a robot (a base's drive): in
    the skill's `phases` the robot must move `moved_m` or turn `turned_deg` within
    `notice_s`, or the monitor says it has stalled (and again when it moves on). With
    `abort_s`, a stall that long is a misalignment and the command is re-planned from
    where the robot is, for worlds where another robot can take over; without it the
    robot is waited for (the skill's own timeout still applies). The skill's other
    phases (waiting for a free bay or a clear path) are waits on purpose and are not
    judged. Judged from odometry (proprioception), not the camera."""

    phases: tuple[str, ...] = Field(min_length=1)
    moved_m: float = Field(0.05, gt=0)
    turned_deg: float = Field(10.0, gt=0)
    notice_s: float = Field(3.0, gt=0)
    abort_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _abort_after_notice(self) -> ProgressSpec:
        if self.abort_s is not None and self.abort_s < self.notice_s:
            raise ValueError("abort_s must be at least notice_s")
        return self


class SkillSpec(_Strict):
    """A skill: what it does, its arguments, timeout and symbolic model."""

    description: str
    timeout_s: float = Field(gt=0)
    #: Rough duration when it succeeds (simulated seconds): planners balance robots with it.
    duration_s: float = Field(1.0, gt=0)
    args: dict[str, ArgSpec] = {}
    distinct: tuple[tuple[str, str], ...] = ()
    reach: tuple[str, ...] = ()
    preconditions: tuple[Condition, ...] = ()
    effects: tuple[Effect, ...] = ()
    #: Other names for the skill that cannot mean anything else (plan importers map
    #: them; "release" could be two skills, so it is nobody's alias).
    aliases: tuple[str, ...] = ()
    #: Takes the robot out of the camera's view (the supervisor runs it on every robot
    #: before looking again when the camera could not see enough to re-plan).
    clears_view: bool = False
    #: "during" constraints hold until the skill enters this phase (e.g. a place's
    #: release, where the gripper opens on purpose); None: for the whole skill.
    during_until: str | None = None
    #: Progress the robot must make while the skill runs (mobile bases); None: no check.
    progress: ProgressSpec | None = None

    @model_validator(mode="after")
    def _templates_refer_to_arguments(self) -> SkillSpec:
        names = set(self.args) | {"robot"}
        templates = [c.fact for c in self.preconditions]
        for effect in self.effects:
            templates += list(effect.add) + list(effect.delete)
        for template in templates:
            match = TEMPLATE_RE.match(template)
            if match is None:
                raise ValueError(f"'{template}' is not a fact template")
            for part in (p.strip() for p in match.group(2).split(",")):
                if part.startswith("?") and part[1:] not in names:
                    raise ValueError(f"'{template}' refers to unknown argument {part}")
        for arg in list(self.reach) + [a for pair in self.distinct for a in pair]:
            if arg not in self.args:
                raise ValueError(f"'{arg}' is not an argument of this skill")
        if self.clears_view and self.args:
            raise ValueError("a clears_view skill must take no arguments")
        for arg in self.reach:
            if not self.args[arg].is_name:
                raise ValueError(f"reach names '{arg}', which is not a name argument")
        for cond in list(self.preconditions) + list(self.effects):
            for arg in cond.when:
                if arg not in self.args:
                    raise ValueError(f"`when` names unknown argument '{arg}'")
        return self


class Catalogue(_Strict):
    """All skills of a domain, keyed by name, with their STRIPS-style semantics."""

    version: int = 1
    skills: dict[str, SkillSpec]
    #: The domain the skills belong to (set by `Domain.catalogue`).
    domain: Any = Field(None, exclude=True, repr=False)

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

    @property
    def clear_view_skill(self) -> str | None:
        """The skill that takes a robot out of the camera's view, if the domain has one."""
        return next((n for n, s in self.skills.items() if s.clears_view), None)

    def skill_for_alias(self, alias: str) -> str | None:
        """The skill that `alias` is another name for, or None."""
        return next((n for n, s in self.skills.items() if alias in s.aliases), None)

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
                problem = arg.problem(args[name], scene)
                if problem:
                    errors.append(f"{skill} argument {name}: {problem}")
        for first, second in spec.distinct:
            if first in args and args.get(first) == args.get(second):
                errors.append(
                    f"{skill}: {first} and {second} are both '{args[first]}' (they must differ)"
                )
        return errors

    def robot_errors(self, skill: str, robot: str, scene: Scene) -> list[str]:
        """Why `robot` cannot run `skill` at all: its kind does not offer it."""
        spec = scene.robots.get(robot)
        if spec is None or scene.domain.kind_offers(spec.kind, skill):
            return []
        offered = ", ".join(scene.domain.skills_of(spec.kind))
        a = "an" if spec.kind[:1] in "aeiou" else "a"
        return [f"{robot} is {a} {spec.kind}, which does not offer {skill} (it offers: {offered})"]

    # --- symbolic semantics ----------------------------------------------------------

    def reach_errors(
        self, skill: str, robot: str, args: Mapping[str, Any], scene: Scene, facts: frozenset
    ) -> list[str]:
        """Places this call needs that the robot cannot reach in the given state."""
        errors = []
        domain = scene.domain
        for arg in self.skills[skill].reach:
            name = args[arg]
            carrier = None
            if name in scene.objects:
                place = scene.location_of(name, facts)
                if place is None:
                    errors.append(f"the location of {name} is unknown at that point")
                    continue
                if place in scene.robots:
                    holder = domain.locations.holder
                    if holder is not None and Fact(holder, (place, name)) in facts:
                        if place != robot:
                            errors.append(f"{name} is held by {place}, not by {robot}")
                        continue  # held: the holder reached it when it took it
                    carrier = place  # riding on a mobile robot: reach where it is
            elif name in scene.robots:
                carrier = name
            else:
                place = name
            if carrier is not None:
                place = domain.position_of(carrier, facts)
                if place is None:
                    errors.append(f"where {carrier} is is unknown at that point")
                    continue
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
                pattern = Pattern.parse(template)  # "*" matches anything
                state = {f for f in state if pattern.match(f, binding) is None}
            for template in effect.add:
                state.add(_ground(template, binding))
        return scene.derive(state)

    def added_facts(
        self, skill: str, robot: str, args: Mapping[str, Any], scene: Scene
    ) -> list[Fact]:
        """The facts a successful call adds (its effects that apply to these arguments)."""
        binding = _binding(robot, args)
        return [
            _ground(template, binding)
            for effect in self.skills[skill].effects
            if _applies(effect.when, args, scene)
            for template in effect.add
        ]


def _binding(robot: str, args: Mapping[str, Any]) -> dict[str, str]:
    binding = {"robot": robot}
    binding.update({k: str(v) for k, v in args.items()})
    return binding


def _applies(when: Mapping[str, str], args: Mapping[str, Any], scene: Scene) -> bool:
    return all(scene.is_a(str(args.get(arg)), type_name) for arg, type_name in when.items())


def _ground(template: str, binding: Mapping[str, str]) -> Fact:
    return Pattern.parse(template).ground(binding)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The skills of a domain (the default domain when no path is given); a path may
    name a domain file or directory. Raises `ConfigError` on problems."""
    from robot_planner.resources import DEFAULT_DOMAIN
    from robot_planner.world.domain import load_domain

    return load_domain(path if path else DEFAULT_DOMAIN).catalogue
