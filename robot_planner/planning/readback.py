"""The readback: one line of plain words saying what a plan will do, and with which robots.

A user who hears "left arm: red block → center zone; then right arm: red block → right
bin" before anything moves can tell whether the command was understood. The words come
from the plan and the domain, never from code: what a skill does is read from its
effects in the catalogue --

* a skill that adds ``holder(?robot, ?x)`` (the domain's ``locations.holder``) takes ?x;
* a skill that adds a fact over two of its arguments ``p(?x, ?y)`` (and, when the domain
  has a holder, lets go of ?x) moves ?x to ?y;
* a skill that adds ``locations.robot(?robot, ?p)`` drives the robot to ?p.

A take followed by a move of the same thing by the same robot reads as one step
("red block → left bin"). Steps that can run together are joined by ", ", dependency
stages by "; then ". Any other skill reads as its name and arguments ("left arm: move
home", "left arm: wait 2 seconds").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from robot_planner.plan.model import Task, TaskPlan
from robot_planner.world.catalogue import Catalogue, SkillSpec
from robot_planner.world.facts import Fact, Pattern
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

#: A readback longer than this is cut with "…" (it is one line in a status event, a
#: terminal and a spoken confirmation).
MAX_READBACK_CHARS = 300
ARROW = "→"
ELLIPSIS = "…"


def words(name: object) -> str:
    """A name as words ("left_arm" -> "left arm"): how the scene's names read aloud."""
    return " ".join(str(name).replace("_", " ").split())


# --- what a skill does, from its effects -----------------------------------------------


@dataclass(frozen=True)
class SkillMeaning:
    """The arguments a skill's effects give a role: what it takes, what it moves where,
    or where it drives the robot. Empty fields: the skill does none of that."""

    takes: str | None = None
    moves: tuple[str, str] | None = None
    goes_to: str | None = None


def skill_meaning(spec: SkillSpec, scene: Scene) -> SkillMeaning:
    """Read a skill's role off its effect templates (see the module docstring)."""
    locations = scene.domain.locations
    names = set(spec.args)
    added = [Pattern.parse(t) for effect in spec.effects for t in effect.add]
    deleted = [Pattern.parse(t) for effect in spec.effects for t in effect.delete]

    def arg(term: str) -> str | None:
        return term[1:] if term.startswith("?") and term[1:] in names else None

    takes = goes_to = None
    moves: tuple[str, str] | None = None
    for pattern in added:
        if len(pattern.args) != 2:
            continue
        first, second = pattern.args
        if pattern.predicate == locations.holder and first == "?robot" and arg(second):
            takes = arg(second)
        elif pattern.predicate == locations.robot and first == "?robot" and arg(second):
            goes_to = arg(second)
        elif moves is None and arg(first) and arg(second) and first != second:
            released = locations.holder is None or any(
                d.predicate == locations.holder and d.args == ("?robot", first) for d in deleted
            )
            if released:
                moves = (arg(first) or "", arg(second) or "")
    return SkillMeaning(takes=takes, moves=moves, goes_to=goes_to)


# --- steps: tasks grouped into what a person would call one action ---------------------


@dataclass
class _Step:
    robot: str
    text: str
    tasks: list[Task] = field(default_factory=list)
    #: "robot: text" (manipulation) or "robot text" (the robot itself moves).
    robot_moves: bool = False


def _other_words(task: Task) -> str:
    """A skill as its name and arguments: "move home", "wait 2 seconds"."""
    parts = [words(task.skill)]
    for name, value in task.args.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            parts.append(words(value))
        else:
            parts.append(f"{value:g} {words(name)}")
    return " ".join(parts)


def _ancestors(plan: TaskPlan) -> dict[str, set[str]]:
    """Every task's transitive dependencies (cycles, impossible in a validated plan, are
    cut rather than followed)."""
    deps = {t.id: list(t.depends_on) for t in plan.tasks}
    memo: dict[str, set[str]] = {}

    def visit(task_id: str, seen: frozenset[str]) -> set[str]:
        if task_id in memo:
            return memo[task_id]
        out: set[str] = set()
        for dep in deps.get(task_id, ()):
            if dep in seen or dep not in deps:
                continue
            out.add(dep)
            out |= visit(dep, seen | {dep})
        memo[task_id] = out
        return out

    return {t.id: visit(t.id, frozenset({t.id})) for t in plan.tasks}


def _steps(plan: TaskPlan, scene: Scene, catalogue: Catalogue) -> list[_Step]:
    meanings: dict[str, SkillMeaning] = {}
    for task in plan.tasks:
        spec = catalogue.skills.get(task.skill)
        if task.skill not in meanings:
            meanings[task.skill] = skill_meaning(spec, scene) if spec else SkillMeaning()
    ancestors = _ancestors(plan)
    paired: dict[str, str] = {}  # take task id -> the move that completes it
    for take in plan.tasks:
        held_arg = meanings[take.skill].takes
        if held_arg is None:
            continue
        held = take.args.get(held_arg)
        for move in plan.tasks:
            moves = meanings[move.skill].moves
            if (
                moves is not None
                and move.id not in paired.values()
                and move.robot == take.robot
                and move.args.get(moves[0]) == held
                and take.id in ancestors[move.id]
            ):
                paired[take.id] = move.id
                break
    completing = {move: take for take, move in paired.items()}
    by_id = {t.id: t for t in plan.tasks}
    steps: list[_Step] = []
    for task in plan.tasks:
        if task.id in completing:
            continue
        meaning = meanings[task.skill]
        if task.id in paired:
            move = by_id[paired[task.id]]
            what, where = meanings[move.skill].moves or ("", "")
            text = f"{words(move.args.get(what))} {ARROW} {words(move.args.get(where))}"
            steps.append(_Step(task.robot, text, [task, move]))
        elif meaning.moves is not None:
            what, where = meaning.moves
            text = f"{words(task.args.get(what))} {ARROW} {words(task.args.get(where))}"
            steps.append(_Step(task.robot, text, [task]))
        elif meaning.goes_to is not None:
            text = f"{ARROW} {words(task.args.get(meaning.goes_to))}"
            steps.append(_Step(task.robot, text, [task], robot_moves=True))
        else:
            steps.append(_Step(task.robot, _other_words(task), [task]))
    return steps


