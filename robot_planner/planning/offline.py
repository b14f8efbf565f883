"""The offline planner: the default when no LLM is configured (no network, no model).

Two stages: `understand` turns the command into goal facts (plus explicit robot
assignments and ordering); the domain-independent planner (`general.plan_goal`) turns
the goal and the current facts into a task DAG. Skills asked for by name ("wait 5
seconds", "then go home": no goal fact says they ran) are put between the plans of the
steps around them. Steps are visits, not only end states: a goal a later step
supersedes ("go to the pick station, then go to the dock") is planned first, and the
rest from where that ends. The result is validated like any other plan, so a planner
bug can never reach a robot. Re-planning is the same search from the observed facts,
keeping the goal; for a plan with visits, from the phase of the task that failed (a
visit leaves no fact behind, so only the plan says whether it was made).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from robot_planner.plan.model import Task, TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import FailedAction, PlanningError, PlanRequest, PlanResult
from robot_planner.planning.general import constraints_for, plan_goal, planning_context
from robot_planner.planning.language import understand_command
from robot_planner.planning.lexicon import (
    GoalItem,
    TaskRequest,
    Understanding,
    UnderstandingError,
    warm_up,
)
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact, format_facts
from robot_planner.world.scene import Scene


@dataclass
class OfflinePlanner:
    """Grammar + domain-independent planner over one scene and catalogue."""

    catalogue: Catalogue
    scene: Scene
    #: the latest plan with visits per command, to re-plan what is left of it
    _visiting: dict[str, _Visiting] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    #: this plan's robots named that gave way (`plan_goal`'s `given_way`): guesses
    _given_way: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    name = "offline"

    def __post_init__(self) -> None:
        # Build the Earley parser now: the first command is as fast as the rest.
        warm_up(self.scene.domain)
        planning_context(self.scene, self.catalogue)  # ground the scene's model once, now

    def plan(self, request: PlanRequest) -> PlanResult:
        """A validated plan for the request's command from its state.

        Raises:
            PlanningError: not understood, impossible here, or (a bug) invalid; one line.
        """
        started = time.perf_counter()
        actions: list[TaskRequest] = []
        guesses: list[str] = []
        self._given_way.clear()
        meaning = None
        first = 0  # the first part of a plan with visits still to plan
        if request.goal is not None:
            # Re-planning: the goal is kept; ordering and robot choices are re-derived.
            goal, steps, assign, via = list(request.goal), {}, {}, {}
            resumed = self._resume(request)
            if resumed is not None:
                meaning, first = resumed
        else:
            try:
                meaning = understand_command(request.command, self.scene, request.state)
            except UnderstandingError as exc:
                raise PlanningError(str(exc)) from None
            goal = meaning.goal
            steps = {item.fact: item.step for item in meaning.items}
            assign, via = meaning.assignments(), meaning.carriers()
            actions, guesses = meaning.actions, meaning.guesses
        excluded = request.excluded()
        try:
            if meaning is not None and meaning.visits:
                plan = self._plan_visits(request.command, meaning, request.state, excluded, first)
            elif actions:
                plan = self._plan_requested(
                    request.command, goal, request.state, steps, assign, via, excluded, actions
                )
            else:
                plan = self._plan(
                    request.command, goal, request.state, steps, assign, via, excluded
                )
        except PlanningError as exc:
            if not excluded:
                raise
            tried = "; ".join(f.describe() for f in excluded)
            raise PlanningError(f"{exc}; not tried again: {tried}") from None
        latency = time.perf_counter() - started
        guesses = [*guesses, *dict.fromkeys(self._given_way)]
        return PlanResult(plan, self.name, 1, latency, guesses=guesses)

    def replan(self, request: PlanRequest) -> PlanResult:
        return self.plan(request)

    def _resume(self, request: PlanRequest) -> tuple[Understanding, int] | None:
        """For a re-plan of a command with visits: its meaning and the part of the plan
        the failed task was in (the visits before it were made). None: the command has
        none, or no task failed (the plan ran to its end: only the goal is left).

        Raises:
            PlanningError: the command has visits, and the failed task is in no plan made
                here for it: planning only the goal could skip a visit.
        """
        failed = request.failed_task
        if failed is None or request.goal is None:
            return None
        visiting = self._visiting.get(_key(request.command))
        if visiting is not None and set(visiting.meaning.goal) == set(request.goal):
            part = visiting.part_of.get(_task_key(failed))
            if part is not None:
                return visiting.meaning, part
        try:
            meaning = understand_command(request.command, self.scene, request.state)
        except UnderstandingError:
            return None
        if not meaning.visits or set(meaning.goal) != set(request.goal):
            return None
        places = "; ".join(str(v.fact) for v in meaning.visits)
        raise PlanningError(
            f"not re-planned: it is not known which visits ({places}) were made before "
            f"{failed.id} failed, and planning only the goal could skip one"
        )

    def plan_text(self, command: str, state: frozenset[Fact] | None = None) -> TaskPlan:
        """Convenience: a plan for `command` from `state` (the scene's start when None)."""
        state = self.scene.initial_facts() if state is None else state
        return self.plan(PlanRequest(command, state)).plan

    def _plan(
        self,
        command: str,
        goal: list[Fact],
        state: frozenset[Fact],
        steps: dict[Fact, int] | None = None,
        assign: dict[str, str] | None = None,
        via: dict[str, str] | None = None,
        excluded: tuple[FailedAction, ...] = (),
    ) -> TaskPlan:
        plan = plan_goal(
            command.strip(),
            goal,
            state,
            self.scene,
            self.catalogue,
            steps,
            assign,
            via=via,
            excluded=[f.key for f in excluded],
            given_way=self._given_way,
        )
        report = validate_plan(plan, self.catalogue, self.scene, state)
        if not report.ok or report.plan is None:
            raise PlanningError(f"internal planning error: {report.errors[0]}")
        return report.plan

    def _plan_requested(
        self,
        command: str,
        goal: list[Fact],
        state: frozenset[Fact],
        steps: dict[Fact, int],
        assign: dict[str, str],
        via: dict[str, str],
        excluded: tuple[FailedAction, ...],
        actions: list[TaskRequest],
    ) -> TaskPlan:
        """The goal planned in parts cut at the steps with skills asked for by name, the
        skills in between: each part starts after everything before it (steps are
        barriers in `plan_goal` too), and each later part keeps the earlier goal facts.

        Raises:
            PlanningError: a part cannot be planned, or (a bug) the whole is invalid.
        """

        def part(cut: tuple[int, bool] | None) -> _Part:
            facts = [f for f in goal if cut is None or _before(steps.get(f, 0), cut)]
            return facts, steps, assign, via

        cuts = sorted({(a.step, a.after_goal) for a in actions})
        return self._plan_parts(command, goal, state, cuts, part, excluded, actions)

    def _plan_visits(
        self,
        command: str,
        meaning: Understanding,
        state: frozenset[Fact],
        excluded: tuple[FailedAction, ...],
        first: int = 0,
    ) -> TaskPlan:
        """A command whose later steps supersede earlier goals ("go to the pick station,
        then go to the dock"), planned in phases: before each step that supersedes one,
        the goal in force then (`Understanding.in_force`) is reached from where the last
        phase ended, so every place said is visited; skills asked for by name cut it
        further, as in `_plan_requested`. The plan's goal is the end goal. `first`: the
        first part to plan (a re-plan after parts were done); the plan is remembered for
        re-planning.

        Raises:
            PlanningError: a phase cannot be planned, or (a bug) the whole is invalid.
        """

        def part(cut: tuple[int, bool] | None) -> _Part:
            items = meaning.in_force(lambda step: cut is None or _before(step, cut))
            return (
                [i.fact for i in items],
                _steps_of(items),
                meaning.assignments(items),
                meaning.carriers(items),
            )

        phases = {(v.until, False) for v in meaning.visits if v.until is not None}
        cuts = sorted(phases | {(a.step, a.after_goal) for a in meaning.actions})
        part_of: dict[str, int] = {}
        plan = self._plan_parts(
            command, meaning.goal, state, cuts[first:], part, excluded, meaning.actions, part_of
        )
        by_id = {t.id: t for t in plan.tasks}
        self._visiting[_key(command)] = _Visiting(
            meaning, {_task_key(by_id[i]): first + n for i, n in part_of.items() if i in by_id}
        )
        while len(self._visiting) > _REMEMBERED:
            del self._visiting[next(iter(self._visiting))]
        return plan

    def _plan_parts(
        self,
        command: str,
        goal: list[Fact],
        state: frozenset[Fact],
        cuts: list[tuple[int, bool]],
        part_at: Callable[[tuple[int, bool] | None], _Part],
        excluded: tuple[FailedAction, ...],
        actions: list[TaskRequest],
        part_of: dict[str, int] | None = None,
    ) -> TaskPlan:
        """Plan the part of the goal due at each cut (`part_at`: its facts, their steps,
        robot assignments and carriers; None: the whole goal, last), each from the facts
        the one before ends in and after its last tasks, with the skills asked for by
        name at that cut after it. `part_of` (when given) gets each task's part: the
        index of its cut.

        Raises:
            PlanningError: a part cannot be planned, a skill undoes a part, or (a bug)
                the whole is invalid.
        """
        context = planning_context(self.scene, self.catalogue)
        tasks: list[Task] = []
        barrier: list[str] = []  # what the next part waits for
        facts = state
        # A skill said after a step's other work ("put X in the bin and wait 2 seconds")
        # runs after it; said first ("go home, then ..."), before the step's goal.
        part: list[Fact] = []
        for index, cut in enumerate([*cuts, None]):
            part, steps, assign, via = part_at(cut)
            done = len(tasks)
            new: list[Task] = []
            if part:
                planned = self._plan(command, part, facts, steps, assign, via, excluded)
                ids = {t.id: f"t{len(tasks) + n}" for n, t in enumerate(planned.tasks, 1)}
                new = [
                    t.model_copy(
                        update={
                            "id": ids[t.id],
                            "depends_on": [ids[d] for d in t.depends_on] or list(barrier),
                        }
                    )
                    for t in planned.tasks
                ]
                for task in new:
                    facts = self.catalogue.apply(
                        task.skill, task.robot, task.args, self.scene, facts
                    )
                used = {d for t in new for d in t.depends_on}
                barrier = [t.id for t in new if t.id not in used] or barrier
                tasks += new
            before = new or [t for t in tasks if t.id in barrier]
            requested = self._robots_for_unnamed(
                [a for a in actions if (a.step, a.after_goal) == cut], before
            )
            last: dict[str, str] = {}  # robot -> its latest task of this step
            for action in requested:
                task = Task(
                    id=f"t{len(tasks) + 1}",
                    skill=action.skill,
                    robot=action.robot,
                    args=dict(action.args),
                    depends_on=[last[action.robot]] if action.robot in last else list(barrier),
                    constraints=constraints_for(
                        action.skill, action.robot, dict(action.args), facts, context
                    ),
                )
                facts = self.catalogue.apply(task.skill, task.robot, task.args, self.scene, facts)
                undone = [f for f in part if f not in self.scene.derive(facts)]
                if undone:
                    raise PlanningError(
                        f"{action.skill} on {action.robot} undoes {undone[0]}, asked for before it"
                    )
                last[action.robot] = task.id
                tasks.append(task)
            if requested:
                barrier = list(last.values())
            if part_of is not None:
                part_of.update((t.id, index) for t in tasks[done:])
        plan = TaskPlan(command=command.strip(), goal=format_facts(goal), tasks=tasks)
        report = validate_plan(plan, self.catalogue, self.scene, state)
        if not report.ok or report.plan is None:
            raise PlanningError(f"internal planning error: {report.errors[0]}")
        missing = [str(f) for f in goal if f not in self.scene.derive(facts)]
        if missing:
            raise PlanningError(f"{missing[0]} would not hold after the skills asked for by name")
        return report.plan

    def _robots_for_unnamed(
        self, requested: list[TaskRequest], before: list[Task]
    ) -> list[TaskRequest]:
        """Skills asked for without a robot go to the robots that did the work just
        before them (`before`: the goal part they follow, else the tasks they wait for)
        and offer the skill; else they stay with the default robot."""
        workers = list(dict.fromkeys(t.robot for t in before))
        out: list[TaskRequest] = []
        for action in requested:
            able = [
                r
                for r in workers
                if self.scene.domain.kind_offers(self.scene.robots[r].kind, action.skill)
            ]
            if not action.unnamed or not able:
                out.append(action)
                continue
            out += [replace(action, robot=robot) for robot in able]
        return out


#: a part of the goal: its facts, their steps, robot assignments and carriers
_Part = tuple[list[Fact], dict[Fact, int], dict[str, str], dict[str, str]]
#: how many commands' plans with visits a planner remembers for re-planning
_REMEMBERED = 64


@dataclass(frozen=True)
class _Visiting:
    """A plan with visits, as far as re-planning needs it: the command's meaning and the
    part of the plan (`_plan_parts`) each of its tasks belongs to, by `_task_key`."""

    meaning: Understanding
    part_of: dict[tuple, int]


def _key(command: str) -> str:
    return " ".join(command.split())


def _task_key(task: Task) -> tuple:
    """A task as the executor reports it back: its id, skill, robot and arguments."""
    return (task.id, task.skill, task.robot, repr(sorted(task.args.items())))


def _steps_of(items: list[GoalItem]) -> dict[Fact, int]:
    return {i.fact: i.step for i in items}


def _before(step: int, cut: tuple[int, bool]) -> bool:
    """A goal fact of `step` is planned before the skills at `cut` (their step, and
    whether they were said after that step's other work)."""
    return step < cut[0] or (step == cut[0] and cut[1])
