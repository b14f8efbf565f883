"""A domain: everything robot_planner knows about a kind of world, as data.

A domain file (``config/domains/NAME/domain.yaml``) declares object types with parents,
robot kinds and the skills each offers, predicates with typed arguments and how each
is observed, derived-fact rules, where-things-are relations, state invariants and the
skill catalogue (preconditions, effects, timeouts, reach). A scene is one problem in a
domain. The planner, validator, monitor and language layers ask the domain; none of
them names a particular world's objects, skills or robots.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from robot_planner.untrusted import shown
from robot_planner.world.argtypes import PRIMITIVES
from robot_planner.world.catalogue import Catalogue, SkillSpec
from robot_planner.world.facts import Fact, FactError, Pattern
from robot_planner.world.loading import load_yaml_model

if TYPE_CHECKING:
    from robot_planner.world.scene import Scene

#: The built-in type of every robot; predicates and skills may take one.
ROBOT = "robot"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TypeSpec(_Strict):
    """An object type: its parent (for `is_a`) and the nouns commands use for it."""

    parent: str | None = None
    description: str = ""
    nouns: tuple[str, ...] = ()


class RobotKind(_Strict):
    """A kind of robot: the catalogue skills it offers, the facts true at start and the
    nouns commands call it by ("the left arm", "the left gripper"). A kind with a parent
    kind is one of those (a fetcher with a tray is a base: it carries, it parks, it
    offers the base's skills besides its own) but is called only by its own nouns."""

    parent: str | None = None
    description: str = ""
    nouns: tuple[str, ...] = ()
    skills: tuple[str, ...]
    initial: tuple[str, ...] = Field(
        (), description="fact templates over ?robot that hold when a scene starts"
    )


class PredicateSpec(_Strict):
    """A predicate: typed arguments, how it is observed, and its yes/no question."""

    args: tuple[str, ...]
    observed: Literal["perceived", "robot", "derived"] = "perceived"
    question: str = ""
    #: The spatial relation a geometric perceiver decides it by (stacked, inside, within,
    #: on_surface, gripped, gripper_free, uncovered); None: not by geometry.
    geometry: str | None = None


class DerivedRule(_Strict):
    """``fact`` holds when every ``if`` pattern matches (fixed point), or -- for an
    ``unless`` rule -- for every object of the ``for`` types that no pattern matches."""

    fact: str
    if_: tuple[str, ...] = Field((), alias="if")
    unless: tuple[str, ...] = ()
    for_: dict[str, str] = Field({}, alias="for")
    why: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> DerivedRule:
        if bool(self.if_) == bool(self.unless):
            raise ValueError(f"derived rule {self.fact}: give either `if` or `unless`")
        return self


class Locations(_Strict):
    """Where things are: what "put X on/in/at Y" means by Y's type, who carries what,
    and which predicate stacks objects on objects (followed down to a place)."""

    put: dict[str, tuple[str, ...]] = Field(
        description="target type -> fact templates over ?object and ?target"
    )
    holder: str | None = Field(None, description="predicate(robot, object): carried")
    support: str | None = Field(None, description="predicate(object, object): stacked")
    robot: str | None = Field(
        None,
        description="predicate(robot, place): where a mobile robot is (objects put on a "
        "robot are where it is)",
    )


def _check_parents(what: str, parent_of: Mapping[str, str | None]) -> None:
    """Every parent is declared and no chain of parents comes back to where it began."""
    for name, parent in parent_of.items():
        if parent is not None and parent not in parent_of:
            raise ValueError(f"{what} {name}: unknown parent {what} '{shown(parent)}'")
        seen = {name}
        while parent is not None:
            if parent in seen:
                raise ValueError(f"{what} {name}: its parents form a loop")
            seen.add(parent)
            parent = parent_of[parent]


_WORDS = re.compile(r"^[a-z][a-z' ]*$")
#: A skill phrase: words, [optional words], (one|or other), {robot} or {an argument}.
_SKILL_PHRASE = re.compile(r"^(?:[a-z']+|\[|\]|\(|\)|\||\{[a-z_]+\}| )+$")


class TowerWords(_Strict):
    """Words for stacks built of objects standing on objects (the support predicate)."""

    verbs: tuple[str, ...] = Field(description="build, make, ... (a tower)")
    nouns: tuple[str, ...] = Field(description="tower, stack, pile, ...")


class LanguageSpec(_Strict):
    """The words of this world that commands use. The core grammar supplies English
    structure (order, parallel steps, lists, pronouns, politeness); the domain supplies
    its verbs, so a new world needs no grammar change."""

    put_verbs: tuple[str, ...] = Field(
        ("put", "move"),
        description="verbs that ask for objects to end up somewhere (put X in Y); "
        "third-person forms are made from them",
    )
    grasp_verbs: tuple[str, ...] = Field(
        (), description="verbs that only point at objects (pick up X and ...)"
    )
    tower: TowerWords | None = Field(None, description="needs locations.support")
    send_verbs: tuple[str, ...] = Field(
        (), description="verbs that send robots somewhere (send X to Y); need locations.robot"
    )
    go_verbs: tuple[str, ...] = Field(
        (), description="verbs a robot is told to go with (robot one, go to Y)"
    )
    fillers: tuple[str, ...] = Field((), description="phrases that carry no meaning here")
    skills: dict[str, tuple[str, ...]] = Field(
        {},
        description="phrases that ask for a catalogue skill by name, for skills whose "
        "effect is no goal fact (wait 5 seconds, go home): words, [optional words], "
        "(one|other), {robot} for a robot phrase, {arg} for a number argument",
    )
    example: str = Field("", description="a command shown when one is not understood")
    pronounce: dict[str, str] = Field(
        {},
        description="word -> phones (CMU ARPAbet, e.g. fetcher: F EH CH ER) for the words of "
        "this world that the speech recogniser's dictionary lacks",
    )

    @model_validator(mode="after")
    def _words(self) -> LanguageSpec:
        towers = self.tower.verbs + self.tower.nouns if self.tower else ()
        words = (*self.put_verbs, *self.grasp_verbs, *self.send_verbs, *self.go_verbs)
        for word in (*words, *towers, *self.fillers):
            if not _WORDS.match(word):
                raise ValueError(f"language: '{shown(word)}' is not lower-case words")
        if not self.put_verbs:
            raise ValueError("language: put_verbs is empty (commands need a verb)")
        for word, phones in self.pronounce.items():
            if not re.fullmatch(r"[a-z']+", word) or not re.fullmatch(
                r"[A-Z]+[0-2]?( [A-Z]+[0-2]?)*", phones
            ):
                raise ValueError(
                    f"language.pronounce: '{shown(word)}: {shown(phones)}' is not a word and "
                    "its phones (ARPAbet, e.g. fetcher: F EH CH ER)"
                )
        for skill, phrases in self.skills.items():
            for phrase in phrases:
                if not _SKILL_PHRASE.match(phrase) or phrase.startswith(("[", "{")):
                    raise ValueError(
                        f"language.skills.{shown(skill)}: '{shown(phrase)}' is not words, "
                        "[optional], (a|b) and {slots}, starting with a word"
                    )
        return self


class Invariant(_Strict):
    """Facts that can never hold together: at most one match per binding of ?x, or no
    loop through a predicate."""

    at_most_one: tuple[str, ...] = ()
    acyclic: str | None = None
    why: str

    @model_validator(mode="after")
    def _one_kind(self) -> Invariant:
        if bool(self.at_most_one) == bool(self.acyclic):
            raise ValueError("an invariant is either `at_most_one` or `acyclic`")
        return self


class Domain(_Strict):
    """Types, robot kinds, predicates, rules and skills of one kind of world."""

    name: str
    version: int = 1
    description: str = ""
    types: dict[str, TypeSpec]
    robot_kinds: dict[str, RobotKind]
    predicates: dict[str, PredicateSpec]
    derived: tuple[DerivedRule, ...] = ()
    locations: Locations
    invariants: tuple[Invariant, ...] = ()
    skills: dict[str, SkillSpec]
    language: LanguageSpec = LanguageSpec()
    #: Where the file was loaded from (for messages); not part of the file.
    source: str = ""

    # --- validation: every name the file uses is declared, once -------------------------

    @model_validator(mode="before")
    @classmethod
    def _keys_are_names(cls, data: object) -> object:
        """YAML 1.1 reads an unquoted ``on``/``off``/``yes``/``no`` key as a boolean: say
        so instead of pydantic's "valid string" complaint."""
        if isinstance(data, dict):
            for section in ("types", "robot_kinds", "predicates", "skills"):
                for key in data.get(section) or {}:
                    if not isinstance(key, str):
                        raise ValueError(
                            f"{section}: the key {key!r} is not a name (YAML reads unquoted "
                            'on/off/yes/no as true/false: quote it, e.g. "on":)'
                        )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Domain:
        for name in [*self.types, *self.predicates, *self.skills, *self.robot_kinds]:
            if not _NAME.match(name):
                raise ValueError(f"'{shown(name)}' is not a lower_snake_case name")
        if ROBOT in self.types or ROBOT in self.robot_kinds:
            raise ValueError(f"'{ROBOT}' is built in; do not declare it as a type or kind")
        for kind in self.robot_kinds:
            if kind in self.types:
                raise ValueError(f"robot kind {kind} has the name of a type")
        _check_parents("robot kind", {k: s.parent for k, s in self.robot_kinds.items()})
        _check_parents("type", {t: s.parent for t, s in self.types.items()})
        # Robot kinds are types too (below `robot`): an object can be put on a robot.
        known_types = {*self.types, *self.robot_kinds, ROBOT}
        for name, pred in self.predicates.items():
            for arg in pred.args:
                if arg not in known_types:
                    raise ValueError(f"predicate {name}: unknown type '{shown(arg)}'")
        if not self.skills:
            raise ValueError("the domain has no skills")
        for name, skill in self.skills.items():
            self._check_skill(name, skill)
        aliases: dict[str, str] = {}
        for name, skill in self.skills.items():
            for alias in skill.aliases:
                if alias in self.skills or aliases.setdefault(alias, name) != name:
                    raise ValueError(
                        f"skill {name}: alias '{alias}' already names "
                        f"{alias if alias in self.skills else aliases[alias]}"
                    )
        offered = {s for kind in self.robot_kinds.values() for s in kind.skills}
        for kind_name, kind in self.robot_kinds.items():
            for skill in kind.skills:
                if skill not in self.skills:
                    raise ValueError(f"robot kind {kind_name} offers unknown skill '{skill}'")
            for template in kind.initial:
                self._check_template(template, {"robot": ROBOT}, f"robot kind {kind_name}")
        for skill in self.skills:
            if skill not in offered:
                raise ValueError(f"skill {skill} is offered by no robot kind")
        for rule in self.derived:
            variables = {v: "" for v in _variables([rule.fact, *rule.if_, *rule.unless])}
            for template in [rule.fact, *rule.if_, *rule.unless]:
                self._check_template(template, variables, f"derived rule {rule.fact}")
            for var, type_name in rule.for_.items():
                if type_name not in known_types:
                    raise ValueError(f"derived rule {rule.fact}: unknown type '{type_name}'")
                if var not in variables:
                    raise ValueError(f"derived rule {rule.fact}: no variable ?{var}")
        for type_name, templates in self.locations.put.items():
            if type_name not in self.types and type_name not in self.robot_kinds:
                raise ValueError(f"locations.put: unknown type '{shown(type_name)}'")
            if not templates:
                raise ValueError(f"locations.put.{type_name}: no facts")
            for template in templates:
                self._check_template(
                    template, {"object": "", "target": ""}, f"locations.put.{type_name}"
                )
        for field in ("holder", "support", "robot"):
            predicate = getattr(self.locations, field)
            if predicate is not None and predicate not in self.predicates:
                raise ValueError(f"locations.{field}: undeclared predicate '{predicate}'")
        for inv in self.invariants:
            for template in inv.at_most_one:
                self._check_template(template, {"x": ""}, f"invariant '{inv.why}'")
            if inv.acyclic is not None and inv.acyclic not in self.predicates:
                raise ValueError(f"invariant '{inv.why}': undeclared predicate '{inv.acyclic}'")
        if self.language.tower is not None and self.locations.support is None:
            raise ValueError("language.tower needs locations.support (what stacks on what)")
        lang = self.language
        if (lang.send_verbs or lang.go_verbs) and self.locations.robot is None:
            raise ValueError("language.send_verbs/go_verbs need locations.robot (robot places)")
        return self

    def _check_skill(self, name: str, skill: SkillSpec) -> None:
        for arg_name, arg in skill.args.items():
            for type_name in arg.types:
                if type_name not in self.types and type_name not in (ROBOT, *self.robot_kinds):
                    raise ValueError(
                        f"skill {name} argument {arg_name}: unknown type '{shown(type_name)}' "
                        f"(known: {', '.join([*self.types, *self.robot_kinds, *PRIMITIVES])})"
                    )
        names = {"robot": ROBOT, **{a: "" for a in skill.args}}
        for cond in skill.preconditions:
            self._check_template(cond.fact, names, f"skill {name}")
        for effect in skill.effects:
            for template in (*effect.add, *effect.delete):
                self._check_template(template, names, f"skill {name}")
        for cond in (*skill.preconditions, *skill.effects):
            for type_name in cond.when.values():
                if type_name not in self.types and type_name not in self.robot_kinds:
                    raise ValueError(f"skill {name}: `when` names unknown type '{type_name}'")

    def _check_template(self, template: str, names: Mapping[str, str], where: str) -> None:
        try:
            pattern = Pattern.parse(template)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        spec = self.predicates.get(pattern.predicate)
        if spec is None:
            raise ValueError(
                f"{where}: '{shown(template)}' names undeclared predicate "
                f"'{shown(pattern.predicate)}' (declared: {', '.join(self.predicates)})"
            )
        if len(pattern.args) != len(spec.args):
            raise ValueError(
                f"{where}: '{shown(template)}': {pattern.predicate} takes "
                f"{len(spec.args)} argument(s), got {len(pattern.args)}"
            )
        for arg in pattern.args:
            if arg.startswith("?") and arg[1:] not in names:
                raise ValueError(f"{where}: '{shown(template)}' refers to unknown ?{arg[1:]}")

    # --- types --------------------------------------------------------------------------

    def ancestors(self, type_name: str) -> tuple[str, ...]:
        """`type_name` and its parents, nearest first (a robot kind's parents are its
        parent kinds, then `robot`)."""
        if type_name in self.robot_kinds:
            kinds = []
            kind: str | None = type_name
            while kind is not None and kind not in kinds:  # a loop is refused on load
                kinds.append(kind)
                kind = self.robot_kinds[kind].parent
            return (*kinds, ROBOT)
        chain = []
        current: str | None = type_name
        while current is not None:
            chain.append(current)
            current = self.types[current].parent if current in self.types else None
        return tuple(chain)

    def is_a(self, type_name: str | None, ancestor: str) -> bool:
        """True when `type_name` is `ancestor` or one of its subtypes."""
        return type_name is not None and ancestor in self.ancestors(type_name)

    def nouns(self, type_name: str) -> tuple[str, ...]:
        """Words for things of a type (its own, else its parent's, else its name)."""
        for name in self.ancestors(type_name):
            spec = self.types.get(name)
            if spec is not None and spec.nouns:
                return spec.nouns
        return (type_name.replace("_", " "),)

    def robot_nouns(self, kind: str) -> tuple[str, ...]:
        """Words for robots of a kind (its own, else the kind's name)."""
        spec = self.robot_kinds.get(kind)
        return spec.nouns if spec is not None and spec.nouns else (kind.replace("_", " "),)

    def skills_of(self, kind: str) -> tuple[str, ...]:
        """The skills robots of `kind` offer: its own, then its parent kinds' (a kind is
        what its parent is, so a planning model typed by the parent covers it)."""
        out: list[str] = []
        for ancestor in self.ancestors(kind):
            spec = self.robot_kinds.get(ancestor)
            out += [s for s in spec.skills if s not in out] if spec is not None else []
        return tuple(out)

    def kind_offers(self, kind: str, skill: str) -> bool:
        return skill in self.skills_of(kind)

    @cached_property
    def catalogue(self) -> Catalogue:
        """The skills as a `Catalogue` (the validator's and planners' view)."""
        return Catalogue(version=self.version, skills=self.skills, domain=self)

    # --- facts --------------------------------------------------------------------------

    def check_fact(self, fact: Fact) -> Fact:
        """`fact` if its predicate is declared with that many arguments; else `FactError`."""
        spec = self.predicates.get(fact.predicate)
        if spec is None:
            raise FactError(
                f"unknown predicate '{shown(fact.predicate)}' in '{shown(str(fact))}' "
                f"(known: {', '.join(sorted(self.predicates))})"
            )
        if len(fact.args) != len(spec.args):
            raise FactError(
                f"'{shown(str(fact))}': {fact.predicate} takes {len(spec.args)} "
                f"argument(s), got {len(fact.args)}"
            )
        return fact

    def parse_fact(self, text: str) -> Fact:
        """Parse ``pred(a,b)`` and check it against the vocabulary; `FactError` if not."""
        return self.check_fact(Fact.parse(text))

    def parse_facts(self, texts: Iterable[str]) -> frozenset[Fact]:
        return frozenset(self.parse_fact(t) for t in texts)

    def question_for(self, fact: Fact) -> str:
        """A yes/no question whose "yes" means `fact` holds, for the VQA monitor."""
        names = ["the " + arg.replace("_", " ") for arg in fact.args]
        template = self.predicates[fact.predicate].question
        if not template:
            return f"Does {fact.predicate.replace('_', ' ')}({', '.join(names)}) hold?"
        return template.format(*names)

    def observed_by(self, predicate: str) -> str:
        return self.predicates[predicate].observed

    def put_facts(self, obj: str, target: str, target_type: str) -> tuple[Fact, ...]:
        """The facts that say `obj` was put on/in/at `target` (a thing of `target_type`)."""
        for name in self.ancestors(target_type):
            templates = self.locations.put.get(name)
            if templates:
                binding = {"object": obj, "target": target}
                return tuple(Pattern.parse(t).ground(binding) for t in templates)
        return ()

    def put_fact(self, obj: str, target: str, target_type: str) -> Fact | None:
        """The one fact a goal uses for "put `obj` on/in/at `target`" (or None)."""
        facts = self.put_facts(obj, target, target_type)
        return facts[0] if facts else None

    @cached_property
    def location_predicates(self) -> frozenset[str]:
        """Predicates whose first argument is an object and second where it is put."""
        return frozenset(Pattern.parse(ts[0]).predicate for ts in self.locations.put.values())

    def derive(self, facts: Iterable[Fact], scene: Scene) -> frozenset[Fact]:
        """Recompute the derived facts: purely derived predicates are dropped and
        recomputed; ``if`` rules add to the base facts until nothing changes."""
        purely = {p for p, spec in self.predicates.items() if spec.observed == "derived"}
        state = {f for f in facts if f.predicate not in purely}
        positive = [r for r in self.derived if r.if_]
        negative = [r for r in self.derived if r.unless]
        changed = True
        while changed and positive:
            changed = False
            for rule in positive:
                head = Pattern.parse(rule.fact)
                for binding in _joins([Pattern.parse(p) for p in rule.if_], state):
                    new = head.ground(binding)
                    if new not in state:
                        state.add(new)
                        changed = True
        for rule in negative:
            head = Pattern.parse(rule.fact)
            variables = _variables([rule.fact])
            blocked: set[tuple[str, ...]] = set()
            for text in rule.unless:
                pattern = Pattern.parse(text)
                for fact in state:
                    binding = pattern.match(fact, {})
                    if binding is not None:
                        blocked.add(tuple(binding.get(v, "") for v in variables))
            pools = [
                scene.names_of_type(rule.for_[v]) if v in rule.for_ else scene.names
                for v in variables
            ]
            for values in _product(pools):
                if values not in blocked:
                    state.add(head.ground(dict(zip(variables, values, strict=True))))
        return frozenset(state)

    def contradictions(self, facts: Iterable[Fact]) -> list[str]:
        """Why a set of facts can never hold together (for goals), one line per problem."""
        facts = sorted(set(facts))
        problems: list[str] = []
        for inv in self.invariants:
            if inv.acyclic is not None:
                problems += _loops(inv.acyclic, facts, inv.why)
                continue
            groups: dict[str, list[str]] = defaultdict(list)
            for text in inv.at_most_one:
                pattern = Pattern.parse(text)
                for fact in facts:
                    binding = pattern.match(fact, {})
                    if binding is not None and str(fact) not in groups[binding["x"]]:
                        groups[binding["x"]].append(str(fact))
            for _, found in sorted(groups.items()):
                if len(found) > 1:
                    problems.append(f"{' and '.join(found)} cannot both hold: {inv.why}")
        return problems

    def exclusion(self, first: Fact, second: Fact) -> str | None:
        """Why two facts that may each hold cannot be reached together, when a derived
        rule says so: both falsify the same ``unless`` fact, and a skill that makes
        them needs it (``bay_free(?s) unless robot_at(*,?s)``: two bases parked at one
        station). The rule's ``why``, or None."""
        for rule in self.derived:
            if not rule.unless:
                continue
            variables = _variables([rule.fact])
            heads = []
            for fact in (first, second):
                bindings = [Pattern.parse(t).match(fact, {}) for t in rule.unless]
                heads.append(
                    {tuple(b.get(v, "") for v in variables) for b in bindings if b is not None}
                )
            if not heads[0] & heads[1]:
                continue
            needed = Pattern.parse(rule.fact).predicate
            makers = [
                skill
                for skill in self.skills.values()
                if any(
                    Pattern.parse(t).predicate in (first.predicate, second.predicate)
                    for e in skill.effects
                    for t in e.add
                )
            ]
            if any(
                Pattern.parse(c.fact).predicate == needed
                for skill in makers
                for c in skill.preconditions
            ):
                return rule.why or f"{rule.fact} holds unless {', '.join(rule.unless)}"
        return None

    def location_of(self, obj: str, facts: Iterable[Fact]) -> str | None:
        """Where `obj` is: the place it is in/at (following stacks down), the robot
        carrying it (holding it, or with it put on the robot), or None when the facts
        do not say."""
        support_pred, holder_pred = self.locations.support, self.locations.holder
        places = self.location_predicates - {support_pred}
        support: dict[str, str] = {}
        place: dict[str, str] = {}
        holder: dict[str, str] = {}
        for f in facts:
            if f.predicate == support_pred:
                support[f.args[0]] = f.args[1]
            elif f.predicate in places:
                place[f.args[0]] = f.args[1]
            elif f.predicate == holder_pred:
                holder[f.args[1]] = f.args[0]
        seen: set[str] = set()
        current = obj
        while current not in seen:
            seen.add(current)
            if current in holder:
                return holder[current]
            if current in place:
                return place[current]
            if current not in support:
                return None
            current = support[current]
        return None

    def position_of(self, robot: str, facts: Iterable[Fact]) -> str | None:
        """The place a mobile robot is at (`locations.robot`), or None."""
        pred = self.locations.robot
        if pred is None:
            return None
        return next((f.args[1] for f in facts if f.predicate == pred and f.args[0] == robot), None)


def _variables(templates: Iterable[str]) -> list[str]:
    """The ?variables of some templates, in order of first appearance."""
    out: list[str] = []
    for template in templates:
        for arg in Pattern.parse(template).args:
            if arg.startswith("?") and arg[1:] not in out:
                out.append(arg[1:])
    return out


def _joins(patterns: list[Pattern], facts: set[Fact]) -> Iterable[dict[str, str]]:
    """Every binding that makes all `patterns` match facts (a small nested-loop join)."""
    by_predicate: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        by_predicate[fact.predicate].append(fact)
    bindings: list[dict[str, str]] = [{}]
    for pattern in patterns:
        bindings = [
            out
            for binding in bindings
            for fact in by_predicate.get(pattern.predicate, ())
            if (out := pattern.match(fact, binding)) is not None
        ]
        if not bindings:
            break
    return bindings


def _product(pools: list[list[str]] | list[tuple[str, ...]]) -> Iterable[tuple[str, ...]]:
    from itertools import product

    return product(*pools)


def _loops(predicate: str, facts: list[Fact], why: str) -> list[str]:
    support = {}
    problems = []
    for f in facts:
        if f.predicate == predicate and len(f.args) == 2:
            if f.args[0] == f.args[1]:
                problems.append(f"{f}: {why}")
            else:
                support[f.args[0]] = f.args[1]
    reported: set[frozenset[str]] = set()
    for start in sorted(support):
        chain = [start]
        current = support[start]
        while current in support and current not in chain:
            chain.append(current)
            current = support[current]
        if current in chain:
            loop = chain[chain.index(current) :]
            if frozenset(loop) not in reported:
                reported.add(frozenset(loop))
                links = ", ".join(
                    str(Fact(predicate, (a, b)))
                    for a, b in zip(loop, [*loop[1:], loop[0]], strict=True)
                )
                problems.append(f"{links}: {why}")
    return problems


def domain_path(name_or_path: str | Path) -> Path:
    """A domain file from a name (``tabletop``), a directory or a YAML path."""
    from robot_planner.resources import domain_path as resolve

    return resolve(name_or_path)


def load_domain(name_or_path: str | Path) -> Domain:
    """Load and check a domain; raise `ConfigError` with one readable line."""
    path = domain_path(name_or_path)
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


_CACHE: dict[tuple[str, int], Domain] = {}


def _load_cached(path: str, mtime: int) -> Domain:
    key = (path, mtime)
    if key not in _CACHE:
        domain = load_yaml_model(Path(path), Domain, what="domain")
        _CACHE[key] = domain.model_copy(update={"source": path})
    return _CACHE[key]
