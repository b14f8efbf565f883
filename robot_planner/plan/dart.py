"""DART-LLM plans in and out, so DART-style LLM output gets the same checks as our plans.

DART-LLM (Wang et al., 2024) has an LLM write one entry per subtask. The shape used by
the authors' code (QA_LLM_Module ``prompts/swarm/dart.txt``, the Breakdown_Function_Modules
handler and the dart-llm-annotation tool) is::

    {"tasks": [{"task": "pick_red_block",
                "instruction_function": {"name": "pick",
                                         "robot_ids": ["robot_left_arm"],
                                         "dependencies": [],
                                         "object_keywords": ["red_block"]}}]}

with ``robot_type`` (a list of robot types) and ``robot_count`` (an integer or ``"all"``,
``"all"`` when absent) in place of ``robot_ids``. ``object_keywords`` sits inside
``instruction_function`` in most examples and next to it in some, so both are read.
DART's execution fields (``start_flag``, ``stop_flag``, ``parallel_flag``, ``condition``)
have no counterpart here and are ignored. An optional top-level ``goal`` (and
``command``) carries our goal facts through the format.

`from_dart` converts and then runs `validate_plan`, so every rule that guards a normal
plan guards a DART one; conversion problems come back as one error line per problem,
each naming the DART task, and nothing raises.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from robot_planner.plan.graph import execution_order, find_cycles
from robot_planner.plan.model import MAX_TASKS, TASK_ID_PATTERN, TaskPlan
from robot_planner.plan.validation import (
    MAX_ERRORS,
    MAX_PLAN_BYTES,
    ValidationReport,
    validate_plan,
)
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

_ID_RE = re.compile(TASK_ID_PATTERN)
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS_RE = re.compile(r"[\s\-]+")
_ONE_ROBOT = "one skill call runs on exactly one robot"


@dataclass
class _Draft:
    """One converted task; `candidates` is set while the robot is still to be chosen."""

    data: dict[str, Any]
    candidates: tuple[str, ...] = ()
    types: str = ""


# --- import ------------------------------------------------------------------------------


def from_dart(
    data: Mapping[str, Any] | str | bytes,
    catalogue: Catalogue,
    scene: Scene,
    state: frozenset[Fact] | None = None,
) -> ValidationReport:
    """Convert a DART-LLM plan to a `TaskPlan` and validate it like any other plan.

    Args:
        data: the DART plan as parsed JSON, JSON text or raw bytes (untrusted).
        catalogue: the skill catalogue (skill names and argument order).
        scene: the scene (robot names and models, reach).
        state: the facts that hold now; the scene's initial facts when None. Robots
            given only by ``robot_type`` are chosen by what they reach in this state.

    Returns:
        A report whose ``plan`` is the converted plan when everything passed; otherwise
        one error line per problem. Never raises.
    """
    try:
        report = _from_dart(data, catalogue, scene, state)
    except Exception as exc:
        log.exception("bug while converting a DART plan")
        return ValidationReport(errors=[f"internal DART conversion error: {type(exc).__name__}"])
    if not report.ok:
        log.info("DART plan rejected: %d error(s)", len(report.errors))
    return report


def _from_dart(
    data: Any, catalogue: Catalogue, scene: Scene, state: frozenset[Fact] | None
) -> ValidationReport:
    doc, errors = _load(data)
    if errors or doc is None:
        return _rejected(errors)
    tasks = doc.get("tasks")
    if tasks is None:
        return _rejected(["DART plan: missing 'tasks' (a list of {task, instruction_function})"])
    if not isinstance(tasks, list):
        return _rejected([f"DART plan: 'tasks' must be a list, got {_json_type(tasks)}"])
    if len(tasks) > MAX_TASKS:
        return _rejected([f"DART plan: {len(tasks)} tasks, more than the {MAX_TASKS} allowed"])
    ignored = sorted(str(k) for k in doc if k not in ("tasks", "goal", "command"))
    if ignored:
        log.debug("DART plan: ignoring top-level key(s) %s", ", ".join(ignored))

    drafts: list[_Draft] = []
    for index, item in enumerate(tasks):
        draft, task_errors = _convert_task(index, item, catalogue, scene)
        errors += task_errors
        if draft is not None:
            drafts.append(draft)
    if errors:
        return _rejected(errors)

    plan_data: dict[str, Any] = {"tasks": [d.data for d in drafts]}
    for key in ("command", "goal"):
        if key in doc:
            plan_data[key] = doc[key]
    if any(d.candidates for d in drafts):
        errors = _choose_robots(drafts, plan_data, catalogue, scene, state)
        if errors:
            return _rejected(errors)
    return validate_plan(plan_data, catalogue, scene, state)


def _rejected(errors: list[str]) -> ValidationReport:
    if len(errors) > MAX_ERRORS:
        extra = len(errors) - MAX_ERRORS
        errors = [*errors[:MAX_ERRORS], f"... and {extra} more error(s)"]
    return ValidationReport(errors=errors)


def _load(data: Any) -> tuple[Mapping[str, Any] | None, list[str]]:
    """Bytes or text -> a JSON object, with the validator's size cap."""
    if isinstance(data, Mapping):
        return data, []
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > MAX_PLAN_BYTES:
            return None, [f"DART plan is larger than {MAX_PLAN_BYTES} bytes"]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [f"DART plan is not UTF-8 text (bad byte at offset {exc.start})"]
    elif isinstance(data, str):
        if len(data) > MAX_PLAN_BYTES:
            return None, [f"DART plan is larger than {MAX_PLAN_BYTES} characters"]
        text = data
    else:
        return None, [_not_an_object(data)]
    if not text.strip():
        return None, ["DART plan is empty"]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"DART plan: bad JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
    except (RecursionError, ValueError) as exc:
        return None, [f"DART plan: bad JSON: {str(exc)[:120] or type(exc).__name__}"]
    if not isinstance(doc, dict):
        return None, [_not_an_object(doc)]
    return doc, []


