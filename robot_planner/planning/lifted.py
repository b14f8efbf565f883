"""A domain compiled into a lifted planning model: typed action schemas over fluents.

The domain file says what skills do in its own fact vocabulary, with two things a
classical planner cannot take as they are:

* derived facts (`derived:` rules), recomputed after every change. An ``unless`` rule
  (``clear(?x)`` unless something is on it or held) becomes negative conditions
  wherever the derived fact is asked for. A recursive ``if`` rule that carries a
  location predicate down a stack (``at(?x,?z)`` if ``on(?x,?y), at(?y,?z)``) becomes
  the bookkeeping fluent below, restricted to that predicate's place type.
* reach: a robot must reach the place its object is in, following stacks down
  (`locations`). The model keeps one bookkeeping fluent, ``located(object, place)``,
  updated by every effect that puts, stacks or lifts an object, and a static
  ``reaches(robot, place)`` from the scene.

Each skill becomes one schema per combination of argument types that its ``when``
clauses tell apart (``place`` onto a block, into a bin, into a zone), with the robot as
a parameter typed by the robot kinds that offer the skill. Skills that cannot change
any fact (``wait``) or that would leave an object nowhere (opening a gripper that holds
one) are left out: a plan never needs them and must never lose track of an object.

Nothing here names a particular world: predicates, types and skills all come from the
domain and the scene. `robot_planner.planning.pddl` turns this model into a
unified-planning problem (and PDDL); `robot_planner.planning.search` grounds and solves it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product

from robot_planner.world.catalogue import Catalogue, SkillSpec
from robot_planner.world.domain import ROBOT, Domain, Pattern
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

ANY = "*"
#: Names of the bookkeeping fluents (made unique against the domain's predicates).
LOCATED = "located"
REACHES = "reaches"


class ModelError(ValueError):
    """The domain uses something this compiler cannot turn into a planning model."""


@dataclass(frozen=True)
class Atom:
    """A fact template: arguments are ``?var``, a name, or ``*`` (any, in deletes and
    in negative conditions, where it means "no fact matches")."""

    predicate: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.predicate}({','.join(self.args)})"

    def bind(self, binding: Mapping[str, str]) -> Atom:
        return Atom(
            self.predicate, tuple(binding.get(a[1:], a) if a[:1] == "?" else a for a in self.args)
        )

    @property
    def variables(self) -> list[str]:
        return [a[1:] for a in self.args if a[:1] == "?"]


@dataclass(frozen=True)
class CondEffect:
    """For every value of `forall`, when `when` holds, `add` and `delete` (evaluated in
    the state before the action, like PDDL conditional effects)."""

    forall: tuple[tuple[str, str], ...]
    when: tuple[Atom, ...]
    add: tuple[Atom, ...] = ()
    delete: tuple[Atom, ...] = ()


@dataclass(frozen=True)
class ActionSchema:
    """One typed variant of a skill."""

    name: str
    skill: str
    robot: str
    params: tuple[tuple[str, str], ...]
    args: tuple[tuple[str, str], ...]
    pre: tuple[Atom, ...]
    absent: tuple[Atom, ...]
    distinct: tuple[tuple[str, str], ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]
    cond: tuple[CondEffect, ...]
    duration: float

    def skill_args(self, binding: Mapping[str, str]) -> dict[str, str]:
        return {arg: binding[var] for arg, var in self.args}

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.params)

    @cached_property
    def robot_position(self) -> int:
        """Where the robot is among the parameters."""
        return self.param_names.index(self.robot)


@dataclass
class LiftedModel:
    """Types, fluents, objects and action schemas of one scene in its domain, plus the
    translation of states and goals between the domain's facts and the model's."""

    scene: Scene
    catalogue: Catalogue
    #: type -> parent type (None for a root); robot kinds are subtypes of `robot_type`.
    types: dict[str, str | None]
    robot_type: str
    #: name -> its own (most specific) type
    objects: dict[str, str]
    fluents: dict[str, tuple[str, ...]]
    static: frozenset[str]
    actions: list[ActionSchema]
    located: str
    reaches: str
    #: derived predicate -> its `unless` patterns (head variables are ?-names)
    negations: dict[str, tuple[Atom, tuple[Atom, ...], dict[str, str]]]
    #: location predicates read as `located` facts (restricted to a place type)
    aliases: dict[str, str]
    dropped: dict[str, str] = field(default_factory=dict)
    _names: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    # --- types ----------------------------------------------------------------------

    def is_a(self, type_name: str, ancestor: str) -> bool:
        return _is_a(self.types, type_name, ancestor)

    def names_of(self, type_name: str) -> list[str]:
        """Every name (object, place or robot) of a type or its subtypes (cached:
        grounding asks for the same types over and over)."""
        found = self._names.get(type_name)
        if found is None:
            found = self._names[type_name] = [
                n for n, t in self.objects.items() if self.is_a(t, type_name)
            ]
        return list(found)

    @cached_property
    def places(self) -> frozenset[str]:
        return frozenset(self.scene.places)

    # --- states and goals -----------------------------------------------------------

    def static_facts(self) -> frozenset[Fact]:
        return frozenset(
            Fact(self.reaches, (robot, place))
            for robot, spec in self.scene.robots.items()
            for place in spec.reach
        )

    def state(self, facts: Iterable[Fact]) -> frozenset[Fact]:
        """The model's facts for a state given in the domain's facts (derived facts are
        recomputed first, as the validator does)."""
        full = self.scene.derive(facts)
        out = {f for f in full if f.predicate in self.fluents and f.predicate not in self.static}
        holder = self.scene.domain.locations.holder
        for name in self.scene.objects:
            where = self.scene.location_of(name, full)
            if where is None or Fact(holder or "", (where, name)) in full:
                continue  # unknown, or held (a held object is not located anywhere)
            if where in self.places or where in self.scene.robots:
                out.add(Fact(self.located, (name, where)))
        return frozenset(out | self.static_facts())

    def goal(self, facts: Iterable[Fact]) -> tuple[frozenset[Fact], frozenset[Atom]]:
        """Goal facts as (facts that must hold, patterns no fact may match).

        Raises:
            ModelError: a goal fact about a name of the wrong type for a derived fact.
        """
        positive: set[Fact] = set()
        absent: set[Atom] = set()
        for fact in facts:
            if fact.predicate in self.negations:
                head, patterns, types = self.negations[fact.predicate]
                binding = dict(zip(head.variables, fact.args, strict=True))
                for var, type_name in types.items():
                    if not self.is_a(self.objects.get(binding[var], ""), type_name):
                        raise ModelError(
                            f"{fact} can never hold: {binding[var]} is no {type_name}"
                        )
                absent.update(p.bind(binding) for p in patterns)
            elif fact.predicate in self.aliases:
                positive.add(Fact(self.located, fact.args))
            elif fact.predicate in self.fluents:
                positive.add(fact)
            else:
                raise ModelError(f"{fact}: no skill can make a {fact.predicate} fact hold")
        return frozenset(positive), frozenset(absent)


# --- compiling ---------------------------------------------------------------------------


def _is_a(types: Mapping[str, str | None], type_name: str, ancestor: str) -> bool:
    """True when `type_name` is `ancestor` or below it in the `types` (child -> parent)."""
    current: str | None = type_name
    while current is not None:
        if current == ancestor:
            return True
        current = types.get(current)
    return False


def _unique(name: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    candidate = name
    while candidate in taken:
        candidate += "_"
    return candidate


def _lca(types: Mapping[str, str | None], names: Iterable[str]) -> str | None:
    """The most specific common ancestor of some types, or None."""
    chains = []
    for name in names:
        chain = []
        current: str | None = name
        while current is not None:
            chain.append(current)
            current = types.get(current)
        chains.append(chain)
    if not chains:
        return None
    common = set(chains[0]).intersection(*map(set, chains[1:]))
    return next((t for t in chains[0] if t in common), None)


class _Compiler:
    def __init__(self, scene: Scene, catalogue: Catalogue):
        self.scene = scene
        self.catalogue = catalogue
        self.domain: Domain = scene.domain
        domain = self.domain
        taken = [*domain.types, *domain.predicates, *domain.robot_kinds, ROBOT]
        self.located = _unique(LOCATED, taken)
        self.reaches = _unique(REACHES, [*taken, self.located])
        self.types: dict[str, str | None] = {t: s.parent for t, s in domain.types.items()}
        self.types[ROBOT] = None
        self.kind_type: dict[str, str] = {}
        for kind in domain.robot_kinds:
            name = kind if kind not in self.types else _unique(f"{kind}_kind", self.types)
            self.types[name] = ROBOT
            self.kind_type[kind] = name
        for kind, kind_spec in domain.robot_kinds.items():  # a kind under its parent kind
            if kind_spec.parent is not None:
                self.types[self.kind_type[kind]] = self.kind_type[kind_spec.parent]
        self.objects: dict[str, str] = {}
        for name in scene.names:
            self.objects[name] = scene.kind_of(name) or ""
        for robot, spec in scene.robots.items():
            self.objects[robot] = self.kind_type[spec.kind]
        self.support = domain.locations.support
        self.holder = domain.locations.holder
        self.location_preds = set(domain.location_predicates)
        self.direct = self.location_preds - {self.support}
        self._root: str | None = None
        self.position = domain.locations.robot
        # The argument types of the position predicate, as the model's types (typed
        # parameters keep the PDDL export well-formed).
        self.position_types: tuple[str, ...] = ()
        if self.position is not None:
            self.position_types = tuple(
                self.kind_type.get(t, t) for t in domain.predicates[self.position].args
            )
        # Robot kinds objects can be put on (a base's tray): `located` may name a robot.
        self.carriers = [k for k in domain.locations.put if k in domain.robot_kinds]
        self.place_type = self._common_type(
            [*(scene.kind_of(p) or "" for p in scene.places), *self.carriers]
        )
        self.object_type = self._common_type([scene.kind_of(o) or "" for o in scene.objects])
        self.negations: dict[str, tuple[Atom, tuple[Atom, ...], dict[str, str]]] = {}
        self.aliases: dict[str, str] = {}
        self._read_derived()

    def _common_type(self, names: list[str]) -> str:
        """A type covering `names`; a synthetic root when the hierarchy has none."""
        found = _lca(self.types, names)
        if found is not None:
            return found
        if self._root is None:
            self._root = _unique("entity", self.types)
            for name, parent in list(self.types.items()):
                if parent is None and name != self._root:
                    self.types[name] = self._root
            self.types[self._root] = None
        return self._root

    def _read_derived(self) -> None:
        """Turn `derived:` rules into negations and location aliases (see module doc)."""
        pred_types = {n: p.args for n, p in self.domain.predicates.items()}
        for rule in self.domain.derived:
            head = _atom(rule.fact)
            if rule.unless:
                patterns = tuple(_atom(p) for p in rule.unless)
                self.negations[head.predicate] = (head, patterns, dict(rule.for_))
                continue
            body = [_atom(p) for p in rule.if_]
            recursive = [b for b in body if b.predicate == head.predicate]
            chain = [b for b in body if b.predicate != head.predicate]
            place_types = {pred_types[p][1] for p in self.direct if len(pred_types[p]) == 2}
            if (
                len(body) == 2
                and len(recursive) == 1
                and len(chain) == 1
                and chain[0].predicate == self.support
                and head.predicate in self.direct
                and len(head.args) == 2
                and head.args[0] == chain[0].args[0]
                and chain[0].args[1] == recursive[0].args[0]
                and head.args[1] == recursive[0].args[1]
                and self._disjoint(place_types)
            ):
                # H(x,z) <- support(x,y), H(y,z), H a location predicate whose place type
                # no other location predicate shares: H is `located` on that type.
                self.aliases[head.predicate] = pred_types[head.predicate][1]
                continue
            raise ModelError(
                f"derived rule {rule.fact}: only `unless` rules and rules that carry a "
                "location predicate down the support relation can be planned with"
            )

    def _disjoint(self, type_names: set[str]) -> bool:
        names = sorted(type_names)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                if self._is_a(first, second) or self._is_a(second, first):
                    return False
        return True

    def _is_a(self, type_name: str, ancestor: str) -> bool:
        return _is_a(self.types, type_name, ancestor)

    # --- fluents ----------------------------------------------------------------------

    def fluents(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for name, spec in self.domain.predicates.items():
            if name in self.negations or name in self.aliases:
                continue
            out[name] = tuple(spec.args)
        out[self.located] = (self.object_type, self.place_type)
        out[self.reaches] = (ROBOT, self.place_type)
        return out

    # --- skills -----------------------------------------------------------------------

    def schemas(self, dropped: dict[str, str]) -> list[ActionSchema]:
        out: list[ActionSchema] = []
        for skill, spec in self.catalogue.skills.items():
            if not spec.effects:
                dropped[skill] = "it changes no fact"
                continue
            if any(not a.is_name for a in spec.args.values()):
                dropped[skill] = "it takes values that are not names"
                continue
            kinds = [k for k in self.domain.robot_kinds if self.domain.kind_offers(k, skill)]
            kinds = [k for k in kinds if any(r.kind == k for r in self.scene.robots.values())]
            if not kinds:
                dropped[skill] = "no robot in the scene offers it"
                continue
            robot_types = self._robot_types(kinds)
            made = 0
            for robot_type in robot_types:
                for cases in self._cases(skill, spec):
                    for schema in self._variants(skill, spec, robot_type, cases, len(robot_types)):
                        reason = self._loses_track(schema)
                        if reason:
                            dropped.setdefault(skill, reason)
                            continue
                        out.append(schema)
                        made += 1
            if made:
                dropped.pop(skill, None)
        return out

    def _robot_types(self, kinds: list[str]) -> list[str]:
        in_scene = {r.kind for r in self.scene.robots.values()}
        if set(kinds) >= in_scene:
            return [ROBOT]
        # A kind under another offering kind is covered by that kind's type.
        top = [k for k in kinds if not any(a in kinds for a in self.domain.ancestors(k)[1:])]
        return [self.kind_type[k] for k in top]

    def _cases(self, skill: str, spec: SkillSpec) -> list[dict[str, str]]:
        """Per argument, the types a schema variant is typed with: one variant per
        concrete type for arguments that `when` clauses look at, else one covering type."""
        split = {a for c in (*spec.preconditions, *spec.effects) for a in c.when}
        options: dict[str, list[str]] = {}
        for arg, arg_spec in spec.args.items():
            admitted = [
                n
                for n in [*self.scene.names, *self.scene.robots]
                if any(self.scene.is_a(n, t) for t in arg_spec.types)
            ]
            concrete = list(dict.fromkeys(self.objects[n] for n in admitted))
            if arg in split or len(concrete) <= 1:
                options[arg] = concrete
            else:
                cover = _lca(self.types, concrete)
                if cover is not None and all(
                    any(self.scene.is_a(n, t) for t in arg_spec.types)
                    for n in [*self.scene.names, *self.scene.robots]
                    if self._is_a(self.objects[n], cover)
                ):
                    options[arg] = [cover]
                else:
                    options[arg] = concrete
            if not options[arg]:
                return []
        names = list(options)
        return [dict(zip(names, combo, strict=True)) for combo in product(*options.values())]

    def _applies(self, when: Mapping[str, str], cases: Mapping[str, str]) -> bool:
        return all(self._is_a(cases[arg], type_name) for arg, type_name in when.items())

    def _variants(
        self, skill: str, spec: SkillSpec, robot_type: str, cases: dict[str, str], n_robot: int
    ) -> list[ActionSchema]:
        robot_var = _unique("robot", spec.args)
        rename = {"robot": robot_var} if robot_var != "robot" else {}
        params = [(robot_var, robot_type), *cases.items()]
        suffix = [t for a, t in cases.items() if len(self._cases_for(skill, spec, a)) > 1]
        if n_robot > 1:
            suffix.insert(0, robot_type)
        name = "__".join([skill, *suffix])
        pre: list[Atom] = []
        absent: list[Atom] = []
        for cond in spec.preconditions:
            if not self._applies(cond.when, cases):
                continue
            atom = _rename(_atom(cond.fact), rename)
            if not self._condition(atom, cases, pre, absent):
                return []  # asks for a derived fact of a type it never holds for
        add: list[Atom] = []
        delete: list[Atom] = []
        for effect in spec.effects:
            if not self._applies(effect.when, cases):
                continue
            add += [_rename(_atom(t), rename) for t in effect.add]
            delete += [_rename(_atom(t), rename) for t in effect.delete]
        for atom in [*add, *delete]:
            if atom.predicate in self.negations:
                raise ModelError(f"skill {skill} changes derived fact {atom} directly")
        # Reach: each listed argument's place; an object's place is where it is located
        # (a mobile robot's, when it rides on one); a robot's place is where it is.
        variants: list[tuple[list[tuple[str, str]], list[Atom]]] = [([], [])]
        taken = [p for p, _ in params]
        for arg in spec.reach:
            arg_type = cases[arg]
            names = [n for n, t in self.objects.items() if self._is_a(t, arg_type)]
            if all(n in self.scene.places for n in names):
                for _, conds in variants:
                    conds.append(Atom(self.reaches, (f"?{robot_var}", f"?{arg}")))
                continue
            where = _unique(f"{arg}_location", taken)
            carrier = _unique(f"{arg}_carrier", [*taken, where])
            taken += [where, carrier]
            if all(n in self.scene.robots for n in names):
                if self.position is None:
                    raise ModelError(
                        f"skill {skill}: argument {arg} is a robot, but the domain has no "
                        "locations.robot to say where robots are"
                    )
                for extra, conds in variants:
                    extra.append((where, self.position_types[1]))
                    conds += [
                        Atom(self.position, (f"?{arg}", f"?{where}")),
                        Atom(self.reaches, (f"?{robot_var}", f"?{where}")),
                    ]
                continue
            if any(n in self.scene.places or n in self.scene.robots for n in names):
                raise ModelError(f"skill {skill}: argument {arg} mixes places and objects")
            grown = []
            for extra, conds in variants:
                grown.append(
                    (
                        [*extra, (where, self.place_type)],
                        [
                            *conds,
                            Atom(self.located, (f"?{arg}", f"?{where}")),
                            Atom(self.reaches, (f"?{robot_var}", f"?{where}")),
                        ],
                    )
                )
                if self.holder is not None:
                    # Held by this robot: it reached the object when it took it.
                    grown.append(
                        (list(extra), [*conds, Atom(self.holder, (f"?{robot_var}", f"?{arg}"))])
                    )
                if self.position is not None and self.carriers:
                    # On a mobile robot: reach the place that robot is at.
                    grown.append(
                        (
                            [
                                *extra,
                                (carrier, self.position_types[0]),
                                (where, self.position_types[1]),
                            ],
                            [
                                *conds,
                                Atom(self.located, (f"?{arg}", f"?{carrier}")),
                                Atom(self.position, (f"?{carrier}", f"?{where}")),
                                Atom(self.reaches, (f"?{robot_var}", f"?{where}")),
                            ],
                        )
                    )
            variants = grown
        out = []
        # A variant whose conditions contradict each other (held, yet nothing may hold it)
        # can never run.
        variants = [(e, c) for e, c in variants if not _contradicts([*pre, *c], absent)]
        for index, (extra, conds) in enumerate(variants):
            all_pre = [*pre, *conds]
            add_v, delete_v, cond_x = self._bookkeeping(add, delete, all_pre)
            label = name if len(variants) == 1 else f"{name}__{index}"
            distinct = tuple(
                (f, s)
                for f, s in spec.distinct
                if self._is_a(cases[f], cases[s]) or self._is_a(cases[s], cases[f])
            )
            out.append(
                ActionSchema(
                    name=label,
                    skill=skill,
                    robot=robot_var,
                    params=(*params, *extra),
                    args=tuple((a, a) for a in spec.args),
                    pre=tuple(dict.fromkeys(all_pre)),
                    absent=tuple(dict.fromkeys(absent)),
                    distinct=distinct,
                    add=tuple(dict.fromkeys(add_v)),
                    delete=tuple(dict.fromkeys(delete_v)),
                    cond=tuple(cond_x),
                    duration=spec.duration_s,
                )
            )
        return out

    def _cases_for(self, skill: str, spec: SkillSpec, arg: str) -> list[str]:
        return list(dict.fromkeys(c[arg] for c in self._cases(skill, spec)))

    def _condition(
        self, atom: Atom, cases: Mapping[str, str], pre: list[Atom], absent: list[Atom]
    ) -> bool:
        if atom.predicate in self.negations:
            head, patterns, types = self.negations[atom.predicate]
            binding = dict(zip(head.variables, atom.args, strict=True))
            for var, type_name in types.items():
                value = binding[var]
                value_type = cases.get(value[1:], "") if value[:1] == "?" else self.objects[value]
                if not self._is_a(value_type, type_name):
                    return False
            absent.extend(p.bind(binding) for p in patterns)
        elif atom.predicate in self.aliases:
            pre.append(Atom(self.located, atom.args))
        else:
            pre.append(atom)
        return True

    def _bookkeeping(
        self, add: list[Atom], delete: list[Atom], pre: list[Atom]
    ) -> tuple[list[Atom], list[Atom], list[CondEffect]]:
        """The effects with `located` kept up to date (aliased location facts are read
        from `located`, so their own facts are dropped)."""
        add_x: list[Atom] = []
        delete_x: list[Atom] = []
        cond: list[CondEffect] = []
        moved: list[str] = []
        for atom in delete:
            if atom.predicate in self.location_preds and atom.args[0] != ANY:
                moved.append(atom.args[0])
        for atom in add:
            if self.holder is not None and atom.predicate == self.holder:
                moved.append(atom.args[1])
        for obj in dict.fromkeys(moved):
            delete_x.append(Atom(self.located, (obj, ANY)))
        for atom in add:
            if atom.predicate in self.direct:
                add_x.append(Atom(self.located, atom.args[:2]))
            elif atom.predicate == self.support:
                obj, below = atom.args[0], atom.args[1]
                known = [p for p in pre if p.predicate == self.located and p.args[0] == below]
                if known:
                    add_x.append(Atom(self.located, (obj, known[0].args[1])))
                else:
                    var = "?_location"
                    cond.append(
                        CondEffect(
                            forall=((var[1:], self.place_type),),
                            when=(Atom(self.located, (below, var)),),
                            add=(Atom(self.located, (obj, var)),),
                        )
                    )
        add = [a for a in add if a.predicate not in self.aliases]
        delete = [a for a in delete if a.predicate not in self.aliases]
        return [*add, *add_x], [*delete, *delete_x], cond

    def _loses_track(self, schema: ActionSchema) -> str | None:
        """Why an action would leave an object neither placed nor carried, or None."""
        placed = {
            a.args[0]
            for a in schema.add
            if a.predicate in self.location_preds or a.predicate == self.located
        }
        placed |= {
            a.args[1] for a in schema.add if self.holder is not None and a.predicate == self.holder
        }
        for atom in schema.delete:
            if self.holder is not None and atom.predicate == self.holder:
                obj = atom.args[1]
            elif atom.predicate in self.location_preds:
                obj = atom.args[0]
            else:
                continue
            if obj == ANY or obj not in placed:
                return "it can leave an object neither placed nor carried"
        return None


def _atom(text: str) -> Atom:
    pattern = Pattern.parse(text)
    return Atom(pattern.predicate, tuple(pattern.args))


def _rename(atom: Atom, rename: Mapping[str, str]) -> Atom:
    if not rename:
        return atom
    return Atom(
        atom.predicate,
        tuple(f"?{rename.get(a[1:], a[1:])}" if a[:1] == "?" else a for a in atom.args),
    )


def _contradicts(pre: list[Atom], absent: list[Atom]) -> bool:
    """True when a required fact is one that must be absent (same variables/names)."""
    for need in pre:
        for ban in absent:
            if ban.predicate == need.predicate and all(
                b in (ANY, n) for b, n in zip(ban.args, need.args, strict=True)
            ):
                return True
    return False


def compile_model(scene: Scene, catalogue: Catalogue) -> LiftedModel:
    """The lifted model of `scene` with the skills of `catalogue`.

    Raises:
        ModelError: the domain uses a derived rule shape the compiler cannot handle.
    """
    compiler = _Compiler(scene, catalogue)
    dropped: dict[str, str] = {}
    actions = compiler.schemas(dropped)
    for skill, reason in dropped.items():
        log.debug("skill %s is not planned with: %s", skill, reason)
    fluents = compiler.fluents()
    changed = {a.predicate for s in actions for a in (*s.add, *s.delete)}
    changed |= {a.predicate for s in actions for c in s.cond for a in (*c.add, *c.delete)}
    static = frozenset(p for p in fluents if p not in changed)
    return LiftedModel(
        scene=scene,
        catalogue=catalogue,
        types=compiler.types,
        robot_type=ROBOT,
        objects=compiler.objects,
        fluents=fluents,
        static=static,
        actions=actions,
        located=compiler.located,
        reaches=compiler.reaches,
        negations=compiler.negations,
        aliases=compiler.aliases,
        dropped=dropped,
    )
