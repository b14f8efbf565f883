"""The sim-skill registry: catalogue skill name -> the PyBullet implementation.

Each implementation registers itself with `sim_skill`, declaring next to its signature
the catalogue arguments it takes and the robot kinds it runs on (as BehaviorTree.CPP
nodes declare ``providedPorts()`` beside ``registerNodeType``)::

    @sim_skill("place", args=("object", "target"), robot_kinds=("arm",))
    def place(motion: MotionPlanner, object: str, target: str) -> list[Phase]: ...

The declaration is checked against the function's parameters when the module is
imported, and a task's arguments against the declaration before any motion, so a
mismatch is a clear error instead of a ``KeyError`` halfway through a skill. A catalogue
argument named by a Python keyword is the parameter with a trailing underscore (PEP 8's
way): ``args=("object", "from")`` is ``def fetch(motion, object, from_)``.
``test/test_registries.py`` checks the registry against the catalogue, both ways.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from robot_planner.adapters.base import AdapterError
from robot_planner.untrusted import shown

if TYPE_CHECKING:
    from robot_planner.sim.driving import DrivePlanner
    from robot_planner.sim.skills.motion import MotionPlanner, Phase

SkillBuilder = TypeVar("SkillBuilder", bound=Callable[..., "list[Phase]"])


@dataclass(frozen=True)
class SimSkill:
    """A registered sim skill.

    Attributes:
        name: the catalogue skill it implements.
        args: the catalogue argument names it takes, in declaration order.
        robot_kinds: the robot kinds (domain ``robot_kinds``) it runs on.
        build: ``build(motion, **args) -> phases``; `motion` is the robot's planner (a
            `MotionPlanner` for an arm, a `DrivePlanner` for a mobile base, a
            `MobilePlanner` for a mobile manipulator).
        params: `build`'s parameter for each of `args`, in the same order (the same
            name, or with a trailing underscore for a Python keyword: ``from_``).
    """

    name: str
    args: tuple[str, ...]
    robot_kinds: tuple[str, ...]
    build: Callable[..., list[Phase]]
    params: tuple[str, ...] = ()

    def check_args(self, args: Mapping[str, Any]) -> None:
        """Raise `AdapterError` naming missing and unexpected arguments, if any."""
        missing = [a for a in self.args if a not in args]
        unexpected = sorted(str(a) for a in args if a not in self.args)
        if not missing and not unexpected:
            return
        takes = f"({', '.join(self.args)})" if self.args else "no arguments"
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected {shown(', '.join(unexpected))}")
        raise AdapterError(f"skill {self.name} takes {takes}: {'; '.join(problems)}")

    def phases(self, motion: MotionPlanner | DrivePlanner, args: Mapping[str, Any]) -> list[Phase]:
        """The phases of this skill for `motion`'s robot, after checking `args`."""
        self.check_args(args)
        params = self.params or self.args
        return self.build(motion, **{p: args[a] for a, p in zip(self.args, params, strict=True)})


#: Every registered sim skill by catalogue name.
SIM_SKILLS: dict[str, SimSkill] = {}


def sim_skill(
    name: str, *, args: tuple[str, ...] = (), robot_kinds: tuple[str, ...] = ("arm",)
) -> Callable[[SkillBuilder], SkillBuilder]:
    """Register the decorated ``build(motion, **args) -> list[Phase]`` as skill `name`.

    Raises `TypeError` at import when the function's parameters after the motion planner
    are not exactly `args` (passable by keyword; ``from_`` for ``from``), and `ValueError`
    when `name` is registered twice.
    """

    def register(build: SkillBuilder) -> SkillBuilder:
        params = list(inspect.signature(build).parameters.values())[1:]
        by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        takes = tuple(catalogue_name(p.name) for p in params)
        if takes != tuple(args) or any(p.kind not in by_keyword for p in params):
            raise TypeError(
                f"sim skill {name}: declares args ({', '.join(args)}) but "
                f"{build.__module__}.{build.__qualname__} takes ({', '.join(takes)}) after "
                "the motion planner, as keyword parameters"
            )
        existing = SIM_SKILLS.get(name)
        if existing is not None:
            raise ValueError(
                f"sim skill {name} is registered twice ({existing.build.__module__} and "
                f"{build.__module__})"
            )
        SIM_SKILLS[name] = SimSkill(
            name, tuple(args), tuple(robot_kinds), build, tuple(p.name for p in params)
        )
        return build

    return register


def catalogue_name(parameter: str) -> str:
    """The catalogue argument a builder's parameter stands for: itself, or the Python
    keyword it spells with a trailing underscore (``from_`` -> ``from``)."""
    stem = parameter[:-1]
    return stem if parameter.endswith("_") and keyword.iskeyword(stem) else parameter


def get(name: str) -> SimSkill:
    """The sim skill `name`; `AdapterError` naming the known skills otherwise."""
    skill = SIM_SKILLS.get(name)
    if skill is None:
        raise AdapterError(f"unknown skill '{shown(name)}' (known: {', '.join(SIM_SKILLS)})")
    return skill