def _not_an_object(value: Any) -> str:
    return f"DART plan must be a JSON object with a 'tasks' list, got {_json_type(value)}"


def _convert_task(
    index: int, item: Any, catalogue: Catalogue, scene: Scene
) -> tuple[_Draft | None, list[str]]:
    """One DART task -> our task data (robot possibly still open), or error lines."""
    if not isinstance(item, Mapping):
        return None, [f"DART task #{index + 1}: must be an object, got {_json_type(item)}"]
    task_id = item.get("task")
    label = task_id if isinstance(task_id, str) and _ID_RE.match(task_id) else f"#{index + 1}"
    where = f"DART task {label}"
    errors: list[str] = []
    if task_id is None:
        errors.append(f"{where}: missing 'task' (the task's name)")
    elif not isinstance(task_id, str):
        errors.append(f"{where}: 'task' must be a name (a string), got {_json_type(task_id)}")
    func = item.get("instruction_function")
    if func is None:
        return None, [*errors, f"{where}: missing instruction_function"]
    if not isinstance(func, Mapping):
        return None, [
            *errors,
            f"{where}: instruction_function must be an object, got {_json_type(func)}",
        ]

    skill, problem = _skill(func.get("name"), catalogue)
    if problem:
        errors.append(f"{where}: {problem}")
    robots = _robot(func, scene)
    if robots.problem:
        errors.append(f"{where}: {robots.problem}")
    keywords, problems = _list_field(item, func, "object_keywords")
    deps, more = _list_field(item, func, "dependencies")
    problems += more
    if not problems and not all(isinstance(d, str) for d in deps):
        problems.append("dependencies must be a list of task names (strings)")
    args: dict[str, Any] = {}
    if skill is not None and not problems:
        args, problem = _args(skill, keywords, catalogue)
        if problem:
            problems.append(problem)
    errors += [f"{where}: {p}" for p in problems]
    if errors:
        return None, errors
    ignored = sorted(str(k) for k in func if k not in _FUNCTION_KEYS)
    if ignored:
        log.debug("%s: ignoring %s", where, ", ".join(ignored))
    # A type-only task gets its first candidate as a placeholder until one is chosen.
    robot = robots.robot or robots.candidates[0]
    data = {"id": task_id, "skill": skill, "robot": robot, "args": args}
    data |= {"depends_on": list(deps), "constraints": []}
    return _Draft(data, robots.candidates, robots.types), []


_FUNCTION_KEYS = frozenset(
    {"name", "robot_ids", "robot_type", "robot_count", "dependencies", "object_keywords"}
)


def _skill(name: Any, catalogue: Catalogue) -> tuple[str | None, str | None]:
    """Our skill for a DART function name; an unknown name is passed on unchanged."""
    if name is None or name == "":
        return None, "instruction_function has no name (the skill to run)"
    if not isinstance(name, str) or not name.strip():
        return None, f"instruction_function.name must be a skill name, got {_json_type(name)}"
    if name in catalogue.skills:
        return name, None
    key = _SEPARATORS_RE.sub("_", _CAMEL_RE.sub("_", name.strip())).lower()
    if key in catalogue.skills:
        return key, None
    synonym = catalogue.skill_for_alias(key)
    if synonym is not None:
        return synonym, None
    return name, None  # the validator rejects it as an unknown skill, with the known ones


@dataclass(frozen=True)
class _Robots:
    """Who runs a task: one robot, or the robots to choose from, or why neither."""

    robot: str | None = None
    candidates: tuple[str, ...] = ()
    types: str = ""
    problem: str | None = None


