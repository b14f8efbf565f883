"""A Franka Panda from ``pybullet_data`` driven by position control and IK: the robot
model ``franka_panda``.

Every call passes the physics client id, so several worlds can live in one process.
Link 11 (``panda_grasptarget``) is the tool point between the fingertips; the fingers
are prismatic joints 9 and 10 (0 to 0.04 m each).
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

ARM_JOINTS = tuple(range(7))
FINGER_JOINTS = (9, 10)
TOOL_LINK = 11
#: A comfortable configuration with the hand pointing down in front of the base.
HOME = (0.0, -0.5, 0.0, -2.3, 0.0, 1.8, 0.785)
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
#: Straight-line reach of the tool point from the shoulder, with margin (metres).
MAX_REACH = 0.82
SHOULDER_HEIGHT = 0.333
#: Damping of PyBullet's damped-least-squares IK, per movable joint (7 arm, 2 finger),
#: that the skills use. With PyBullet's default damping a solve crawls towards the goal:
#: 60 iterations (0.3 ms) left a move across the table 2-5 cm short, and only re-solving
#: every few steps closed the gap. At 0.01 a solve reaches the 0.1 mm residual threshold
#: in a handful of iterations (0.05 ms) and picks nearly the same posture as a fully
#: converged default solve (within 0.1 rad; the rest pose still steers the redundancy).
IK_DAMPING = (0.01,) * 9
#: Force (N) of the constraint that keeps the two fingers at the same opening.
GEAR_FORCE = 2.0
#: Fully open gripper (m): two fingers of 0.04 m travel each.
OPEN_WIDTH = 0.08
#: The hand's body around the tool point pointing down (m): half its length along the
#: fingers' closing axis, half its depth across, and its underside's height above the
#: tool point (the URDF's collision boxes; the fingers hang below it).
HAND_BOX = (0.106, 0.036, 0.035)


class PandaArm:
    """One Panda arm: joint state, IK, arm and gripper commands, finger contacts (a
    `SimArm`)."""

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
        self.body = p.loadURDF(
            "franka_panda/panda.urdf",
            list(base_position),
            p.getQuaternionFromEuler([0.0, 0.0, base_yaw]),
            useFixedBase=True,
            flags=p.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT,
            physicsClientId=client,
        )
        info = [p.getJointInfo(self.body, j, physicsClientId=client) for j in ARM_JOINTS]
        self.lower = [i[8] for i in info]
        self.upper = [i[9] for i in info]
        self.ranges = [u - lo for lo, u in zip(self.lower, self.upper, strict=True)]
        for finger in FINGER_JOINTS:
            p.changeDynamics(
                self.body,
                finger,
                lateralFriction=finger_friction,
                spinningFriction=0.01,
                frictionAnchor=True,
                physicsClientId=client,
            )
        # The real hand's fingers are coupled (one motor, a rack): they open and close
        # together, centred on the tool point. The URDF's fingers are two independent
        # joints, and two motors squeezing a block at full force hold it in neutral
        # balance along the axis they close on: during a carry the block sloshed 1-2 cm
        # with both fingers, landed that far from its spot, or put a finger on a bin's
        # wall. A gear constraint couples them (as PyBullet's own Panda grasp example
        # does), softly: `GEAR_FORCE` holds a block (0.08 kg, under 0.5 N in a carry)
        # centred, and gives way when a finger brushes a bin's wall on the way down, as
        # the real arm's compliance does (rigidly coupled, a pick from a corner jammed).
        gear = p.createConstraint(
            self.body,
            FINGER_JOINTS[0],
            self.body,
            FINGER_JOINTS[1],
            jointType=p.JOINT_GEAR,
            jointAxis=[1, 0, 0],
            parentFramePosition=[0, 0, 0],
            childFramePosition=[0, 0, 0],
            physicsClientId=client,
        )
        p.changeConstraint(
            gear, gearRatio=-1, erp=0.1, maxForce=GEAR_FORCE, physicsClientId=client
        )
        self.gripper_force = 40.0
        #: The motor commands last sent to PyBullet (it keeps them until replaced).
        self._sent_arm: list[float] | None = None
        self._sent_gripper: tuple[float, float] | None = None
        self.reset(HOME, gripper_width=OPEN_WIDTH)

    # --- state -------------------------------------------------------------------------

    def reset(self, joints: Sequence[float], gripper_width: float) -> None:
        """Teleport the joints (scene set-up only; motion goes through the motors)."""
        for j, q in zip(ARM_JOINTS, joints, strict=True):
            p.resetJointState(self.body, j, q, physicsClientId=self.client)
        for finger in FINGER_JOINTS:
            p.resetJointState(self.body, finger, gripper_width / 2, physicsClientId=self.client)
        self.arm_target = np.array(joints, dtype=float)
        self.gripper_target = gripper_width
        self._sent_arm = self._sent_gripper = None  # send both, whatever was sent before
        self.apply_targets()

    def joint_positions(self) -> np.ndarray:
        states = p.getJointStates(self.body, ARM_JOINTS, physicsClientId=self.client)
        return np.array([s[0] for s in states])

    def joint_state(self) -> tuple[list[str], list[float], list[float]]:
        """Names, positions and velocities of arm and finger joints (for /joint_states)."""
        joints = (*ARM_JOINTS, *FINGER_JOINTS)
        states = p.getJointStates(self.body, joints, physicsClientId=self.client)
        names = [f"{self.name}/panda_joint{j + 1}" for j in ARM_JOINTS] + [
            f"{self.name}/panda_finger_joint1",
            f"{self.name}/panda_finger_joint2",
        ]
        return names, [s[0] for s in states], [s[1] for s in states]

    def finger_width(self) -> float:
        states = p.getJointStates(self.body, FINGER_JOINTS, physicsClientId=self.client)
        return float(states[0][0] + states[1][0])

    def tool_pose(self) -> tuple[np.ndarray, np.ndarray]:
        state = p.getLinkState(
            self.body, TOOL_LINK, computeForwardKinematics=True, physicsClientId=self.client
        )
        return np.array(state[4]), np.array(state[5])

    def tool_velocity(self) -> np.ndarray:
        state = p.getLinkState(
            self.body, TOOL_LINK, computeLinkVelocity=True, physicsClientId=self.client
        )
        return np.array(state[6])

    # --- commands ----------------------------------------------------------------------

    def can_reach(self, position: Sequence[float]) -> bool:
        """A quick geometric reach test before asking IK (the Panda's workspace sphere)."""
        shoulder = self.base_position + np.array([0.0, 0.0, SHOULDER_HEIGHT])
        return float(np.linalg.norm(np.asarray(position) - shoulder)) <= MAX_REACH

    def solve_ik(
        self, position: Sequence[float], yaw: float, damping: Sequence[float] | None = None
    ) -> np.ndarray:
        """Joint angles that put the tool point at `position`, pointing down, rotated by yaw.

        `damping` (one value per movable joint, e.g. `IK_DAMPING`) replaces PyBullet's
        default damping, whose single solve can stop centimetres short of a far target.
        The default stays PyBullet's for now because the geometric-VQA test poses the hand
        with one such solve and was tuned to where it lands."""
        orientation = p.getQuaternionFromEuler([math.pi, 0.0, yaw])
        extra = {} if damping is None else {"jointDamping": list(damping)}
        solution = p.calculateInverseKinematics(
            self.body,
            TOOL_LINK,
            list(position),
            orientation,
            lowerLimits=self.lower,
            upperLimits=self.upper,
            jointRanges=self.ranges,
            restPoses=list(HOME),
            maxNumIterations=60,
            residualThreshold=1e-4,
            physicsClientId=self.client,
            **extra,
        )
        return np.clip(np.array(solution[:7]), self.lower, self.upper)

    def command_arm(self, joints: Sequence[float]) -> None:
        self.arm_target = np.asarray(joints, dtype=float)

    def command_gripper(self, width: float, force: float = 40.0) -> None:
        self.gripper_target = float(np.clip(width, 0.0, OPEN_WIDTH))
        self.gripper_force = force

    def hold_still(self) -> None:
        """Freeze where the arm is now (used on cancel: stop motion at once)."""
        self.arm_target = self.joint_positions()

    def apply_targets(self) -> None:
        """Send the motor targets to PyBullet, skipping those it already has: a position
        motor keeps its target from step to step (the simulation is bit-for-bit the same),
        and resending both arms' targets every step cost ~0.07 s per simulated 10 s."""
        arm = self.arm_target.tolist()
        if arm != self._sent_arm:
            p.setJointMotorControlArray(
                self.body,
                ARM_JOINTS,
                p.POSITION_CONTROL,
                targetPositions=arm,
                forces=list(ARM_FORCES),
                positionGains=[0.08] * 7,
                physicsClientId=self.client,
            )
            self._sent_arm = arm
        gripper = (self.gripper_target, self.gripper_force)
        if gripper != self._sent_gripper:
            p.setJointMotorControlArray(
                self.body,
                FINGER_JOINTS,
                p.POSITION_CONTROL,
                targetPositions=[self.gripper_target / 2] * 2,
                forces=[self.gripper_force] * 2,
                positionGains=[0.05] * 2,
                physicsClientId=self.client,
            )
            self._sent_gripper = gripper

    def finger_contacts(self, body: int) -> tuple[bool, bool]:
        """Whether each finger touches `body`."""
        return tuple(  # type: ignore[return-value]
            bool(p.getContactPoints(self.body, body, finger, -1, physicsClientId=self.client))
            for finger in FINGER_JOINTS
        )

    def grasp_yaw(self, object_yaw: float) -> float:
        """The tool yaw that aligns the fingers with the block's faces, closest to the
        yaw the arm has when pointing away from its base (least wrist rotation)."""
        natural = self.base_yaw
        best = natural
        best_err = math.inf
        for k in range(-4, 5):
            candidate = object_yaw + k * math.pi / 2
            err = abs(math.atan2(math.sin(candidate - natural), math.cos(candidate - natural)))
            if err < best_err:
                best, best_err = candidate, err
        return best


def build_panda(client: int, name: str, spec: RobotSpec, config: SimConfig) -> PandaArm:
    """The scene's robot `name` as a Panda, on its base pose."""
    return PandaArm(client, name, spec.base_position, spec.base_yaw, config.finger_friction)


register_model("franka_panda", build_panda, kind="arm")
