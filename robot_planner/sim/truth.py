"""Ground-truth facts computed from simulator poses and contacts.

This is what "the goal holds" means in simulation, and the oracle the monitor's
perception is scored against. Tolerances (metres unless stated; `s` = block edge):

* ``holding(R,X)``: both of R's fingers touch X.
* ``on(X,Y)``: X touches Y, X's centre is 0.6 s to 1.4 s above Y's, and within 0.7 s
  of Y's centre horizontally; X is not held.
* ``in(X,B)``: X's centre lies inside B's inner rectangle (+1 cm) and below the rim
  plus 1.5 s; X is not held.
* ``at(X,Z)``: X's centre lies inside zone Z's rectangle, X is below 0.3 above the
  table, not held and not in a bin (a block in a tower is at its tower's zone).
* ``on_table(X)``: X's bottom is within 1 cm of the table top, X is tilted less than
  20°, not held and not in a bin.
* ``gripper_empty(R)``: R holds nothing. ``clear(X)``: nothing is on X and it is not held.
"""

from __future__ import annotations

import math

import numpy as np

from robot_planner.sim.world import BIN_WALL_HEIGHT, SimWorld
from robot_planner.world.facts import Fact

ON_HEIGHT = (0.6, 1.4)
ON_OFFSET = 0.7
BIN_MARGIN = 0.01
TABLE_GAP = 0.01
MAX_TILT = math.radians(20)
AT_MAX_HEIGHT = 0.3


def _inside(
    xy: np.ndarray, center: tuple[float, float], size: tuple[float, float], margin: float = 0.0
) -> bool:
    return (
        abs(xy[0] - center[0]) <= size[0] / 2 + margin
        and abs(xy[1] - center[1]) <= size[1] / 2 + margin
    )


def ground_truth(world: SimWorld) -> frozenset[Fact]:
    """The facts that hold in `world` right now."""
    scene = world.scene
    facts: set[Fact] = set()
    pose = {name: world.block_pose(name)[0] for name in world.blocks}
    held: set[str] = set()
    for robot, arm in world.arms.items():
        holding = [b for b, body in world.blocks.items() if all(arm.finger_contacts(body))]
        for block in holding[:1]:
            facts.add(Fact("holding", (robot, block)))
            held.add(block)
        if not holding:
            facts.add(Fact("gripper_empty", (robot,)))

    in_bin: set[str] = set()
    for block, pos in pose.items():
        if block in held:
            continue
        size = world.block_size[block]
        for bin_name, spec in scene.places_of("bin").items():
            if _inside(pos, spec.position, spec.size, BIN_MARGIN) and (
                pos[2] < world.table_top + BIN_WALL_HEIGHT + 1.5 * size
            ):
                facts.add(Fact("in", (block, bin_name)))
                in_bin.add(block)
                break

    for block, pos in pose.items():
        if block in held:
            continue
        size = world.block_size[block]
        for other, other_pos in pose.items():
            if other == block or other in held:
                continue
            rise = pos[2] - other_pos[2]
            offset = float(np.linalg.norm(pos[:2] - other_pos[:2]))
            if (
                ON_HEIGHT[0] * size <= rise <= ON_HEIGHT[1] * size
                and offset <= ON_OFFSET * world.block_size[other]
                and world.touching(world.blocks[block], world.blocks[other])
            ):
                facts.add(Fact("on", (block, other)))
        if block in in_bin:
            continue
        bottom = pos[2] - size / 2 - world.table_top
        if abs(bottom) <= TABLE_GAP and world.block_up_axis_tilt(block) < MAX_TILT:
            facts.add(Fact("on_table", (block,)))
        if pos[2] - world.table_top < AT_MAX_HEIGHT:
            for zone, spec in scene.places_of("zone").items():
                if _inside(pos, spec.center, spec.size):
                    facts.add(Fact("at", (block, zone)))
                    break
    return scene.derive(facts)
