"""``move_home``: back to the arm model's home configuration, in joint space."""

from __future__ import annotations

from robot_planner.sim.skills.motion import MotionPlanner, Phase
from robot_planner.sim.skills.registry import sim_skill


@sim_skill("move_home", robot_kinds=("arm",))
def move_home(motion: MotionPlanner) -> list[Phase]:
    """One smooth joint-space move to `motion.arm.home`, wherever the arm is."""
    return [motion.move_joints("home", motion.arm.home)]