def _robot(func: Mapping[str, Any], scene: Scene) -> _Robots:
    """A named robot (``robot_ids``), or the robots of a type to choose from later."""
    ids = func.get("robot_ids")
    if isinstance(ids, str):
        ids = [ids]
    if ids is not None and ids != []:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _Robots(problem="robot_ids must be a list of robot names")
        if len(ids) != 1:
            shown = ", ".join(_show(i) for i in ids[:4])
            return _Robots(
                problem=f"robot_ids names {len(ids)} robots ({shown}), but {_ONE_ROBOT}"
            )
        robot = _robot_name(ids[0], scene)
        if robot is None:
            known = ", ".join(scene.robots)
            return _Robots(problem=f"unknown robot id {_show(ids[0])} (known: {known})")
        types, problem = _types(func.get("robot_type"))
        model = scene.robots[robot].model
        if not problem and types and model.lower() not in types:
            problem = f"robot_ids names {robot}, a {model}, but robot_type says {', '.join(types)}"
        return _Robots(robot=robot, problem=problem)

    types, problem = _types(func.get("robot_type"))
    if problem:
        return _Robots(problem=problem)
    if not types:
        return _Robots(problem="no robot: give robot_ids, or robot_type with robot_count 1")
    shown = ", ".join(types)
    matching = tuple(r for r, spec in scene.robots.items() if spec.model.lower() in types)
    if not matching:
        models = ", ".join(sorted({spec.model for spec in scene.robots.values()}))
        return _Robots(problem=f"no robot of type {shown} in the scene (it has: {models})")
    count = func.get("robot_count", "all")  # DART's own default
    if isinstance(count, str) and count.strip().lower() == "all":
        if len(matching) == 1:
            return _Robots(robot=matching[0], types=shown)
        return _Robots(
            problem=f"robot_count 'all' selects {len(matching)} robots "
            f"({', '.join(matching)}), but {_ONE_ROBOT}"
        )
    if isinstance(count, str) and count.strip().isdecimal() and len(count) < 10:
        count = int(count.strip())
    if isinstance(count, bool) or not isinstance(count, (int, float)):
        return _Robots(problem=f'robot_count must be 1 or "all", got {_json_type(count)}')
    if count != 1:
        return _Robots(
            problem=f"robot_count {_number(count)}, but {_ONE_ROBOT} "
            "(split it into one task per robot)"
        )
    if len(matching) == 1:
        return _Robots(robot=matching[0], types=shown)
    return _Robots(candidates=matching, types=shown)


def _robot_name(text: str, scene: Scene) -> str | None:
    """A scene robot for ``left_arm``, ``Left-Arm`` or ``robot_left_arm``."""
    key = _SEPARATORS_RE.sub("_", text.strip()).lower()
    for name in (key, key.removeprefix("robot_")):
        if name in scene.robots:
            return name
    return None


def _types(value: Any) -> tuple[tuple[str, ...], str | None]:
    if value is None:
        return (), None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.isprintable() and len(v) <= 64 for v in value
    ):
        return (), "robot_type must be a list of robot models"
    return tuple(_SEPARATORS_RE.sub("_", v.strip()).lower() for v in value), None


def _list_field(
    item: Mapping[str, Any], func: Mapping[str, Any], key: str
) -> tuple[list[Any], list[str]]:
    """A list DART puts inside instruction_function or next to it (both occur)."""
    inner, outer = func.get(key), item.get(key)
    if _given(inner) and _given(outer) and inner != outer:
        return [], [f"{key} differ between the task and its instruction_function"]
    value = inner if _given(inner) else outer if _given(outer) else []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return [], [f"{key} must be a list, got {_json_type(value)}"]
    return value, []


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, list) and not value)


def _args(skill: str, keywords: list[Any], catalogue: Catalogue) -> tuple[dict[str, Any], str]:
    """Keywords -> named arguments in the catalogue's order (numbers from numeric text)."""
    spec = catalogue.skills.get(skill)
    if spec is None:
        return {}, ""  # unknown skill: the validator says so
    names = list(spec.args)
    if len(keywords) != len(names):
        wanted = ", ".join(names) or "none"
        return {}, (
            f"{skill} takes {len(names)} object keyword(s) ({wanted}), got {len(keywords)}"
        )
    return {n: spec.args[n].coerce(v) for n, v in zip(names, keywords, strict=True)}, ""


