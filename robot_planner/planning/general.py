"""Domain-independent planning: goal facts + current facts -> a task DAG.

The pipeline, driven only by the domain's types, predicates, derived rules, locations
and skills (nothing here names a world's objects or skills):

1. **Model**: the domain and scene compile into a lifted model
   (`robot_planner.planning.lifted`), grounded once per scene (cached).
2. **Search**: a sequential plan from the current facts to the goal, stage by stage
   for "then"-sequenced commands (each stage keeps the goals of the stages before it).
   Hand-overs, parking a block that is in the way and building a tower bottom-up are
   not coded anywhere: they are what the skills' preconditions, effects and the robots'
   reach leave as the way to the goal.
3. **Deordering**: causal links and threats lift the sequence into a partial order,
   so independent work of different robots runs in parallel.
4. **Robots for makespan**: each robot's work splits into units between the points
   where the robot is free (no fact ties it to an object); a unit may move to another
   robot whose kind offers the skills and whose reach allows them, and is kept there
   when the estimated makespan (skill `duration_s`, robots working one task at a time)
   gets shorter.
5. **Constraints** for the monitor from each task's own effects and preconditions:
   ``after``: the perceived facts it adds (and the stack it built upon must still
   stand); ``during``: perceived preconditions it relies on while it runs.

Every plan is checked against the catalogue's own semantics before it is returned.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import networkx as nx

from robot_planner.plan.model import Constraint, Task, TaskPlan
from robot_planner.planning.base import FailedAction, PlanningError
from robot_planner.planning.lifted import LiftedModel, ModelError, compile_model
from robot_planner.planning.search import (
    GroundAction,
    GroundTask,
    SearchLimit,
    Step,
    Unsolvable,
    bits_of,
)
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.domain import Pattern
from robot_planner.world.facts import Fact, FactError, format_facts
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

#: Search settings tried in turn: (weight on h, expansion budget, largest h of the start
#: state it is tried for); weight None is lazy greedy search with preferred operators.
#: A low weight gives short plans on tabletop-sized problems; the greedy search keeps
#: large ones fast.
SEARCH_STAGES: tuple[tuple[float | None, int, float], ...] = (
    (0.5, 1_000, 24.0),
    (None, 200_000, float("inf")),
)
#: Goals of at most this many facts that no plan reaches are searched for a pair that
#: cannot hold together, each search within this many expansions.
CONFLICT_GOALS = 6
CONFLICT_BUDGET = 20_000
#: Passes of the robot re-assignment (each pass tries every unit on every robot).
ASSIGN_PASSES = 3
#: Alternative plans tried for a shorter makespan: at most this many, only for plans of
#: at most `ALTERNATIVES_UP_TO` actions, each search within this many expansions.
ALTERNATIVES = 4
ALTERNATIVES_UP_TO = 16
#: A robot's units are reordered (each pair tried, quadratic) in plans of at most this
#: many units; larger plans keep the order search found (the 8 x 30 synthetic has 67).
REORDER_UP_TO = 24
ALTERNATIVE_EXPANSIONS = 400


@dataclass
class PlanningContext:
    """A scene's compiled and grounded model, reused across calls."""

    scene: Scene
    catalogue: Catalogue
    model: LiftedModel
    task: GroundTask
    _robot_masks: dict[str, tuple[int, int]] = field(default_factory=dict)
    _robot_only: dict[int, bool] = field(default_factory=dict)

    def bound_mask(self, robot: str) -> int:
        """Facts that tie `robot` to something else (it is busy while one holds)."""
        known = len(self.task.facts)
        cached = self._robot_masks.get(robot)
        if cached is not None and cached[0] == known:
            return cached[1]
        mask = 0
        for i, fact in enumerate(self.task.facts):
            if (
                fact.predicate not in self.model.static
                and robot in fact.args
                and any(a != robot for a in fact.args)
            ):
                mask |= 1 << i
        self._robot_masks[robot] = (known, mask)
        return mask

    def robot_only(self, fact_id: int) -> bool:
        """True for a fact about robots alone (a robot's own state, e.g. its gripper)."""
        found = self._robot_only.get(fact_id)
        if found is None:
            fact = self.task.facts[fact_id]
            found = bool(fact.args) and all(a in self.scene.robots for a in fact.args)
            self._robot_only[fact_id] = found
        return found


_CONTEXTS: dict[tuple[int, int], PlanningContext] = {}


def planning_context(scene: Scene, catalogue: Catalogue) -> PlanningContext:
    """The cached model of a scene (compiling and grounding take longer than planning).

    Raises:
        PlanningError: the domain cannot be compiled (one line).
    """
    key = (id(scene), id(catalogue))
    found = _CONTEXTS.get(key)
    if found is not None and found.scene is scene and found.catalogue is catalogue:
        return found
    try:
        model = compile_model(scene, catalogue)
    except ModelError as exc:
        raise PlanningError(f"cannot plan in domain {scene.domain.name}: {exc}") from None
    context = PlanningContext(scene, catalogue, model, GroundTask(model))
    if len(_CONTEXTS) >= 8:
        _CONTEXTS.pop(next(iter(_CONTEXTS)))
    _CONTEXTS[key] = context
    return context


