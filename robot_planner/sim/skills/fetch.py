"""``fetch``: a mobile manipulator picks up an object lying on a floor area (a parcel
spilled into the aisle, where no station's arm reaches) and puts it on its own tray.

Phases: check that the object lies on the floor inside the ``from`` place; choose an
approach pose on the travel lane (`robot_planner.sim.driving.travel_lane`) beside the
object, heading along the lane with the object on the side the arm faces, `AHEAD` in
front of the arm's base; wait for a clear path and reserve it with the `Traffic` rule
the bases share, drive there and align (`DrivePlanner.drive_to`); check the object is
in the arm's reach; unfold the arm (to its model's ``ready`` pose, when it has one);
the phases of ``pick``; the phases of ``place`` onto the robot's own tray; stow the arm
(its ``home`` pose, as ``move_home``); release the path. The reservation is held until
the arm is stowed: while the arm reaches out beside the base no other base plans a path
past it.

Every failure is one line starting ``fetch:`` that says what and how far (the reused
pick and place phases' reasons get the prefix too), e.g. ``fetch: red_parcel lies in
the lane, 0.30 m from its centre line: fetcher cannot stand beside it``, ``fetch:
red_parcel is 0.80 m from fetcher's arm after the approach`` (it was moved meanwhile)
or ``fetch: fetcher waited 60 s: base_1 is in the way to the approach to red_parcel``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from robot_planner.sim.skills.motion import Phase, SkillFailure
from robot_planner.sim.skills.pick_place import pick, place
from robot_planner.sim.skills.registry import sim_skill

if TYPE_CHECKING:
    from robot_planner.sim.adapter import MobilePlanner
    from robot_planner.sim.models import SimArm, SimBase
    from robot_planner.sim.world import SimWorld

#: Room (m) kept between the base's footprint and the object beside the lane.
LANE_CLEARANCE = 0.03
#: An object lies on the floor when its bottom is at most this high above it (m).
ON_FLOOR = 0.02
#: Where the approach puts the object along the lane from the arm's base (m, ahead): just
#: in front of the base's front wheel. Measured with a Panda on a Husky, the parcel
#: 0.45-0.64 m from the lane's centre line (the aisle's edge) on either side, two grasp
#: yaws: abeam of the arm's base (0) its forearm came down on the front wheel at
#: 0.45-0.50 m; 0.20 m ahead, still at 0.45 m; 0.25 and 0.30 m ahead touched nothing
#: anywhere; from 0.35 m ahead the aisle's edge was out of reach.
AHEAD = 0.28


@sim_skill("fetch", args=("object", "from"), robot_kinds=("fetcher",))
def fetch(motion: MobilePlanner, object: str, from_: str) -> list[Phase]:
    """Drive beside `object` lying on the floor of `from_`, pick it up with the robot's own
    arm, put it on the robot's own tray, stow the arm."""
    drive, hand = motion.drive, motion.motion
    world, base, arm = drive.world, drive.base, hand.arm
    block, area = object, from_
    target = f"the approach to {block}"
    plan: dict[str, np.ndarray] = {}

    def lying() -> None:
        check_on_floor(world, block, area)
        plan["pose"] = approach_pose(world, base, arm, block)

    def in_reach() -> None:
        pos, _ = world.block_pose(block)
        if not arm.can_reach(pos):
            out = float(np.linalg.norm(pos[:2] - arm.base_position[:2]))
            raise SkillFailure(
                f"fetch: {block} is {out:.2f} m from {arm.name}'s arm after the approach"
            )

    def release() -> bool:
        drive.traffic.release(base.name)
        return True

    # A mounted arm's model may say where it unfolds to before it works (``ready``) and
    # through which poses it unfolds from and folds back to its ``home`` (``via``).
    ready = getattr(arm, "ready", None)
    via = tuple(getattr(arm, "via", ()))
    unfold = [*via, ready] if ready is not None else []
    fold = [*reversed(via), arm.home]
    return [
        hand.check("check object", lying),
        *drive.drive_to("fetch", target, lambda: plan["pose"]),
        hand.check("check reach", in_reach),
        *_named("fetch", [hand.move_joints("unfold", tuple(q)) for q in unfold]),
        *_named("fetch", pick(hand, object=block)),
        *_named("fetch", place(hand, object=block, target=base.name)),
        *_named("fetch", [hand.move_joints("stow", tuple(q)) for q in fold]),
        Phase("release path", update=release),
    ]


