"""Plan validation: every check that stands between an untrusted plan and a robot.

`validate_plan` accepts raw bytes, text or parsed JSON from any source (a file, a
topic, an LLM reply) and never raises: it returns a `ValidationReport` whose errors are
single lines, each naming the task it is about, so that a person, a log and an LLM in
a repair loop can all act on them.

Checks, in order (later stages run only when earlier ones pass, so one root cause does
not produce a cascade of lines):

1. bytes -> text -> JSON object, size-capped;
2. structure (types, required and unknown keys) against the plan model;
3. names: skills, robots, objects, targets; arguments (missing, extra, wrong type);
   goal and constraint facts; duplicate ids; dangling dependencies;
4. dependency cycles (each cycle named);
5. impossible goals (``on(x,x)``, a block in two places, ...);
6. a symbolic run of the plan in execution order from the current state: tasks that
   use the same block must be ordered by dependencies, each robot must reach the
   places it works at, each skill's preconditions must hold, and the goal must hold at
   the end.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from robot_planner.plan.graph import ancestor_masks, execution_order, find_cycles
from robot_planner.plan.model import Task, TaskPlan
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact, FactError
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

MAX_PLAN_BYTES = 16 * 1024 * 1024
MAX_ERRORS = 50


@dataclass
class ValidationReport:
    """The outcome of validation: the parsed plan when valid, else error lines."""

    plan: TaskPlan | None = None
    errors: list[str] = field(default_factory=list)
    final_facts: frozenset[Fact] | None = None

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.errors

    def summary(self) -> str:
        """One line for a valid plan (robots, tasks, dependencies, goal)."""
        if not self.ok or self.plan is None:
            return f"invalid plan: {len(self.errors)} error(s)"
        plan = self.plan
        deps = sum(len(t.depends_on) for t in plan.tasks)
        return (
            f"valid plan: {len(plan.tasks)} task(s) on {len(plan.robots)} robot(s) "
            f"({', '.join(plan.robots) or 'none'}), {deps} dependencies, "
            f"goal: {', '.join(plan.goal) or '(none)'}"
        )


class PlanValidationError(ValueError):
    """Raised by `require_valid` with all error lines in the message."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def validate_plan(
    source: bytes | str | Mapping[str, Any] | TaskPlan,
    catalogue: Catalogue,
    scene: Scene,
    state: frozenset[Fact] | None = None,
) -> ValidationReport:
    """Validate a plan from any source against the catalogue, the scene and a state.

    Args:
        source: raw bytes, JSON text, parsed JSON, or a `TaskPlan`.
        catalogue: the skill catalogue.
        scene: the scene (names, kinds, reach).
        state: the facts that hold now; the scene's initial facts when None.

    Returns:
        A report; ``report.ok`` is True only when every check passed.
    """
    try:
        report = _validate(source, catalogue, scene, state)
    except Exception as exc:
        log.exception("validator bug while checking a plan")
        return ValidationReport(errors=[f"internal validator error: {type(exc).__name__}"])
    # Names in error lines come from untrusted input: keep every line one printable line.
    report.errors = [_one_line(e) for e in report.errors]
    if len(report.errors) > MAX_ERRORS:
        extra = len(report.errors) - MAX_ERRORS
        report.errors = [*report.errors[:MAX_ERRORS], f"... and {extra} more error(s)"]
    if report.errors:
        report.plan = None
    return report


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
MAX_ERROR_CHARS = 400


def _one_line(text: str) -> str:
    """Escape control characters (a newline in a name must not split the line) and cap
    the length."""
    text = _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def require_valid(
    source: bytes | str | Mapping[str, Any] | TaskPlan,
    catalogue: Catalogue,
    scene: Scene,
    state: frozenset[Fact] | None = None,
) -> TaskPlan:
    """Like `validate_plan`, but return the plan or raise `PlanValidationError`."""
    report = validate_plan(source, catalogue, scene, state)
    if not report.ok or report.plan is None:
        raise PlanValidationError(report.errors)
    return report.plan