# --- the entry point ---------------------------------------------------------------------


def plan_goal(
    command: str,
    goal: Iterable[Fact],
    state: frozenset[Fact],
    scene: Scene,
    catalogue: Catalogue,
    steps: Mapping[Fact, int] | None = None,
    assign: Mapping[str, str] | None = None,
    *,
    via: Mapping[str, str] | None = None,
    engine: str = "builtin",
    excluded: Iterable[tuple[str, str, tuple]] = (),
    given_way: list[str] | None = None,
) -> TaskPlan:
    """Goal + current facts -> a task plan (see the module docstring).

    Args:
        steps: for sequenced commands, the step of each goal fact ("then" = next step);
            all work of a later step waits for all work of earlier steps.
        assign: object -> robot that must make the final change to that object's goal
            facts ("with the left arm").
        engine: ``builtin`` (the in-process search) or the name of a unified-planning
            one-shot engine such as ``fast-downward`` (for comparison and for domains
            where an external planner does better).
        excluded: actions not to use, as `FailedAction.key_of` keys (skill, robot,
            arguments): they failed too often while this command ran.
        given_way: where the robots of `assign` gave way (no plan with them), a line
            for each is appended: the plan is not what was said, and the user is told.

    Raises:
        PlanningError: an impossible or unreachable goal, one line.
    """
    goal = frozenset(goal)
    for fact in sorted(goal):
        try:
            scene.check_fact(fact)
        except FactError as exc:
            raise PlanningError(f"goal: {exc}") from None
    problems = scene.domain.contradictions(goal)
    if problems:
        raise PlanningError(f"impossible goal: {problems[0]}")
    context = planning_context(scene, catalogue)
    start = scene.derive(state)
    # A robot named for a goal it cannot make itself but that things ride on ("robot
    # one, bring the red parcel to packing") is the one to carry it.
    assign, via = _carriers_named(context, goal, dict(assign or {}), dict(via or {}))
    # "One on each robot" is a hard constraint; "the left arm puts ..." gives way below.
    required = _via_bans(context, via) | _exclusion_bans(context, excluded)
    banned = _assign_bans(context, goal, dict(assign or {})) | required
    stages = dict(steps or {})
    try:
        sequence, stage_of = _sequential(context, goal, start, stages, banned, engine)
    except PlanningError as exc:
        if banned == required:
            raise
        # The assigned robot cannot be the only one to make its goal true here (the
        # goal place is also the only way to hand the object over): as the symbolic
        # planner does, the object then ends where asked, by whichever robot can.
        log.warning("%s; planning without the robot assignment", exc)
        if given_way is not None:
            named = ", ".join(
                f"{_say(robot)} for the {obj.replace('_', ' ')}"
                for obj, robot in sorted(assign.items())
            )
            given_way.append(
                f"named {named}, but no plan here does it with the robot named: another does"
            )
        banned = required
        sequence, stage_of = _sequential(context, goal, start, stages, banned, engine)
    result = _assign_robots(context, sequence, stage_of, start, goal, banned)
    if engine == "builtin":
        result = _alternatives(context, result, start, goal, stages, banned)
    return _task_plan(context, command, goal, start, result)


# --- 2. search ---------------------------------------------------------------------------


def _say(name: str) -> str:
    return "the " + name.replace("_", " ")


def _goal_masks(context: PlanningContext, facts: Iterable[Fact]) -> tuple[int, int]:
    try:
        positive, absent = context.model.goal(facts)
    except ModelError as exc:
        raise PlanningError(f"impossible goal: {exc}") from None
    absent_mask = 0
    for atom in absent:
        absent_mask |= context.task.atom_mask(atom)
    return context.task.mask(positive), absent_mask


def _assign_bans(
    context: PlanningContext, goal: frozenset[Fact], assign: Mapping[str, str]
) -> frozenset[int]:
    """Actions that would make an assigned object's goal fact true on another robot."""
    banned: set[int] = set()
    for obj, robot in sorted(assign.items()):
        if robot not in context.scene.robots:
            raise PlanningError(f"unknown robot '{robot}'")
        for fact in sorted(g for g in goal if g.args and g.args[0] == obj):
            wanted, _ = _goal_masks(context, [fact])
            makers = [a for a in context.task.actions if a.add & wanted]
            if wanted and not any(a.robot == robot for a in makers):
                raise PlanningError(_cannot_make(context, robot, fact))
            banned.update(a.index for a in makers if a.robot != robot)
    return frozenset(banned)