def check_on_floor(world: SimWorld, block: str, area: str) -> None:
    """Raise `SkillFailure` unless `block` lies on the floor inside the floor area `area`,
    held by no arm."""
    from robot_planner.sim.driving import floor_areas  # driving imports the skills

    floors = floor_areas(world)
    if not any(world.scene.places.get(area) is spec for spec in floors):
        raise SkillFailure(f"fetch: {area} is not a floor area (no bays, nothing built on it)")
    holder = world.holder_of(block)
    if holder is not None:
        raise SkillFailure(f"fetch: {block} is in {holder.name}'s gripper, not on the floor")
    pos, _ = world.block_pose(block)
    height = float(pos[2] - world.block_size[block] / 2 - world.surface(area))
    if height > ON_FLOOR:
        raise SkillFailure(f"fetch: {block} is not on the floor: its bottom is {height:.2f} m up")
    spec = world.scene.places[area]
    gap = np.maximum(np.abs(pos[:2] - np.asarray(spec.center)) - np.asarray(spec.size) / 2, 0.0)
    if float(np.linalg.norm(gap)) > 0.0:
        raise SkillFailure(
            f"fetch: {block} is not in {area}: it lies {float(np.linalg.norm(gap)):.2f} m "
            "outside it"
        )


def approach_pose(world: SimWorld, base: SimBase, arm: SimArm, block: str) -> np.ndarray:
    """Where the base stops to fetch `block` (x, y, yaw): on the travel lane's centre
    line, heading along the lane with the object on the side the arm faces, `AHEAD` in
    front of the arm's base (as near as the lane's ends allow). `SkillFailure` when
    the object lies in the lane (the base would drive into it) or beyond the arm's reach
    from there."""
    from robot_planner.sim.driving import travel_lane  # driving imports the skills

    lane = travel_lane(world)
    if lane is None:
        raise SkillFailure("fetch: the scene has no floor area to drive along")
    start, end = lane
    length = float(np.linalg.norm(end - start))
    direction = (end - start) / length
    pos, _ = world.block_pose(block)
    along = float(np.dot(pos[:2] - start, direction))
    beside = float(direction[0] * (pos[1] - start[1]) - direction[1] * (pos[0] - start[0]))
    clear = base.footprint[1] + world.block_size[block] / 2 + LANE_CLEARANCE
    if abs(beside) < clear:
        raise SkillFailure(
            f"fetch: {block} lies in the lane, {abs(beside):.2f} m from its centre line: "
            f"{base.name} cannot stand beside it"
        )
    # The arm's mount in the base's frame: where it stands, which side it faces.
    xy, yaw = base.pose()
    mount = _rotate(arm.base_position[:2] - xy, -yaw)
    faces = math.sin(arm.base_yaw - yaw)
    arm_side = math.copysign(1.0, faces if abs(faces) > 0.1 else (mount[1] or 1.0))
    heading_direction = direction if math.copysign(1.0, beside) == arm_side else -direction
    heading = math.atan2(heading_direction[1], heading_direction[0])
    offset = _rotate(mount, heading)  # from the base's centre to the arm's base, there
    ahead = AHEAD * float(np.dot(heading_direction, direction))  # along the lane
    s = float(np.clip(along - ahead - float(np.dot(offset, direction)), 0.0, length))
    centre = start + s * direction
    # A reach test is the same about the arm's base wherever the base stands: ask it for
    # the object moved by as much as the arm's base will have moved.
    shift = arm.base_position[:2] - (centre + offset)
    if not arm.can_reach([pos[0] + shift[0], pos[1] + shift[1], pos[2]]):
        out = float(np.linalg.norm(pos[:2] - (centre + offset)))
        raise SkillFailure(
            f"fetch: {block} lies {abs(beside):.2f} m from the lane's centre line: "
            f"{out:.2f} m from {arm.name}'s arm beside it, out of its reach"
        )
    return np.array([centre[0], centre[1], heading])


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _named(skill: str, phases: list[Phase]) -> list[Phase]:
    """`phases` whose failures start with ``skill: `` (reused pick and place phases)."""

    def prefixed(call: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            try:
                return call()
            except SkillFailure as exc:
                if str(exc).startswith(f"{skill}: "):
                    raise
                raise SkillFailure(f"{skill}: {exc}") from None

        return run

    for phase in phases:
        phase.start = prefixed(phase.start)  # type: ignore[assignment]
        phase.update = prefixed(phase.update)  # type: ignore[assignment]
        if phase.guard is not None:
            phase.guard = prefixed(phase.guard)  # type: ignore[assignment]
    return phases
