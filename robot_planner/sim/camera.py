"""Fixed RGB-D cameras rendered headless, with intrinsics and pose.

TinyRenderer (CPU) works everywhere in DIRECT mode; a world built with
``renderer="egl"`` loads PyBullet's EGL plugin for OpenGL rendering where an EGL driver
exists (faster with a GPU; with Mesa's software llvmpipe it is no faster than
TinyRenderer). Frames are numpy arrays:
``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres along the optical axis, with the
pinhole intrinsics ``K`` and the camera pose ``world_from_camera`` (OpenCV axes: x right,
y down, z forward), which is what perception needs to back-project pixels.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pkgutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pybullet as p

from robot_planner.world.observation import CameraFrame
from robot_planner.world.scene import CameraSpec

if TYPE_CHECKING:
    from robot_planner.sim.world import SimWorld

log = logging.getLogger(__name__)


def load_egl_plugin(client: int) -> bool:
    """Load PyBullet's EGL renderer into a client; True on success.

    It must be loaded before any body is created, or the bodies are not drawn.
    """
    loader = pkgutil.get_loader("eglRenderer")
    if loader is None:
        log.warning("EGL renderer plugin not found; using TinyRenderer")
        return False
    with quiet_c_stdout():
        plugin = p.loadPlugin(
            loader.get_filename(),
            "_eglRendererPlugin",  # type: ignore[union-attr]
            physicsClientId=client,
        )
    if plugin < 0:
        log.warning("EGL renderer plugin failed to load; using TinyRenderer")
        return False
    return True


@contextlib.contextmanager
def quiet_c_stdout() -> Iterator[None]:
    """PyBullet prints on the C stdout (the EGL plugin's driver details, a warning per
    inertia-less link of some URDFs): keep the CLI's output, and its JSON, clean."""
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class Camera:
    """A fixed camera in a `SimWorld` (rendered with the world's renderer)."""

    def __init__(self, world: SimWorld, name: str, spec: CameraSpec):
        self.world = world
        self.name = name
        self.spec = spec
        self.renderer = p.ER_BULLET_HARDWARE_OPENGL if world.egl else p.ER_TINY_RENDERER
        self.view = p.computeViewMatrix(
            list(spec.eye), list(spec.target), list(spec.up), physicsClientId=world.client
        )
        self.projection = p.computeProjectionMatrixFOV(
            spec.fov_deg,
            spec.width / spec.height,
            spec.near,
            spec.far,
            physicsClientId=world.client,
        )
        self.K = spec.intrinsics()
        self.world_from_camera = spec.world_from_camera()

    def capture(self) -> CameraFrame:
        spec = self.spec
        _, _, rgba, zbuffer, _ = p.getCameraImage(
            spec.width,
            spec.height,
            self.view,
            self.projection,
            renderer=self.renderer,
            flags=p.ER_NO_SEGMENTATION_MASK,
            shadow=0,
            physicsClientId=self.world.client,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(spec.height, spec.width, 4)[:, :, :3]
        z = np.asarray(zbuffer, dtype=np.float32).reshape(spec.height, spec.width)
        near, far = spec.near, spec.far
        depth = (far * near / (far - (far - near) * z)).astype(np.float32)
        return CameraFrame(
            self.name,
            self.world.time,
            rgb.copy(),
            depth,
            self.K.copy(),
            self.world_from_camera.copy(),
        )

    def project(self, point: np.ndarray) -> tuple[float, float, float]:
        """Pixel (u, v) and depth of a world point (tests and overlays)."""
        camera_from_world = np.linalg.inv(self.world_from_camera)
        x, y, z = (camera_from_world @ np.append(np.asarray(point, dtype=float), 1.0))[:3]
        u = self.K[0, 0] * x / z + self.K[0, 2]
        v = self.K[1, 1] * y / z + self.K[1, 2]
        return float(u), float(v), float(z)


def default_camera_spec() -> CameraSpec:
    """Used when a scene defines no camera: above the table, looking down at a slant."""
    return CameraSpec(eye=(0.0, -0.75, 1.55), target=(0.0, 0.02, 0.625))