def _carriers_named(
    context: PlanningContext,
    goal: frozenset[Fact],
    assign: dict[str, str],
    via: dict[str, str],
) -> tuple[dict[str, str], dict[str, str]]:
    """Assignments to a robot that cannot make the object's goal fact but can carry
    the object (its kind is a put target in the domain) become carrier constraints."""
    scene = context.scene
    carriers = {k for k in scene.domain.locations.put if k in scene.domain.robot_kinds}
    for obj, robot in list(assign.items()):
        spec = scene.robots.get(robot)
        if spec is None or not carriers & set(scene.domain.ancestors(spec.kind)):
            continue
        wanted, _ = _goal_masks(context, [g for g in goal if g.args[:1] == (obj,)])
        if wanted and not any(a.add & wanted for a in context.task.actions if a.robot == robot):
            del assign[obj]
            via.setdefault(obj, robot)
    return assign, via


def _exclusion_bans(
    context: PlanningContext, excluded: Iterable[tuple[str, str, tuple]]
) -> frozenset[int]:
    """Actions that failed too often while this command ran (the supervisor's memory)."""
    keys = set(excluded)
    if not keys:
        return frozenset()
    skills = {key[0] for key in keys}
    return frozenset(
        action.index
        for action in context.task.actions
        if action.skill in skills
        and FailedAction.key_of(action.skill, action.robot, action.args) in keys
    )


def _via_bans(context: PlanningContext, via: Mapping[str, str]) -> frozenset[int]:
    """Actions that would put an object on a robot other than the one it must ride on
    ("one on each robot")."""
    scene = context.scene
    places = scene.domain.location_predicates
    banned: set[int] = set()
    for obj, carrier in via.items():
        if carrier not in scene.robots:
            raise PlanningError(f"unknown robot '{carrier}'")
        others = {r for r in scene.robots if r != carrier}
        for action in context.task.actions:
            for fact in context.task.decode(action.add):
                puts = fact.predicate in places or fact.predicate == context.model.located
                if puts and fact.args[:1] == (obj,) and fact.args[1:2] and fact.args[1] in others:
                    banned.add(action.index)
    return frozenset(banned)


def _cannot_make(context: PlanningContext, robot: str, fact: Fact) -> str:
    scene = context.scene
    out_of_reach = [a for a in fact.args if a in scene.places and not scene.reaches(robot, a)]
    if out_of_reach:
        reach = ", ".join(scene.robots[robot].reach)
        return f"{_say(robot)} cannot reach {_say(out_of_reach[0])}; it reaches {reach}"
    return f"no skill of {_say(robot)} can make {fact} true"


def _sequential(
    context: PlanningContext,
    goal: frozenset[Fact],
    start: frozenset[Fact],
    steps: Mapping[Fact, int],
    banned: frozenset[int],
    engine: str = "builtin",
    search_stages: Sequence[tuple[float | None, int, float]] = SEARCH_STAGES,
    max_length: int | None = None,
) -> tuple[list[GroundAction], list[int]]:
    task = context.task
    state = task.mask(context.model.state(start))
    sequence: list[GroundAction] = []
    stage_of: list[int] = []
    stages = sorted({steps.get(f, 0) for f in goal})
    for stage in stages:
        wanted = sorted(f for f in goal if steps.get(f, 0) <= stage)
        goal_mask, absent_mask = _goal_masks(context, wanted)
        if engine == "builtin":
            bound = None if max_length is None else max_length - len(sequence)
            part = _search(
                context, state, goal_mask, absent_mask, banned, wanted, start, search_stages, bound
            )
        else:
            from robot_planner.planning.pddl import solve_with_engine

            found = solve_with_engine(task, state, goal_mask, absent_mask, engine, banned)
            if found is None:
                goals = ", ".join(map(str, wanted))
                raise PlanningError(f"{engine} found no plan for {goals}")
            part = found
        for action in part:
            state = task.apply(state, action)
            sequence.append(action)
            stage_of.append(stage)
    return sequence, stage_of


def _search(
    context: PlanningContext,
    state: int,
    goal_mask: int,
    absent_mask: int,
    banned: frozenset[int],
    wanted: Sequence[Fact],
    start: frozenset[Fact],
    search_stages: Sequence[tuple[float | None, int, float]] = SEARCH_STAGES,
    max_length: int | None = None,
) -> list[GroundAction]:
    last: SearchLimit | None = None
    h0 = None
    for weight, budget, up_to in search_stages:
        if h0 is None and up_to != float("inf"):
            found = context.task.relaxed_plan(state, goal_mask, banned, absent_mask)
            h0 = float("inf") if found is None else found[0]
        if h0 is not None and h0 > up_to:
            continue
        try:
            if weight is None:
                return context.task.solve_greedy(
                    state, goal_mask, absent_mask, banned, budget, max_length=max_length
                )
            return context.task.solve(
                state,
                goal_mask,
                absent_mask,
                banned,
                weight=weight,
                max_expansions=budget,
                max_length=max_length,
                discouraged=_unasked_support(context, wanted) | _occupying(context, wanted),
            )
        except Unsolvable as exc:
            raise PlanningError(_why_not(context, wanted, start, exc, state, banned)) from None
        except SearchLimit as exc:
            last = exc
            log.debug("weight %s: %s; trying a greedier search", weight, exc)
    goals = ", ".join(map(str, wanted))
    raise PlanningError(f"no plan found for {goals} within the search budget ({last})")


