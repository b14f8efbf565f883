"""The motion machinery the sim skills are built from: phases stepped with the physics.

A `SkillRun` is a list of phases (move the tool point along a straight line, open or
close the gripper, check the grasp, ...). `step()` is called once per physics step, so
every arm's skill advances in the same simulated instant and two arms move at once.
Motion approaches from above at a safe height, so a carried block is never swept
through the blocks standing on the table. `MotionPlanner` builds phases for one arm
through the `SimArm` protocol, so every robot model gets the same skills.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from robot_planner.adapters.base import SkillState

if TYPE_CHECKING:
    from robot_planner.sim.models import SimArm
    from robot_planner.sim.world import SimWorld

#: Height of the tool point above the table for transfers (clears a 3-block tower).
SAFE_HEIGHT = 0.24
TRAVEL_SPEED = 0.45  # m/s along straight lines at safe height
APPROACH_SPEED = 0.15  # m/s for the last few centimetres down and up
REACH_TOLERANCE = 0.012  # m between commanded and measured tool point
IK_EVERY = 4  # physics steps between IK solutions while moving
GRASP_FORCE = 60.0
RELEASE_CLEARANCE = 0.012  # m between the bottom of a released block and its support
# Where an arm waits after a pick, in front of its base: far enough out that a block
# dropped there (it slides a few centimetres back towards the base) still lands where
# the arm can reach down to the table again. At 0.30 m, drops came to rest 0.25-0.32 m
# from the base, inside a Panda's inner limit, and nothing could pick them up.
STAGING_REACH = 0.36  # m
#: Below this distance from a finger pad to a neighbouring block's centre (m), a pick
#: tries the grasp a quarter turn away.
FINGER_ROOM = 0.05


class SkillFailure(Exception):
    """Raised inside a phase to fail the skill with a reason."""


def _touching(world: SimWorld, arm: SimArm) -> str:
    """ ", touching X" when the arm rests on something: a stop short of the target is
    then a collision, not an unreachable pose."""
    touched = [
        name
        for name in world.touched_by(arm.body)
        if name != arm.name and not (name in world.blocks and world.holder_of(name) is arm)
    ]
    return f", touching {', '.join(touched)}" if touched else ""


@dataclass
class Phase:
    """One step of a skill; `update` returns True when done, raises SkillFailure to fail."""

    name: str
    start: Callable[[], None] = lambda: None
    update: Callable[[], bool] = lambda: True
    #: Optional check run every step while this phase runs (e.g. "still holding").
    guard: Callable[[], None] | None = None
    #: Optional call when this phase fails (e.g. remember a release point that failed).
    on_failure: Callable[[], None] | None = None
    #: Set when the phase starts: simulated time it started and how long it should take.
    started_at: float = 0.0
    expected_duration: float = 0.0


@dataclass
class SkillRun:
    """A running skill on one arm."""

    robot: str
    skill: str
    args: dict
    phases: list[Phase]
    started_at: float
    state: SkillState = SkillState.RUNNING
    reason: str = ""
    index: int = 0
    entered: bool = False
    ended_at: float | None = None
    tags: set[str] = field(default_factory=set)
    #: While set, the run is held (an outside stop): its phases wait until this time.
    held_until: float | None = None
    held_from: float = 0.0

    @property
    def phase(self) -> str:
        return self.phases[self.index].name if self.index < len(self.phases) else "done"

    @property
    def progress(self) -> float:
        return min(1.0, self.index / max(1, len(self.phases)))

    def hold(self, now: float, seconds: float) -> None:
        """Hold the run for `seconds` from `now` (an outside stop, e.g. a delayed base):
        its phases do not advance and the running phase's clock stops meanwhile, so its
        own time limit counts only the time it could work. The caller stops the robot."""
        self.held_from, self.held_until = now, now + seconds

    @property
    def held(self) -> bool:
        """Whether the run is held now (disturbances leave a held run alone)."""
        return self.held_until is not None

    def step(self, now: float) -> None:
        if self.state is not SkillState.RUNNING:
            return
        if self.held_until is not None:
            if now < self.held_until:
                return
            if self.entered and self.index < len(self.phases):
                self.phases[self.index].started_at += self.held_until - self.held_from
            self.held_until = None
        try:
            while self.index < len(self.phases):
                phase = self.phases[self.index]
                if not self.entered:
                    phase.started_at = now
                    phase.start()
                    self.entered = True
                if phase.guard is not None:
                    phase.guard()
                if not phase.update():
                    return
                self.index += 1
                self.entered = False
            self.state = SkillState.SUCCEEDED
            self.ended_at = now
        except SkillFailure as exc:
            self.state = SkillState.FAILED
            self.reason = str(exc)
            self.ended_at = now
            if self.index < len(self.phases) and self.phases[self.index].on_failure:
                self.phases[self.index].on_failure()

    def cancel(self, now: float) -> None:
        if self.state is SkillState.RUNNING:
            self.state = SkillState.CANCELLED
            self.reason = "cancelled"
            self.ended_at = now


class SharedWorkspace:
    """Interlocks for places more than one arm can reach (the hand-over zone).

    Two arms working in the same place at once would collide, so an arm takes the
    place's lock before it moves over it and gives it back once it has retreated to its
    own side. An arm holds a lock only while it works there, never while waiting for
    another lock, so the interlock cannot deadlock.
    """

    def __init__(self, world: SimWorld):
        self.world = world
        scene = world.scene
        reach_count: dict[str, int] = {}
        # Only arms work over a place; mobile bases that reach it park beside it.
        for name, spec in scene.robots.items():
            if name not in world.arms:
                continue
            for place in spec.reach:
                reach_count[place] = reach_count.get(place, 0) + 1
        self.shared = {place for place, n in reach_count.items() if n > 1}
        self.owner: dict[str, str] = {}

    def place_at(self, xy: np.ndarray) -> str | None:
        """The shared place (zone, bin) containing the point `xy`, if any."""
        scene = self.world.scene
        for place in sorted(self.shared):
            center, size = scene.places[place].center, scene.places[place].size
            margin = 0.06  # an arm over the edge of the zone is still in the way
            if (
                abs(xy[0] - center[0]) <= size[0] / 2 + margin
                and abs(xy[1] - center[1]) <= size[1] / 2 + margin
            ):
                return place
        return None

    def try_acquire(self, place: str, robot: str) -> bool:
        owner = self.owner.get(place)
        if owner is None or owner == robot:
            self.owner[place] = robot
            return True
        return False

    def release_all(self, robot: str) -> None:
        for place in [p for p, r in self.owner.items() if r == robot]:
            del self.owner[place]


class MotionPlanner:
    """Builds phases for one arm in one world (straight-line tool moves, gripper, checks)."""

    def __init__(
        self,
        world: SimWorld,
        arm: SimArm,
        grasp_check: bool = True,
        workspace: SharedWorkspace | None = None,
    ):
        self.world = world
        self.arm = arm
        self.grasp_check = grasp_check
        self.workspace = workspace or SharedWorkspace(world)

    @property
    def safe_z(self) -> float:
        """Transfers run this high: `SAFE_HEIGHT` above the highest surface the arm works
        on (the table top on the tabletop; a station's table or a base's tray)."""
        return self.world.work_height(self.arm.name) + SAFE_HEIGHT

    # --- primitive phases ------------------------------------------------------------

    def move_line(
        self,
        name: str,
        goal: Callable[[], tuple[np.ndarray, float]],
        speed: float,
        guard: Callable[[], None] | None = None,
    ) -> Phase:
        """Move the tool point in a straight line to `goal()` (evaluated when the phase
        starts, so it sees where objects are then), pointing down at the given yaw."""
        plan: dict = {}
        arm, world = self.arm, self.world
        phase = Phase(name, guard=guard)

        def start() -> None:
            target, yaw = goal()
            if not arm.can_reach(target):
                raise SkillFailure(
                    f"IK unreachable: {arm.name} cannot reach "
                    f"({target[0]:.2f}, {target[1]:.2f}, {target[2]:.2f})"
                )
            begin, _ = arm.tool_pose()
            distance = float(np.linalg.norm(target - begin))
            plan.update(
                begin=begin,
                target=np.asarray(target),
                yaw=yaw,
                t0=world.time,
                duration=max(distance / speed, 0.05),
                steps=0,
            )
            phase.expected_duration = plan["duration"]

        def update() -> bool:
            elapsed = world.time - plan["t0"]
            s = min(1.0, elapsed / plan["duration"])
            s_smooth = s * s * (3 - 2 * s)  # ease in and out
            # While settling on the end point, too, IK is refined every IK_EVERY steps
            # rather than every physics step (that was a third of the simulation time).
            settling_starts = s >= 1.0 and not plan.get("settling")
            if settling_starts:
                plan["settling"] = True
            if plan["steps"] % IK_EVERY == 0 or settling_starts:
                point = plan["begin"] + (plan["target"] - plan["begin"]) * s_smooth
                arm.command_arm(arm.solve_ik(point, plan["yaw"], arm.ik_damping))
            plan["steps"] += 1
            if s < 1.0:
                return False
            error = float(np.linalg.norm(arm.tool_pose()[0] - plan["target"]))
            if error <= REACH_TOLERANCE:
                return True
            if elapsed > plan["duration"] + 2.0:
                raise SkillFailure(
                    f"IK unreachable: {arm.name} stopped {error * 100:.1f} cm from the target "
                    f"in '{name}'{_touching(world, arm)}"
                )
            return False

        phase.start, phase.update = start, update
        return phase

    def move_joints(self, name: str, joints: tuple[float, ...], speed: float = 1.0) -> Phase:
        """Interpolate in joint space to a configuration (rad/s for the largest joint)."""
        plan: dict = {}
        arm, world = self.arm, self.world

        def start() -> None:
            begin = arm.joint_positions()
            span = float(np.max(np.abs(np.asarray(joints) - begin)))
            plan.update(begin=begin, t0=world.time, duration=max(span / speed, 0.1))

        def update() -> bool:
            elapsed = world.time - plan["t0"]
            s = min(1.0, elapsed / plan["duration"])
            s = s * s * (3 - 2 * s)
            arm.command_arm(plan["begin"] + (np.asarray(joints) - plan["begin"]) * s)
            if elapsed < plan["duration"]:
                return False
            error = float(np.max(np.abs(arm.joint_positions() - np.asarray(joints))))
            if error < 0.02:
                return True
            if elapsed > plan["duration"] + 2.0:
                raise SkillFailure(f"{arm.name} could not reach its joint target")
            return False

        return Phase(name, start, update)

    def gripper(self, name: str, width: float, force: float, seconds: float = 0.4) -> Phase:
        plan: dict = {}
        arm, world = self.arm, self.world

        def start() -> None:
            # Opening fingers that are already open is done at once: a pick used to wait
            # its 0.25 s first, most of the time from a task's start to its first motion.
            plan["done"] = width >= arm.open_width - 1e-6 and arm.finger_width() >= width - 0.002
            arm.command_gripper(width, force)
            plan["t0"] = world.time

        def update() -> bool:
            return plan["done"] or world.time - plan["t0"] >= seconds

        return Phase(name, start, update)

    def wait(self, seconds: float) -> Phase:
        return wait_phase(self.world, seconds)

    def acquire(self, where: Callable[[], np.ndarray]) -> Phase:
        """Wait until the shared place at `where()` (if any) is free, then take it."""
        arm, workspace = self.arm, self.workspace

        def update() -> bool:
            place = workspace.place_at(where())
            return place is None or workspace.try_acquire(place, arm.name)

        return Phase("wait for shared workspace", update=update)

    def retreat_and_release(self, guard: Callable[[], None] | None = None) -> list[Phase]:
        """Back to a point over the arm's own side, then give shared places back."""
        arm, workspace = self.arm, self.workspace

        def staging() -> tuple[np.ndarray, float]:
            yaw = arm.base_yaw
            forward = np.array([math.cos(yaw), math.sin(yaw)])
            xy = arm.base_position[:2] + STAGING_REACH * forward
            return np.array([xy[0], xy[1], self.safe_z]), yaw_of(arm.tool_pose()[1])

        def needed() -> bool:
            return bool([p for p, r in workspace.owner.items() if r == arm.name])

        move = self.move_line("retreat", staging, TRAVEL_SPEED, guard)
        inner_start, inner_update = move.start, move.update
        skip = {"skip": False}

        def start() -> None:
            skip["skip"] = not needed()
            if not skip["skip"]:
                inner_start()

        move.start = start
        move.update = lambda: skip["skip"] or inner_update()

        def release() -> bool:
            workspace.release_all(arm.name)
            return True

        return [move, Phase("release shared workspace", update=release)]

    def check(self, name: str, condition: Callable[[], None]) -> Phase:
        def update() -> bool:
            condition()
            return True

        return Phase(name, update=update)

    # --- grasp checks ----------------------------------------------------------------

    def holding(self, block: str) -> bool:
        left, right = self.arm.finger_contacts(self.world.blocks[block])
        return left and right

    def require_grasp(self, block: str) -> Callable[[], None]:
        def check() -> None:
            if not self.holding(block):
                raise SkillFailure(f"grasp missed: {self.arm.name} closed on nothing")

        return check

    def slip_guard(self, block: str) -> Callable[[], None] | None:
        """During a carry: fail at once if the block leaves the fingers (when enabled).

        With ``grasp_check=False`` the arm carries on blind, like the skills in DoReMi's
        benchmark: only an external monitor can then notice the loss.
        """
        if not self.grasp_check:
            return None
        lost = {"steps": 0}

        def guard() -> None:
            if self.holding(block):
                lost["steps"] = 0
                return
            lost["steps"] += 1
            if lost["steps"] > 12:  # 50 ms without contact: not a transient
                raise SkillFailure(f"object slipped: {self.arm.name} lost {block}")

        return guard

    # --- geometry ----------------------------------------------------------------------

    def block_goal(self, block: str, z_offset: float = 0.0) -> Callable[[], tuple]:
        """Goal at the block (plus `z_offset`; ``math.inf`` means at the safe height)."""

        def goal() -> tuple[np.ndarray, float]:
            pos, yaw = self.world.block_pose(block)
            z = self.safe_z if math.isinf(z_offset) else pos[2] + z_offset
            return np.array([pos[0], pos[1], z]), self.grasp_yaw(block, yaw)

        return goal

    def grasp_yaw(self, block: str, block_yaw: float) -> float:
        """The arm's natural grasp yaw, or the one a quarter turn away when that gives
        the fingers more room: a block lying against another (after a tower toppled) is
        grasped across the free faces instead of landing a finger on its neighbour."""
        natural = self.arm.grasp_yaw(block_yaw)
        turned = min(
            (natural + math.pi / 2, natural - math.pi / 2),
            key=lambda y: abs(math.remainder(y - self.arm.base_yaw, math.tau)),
        )
        room = self._finger_room(block, natural)
        if room < FINGER_ROOM and self._finger_room(block, turned) > room:
            return turned
        return natural

    def _finger_room(self, block: str, yaw: float) -> float:
        """Distance from either finger pad to the nearest other block at the same level,
        and from the hand's body to a block reaching above its underside (a tower the
        block lies beside: the hand, much longer than it is deep, lands on the tower's
        second block unless it is turned along the tower's face)."""
        pos, _ = self.world.block_pose(block)
        axis = np.array([-math.sin(yaw), math.cos(yaw)])  # the fingers close along this
        across = np.array([axis[1], -axis[0]])
        half_length, half_depth, underside = self.arm.hand_box
        half = self.world.block_size[block] / 2
        reach = half + 0.02
        pads = (pos[:2] + reach * axis, pos[:2] - reach * axis)
        room = math.inf
        for other in self.world.blocks:
            if other == block:
                continue
            other_pos, _ = self.world.block_pose(other)
            other_half = self.world.block_size[other] / 2
            if pos[2] + underside < other_pos[2] + other_half and other_pos[2] < self.safe_z:
                offset = other_pos[:2] - pos[:2]
                along, side = abs(float(offset @ axis)), abs(float(offset @ across))
                gap = max(along - half_length, side - half_depth)
                room = min(room, gap - other_half + half)
                continue
            if abs(other_pos[2] - pos[2]) > self.world.block_size[other]:
                continue  # below (a tower's base) or above: not in the fingers' way
            for pad in pads:
                room = min(room, float(np.linalg.norm(pad - other_pos[:2])))
        # A bin wall next to the block counts like a neighbour whose centre is half a
        # block beyond the wall: the walls outside a bin the block stands beside, and the
        # walls of the bin it stands in (a block parked in a corner is grasped across
        # the faces that are clear of them).
        for spec in self.world.containers.values():
            center, size = np.array(spec.position), np.array(spec.size) / 2
            inside = bool(np.all(np.abs(pos[:2] - center) <= size))
            for pad in pads:
                if inside:
                    gap = float(np.min(size - np.abs(pad - center)))
                else:
                    gap = float(np.linalg.norm(np.maximum(np.abs(pad - center) - size, 0.0)))
                room = min(room, gap + half)
        return room


def lift_phase(m: MotionPlanner, guard: Callable[[], None] | None = None) -> Phase:
    """Straight up to the safe height from wherever the tool point is."""

    def goal() -> tuple[np.ndarray, float]:
        pos, orn = m.arm.tool_pose()
        yaw = yaw_of(orn)
        return np.array([pos[0], pos[1], max(pos[2], m.safe_z)]), yaw

    return m.move_line("lift", goal, APPROACH_SPEED * 2, guard)


def yaw_of(quaternion: np.ndarray) -> float:
    """Yaw of a tool pointing down (roll = pi), from its x axis in the table plane."""
    import pybullet as p

    m = np.array(p.getMatrixFromQuaternion(list(quaternion))).reshape(3, 3)
    return math.atan2(m[1, 0], m[0, 0])


def wait_phase(world: SimWorld, seconds: float) -> Phase:
    """A phase that ends `seconds` of simulated time after it starts (arms and bases)."""
    plan: dict = {}

    def start() -> None:
        plan["t0"] = world.time

    return Phase("wait", start, lambda: world.time - plan["t0"] >= seconds)
