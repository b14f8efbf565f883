"""The Panda moved to `robot_planner.sim.models.panda` (robot models are registered by
name now); its names stay importable from here for older importers."""

from robot_planner.sim.models.panda import (
    ARM_FORCES,
    ARM_JOINTS,
    FINGER_JOINTS,
    HOME,
    IK_DAMPING,
    MAX_REACH,
    OPEN_WIDTH,
    SHOULDER_HEIGHT,
    TOOL_LINK,
    PandaArm,
)

__all__ = [
    "ARM_FORCES",
    "ARM_JOINTS",
    "FINGER_JOINTS",
    "HOME",
    "IK_DAMPING",
    "MAX_REACH",
    "OPEN_WIDTH",
    "SHOULDER_HEIGHT",
    "TOOL_LINK",
    "PandaArm",
]
