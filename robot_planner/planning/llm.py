"""The part every LLM backend shares: prompt, parse, validate, repair.

A backend only implements `complete(messages) -> Completion` (one model call, with its
own transport retries and timeouts). This class sends the prompt, parses the reply as
JSON (extracting the object from prose when the server has no JSON mode), validates it
against the catalogue, the scene and the current facts, and on failure sends the
validator's error lines back to the model, at most `max_repairs` times. Model text is
only ever parsed as JSON data; nothing in it is executed.

Two planning modes:

* ``dag``: the model writes the whole task plan (tasks, robots, dependencies).
* ``goal``: the model only reads the command into goal facts (plus "then" steps and the
  robots the command names, `plan.schema.goal_json_schema`); the domain-independent
  planner (`general.plan_goal`) makes the plan. A re-plan keeps the goal, so it needs no
  model call at all.

In both, the reply must be about the command that was sent (its ``command`` equals the
request's up to case and spacing): a reply for another command, whatever the reason (a
confused model, a proxy mixing up requests, text in the command steering the model), is
an error, repaired like any other, never a plan.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from robot_planner.plan.model import TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError, PlanRequest, PlanResult
from robot_planner.planning.goal_reading import read_goal
from robot_planner.planning.prompt import Message, PromptBuilder, extract_json_object
from robot_planner.untrusted import quoted
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import format_facts
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

#: Replies longer than this are refused unread (a plan for this cell is a few KB).
MAX_REPLY_CHARS = 200_000

PlanningMode = Literal["dag", "goal"]
PLANNING_MODES: tuple[str, ...] = get_args(PlanningMode)


def same_command(replied: str, sent: str) -> bool:
    """Whether a reply's command is the one sent, up to case and spacing (models
    re-space and re-case; any other difference may be another command)."""
    return " ".join(replied.split()).casefold() == " ".join(sent.split()).casefold()


def command_mismatch(replied: Any, sent: str) -> str | None:
    """The error line when a reply's `command` is not the request's, else None."""
    if isinstance(replied, str) and same_command(replied, sent):
        return None
    if not isinstance(replied, str) or not replied.strip():
        return f"the reply names no command; copy the command '{quoted(sent)}' verbatim"
    return f"the reply plans '{quoted(replied)}', but the command is '{quoted(sent)}'"


@dataclass(frozen=True)
class ReplyFormat:
    """What the reply being asked for must look like, for backends that constrain it.

    Attributes:
        name: the schema's name (OpenAI's ``json_schema.name``).
        schema: the stable schema (the same for every command, so servers and xgrammar
            can cache its compiled form).
        command: the request's command, which the reply's ``command`` must repeat (a
            local decoder can force it; a server's schema cannot, cheaply).
    """

    name: str
    schema: dict[str, Any]
    command: str | None = None


#: The reply format of the `plan` call running in this thread/task (None outside one).
_CURRENT_FORMAT: ContextVar[ReplyFormat | None] = ContextVar("reply_format", default=None)


@dataclass
class Completion:
    """One model reply."""

    text: str
    usage: dict[str, int] = field(default_factory=dict)


class BackendError(RuntimeError):
    """The model could not be reached or answered with an error (after retries)."""


class LLMPlanner:
    """Prompt -> reply -> validate -> repair; subclasses provide `complete`."""

    name = "llm"

    def __init__(
        self,
        catalogue: Catalogue,
        scene: Scene,
        max_repairs: int,
        prompts: PromptBuilder | None = None,
        planning_mode: str = "dag",
    ):
        if planning_mode not in PLANNING_MODES:
            raise PlanningError(
                f"planning mode must be one of {', '.join(PLANNING_MODES)}, got "
                f"'{quoted(str(planning_mode))}'"
            )
        self.catalogue = catalogue
        self.scene = scene
        self.max_repairs = max_repairs
        self.prompts = prompts or PromptBuilder(catalogue, scene)
        self.planning_mode = planning_mode
        self._formats: dict[str, ReplyFormat] = {}

    def complete(self, messages: list[Message]) -> Completion:  # pragma: no cover
        raise NotImplementedError

    def reply_format(self) -> ReplyFormat:
        """The format of the reply `complete` is asked for now: the current `plan` call's,
        or (a direct `complete` call) the plan schema of this planner's mode."""
        current = _CURRENT_FORMAT.get()
        return current if current is not None else self._format(self.planning_mode, None)

    def _format(self, mode: str, command: str | None) -> ReplyFormat:
        if mode not in self._formats:  # ground facts of a scene: computed once
            if mode == "goal":
                self._formats[mode] = ReplyFormat("goal", self.prompts.goal_schema())
            else:
                self._formats[mode] = ReplyFormat("task_plan", self.prompts.schema())
        stable = self._formats[mode]
        return ReplyFormat(stable.name, stable.schema, command)

    # --- Planner protocol ------------------------------------------------------------

    def plan(self, request: PlanRequest) -> PlanResult:
        """A validated plan: in ``dag`` mode the model's, in ``goal`` mode the planner's
        for the model's goal (a re-plan with a known goal asks no model)."""
        goal_mode = self.planning_mode == "goal"
        if goal_mode and request.goal is not None:
            return self._plan_known_goal(request)
        started = time.perf_counter()
        if goal_mode:
            messages = self.prompts.goal_messages(request)
            judge: Callable[[str, PlanRequest], tuple[list[str], TaskPlan | None]]
            judge, repair, what = self._judge_goal, self.prompts.goal_repair, "goal"
        else:
            messages = self.prompts.messages(request)
            judge, repair, what = self._judge, self.prompts.repair, "plan"
        usage: dict[str, int] = {}
        errors: list[str] = []
        attempts = 0
        token = _CURRENT_FORMAT.set(self._format(self.planning_mode, request.command))
        try:
            for attempts in range(1, self.max_repairs + 2):
                try:
                    completion = self.complete(messages)
                except BackendError as exc:
                    message = str(exc)
                    if not message.startswith(self.name):
                        message = f"{self.name} backend: {message}"
                    raise PlanningError(message) from None
                for key, value in completion.usage.items():
                    usage[key] = usage.get(key, 0) + int(value)
                errors, plan = judge(completion.text, request)
                if plan is not None:
                    return PlanResult(
                        plan,
                        self.name,
                        attempts,
                        time.perf_counter() - started,
                        usage,
                        notes=[f"planning mode: {self.planning_mode}"],
                        # What the words mean was the model's call: ask when asked to.
                        guesses=[f"the {self.name} model's reading of the command"],
                    )
                log.info("%s attempt %d rejected: %s", self.name, attempts, "; ".join(errors[:3]))
                messages = [
                    *messages,
                    {"role": "assistant", "content": completion.text[:20_000]},
                    {"role": "user", "content": repair(errors)},
                ]
        finally:
            _CURRENT_FORMAT.reset(token)
        raise PlanningError(
            f"{self.name} backend gave no valid {what} in {attempts} attempt(s); "
            f"last problem: {errors[0] if errors else 'unknown'}"
        )

    def replan(self, request: PlanRequest) -> PlanResult:
        return self.plan(request)

    # --- helpers -----------------------------------------------------------------------

    def _json(self, text: str) -> str | None:
        if len(text) > MAX_REPLY_CHARS:
            return None
        stripped = text.strip()
        try:
            json.loads(stripped)
            return stripped
        except (ValueError, RecursionError):
            return extract_json_object(stripped)

    def _judge(self, text: str, request: PlanRequest) -> tuple[list[str], TaskPlan | None]:
        """The validated plan in a reply, or the error lines to send back."""
        if len(text) > MAX_REPLY_CHARS:
            return [f"reply is longer than {MAX_REPLY_CHARS} characters"], None
        source = self._json(text)
        if source is None:
            return ["the reply contains no JSON object; answer with the plan as JSON only"], None
        try:
            data = json.loads(source)
        except (ValueError, RecursionError):
            return ["the reply is not valid JSON"], None
        refused = isinstance(data, dict) and data.get("tasks") == [] and not data.get("goal")
        if refused and not request.is_replan:
            raise PlanningError(
                f"{self.name} backend refused the command (no goal, no tasks): "
                f"'{request.command[:80]}'"
            )
        report = validate_plan(source, self.catalogue, self.scene, request.state)
        mismatch = command_mismatch(
            data.get("command") if isinstance(data, dict) else None, request.command
        )
        if mismatch is not None:
            # First: repairing the tasks of another command's plan is wasted effort.
            return [mismatch, *report.errors], None
        if not report.ok or report.plan is None:
            return report.errors, None
        if request.goal is not None:
            wanted = set(format_facts(request.goal))
            if set(report.plan.goal) != wanted:
                return [
                    f"the plan's goal must stay {sorted(wanted)}, got {sorted(report.plan.goal)}"
                ], None
        return [], report.plan

    # --- goal mode ---------------------------------------------------------------------

    def _judge_goal(self, text: str, request: PlanRequest) -> tuple[list[str], TaskPlan | None]:
        """The plan for the goal in a reply, or the error lines to send back. Only facts
        that parse, type-check and hold together reach the planner."""
        if len(text) > MAX_REPLY_CHARS:
            return [f"reply is longer than {MAX_REPLY_CHARS} characters"], None
        source = self._json(text)
        if source is None:
            return ["the reply contains no JSON object; answer with the goal as JSON only"], None
        try:
            data = json.loads(source)
        except (ValueError, RecursionError):
            return ["the reply is not valid JSON"], None
        mismatch = command_mismatch(
            data.get("command") if isinstance(data, dict) else None, request.command
        )
        if mismatch is not None:
            return [mismatch], None
        reading, errors = read_goal(data, self.scene)
        if reading is None:
            return errors, None
        if not reading.goal:
            raise PlanningError(
                f"{self.name} backend refused the command (no goal): '{quoted(request.command)}'"
            )
        try:
            plan = self._plan_goal(request, list(reading.goal), reading.steps, reading.assign)
        except PlanningError as exc:
            # Impossible here or unreachable: often a misreading, so the model may retry.
            return [str(exc)], None
        return [], plan

    def _plan_goal(
        self,
        request: PlanRequest,
        goal: list,
        steps: dict | None = None,
        assign: dict | None = None,
    ) -> TaskPlan:
        """`plan_goal` from the request's state, validated like any plan; a plan the
        validator refuses is a planner bug, not the model's, so it is not repaired."""
        from robot_planner.planning.general import plan_goal

        excluded = [f.key for f in request.excluded()]
        plan = plan_goal(
            request.command.strip(),
            goal,
            request.state,
            self.scene,
            self.catalogue,
            steps,
            assign,
            excluded=excluded,
        )
        report = validate_plan(plan, self.catalogue, self.scene, request.state)
        if not report.ok or report.plan is None:
            raise PlanningError(f"internal planning error: {report.errors[0]}")
        return report.plan

    def _plan_known_goal(self, request: PlanRequest) -> PlanResult:
        """Goal mode, re-plan: the goal was read when the command came, so the planner
        plans the rest from the observed state without asking the model again."""
        started = time.perf_counter()
        try:
            plan = self._plan_goal(request, list(request.goal or ()))
        except PlanningError as exc:
            excluded = request.excluded()
            if not excluded:
                raise
            tried = "; ".join(f.describe() for f in excluded)
            raise PlanningError(f"{exc}; not tried again: {tried}") from None
        return PlanResult(
            plan,
            self.name,
            0,
            time.perf_counter() - started,
            notes=["planning mode: goal; re-planned from the known goal without a model call"],
        )
