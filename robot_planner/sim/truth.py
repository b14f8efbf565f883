"""Ground-truth facts computed from simulator poses and contacts.

This is what "the goal holds" means in simulation, and the oracle the monitor's
perception is scored against. No predicate is named here: each fact comes from the
domain -- a held object is the ``locations.holder`` fact, an object resting on/in/at a
thing is the ``locations.put`` fact for that thing's type, a parked base is the
``locations.robot`` fact, and the one-argument facts are found by the ``geometry:``
relation their predicate declares (``gripper_free``, ``on_surface``). Tolerances
(metres unless stated; `s` = the object's edge):

* held (tabletop ``holding(R,X)``): both of R's fingers touch X. A free gripper: R holds
  nothing.
* on an object (``on(X,Y)``): X touches Y, X's centre is 0.6 s to 1.4 s above Y's, and
  within 0.7 s of Y's centre horizontally; X is not held.
* in a container (``in(X,B)``): X's centre lies inside B's inner rectangle (+1 cm) and
  below the rim plus 1.5 s; X is not held.
* on a base's tray (``on_tray(X,T)``): X's centre lies over the tray (+1 cm) and at most
  1.5 s above its surface; X is not held.
* at a place (``at(X,Z)``): X's centre lies inside Z's rectangle, X is below 0.3 above
  Z's surface (a station's table, the table top, the floor), not held, not in a
  container and not on a tray (a block in a tower is at its tower's zone).
* on the work surface (``on_table(X)``): X's bottom is within 1 cm of the table top, X is
  tilted less than 20°, not held and not in a container.
* a base at a place (``robot_at(B,P)``): B stands within 10 cm and 10° of one of P's
  bays, or its centre is inside the rectangle of a floor area with bays (the dock).
* derived facts (``clear``, ``bay_free``) come from the domain's rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pybullet as p

from robot_planner.sim.world import BIN_WALL_HEIGHT, SimWorld
from robot_planner.world.facts import Fact

ON_HEIGHT = (0.6, 1.4)
ON_OFFSET = 0.7
BIN_MARGIN = 0.01
TRAY_MARGIN = 0.01
TABLE_GAP = 0.01
MAX_TILT = math.radians(20)
AT_MAX_HEIGHT = 0.3
#: A base is parked in a bay when its centre is this close (m) and its heading this
#: close (rad); ``navigate`` stops within tighter tolerances.
BAY_TOLERANCE = 0.10
BAY_YAW_TOLERANCE = math.radians(10)


def _inside(
    xy: np.ndarray, center: tuple[float, float], size: tuple[float, float], margin: float = 0.0
) -> bool:
    return (
        abs(xy[0] - center[0]) <= size[0] / 2 + margin
        and abs(xy[1] - center[1]) <= size[1] / 2 + margin
    )


def _relation(world: SimWorld, relation: str) -> str | None:
    """The domain's predicate a geometric relation decides, if it has one."""
    for name, spec in world.scene.domain.predicates.items():
        if spec.geometry == relation:
            return name
    return None


def _about(facts: tuple[Fact, ...], target: str) -> list[Fact]:
    """The put facts that relate the object to `target` (``at(X,Z)``, not the
    ``on_table(X)`` that comes with a zone: that has its own geometric test)."""
    return [f for f in facts if target in f.args]


def riding(
    world: SimWorld, base_name: str, pose: Mapping[str, np.ndarray] | None = None
) -> list[str]:
    """The objects over a base's tray (+1 cm) and at most 1.5 edges above its surface,
    held or not: one test for ground truth and for disturbances that spill a tray."""
    base = world.bases[base_name]
    center, orientation = base.tray_pose()
    rotation = np.array(p.getMatrixFromQuaternion(list(orientation))).reshape(3, 3)
    if pose is None:
        pose = {name: world.block_pose(name)[0] for name in world.blocks}
    found = []
    for block, pos in pose.items():
        local = rotation.T @ (pos - center)
        if _inside(local, (0.0, 0.0), base.tray_size, TRAY_MARGIN) and (
            0.0 < local[2] <= 1.5 * world.block_size[block]
        ):
            found.append(block)
    return found