def _unasked_support(context: PlanningContext, wanted: Sequence[Fact]) -> int:
    """Facts that stand one object on another (the domain's `locations.support`) that
    the goal does not ask for. Stacking is a way to be "in" a place too (a tower stands
    in its zone), but one nobody asked for: it makes objects wait on each other and
    towers can fall, so among equally short plans the search avoids it."""
    support = context.scene.domain.locations.support
    if support is None:
        return 0
    asked = set(wanted)
    mask = 0
    for i, fact in enumerate(context.task.facts):
        if fact.predicate == support and fact not in asked:
            mask |= 1 << i
    return mask


def _occupying(context: PlanningContext, wanted: Sequence[Fact]) -> int:
    """Facts that take a place others may need (a base parked in a station's bay, a
    robot standing in the aisle's one lane: what an ``unless`` rule over a place type
    says makes it not free) that the goal does not ask for. Among equally short plans
    the search leaves places free: a base that has to get out of the way goes to the
    dock, not into a station's bay where it would block the next robot."""
    scene = context.scene
    domain = scene.domain
    rules = [
        (Pattern.parse(pattern), rule.for_)
        for rule in domain.derived
        if rule.unless and rule.for_ and all(scene.places_of(t) for t in rule.for_.values())
        for pattern in rule.unless
    ]
    asked = set(wanted)
    mask = 0
    for i, fact in enumerate(context.task.facts):
        if fact in asked:
            continue
        for pattern, types in rules:
            if pattern.predicate != fact.predicate or len(pattern.args) != len(fact.args):
                continue
            if all(
                want == "*"
                or (want.startswith("?") and scene.is_a(got, types.get(want[1:], "")))
                or want == got
                for want, got in zip(pattern.args, fact.args, strict=True)
            ):
                mask |= 1 << i
                break
    return mask


def _why_not(
    context: PlanningContext,
    wanted: Sequence[Fact],
    start: frozenset[Fact],
    exc: Unsolvable,
    state: int,
    banned: frozenset[int],
) -> str:
    scene = context.scene
    goals = ", ".join(map(str, wanted))
    lost = [
        o
        for f in wanted
        for o in f.args
        if o in scene.objects and scene.location_of(o, start) is None
    ]
    stranded = _out_of_reach(context, wanted, start)
    if lost:
        # Seen but in no place (fallen beside every region) or not seen at all: the two
        # need different help from a person.
        put = scene.domain.locations.put.values()
        where = {t.split("(", 1)[0].strip() for templates in put for t in templates}
        seen = sorted(str(f) for f in start if f.predicate in where and f.args[:1] == (lost[0],))
        reason = (
            f"{lost[0]} is in no place of the scene ({', '.join(seen)}), so no robot is "
            "known to reach it"
            if seen
            else f"the location of {lost[0]} is unknown (it is not seen)"
        )
    elif stranded:
        reason = stranded
    elif exc.unreachable:
        blocked = []
        for fact in wanted:
            positive, _ = context.model.goal([fact])
            if positive & set(exc.unreachable):
                blocked.append(str(fact))
        what = ", ".join(blocked) or ", ".join(map(str, exc.unreachable))
        reason = f"no sequence of the robots' skills makes {what} true (reach and skills)"
    else:
        reason = _conflict(context, wanted, state, banned) or (
            "every state the robots can reach was searched"
        )
    return f"no plan reaches {goals} from the current state: {reason}"


def _conflict(
    context: PlanningContext, wanted: Sequence[Fact], state: int, banned: frozenset[int]
) -> str | None:
    """Two goal facts that cannot be reached together though each can alone, with the
    domain's reason when a derived rule gives one ("both robots to the pick station":
    one base parks at a station at a time). "Every state was searched" tells a user
    nothing; the pair tells them what to drop. Small goals only, each search bounded."""
    if not 2 <= len(wanted) <= CONFLICT_GOALS:
        return None

    def reachable(facts: Sequence[Fact]) -> bool | None:
        goal_mask, absent_mask = _goal_masks(context, facts)
        try:
            context.task.solve(
                state, goal_mask, absent_mask, banned, max_expansions=CONFLICT_BUDGET
            )
        except Unsolvable:
            return False
        except SearchLimit:
            return None
        return True

    if not all(reachable([fact]) for fact in wanted):
        return None
    for first, second in combinations(wanted, 2):
        if reachable([first, second]) is False:
            why = context.scene.domain.exclusion(first, second)
            return f"{first} and {second} cannot hold at once" + (f": {why}" if why else "")
    return None


