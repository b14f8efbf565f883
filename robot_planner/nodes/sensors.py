"""Camera, gripper and joint messages: published by the simulated executor, decoded by
the monitor. No cv_bridge (not in the PyPI wheels): images are rgb8 and 32FC1 arrays.

``/robot_planner/grippers`` (robot_planner_interfaces/Proprioception, converted in
`robot_planner.nodes.typed`) carries the proprioception the monitor needs with each
frame: each gripper's tool point and opening, and the mobile bases' odometry (centre,
heading, tray top and size; none without bases). Its stamp is the camera frame's,
converted as the images' are (`to_time`), so the two pair exactly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image, JointState

from robot_planner.world.observation import CameraFrame, Observation

log = logging.getLogger(__name__)
MAX_PIXELS = 4096 * 4096
REPORT_S = 30.0


class SensorError(ValueError):
    """A sensor message that cannot be decoded (one line)."""


def to_time(stamp: float) -> Time:
    sec = int(stamp)
    return Time(sec=sec, nanosec=round((stamp - sec) * 1e9) % 1_000_000_000)


def from_time(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def rgb_message(rgb: np.ndarray, stamp: float, frame_id: str) -> Image:
    msg = Image()
    msg.header.stamp, msg.header.frame_id = to_time(stamp), frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding, msg.is_bigendian, msg.step = "rgb8", 0, int(rgb.shape[1]) * 3
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def depth_message(depth: np.ndarray, stamp: float, frame_id: str) -> Image:
    msg = Image()
    msg.header.stamp, msg.header.frame_id = to_time(stamp), frame_id
    msg.height, msg.width = int(depth.shape[0]), int(depth.shape[1])
    msg.encoding, msg.is_bigendian, msg.step = "32FC1", 0, int(depth.shape[1]) * 4
    msg.data = np.ascontiguousarray(depth, dtype="<f4").tobytes()
    return msg


def info_message(
    K: np.ndarray, width: int, height: int, stamp: float, frame_id: str
) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp, msg.header.frame_id = to_time(stamp), frame_id
    msg.width, msg.height = width, height
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [float(v) for v in np.asarray(K).reshape(9)]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [msg.k[0], 0.0, msg.k[2], 0.0, 0.0, msg.k[4], msg.k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def decode_image(msg: Image) -> np.ndarray:
    """rgb8/bgr8 -> (H, W, 3) uint8; 32FC1 (metres) or 16UC1 (mm) -> (H, W) float32."""
    h, w = int(msg.height), int(msg.width)
    if h <= 0 or w <= 0 or h * w > MAX_PIXELS:
        raise SensorError(f"image of {w}x{h} pixels is not usable")
    data = bytes(msg.data)
    channels = {"rgb8": 3, "bgr8": 3, "32FC1": 4, "16UC1": 2}.get(msg.encoding)
    if channels is None:
        raise SensorError(f"image encoding {msg.encoding!r} is not supported")
    if msg.step < w * channels or len(data) < msg.step * h:
        raise SensorError(f"image of {w}x{h} {msg.encoding} has {len(data)} bytes")
    rows = np.frombuffer(data, dtype=np.uint8)[: msg.step * h].reshape(h, msg.step)
    rows = rows[:, : w * channels]
    if msg.encoding in ("rgb8", "bgr8"):
        image = rows.reshape(h, w, 3)
        return image[:, :, ::-1].copy() if msg.encoding == "bgr8" else image.copy()
    order = ">" if msg.is_bigendian else "<"
    if msg.encoding == "32FC1":
        return rows.copy().view(f"{order}f4").reshape(h, w).astype(np.float32)
    return rows.copy().view(f"{order}u2").reshape(h, w).astype(np.float32) / 1000.0


def camera_frame(
    name: str, color: Image, depth: Image, K: np.ndarray, world_from_camera: np.ndarray
) -> CameraFrame:
    rgb, z = decode_image(color), decode_image(depth)
    if rgb.ndim != 3 or z.ndim != 2 or rgb.shape[:2] != z.shape:
        raise SensorError("colour and depth images differ in size or kind")
    return CameraFrame(name, from_time(color.header.stamp), rgb, z, K, world_from_camera)


@dataclass
class SensorPublishers:
    color: Any
    depth: Any
    info: Any
    joints: Any
    grippers: Any


class SimSensors:
    """Publishes the simulated camera, grippers and joint states at their rates of
    simulated time; called from the execution thread (the only one touching PyBullet)."""

    def __init__(
        self,
        node: Any,
        world: Any,
        adapter: Any,
        publishers: SensorPublishers,
        *,
        camera: str,
        camera_rate_hz: float,
        joint_rate_hz: float,
        camera_process: bool = False,
    ):
        if camera_rate_hz <= 0 or joint_rate_hz <= 0:
            raise ValueError("camera_rate_hz and joint_state_rate_hz must be positive")
        spec = world.scene.cameras[camera]
        self.node = node
        self.world = world
        self.adapter = adapter
        self.pub = publishers
        self.camera = world.camera(camera, spec.width, spec.height)
        # Rendering (~120 ms a frame with TinyRenderer) holds the GIL; in a child process
        # it leaves the interpreter to cancels, plans and the robots' loop.
        self.renderer = None
        if camera_process:
            from robot_planner.sim.render_process import AsyncCamera  # the simulator's

            self.renderer = AsyncCamera(world, camera, spec.width, spec.height)
        self._frame_stamp = 0.0
        self.frame_id = f"{camera}_camera_optical_frame"
        self.camera_period = 1.0 / camera_rate_hz
        self.joint_period = 1.0 / joint_rate_hz
        self._next_frame = 0.0
        self._next_joints = 0.0
        self.frames = 0
        self._failed = False
        self._report_at = time.monotonic() + REPORT_S
        self._report_from = (time.monotonic(), 0.0, 0)

    def publish(self, now: float) -> None:
        """Publish what is due at robot time `now`. A publish that fails (the context is
        shutting down under Ctrl-C) is logged once, never raised into the robots' loop."""
        try:
            self._publish_due(now)
        except Exception as exc:
            if not self._failed:
                context = getattr(self.node, "context", None)
                shutting_down = context is not None and not context.ok()
                # Ctrl-C invalidates the context before the execution thread stops: quiet.
                (log.debug if shutting_down else log.warning)("sensor publishing stopped: %s", exc)
            self._failed = True

    def _publish_due(self, now: float) -> None:
        if now + 1e-9 >= self._next_joints:
            self._next_joints = now + self.joint_period
            self._publish_joints()
        if self.renderer is None:
            if now + 1e-9 >= self._next_frame:
                self._next_frame = now + self.camera_period
                self._publish_frame(self.world.observe(self.camera), self._stamp())
        else:
            if now + 1e-9 >= self._next_frame and self.renderer.request():
                # A snapshot now, rendered in the child; while one still renders, the next
                # is taken at the first tick after it finished.
                self._next_frame = now + self.camera_period
                self._frame_stamp = self._stamp()
            observation = self.renderer.poll()  # never blocks
            if observation is not None:
                self._publish_frame(observation, self._frame_stamp)
        if time.monotonic() >= self._report_at:
            self._report(now)

    def _report(self, now: float) -> None:
        """Log how fast simulated time and the camera really run (a slow machine shows
        here first)."""
        wall0, sim0, frames0 = self._report_from
        wall = time.monotonic()
        elapsed = max(1e-6, wall - wall0)
        self.node.get_logger().info(
            f"simulation {(now - sim0) / elapsed:.2f}x real time, camera "
            f"{(self.frames - frames0) / elapsed:.1f} frames/s over the last {elapsed:.0f} s"
        )
        self._report_from = (wall, now, self.frames)
        self._report_at = wall + REPORT_S

    def _stamp(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _publish_joints(self) -> None:
        msg = JointState()
        msg.header.stamp = to_time(self._stamp())
        for arm in self.world.arms.values():
            names, positions, velocities = arm.joint_state()
            msg.name.extend(names)
            msg.position.extend(float(v) for v in positions)
            msg.velocity.extend(float(v) for v in velocities)
        self.pub.joints.publish(msg)

    def _publish_frame(self, observation: Observation, stamp: float) -> None:
        from robot_planner.nodes.typed import proprioception_msg  # typed imports this module

        frame = observation.frame
        self.pub.grippers.publish(
            proprioception_msg(observation.grippers, stamp, observation.bases)
        )
        self.pub.info.publish(
            info_message(frame.K, frame.width, frame.height, stamp, self.frame_id)
        )
        self.pub.depth.publish(depth_message(frame.depth, stamp, self.frame_id))
        self.pub.color.publish(rgb_message(frame.rgb, stamp, self.frame_id))
        self.frames += 1

    def close(self) -> None:
        """Stop the render process, if any (after the execution thread stopped)."""
        if self.renderer is not None:
            self.renderer.close()