def _stages(steps: Sequence[_Step]) -> list[list[_Step]]:
    """Steps by dependency depth: a step's stage is one after its latest prerequisite's."""
    owner = {task.id: i for i, step in enumerate(steps) for task in step.tasks}
    needs = [
        {owner[d] for task in step.tasks for d in task.depends_on if d in owner} - {i}
        for i, step in enumerate(steps)
    ]
    depth: dict[int, int] = {}

    def level(i: int, seen: frozenset[int]) -> int:
        if i not in depth:
            earlier = [level(j, seen | {j}) for j in needs[i] if j not in seen]
            depth[i] = 1 + max(earlier, default=-1)
        return depth[i]

    for i in range(len(steps)):
        level(i, frozenset({i}))
    stages: list[list[_Step]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for i, step in enumerate(steps):
        stages[depth[i]].append(step)
    return stages


def _stage_text(stage: Sequence[_Step]) -> str:
    """One stage: per robot (in plan order), its steps joined by "and"."""
    by_robot: dict[tuple[str, bool], list[str]] = {}
    for step in stage:
        by_robot.setdefault((step.robot, step.robot_moves), []).append(step.text)
    parts = []
    for (robot, robot_moves), texts in by_robot.items():
        joined = " and ".join(texts)
        parts.append(f"{words(robot)} {joined}" if robot_moves else f"{words(robot)}: {joined}")
    return ", ".join(parts)


# --- facts and the whole line ----------------------------------------------------------


def fact_words(fact: Fact, scene: Scene) -> str:
    """A fact in words from its predicate's question ("Is {0} at {1}?" -> "red parcel at
    packing station"), else ``predicate(args)`` with spaced names."""
    spec = scene.domain.predicates.get(fact.predicate)
    names = [words(a) for a in fact.args]
    question = spec.question.strip() if spec is not None else ""
    try:
        text = question.format(*names) if question else ""
    except (IndexError, KeyError, ValueError):
        text = ""
    first, _, rest = text.partition(" ")
    if text.endswith("?") and first.lower() in ("is", "are", "does", "do") and rest:
        return rest[:-1].strip()
    return f"{words(fact.predicate)}({', '.join(names)})"


def _already(plan: TaskPlan, scene: Scene, catalogue: Catalogue) -> list[str]:
    """Goal facts, in words, that no task makes: they held when the plan was made (a
    plan reaches its goal). Left out: facts the domain derives that the tasks may make
    indirectly (a tower's top block is "at" its zone through the block below)."""
    domain = scene.domain
    purely = {p for p, spec in domain.predicates.items() if spec.observed == "derived"}
    purely |= {Pattern.parse(rule.fact).predicate for rule in domain.derived if rule.unless}
    made: set[Fact] = set()
    for task in plan.tasks:
        if task.skill in catalogue.skills:
            made.update(catalogue.added_facts(task.skill, task.robot, task.args, scene))

    def indirect(fact: Fact) -> bool:
        for rule in domain.derived:
            binding = Pattern.parse(rule.fact).match(fact, {}) if rule.if_ else None
            if binding is not None and any(
                Pattern.parse(part).match(m, binding) is not None
                for part in rule.if_
                for m in made
            ):
                return True
        return False

    out = []
    for text in plan.goal:
        try:
            fact = Fact.parse(text)
        except ValueError:
            continue
        if fact not in made and fact.predicate not in purely and not indirect(fact):
            out.append(fact_words(fact, scene))
    return out


def _one_line(text: str, limit: int) -> str:
    """Whitespace runs to one space, control characters dropped, cut with "…"."""
    flat = "".join(c for c in " ".join(text.split()) if c.isprintable())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;") + ELLIPSIS


def readback(
    plan: TaskPlan,
    scene: Scene,
    catalogue: Catalogue | None = None,
    limit: int = MAX_READBACK_CHARS,
) -> str:
    """One line saying what `plan` will do, so a person can check it before robots move.

    Args:
        plan: a validated plan (tasks over the scene's robots and names).
        scene: the scene, whose domain says what the skills do and how facts read.
        catalogue: the skills (the scene's domain's when None).
        limit: longest line; a longer one is cut and ends with "…".
    """
    catalogue = catalogue if catalogue is not None else scene.domain.catalogue
    if not plan.tasks:
        goal: list[str] = []
        for text in plan.goal:
            try:
                goal.append(fact_words(Fact.parse(text), scene))
            except ValueError:
                goal.append(str(text))
        why = f"goal already holds: {', '.join(goal)}" if goal else "no goal"
        return _one_line(f"nothing to do ({why})", limit)
    stages = _stages(_steps(plan, scene, catalogue))
    text = "; then ".join(_stage_text(stage) for stage in stages if stage)
    already = _already(plan, scene, catalogue)
    if already:
        # "robot two, wait 5 seconds, then go to the dock" with the base at the dock: the
        # second step was understood, and needs no task; say so rather than drop it.
        text += f" (already so: {', '.join(already)})"
    line = _one_line(text, limit)
    log.debug("readback: %s", line)
    return line