def _out_of_reach(
    context: PlanningContext, wanted: Sequence[Fact], start: frozenset[Fact]
) -> str | None:
    """Why a goal object cannot be moved at all: it lies at a place no robot reaches
    (a parcel spilled in the aisle), said with who reaches what."""
    scene = context.scene
    for fact in wanted:
        for obj in fact.args:
            if obj not in scene.objects:
                continue
            where = scene.location_of(obj, start)
            if where in scene.robots:
                where = scene.domain.position_of(where, start) or where
            if where not in scene.places or fact in start:
                continue
            if not any(scene.reaches(r, where) for r in scene.robots):
                reach = "; ".join(
                    f"{r}: {', '.join(spec.reach)}" for r, spec in scene.robots.items()
                )
                return f"{_say(obj)} is at {_say(where)}, which no robot reaches ({reach})"
    return None


# --- 3. deordering -----------------------------------------------------------------------


def resolve(task: GroundTask, init: int, sequence: Sequence[GroundAction]) -> list[Step] | None:
    """Each action's resolved effects along the sequence; None if one is inapplicable."""
    state = init
    out = []
    for action in sequence:
        if not task.applicable(state, action):
            return None
        out.append(task.step(state, action))
        state = task.apply(state, action)
    return out


def deorder(
    steps: Sequence[Step], goal: int = 0, goal_absent: int = 0
) -> dict[tuple[int, int], set[int]]:
    """Ordering edges (i, j) -> the facts that require them.

    Causal links: each condition's producer is the last action before its consumer that
    actually made it hold (or the initial state). Threats: every action whose declared
    effects could undo a link (a wildcard delete does, whatever the order) is ordered
    before the link's producer or after its consumer.
    """
    adders: dict[int, list[int]] = defaultdict(list)
    deleters: dict[int, list[int]] = defaultdict(list)
    made: dict[int, list[int]] = defaultdict(list)
    ended: dict[int, list[int]] = defaultdict(list)
    for i, step in enumerate(steps):
        for f in bits_of(step.add):
            adders[f].append(i)
        for f in bits_of(step.delete & ~step.add):
            deleters[f].append(i)
        for f in bits_of(step.made):
            made[f].append(i)
        for f in bits_of(step.ended):
            ended[f].append(i)
    edges: dict[tuple[int, int], set[int]] = defaultdict(set)
    n = len(steps)

    def link(i: int, j: int, fact: int) -> None:
        if 0 <= i < n and 0 <= j < n and i != j:
            edges[(i, j)].add(fact)

    def protect(j: int, needs: int, producers: dict, breakers: dict) -> None:
        for f in bits_of(needs):
            before = [i for i in producers.get(f, ()) if i < j]
            producer = before[-1] if before else -1
            link(producer, j, f)
            for k in breakers.get(f, ()):
                if k == j:
                    continue
                if k < j:
                    if producer >= 0 and k < producer:
                        link(k, producer, f)
                else:
                    link(j, k, f)

    for j, step in enumerate(steps):
        protect(j, step.needs, made, deleters)
        protect(j, step.forbids, ended, adders)
    protect(n, goal, made, deleters)
    protect(n, goal_absent, ended, adders)
    return edges


# --- 4. robots -----------------------------------------------------------------------------


@dataclass
class Schedule:
    """A linear plan, its resolved steps, the DAG over it and estimated times."""

    sequence: list[GroundAction]
    steps: list[Step]
    stage_of: list[int]
    preds: dict[int, set[int]]
    start: list[float]
    end: list[float]

    @property
    def makespan(self) -> float:
        return max(self.end, default=0.0)


def _schedule(
    context: PlanningContext,
    init: int,
    sequence: list[GroundAction],
    stage_of: list[int],
    goal: int,
    goal_absent: int,
) -> Schedule | None:
    steps = resolve(context.task, init, sequence)
    if steps is None:
        return None
    state = init
    for action in sequence:
        state = context.task.apply(state, action)
    if state & goal != goal or state & goal_absent:
        return None
    preds: dict[int, set[int]] = defaultdict(set)
    for i, j in deorder(steps, goal, goal_absent):
        preds[j].add(i)
    # "then": all work of a stage waits for all work of the stage before it.
    for j, stage in enumerate(stage_of):
        preds[j].update(i for i in range(j) if stage_of[i] < stage)
    return _timed(sequence, steps, stage_of, preds)


def _timed(
    sequence: list[GroundAction],
    steps: list[Step],
    stage_of: list[int],
    preds: dict[int, set[int]],
) -> Schedule:
    start: list[float] = []
    end: list[float] = []
    free: dict[str, float] = {}
    for j, action in enumerate(sequence):
        begin = max([free.get(action.robot, 0.0), *(end[i] for i in preds.get(j, ()))])
        start.append(begin)
        end.append(begin + action.cost)
        free[action.robot] = end[-1]
    return Schedule(list(sequence), steps, list(stage_of), dict(preds), start, end)


@dataclass
class _Unit:
    """Consecutive actions of one robot between two points where it is free."""

    members: list[int]
    robot: str
    movable: bool