# --- stages ------------------------------------------------------------------------------


def _validate(
    source: bytes | str | Mapping[str, Any] | TaskPlan,
    catalogue: Catalogue,
    scene: Scene,
    state: frozenset[Fact] | None,
) -> ValidationReport:
    if isinstance(source, TaskPlan):
        plan = source
    else:
        data, errors = _load_json(source)
        if errors:
            return ValidationReport(errors=errors)
        plan, errors = _structure(data)
        if errors or plan is None:
            return ValidationReport(errors=errors)
    errors = _names(plan, catalogue, scene)
    if errors:
        return ValidationReport(errors=errors)
    errors = [f"dependency cycle: {' -> '.join(c)}" for c in find_cycles(plan)]
    if errors:
        return ValidationReport(errors=errors)
    goal = frozenset(Fact.parse(g) for g in plan.goal)
    errors = [f"impossible goal: {p}" for p in scene.domain.contradictions(goal)]
    if errors:
        return ValidationReport(errors=errors)
    # `clear` and tower `at` are derived facts: recompute them so a state given as base
    # facts (a state file, a perception estimate) is judged the same way as the scene's.
    start = scene.initial_facts() if state is None else scene.derive(state)
    errors, final = _simulate(plan, catalogue, scene, start)
    if errors:
        return ValidationReport(errors=errors)
    missing = sorted(str(g) for g in goal - final)
    if missing:
        return ValidationReport(
            errors=[f"goal fact {g} does not hold after the plan" for g in missing]
        )
    return ValidationReport(plan=plan, final_facts=final)


def _load_json(source: bytes | str | Mapping[str, Any]) -> tuple[Any, list[str]]:
    if isinstance(source, Mapping):
        return source, []
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        if len(raw) > MAX_PLAN_BYTES:
            return None, [f"plan is larger than {MAX_PLAN_BYTES} bytes"]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [f"plan is not UTF-8 text (bad byte at offset {exc.start})"]
    elif isinstance(source, str):
        text = source
        if len(text) > MAX_PLAN_BYTES:
            return None, [f"plan is larger than {MAX_PLAN_BYTES} characters"]
    else:
        return None, [f"plan must be JSON text, got {type(source).__name__}"]
    if not text.strip():
        return None, ["plan is empty"]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"bad JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
    except (RecursionError, ValueError) as exc:
        return None, [f"bad JSON: {str(exc)[:120] or type(exc).__name__}"]
    if not isinstance(data, dict):
        return None, [f"plan must be a JSON object, got {_json_type(data)}"]
    return data, []


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _structure(data: Mapping[str, Any]) -> tuple[TaskPlan | None, list[str]]:
    try:
        return TaskPlan.model_validate(data), []
    except ValidationError as exc:
        errors = []
        tasks = data.get("tasks") if isinstance(data, Mapping) else None
        for item in exc.errors():
            loc = list(item.get("loc", ()))
            errors.append(f"{_where(loc, tasks)}: {item.get('msg', 'invalid')}")
        return None, errors
    except RecursionError:
        return None, ["plan is nested too deeply"]


def _where(loc: list[Any], tasks: Any) -> str:
    """Name the place of a structural error: `task t3: args`, or `plan: goal.2`."""
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        index = loc[1]
        name = f"task #{index + 1}"
        if isinstance(tasks, list) and index < len(tasks) and isinstance(tasks[index], dict):
            task_id = tasks[index].get("id")
            if isinstance(task_id, str) and 0 < len(task_id) <= 64:
                name = f"task {task_id}"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{name}: {rest}" if rest else name
    return "plan: " + (".".join(str(p) for p in loc) or "(top level)")


