"""``wait``: hold still for a number of simulated seconds (arms and mobile bases)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robot_planner.sim.skills.motion import MotionPlanner, Phase
from robot_planner.sim.skills.registry import sim_skill

if TYPE_CHECKING:
    from robot_planner.sim.driving import DrivePlanner


@sim_skill("wait", args=("seconds",), robot_kinds=("arm", "base"))
def wait(motion: MotionPlanner | DrivePlanner, seconds: float) -> list[Phase]:
    """Wait `seconds` (a number; plans from JSON may give an integer)."""
    return [motion.wait(float(seconds))]