def _units(context: PlanningContext, init: int, sequence: list[GroundAction]) -> list[_Unit]:
    task = context.task
    state = init
    open_unit: dict[str, _Unit] = {}
    units: list[_Unit] = []
    for i, action in enumerate(sequence):
        robot = action.robot
        mask = context.bound_mask(robot)
        if robot not in open_unit:
            unit = _Unit([], robot, movable=not state & mask)
            open_unit[robot] = unit
            units.append(unit)
        open_unit[robot].members.append(i)
        state = task.apply(state, action)
        if not state & context.bound_mask(robot):
            del open_unit[robot]
    for unit in open_unit.values():
        unit.movable = False  # the robot ends busy: its work stays with it
    units.sort(key=lambda u: u.members[0])
    return units


def _moved(
    context: PlanningContext, action: GroundAction, robot: str, banned: frozenset[int]
) -> GroundAction | None:
    values = list(action.values)
    values[action.schema.robot_position] = robot
    found = context.task.by_key[action.schema.name].get(tuple(values))
    if found is None or found.index in banned:
        return None
    return found


def _assign_robots(
    context: PlanningContext,
    sequence: list[GroundAction],
    stage_of: list[int],
    start: frozenset[Fact],
    goal: frozenset[Fact],
    banned: frozenset[int],
) -> Schedule:
    """The plan's robots re-chosen, unit by unit, for a shorter estimated makespan."""
    task = context.task
    init = task.mask(context.model.state(start))
    goal_mask, absent_mask = _goal_masks(context, goal)
    original = _schedule(context, init, sequence, stage_of, goal_mask, absent_mask)
    if original is None:  # a bug in the model or the search, never the user's fault
        raise PlanningError("internal planning error: the found plan does not replay")
    units = _units(context, init, sequence)
    if len(context.scene.robots) < 2 or not any(u.movable for u in units):
        return original
    unit_of = {i: n for n, unit in enumerate(units) for i in unit.members}
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(units)))
    for (i, j), reasons in deorder(original.steps, goal_mask, absent_mask).items():
        if unit_of[i] != unit_of[j] and not all(context.robot_only(f) for f in reasons):
            graph.add_edge(unit_of[i], unit_of[j])
    for a, unit_a in enumerate(units):
        for b, unit_b in enumerate(units):
            if stage_of[unit_a.members[0]] < stage_of[unit_b.members[0]]:
                graph.add_edge(a, b)
    try:
        order = list(nx.lexicographical_topological_sort(graph, key=lambda n: units[n].members[0]))
    except nx.NetworkXUnfeasible:
        return original
    robots = {n: unit.robot for n, unit in enumerate(units)}

    def build(choice: Mapping[int, str], order: Sequence[int] = order) -> Schedule | None:
        actions: list[GroundAction] = []
        stages: list[int] = []
        for n in order:
            for i in units[n].members:
                action = sequence[i]
                if choice[n] != units[n].robot:
                    action = _moved(context, action, choice[n], banned)
                    if action is None:
                        return None
                actions.append(action)
                stages.append(stage_of[i])
        return _schedule(context, init, actions, stages, goal_mask, absent_mask)

    best = build(robots)
    if best is None:
        return original
    if original.makespan < best.makespan:
        best = original
    names = list(context.scene.robots)
    for _ in range(ASSIGN_PASSES):
        improved = False
        for n in order:
            if not units[n].movable:
                continue
            for robot in names:
                if robot == robots[n]:
                    continue
                trial = build({**robots, n: robot})
                if trial is not None and trial.makespan < best.makespan - 1e-9:
                    best, robots, improved = trial, {**robots, n: robot}, True
        if not improved:
            break
    return _reorder(graph, order, robots, best, build)


def _reorder(
    graph: nx.DiGraph,
    order: list[int],
    robots: Mapping[int, str],
    best: Schedule,
    build: Callable[..., Schedule | None],
) -> Schedule:
    """A robot's units in another order, when that is shorter: a robot should do its own
    work while it waits for another's hand-over, not after. A unit moves before earlier
    units of the same robot that it does not depend on; replaying rejects any order the
    facts do not allow."""
    if len(order) > REORDER_UP_TO:
        return best
    ancestors = {n: nx.ancestors(graph, n) for n in graph}
    for _ in range(ASSIGN_PASSES):
        improved = False
        for late in range(1, len(order)):
            for early in range(late):
                b = order[late]
                if robots[order[early]] != robots[b]:
                    continue
                if ancestors[b] & set(order[early:late]):
                    continue
                trial_order = [*order[:early], b, *order[early:late], *order[late + 1 :]]
                trial = build(robots, trial_order)
                if trial is not None and trial.makespan < best.makespan - 1e-9:
                    best, order, improved = trial, trial_order, True
                    break
        if not improved:
            break
    return best


