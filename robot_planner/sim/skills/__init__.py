"""PyBullet implementations of the catalogue skills, registered by catalogue name.

`motion` holds the machinery every skill is built from (`MotionPlanner`, `Phase`,
`SkillRun`, `SharedWorkspace`); `registry` holds `SIM_SKILLS`. Every other module of
this package is imported here and registers its skills with ``@sim_skill(...)``, so a
new skill is one module here plus its catalogue entry (and hardware binding);
``test/test_registries.py`` fails until all three agree.
"""

from __future__ import annotations

import importlib
import pkgutil

from robot_planner.sim.skills.motion import (
    APPROACH_SPEED,
    FINGER_ROOM,
    GRASP_FORCE,
    IK_EVERY,
    REACH_TOLERANCE,
    RELEASE_CLEARANCE,
    SAFE_HEIGHT,
    TRAVEL_SPEED,
    MotionPlanner,
    Phase,
    SharedWorkspace,
    SkillFailure,
    SkillRun,
    lift_phase,
    yaw_of,
)
from robot_planner.sim.skills.pick_place import CARRY_PHASE, placement_point, stack_from
from robot_planner.sim.skills.registry import SIM_SKILLS, SimSkill, get, sim_skill

_INFRASTRUCTURE = {"motion", "registry"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _INFRASTRUCTURE:
        importlib.import_module(f"{__name__}.{_module.name}")

# Names importers of the old single module use: test_stack_drop (_stack_from). A gripper's
# full opening is its model's `SimArm.open_width`, not a constant here.
_stack_from = stack_from
_yaw_of = yaw_of

__all__ = [
    "APPROACH_SPEED",
    "CARRY_PHASE",
    "FINGER_ROOM",
    "GRASP_FORCE",
    "IK_EVERY",
    "REACH_TOLERANCE",
    "RELEASE_CLEARANCE",
    "SAFE_HEIGHT",
    "SIM_SKILLS",
    "TRAVEL_SPEED",
    "MotionPlanner",
    "Phase",
    "SharedWorkspace",
    "SimSkill",
    "SkillFailure",
    "SkillRun",
    "get",
    "lift_phase",
    "placement_point",
    "sim_skill",
    "stack_from",
    "yaw_of",
]
