"""``navigate``: drive a mobile base to a place and park in a free bay of it.

The path, the traffic rule between bases and the steering are `robot_planner.sim.driving`'s;
this module only ties the catalogue skill to them. A mobile manipulator (a kind whose
parent kind is ``base``) drives with its base's planner (`MobilePlanner.navigate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robot_planner.sim.skills.registry import sim_skill

if TYPE_CHECKING:
    from robot_planner.sim.adapter import MobilePlanner
    from robot_planner.sim.driving import DrivePlanner
    from robot_planner.sim.skills.motion import Phase


@sim_skill("navigate", args=("place",), robot_kinds=("base",))
def navigate(motion: DrivePlanner | MobilePlanner, place: str) -> list[Phase]:
    """Claim a free bay, wait for a clear path, drive, align, check the arrival."""
    return motion.navigate(place)
