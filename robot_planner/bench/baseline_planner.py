"""The first, hand-written tabletop planner: kept only as a benchmark baseline.

robot_planner plans with the domain-independent planner (`robot_planner.planning.
general`); this module is what it replaced, frozen, so `bench/general_planner.py` and
`test/test_general_planner.py` can show the general planner is never worse on the
tabletop. It knows the tabletop's skills and facts by name, which is why it lives in
the benchmarks and not in the core.

A domain planner for block worlds with several arms of limited reach:

* goals are handled bottom-up (a tower's lower block before the one on it);
* a block that is in the way (on the block to move, or on the block to stack upon) is
  first parked on the side of an arm that can reach it;
* a block is carried directly when one arm reaches both where it is and where it goes,
  otherwise handed over through a place both arms reach (the center zone), found by a
  breadth-first search over places;
* when several arms could do a move, the one free earliest is chosen, and tasks are
  ordered by their estimated start, so independent work runs on both arms at once;
* every task depends on the previous task that used one of its blocks, and carries
  DoReMi-style constraints for the monitor.

Because it plans from the current facts, re-planning after a disturbance is the same
call with the observed state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from robot_planner.plan.model import Constraint, Task, TaskPlan
from robot_planner.planning.base import PlanningError
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact, format_facts
from robot_planner.world.scene import Scene

#: Rough skill durations (simulated seconds) used only to balance work between arms.
ESTIMATED_S = {"pick": 3.7, "place": 3.4}
DESTINATIONS = ("on", "in", "at", "on_table")


@dataclass
class Action:
    robot: str
    skill: str
    args: dict[str, str]
    touched: tuple[str, ...]
    start: float = 0.0
    index: int = 0
    below: tuple[str, ...] = ()
    step: int = 0


@dataclass
class _Search:
    scene: Scene
    catalogue: Catalogue
    facts: frozenset[Fact]
    actions: list[Action] = field(default_factory=list)
    robot_free: dict[str, float] = field(default_factory=dict)
    block_ready: dict[str, float] = field(default_factory=dict)
    assign: dict[str, str] = field(default_factory=dict)
    step: int = 0
    barrier: float = 0.0

    def begin_step(self, step: int) -> None:
        """Work of a later step starts after everything planned so far has finished."""
        if step > self.step:
            ends = list(self.robot_free.values()) + list(self.block_ready.values())
            self.barrier = max(ends, default=0.0)
            self.step = step

    # --- state queries -----------------------------------------------------------------

    def _lost(self, block: str) -> str:
        """Why a block cannot be planned with: seen off every zone, or not seen at all."""
        if Fact("on_table", (block,)) in self.facts:
            return f"{block} is on the table outside every zone, where no arm is known to reach it"
        return f"the location of {block} is unknown"

    def where(self, block: str) -> str | None:
        return self.scene.location_of(block, self.facts)

    def support(self, block: str) -> str | None:
        return next(
            (f.args[1] for f in self.facts if f.predicate == "on" and f.args[0] == block), None
        )

    def on_top_of(self, block: str) -> list[str]:
        return [f.args[0] for f in self.facts if f.predicate == "on" and f.args[1] == block]

    def held_by(self, robot: str) -> str | None:
        return next(
            (f.args[1] for f in self.facts if f.predicate == "holding" and f.args[0] == robot),
            None,
        )

    def reachers(self, place: str) -> list[str]:
        if place in self.scene.robots:
            return [place]
        return [r for r in self.scene.robots if self.scene.reaches(r, place)]

    # --- acting ------------------------------------------------------------------------

    def act(self, robot: str, skill: str, args: dict[str, str]) -> None:
        unmet = self.catalogue.unmet_preconditions(skill, robot, args, self.scene, self.facts)
        problems = self.catalogue.reach_errors(skill, robot, args, self.scene, self.facts)
        if unmet or problems:  # a bug in this planner, not in the user's command
            raise PlanningError(
                f"internal planning error at {skill}({args}) on {robot}: "
                f"{', '.join(map(str, unmet)) or '; '.join(problems)}"
            )
        touched = [v for v in args.values() if v in self.scene.objects]
        below = self.support(args["object"]) if skill == "pick" else None
        if below:
            touched.append(below)
        start = max(
            [self.robot_free.get(robot, 0.0), self.barrier]
            + [self.block_ready.get(b, 0.0) for b in touched]
        )
        end = start + ESTIMATED_S.get(skill, 1.0)
        self.robot_free[robot] = end
        for block in touched:
            self.block_ready[block] = end
        tower = self._tower_below(args["target"]) if skill == "place" else ()
        self.actions.append(
            Action(robot, skill, args, tuple(touched), start, len(self.actions), tower, self.step)
        )
        self.facts = self.catalogue.apply(skill, robot, args, self.scene, self.facts)

    def _tower_below(self, target: str) -> tuple[str, ...]:
        chain = []
        current = target
        while current in self.scene.objects:
            chain.append(current)
            current = self.support(current) or ""
        return tuple(chain)

    def place_of(self, target: str) -> str | None:
        """The zone/bin where something placed on `target` ends up."""
        if target in self.scene.objects:
            return self.where(target)
        return target

    def route(
        self, start: str, goal: str, last: str | None = None
    ) -> list[tuple[str, str]] | None:
        """Hops (robot, destination place) carrying a block from `start` to `goal`; when
        `last` is given, that robot makes the final hop (an explicit assignment)."""
        if last is not None:
            if not self.scene.reaches(last, goal):
                return None
            if start == last or self.scene.reaches(last, start):
                return [(last, goal)]
            hand_overs = [p for p in self.scene.robots[last].reach if self._shared(p)]
            for place in hand_overs:
                lead = self.route(start, place)
                if lead is not None:
                    # Handed over into the goal place itself: nothing left for `last`.
                    return lead if place == goal else [*lead, (last, goal)]
            return None
        if start in self.scene.robots:  # already held
            if self.scene.reaches(start, goal):
                return [(start, goal)]
            first = [(start, p) for p in self.scene.robots[start].reach if self._shared(p)]
        else:
            first = None
        queue: deque[tuple[str, list[tuple[str, str]]]] = deque()
        seen = {start}
        if first is None:
            queue.append((start, []))
        else:
            for robot, place in first:
                queue.append((place, [(robot, place)]))
                seen.add(place)
        while queue:
            place, hops = queue.popleft()
            for robot in self._by_availability(self.reachers(place)):
                if self.scene.reaches(robot, goal):
                    return [*hops, (robot, goal)]
            for robot in self._by_availability(self.reachers(place)):
                for nxt in self.scene.robots[robot].reach:
                    if nxt not in seen and self._shared(nxt):
                        seen.add(nxt)
                        queue.append((nxt, [*hops, (robot, nxt)]))
        return None

    def _shared(self, place: str) -> bool:
        return place in self.scene.places_of("zone") and len(self.reachers(place)) > 1

    def _by_availability(self, robots: Iterable[str]) -> list[str]:
        return sorted(robots, key=lambda r: (self.robot_free.get(r, 0.0), r))

    def park_spot(self, robot: str) -> str:
        """Where `robot` puts a block that is in the way: its own zone, else a shared one."""
        reach = self.scene.robots[robot].reach
        own = [p for p in reach if p in self.scene.places_of("zone") and not self._shared(p)]
        shared = [p for p in reach if p in self.scene.places_of("zone")]
        spots = own or shared or list(reach)
        if not spots:
            raise PlanningError(f"{robot} has nowhere to put a block down")
        return spots[0]

    def free_gripper(self, robot: str, keep: str | None = None) -> None:
        held = self.held_by(robot)
        if held is not None and held != keep:
            self.act(robot, "place", {"object": held, "target": self.park_spot(robot)})

    def clear(self, block: str, keep: str | None = None) -> None:
        """Park every block stacked on `block` (top first), except `keep`."""
        for above in self.on_top_of(block):
            if above == keep:
                continue
            self.clear(above)
            place = self.where(above)
            robots = self._by_availability(self.reachers(place)) if place else []
            if not robots:
                raise PlanningError(f"no arm can reach {above} to move it off {block}")
            robot = robots[0]
            self.free_gripper(robot)
            self.act(robot, "pick", {"object": above})
            self.act(robot, "place", {"object": above, "target": self.park_spot(robot)})

    def move(self, block: str, target: str) -> None:
        """Carry `block` onto/into `target`, handing it over where reach demands."""
        self.clear(block)
        if target in self.scene.objects:
            self.clear(target, keep=block)
        start = self.where(block)
        goal = self.place_of(target)
        if start is None:
            raise PlanningError(self._lost(block))
        if goal is None:
            raise PlanningError(self._lost(target))
        robot = self.assign.get(block)
        hops = self.route(start, goal, robot)
        if hops is None:
            if robot is not None and not self.scene.reaches(robot, goal):
                reach = ", ".join(self.scene.robots[robot].reach)
                raise PlanningError(f"{_say(robot)} cannot reach {_say(goal)}; it reaches {reach}")
            raise PlanningError(
                f"no arm or chain of arms can carry {block} from {start} to {goal}"
            )
        for i, (robot, place) in enumerate(hops):
            last = i == len(hops) - 1
            if self.held_by(robot) != block:
                self.free_gripper(robot)
                self.act(robot, "pick", {"object": block})
            self.act(robot, "place", {"object": block, "target": target if last else place})


def _goal_order(goal: frozenset[Fact], steps: dict[Fact, int]) -> list[Fact]:
    """Destination goals in the order asked (by step), but each block's support before
    the block: a tower is built bottom-up whatever order it was described in."""
    dest = {f.args[0]: f for f in goal if f.predicate in DESTINATIONS}
    ordered: list[Fact] = []
    visiting: set[str] = set()

    def visit(block: str) -> None:
        if block in visiting or dest.get(block) is None or dest[block] in ordered:
            return
        visiting.add(block)
        fact = dest[block]
        if fact.predicate == "on":
            visit(fact.args[1])
        ordered.append(fact)

    for block in sorted(dest, key=lambda b: (steps.get(dest[b], 0), b)):
        visit(block)
    return ordered


def _holds_in_place(search: _Search, fact: Fact, goal: frozenset[Fact]) -> bool:
    """A goal fact that holds and whose support chain needs no change."""
    if fact not in search.facts:
        return False
    if fact.predicate != "on":
        return True
    below = fact.args[1]
    below_goal = next(
        (g for g in goal if g.predicate in DESTINATIONS and g.args[0] == below), None
    )
    return below_goal is None or _holds_in_place(search, below_goal, goal)


def plan_actions(
    goal: Iterable[Fact],
    state: frozenset[Fact],
    scene: Scene,
    catalogue: Catalogue,
    steps: dict[Fact, int] | None = None,
    assign: dict[str, str] | None = None,
) -> list[Action]:
    """The actions that reach `goal` from `state`, in estimated start order.

    Args:
        steps: for sequenced commands, the step of each goal fact ("then" = next step);
            work of a later step waits for all work of earlier steps.
        assign: block -> robot that must make its final placement ("with the left arm").
    """
    goal = frozenset(goal)
    steps = steps or {}
    problems = scene.domain.contradictions(goal)
    if problems:
        raise PlanningError(f"impossible goal: {problems[0]}")
    search = _Search(scene, catalogue, scene.derive(state), assign=dict(assign or {}))
    for fact in _goal_order(goal, steps):
        search.begin_step(steps.get(fact, 0))
        if _holds_in_place(search, fact, goal):
            continue
        block = fact.args[0]
        if fact.predicate == "on_table":
            here = search.where(block)
            robots = search.reachers(here) if here else []
            if not robots:
                raise PlanningError(f"no arm can reach {block}")
            search.move(block, search.park_spot(robots[0]))
        else:
            search.move(block, fact.args[1])
    for fact in sorted(goal):
        if fact.predicate == "clear" and fact not in search.facts:
            search.clear(fact.args[0])
        elif fact.predicate == "gripper_empty" and fact not in search.facts:
            search.free_gripper(fact.args[0])
    missing = [str(f) for f in goal if f not in search.facts and f.predicate != "holding"]
    if missing:
        raise PlanningError(f"cannot reach goal {', '.join(sorted(missing))} in this scene")
    return sorted(search.actions, key=lambda a: (a.start, a.index))


def _say(name: str) -> str:
    return "the " + name.replace("_", " ")


def constraints_for(action: Action, scene: Scene) -> list[Constraint]:
    """What the monitor should check while and after the action runs."""
    robot, args = action.robot, action.args
    block = args["object"]
    hold = Fact("holding", (robot, block))
    hold_q = f"Is {_say(block)} in {_say(robot)}'s gripper?"
    if action.skill == "pick":
        return [Constraint(phase="after", fact=str(hold), question=hold_q)]
    target = args["target"]
    kind = scene.kind_of(target)
    predicate, word = {"block": ("on", "on"), "bin": ("in", "inside"), "zone": ("at", "in")}[kind]
    result = [
        Constraint(phase="during", fact=str(hold), question=hold_q),
        Constraint(
            phase="after",
            fact=str(Fact(predicate, (block, target))),
            question=f"Is {_say(block)} {word} {_say(target)}?",
        ),
    ]
    # The blocks below a stacked block must still stand where they were.
    chain = list(action.below)
    for upper, lower in pairwise(chain):
        result.append(
            Constraint(
                phase="after",
                fact=str(Fact("on", (upper, lower))),
                question=f"Is {_say(upper)} still on {_say(lower)}?",
            )
        )
    return result


def to_task_plan(
    command: str, goal: Iterable[Fact], actions: list[Action], scene: Scene
) -> TaskPlan:
    """Number the actions, add dependencies on the previous user of each block, and
    attach constraints."""
    last_user: dict[str, str] = {}
    step_of: dict[str, int] = {}
    ends_of_step: dict[int, set[str]] = {}
    tasks = []
    for i, action in enumerate(actions, start=1):
        task_id = f"t{i}"
        found = {last_user[b] for b in action.touched if b in last_user}
        earlier = [s for s in ends_of_step if s < action.step]
        if earlier and not any(step_of[d] == action.step for d in found):
            # The first task of a later step waits for the previous step to finish.
            found |= ends_of_step[max(earlier)]
        deps = sorted(found, key=lambda t: int(t[1:]))
        step_of[task_id] = action.step
        ends = ends_of_step.setdefault(action.step, set())
        ends.difference_update(found)
        ends.add(task_id)
        tasks.append(
            Task(
                id=task_id,
                skill=action.skill,
                robot=action.robot,
                args=dict(action.args),
                depends_on=deps,
                constraints=constraints_for(action, scene),
            )
        )
        for block in action.touched:
            last_user[block] = task_id
    return TaskPlan(command=command, goal=format_facts(goal), tasks=tasks)


def plan_from_state(
    command: str,
    goal: Iterable[Fact],
    state: frozenset[Fact],
    scene: Scene,
    catalogue: Catalogue,
    steps: dict[Fact, int] | None = None,
    assign: dict[str, str] | None = None,
) -> TaskPlan:
    """Goal + current facts -> a task plan (see the module docstring)."""
    goal = frozenset(goal)
    actions = plan_actions(goal, state, scene, catalogue, steps, assign)
    return to_task_plan(command, goal, actions, scene)
