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

import heapq
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count, product

from robot_planner.planning.lifted import ANY, ActionSchema, Atom, LiftedModel
from robot_planner.world.facts import Fact

log = logging.getLogger(__name__)

INFINITY = float("inf")
#: Expansions taken from the preferred-operator queue after each new best h (as Fast
#: Downward's lazy greedy search does).
BOOST = 1000


class SearchLimit(RuntimeError):
    """The search ran out of its expansion or time budget before finding a plan."""


class Unsolvable(RuntimeError):
    """No sequence of actions reaches the goal (within the model)."""

    def __init__(self, message: str, unreachable: list[Fact] | None = None):
        super().__init__(message)
        self.unreachable = unreachable or []


@dataclass(slots=True)
class GroundAction:
    """One action instance: bit masks of what it needs, forbids, adds and deletes."""

    index: int
    schema: ActionSchema
    binding: dict[str, str]
    pre: int
    absent: int
    add: int
    delete: int
    #: conditional effects as (when, add, delete) masks
    cond: tuple[tuple[int, int, int], ...]

    @property
    def skill(self) -> str:
        return self.schema.skill

    @property
    def robot(self) -> str:
        return self.binding[self.schema.robot]

    @property
    def args(self) -> dict[str, str]:
        return self.schema.skill_args(self.binding)

    @property
    def cost(self) -> float:
        return self.schema.duration

    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.schema.name, tuple(sorted(self.binding.items()))

    def __str__(self) -> str:
        args = ",".join(self.binding[v] for v, _ in self.schema.params)
        return f"{self.schema.name}({args})"


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
    pre: list[list[int]]
    add: list[list[int]]
    #: per operator, masks of the facts it deletes / needs absent (that matter)
    delete: list[int]
    absent: list[int]
    absent_mask: int = 0
    pre_of: dict[int, list[int]] = field(default_factory=dict)
    size: list[int] = field(default_factory=list)
    all_absent: bytes = b""

    def __post_init__(self) -> None:
        self.all_absent = b"\x01" * self.n
        for op, pre in enumerate(self.pre):
            for fact in pre:
                self.pre_of.setdefault(fact, []).append(op)
            for fact in bits_of(self.absent[op]):
                self.pre_of.setdefault(fact + self.n, []).append(op)
            self.absent_mask |= self.absent[op]
        self.size = [len(p) for p in self.pre]


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
    by_key: dict[tuple, GroundAction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._masks: dict[Atom, int] = {}
        started = time.perf_counter()
        static = self.model.static_facts()
        for schema in self.model.actions:
            for binding in _bindings(self.model, schema, static):
                self._add(schema, binding)
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

    def _add(self, schema: ActionSchema, binding: dict[str, str]) -> None:
        static = self.model.static
        pre = 0
        for atom in schema.pre:
            if atom.predicate not in static:
                pre |= self.atom_mask(atom.bind(binding))
        absent = 0
        for atom in schema.absent:
            absent |= self.atom_mask(atom.bind(binding))
        add = 0
        for atom in schema.add:
            add |= self.atom_mask(atom.bind(binding))
        delete = 0
        for atom in schema.delete:
            delete |= self.atom_mask(atom.bind(binding))
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
        action = GroundAction(
            len(self.actions), schema, binding, pre, absent, add, delete, tuple(cond)
        )
        self.actions.append(action)
        self.by_key[action.key()] = action

    # --- delete relaxation ----------------------------------------------------------

    def _build_relaxed(self) -> None:
        """Unary-style relaxed operators (one per action and one per conditional
        effect), the facts any condition needs, and the successor index."""
        self.op_action: list[int] = []
        self.op_pre: list[list[int]] = []
        self.op_absent: list[int] = []
        self.op_add: list[int] = []
        self.op_del: list[int] = []
        self.needed = 0
        self.forbidden = 0
        for action in self.actions:
            absent = action.absent
            self.op_action.append(action.index)
            self.op_pre.append(bits_of(action.pre))
            self.op_absent.append(absent)
            self.op_add.append(action.add)
            self.op_del.append(action.delete & ~action.add)
            self.needed |= action.pre
            self.forbidden |= action.absent
            for when, c_add, c_del in action.cond:
                self.needed |= when
                if c_add or c_del:
                    self.op_action.append(action.index)
                    self.op_pre.append(bits_of(action.pre | when))
                    self.op_absent.append(absent)
                    self.op_add.append(c_add)
                    self.op_del.append(c_del & ~c_add)
        self._relaxed: dict[tuple[int, frozenset[int]], _Relaxed] = {}
        # Successor generation: each action is filed under its rarest positive condition.
        users: dict[int, int] = {}
        for pre in self.op_pre:
            for fact in pre:
                users[fact] = users.get(fact, 0) + 1
        self.trigger: dict[int, list[GroundAction]] = {}
        self.free: list[GroundAction] = []
        for action in self.actions:
            pre = bits_of(action.pre)
            if not pre:
                self.free.append(action)
                continue
            key = min(pre, key=lambda f: users[f])
            self.trigger.setdefault(key, []).append(action)

    def relaxed_for(self, goal: int, goal_absent: int, banned: frozenset[int]) -> _Relaxed:
        """The relaxed operators that matter for a goal: effects nothing needs are
        dropped, and an operator is dropped when another one gives every effect it
        gives that matters with a subset of its conditions (it cannot change what the
        relaxation reaches, and barely a relaxed plan's size). For a tabletop-like
        domain this removes stacking onto blocks that no goal mentions, the bulk of the
        actions."""
        key = (goal, goal_absent, banned)
        found = self._relaxed.get(key)
        if found is not None:
            return found
        n = len(self.facts)
        relevant = self.needed | goal
        forbidden = self.forbidden | goal_absent
        candidates = []
        for op, index in enumerate(self.op_action):
            if index in banned:
                continue
            add, delete = self.op_add[op] & relevant, self.op_del[op] & forbidden
            if add or delete:
                pre, absent = self.actions[index].pre, self.op_absent[op]
                size = len(self.op_pre[op]) + absent.bit_count()
                candidates.append((size, op, add, delete, pre, absent))
        # Fewer conditions first, so a dominating operator is kept before those it
        # dominates; dominators are looked up among kept operators that share the
        # candidate's rarest useful effect.
        candidates.sort()
        users: dict[tuple[int, int], int] = {}
        for _, _, add, delete, _, _ in candidates:
            for f in bits_of(add):
                users[(0, f)] = users.get((0, f), 0) + 1
            for f in bits_of(delete):
                users[(1, f)] = users.get((1, f), 0) + 1
        kept: list[int] = []
        buckets: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
        for _, op, add, delete, pre, absent in candidates:
            effects = [(0, f) for f in bits_of(add)] + [(1, f) for f in bits_of(delete)]
            rarest = min(effects, key=lambda e: users[e])
            if any(
                a & add == add and d & delete == delete and p & pre == p and b & absent == b
                for a, d, p, b in buckets.get(rarest, ())
            ):
                continue
            kept.append(op)
            for effect in effects:
                buckets.setdefault(effect, []).append((add, delete, pre, absent))
        kept.sort()
        found = _Relaxed(
            n=n,
            action=[self.op_action[o] for o in kept],
            pre=[self.op_pre[o] for o in kept],
            add=[bits_of(self.op_add[o] & relevant) for o in kept],
            delete=[self.op_del[o] & forbidden for o in kept],
            absent=[self.actions[self.op_action[o]].absent for o in kept],
        )
        if len(self._relaxed) > 64:
            self._relaxed.clear()
        self._relaxed[key] = found
        return found

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
        out = [a for a in self.free if a.index not in banned and self.applicable(state, a)]
        rest = state
        while rest:
            low = rest & -rest
            rest ^= low
            for action in self.trigger.get(low.bit_length() - 1, ()):
                if action.index not in banned and self.applicable(state, action):
                    out.append(action)
        return out

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
        counter = ops.size.copy()
        pre_of, op_add, op_delete = ops.pre_of, ops.add, ops.delete
        for fact in bits_of(state & ops.absent_mask):
            for op in pre_of[fact + n]:
                counter[op] += 1
        wanted = [f for f in bits_of(goal) if not reached[f]]
        wanted += [f + n for f in bits_of(goal_absent & state)]
        missing = set(wanted)

        ready = [op for op, size in enumerate(counter) if size == 0]
        head = 0
        while missing:
            for op in ready:
                for new in op_add[op]:
                    if not reached[new]:
                        reached[new] = 1
                        supporter[new] = op
                        queue.append(new)
                        missing.discard(new)
                gone = op_delete[op] & state
                while gone:
                    low = gone & -gone
                    gone ^= low
                    new = low.bit_length() - 1 + n
                    if not reached[new]:
                        reached[new] = 1
                        supporter[new] = op
                        queue.append(new)
                        missing.discard(new)
            if head >= len(queue) or not missing:
                break
            ready = []
            while head < len(queue):
                fact = queue[head]
                head += 1
                for op in pre_of.get(fact, ()):
                    counter[op] -= 1
                    if counter[op] == 0:
                        ready.append(op)
        if missing:
            return None
        chosen: set[int] = set()
        stack = list(wanted)
        seen = set(stack)
        while stack:
            op = supporter[stack.pop()]
            if op in chosen:
                continue
            chosen.add(op)
            needs = [f for f in ops.pre[op] if not (state >> f) & 1]
            needs += [f + n for f in bits_of(ops.absent[op] & state)]
            for need in needs:
                if need not in seen:
                    seen.add(need)
                    stack.append(need)
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
    ) -> list[GroundAction]:
        """A plan from `init` to a state with every `goal` fact and no `goal_absent`
        fact, by weighted A* on f = g + weight * h_FF (unit action costs). Ties go to
        the lower h, then to the state found first. `max_length` bounds the plan's length.

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
        best_g = {init: 0}
        parent: dict[int, tuple[int, GroundAction] | None] = {init: None}
        heap = [(weight * h0, h0, next(tie), 0, init)]
        while heap:
            _, _, _, g, state = heapq.heappop(heap)
            if g > best_g.get(state, INFINITY):
                continue
            if is_goal(state):
                stats.seconds = time.perf_counter() - started
                return _path(parent, state)
            stats.expanded += 1
            if stats.expanded > max_expansions or time.perf_counter() - started > deadline_s:
                stats.seconds = time.perf_counter() - started
                raise SearchLimit(
                    f"search stopped after {stats.expanded} states ({stats.seconds:.1f} s)"
                )
            for action in self.successors(state, banned_set):
                new = self.apply(state, action)
                new_g = g + 1
                if new_g >= best_g.get(new, INFINITY):
                    continue
                if max_length is not None and new_g > max_length:
                    continue
                h = heuristic(new)
                if h == INFINITY:
                    best_g[new] = -1  # dead end: never again
                    continue
                best_g[new] = new_g
                parent[new] = (state, action)
                heapq.heappush(heap, (new_g + weight * h, h, next(tie), new_g, new))
        stats.seconds = time.perf_counter() - started
        raise Unsolvable("every reachable state was searched")

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
        tie = count()
        queues: tuple[list, list] = ([], [])
        parent: dict[int, tuple[int, GroundAction] | None] = {}
        depth: dict[int, int] = {}
        queues[0].append((0.0, next(tie), None, None, 0))
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
            _, _, before, action, g = heapq.heappop(queue)
            state = init if action is None else self.apply(before, action)
            if state in parent:
                continue
            parent[state] = None if action is None else (before, action)
            depth[state] = g
            if state & goal == goal and not state & goal_absent:
                stats.seconds = time.perf_counter() - started
                return _path(parent, state)
            stats.expanded += 1
            if stats.expanded > max_expansions or time.perf_counter() - started > deadline_s:
                stats.seconds = time.perf_counter() - started
                raise SearchLimit(
                    f"search stopped after {stats.expanded} states ({stats.seconds:.1f} s)"
                )
            stats.evaluated += 1
            found = self.relaxed_plan(state, goal, banned_set, goal_absent)
            if found is None:
                if action is None:
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
                entry = (h, next(tie), state, successor, g + 1)
                heapq.heappush(queues[0], entry)
                if successor.index in helpful:
                    heapq.heappush(queues[1], entry)
        stats.seconds = time.perf_counter() - started
        raise Unsolvable("every reachable state was searched")

    def lookup(self, schema_name: str, binding: Mapping[str, str]) -> GroundAction | None:
        return self.by_key.get((schema_name, tuple(sorted(binding.items()))))


def _bindings(
    model: LiftedModel, schema: ActionSchema, static: frozenset[Fact]
) -> Iterable[dict[str, str]]:
    """Parameter bindings that satisfy the schema's static conditions and distinctness,
    binding the parameters of static conditions first so they prune early."""
    static_atoms = [a for a in schema.pre if a.predicate in model.static]
    order: list[str] = []
    for atom in static_atoms:
        for var in atom.variables:
            if var not in order:
                order.append(var)
    order += [v for v, _ in schema.params if v not in order]
    types = dict(schema.params)
    pools = {v: model.names_of(types[v]) for v in order}
    checks: dict[int, list[Atom]] = {}
    for atom in static_atoms:
        last = max(order.index(v) for v in atom.variables) if atom.variables else 0
        checks.setdefault(last, []).append(atom)
    distinct: dict[int, list[tuple[str, str]]] = {}
    for first, second in schema.distinct:
        distinct.setdefault(max(order.index(first), order.index(second)), []).append(
            (first, second)
        )
    binding: dict[str, str] = {}

    def extend(depth: int) -> Iterable[dict[str, str]]:
        if depth == len(order):
            yield dict(binding)
            return
        var = order[depth]
        for value in pools[var]:
            binding[var] = value
            if any(binding[a] == binding[b] for a, b in distinct.get(depth, ())):
                continue
            if all(
                Fact(a.predicate, a.bind(binding).args) in static for a in checks.get(depth, ())
            ):
                yield from extend(depth + 1)
        binding.pop(var, None)

    return extend(0)


def bits_of(mask: int) -> list[int]:
    """The indices of the set bits of `mask`, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _path(parent: Mapping[int, tuple[int, GroundAction] | None], state: int) -> list[GroundAction]:
    out = []
    link = parent[state]
    while link is not None:
        state, action = link
        out.append(action)
        link = parent[state]
    return out[::-1]
