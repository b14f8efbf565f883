"""The offline planner: the default when no LLM is configured (no network, no model).

Two stages: `understand` turns the command into goal facts (plus explicit robot
assignments and ordering); the domain-independent planner (`general.plan_goal`) turns
the goal and the current facts into a task DAG. The result is validated like any other
plan, so a planner bug can never reach a robot. Re-planning is the same search from the
observed facts, keeping the goal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from robot_planner.plan.model import TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import FailedAction, PlanningError, PlanRequest, PlanResult
from robot_planner.planning.general import plan_goal, planning_context
from robot_planner.planning.language import UnderstandingError, understand_command, warm_up
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene


@dataclass
class OfflinePlanner:
    """Grammar + domain-independent planner over one scene and catalogue."""

    catalogue: Catalogue
    scene: Scene

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
        if request.goal is not None:
            # Re-planning: the goal is kept; ordering and robot choices are re-derived.
            goal, steps, assign, via = list(request.goal), {}, {}, {}
        else:
            try:
                meaning = understand_command(request.command, self.scene, request.state)
            except UnderstandingError as exc:
                raise PlanningError(str(exc)) from None
            goal = meaning.goal
            steps = {item.fact: item.step for item in meaning.items}
            assign, via = meaning.assignments(), meaning.carriers()
        excluded = request.excluded()
        try:
            plan = self._plan(request.command, goal, request.state, steps, assign, via, excluded)
        except PlanningError as exc:
            if not excluded:
                raise
            tried = "; ".join(f.describe() for f in excluded)
            raise PlanningError(f"{exc}; not tried again: {tried}") from None
        return PlanResult(plan, self.name, 1, time.perf_counter() - started)

    def replan(self, request: PlanRequest) -> PlanResult:
        return self.plan(request)

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
        )
        report = validate_plan(plan, self.catalogue, self.scene, state)
        if not report.ok or report.plan is None:
            raise PlanningError(f"internal planning error: {report.errors[0]}")
        return report.plan
