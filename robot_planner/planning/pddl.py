"""The lifted model as a unified-planning problem: PDDL export and external engines.

`up_problem` builds a `unified_planning.model.Problem` from the model that
`robot_planner.planning.lifted` compiles from a domain and a scene: user types with
parents (robot kinds under ``robot``), boolean fluents, one instantaneous action per
skill variant, universally quantified deletes for ``*``, negated existentials for facts
that must be absent (``unless`` derived facts such as a free top), and conditional
effects where a location is inherited. `export_pddl` writes it with UP's PDDLWriter, for
users' own planners and PlanSys2; `solve_with_engine` runs any UP one-shot engine on it
(Fast Downward through ``up-fast-downward`` by default) and maps the plan back onto the
model's ground actions.

unified_planning is imported lazily: it takes about a second to import, and the
in-process planner does not need it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from robot_planner.planning.lifted import ANY, Atom, LiftedModel, compile_model
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene

if TYPE_CHECKING:
    from unified_planning.model import Problem

    from robot_planner.planning.search import GroundAction, GroundTask

log = logging.getLogger(__name__)

DEFAULT_ENGINE = "fast-downward"


def _object_names(model: LiftedModel) -> dict[str, str]:
    """Scene name -> unified-planning name. UP keeps one namespace, so a place named
    like a type (a `dock` of type dock) gets a suffix."""
    taken = {*model.types, *model.fluents, *(a.name for a in model.actions)}
    out: dict[str, str] = {}
    for name in model.objects:
        up_name = name
        while up_name in taken:
            up_name += "_"
        taken.add(up_name)
        out[name] = up_name
    return out


class _Builder:
    def __init__(self, model: LiftedModel, name: str):
        from unified_planning import shortcuts as up

        self.up = up
        self.model = model
        self.problem = up.Problem(name)
        self.types: dict[str, Any] = {}
        for type_name in model.types:
            self._type(type_name)
        self.fluents: dict[str, Any] = {}
        for pred, arg_types in model.fluents.items():
            params = {f"x{i}": self.types[t] for i, t in enumerate(arg_types)}
            fluent = up.Fluent(pred, up.BoolType(), **params)
            self.fluents[pred] = fluent
            self.problem.add_fluent(fluent, default_initial_value=False)
        self.objects: dict[str, Any] = {}
        for name, up_name in _object_names(model).items():
            obj = up.Object(up_name, self.types[model.objects[name]])
            self.objects[name] = obj
            self.problem.add_object(obj)
        for schema in model.actions:
            self.problem.add_action(self._action(schema))

    def _type(self, name: str) -> Any:
        if name not in self.types:
            parent = self.model.types[name]
            father = self._type(parent) if parent is not None else None
            self.types[name] = self.up.UserType(name, father)
        return self.types[name]

    def _term(self, arg: str, scope: Mapping[str, Any]) -> Any:
        if arg.startswith("?"):
            return scope[arg[1:]]
        return self.objects[arg]

    def _fact(self, atom: Atom, scope: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        """The fluent expression, with a fresh variable for each ``*``."""
        terms = []
        variables = []
        arg_types = self.model.fluents[atom.predicate]
        for i, arg in enumerate(atom.args):
            if arg == ANY:
                var = self.up.Variable(f"any{len(variables)}", self.types[arg_types[i]])
                variables.append(var)
                terms.append(var)
            else:
                terms.append(self._term(arg, scope))
        return self.fluents[atom.predicate](*terms), variables

    def _absent(self, atom: Atom, scope: Mapping[str, Any]) -> Any:
        expr, variables = self._fact(atom, scope)
        return self.up.Not(self.up.Exists(expr, *variables) if variables else expr)

    def _action(self, schema: Any) -> Any:
        up = self.up
        action = up.InstantaneousAction(
            schema.name, **{var: self.types[t] for var, t in schema.params}
        )
        scope = {var: action.parameter(var) for var, _ in schema.params}
        for atom in schema.pre:
            action.add_precondition(self._fact(atom, scope)[0])
        for atom in schema.absent:
            action.add_precondition(self._absent(atom, scope))
        for first, second in schema.distinct:
            action.add_precondition(up.Not(up.Equals(scope[first], scope[second])))
        for atom in schema.delete:
            expr, variables = self._fact(atom, scope)
            action.add_effect(expr, False, forall=variables)
        for atom in schema.add:
            action.add_effect(self._fact(atom, scope)[0], True)
        for effect in schema.cond:
            inner = dict(scope)
            variables = []
            for var, type_name in effect.forall:
                inner[var] = up.Variable(var, self.types[type_name])
                variables.append(inner[var])
            condition = up.And(*(self._fact(a, inner)[0] for a in effect.when))
            for atom in effect.delete:
                action.add_effect(self._fact(atom, inner)[0], False, condition, variables)
            for atom in effect.add:
                action.add_effect(self._fact(atom, inner)[0], True, condition, variables)
        return action

    def set_state(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            if fact.predicate in self.fluents:
                terms = [self.objects[a] for a in fact.args]
                self.problem.set_initial_value(self.fluents[fact.predicate](*terms), True)

    def set_goal(self, positive: Iterable[Fact], absent: Iterable[Atom]) -> None:
        for fact in sorted(positive):
            terms = [self.objects[a] for a in fact.args]
            self.problem.add_goal(self.fluents[fact.predicate](*terms))
        for atom in sorted(absent, key=str):
            self.problem.add_goal(self._absent(atom, {}))


def _silence_credits() -> None:
    from unified_planning.environment import get_environment

    get_environment().credits_stream = None


def up_problem(
    model: LiftedModel, state: Iterable[Fact], goal: Iterable[Fact], name: str | None = None
) -> Problem:
    """A unified-planning problem: the model's domain, `state` (domain facts, derived
    ones recomputed) as the initial state and `goal` (domain facts) as the goal.

    Raises:
        ModelError: a goal fact the model cannot express.
    """
    positive, absent = model.goal(goal)
    return model_problem(model, model.state(state), positive, absent, name)


def model_problem(
    model: LiftedModel,
    facts: Iterable[Fact],
    positive: Iterable[Fact],
    absent: Iterable[Atom],
    name: str | None = None,
) -> Problem:
    """Like `up_problem`, from a state and goal already in the model's own facts."""
    builder = _Builder(model, name or f"{model.scene.domain.name}_{model.scene.name}")
    builder.set_state(facts)
    builder.set_goal(positive, absent)
    return builder.problem


