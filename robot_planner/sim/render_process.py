"""A `SimWorld` camera rendered in a child process, so rendering does not hold the GIL of
the process that runs the robots.

A TinyRenderer frame takes about 120 ms of one core here, and PyBullet's C calls keep the
GIL all that time: in the executor node, cancels and plans waited behind the camera.
`AsyncCamera` moves only the rendering out. The caller (the execution thread, the only one
touching the physics client) takes a snapshot of every body's base pose and joint
positions (about 0.1 ms), sends it with its simulated time and steps on at once; a child
process holding its own DIRECT client, with the same scene built the same way
(`SimWorld` from the pickled scene, seed and config; bodies matched by their
`SimWorld.named_bodies` names, not by id order), applies the snapshot with
``resetBasePositionAndOrientation``/``resetJointState`` and renders with the same camera.
The frame comes back through shared memory (a pipe would make the caller wait for the
child to write half a megabyte); `AsyncCamera.poll` never blocks and returns the frame
stamped with the snapshot's simulated time, with the grippers and bases as they were at
that instant (taken synchronously with the snapshot), so a frame is late but correctly
stamped. For the same state the child's frame equals `Camera.capture` pixel for pixel
(the tests check it on both scenes).

At most one frame is in flight: `AsyncCamera.request` while the child renders returns
False and the snapshot is dropped (counted in `AsyncCamera.skipped`), so the child never
renders more often than one frame at a time and a slow machine gets fewer frames, not
older ones. The child is started with the ``spawn`` context (never fork a process holding
a PyBullet client), exits on `AsyncCamera.close`, on the parent's death and on EOF of its
pipe; an error in the child comes back as one `RenderProcessError`, and a child that
dies or stops answering (`frame_timeout_s`) is one too, never a hang.

Limits: the child builds the scene from the scene object, so a body added to the
parent's client after construction, outside `SimWorld`, is not rendered (a warning says
so once), and a robot model registered at run time outside `robot_planner.sim.models`
is unknown to the child (a start-up `RenderProcessError`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import sys
import time
import traceback
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

import numpy as np
import pybullet as p

from robot_planner.world.observation import BaseState, CameraFrame, GripperState, Observation

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Event

    from robot_planner.sim.camera import Camera
    from robot_planner.sim.world import SimConfig, SimWorld
    from robot_planner.world.scene import CameraSpec, Scene

log = logging.getLogger(__name__)

#: Values per body in a snapshot before its joints: position (3) and quaternion (4).
POSE_VALUES = 7
#: How long `close` waits for the child to leave by itself, then after terminate.
CLOSE_WAIT_S = 2.0


class RenderProcessError(RuntimeError):
    """The render process failed: it could not start, a render raised, it died or it
    stopped answering (one readable line, the child's traceback logged at debug)."""


@dataclass(frozen=True)
class SnapshotLayout:
    """Which bodies a snapshot holds, in order, and which joints of each: agreed once
    with the child at start-up, so a snapshot is one flat array of floats."""

    #: ``(name, movable joint indices)`` per body, names from `SimWorld.named_bodies`.
    bodies: tuple[tuple[str, tuple[int, ...]], ...]
    #: Bodies in the world when the layout was made (a later one is not rendered).
    body_count: int

    @property
    def size(self) -> int:
        return sum(POSE_VALUES + len(joints) for _, joints in self.bodies)


@dataclass(frozen=True)
class Snapshot:
    """What decides what the camera sees, at simulated time `stamp`: per body of a
    `SnapshotLayout`, its base pose (position, quaternion) then its joint positions."""

    stamp: float
    values: np.ndarray


def movable_joints(client: int, body: int) -> tuple[int, ...]:
    """Joint indices of `body` that can move (fixed joints have no state to copy)."""
    return tuple(
        j
        for j in range(p.getNumJoints(body, physicsClientId=client))
        if p.getJointInfo(body, j, physicsClientId=client)[2] != p.JOINT_FIXED
    )


def snapshot_layout(world: SimWorld) -> SnapshotLayout:
    """Every named body of `world` with its movable joints (static bodies included: a
    few microseconds each, and nothing has to know which ones never move)."""
    c = world.client
    bodies = tuple(
        (name, movable_joints(c, body)) for name, body in sorted(world.named_bodies().items())
    )
    return SnapshotLayout(bodies, p.getNumBodies(physicsClientId=c))


def take_snapshot(
    world: SimWorld, layout: SnapshotLayout, ids: dict[str, int] | None = None
) -> Snapshot:
    """The poses and joint positions of the layout's bodies now (cheap: no rendering).

    Args:
        ids: body id by name (`SimWorld.named_bodies`), to save looking them up again.
    """
    c = world.client
    ids = ids if ids is not None else world.named_bodies()
    values = np.empty(layout.size, dtype=np.float64)
    i = 0
    for name, joints in layout.bodies:
        body = ids[name]
        position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=c)
        values[i : i + 3] = position
        values[i + 3 : i + 7] = orientation
        i += POSE_VALUES
        if joints:
            states = p.getJointStates(body, joints, physicsClientId=c)
            values[i : i + len(joints)] = [s[0] for s in states]
            i += len(joints)
    return Snapshot(world.time, values)