def ground_truth(world: SimWorld) -> frozenset[Fact]:
    """The facts that hold in `world` right now."""
    scene = world.scene
    domain = scene.domain
    facts: set[Fact] = set()
    pose = {name: world.block_pose(name)[0] for name in world.blocks}
    held: set[str] = set()
    holder = domain.locations.holder
    free = _relation(world, "gripper_free")
    for robot, arm in world.arms.items():
        holding = [b for b, body in world.blocks.items() if all(arm.finger_contacts(body))]
        for block in holding[:1]:
            if holder is not None:
                facts.add(Fact(holder, (robot, block)))
            held.add(block)
        if not holding and free is not None:
            facts.add(Fact(free, (robot,)))

    in_bin: set[str] = set()
    for block, pos in pose.items():
        if block in held:
            continue
        size = world.block_size[block]
        for bin_name, spec in world.containers.items():
            if _inside(pos, spec.position, spec.size, BIN_MARGIN) and (
                pos[2] < world.surface(bin_name) + BIN_WALL_HEIGHT + 1.5 * size
            ):
                facts.update(domain.put_facts(block, bin_name, spec.type))
                in_bin.add(block)
                break

    on_tray: set[str] = set()
    for base_name in world.bases:
        kind = scene.robots[base_name].kind
        for block in riding(world, base_name, pose):
            if block in held or block in in_bin:
                continue
            facts.update(domain.put_facts(block, base_name, kind))
            on_tray.add(block)

    on_surface = _relation(world, "on_surface")
    regions = {
        name: spec
        for name, spec in scene.places.items()
        if name not in world.containers and _about(domain.put_facts("x", name, spec.type), name)
    }
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
                kind = scene.kind_of(other) or ""
                facts.update(_about(domain.put_facts(block, other, kind), other))
        if block in in_bin or block in on_tray:
            continue
        bottom = pos[2] - size / 2 - world.table_top
        if (
            on_surface is not None
            and abs(bottom) <= TABLE_GAP
            and world.block_up_axis_tilt(block) < MAX_TILT
        ):
            facts.add(Fact(on_surface, (block,)))
        for zone, spec in regions.items():
            if pos[2] - world.surface(zone) < AT_MAX_HEIGHT and _inside(
                pos, spec.center, spec.size
            ):
                facts.update(_about(domain.put_facts(block, zone, spec.type), zone))
                break

    where = domain.locations.robot
    if where is not None:
        for base_name in world.bases:
            place = _parked_at(world, base_name)
            if place is not None:
                facts.add(Fact(where, (base_name, place)))
    return scene.derive(facts)


def _parked_at(world: SimWorld, base_name: str) -> str | None:
    """The place whose bay the base stands in, else the floor area with bays whose
    rectangle holds its centre (a dock), else the floor area without bays that holds it
    (the aisle: driving, or stopped half-way), else None."""
    xy, yaw = world.bases[base_name].pose()
    places = world.scene.places
    from robot_planner.sim.driving import floor_areas  # driving imports this module

    floor = {id(spec) for spec in floor_areas(world)}
    for name, spec in places.items():
        for bay in spec.bays:
            if (
                float(np.linalg.norm(xy - np.asarray(bay[:2]))) <= BAY_TOLERANCE
                and abs(math.remainder(yaw - bay[2], math.tau)) <= BAY_YAW_TOLERANCE
            ):
                return name
    for name, spec in places.items():
        if spec.bays and name not in world.stations and _inside(xy, spec.center, spec.size):
            return name
    for spec_name, spec in places.items():
        if id(spec) in floor and _inside(xy, spec.center, spec.size):
            return spec_name
    return None
