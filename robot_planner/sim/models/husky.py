"""A Clearpath Husky from ``pybullet_data`` with a flat tray on top: the robot model
``husky`` (a mobile base, `SimBase`).

Motion is a base velocity controller: every physics step the chassis gets the planar
velocity (forward speed, yaw rate) of a ramp that respects the acceleration limits, and
the four wheels spin to match. It is not wheel torque control because PyBullet's
skid-steer contact does not turn like the robot: with the wheels driven alone, a 90°
turn on the spot pivoted about a point 0.37 m behind the centre, drifted 0.5 m and
reached only part of the commanded yaw rate. A real Husky's own driver closes that loop
on odometry; this is that loop's result. Gravity, contacts and whatever rides on the
tray stay physical: a parcel on the tray is held by friction only and feels the ramp's
accelerations.

Every call passes the physics client id, so several worlds can live in one process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pybullet as p

from robot_planner.sim.camera import quiet_c_stdout
from robot_planner.sim.models.registry import register_model

if TYPE_CHECKING:
    from robot_planner.sim.world import SimConfig
    from robot_planner.world.scene import RobotSpec

URDF = "husky/husky.urdf"
#: The wheel joints, left then right, and their radius and separation.
LEFT_WHEELS = ("front_left_wheel", "rear_left_wheel")
RIGHT_WHEELS = ("front_right_wheel", "rear_right_wheel")
WHEEL_RADIUS = 0.17775
TRACK = 0.5708
#: Top of the chassis' collision box above the floor (metres).
CHASSIS_TOP = 0.4045
#: Half extents of the footprint with bumpers and wheels (x along the heading, y across).
FOOTPRINT = (0.51, 0.35)
#: The tray: inner size (x, y), floor thickness, rim height and thickness (metres).
TRAY_SIZE = (0.40, 0.32)
TRAY_FLOOR = 0.01
TRAY_RIM_HEIGHT = 0.025
TRAY_RIM = 0.01
TRAY_MASS = 1.5
TRAY_RGBA = (0.85, 0.62, 0.2, 1.0)
#: Speed limits and accelerations: gentle enough that a 6 cm parcel neither slides
#: (friction 1.0 holds up to ~9.8 m/s^2) nor tips on the tray, with a wide margin.
MAX_SPEED = 0.6
MAX_ACCEL = 0.5
MAX_TURN_RATE = 0.8
MAX_TURN_ACCEL = 1.0
#: Wheel friction is low because the chassis velocity is imposed: full friction
#: scrubbing sideways in a turn took most of each step's yaw rate away again.
WHEEL_FRICTION = 0.2
WHEEL_FORCE = 100.0


class HuskyBase:
    """One Husky with a tray, driven by a ramped chassis velocity (a `SimBase`)."""

    tray_size = TRAY_SIZE
    footprint = FOOTPRINT
    max_speed = MAX_SPEED
    max_turn_rate = MAX_TURN_RATE
    max_accel = MAX_ACCEL
    max_turn_accel = MAX_TURN_ACCEL

    def __init__(
        self,
        client: int,
        name: str,
        base_position: Sequence[float],
        base_yaw: float,
        tray_offset: float = 0.0,
    ):
        """Load the Husky standing at `base_position` (x, y) with heading `base_yaw`.

        Args:
            tray_offset: where the tray's centre sits along the heading from the chassis'
                centre (m): 0 (the bases) is the middle of the chassis top; a negative
                offset moves it to the rear half (room for something mounted in front).
        """
        self.client = client
        self.name = name
        self.tray_offset = float(tray_offset)
        self.time_step = p.getPhysicsEngineParameters(physicsClientId=client)["fixedTimeStep"]
        position = [float(base_position[0]), float(base_position[1]), 0.0]
        orientation = p.getQuaternionFromEuler([0.0, 0.0, base_yaw])
        with quiet_c_stdout():  # a warning per inertia-less Husky link
            # Merged fixed links: the chassis, rails and bumpers are one rigid body (six
            # fewer links to integrate, about a third of the Husky's step time).
            self.body = p.loadURDF(
                URDF,
                position,
                orientation,
                flags=p.URDF_MERGE_FIXED_LINKS,
                physicsClientId=client,
            )
        joints = {
            p.getJointInfo(self.body, j, physicsClientId=client)[1].decode(): j
            for j in range(p.getNumJoints(self.body, physicsClientId=client))
        }
        self.wheels = tuple(joints[n] for n in (*LEFT_WHEELS, *RIGHT_WHEELS))
        for wheel in self.wheels:
            p.changeDynamics(
                self.body, wheel, lateralFriction=WHEEL_FRICTION, physicsClientId=client
            )
        # Parked with the brakes on: the wheel motors hold a velocity of zero.
        p.setJointMotorControlArray(
            self.body,
            self.wheels,
            p.VELOCITY_CONTROL,
            targetVelocities=[0.0] * 4,
            forces=[WHEEL_FORCE] * 4,
            physicsClientId=client,
        )
        # PyBullet reports a merged base at its centre of mass; poses are of the origin
        # (on the floor, between the wheels).
        inertial = p.getDynamicsInfo(self.body, -1, physicsClientId=client)[3:5]
        self._com_from_origin = p.invertTransform(*inertial)
        self.tray = self._make_tray(position, orientation)
        #: Target and ramped (commanded) chassis velocity: forward m/s, yaw rate rad/s.
        self.target = (0.0, 0.0)
        self.command = (0.0, 0.0)

    def _make_tray(self, position: list[float], orientation: Sequence[float]) -> int:
        """A thin plate with a low rim, fixed on the chassis by a constraint; it does not
        collide with the Husky itself (it rests on the constraint, not on the plate)."""
        c = self.client
        hx, hy = TRAY_SIZE[0] / 2 + TRAY_RIM, TRAY_SIZE[1] / 2 + TRAY_RIM
        floor, rim, height = TRAY_FLOOR / 2, TRAY_RIM / 2, TRAY_RIM_HEIGHT / 2
        z = TRAY_FLOOR + height
        parts = [
            ([hx, hy, floor], [0.0, 0.0, floor]),
            ([hx, rim, height], [0.0, hy - rim, z]),
            ([hx, rim, height], [0.0, -hy + rim, z]),
            ([rim, hy - 2 * rim, height], [hx - rim, 0.0, z]),
            ([rim, hy - 2 * rim, height], [-hx + rim, 0.0, z]),
        ]
        halves = [h for h, _ in parts]
        offsets = [o for _, o in parts]
        collision = p.createCollisionShapeArray(
            [p.GEOM_BOX] * len(parts),
            halfExtents=halves,
            collisionFramePositions=offsets,
            physicsClientId=c,
        )
        visual = p.createVisualShapeArray(
            [p.GEOM_BOX] * len(parts),
            halfExtents=halves,
            visualFramePositions=offsets,
            rgbaColors=[list(TRAY_RGBA)] * len(parts),
            physicsClientId=c,
        )
        heading = p.getMatrixFromQuaternion(orientation)[0:7:3]  # the body's x axis
        at = [
            position[0] + self.tray_offset * heading[0],
            position[1] + self.tray_offset * heading[1],
            CHASSIS_TOP + 0.001,
        ]
        tray = p.createMultiBody(
            TRAY_MASS, collision, visual, at, list(orientation), physicsClientId=c
        )
        p.changeDynamics(tray, -1, lateralFriction=1.0, physicsClientId=c)
        for link in range(-1, p.getNumJoints(self.body, physicsClientId=c)):
            p.setCollisionFilterPair(self.body, tray, link, -1, 0, physicsClientId=c)
        # A constraint's parent frame is relative to the base's centre of mass (not its
        # origin on the floor): express the tray's pose there.
        frame, frame_orientation = p.multiplyTransforms(
            *self._com_from_origin,
            [self.tray_offset, 0.0, CHASSIS_TOP + 0.001],
            [0.0, 0.0, 0.0, 1.0],
        )
        p.createConstraint(
            self.body,
            -1,
            tray,
            -1,
            p.JOINT_FIXED,
            [0.0, 0.0, 0.0],
            frame,
            [0.0, 0.0, 0.0],
            parentFrameOrientation=frame_orientation,
            physicsClientId=c,
        )
        return tray

    # --- state -------------------------------------------------------------------------

    def pose(self) -> tuple[np.ndarray, float]:
        com = p.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        pos, orn = p.multiplyTransforms(*com, *self._com_from_origin)
        return np.array(pos[:2]), p.getEulerFromQuaternion(orn)[2]

    def origin_pose(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The chassis' origin (on the floor, between the wheels) as a full 3-D pose,
        position and quaternion, roll and pitch included: what is mounted on the chassis
        follows this."""
        com = p.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        return p.multiplyTransforms(*com, *self._com_from_origin)

    def velocity(self) -> tuple[float, float]:
        linear, angular = p.getBaseVelocity(self.body, physicsClientId=self.client)
        _, yaw = self.pose()
        forward = linear[0] * math.cos(yaw) + linear[1] * math.sin(yaw)
        return float(forward), float(angular[2])

    def tray_pose(self) -> tuple[np.ndarray, np.ndarray]:
        pos, orn = p.getBasePositionAndOrientation(self.tray, physicsClientId=self.client)
        up = np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3)[:, 2]
        return np.array(pos) + TRAY_FLOOR * up, np.array(orn)

    def joint_state(self) -> tuple[list[str], list[float], list[float]]:
        """Names, positions and velocities of the wheel joints (for /joint_states)."""
        states = p.getJointStates(self.body, self.wheels, physicsClientId=self.client)
        names = [f"{self.name}/{wheel}" for wheel in (*LEFT_WHEELS, *RIGHT_WHEELS)]
        return names, [s[0] for s in states], [s[1] for s in states]

    # --- commands ----------------------------------------------------------------------

    def drive(self, forward: float, turn: float) -> None:
        self.target = (_clamp(float(forward), MAX_SPEED), _clamp(float(turn), MAX_TURN_RATE))

    def stop(self) -> None:
        self.target = (0.0, 0.0)

    def hold_still(self) -> None:
        self.stop()

    def apply_targets(self) -> None:
        """Ramp the commanded velocity towards the target and impose it on the chassis
        (keeping its vertical motion, roll and pitch, which gravity and contacts own)."""
        dt = self.time_step
        v, w = self.command
        if v == w == 0.0 and self.target == (0.0, 0.0):
            return  # parked: the wheel motors hold it (velocity 0), nothing to impose
        v += _clamp(self.target[0] - v, MAX_ACCEL * dt)
        w += _clamp(self.target[1] - w, MAX_TURN_ACCEL * dt)
        self.command = (v, w)
        c = self.client
        linear, angular = p.getBaseVelocity(self.body, physicsClientId=c)
        _, yaw = self.pose()
        p.resetBaseVelocity(
            self.body,
            [v * math.cos(yaw), v * math.sin(yaw), linear[2]],
            [angular[0], angular[1], w],
            physicsClientId=c,
        )
        left = (v - w * TRACK / 2) / WHEEL_RADIUS
        right = (v + w * TRACK / 2) / WHEEL_RADIUS
        p.setJointMotorControlArray(
            self.body,
            self.wheels,
            p.VELOCITY_CONTROL,
            targetVelocities=[left, left, right, right],
            forces=[WHEEL_FORCE] * 4,
            physicsClientId=c,
        )


def _clamp(value: float, limit: float) -> float:
    """`value` within [-limit, limit] (a scalar: numpy's clip costs 15 µs a call)."""
    return max(-limit, min(limit, value))


def build_husky(client: int, name: str, spec: RobotSpec, config: SimConfig) -> HuskyBase:
    """The scene's robot `name` as a Husky with a tray, standing at its base pose."""
    return HuskyBase(client, name, spec.base_position, spec.base_yaw)


register_model("husky", build_husky, kind="base")