def export_pddl(
    scene: Scene,
    catalogue: Catalogue,
    state: Iterable[Fact] | None = None,
    goal: Iterable[Fact] = (),
    model: LiftedModel | None = None,
) -> tuple[str, str]:
    """PDDL domain and problem text for a scene, its state (the scene's start when None)
    and goal facts."""
    from unified_planning.io import PDDLWriter

    model = model or compile_model(scene, catalogue)
    problem = up_problem(model, scene.initial_facts() if state is None else state, goal)
    writer = PDDLWriter(problem)
    return writer.get_domain(), writer.get_problem()


def solve_with_engine(
    task: GroundTask,
    state: int,
    goal: int,
    goal_absent: int = 0,
    engine: str = DEFAULT_ENGINE,
    banned: Iterable[int] = (),
    timeout_s: float | None = 60.0,
) -> list[GroundAction] | None:
    """A plan from a unified-planning engine, as the ground task's actions; None when
    the engine finds none, or only one that uses a `banned` action (PDDL has no way to
    forbid single ground actions without changing the domain, so bans are checked, not
    passed on)."""
    from unified_planning.engines import PlanGenerationResultStatus as Status
    from unified_planning.shortcuts import OneshotPlanner

    _silence_credits()
    model = task.model
    absent = {_atom_of(f) for f in task.decode(goal_absent)}
    problem = model_problem(model, task.decode(state), task.decode(goal), absent)
    bans = {task.actions[i].key() for i in banned}
    with OneshotPlanner(name=engine) as planner:
        result = planner.solve(problem, timeout=timeout_s)
    if result.status not in (Status.SOLVED_SATISFICING, Status.SOLVED_OPTIMALLY):
        log.info("%s: %s", engine, result.status.name)
        return None
    by_name = {s.name: s for s in model.actions}
    scene_name = {up_name: name for name, up_name in _object_names(model).items()}
    out = []
    for instance in result.plan.actions:
        schema = by_name[instance.action.name]
        values = [scene_name[str(p.object())] for p in instance.actual_parameters]
        binding = dict(zip((v for v, _ in schema.params), values, strict=True))
        action = task.lookup(schema.name, binding)
        if action is None or action.key() in bans:
            log.warning("%s returned %s, which is not an allowed action", engine, instance)
            return None
        out.append(action)
    return out


def _atom_of(fact: Fact) -> Atom:
    return Atom(fact.predicate, fact.args)