def apply_snapshot(
    world: SimWorld, layout: SnapshotLayout, ids: dict[str, int], values: np.ndarray
) -> None:
    """Teleport the layout's bodies of `world` to a snapshot's poses and joints."""
    if values.shape != (layout.size,):
        raise ValueError(f"snapshot has {values.size} values, the layout {layout.size}")
    c = world.client
    i = 0
    for name, joints in layout.bodies:
        body = ids[name]
        p.resetBasePositionAndOrientation(
            body, values[i : i + 3].tolist(), values[i + 3 : i + 7].tolist(), physicsClientId=c
        )
        i += POSE_VALUES
        for j in joints:
            p.resetJointState(body, j, float(values[i]), physicsClientId=c)
            i += 1


@dataclass(frozen=True)
class _Setup:
    """What the child needs to build the same scene and camera (pickled by spawn)."""

    scene: Scene
    seed: int
    config: SimConfig
    renderer: str
    camera: str
    spec: CameraSpec
    layout: SnapshotLayout
    shm_name: str
    nice: int


class AsyncCamera:
    """One camera of a `SimWorld`, rendered in a child process.

    Call `request` and `poll` from the thread that steps the world (the snapshot reads
    the physics client; the object is not thread-safe); neither waits for the renderer.
    Close it, or use it as a context manager, after that thread stopped; the child also
    exits when this process dies, and at interpreter exit the object closes itself.

    Attributes:
        requests, frames, skipped: snapshots sent, frames received, requests dropped
            because a frame was still rendering.
        render_s: the child's time for the last frame (apply + render + copy), seconds.
        startup_s: seconds from start to the child's ready (interpreter, imports, scene
            build), once known.
        pid: the child's process id.
    """

    def __init__(
        self,
        world: SimWorld,
        name: str = "overhead",
        width: int | None = None,
        height: int | None = None,
        *,
        start_timeout_s: float = 60.0,
        frame_timeout_s: float = 30.0,
        nice: int = 0,
        hold: Event | None = None,
    ):
        """Start the child (it builds its scene in the background; `wait_ready` waits).

        Args:
            world: the world to mirror; only its scene, seed, config and renderer are
                sent, and its bodies' names.
            name, width, height: the camera, as `SimWorld.camera` takes them.
            start_timeout_s: how long the child may take to build its scene.
            frame_timeout_s: how long one frame may take before the child is given up.
            nice: added to the child's niceness (Unix): above 0, the process that runs the
                robots gets the CPU first when both want it, and frames come later.
            hold: tests only: the child waits for this event (of the ``spawn`` context)
                before each render, so a test can act while a frame is in flight.
        """
        self.world = world
        self.camera = world.camera(name, width, height)
        self.name = name
        self.spec = self.camera.spec
        self.frame_timeout_s = frame_timeout_s
        self.layout = snapshot_layout(world)
        self._ids = world.named_bodies()
        h, w = self.spec.height, self.spec.width
        self._shape = (h, w)
        self._shm = shared_memory.SharedMemory(create=True, size=h * w * (3 + 4))
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        setup = _Setup(
            world.scene,
            world.seed,
            world.config,
            "egl" if world.egl else "tiny",
            name,
            self.spec,
            self.layout,
            self._shm.name,
            nice,
        )
        self._process: BaseProcess = ctx.Process(
            target=_child_main,
            args=(child_conn, setup, hold),
            name=f"render-{name}",
            daemon=True,
        )
        self._finalizer = weakref.finalize(self, _shutdown, self._process, self._conn, self._shm)
        self._started_at = time.monotonic()
        try:
            with _main_module_hidden():
                self._process.start()
        except BaseException:
            self._finalizer()
            raise
        finally:
            child_conn.close()
        self.pid = self._process.pid
        self._poller = select.poll()
        self._poller.register(self._conn.fileno(), select.POLLIN)
        self._poller.register(self._process.sentinel, select.POLLIN)
        self._ready = False
        self._start_deadline = time.monotonic() + start_timeout_s
        self._failed: str | None = None
        self._seq = 0
        #: The frame in flight: (seq, stamp, grippers, bases, deadline), or None.
        self._inflight: tuple[int, float, Any, Any, float] | None = None
        self._done: Observation | None = None
        self._warned_bodies = False
        self.requests = self.frames = self.skipped = 0
        self.render_s = 0.0
        self.startup_s: float | None = None

    # --- the caller's side ---------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """The render process is running (False once closed, or after it died)."""
        return self._process.exitcode is None

    @property
    def busy(self) -> bool:
        """A frame is in flight (a `request` now would be skipped)."""
        return self._inflight is not None

    def request(self) -> bool:
        """Snapshot the world now (with the grippers' and bases' states) and send it to be
        rendered; False, and nothing sent, while the last frame is still rendering or is
        not collected yet.

        Raises:
            RenderProcessError: the child failed before.
        """
        self._check()
        if self._inflight is not None or self._done is not None:
            self.skipped += 1
            return False
        if not self._warned_bodies and (
            p.getNumBodies(physicsClientId=self.world.client) != self.layout.body_count
        ):
            self._warned_bodies = True
            log.warning("bodies added after the camera started are not rendered by its process")
        snapshot = take_snapshot(self.world, self.layout, self._ids)
        grippers, bases = self.world.proprioception()
        self._send(snapshot, grippers, bases)
        return True

    def submit(self, snapshot: Snapshot) -> bool:
        """Render a snapshot taken earlier (or another world's of the same layout), with
        no grippers or bases; False while a frame is in flight, as `request`."""
        self._check()
        if self._inflight is not None or self._done is not None:
            self.skipped += 1
            return False
        self._send(snapshot, {}, {})
        return True

    def _send(
        self, snapshot: Snapshot, grippers: dict[str, GripperState], bases: dict[str, BaseState]
    ) -> None:
        self._seq += 1
        try:
            self._conn.send(("render", self._seq, snapshot.stamp, snapshot.values))
        except OSError:
            self._fail(self._exited())
        deadline = time.monotonic() + self.frame_timeout_s
        if not self._ready:
            deadline = max(deadline, self._start_deadline + self.frame_timeout_s)
        self._inflight = (self._seq, snapshot.stamp, grippers, bases, deadline)
        self.requests += 1

    def poll(self) -> Observation | None:
        """The finished frame, once, as an `Observation` stamped with its snapshot's
        simulated time (grippers and bases from that instant), or None; never blocks.

        Raises:
            RenderProcessError: the child failed, died or missed `frame_timeout_s`.
        """
        self._check()
        self._receive(0.0)
        done, self._done = self._done, None
        return done

    def wait(self, timeout: float) -> Observation:
        """Block until the frame in flight is done (tests, benchmarks, start-up).

        Raises:
            RenderProcessError: no frame in flight, none within `timeout`, or the child
                failed.
        """
        self._check()
        if self._inflight is None and self._done is None:
            raise RenderProcessError("no camera frame requested")
        end = time.monotonic() + timeout
        while self._done is None:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise RenderProcessError(f"no camera frame within {timeout:g} s")
            self._receive(remaining)
        done, self._done = self._done, None
        return done

    def capture(self, timeout: float = 30.0) -> Observation:
        """Request a frame now and wait for it (a synchronous camera, for tests)."""
        if not self.request():
            raise RenderProcessError("a camera frame is already in flight")
        return self.wait(timeout)

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Block until the child has built its scene; its start-up time in seconds."""
        self._check()
        end = time.monotonic() + timeout
        while not self._ready:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise RenderProcessError(f"camera render process not ready within {timeout:g} s")
            self._receive(remaining)
        assert self.startup_s is not None
        return self.startup_s

    def close(self) -> None:
        """Stop the child and free the shared frame buffer (idempotent)."""
        self._finalizer()
        if self._failed is None:
            self._failed = "the camera render process is closed"

    def __enter__(self) -> AsyncCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- messages from the child ---------------------------------------------------------

    def _check(self) -> None:
        if self._failed is not None:
            raise RenderProcessError(self._failed)

    def _fail(self, reason: str, detail: str = "") -> None:
        """Give the child up: stop it and raise `reason` now and on every later call."""
        if detail:
            log.debug("camera render process: %s", detail)
        self._failed = reason
        self._inflight = None
        if self._process.is_alive():
            self._process.terminate()  # a stuck child would not read a polite close
        self._finalizer()
        raise RenderProcessError(reason)

    def _receive(self, timeout: float) -> None:
        """Handle the child's messages, waiting up to `timeout` for the first one; check
        that a child with work to do is alive and in time."""
        if timeout > 0:
            deadlines = [time.monotonic() + timeout]
            if self._inflight is not None:
                deadlines.append(self._inflight[4])
            if not self._ready:
                deadlines.append(self._start_deadline)
            wait([self._conn, self._process.sentinel], max(0.0, min(deadlines) - time.monotonic()))
        # One poll object for the pipe and the child's exit: a poll costs one system call
        # (Connection.poll builds a selector per call, is_alive is another call).
        while True:
            ready = {fd for fd, _ in self._poller.poll(0)}
            if self._conn.fileno() in ready:  # messages first: an error, then the exit
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    self._fail(self._exited())
                self._handle(message)
            elif ready:
                self._fail(self._exited())
            else:
                break
        now = time.monotonic()
        if self._inflight is not None and now > self._inflight[4]:
            self._fail(f"no camera frame from the render process in {self.frame_timeout_s:g} s")
        if not self._ready and now > self._start_deadline:
            self._fail("the camera render process did not start in time")

    def _exited(self) -> str:
        """Why the child is gone, once it is (its end of the pipe closes as it dies)."""
        self._process.join(CLOSE_WAIT_S)
        code = self._process.exitcode
        return "camera render process exited" + ("" if code is None else f" (code {code})")

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            self._ready = True
            self.startup_s = time.monotonic() - self._started_at
        elif kind == "frame":
            _, seq, render_s = message
            if self._inflight is None or seq != self._inflight[0]:
                return  # an answer to nothing we wait for
            _, stamp, grippers, bases, _ = self._inflight
            self._inflight = None
            self.render_s = float(render_s)
            self.frames += 1
            self._done = Observation(stamp, self._frame(stamp), grippers, bases)
        elif kind == "error":
            _, seq, text, detail, fatal = message
            if fatal:
                self._fail(f"camera render process failed: {text}", detail)
            log.debug("camera render process: %s", detail)
            self._inflight = None
            raise RenderProcessError(f"camera render process: {text}")

    def _frame(self, stamp: float) -> CameraFrame:
        h, w = self._shape
        buffer = self._shm.buf
        rgb = np.frombuffer(buffer, np.uint8, h * w * 3).reshape(h, w, 3).copy()
        depth = np.frombuffer(buffer, np.float32, h * w, offset=h * w * 3).reshape(h, w).copy()
        camera = self.camera
        return CameraFrame(
            self.name, stamp, rgb, depth, camera.K.copy(), camera.world_from_camera.copy()
        )


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a child without the parent's main script: ``spawn`` re-runs it (or the
    ``-m`` module) in the child so that functions defined there unpickle, and the render
    child needs none, while the executor node's script would import the node and rclpy
    into it (about 4 s and 60 MB more here)."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {key: main.__dict__[key] for key in ("__file__", "__spec__") if key in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _shutdown(process: BaseProcess, conn: Connection, shm: shared_memory.SharedMemory) -> None:
    """Ask the child to leave, make it leave if it does not, free the buffer."""
    if process.pid is not None:
        with contextlib.suppress(OSError, ValueError):
            conn.send(("close",))
        process.join(CLOSE_WAIT_S)
        if process.is_alive():
            process.terminate()
            process.join(CLOSE_WAIT_S)
        if process.is_alive():
            process.kill()
            process.join(CLOSE_WAIT_S)
    conn.close()
    shm.close()
    with contextlib.suppress(FileNotFoundError):
        shm.unlink()


# --- the child ---------------------------------------------------------------------------


def _error_message(exc: BaseException) -> tuple[str, str]:
    """One line for the parent's exception, the traceback for its debug log."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}", traceback.format_exc()


