"""A UFactory xArm6 with its parallel gripper, from ``pybullet_data``
(``xarm/xarm6_with_gripper.urdf``), driven by position control and IK: the robot model
``xarm6``.

Joints 1-6 are the arm. The gripper is a parallelogram linkage on each side: an outer
knuckle (joints 8 and 11) carries the finger (9, 12), and an inner knuckle (10, 13)
keeps the finger upright; one motor drives both sides through gears. The URDF cannot
close those loops and marks joints 9-13 as ``<mimic>`` of ``drive_joint`` (8), which
PyBullet ignores. So the drive joint has the motor, and every step the other five are
commanded to its measured angle (stiffly): the fingers then stay parallel and centred,
as the linkage and gears keep them on the real gripper. Tried and dropped: the closing
target on all six joints (the finger motors out-pushed the knuckles and the fingers
toed in, pinching the block at their tips); gear or pin constraints closing the loops
(PyBullet's solver let them stretch under a 60 N grasp: the fingers splayed 0.2 rad and
the pads read 3.2-3.6 cm on a 5 cm block); a motor per side (two equal motors balance
anywhere, so the block drifted 2 cm sideways until one side hit its limit).

The URDF has no tool link: the tool point is `TOOL_OFFSET` along the gripper base's z
axis (which points along the fingers), and IK solves for the gripper base placed so
that point lands on the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pybullet as p

from robot_planner.sim.models.registry import register_model

if TYPE_CHECKING:
    from robot_planner.sim.world import SimConfig
    from robot_planner.world.scene import RobotSpec

URDF = "xarm/xarm6_with_gripper.urdf"
ARM_JOINTS = (1, 2, 3, 4, 5, 6)
#: Every gripper joint, ``drive_joint`` first (its angle is the gripper's state).
GRIPPER_JOINTS = (8, 9, 10, 11, 12, 13)
#: The gripper's motor; every other gripper joint follows its measured angle.
DRIVE_JOINT = 8
FOLLOWERS = (9, 10, 11, 12, 13)
FINGER_LINKS = (9, 12)
#: The gripper base (fixed to link6, same frame): the link IK places.
FLANGE_LINK = 7
#: Tool point from the gripper base along its z axis (m), between the finger pads: the
#: pads' flat inner faces span 0.125-0.175 m (fingertips) and the inner knuckles reach
#: down to 0.135 m, so a 5 cm block centred here is held over 3 cm of pad with its top
#: clear of the knuckles, and the fingertips end 1 cm below its centre (the Panda's
#: tool point is as far above its fingertips).
TOOL_OFFSET = 0.165
#: Gripper geometry in the gripper base's y-z plane (from the URDF): the outer knuckle
#: turns about (y, z) = (0.035, 0.059) and carries the finger joint at (0.0355, 0.0420)
#: from there; a pad's inner face touches 27 mm nearer the middle than its finger joint
#: (26 mm of mesh and Bullet's collision margin; measured from contact points on a held
#: 5 cm block).
KNUCKLE_Y = 0.035
KNUCKLE_TO_FINGER = (0.035465, 0.042039)
PAD_INSET = 0.027
#: Drive angle (rad) of a fully open (0) and fully closed (0.85) gripper, URDF limits.
DRIVE_OPEN, DRIVE_CLOSED = 0.0, 0.85
#: Height (m) of the pads' middle below the knuckles' axes: with a finger held to its
#: knuckle's angle, the drive needs this many newton-metres per newton at the pads
#: (measured: 52 N per pad at the skills' 60 N).
GRIP_LEVER = 0.09
#: How much heavier (in rotation) the gripper's links are made than the URDF says. At
#: its 20-50 g links' own inertia PyBullet's solver could not keep the followers at the
#: drive's angle under a 60 N squeeze: the joints chattered, a pad tilted, and a carried
#: block swung up to 47 degrees in the fingers (4 of 10 seeds of four pick-and-places
#: failed). At 30x (the order of the motor and gear inertia the URDF leaves out) the
#: joints agree to 0.001 rad, a carried block tilts under 4 degrees and 40 of 40 passed;
#: the links' mass is unchanged.
GRIPPER_INERTIA_SCALE = 30.0
#: Torque (N m) and position gain of the followers. Holding a block at the skills' grasp
#: force takes 2.5-3.4 N m on a finger and 5.3-6 N m on the right knuckle (measured);
#: the gain corrects the whole error each step (at 0.3 the fingers lagged 0.05 rad).
FOLLOW_TORQUE = 10.0
FOLLOW_GAIN = 1.0
#: The followers' target is resent when the drive has turned more than this (rad).
FOLLOW_RESEND = 1e-4
#: Hand pointing down 0.30 m in front of the base, 0.40 m above it, fingers across the
#: front (yaw 0): clear of the work area like the Panda's home, and elbow up, the posture
#: IK (which starts from the current joints) then keeps.
HOME = (0.0, -0.554, -1.158, 0.0, 1.712, 0.0)
ARM_FORCES = (50.0, 50.0, 32.0, 32.0, 32.0, 20.0)
#: Where the tool point can go pointing down: within `MAX_REACH` of the base (the
#: shoulder is 0.267 m up, but the wrist stays 0.26 m above the tool point). Measured
#: with IK: 0.71 m out at table height, 0.67 m at the skills' safe height (0.24 m),
#: 0.58 m at 0.4 m; nearer than 0.2 m the tool cannot get down to a block. `MAX_REACH`
#: keeps 2 cm of margin.
MAX_REACH = 0.69
#: Damping of PyBullet's damped-least-squares IK, one per movable joint (6 arm,
#: 6 gripper): small for the same reason as the Panda's (one solve reaches the target).
IK_DAMPING = (0.01,) * 12


def width_of_drive(angle: float) -> float:
    """Opening between the finger pads (m) at drive angle `angle` (rad)."""
    a, b = KNUCKLE_TO_FINGER
    return max(0.0, 2.0 * (KNUCKLE_Y + a * math.cos(angle) - b * math.sin(angle) - PAD_INSET))


def drive_for_width(width: float) -> float:
    """Drive angle (rad) opening the pads to `width` (m), within the joint's limits."""
    a, b = KNUCKLE_TO_FINGER
    radius, phase = math.hypot(a, b), math.atan2(b, a)
    c = (width / 2.0 - KNUCKLE_Y + PAD_INSET) / radius
    angle = math.acos(max(-1.0, min(1.0, c))) - phase
    return max(DRIVE_OPEN, min(DRIVE_CLOSED, angle))


