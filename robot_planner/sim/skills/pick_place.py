"""``pick`` and ``place``: grasp an object from above, carry it, put it on/in a target.

A target is an object (stack on it), a container (into it), a place's surface (a zone of
the table, a station's table) or a robot (onto its tray: a mobile base parked at the
arm's station). Both approach from the safe height, take the shared-workspace lock
before moving over a place another arm reaches, and (with the grasp check on) fail at
once when the object leaves the fingers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from robot_planner.sim.skills.motion import (
    APPROACH_SPEED,
    GRASP_FORCE,
    RELEASE_CLEARANCE,
    TRAVEL_SPEED,
    MotionPlanner,
    Phase,
    SkillFailure,
    lift_phase,
    yaw_of,
)
from robot_planner.sim.skills.registry import sim_skill
from robot_planner.sim.truth import ground_truth
from robot_planner.world.facts import Fact

if TYPE_CHECKING:
    from robot_planner.sim.models.registry import SimArm
    from robot_planner.sim.world import SimWorld

#: The phase of a place in which the block is carried (disturbances drop it there).
CARRY_PHASE = "carry"


@sim_skill("pick", args=("object",), robot_kinds=("arm",))
def pick(motion: MotionPlanner, object: str) -> list[Phase]:
    """Open, move above the block, descend, grasp, check the grasp, lift, retreat."""
    m, block, arm = motion, object, motion.arm

    def reachable() -> None:
        pos, _ = m.world.block_pose(block)
        if not arm.can_reach(pos):
            raise SkillFailure(f"IK unreachable: {block} is out of {arm.name}'s reach")

    guard = m.slip_guard(block)
    return [
        m.check("check reach", reachable),
        m.gripper("open", arm.open_width, GRASP_FORCE, 0.25),
        lift_phase(m),
        m.acquire(lambda: m.world.block_pose(block)[0][:2]),
        m.move_line("above object", m.block_goal(block, z_offset=math.inf), TRAVEL_SPEED),
        m.move_line("descend", m.block_goal(block), APPROACH_SPEED),
        m.gripper("grasp", 0.0, GRASP_FORCE, 0.45),
        m.check("check grasp", m.require_grasp(block)),
        lift_phase(m, guard),
        *m.retreat_and_release(guard),
    ]


@sim_skill("place", args=("object", "target"), robot_kinds=("arm",))
def place(motion: MotionPlanner, object: str, target: str) -> list[Phase]:
    """Carry the held block above `target`, lower it, release it, retreat, verify."""
    m, block, arm = motion, object, motion.arm
    release: dict[str, np.ndarray] = {}
    guard = m.slip_guard(block)

    def check_holding() -> None:
        if m.grasp_check and not m.holding(block):
            raise SkillFailure(f"object slipped: {arm.name} is not holding {block}")

    def over_target() -> tuple[np.ndarray, float]:
        point = placement_point(m.world, block, target)
        release["point"] = point
        yaw = release_yaw(m.world, block, target)
        release["yaw"] = yaw_of(arm.tool_pose()[1]) if yaw is None else yaw
        release["tool"] = point - in_hand_offset(m.world, arm, block, release["yaw"])
        if not arm.can_reach(release["tool"]):
            raise SkillFailure(f"IK unreachable: {target} is out of {arm.name}'s reach")
        return np.array([*release["tool"][:2], m.safe_z]), release["yaw"]

    def down() -> tuple[np.ndarray, float]:
        # Measured again now that the carry is over: a block can shift in the fingers
        # while it is carried.
        offset = in_hand_offset(m.world, arm, block, release["yaw"])
        release["tool"] = release["point"] - offset
        return release["tool"], release["yaw"]

    def placed() -> None:
        if m.grasp_check and placed_fact(m.world, block, target) not in ground_truth(m.world):
            raise SkillFailure(f"placement failed: {block} did not stay on/in {target}")

    def target_xy() -> np.ndarray:
        # Asked every step while the arm waits for a shared place: the spot is chosen
        # once here (and again, from the scene as it is then, when the carry starts).
        if target in m.world.blocks:
            return m.world.block_pose(target)[0][:2]
        if "xy" not in release:
            release["xy"] = placement_point(m.world, block, target)[:2]
        return release["xy"]

    def lowering_failed() -> None:
        # Another try picks another spot: a re-plan must not repeat this one.
        if "point" in release and target not in m.world.blocks:
            m.world.failed_releases.setdefault(target, []).append(release["point"][:2])

    lower = m.move_line("lower", down, APPROACH_SPEED, guard)
    lower.on_failure = lowering_failed
    return [
        m.check("check holding", check_holding),
        lift_phase(m, guard),
        m.acquire(target_xy),
        m.move_line(CARRY_PHASE, over_target, TRAVEL_SPEED, guard),
        lower,
        m.gripper("release", arm.open_width, GRASP_FORCE, 0.3),
        lift_phase(m),
        *m.retreat_and_release(),
        m.wait(0.1),
        m.check("verify", placed),
    ]


def in_hand_offset(world: SimWorld, arm: SimArm, block: str, yaw: float) -> np.ndarray:
    """Where the held `block`'s centre sits from the tool point (x, y; z is 0) once the
    tool is turned to `yaw`. A grasp need not be centred (a block lying against another
    shifts as the fingers close; a gripper's fingers may not be coupled), so the place
    skill moves the tool so that the block, not the tool point, lands on the chosen
    spot: 1 cm off, a block meant for a bin corner put a finger on the wall."""
    if world.holder_of(block) is not arm:
        return np.zeros(3)  # not in this hand (the grasp check is off): nothing to offset
    tool, quaternion = arm.tool_pose()
    offset = world.block_pose(block)[0][:2] - tool[:2]
    turn = yaw - yaw_of(quaternion)
    c, s = math.cos(turn), math.sin(turn)
    return np.array([c * offset[0] - s * offset[1], s * offset[0] + c * offset[1], 0.0])


def placed_fact(world: SimWorld, block: str, target: str) -> Fact:
    """The fact a successful ``place(block, target)`` makes true (its self-check): the
    domain's put fact for the target's type (``locations.put``: on a block, in a bin, at
    a zone, on a base's tray)."""
    scene = world.scene
    fact = scene.domain.put_fact(block, target, scene.kind_of(target) or "")
    if fact is None:
        raise SkillFailure(f"placement failed: the domain does not say how to put on {target}")
    return fact


def stack_from(world: SimWorld, top: str) -> list[str]:
    """`top` and the blocks it stands on, downwards (each resting on the next, its centre
    within 0.7 edges horizontally and about one edge higher)."""
    chain = [top]
    while True:
        upper = chain[-1]
        pos, _ = world.block_pose(upper)
        below = None
        for other in world.blocks:
            if other in chain:
                continue
            other_pos, _ = world.block_pose(other)
            edge = (world.block_size[upper] + world.block_size[other]) / 2
            rise = pos[2] - other_pos[2]
            aside = float(np.linalg.norm(pos[:2] - other_pos[:2]))
            if 0.6 * edge <= rise <= 1.4 * edge and aside <= 0.7 * edge:
                below = other
                break
        if below is None:
            return chain
        chain.append(below)


def placement_point(world: SimWorld, block: str, target: str) -> np.ndarray:
    """Where the centre of `block` should be released for `place(block, target)`.

    On a block: on its top, over the mean of its centre and the centres of the blocks
    beneath it, so a tower whose middle block sits off-centre gets its weight back over
    the base instead of toppling. In a bin or zone: the free spot farthest from the
    blocks already there (the centre when it is free), so placed blocks do not collide.
    """
    size = world.block_size[block]
    clearance = RELEASE_CLEARANCE + size / 2
    if target in world.blocks:
        pos, _ = world.block_pose(target)
        axis = np.mean([world.block_pose(b)[0][:2] for b in stack_from(world, target)], axis=0)
        return np.array([axis[0], axis[1], pos[2] + world.block_size[target] / 2 + clearance])
    if target in world.bases:
        return _tray_point(world, block, target)
    return _area_point(world, block, target)


#: How far (m) a finger reaches out beside a held object's faces, along the axis the
#: fingers close on (pad thickness and a margin): a bin wall or another object closer
#: than this stops the hand before the object is down ("touching left_bin").
FINGER_REACH = 0.02
#: Room (m) kept between the fingers or the object and walls and other objects.
PLACE_MARGIN = 0.005


def release_yaw(world: SimWorld, block: str, target: str) -> float | None:
    """The tool yaw to release `block` at: in a bin, the holding arm's yaw turned to the
    nearest quarter turn of the bin's sides (at most 45 degrees), so blocks stand square
    in rows and the fingers close along a side; elsewhere the yaw it has (None)."""
    holder = world.holder_of(block)
    if holder is None or target not in world.containers:
        return None
    yaw = yaw_of(holder.tool_pose()[1])
    return round(yaw / (math.pi / 2)) * (math.pi / 2)


def _area_point(world: SimWorld, block: str, target: str) -> np.ndarray:
    """A free spot in a bin or zone for the held `block`: the block and its fingers
    (along the axis they close on) clear of walls and of the objects already there by
    `PLACE_MARGIN`, in the holding arm's reach, not where a release already failed.
    In a bin, the spot farthest from the centre (corners first: a bin packs in rows);
    in a zone (a hand-over place), the one with the most room, then nearest the
    centre."""
    spec = world.scene.places[target]
    center, half = np.asarray(spec.center, dtype=float), np.asarray(spec.size) / 2
    floor = world.surface(target) + world.floor_thickness(target)
    size = world.block_size[block]
    holder = world.holder_of(block)
    yaw = release_yaw(world, block, target)
    if yaw is None:
        yaw = yaw_of(holder.tool_pose()[1]) if holder is not None else math.pi / 2
    axis = np.array([-math.sin(yaw), math.cos(yaw)])  # the fingers close along this
    across = np.array([axis[1], -axis[0]])
    reach = size / 2 + FINGER_REACH
    walled = target in world.containers
    # Half the footprint of block and fingers along x and y.
    extent = np.abs(axis) * reach + np.abs(across) * size / 2
    room = half - extent - PLACE_MARGIN if walled else half - size / 2
    if np.any(room < 0):
        raise SkillFailure(f"no room for {block} in {target}: it is smaller than the hand")
    step = size / 5
    xs = np.linspace(-room[0], room[0], max(2, int(2 * room[0] / step) + 1))
    ys = np.linspace(-room[1], room[1], max(2, int(2 * room[1] / step) + 1))
    points = center + np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    ok = np.ones(len(points), dtype=bool)
    room_left = np.full(len(points), 1.5 * size)
    for other in world.blocks:
        if other == block:
            continue
        pos, _ = world.block_pose(other)
        if pos[2] > floor + RELEASE_CLEARANCE + 2 * size:
            continue  # held high above (a carried block), not in the way
        r = world.block_size[other] / 2
        gap = np.linalg.norm(points - pos[:2], axis=1)
        ok &= gap >= size / 2 + r + 2 * PLACE_MARGIN
        for sign in (1.0, -1.0):
            pad = points + sign * reach * axis
            ok &= np.linalg.norm(pad - pos[:2], axis=1) >= r + PLACE_MARGIN
        room_left = np.minimum(room_left, gap)
    for failed in world.failed_releases.get(target, []):
        ok &= np.linalg.norm(points - failed, axis=1) >= size / 2
    z = floor + RELEASE_CLEARANCE + size / 2
    if holder is not None:
        ok &= np.array([holder.can_reach([x, y, z]) for x, y in points])
    if not ok.any():
        raise SkillFailure(f"no room for {block} in {target}: it is full or out of reach")
    off_centre = np.linalg.norm(points - center, axis=1)
    score = off_centre if walled else room_left - 0.1 * off_centre
    best = points[int(np.argmax(np.where(ok, score, -np.inf)))]
    return np.array([best[0], best[1], z])


#: Room (m) kept between an object put on a tray and the tray's rim: the open fingers
#: reach 1-2 cm past the object's faces and must not land on the rim.
TRAY_MARGIN = 0.03


def _tray_point(world: SimWorld, block: str, base: str) -> np.ndarray:
    """Where to release `block` on `base`'s tray: a free spot (1.5 edges from the objects
    already on it) as near as possible to the arm holding the block, in the tray's frame
    as it stands now. Near, because a tray is long for an arm reaching across it: the
    far corner of a Husky's tray is beyond an xArm6 at its station, and the arm at the
    other end of the trip stands on the same side of its bay (see the scene)."""
    import pybullet as p

    size = world.block_size[block]
    center, orientation = world.bases[base].tray_pose()
    rotation = np.array(p.getMatrixFromQuaternion(list(orientation))).reshape(3, 3)
    half = np.asarray(world.bases[base].tray_size) / 2 - size / 2 - TRAY_MARGIN
    others = [world.block_pose(b)[0] for b in world.blocks if b != block]
    local_others = [(rotation.T @ (o - center))[:2] for o in others]
    body = world.blocks[block]
    holders = [arm for arm in world.arms.values() if all(arm.finger_contacts(body))]
    near = (rotation.T @ (holders[0].base_position - center))[:2] if holders else np.zeros(2)
    best, best_score = np.zeros(2), -np.inf
    for x in np.linspace(-half[0], half[0], 7):
        for y in np.linspace(-half[1], half[1], 5):
            point = np.array([x, y])
            nearest = min((float(np.linalg.norm(point - o)) for o in local_others), default=1.0)
            score = min(nearest, 1.5 * size) - 0.1 * float(np.linalg.norm(point - near))
            if score > best_score:
                best, best_score = point, score
    point = center + rotation @ np.array([best[0], best[1], 0.0])
    return np.array([point[0], point[1], center[2] + RELEASE_CLEARANCE + size / 2])