def _choose_robots(
    drafts: list[_Draft],
    plan_data: dict[str, Any],
    catalogue: Catalogue,
    scene: Scene,
    state: frozenset[Fact] | None,
) -> list[str]:
    """Pick the robot for each type-only task by a symbolic run in execution order.

    When the plan has a problem the validator reports before its own symbolic run
    (names, cycles), or a task fails in the run, choosing stops and the placeholder
    robots stay: the validator then names the real problem, which comes first.
    """
    try:
        plan = TaskPlan.model_validate(plan_data)
    except Exception:
        return []  # structural problem: the validator names it
    if not _runnable(plan, catalogue, scene):
        return []
    by_id = {t.id: t for t in plan.tasks}
    open_tasks = {d.data["id"]: d for d in drafts if d.candidates}
    facts = scene.initial_facts() if state is None else scene.derive(state)
    for task_id in execution_order(plan):
        task = by_id[task_id]
        robot = task.robot
        draft = open_tasks.get(task_id)
        if draft is not None:
            chosen, problem = _choose(task.skill, task.args, draft, catalogue, scene, facts)
            if chosen is None:
                return [f"DART task {task_id}: {problem}"]
            draft.data["robot"] = robot = chosen
        if catalogue.reach_errors(
            task.skill, robot, task.args, scene, facts
        ) or catalogue.unmet_preconditions(task.skill, robot, task.args, scene, facts):
            return []  # the validator reports this task
        facts = catalogue.apply(task.skill, robot, task.args, scene, facts)
    return []


def _runnable(plan: TaskPlan, catalogue: Catalogue, scene: Scene) -> bool:
    """True when a symbolic run is possible: known skills, valid args, a DAG of known ids
    (the validator's checks before its own run, which it reports better than a failed
    choice of robot would)."""
    ids = [t.id for t in plan.tasks]
    known = set(ids)
    if len(known) != len(ids):
        return False
    for task in plan.tasks:
        if task.skill not in catalogue.skills or any(d not in known for d in task.depends_on):
            return False
        if catalogue.argument_errors(task.skill, task.args, scene):
            return False
    return not find_cycles(plan)


def _choose(
    skill: str,
    args: Mapping[str, Any],
    draft: _Draft,
    catalogue: Catalogue,
    scene: Scene,
    facts: frozenset[Fact],
) -> tuple[str | None, str]:
    """The one candidate that reaches the call's places now (then: whose preconditions
    hold), or why there is none or more than one."""
    call = f"{skill}({', '.join(_number(v) for v in args.values())})"
    reach = {r: catalogue.reach_errors(skill, r, args, scene, facts) for r in draft.candidates}
    able = [r for r in draft.candidates if not reach[r]]
    if not able:
        why = "; ".join(p for r in draft.candidates for p in reach[r])
        return None, f"no {draft.types} robot can do {call} at that point: {why}"
    if len(able) > 1:
        ready = [
            r for r in able if not catalogue.unmet_preconditions(skill, r, args, scene, facts)
        ]
        if len(ready) == 1:
            able = ready
    if len(able) > 1:
        return None, (
            f"robot_type {draft.types} is ambiguous for {call}: {', '.join(able)} can all "
            f"do it at that point; name one in robot_ids"
        )
    return able[0], ""


# --- export ------------------------------------------------------------------------------


def to_dart(plan: TaskPlan, scene: Scene, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """Our plan in DART-LLM form, for DART tooling and datasets (JSON-serialisable).

    ``object_keywords`` lists argument values in the catalogue's argument order (the
    scene's domain's catalogue unless one is given), since DART keywords are positional.
    Constraints have no DART field and are dropped; ``goal`` and ``command`` are kept
    as top-level keys when set.
    """
    skills = (catalogue or scene.domain.catalogue).skills
    tasks = []
    for task in plan.to_dict()["tasks"]:
        args: dict[str, Any] = task["args"]
        spec = skills.get(task["skill"])
        order = [n for n in spec.args if n in args] if spec else []
        order += [n for n in args if n not in order]
        func: dict[str, Any] = {"name": task["skill"], "robot_ids": [task["robot"]]}
        robot = scene.robots.get(task["robot"])
        if robot is not None:
            func["robot_type"] = [robot.model]
        func["dependencies"] = list(task["depends_on"])
        func["object_keywords"] = [args[n] for n in order]
        tasks.append({"task": task["id"], "instruction_function": func})
    dropped = sum(len(t.constraints) for t in plan.tasks)
    if dropped:
        log.info("DART export: dropped %d constraint(s); DART has no constraint field", dropped)
    out: dict[str, Any] = {"tasks": tasks}
    if plan.goal:
        out["goal"] = list(plan.goal)
    if plan.command:
        out["command"] = plan.command
    return out


# --- helpers -----------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number" if math.isfinite(value) else "a non-finite number"
    names = {dict: "an object", list: "an array", str: "a string"}
    return names.get(type(value), type(value).__name__)


def _number(value: Any) -> str:
    """A value for a message; huge integers (which `str` refuses) are not spelled out."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return "a huge number"
    return f"{value:g}" if isinstance(value, float) else str(value)[:60]


def _show(text: str) -> str:
    """A name from the input, quoted on one line and cut short."""
    shown = repr(text)
    return shown if len(shown) <= 62 else shown[:58] + "...'"


__all__ = ["from_dart", "to_dart"]