def _child_main(conn: Connection, setup: _Setup, hold: Event | None) -> None:
    """Build the scene, then render each snapshot the parent sends until it says close,
    its end of the pipe closes or it dies."""
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    try:
        if setup.nice:
            os.nice(setup.nice)
        from robot_planner.sim.camera import Camera
        from robot_planner.sim.world import SimWorld

        world = SimWorld(
            setup.scene, seed=setup.seed, config=setup.config, renderer=setup.renderer
        )
        camera = Camera(world, setup.camera, setup.spec)
        ids = world.named_bodies()
        layout = setup.layout
        missing = [name for name, _ in layout.bodies if name not in ids]
        if missing:
            raise RuntimeError(f"bodies not in the rebuilt scene: {', '.join(missing)}")
        for name, joints in layout.bodies:
            if movable_joints(world.client, ids[name]) != joints:
                raise RuntimeError(f"body {name} has other joints in the rebuilt scene")
        shm = shared_memory.SharedMemory(name=setup.shm_name)
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", None, *_error_message(exc), True))
        return
    try:
        _serve(conn, setup, hold, world, camera, ids, shm, started)
    except (EOFError, OSError):
        pass  # the parent closed its end or died
    finally:
        shm.close()
        world.close()


def _serve(
    conn: Connection,
    setup: _Setup,
    hold: Event | None,
    world: SimWorld,
    camera: Camera,
    ids: dict[str, int],
    shm: shared_memory.SharedMemory,
    started: float,
) -> None:
    """The child's loop: apply, render, copy into the shared buffer, answer."""
    parent = multiprocessing.parent_process()
    watch = [conn] if parent is None else [conn, parent.sentinel]
    h, w = setup.spec.height, setup.spec.width
    rgb_out = np.ndarray((h, w, 3), np.uint8, shm.buf)
    depth_out = np.ndarray((h, w), np.float32, shm.buf, offset=h * w * 3)
    try:
        conn.send(("ready", time.monotonic() - started, os.getpid()))  # own build time
        while True:
            if conn not in wait(watch):
                return  # the parent died
            message = conn.recv()
            if message[0] != "render":
                return
            _, seq, _stamp, values = message
            if hold is not None:
                while not hold.wait(0.1):
                    if parent is not None and not parent.is_alive():
                        return
            begin = time.monotonic()
            try:
                apply_snapshot(world, setup.layout, ids, values)
                frame = camera.capture()
                rgb_out[...] = frame.rgb
                depth_out[...] = frame.depth
            except Exception as exc:
                conn.send(("error", seq, *_error_message(exc), False))
                continue
            conn.send(("frame", seq, time.monotonic() - begin))
    finally:
        del rgb_out, depth_out  # the buffer cannot close while arrays use it
