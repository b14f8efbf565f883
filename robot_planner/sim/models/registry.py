"""The robot-model registry: scene ``model:`` name -> a factory for a simulated robot.

A scene names each robot's model (``model: franka_panda``); `SimWorld` builds every robot
through `get_model(name).factory`, so a new arm is one module in this package that calls
`register_model`, and a model the simulator does not know is a one-line configuration
error instead of a silently substituted Panda.

The `SimArm` protocol is what the skills (`robot_planner.sim.skills`), ground truth, the
adapter, the camera/joint-state publishers and the disturbances need from an arm; the
`SimBase` protocol is what ``navigate``, ground truth and the arms' skills (a parcel put
on a tray) need from a mobile base. A factory returns one or the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from robot_planner.untrusted import shown

if TYPE_CHECKING:
    from robot_planner.sim.world import SimConfig
    from robot_planner.world.scene import RobotSpec


@runtime_checkable
class SimArm(Protocol):
    """A simulated arm with a parallel gripper, driven by position control.

    Poses are in the world frame, metres; the tool point is between the fingertips and
    "pointing down" means its z axis points at the table.
    """

    #: The robot's name in the scene (prefixes its joint names, appears in failures).
    name: str
    base_position: np.ndarray
    #: Heading of the base about +z (radians); the skills' natural grasp yaw.
    base_yaw: float
    #: Joint configuration of the ``move_home`` skill, clear of the workspace.
    home: tuple[float, ...]
    #: Damping, one value per movable joint, that the skills pass to `solve_ik`.
    ik_damping: tuple[float, ...]
    #: Gripper opening (m) of an open gripper; wider than every block it grasps.
    open_width: float
    #: The hand's body pointing down: half length along the fingers' closing axis, half
    #: depth across, underside height above the tool point (m). A pick turns the grasp
    #: so that a taller neighbour is not under the hand.
    hand_box: tuple[float, float, float]

    def reset(self, joints: Sequence[float], gripper_width: float) -> None:
        """Teleport the joints (scene set-up and tests only)."""
        ...

    def joint_positions(self) -> np.ndarray:
        """Arm joint angles (no fingers), in the order `solve_ik` returns them."""
        ...

    def joint_state(self) -> tuple[list[str], list[float], list[float]]:
        """Names, positions and velocities of arm and finger joints (for /joint_states)."""
        ...

    def finger_width(self) -> float:
        """Current gripper opening (m)."""
        ...

    def tool_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Tool point position and orientation quaternion (x, y, z, w)."""
        ...

    def tool_velocity(self) -> np.ndarray:
        """Linear velocity of the tool point (m/s)."""
        ...

    def can_reach(self, position: Sequence[float]) -> bool:
        """A quick geometric reach test before asking IK."""
        ...

    def solve_ik(
        self, position: Sequence[float], yaw: float, damping: Sequence[float] | None = None
    ) -> np.ndarray:
        """Joint angles putting the tool point at `position`, pointing down, at `yaw`."""
        ...

    def command_arm(self, joints: Sequence[float]) -> None:
        """Set the arm's joint targets (sent to the motors by `apply_targets`)."""
        ...

    def command_gripper(self, width: float, force: float = 40.0) -> None:
        """Set the gripper's target opening (m) and force (N)."""
        ...

    def hold_still(self) -> None:
        """Freeze where the arm is now (cancel: stop motion at once)."""
        ...

    def apply_targets(self) -> None:
        """Send the motor targets to the physics engine (once per step, by the world)."""
        ...

    def finger_contacts(self, body: int) -> tuple[bool, bool]:
        """Whether each finger touches the PyBullet body `body`."""
        ...

    def grasp_yaw(self, object_yaw: float) -> float:
        """The tool yaw aligning the fingers with a block's faces at `object_yaw`."""
        ...


@runtime_checkable
class SimBase(Protocol):
    """A simulated mobile base with a flat tray on top, driven by chassis velocity.

    Poses are in the world frame, metres and radians; x is the base's heading. Motion is
    physical: `drive` sets a target velocity that `apply_targets` reaches within the
    model's acceleration limits, so whatever rides on the tray feels real accelerations.
    """

    #: The robot's name in the scene (appears in failures).
    name: str
    #: PyBullet body ids of the base and of its tray (objects touch the tray).
    body: int
    tray: int
    #: Inner size of the tray (x along the heading, y across), metres.
    tray_size: tuple[float, float]
    #: Half extents of the base's footprint (x along the heading, y across), metres:
    #: what the traffic rule keeps apart.
    footprint: tuple[float, float]
    #: Speed and yaw-rate limits (m/s, rad/s) and accelerations (m/s^2, rad/s^2).
    max_speed: float
    max_turn_rate: float
    max_accel: float
    max_turn_accel: float

    def pose(self) -> tuple[np.ndarray, float]:
        """Position (x, y) of the base's centre on the floor and its yaw."""
        ...

    def velocity(self) -> tuple[float, float]:
        """Measured forward speed (m/s, negative when reversing) and yaw rate (rad/s)."""
        ...

    def drive(self, forward: float, turn: float) -> None:
        """Set the target forward speed and yaw rate (clipped to the limits)."""
        ...

    def stop(self) -> None:
        """Brake to a standstill at the acceleration limits (nothing slides off the tray)."""
        ...

    def hold_still(self) -> None:
        """Stop (cancel); the same gentle braking as `stop`."""
        ...

    def tray_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre of the tray's top surface and its orientation quaternion (x, y, z, w)."""
        ...

    def apply_targets(self) -> None:
        """Advance the velocity ramp and send it to the physics (once per step)."""
        ...


#: What a model factory builds: an arm or a mobile base.
SimRobot = SimArm | SimBase


class ModelFactory(Protocol):
    """Loads one robot into a PyBullet client, placed as the scene's `spec` says."""

    def __call__(
        self, client: int, name: str, spec: RobotSpec, config: SimConfig
    ) -> SimArm | SimBase: ...


@dataclass(frozen=True)
class RobotModel:
    """A registered robot model.

    Attributes:
        name: the scene's ``model:`` value.
        kind: the domain's robot kind (``arm``, ``base``); sim skills declare the kinds they
            run on.
        factory: builds the robot in a world.
        module: where it was registered (for the duplicate-registration message).
    """

    name: str
    kind: str
    factory: ModelFactory
    module: str


#: Every registered model by scene ``model:`` name.
MODELS: dict[str, RobotModel] = {}


def register_model(name: str, factory: ModelFactory, *, kind: str = "arm") -> ModelFactory:
    """Make `factory` the simulator's model `name` (a robot of `kind`) and return it.

    Registering a name twice is an error: two modules claiming one model would make the
    world depend on import order."""
    module = getattr(factory, "__module__", "?")
    existing = MODELS.get(name)
    if existing is not None and existing.factory is not factory:
        raise ValueError(
            f"robot model '{name}' is registered twice ({existing.module} and {module})"
        )
    MODELS[name] = RobotModel(name, kind, factory, module)
    return factory


def known_models() -> tuple[str, ...]:
    """Registered model names, sorted (for messages)."""
    return tuple(sorted(MODELS))


def get_model(name: str) -> RobotModel:
    """The model registered as `name`; `LookupError` with the known names otherwise
    (one line, whatever the scene file put in the name)."""
    model = MODELS.get(name)
    if model is None:
        raise LookupError(
            f"unknown robot model '{shown(name)}' (known: {', '.join(known_models()) or 'none'})"
        )
    return model