def _alternatives(
    context: PlanningContext,
    best: Schedule,
    start: frozenset[Fact],
    goal: frozenset[Fact],
    steps: Mapping[Fact, int],
    banned: frozenset[int],
) -> Schedule:
    """Plans of no more actions whose robots wait on each other less.

    Search minimises the number of actions, and among equally short plans it may pick
    one where a robot waits for another (stacking on a block another robot just put
    down, where a place beside it would do). Each wait is a dependency between robots;
    forbidding its waiting action and searching again, within the same length and a
    small budget, finds such alternatives when they exist.
    """
    sequence = best.sequence
    if len(sequence) > ALTERNATIVES_UP_TO:
        return best
    waiting: list[int] = []
    for j, preds in sorted(best.preds.items()):
        action = sequence[j]
        crosses = any(
            sequence[i].robot != action.robot and best.stage_of[i] == best.stage_of[j]
            for i in preds
        )
        if crosses and action.index not in waiting:
            waiting.append(action.index)
    for index in waiting[:ALTERNATIVES]:
        try:
            found, stage_of = _sequential(
                context,
                goal,
                start,
                steps,
                banned | {index},
                search_stages=((1.0, ALTERNATIVE_EXPANSIONS, float("inf")),),
                max_length=len(sequence),
            )
        except PlanningError:
            continue
        trial = _assign_robots(context, found, stage_of, start, goal, banned)
        if trial.makespan < best.makespan - 1e-9:
            best = trial
    return best


# --- 5. tasks and constraints ------------------------------------------------------------


def _task_plan(
    context: PlanningContext,
    command: str,
    goal: frozenset[Fact],
    start: frozenset[Fact],
    schedule: Schedule,
) -> TaskPlan:
    scene, catalogue = context.scene, context.catalogue
    facts = start
    before: list[frozenset[Fact]] = []
    touched: list[set[str]] = []
    for action in schedule.sequence:
        skill, robot, args = action.skill, action.robot, action.args
        problems = [
            *map(str, catalogue.unmet_preconditions(skill, robot, args, scene, facts)),
            *catalogue.reach_errors(skill, robot, args, scene, facts),
        ]
        if problems:  # the model disagrees with the catalogue: a bug, not the user's
            raise PlanningError(
                f"internal planning error at {skill}({args}) on {robot}: {problems[0]}"
            )
        after = catalogue.apply(skill, robot, args, scene, facts)
        before.append(facts)
        changed = {a for f in facts ^ after for a in f.args if a in scene.objects}
        touched.append({a for a in args.values() if a in scene.objects} | changed)
        facts = after
    missing = sorted(str(g) for g in goal if g not in facts)
    if missing:
        raise PlanningError(f"internal planning error: {', '.join(missing)} does not hold")
    preds = {j: set(p) for j, p in schedule.preds.items()}
    _order_shared_objects(schedule, touched, preds)
    timed = _timed(schedule.sequence, schedule.steps, schedule.stage_of, preds)
    order = sorted(range(len(timed.sequence)), key=lambda i: (timed.start[i], i))
    ids = {i: f"t{n}" for n, i in enumerate(order, start=1)}
    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    graph.add_edges_from((i, j) for j, ps in preds.items() for i in ps)
    reduced = nx.transitive_reduction(graph)
    closure = nx.transitive_closure_dag(graph)
    tasks = []
    for i in order:
        action = timed.sequence[i]
        deps = sorted(reduced.predecessors(i), key=lambda p: order.index(p))
        # Objects neither this task nor any task that may run beside it changes.
        beside = [
            k
            for k in order
            if k != i and not closure.has_edge(i, k) and not closure.has_edge(k, i)
        ]
        busy = touched[i].union(*(touched[k] for k in beside))
        tasks.append(
            Task(
                id=ids[i],
                skill=action.skill,
                robot=action.robot,
                args=action.args,
                depends_on=[ids[p] for p in deps],
                constraints=[
                    *constraints_for(action.skill, action.robot, action.args, before[i], context),
                    *collateral_constraints(before[i], busy, context),
                ],
            )
        )
    return TaskPlan(command=command, goal=format_facts(goal), tasks=tasks)


def _order_shared_objects(
    schedule: Schedule, touched: list[set[str]], preds: dict[int, set[int]]
) -> None:
    """Tasks of different robots that change the same object are ordered (the
    validator's rule): causal links nearly always order them already."""
    sequence = schedule.sequence
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(sequence)))
    graph.add_edges_from((i, j) for j, ps in preds.items() for i in ps)
    last: dict[str, int] = {}
    for j in range(len(sequence)):
        for obj in sorted(touched[j]):
            i = last.get(obj)
            if (
                i is not None
                and sequence[i].robot != sequence[j].robot
                and not nx.has_path(graph, i, j)
            ):
                preds.setdefault(j, set()).add(i)
                graph.add_edge(i, j)
            last[obj] = j