#: Pads' opening (m) fully open, 8.7 cm (the skills open fully, as on the Panda), and
#: fully closed (the pads meet).
OPEN_WIDTH = width_of_drive(DRIVE_OPEN)
CLOSED_WIDTH = width_of_drive(DRIVE_CLOSED)
#: The gripper's body pointing down (m): half its length along the closing axis (the
#: outer knuckles), half its depth across, and the inner knuckles' lowest point above the
#: tool point (the URDF's collision shapes, open).
HAND_BOX = (0.089, 0.041, 0.04)


class XArm6:
    """One xArm6 with its gripper: joint state, IK to the tool point, arm and gripper
    commands, finger contacts (a `SimArm`)."""

    home = HOME
    ik_damping = IK_DAMPING
    open_width = OPEN_WIDTH
    hand_box = HAND_BOX

    def __init__(
        self,
        client: int,
        name: str,
        base_position: Sequence[float],
        base_yaw: float,
        finger_friction: float = 2.0,
    ):
        self.client = client
        self.name = name
        self.base_position = np.asarray(base_position, dtype=float)
        self.base_yaw = float(base_yaw)
        # No self-collision: the gripper's open linkages overlap where the loops would
        # close, and pointing down over the table the arm's links cannot meet.
        self.body = p.loadURDF(
            URDF,
            list(base_position),
            p.getQuaternionFromEuler([0.0, 0.0, base_yaw]),
            useFixedBase=True,
            physicsClientId=client,
        )
        info = [p.getJointInfo(self.body, j, physicsClientId=client) for j in ARM_JOINTS]
        self.lower = [i[8] for i in info]
        self.upper = [i[9] for i in info]
        for joint in GRIPPER_JOINTS:
            inertia = p.getDynamicsInfo(self.body, joint, physicsClientId=client)[2]
            p.changeDynamics(
                self.body,
                joint,
                localInertiaDiagonal=[GRIPPER_INERTIA_SCALE * i for i in inertia],
                physicsClientId=client,
            )
        for finger in FINGER_LINKS:
            p.changeDynamics(
                self.body,
                finger,
                lateralFriction=finger_friction,
                spinningFriction=0.01,
                frictionAnchor=True,
                physicsClientId=client,
            )
        self.gripper_force = 40.0
        self._sent_arm: list[float] | None = None
        self._sent_gripper: tuple[float, float] | None = None
        self._sent_followers: float | None = None
        self.reset(HOME, gripper_width=OPEN_WIDTH)

    # --- state -------------------------------------------------------------------------

    def reset(self, joints: Sequence[float], gripper_width: float) -> None:
        """Teleport the joints (scene set-up only; motion goes through the motors)."""
        for j, q in zip(ARM_JOINTS, joints, strict=True):
            p.resetJointState(self.body, j, q, physicsClientId=self.client)
        drive = drive_for_width(gripper_width)
        for j in GRIPPER_JOINTS:
            p.resetJointState(self.body, j, drive, physicsClientId=self.client)
        self.arm_target = np.array(joints, dtype=float)
        self.gripper_target = float(np.clip(gripper_width, CLOSED_WIDTH, OPEN_WIDTH))
        self._sent_arm = self._sent_gripper = self._sent_followers = None
        self.apply_targets()

    def joint_positions(self) -> np.ndarray:
        states = p.getJointStates(self.body, ARM_JOINTS, physicsClientId=self.client)
        return np.array([s[0] for s in states])

    def joint_state(self) -> tuple[list[str], list[float], list[float]]:
        """Names, positions and velocities of the arm joints and the gripper's drive joint
        (the joint the real gripper reports; the others mimic it)."""
        joints = (*ARM_JOINTS, DRIVE_JOINT)
        states = p.getJointStates(self.body, joints, physicsClientId=self.client)
        names = [f"{self.name}/joint{j}" for j in ARM_JOINTS] + [f"{self.name}/drive_joint"]
        return names, [s[0] for s in states], [s[1] for s in states]

    def finger_width(self) -> float:
        """Opening between the pads, measured from where the two fingers are (not from
        the drive angle: a finger pushed by a block shows in the width)."""
        left, right = (
            np.array(p.getLinkState(self.body, f, physicsClientId=self.client)[4])
            for f in FINGER_LINKS
        )
        _, orientation = self._flange_pose()
        y_axis = np.array(p.getMatrixFromQuaternion(orientation)).reshape(3, 3)[:, 1]
        return float(abs(np.dot(left - right, y_axis)) - 2.0 * PAD_INSET)

    def _flange_pose(self) -> tuple[np.ndarray, tuple[float, ...]]:
        state = p.getLinkState(
            self.body, FLANGE_LINK, computeForwardKinematics=True, physicsClientId=self.client
        )
        return np.array(state[4]), state[5]

    def tool_pose(self) -> tuple[np.ndarray, np.ndarray]:
        position, orientation = self._flange_pose()
        z_axis = np.array(p.getMatrixFromQuaternion(orientation)).reshape(3, 3)[:, 2]
        return position + TOOL_OFFSET * z_axis, np.array(orientation)

    def tool_velocity(self) -> np.ndarray:
        state = p.getLinkState(
            self.body,
            FLANGE_LINK,
            computeLinkVelocity=True,
            computeForwardKinematics=True,
            physicsClientId=self.client,
        )
        z_axis = np.array(p.getMatrixFromQuaternion(state[5])).reshape(3, 3)[:, 2]
        return np.array(state[6]) + np.cross(np.array(state[7]), TOOL_OFFSET * z_axis)

    # --- commands ----------------------------------------------------------------------

    def can_reach(self, position: Sequence[float]) -> bool:
        """A quick geometric reach test before asking IK (the xArm's workspace sphere)."""
        return float(np.linalg.norm(np.asarray(position) - self.base_position)) <= MAX_REACH

    def solve_ik(
        self, position: Sequence[float], yaw: float, damping: Sequence[float] | None = None
    ) -> np.ndarray:
        """Joint angles that put the tool point at `position`, pointing down, rotated by
        yaw: IK for the gripper base `TOOL_OFFSET` above the point."""
        orientation = p.getQuaternionFromEuler([math.pi, 0.0, yaw])
        z_axis = np.array(p.getMatrixFromQuaternion(orientation)).reshape(3, 3)[:, 2]
        flange = np.asarray(position, dtype=float) - TOOL_OFFSET * z_axis
        extra = {} if damping is None else {"jointDamping": list(damping)}
        solution = p.calculateInverseKinematics(
            self.body,
            FLANGE_LINK,
            flange.tolist(),
            orientation,
            maxNumIterations=60,
            residualThreshold=1e-4,
            physicsClientId=self.client,
            **extra,
        )
        return np.clip(np.array(solution[: len(ARM_JOINTS)]), self.lower, self.upper)

    def command_arm(self, joints: Sequence[float]) -> None:
        self.arm_target = np.asarray(joints, dtype=float)

    def command_gripper(self, width: float, force: float = 40.0) -> None:
        self.gripper_target = float(np.clip(width, CLOSED_WIDTH, OPEN_WIDTH))
        self.gripper_force = force

    def hold_still(self) -> None:
        """Freeze where the arm is now (used on cancel: stop motion at once)."""
        self.arm_target = self.joint_positions()

    def apply_targets(self) -> None:
        """Send the motor targets to PyBullet when they changed (see the Panda's)."""
        arm = self.arm_target.tolist()
        if arm != self._sent_arm:
            p.setJointMotorControlArray(
                self.body,
                ARM_JOINTS,
                p.POSITION_CONTROL,
                targetPositions=arm,
                forces=list(ARM_FORCES),
                positionGains=[0.08] * len(ARM_JOINTS),
                physicsClientId=self.client,
            )
            self._sent_arm = arm
        gripper = (self.gripper_target, self.gripper_force)
        if gripper != self._sent_gripper:
            # Closing aims past a block's faces, so the drive presses with its whole
            # torque: `gripper_force` newtons at the pads.
            p.setJointMotorControl2(
                self.body,
                DRIVE_JOINT,
                p.POSITION_CONTROL,
                targetPosition=drive_for_width(self.gripper_target),
                force=GRIP_LEVER * self.gripper_force,
                positionGain=0.05,
                physicsClientId=self.client,
            )
            self._sent_gripper = gripper
        drive = p.getJointState(self.body, DRIVE_JOINT, physicsClientId=self.client)[0]
        sent = self._sent_followers
        if sent is None or abs(drive - sent) > FOLLOW_RESEND:
            p.setJointMotorControlArray(
                self.body,
                FOLLOWERS,
                p.POSITION_CONTROL,
                targetPositions=[drive] * len(FOLLOWERS),
                forces=[FOLLOW_TORQUE] * len(FOLLOWERS),
                positionGains=[FOLLOW_GAIN] * len(FOLLOWERS),
                physicsClientId=self.client,
            )
            self._sent_followers = drive

    def finger_contacts(self, body: int) -> tuple[bool, bool]:
        """Whether each finger touches `body`."""
        return tuple(  # type: ignore[return-value]
            bool(p.getContactPoints(self.body, body, finger, -1, physicsClientId=self.client))
            for finger in FINGER_LINKS
        )

    def grasp_yaw(self, object_yaw: float) -> float:
        """The tool yaw aligning the fingers with the block's faces, closest to the base's
        heading (least wrist rotation), as on the Panda."""
        natural = self.base_yaw
        return min(
            (object_yaw + k * math.pi / 2 for k in range(-4, 5)),
            key=lambda y: abs(math.remainder(y - natural, math.tau)),
        )


def build_xarm6(client: int, name: str, spec: RobotSpec, config: SimConfig) -> XArm6:
    """The scene's robot `name` as an xArm6, on its base pose."""
    return XArm6(client, name, spec.base_position, spec.base_yaw, config.finger_friction)


register_model("xarm6", build_xarm6, kind="arm")
