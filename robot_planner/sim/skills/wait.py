"""``wait``: hold still for a number of simulated seconds."""

from __future__ import annotations

from robot_planner.sim.skills.motion import MotionPlanner, Phase
from robot_planner.sim.skills.registry import sim_skill


@sim_skill("wait", args=("seconds",), robot_kinds=("arm",))
def wait(motion: MotionPlanner, seconds: float) -> list[Phase]:
    """Wait `seconds` (a number; plans from JSON may give an integer)."""
    return [motion.wait(float(seconds))]