def _fact_errors(text: str, scene: Scene) -> list[str]:
    try:
        parsed = scene.domain.parse_fact(text)
    except FactError as exc:
        return [str(exc)]
    errors = []
    kinds = scene.domain.predicates[parsed.predicate].args
    for arg, kind in zip(parsed.args, kinds, strict=True):
        found = scene.kind_of(arg)
        if found is None:
            errors.append(f"{parsed}: unknown {kind} '{arg}'")
        elif not scene.is_a(arg, kind):
            errors.append(f"{parsed}: '{arg}' is a {found}, expected a {kind}")
    return errors


def _names(plan: TaskPlan, catalogue: Catalogue, scene: Scene) -> list[str]:
    errors = [f"goal: {e}" for g in plan.goal for e in _fact_errors(g, scene)]
    ids = [t.id for t in plan.tasks]
    known = set(ids)
    seen: set[str] = set()
    for task in plan.tasks:
        where = f"task {task.id}"
        if task.id in seen:
            errors.append(f"{where}: duplicate task id (ids must be unique)")
        seen.add(task.id)
        if task.skill not in catalogue.skills:
            errors.append(
                f"{where}: unknown skill '{task.skill}' (known: {', '.join(catalogue.skills)})"
            )
        else:
            errors += [
                f"{where}: {e}" for e in catalogue.argument_errors(task.skill, task.args, scene)
            ]
        if task.robot not in scene.robots:
            errors.append(
                f"{where}: unknown robot '{task.robot}' (known: {', '.join(scene.robots)})"
            )
        elif task.skill in catalogue.skills:
            errors += [
                f"{where}: {e}" for e in catalogue.robot_errors(task.skill, task.robot, scene)
            ]
        for dep in task.depends_on:
            if dep not in known:
                errors.append(f"{where}: depends on '{dep}', which is not a task in the plan")
        for c in task.constraints:
            errors += [f"{where}: constraint: {e}" for e in _fact_errors(c.fact, scene)]
    return errors


def _touched_objects(
    task: Task, catalogue: Catalogue, scene: Scene, before: frozenset[Fact], after: frozenset[Fact]
) -> list[str]:
    """Objects a task works on: its object arguments, and every object whose facts it
    changes (lifting a block off another changes what stands on that one, so two robots
    must not use it unordered)."""
    spec = catalogue.skills[task.skill]
    used = [
        str(task.args[name])
        for name, arg in spec.args.items()
        if arg.is_name and task.args.get(name) in scene.objects
    ]
    for fact in sorted(before ^ after):
        used += [a for a in fact.args if a in scene.objects and a not in used]
    return used


def _simulate(
    plan: TaskPlan, catalogue: Catalogue, scene: Scene, start: frozenset[Fact]
) -> tuple[list[str], frozenset[Fact]]:
    order = execution_order(plan)
    by_id = {t.id: t for t in plan.tasks}
    masks = ancestor_masks(plan, order)
    position = {task_id: i for i, task_id in enumerate(order)}
    last_user: dict[str, str] = {}
    errors: list[str] = []
    facts = start
    for task_id in order:
        task = by_id[task_id]
        where = f"task {task.id} ({task.skill} on {task.robot})"
        after = catalogue.apply(task.skill, task.robot, task.args, scene, facts)
        for block in _touched_objects(task, catalogue, scene, facts, after):
            previous = last_user.get(block)
            if previous is not None:
                prev = by_id[previous]
                ordered = prev.robot == task.robot or (masks[task.id] >> position[previous]) & 1
                if not ordered:
                    errors.append(
                        f"{where}: uses {block}, as task {previous} on {prev.robot} does, "
                        f"but does not depend on it (add {previous} to depends_on)"
                    )
            last_user[block] = task.id
        problems = catalogue.reach_errors(task.skill, task.robot, task.args, scene, facts)
        errors += [f"{where}: {p}" for p in problems]
        unmet = catalogue.unmet_preconditions(task.skill, task.robot, task.args, scene, facts)
        if unmet:
            errors.append(
                f"{where}: precondition {', '.join(map(str, unmet))} does not hold "
                f"at that point of the plan"
            )
        if errors:
            return errors, facts
        facts = after
    return errors, facts
