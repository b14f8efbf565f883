"""A mobile manipulator: a Clearpath Husky with a tray on the rear half of its chassis
and a Franka Panda on the front half, the robot model ``husky_panda`` (kind
``fetcher``). It drives like the other bases (the same `HuskyBase`) and picks up with the
same skills as the fixed arms (the same `PandaArm`, through `MotionPlanner`), so the
world holds it as two parts: ``world.bases[name]`` is the Husky, ``world.arms[name]`` the
Panda.

How the arm rides: kinematic attachment. The Panda is loaded with a fixed base, and
before every physics step its base is put back on the mount, in the chassis' full pose
(roll and pitch included), whenever the chassis has moved. Its ``base_position`` and
``base_yaw`` are read from the chassis each time they are asked for, so reach tests,
grasp yaws and the staging point follow the base. The alternative, a free-base Panda
held on the chassis by a fixed constraint, was built and measured on the same moves
(unfold, down to the floor 0.6 m out, over to the tray, fold, 1.8 m drive at full speed):

* tool point against IK's target: 0.00 cm kinematic, 0.12 cm held (the constraint
  gives a little under the arm's reaction);
* chassis tilt: 0.01° kinematic, 0.48° held (the 15 kg arm swinging rocks the 39 kg
  Husky, and whatever rides on the tray with it);
* step time of the Husky and its Panda: 85 µs kinematic, 123 µs held (one more
  multibody base to integrate and a constraint row to solve);
* arm base off its mount: 0.26 cm kinematic while driving at 0.6 m/s (it is put back
  once per step, so it lags one step), 0.01 cm held.

Kinematic is the cheaper and more exact of the two, and what it gives up is the arm's
weight on the chassis and a 2.6 mm lag while driving, neither of which anything
measures: the Husky's chassis velocity is imposed anyway (see
`robot_planner.sim.models.husky`), and the arm only works while the base stands.
The fixed Panda of the stations and the tabletop is untouched: `MountedPanda` only adds
the following to `PandaArm`.

Layout (metres, in the chassis frame: x along the heading, y to the left, floor at 0):

* tray: centred `TRAY_OFFSET` behind the chassis' centre, so it spans the rear half
  (x -0.46 to -0.04 with its rim); in a station's bay (heading +x, the station's arm at
  the bay's -x end) it is the end nearest the station's arm.
* Panda: its base on the chassis top at `MOUNT` (x 0.30, y 0.18: front half, left of
  the centre line), facing the left front quarter (`MOUNT_YAW`, 60° from the heading).
  The Panda, its tool pointing down, reaches the floor from 0.14 m to 0.57 m around its
  base (measured with IK from the chassis top, every 30°). The fetcher approaches a
  parcel with it on its left, just ahead of the front wheel
  (`robot_planner.sim.skills.fetch`): a spilled parcel 0.5 m from the lane's centre
  line is then 0.42 m from the arm's base, 20° off the arm's own forward direction;
  the tray behind it is 110° off, within joint 1's ±166°. (Facing 90° or 120° picked
  and placed as cleanly; at 60° the arm unfolds to `READY` over the parcel's side of
  the floor, ahead of the wheel.) Left, not right: ``place`` puts a
  parcel on the tray at the free spot nearest the arm, which is then the tray's left
  half, the station's side in a station's bay (heading +x), where the stations' arms
  reach it. Mounted on the right, a fetched parcel sat on the aisle's side of the tray,
  0.70 m from the packing station's xArm6, which reaches 0.69 m.
* Stowed (`STOWED`, the ``move_home`` pose): folded inward over the chassis' front half
  (joint 1 turns the arm over the chassis, the upper arm leans forward, the forearm
  folded back over it), reached through `RAISED`. Measured: every link within x
  0.16..0.45, y -0.27..0.33 (inside the Husky's footprint, so the traffic rule's
  turning radius still covers it), 5.2 cm from the chassis and the tray, nothing
  behind x = 0.16: the overhead camera sees every pixel of the tray it sees with the
  arm taken away (at the dock, in the aisle and in both station bays), and the
  stations' arms loading and unloading the tray stayed 0.29 m or more from it. Its
  highest point is 0.86 m above the floor, the shoulder's housing and the folded elbow
  beside it (the shoulder's axis alone is 0.74 m up); a fold with the hand pointing
  down stands 1.01 m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pybullet as p

from robot_planner.sim.models.husky import CHASSIS_TOP, HuskyBase
from robot_planner.sim.models.panda import OPEN_WIDTH, SHOULDER_HEIGHT, PandaArm
from robot_planner.sim.models.registry import register_model

if TYPE_CHECKING:
    from robot_planner.sim.world import SimConfig
    from robot_planner.world.scene import RobotSpec

#: The tray's centre along the heading from the chassis' centre (m): the rear half.
TRAY_OFFSET = -0.25
#: The Panda's base on the chassis top (x, y, z in the chassis frame) and its heading
#: relative to the chassis' (radians).
MOUNT = (0.30, 0.18, CHASSIS_TOP + 0.001)
MOUNT_YAW = math.radians(60.0)
#: The ``move_home`` pose: folded over the chassis' front half (see the module's notes).
STOWED = (-2.55, 1.28, 0.0, -3.0, 0.0, 0.8, 0.785)
#: Between `STOWED` and `READY`: the upper arm upright, the forearm still folded. Straight
#: from one to the other in joint space, the forearm unfolding while the upper arm still
#: leaned over the chassis swept the wrist through the chassis' top.
RAISED = (-2.55, 0.0, 0.0, -3.0, 0.0, 0.8, 0.785)
#: The tool pointing down where the arm starts its work (the fixed Panda's home pose, here
#: over the floor on the base's left), unfolded to from `STOWED` through `RAISED`.
READY = (0.0, -0.5, 0.0, -2.3, 0.0, 1.8, 0.785)
#: How far the tool point hangs below the wrist when it points down (flange and hand).
WRIST_DROP = 0.21
#: Reach of the wrist from the shoulder, and the nearest tool point to the base's axis,
#: with margin (IK: 0.80 m from the chassis top up; 0.757 m, 0.57 m out, on the floor).
WRIST_REACH = 0.745
MIN_REACH = 0.22
#: The mount follows the chassis when it moved more than this (m, or rad).
FOLLOW_TOLERANCE = 1e-6


class MountedPanda(PandaArm):
    """A Panda whose base rides on a mobile base's chassis (a `SimArm`).

    Args:
        carrier: the base it is mounted on.
        mount: its base's position in the chassis frame (x, y, z).
        mount_yaw: its base's heading relative to the chassis' (radians).
    """

    home = STOWED
    #: Where a skill unfolds the arm to before it works (through `via`, from `home`),
    #: and the poses it folds back through (`via` reversed, to `home`).
    ready = READY
    via = (RAISED,)

    def __init__(
        self,
        client: int,
        name: str,
        carrier: HuskyBase,
        mount: Sequence[float] = MOUNT,
        mount_yaw: float = MOUNT_YAW,
        finger_friction: float = 2.0,
    ):
        self.carrier = carrier
        self.mount = tuple(float(v) for v in mount)
        self.mount_yaw = float(mount_yaw)
        self._placed: tuple[np.ndarray, np.ndarray] | None = None
        self._com_from_origin: tuple | None = None
        position, orientation = self._mount_pose()
        super().__init__(
            client, name, position, _yaw(orientation), finger_friction=finger_friction
        )
        # PyBullet places a base by its centre of mass (5 cm above the Panda's origin),
        # not by its URDF origin: a mount pose is turned into that before it is set.
        self._com_from_origin = p.getDynamicsInfo(self.body, -1, physicsClientId=client)[3:5]
        self._placed = None
        # The base and first link stand on the chassis top: they touch it by design. The
        # other links collide with the chassis and the tray as with anything else.
        for arm_link in (-1, 0):
            for link in range(-1, p.getNumJoints(carrier.body, physicsClientId=client)):
                p.setCollisionFilterPair(
                    self.body, carrier.body, arm_link, link, 0, physicsClientId=client
                )
        self.reset(STOWED, gripper_width=OPEN_WIDTH)

    # The constructor of `PandaArm` assigns the pose it loaded the arm at; from then on
    # the chassis decides it.
    @property  # type: ignore[override]
    def base_position(self) -> np.ndarray:
        """Where the arm's base stands now: on its mount on the chassis."""
        return np.asarray(self._mount_pose()[0])

    @base_position.setter
    def base_position(self, value: Sequence[float]) -> None:
        pass

    @property  # type: ignore[override]
    def base_yaw(self) -> float:
        """The arm's heading now: the chassis' heading plus the mount's."""
        return _yaw(self._mount_pose()[1])

    @base_yaw.setter
    def base_yaw(self, value: float) -> None:
        pass

    def _mount_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The mount's position and orientation in the world, from the chassis' full
        pose."""
        position, orientation = p.multiplyTransforms(
            *self.carrier.origin_pose(),
            self.mount,
            p.getQuaternionFromEuler([0.0, 0.0, self.mount_yaw]),
        )
        return np.array(position), np.array(orientation)

    def follow(self) -> None:
        """Put the arm's base back on its mount if the chassis moved."""
        if self._com_from_origin is None:
            return  # still loading (`PandaArm.__init__` sends targets): loaded on the mount
        position, orientation = self._mount_pose()
        if self._placed is not None:
            moved = float(np.max(np.abs(position - self._placed[0])))
            turned = float(np.max(np.abs(orientation - self._placed[1])))
            if moved <= FOLLOW_TOLERANCE and turned <= FOLLOW_TOLERANCE:
                return
        com, com_orientation = p.multiplyTransforms(
            position.tolist(), orientation.tolist(), *self._com_from_origin
        )
        p.resetBasePositionAndOrientation(
            self.body, com, com_orientation, physicsClientId=self.client
        )
        self._placed = (position, orientation)

    def apply_targets(self) -> None:
        """Follow the chassis, then send the motor targets (once per step)."""
        self.follow()
        super().apply_targets()

    def can_reach(self, position: Sequence[float]) -> bool:
        """A quick geometric reach test for a tool pointing down: the wrist, which is
        `WRIST_DROP` above the tool point, within `WRIST_REACH` of the shoulder, and the
        tool point at least `MIN_REACH` from the base's axis. (The fixed Panda's sphere
        about the shoulder is for targets at and above its base: from the chassis top it
        would refuse the floor beyond 0.41 m, where the arm reaches 0.57 m.)"""
        target = np.asarray(position, dtype=float)
        base = self.base_position
        shoulder = base + np.array([0.0, 0.0, SHOULDER_HEIGHT])
        wrist = target + np.array([0.0, 0.0, WRIST_DROP])
        out = float(np.linalg.norm(target[:2] - base[:2]))
        return float(np.linalg.norm(wrist - shoulder)) <= WRIST_REACH and out >= MIN_REACH


def _yaw(orientation: Sequence[float]) -> float:
    return float(p.getEulerFromQuaternion(list(orientation))[2])


class HuskyPanda:
    """The two parts of one mobile manipulator: ``base`` (a `SimBase`) and ``arm`` (a
    `SimArm`); the world steps and reports each part where it keeps bases and arms."""

    def __init__(self, base: HuskyBase, arm: MountedPanda):
        self.name = base.name
        self.base = base
        self.arm = arm

    def hold_still(self) -> None:
        """Stop both parts (cancel): the base brakes, the arm freezes where it is."""
        self.base.hold_still()
        self.arm.hold_still()


def build_husky_panda(client: int, name: str, spec: RobotSpec, config: SimConfig) -> HuskyPanda:
    """The scene's robot `name` as a Husky with a rear tray and a Panda in front, standing
    at its base pose with the arm stowed."""
    base = HuskyBase(client, name, spec.base_position, spec.base_yaw, tray_offset=TRAY_OFFSET)
    arm = MountedPanda(client, name, base, MOUNT, MOUNT_YAW, config.finger_friction)
    return HuskyPanda(base, arm)


register_model("husky_panda", build_husky_panda, kind="fetcher")  # type: ignore[arg-type]
