"""``open_gripper`` and ``close_gripper``: drive the fingers and give them time to get there."""

from __future__ import annotations

from robot_planner.sim.skills.motion import GRASP_FORCE, MotionPlanner, Phase
from robot_planner.sim.skills.registry import sim_skill

#: Time the fingers get to travel their full width (s).
GRIPPER_SECONDS = 0.4


@sim_skill("open_gripper", robot_kinds=("arm",))
def open_gripper(motion: MotionPlanner) -> list[Phase]:
    """Open fully; a held block drops where it is."""
    return [motion.gripper("open", motion.arm.open_width, GRASP_FORCE, GRIPPER_SECONDS)]


@sim_skill("close_gripper", robot_kinds=("arm",))
def close_gripper(motion: MotionPlanner) -> list[Phase]:
    """Close fully (on a block, the fingers stop on its faces)."""
    return [motion.gripper("close", 0.0, GRASP_FORCE, GRIPPER_SECONDS)]