def constraints_for(
    skill: str,
    robot: str,
    args: Mapping[str, str],
    facts: frozenset[Fact],
    context: PlanningContext,
) -> list[Constraint]:
    """What the monitor checks while and after a task runs, from the skill's own model:

    * during: perceived preconditions (one the skill itself ends is kept only when the
      skill says until which phase it holds, `during_until`), and what rides on the
      robot (put on it) stays there (also checked after);
    * after: perceived facts it adds (the canonical put-fact, not its companions), and
      for a stacking effect, that the stack below still stands.
    """
    scene, domain = context.scene, context.scene.domain
    spec = context.catalogue.skills[skill]
    binding = {"robot": robot, **{k: str(v) for k, v in args.items()}}

    def applies(when: Mapping[str, str]) -> bool:
        return all(scene.is_a(binding[a], t) for a, t in when.items())

    def perceived(fact: Fact) -> bool:
        spec_ = domain.predicates.get(fact.predicate)
        return spec_ is not None and spec_.observed == "perceived"

    deleted: list[Pattern] = [
        Pattern.parse(t) for e in spec.effects if applies(e.when) for t in e.delete
    ]
    out: list[Constraint] = []
    for cond in spec.preconditions:
        if not applies(cond.when):
            continue
        fact = Pattern.parse(cond.fact).ground(binding)
        ends = any(_matches(p, fact, binding) for p in deleted)
        if perceived(fact) and (not ends or spec.during_until):
            out.append(
                Constraint(phase="during", fact=str(fact), question=domain.question_for(fact))
            )
    # What rides on the robot stays on it while it works (a parcel on a driving base's
    # tray), unless the skill itself takes it off.
    on_robot = {
        Pattern.parse(ts[0]).predicate
        for kind, ts in domain.locations.put.items()
        if kind in domain.robot_kinds
    }
    for fact in sorted(facts):
        if (
            fact.predicate in on_robot
            and fact.args[1:2] == (robot,)
            and perceived(fact)
            and not any(_matches(p, fact, binding) for p in deleted)
        ):
            for phase in ("during", "after"):
                out.append(
                    Constraint(phase=phase, fact=str(fact), question=domain.question_for(fact))
                )
    companions = {
        Pattern.parse(t).predicate for ts in domain.locations.put.values() for t in ts[1:]
    } - {Pattern.parse(ts[0]).predicate for ts in domain.locations.put.values()}
    added = context.catalogue.added_facts(skill, robot, args, scene)
    for fact in added:
        if perceived(fact) and fact.predicate not in companions:
            out.append(
                Constraint(phase="after", fact=str(fact), question=domain.question_for(fact))
            )
    support = domain.locations.support
    for fact in added:
        if fact.predicate != support or len(fact.args) != 2:
            continue
        below = _support_chain(fact.args[1], support, facts)
        for upper, lower in pairwise(below):
            kept = Fact(support, (upper, lower))
            out.append(
                Constraint(phase="after", fact=str(kept), question=domain.question_for(kept))
            )
    return out


def collateral_constraints(
    facts: frozenset[Fact], busy: set[str], context: PlanningContext
) -> list[Constraint]:
    """While a task runs, every object that neither it nor a task beside it changes
    stays where it is (a tower the arm passes over still stands): the perceived
    location facts of those objects when the task starts, as `during` checks."""
    domain = context.scene.domain
    located = {Pattern.parse(ts[0]).predicate for ts in domain.locations.put.values()}
    out = []
    for fact in sorted(facts):
        spec = domain.predicates.get(fact.predicate)
        if (
            fact.predicate in located
            and spec is not None
            and spec.observed == "perceived"
            and fact.args[0] in context.scene.objects
            and fact.args[0] not in busy
        ):
            out.append(
                Constraint(
                    phase="during",
                    fact=str(fact),
                    question=domain.question_for(fact),
                    kind="collateral",
                )
            )
    return out


def _matches(pattern: Pattern, fact: Fact, binding: Mapping[str, str]) -> bool:
    if pattern.predicate != fact.predicate or len(pattern.args) != len(fact.args):
        return False
    for want, got in zip(pattern.args, fact.args, strict=True):
        if want == "*":
            continue
        value = binding.get(want[1:], want) if want.startswith("?") else want
        if value != got:
            return False
    return True


def _support_chain(top: str, support: str, facts: frozenset[Fact]) -> list[str]:
    below = {f.args[0]: f.args[1] for f in facts if f.predicate == support and len(f.args) == 2}
    chain = [top]
    while chain[-1] in below and below[chain[-1]] not in chain:
        chain.append(below[chain[-1]])
    return chain


# --- estimates -----------------------------------------------------------------------------


def estimated_makespan(plan: TaskPlan, catalogue: Catalogue) -> float:
    """The plan's makespan if every task takes its skill's `duration_s`: a task starts
    when its dependencies and its robot's previous task (in execution order) are done."""
    from robot_planner.plan.graph import execution_order

    by_id = {t.id: t for t in plan.tasks}
    end: dict[str, float] = {}
    free: dict[str, float] = {}
    for task_id in execution_order(plan):
        task = by_id[task_id]
        begin = max([free.get(task.robot, 0.0), *(end[d] for d in task.depends_on)])
        end[task_id] = begin + catalogue.skills[task.skill].duration_s
        free[task.robot] = end[task_id]
    return max(end.values(), default=0.0)
