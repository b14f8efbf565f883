"""What a monitor sees: a camera frame plus proprioception (gripper poses and widths,
mobile bases' odometry).

Kept in the bottom layer so the simulator (which produces observations) and the monitor
(which consumes them) share the types without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraFrame:
    """One RGB-D frame: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres along the
    optical axis, pinhole intrinsics ``K`` (3x3) and the camera pose ``world_from_camera``
    (4x4, OpenCV axes: x right, y down, z forward)."""

    name: str
    stamp: float
    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    world_from_camera: np.ndarray

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True)
class GripperState:
    """A gripper from forward kinematics: tool point (between the fingertips, world
    frame, metres) and finger opening (metres). Proprioception, not perception."""

    position: np.ndarray
    width: float


@dataclass(frozen=True)
class BaseState:
    """A mobile base from its odometry: centre on the floor (x, y), heading (radians),
    the centre of its tray's top surface (world frame) and the tray's inner size (x along
    the heading, y across), metres. Proprioception, not perception."""

    center: np.ndarray
    yaw: float
    tray_top: np.ndarray
    tray_size: tuple[float, float]


@dataclass(frozen=True)
class Observation:
    """A camera frame and the robots' own states (grippers, bases) at the same instant.

    ``views`` are frames of other cameras at that instant, taken when a look matters more
    than its cost (re-planning): an object the main camera cannot see (behind a tower)
    is placed from a view that sees it."""

    stamp: float
    frame: CameraFrame
    grippers: dict[str, GripperState] = field(default_factory=dict)
    bases: dict[str, BaseState] = field(default_factory=dict)
    views: tuple[CameraFrame, ...] = ()
