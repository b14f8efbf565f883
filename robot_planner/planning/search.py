"""An in-process classical planner over the lifted model: grounding, then weighted A*
(or greedy best-first) search with the FF heuristic.

Why not only an external engine: Fast Downward through unified-planning solves the same
model, but each call starts a process, writes PDDL and translates it, which costs more
than the whole latency budget of a tabletop command. This engine grounds a scene once
(cached) and then plans in a few milliseconds.

States are Python ints used as bit sets over the ground facts, so applicability is two
AND operations and states hash cheaply. Negative conditions (from ``unless`` derived
facts) are checked exactly in search and ignored by the heuristic, as usual for delete
relaxation.
"""

from __future__ import annotations

import functools
import gc
import heapq
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count, product
from operator import itemgetter
from typing import ParamSpec, TypeVar

from robot_planner.planning.lifted import ANY, ActionSchema, Atom, LiftedModel
from robot_planner.world.facts import Fact

log = logging.getLogger(__name__)

INFINITY = float("inf")
#: Expansions taken from the preferred-operator queue after each new best h (as Fast
#: Downward's lazy greedy search does).
BOOST = 1000


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _gc_paused(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run with the cyclic garbage collector paused. Grounding makes hundreds of
    thousands of objects that live as long as the task, and search makes as many that
    die young; while both go on, the collector keeps walking all of them again (a
    fifth of a cold 8 x 30 plan). None of them is part of a reference cycle, so
    reference counting still frees them; cycles made meanwhile wait for the collector."""

    @functools.wraps(method)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()

    return paused


#: Extra cost of an action that adds a fact the caller would rather not see made (less
#: than one action: it breaks ties between plans of the same length, never adds a step).
DISCOURAGED_COST = 0.5


class SearchLimit(RuntimeError):
    """The search ran out of its expansion or time budget before finding a plan."""


class Unsolvable(RuntimeError):
    """No sequence of actions reaches the goal (within the model)."""

    def __init__(self, message: str, unreachable: list[Fact] | None = None):
        super().__init__(message)
        self.unreachable = unreachable or []


@dataclass(slots=True)
class GroundAction:
    """One action instance: its parameter values and bit masks of what it needs,
    forbids, adds and deletes."""

    index: int
    schema: ActionSchema
    #: the value of each of the schema's parameters, in their order
    values: tuple[str, ...]
    pre: int
    absent: int
    add: int
    delete: int
    #: conditional effects as (when, add, delete) masks
    cond: tuple[tuple[int, int, int], ...]

    @property
    def binding(self) -> dict[str, str]:
        """Parameter -> value (made on demand: grounding makes far more actions than
        any plan looks at)."""
        return dict(zip(self.schema.param_names, self.values, strict=True))

    @property
    def skill(self) -> str:
        return self.schema.skill

    @property
    def robot(self) -> str:
        return self.values[self.schema.robot_position]

    @property
    def args(self) -> dict[str, str]:
        return self.schema.skill_args(self.binding)

    @property
    def cost(self) -> float:
        return self.schema.duration

    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.schema.name, self.values

    def __str__(self) -> str:
        return f"{self.schema.name}({','.join(self.values)})"


@dataclass
class Step:
    """What one action of a plan did in the state it ran in (conditional effects
    resolved), for ordering and constraints."""

    action: GroundAction
    needs: int
    forbids: int
    add: int
    delete: int
    #: facts it actually made true / false in that state
    made: int = 0
    ended: int = 0


@dataclass
class _Relaxed:
    """Relaxed operators for one goal. Facts are numbered as in the task, and "fact p
    is absent" as p + n: an absent fact is reached when an operator deletes it, so the
    heuristic sees that a block must be lifted off another before it is free."""

    n: int
    action: list[int]
    pre: list[tuple[int, ...]]
    #: per operator, the facts it adds / deletes / needs absent (that matter)
    add: list[tuple[int, ...]]
    delete: list[tuple[int, ...]]
    absent: list[int]
    absent_mask: int = 0
    #: fact (or absent fact + n) -> operators that need it
    pre_of: list[list[int]] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    #: operators without positive conditions
    zero: list[int] = field(default_factory=list)
    #: fact -> operators that delete it
    deleters: dict[int, list[int]] = field(default_factory=dict)
    #: the goal's facts
    goal: list[int] = field(default_factory=list)
    all_absent: bytes = b""

    def __post_init__(self) -> None:
        n = self.n
        self.all_absent = b"\x01" * n
        self.pre_of = [[] for _ in range(2 * n)]
        absences: dict[int, list[int]] = {}  # operators share few distinct masks
        for op, pre in enumerate(self.pre):
            absent = absences.get(self.absent[op])
            if absent is None:
                absent = absences[self.absent[op]] = [f + n for f in bits_of(self.absent[op])]
            for fact in pre:
                self.pre_of[fact].append(op)
            for fact in absent:
                self.pre_of[fact].append(op)
            self.absent_mask |= self.absent[op]
            for fact in self.delete[op]:
                self.deleters.setdefault(fact, []).append(op)
        self.size = [len(p) for p in self.pre]
        self.zero = [op for op, size in enumerate(self.size) if not size]


@dataclass
class SearchStats:
    expanded: int = 0
    evaluated: int = 0
    seconds: float = 0.0


@dataclass
class GroundTask:
    """Every action of a lifted model instantiated over the scene's names."""

    model: LiftedModel
    facts: list[Fact] = field(default_factory=list)
    index: dict[Fact, int] = field(default_factory=dict)
    actions: list[GroundAction] = field(default_factory=list)
    #: schema name -> parameter values -> action
    by_key: dict[str, dict[tuple[str, ...], GroundAction]] = field(default_factory=dict)

    @_gc_paused
    def __post_init__(self) -> None:
        self._masks: dict[Atom, int] = {}
        #: ground atom -> (mask, fact ids), for the atoms grounding meets
        self._ground: dict[tuple[str, tuple[str, ...]], tuple[int, tuple[int, ...]]] = {}
        self._schemas = {s.name: s for s in self.model.actions}
        started = time.perf_counter()
        static = self.model.static_facts()
        #: per action, the facts of its `pre` mask
        self._pre_ids: list[tuple[int, ...]] = []
        for schema in self.model.actions:
            self._ground_schema(schema, static)
        self._build_relaxed()
        log.debug(
            "grounded %d actions over %d facts in %.3f s",
            len(self.actions),
            len(self.facts),
            time.perf_counter() - started,
        )

    # --- facts and masks ------------------------------------------------------------

    def fact_id(self, fact: Fact) -> int:
        found = self.index.get(fact)
        if found is None:
            found = self.index[fact] = len(self.facts)
            self.facts.append(fact)
        return found

    def mask(self, facts: Iterable[Fact]) -> int:
        out = 0
        for fact in facts:
            out |= 1 << self.fact_id(fact)
        return out

    def atom_mask(self, atom: Atom) -> int:
        """The facts a ground atom (``*`` = any name of the argument's type) stands for."""
        found = self._masks.get(atom)
        if found is None:
            types = self.model.fluents[atom.predicate]
            pools = [
                self.model.names_of(t) if a == ANY else [a]
                for a, t in zip(atom.args, types, strict=True)
            ]
            found = self.mask(Fact(atom.predicate, tuple(c)) for c in product(*pools))
            self._masks[atom] = found
        return found

    def decode(self, mask: int) -> list[Fact]:
        out = []
        while mask:
            low = mask & -mask
            out.append(self.facts[low.bit_length() - 1])
            mask ^= low
        return out

    def _ground_schema(self, schema: ActionSchema, static: frozenset[Fact]) -> None:
        """Every action of one schema, its masks read from per-atom caches keyed by the
        atom's argument values (grounding meets each ground atom many times)."""
        names = tuple(v for v, _ in schema.params)
        sections = (
            [a for a in schema.pre if a.predicate not in self.model.static],
            schema.absent,
            schema.add,
            schema.delete,
        )
        slot = {f"?{v}": i for i, v in enumerate(names)}
        consts = tuple(dict.fromkeys(a for atoms in sections for atom in atoms for a in atom.args))
        consts = tuple(a for a in consts if a not in slot)
        slot.update((c, len(names) + i) for i, c in enumerate(consts))
        compiled = [[self._slots(atom, slot) for atom in atoms] for atoms in sections]
        pre_atoms, absent_atoms, add_atoms, delete_atoms = compiled
        ground = self._ground_atom
        named = self.by_key.setdefault(schema.name, {})
        for values in _bindings(self.model, schema, static):
            full = values + consts if consts else values
            pre = absent = add = delete = 0
            pre_ids: list[int] = []
            for predicate, index, getter, cache in pre_atoms:
                key = getter(full)
                found = cache.get(key)
                if found is None:
                    found = cache[key] = ground(predicate, index, full)
                pre |= found[0]
                pre_ids += found[1]
            for predicate, index, getter, cache in absent_atoms:
                key = getter(full)
                found = cache.get(key)
                if found is None:
                    found = cache[key] = ground(predicate, index, full)
                absent |= found[0]
            for predicate, index, getter, cache in add_atoms:
                key = getter(full)
                found = cache.get(key)
                if found is None:
                    found = cache[key] = ground(predicate, index, full)
                add |= found[0]
            for predicate, index, getter, cache in delete_atoms:
                key = getter(full)
                found = cache.get(key)
                if found is None:
                    found = cache[key] = ground(predicate, index, full)
                delete |= found[0]
            cond = ()
            if schema.cond:
                cond = self._cond_masks(schema, dict(zip(names, values, strict=True)))
            action = GroundAction(
                len(self.actions), schema, values, pre, absent, add, delete, cond
            )
            self.actions.append(action)
            named[values] = action
            self._pre_ids.append(_unique_sorted(pre_ids))

    @staticmethod
    def _slots(atom: Atom, slot: Mapping[str, int]) -> tuple:
        """An atom as (predicate, argument slots, getter of its key, cache)."""
        index = tuple(slot[a] for a in atom.args)
        if len(index) > 1:
            getter = itemgetter(*index)
        elif index:
            getter = itemgetter(index[0])
        else:
            getter = _no_args
        return atom.predicate, index, getter, {}

    def _ground_atom(
        self, predicate: str, index: tuple[int, ...], full: tuple[str, ...]
    ) -> tuple[int, tuple[int, ...]]:
        args = tuple(full[i] for i in index)
        key = (predicate, args)
        found = self._ground.get(key)
        if found is None:
            mask = self.atom_mask(Atom(predicate, args))
            found = self._ground[key] = (mask, tuple(bits_of(mask)))
        return found

    def _cond_masks(
        self, schema: ActionSchema, binding: dict[str, str]
    ) -> tuple[tuple[int, int, int], ...]:
        cond = []
        for effect in schema.cond:
            pools = [self.model.names_of(t) for _, t in effect.forall]
            for values in product(*pools):
                inner = {
                    **binding,
                    **dict(zip((v for v, _ in effect.forall), values, strict=True)),
                }
                when = 0
                for atom in effect.when:
                    when |= self.atom_mask(atom.bind(inner))
                c_add = 0
                for atom in effect.add:
                    c_add |= self.atom_mask(atom.bind(inner))
                c_del = 0
                for atom in effect.delete:
                    c_del |= self.atom_mask(atom.bind(inner))
                cond.append((when, c_add, c_del))
        return tuple(cond)

    # --- delete relaxation ----------------------------------------------------------

    def _build_relaxed(self) -> None:
        """Unary-style relaxed operators (one per action and one per conditional
        effect) and the facts any condition needs."""
        self.op_action: list[int] = []
        self.op_pre: list[tuple[int, ...]] = []
        self.op_absent: list[int] = []
        #: per operator, its action's conditions (those of a conditional effect apart)
        self.op_pre_mask: list[int] = []
        self.op_add: list[int] = []
        self.op_del: list[int] = []
        self.needed = 0
        self.forbidden = 0
        for action in self.actions:
            index = action.index
            absent, add, delete = action.absent, action.add, action.delete
            self.op_action.append(index)
            self.op_pre.append(self._pre_ids[index])
            self.op_pre_mask.append(action.pre)
            self.op_absent.append(absent)
            self.op_add.append(add)
            self.op_del.append(delete & ~add if delete & add else delete)
            self.needed |= action.pre
            self.forbidden |= absent
            for when, c_add, c_del in action.cond:
                self.needed |= when
                if c_add or c_del:
                    self.op_action.append(index)
                    self.op_pre.append(tuple(bits_of(action.pre | when)))
                    self.op_pre_mask.append(action.pre)
                    self.op_absent.append(absent)
                    self.op_add.append(c_add)
                    self.op_del.append(c_del & ~c_add)
        #: per operator, how many conditions it has (facts and facts that must be absent)
        self.op_size = [
            len(pre) + absent.bit_count()
            for pre, absent in zip(self.op_pre, self.op_absent, strict=True)
        ]
        #: operators by their number of conditions (in operator order within a number)
        self.op_by_size = sorted(range(len(self.op_action)), key=self.op_size.__getitem__)
        self._relaxed: dict[tuple[int, int, frozenset[int]], _Relaxed] = {}
        # The successor index is built on the first search (`_index_successors`).
        self._indexed = False
        self.trigger: dict[int, list[int]] = {}
        self.free: list[int] = []
        self._rank: list[int] = []
        self._absents: list[int] = []

    def _index_successors(self, sample: int) -> None:
        """File each action under one of its positive conditions, to be checked only in
        states that have that fact. The fact is the one least likely to hold, judged by
        how many facts of its predicate hold in `sample` (a state seen in search), then
        by how few actions need it. Successors keep the order they would have with each
        action filed under its rarest condition alone (`_rank`), so the choice never
        changes a search."""
        users: dict[int, int] = {}
        for pre in self.op_pre:
            for fact in pre:
                users[fact] = users.get(fact, 0) + 1
        total: dict[str, int] = {}
        held: dict[str, int] = {}
        for fact in self.facts:
            total[fact.predicate] = total.get(fact.predicate, 0) + 1
        for fact_id in bits_of(sample):
            if fact_id < len(self.facts):
                predicate = self.facts[fact_id].predicate
                held[predicate] = held.get(predicate, 0) + 1
        share = {p: (held.get(p, 0) + 1) / (count + 1) for p, count in total.items()}
        facts = self.facts
        chance = {f: (share.get(facts[f].predicate, 1.0), count) for f, count in users.items()}
        # Plain lists of ints: the index holds one entry per action, and objects per
        # entry would cost the garbage collector more than the index saves.
        trigger: dict[int, list[int]] = {}
        free: list[int] = []
        by_rarest: dict[int, list[int]] = {}
        for index, pre in enumerate(self._pre_ids):
            if len(pre) == 1:
                key = rarest = pre[0]
            elif len(pre) == 2:
                first, second = pre
                rarest = first if users[first] <= users[second] else second
                key = first if chance[first] <= chance[second] else second
            elif pre:
                rarest = min(pre, key=users.__getitem__)
                key = min(pre, key=chance.__getitem__)
            else:
                free.append(index)
                continue
            filed = by_rarest.get(rarest)
            if filed is None:
                by_rarest[rarest] = [index]
            else:
                filed.append(index)
            filed = trigger.get(key)
            if filed is None:
                trigger[key] = [index]
            else:
                filed.append(index)
        rank = [0] * len(self.actions)
        order = list(free)
        for rarest in sorted(by_rarest):
            order += by_rarest[rarest]
        for position, index in enumerate(order):
            rank[index] = position
        self.trigger, self.free, self._rank = trigger, free, rank
        self._absents = [a.absent for a in self.actions]
        self._indexed = True

    def relaxed_for(self, goal: int, goal_absent: int, banned: frozenset[int]) -> _Relaxed:
        """The relaxed operators that matter for a goal: effects nothing needs are
        dropped, and an operator is dropped when another one gives every effect it
        gives that matters with a subset of its conditions (it cannot change what the
        relaxation reaches, and barely a relaxed plan's size). For a tabletop-like
        domain this removes stacking onto blocks that no goal mentions, the bulk of the
        actions."""
        key = (goal, goal_absent, banned)
        found = self._relaxed.get(key)
        if found is None:
            found = self._relaxed_ops(goal, goal_absent, banned)
            if len(self._relaxed) > 64:
                self._relaxed.clear()
            self._relaxed[key] = found
        return found

    @_gc_paused
    def _relaxed_ops(self, goal: int, goal_absent: int, banned: frozenset[int]) -> _Relaxed:
        n = len(self.facts)
        relevant = self.needed | goal
        forbidden = self.forbidden | goal_absent
        op_absent = self.op_absent
        op_add_mask, op_del_mask, op_pre_mask = self.op_add, self.op_del, self.op_pre_mask
        # Many operators share their effects that matter (stacking one block onto any
        # other adds the same facts that matter): each mask is decoded once.
        adds_of: dict[int, tuple[int, ...]] = {0: ()}
        deletes_of: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {0: ((), ())}
        kept: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []
        # Operators with fewer conditions come first, so one that dominates is kept
        # before those it dominates. A kept operator is filed under each effect that
        # matters (deleting fact f counts as effect f + n); a dominator has every effect
        # of the candidate, so it is in the smallest of the candidate's files.
        files: dict[int, list[tuple[int, int, int, int]]] = {}
        op_action = self.op_action
        for op in self.op_by_size:
            if banned and op_action[op] in banned:
                continue
            add_mask = op_add_mask[op] & relevant
            delete_mask = op_del_mask[op] & forbidden
            if not add_mask and not delete_mask:
                continue
            add = adds_of.get(add_mask)
            if add is None:
                add = adds_of[add_mask] = tuple(bits_of(add_mask))
            deletes = deletes_of.get(delete_mask)
            if deletes is None:
                delete = tuple(bits_of(delete_mask))
                deletes = deletes_of[delete_mask] = (delete, tuple(f + n for f in delete))
            delete, absences = deletes
            effects = add + absences if absences else add
            pre, absent = op_pre_mask[op], op_absent[op]
            smallest = None
            for effect in effects:
                filed = files.get(effect)
                if filed is None:  # no kept operator has this effect
                    smallest = None
                    break
                if smallest is None or len(filed) < len(smallest):
                    smallest = filed
            if smallest is not None and any(
                a & add_mask == add_mask
                and d & delete_mask == delete_mask
                and p & pre == p
                and b & absent == b
                for a, d, p, b in smallest
            ):
                continue
            kept.append((op, add, delete))
            entry = (add_mask, delete_mask, pre, absent)
            for effect in effects:
                filed = files.get(effect)
                if filed is None:
                    files[effect] = [entry]
                else:
                    filed.append(entry)
        kept.sort()
        return _Relaxed(
            n=n,
            action=[self.op_action[o] for o, _, _ in kept],
            pre=[self.op_pre[o] for o, _, _ in kept],
            add=[add for _, add, _ in kept],
            delete=[delete for _, _, delete in kept],
            absent=[self.actions[self.op_action[o]].absent for o, _, _ in kept],
            goal=bits_of(goal),
        )

    # --- state transitions ----------------------------------------------------------

    def applicable(self, state: int, action: GroundAction) -> bool:
        return state & action.pre == action.pre and not state & action.absent

    def apply(self, state: int, action: GroundAction) -> int:
        add, delete = action.add, action.delete
        for when, c_add, c_del in action.cond:
            if state & when == when:
                add |= c_add
                delete |= c_del
        return (state & ~delete) | add

    def step(self, state: int, action: GroundAction) -> Step:
        """The action's resolved effects in `state`; a conditional effect that did not
        fire must not fire in a reordering either, so its condition becomes a
        forbidden fact (all conditions here are single facts or none)."""
        needs, forbids = action.pre, action.absent
        add, delete = action.add, action.delete
        for when, c_add, c_del in action.cond:
            if state & when == when:
                add |= c_add
                delete |= c_del
                needs |= when
            elif when & (when - 1) == 0:
                forbids |= when
        made = add & ~state
        ended = delete & ~add & state
        return Step(action, needs, forbids, add, delete, made, ended)

    def successors(self, state: int, banned: frozenset[int]) -> list[GroundAction]:
        if not self._indexed:
            self._index_successors(state)
        absents, needs = self._absents, self._pre_ids
        found = [i for i in self.free if not state & absents[i]]
        present = bits_of(state)
        have = set(present)
        trigger = self.trigger
        for fact in present:
            for index in trigger.get(fact, ()):
                if have.issuperset(needs[index]) and not state & absents[index]:
                    found.append(index)
        if banned:
            found = [i for i in found if i not in banned]
        found.sort(key=self._rank.__getitem__)
        actions = self.actions
        return [actions[i] for i in found]

    # --- heuristic ------------------------------------------------------------------

    def relaxed_plan(
        self, state: int, goal: int, banned: frozenset[int], goal_absent: int = 0
    ) -> tuple[float, set[int]] | None:
        """FF: a relaxed plan's size and its actions; None when the goal is unreachable
        even ignoring deletes (absent facts count as facts an operator's delete
        reaches; see `_Relaxed`)."""
        ops = self.relaxed_for(goal, goal_absent, banned)
        n = ops.n
        if goal >> n:  # a goal fact no operator or state had when these were built
            return None
        # Facts of the state are reached; so is the absence of every other fact.
        reached = bytearray(n) + ops.all_absent
        supporter: dict[int, int] = {}
        queue = [f for f in bits_of(state) if f < n]
        for fact in queue:
            reached[fact] = 1
            reached[fact + n] = 0
        pre_of = ops.pre_of
        counter = ops.size.copy()
        blocking = state & ops.absent_mask
        if blocking:
            for fact in bits_of(blocking):
                for op in pre_of[fact + n]:
                    counter[op] += 1
            ready = [op for op in ops.zero if not counter[op]]
        else:
            ready = ops.zero
        # What each operator reaches: its adds, then the absence of each fact of the
        # state that it deletes (other absences are reached from the start).
        reaches = ops.add
        copied = False
        for fact in queue:
            deleters = ops.deleters.get(fact)
            if deleters:
                if not copied:
                    reaches = reaches.copy()
                    copied = True
                for op in deleters:
                    reaches[op] = (*reaches[op], fact + n)
        wanted = [f for f in ops.goal if not reached[f]]
        wanted += [f + n for f in bits_of(goal_absent & state)]
        missing = len(wanted)
        is_wanted = bytearray(2 * n)
        for fact in wanted:
            is_wanted[fact] = 1
        head = 0
        while missing:
            # An operator is ready once every condition is reached; the first to reach
            # a fact supports it.
            for op in ready:
                for new in reaches[op]:
                    if not reached[new]:
                        reached[new] = 1
                        supporter[new] = op
                        queue.append(new)
                        if is_wanted[new]:
                            missing -= 1
            if not missing or head >= len(queue):
                break
            ready = []
            for fact in queue[head:]:
                for op in pre_of[fact]:
                    left = counter[op] - 1
                    counter[op] = left
                    if not left:
                        ready.append(op)
            head = len(queue)
        if missing:
            return None
        # Facts with a supporter are exactly those the state lacks (and absences of
        # facts it has): the conditions the relaxed plan must reach.
        chosen: set[int] = set()
        stack = list(wanted)
        seen = set(stack)
        pre, absent = ops.pre, ops.absent
        while stack:
            op = supporter[stack.pop()]
            if op in chosen:
                continue
            chosen.add(op)
            for need in pre[op]:
                if need in supporter and need not in seen:
                    seen.add(need)
                    stack.append(need)
            if blocking and absent[op] & blocking:
                for fact in bits_of(absent[op] & blocking):
                    if fact + n not in seen:
                        seen.add(fact + n)
                        stack.append(fact + n)
        actions = {ops.action[op] for op in chosen}
        return float(len(actions)), actions

    def unreachable(self, state: int, goal: int, banned: frozenset[int]) -> list[Fact]:
        """Goal facts that no sequence of actions can make true, even ignoring deletes."""
        reached = state
        changed = True
        while changed:
            changed = False
            for action in self.actions:
                if action.index in banned or reached & action.pre != action.pre:
                    continue
                gain = action.add
                for when, c_add, _ in action.cond:
                    if reached & (action.pre | when) == action.pre | when:
                        gain |= c_add
                if gain & ~reached:
                    reached |= gain
                    changed = True
        return self.decode(goal & ~reached)

    # --- search ---------------------------------------------------------------------

    @_gc_paused
    def solve(
        self,
        init: int,
        goal: int,
        goal_absent: int = 0,
        banned: Iterable[int] = (),
        weight: float = 1.0,
        max_expansions: int = 200_000,
        deadline_s: float = 30.0,
        stats: SearchStats | None = None,
        max_length: int | None = None,
        discouraged: int = 0,
    ) -> list[GroundAction]:
        """A plan from `init` to a state with every `goal` fact and no `goal_absent`
        fact, by weighted A* on f = g + weight * h_FF (unit action costs, plus
        `DISCOURAGED_COST` for an action that adds a `discouraged` fact: among plans of
        the same length, the one that does not make them wins). Ties go to the lower h,
        then to the state found first. `max_length` bounds the plan's length.

        Raises:
            Unsolvable: the goal is unreachable (relaxed), or the whole space was searched.
            SearchLimit: the expansion or time budget ran out.
        """
        started = time.perf_counter()
        stats = stats if stats is not None else SearchStats()
        banned_set = frozenset(banned)

        def is_goal(state: int) -> bool:
            return state & goal == goal and not state & goal_absent

        def heuristic(state: int) -> float:
            stats.evaluated += 1
            found = self.relaxed_plan(state, goal, banned_set, goal_absent)
            return INFINITY if found is None else found[0]

        h0 = heuristic(init)
        if h0 == INFINITY:
            raise Unsolvable(
                "unreachable", self.unreachable(init, goal, banned_set) or self.decode(goal)
            )
        tie = count()
        best_g: dict[int, float] = {init: 0}
        length = {init: 0}
        parent: dict[int, tuple[int, int] | None] = {init: None}
        heap = [(weight * h0, h0, next(tie), 0.0, init)]
        while heap:
            _, _, _, g, state = heapq.heappop(heap)
            if g > best_g.get(state, INFINITY):
                continue
            if is_goal(state):
                stats.seconds = time.perf_counter() - started
                return _path(parent, state, self.actions)
            stats.expanded += 1
            if stats.expanded > max_expansions or time.perf_counter() - started > deadline_s:
                stats.seconds = time.perf_counter() - started
                raise SearchLimit(
                    f"search stopped after {stats.expanded} states ({stats.seconds:.1f} s)"
                )
            for action in self.successors(state, banned_set):
                new = self.apply(state, action)
                new_g = g + (1 + DISCOURAGED_COST if action.add & discouraged else 1)
                if new_g >= best_g.get(new, INFINITY):
                    continue
                if max_length is not None and length[state] + 1 > max_length:
                    continue
                h = heuristic(new)
                if h == INFINITY:
                    best_g[new] = -1  # dead end: never again
                    continue
                best_g[new] = new_g
                length[new] = length[state] + 1
                parent[new] = (state, action.index)
                heapq.heappush(heap, (new_g + weight * h, h, next(tie), new_g, new))
        stats.seconds = time.perf_counter() - started
        raise Unsolvable("every reachable state was searched")

    @_gc_paused
    def solve_greedy(
        self,
        init: int,
        goal: int,
        goal_absent: int = 0,
        banned: Iterable[int] = (),
        max_expansions: int = 200_000,
        deadline_s: float = 30.0,
        stats: SearchStats | None = None,
        max_length: int | None = None,
    ) -> list[GroundAction]:
        """Lazy greedy best-first search with preferred operators (as in LAMA's first
        iteration): a state is evaluated only when it is taken from the open list, and
        actions of its relaxed plan go to a second open list that is served in turn.
        Far fewer evaluations than `solve` on large problems; plans may be longer.

        Raises:
            Unsolvable, SearchLimit: as `solve`.
        """
        started = time.perf_counter()
        stats = stats if stats is not None else SearchStats()
        banned_set = frozenset(banned)
        # Open-list entries and back links hold action indices (ints only), which the
        # garbage collector stops tracking.
        actions = self.actions
        tie = count()
        queues: tuple[list, list] = ([], [])
        parent: dict[int, tuple[int, int] | None] = {}
        queues[0].append((0.0, next(tie), init, -1, 0))
        turn = 0
        boost = 0
        best_h = INFINITY
        while queues[0] or queues[1]:
            if boost > 0 and queues[1]:
                boost -= 1
                queue = queues[1]  # after progress, follow the relaxed plan for a while
            else:
                if not queues[turn % 2]:
                    turn += 1
                queue = queues[turn % 2]
                turn += 1
            _, _, before, index, g = heapq.heappop(queue)
            state = init if index < 0 else self.apply(before, actions[index])
            if state in parent:
                continue
            parent[state] = None if index < 0 else (before, index)
            if state & goal == goal and not state & goal_absent:
                stats.seconds = time.perf_counter() - started
                return _path(parent, state, actions)
            stats.expanded += 1
            if stats.expanded > max_expansions or time.perf_counter() - started > deadline_s:
                stats.seconds = time.perf_counter() - started
                raise SearchLimit(
                    f"search stopped after {stats.expanded} states ({stats.seconds:.1f} s)"
                )
            stats.evaluated += 1
            found = self.relaxed_plan(state, goal, banned_set, goal_absent)
            if found is None:
                if index < 0:
                    raise Unsolvable(
                        "unreachable",
                        self.unreachable(init, goal, banned_set) or self.decode(goal),
                    )
                continue
            h, helpful = found
            if h < best_h:
                best_h = h
                boost += BOOST
            if max_length is not None and g + 1 > max_length:
                continue
            for successor in self.successors(state, banned_set):
                entry = (h, next(tie), state, successor.index, g + 1)
                heapq.heappush(queues[0], entry)
                if successor.index in helpful:
                    heapq.heappush(queues[1], entry)
        stats.seconds = time.perf_counter() - started
        raise Unsolvable("every reachable state was searched")

    def lookup(self, schema_name: str, binding: Mapping[str, str]) -> GroundAction | None:
        schema = self._schemas.get(schema_name)
        if schema is None or len(binding) != len(schema.params):
            return None
        values = tuple(binding.get(v) for v, _ in schema.params)
        return self.by_key.get(schema_name, {}).get(values)  # type: ignore[arg-type]


def _bindings(
    model: LiftedModel, schema: ActionSchema, static: frozenset[Fact]
) -> list[tuple[str, ...]]:
    """Parameter values (in the schema's parameter order) that satisfy the schema's
    static conditions and distinctness. The parameters of static conditions are bound
    first, level by level, so they prune before the others multiply the bindings."""
    static_atoms = [a for a in schema.pre if a.predicate in model.static]
    order: list[str] = []
    for atom in static_atoms:
        for var in atom.variables:
            if var not in order:
                order.append(var)
    order += [v for v, _ in schema.params if v not in order]
    position = {v: i for i, v in enumerate(order)}
    types = dict(schema.params)
    pools = [model.names_of(types[v]) for v in order]
    checks: dict[int, list[tuple[tuple, frozenset[Fact]]]] = {}
    for atom in static_atoms:
        last = max(position[v] for v in atom.variables) if atom.variables else 0
        slots = tuple(position[a[1:]] if a[:1] == "?" else a for a in atom.args)
        checks.setdefault(last, []).append(((atom.predicate, slots), static))
    # Each distinctness test is made when its later parameter is bound: against the
    # position of the other one.
    distinct: dict[int, list[int]] = {}
    for first, second in schema.distinct:
        i, j = sorted((position[first], position[second]))
        distinct.setdefault(j, []).append(i)
    partial: list[tuple[str, ...]] = [()]
    for depth, pool in enumerate(pools):
        tests = checks.get(depth, ())
        apart = distinct.get(depth, ())
        if not tests and not apart:
            partial = [(*p, v) for p in partial for v in pool]
        elif not tests and len(apart) == 1:
            other = apart[0]
            partial = [(*p, v) for p in partial for v in pool if v != p[other]]
        else:
            grown = []
            for p in partial:
                for v in pool:
                    if any(p[i] == v for i in apart):
                        continue
                    values = (*p, v)
                    if all(
                        Fact(pred, tuple(s if s.__class__ is str else values[s] for s in slots))
                        in facts
                        for (pred, slots), facts in tests
                    ):
                        grown.append(values)
            partial = grown
    back = [position[v] for v, _ in schema.params]
    if back == list(range(len(back))):
        return partial
    if len(back) == 1:
        return [(values[back[0]],) for values in partial]
    return list(map(itemgetter(*back), partial))


def _no_args(_values: tuple[str, ...]) -> tuple[()]:
    return ()


def _unique_sorted(ids: list[int]) -> tuple[int, ...]:
    """Fact ids as `bits_of` gives them (most lists here have one or two)."""
    if len(ids) < 2:
        return tuple(ids)
    if len(ids) == 2:
        first, second = ids
        if first < second:
            return first, second
        return (second, first) if second < first else (first,)
    return tuple(sorted(set(ids)))


def bits_of(mask: int) -> list[int]:
    """The indices of the set bits of `mask`, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _path(
    parent: Mapping[int, tuple[int, int] | None], state: int, actions: Sequence[GroundAction]
) -> list[GroundAction]:
    out = []
    link = parent[state]
    while link is not None:
        state, index = link
        out.append(actions[index])
        link = parent[state]
    return out[::-1]
