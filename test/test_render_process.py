"""The camera rendered in a child process (`robot_planner.sim.render_process`): the same
frame as an in-process capture, stamped with the snapshot's time, rendered while the
caller steps on, a clean shutdown and readable errors.

Every wait here is for an event (a frame, an exit, an error) with a generous bound, never
a measured duration; each `AsyncCamera` starts a child that builds its scene (~1 s).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from multiprocessing import shared_memory

import numpy as np
import pybullet as p
import pytest

from robot_planner.sim.models import MODELS, get_model, register_model
from robot_planner.sim.render_process import (
    AsyncCamera,
    RenderProcessError,
    Snapshot,
    snapshot_layout,
    take_snapshot,
)
from robot_planner.sim.world import SimWorld
from robot_planner.world.scene import Scene, load_scene

BOUND_S = 60.0  # only ever reached when something is broken


def _disturb(world: SimWorld) -> None:
    """Arms away from home, a block in mid-air and tilted, bases driving: a state no
    freshly built world is in, so a frame that matches it was really rendered from it."""
    for arm in world.arms.values():
        arm.command_arm(np.asarray(arm.home) + 0.25)
        arm.command_gripper(0.02)
    for base in world.bases.values():
        base.drive(0.4, 0.3)
    for _ in range(120):
        world.step()
    block = next(iter(world.blocks))
    position, _ = world.block_pose(block)
    world.move_block(block, position + np.array([0.05, 0.0, 0.2]), yaw=0.4)


def _same_frame(async_frame, sync_frame) -> None:
    """Pixel-exact: the same TinyRenderer on the same poses draws the same image."""
    assert async_frame.stamp == sync_frame.stamp
    assert async_frame.rgb.shape == sync_frame.rgb.shape
    assert async_frame.rgb.dtype == sync_frame.rgb.dtype
    np.testing.assert_array_equal(async_frame.rgb, sync_frame.rgb)
    np.testing.assert_array_equal(async_frame.depth, sync_frame.depth)
    np.testing.assert_array_equal(async_frame.K, sync_frame.K)
    np.testing.assert_array_equal(async_frame.world_from_camera, sync_frame.world_from_camera)


def _wait_for(condition, what: str) -> None:
    end = time.monotonic() + BOUND_S
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module", params=["tabletop", "logistics"])
def mirrored(request: pytest.FixtureRequest) -> Iterator[tuple[SimWorld, AsyncCamera]]:
    with SimWorld(load_scene(request.param), seed=2) as world, AsyncCamera(world) as camera:
        camera.wait_ready(BOUND_S)
        yield world, camera


def test_frame_equals_in_process_capture(mirrored):
    world, camera = mirrored
    _disturb(world)
    observation = camera.capture(BOUND_S)
    _same_frame(observation.frame, world.camera().capture())
    assert observation.stamp == observation.frame.stamp == world.time
    grippers, bases = world.proprioception()
    assert observation.grippers.keys() == grippers.keys()
    for name, gripper in grippers.items():
        np.testing.assert_array_equal(observation.grippers[name].position, gripper.position)
    assert observation.bases.keys() == bases.keys()


def _in_view(world: SimWorld, block: str) -> bool:
    """Nothing stands between the camera and the block's centre (an arm left over the
    table by `_disturb` can hide one)."""
    eye = world.camera().world_from_camera[:3, 3]
    centre, _ = world.block_pose(block)
    hit = p.rayTest(eye.tolist(), centre.tolist(), physicsClientId=world.client)[0]
    return hit[0] == world.blocks[block]


def test_pose_change_shows_in_next_frame(mirrored):
    world, camera = mirrored
    before = camera.capture(BOUND_S).frame
    for block in sorted(world.blocks, reverse=True):
        position, _ = world.block_pose(block)
        world.move_block(block, position + np.array([0.0, 0.1, 0.0]))
        world.step()
        if _in_view(world, block):
            break
        world.move_block(block, position)
        world.step()
    else:
        pytest.fail("every block is hidden from the camera")
    after = camera.capture(BOUND_S).frame
    assert not np.array_equal(before.rgb, after.rgb)
    _same_frame(after, world.camera().capture())
    # The block is drawn where it went: its new centre's pixel changed.
    u, v, _ = world.camera().project(world.block_pose(block)[0])
    assert not np.array_equal(before.rgb[round(v), round(u)], after.rgb[round(v), round(u)])


def test_error_in_child_is_one_readable_exception(mirrored):
    world, camera = mirrored
    assert camera.submit(Snapshot(world.time, np.zeros(3)))
    with pytest.raises(RenderProcessError, match=r"ValueError: snapshot has 3 values"):
        camera.wait(BOUND_S)
    assert not camera.busy
    # A bad snapshot does not end the child: the next frame comes.
    _same_frame(camera.capture(BOUND_S).frame, world.camera().capture())


def test_caller_steps_on_while_the_frame_renders(scene: Scene):
    hold = multiprocessing.get_context("spawn").Event()
    with SimWorld(scene, seed=1) as world, AsyncCamera(world, hold=hold) as camera:
        camera.wait_ready(BOUND_S)
        _disturb(world)
        expected = world.camera().capture()
        requested_at = world.time
        assert camera.request()
        assert camera.busy
        # The child holds the frame until told: every step here happens while it is in
        # flight, and the caller never waits for it.
        for arm in world.arms.values():
            arm.command_arm(arm.home)
        steps = 60
        for _ in range(steps):
            world.step()
            assert camera.poll() is None
        assert not camera.request()  # one frame in flight at most: this one is skipped
        assert camera.skipped == 1
        hold.set()
        observation = camera.wait(BOUND_S)
        assert world.time == pytest.approx(requested_at + steps * world.config.time_step)
        # The frame shows the snapshot's instant, stamped with it, not the later state.
        _same_frame(observation.frame, expected)
        assert observation.stamp == requested_at
        assert camera.poll() is None
        assert camera.request()
        _same_frame(camera.wait(BOUND_S).frame, world.camera().capture())


def test_close_ends_the_child(scene: Scene):
    with SimWorld(scene, seed=1) as world:
        camera = AsyncCamera(world, nice=3)
        camera.wait_ready(BOUND_S)
        process, shm_name = camera._process, camera._shm.name
        assert process.is_alive() and camera.alive
        assert os.getpriority(os.PRIO_PROCESS, camera.pid) == os.nice(0) + 3
        camera.close()
        assert not process.is_alive() and not camera.alive
        assert process.exitcode == 0  # it left when asked, it was not killed
        with pytest.raises(FileNotFoundError):
            shared_memory.SharedMemory(name=shm_name)
        with pytest.raises(RenderProcessError, match="closed"):
            camera.request()
        camera.close()  # twice is fine


def test_a_child_that_dies_gives_a_readable_error(scene: Scene):
    with SimWorld(scene, seed=1) as world, AsyncCamera(world) as camera:
        camera.wait_ready(BOUND_S)
        assert camera.request()
        camera.wait(BOUND_S)
        os.kill(camera.pid, signal.SIGKILL)
        camera._process.join(BOUND_S)
        with pytest.raises(RenderProcessError, match=r"render process exited \(code -9\)"):
            camera.request()
            camera.wait(BOUND_S)
        with pytest.raises(RenderProcessError, match="exited"):  # and on every later call
            camera.poll()


def test_a_frame_that_never_comes_times_out(scene: Scene):
    hold = multiprocessing.get_context("spawn").Event()
    with (
        SimWorld(scene, seed=1) as world,
        AsyncCamera(world, frame_timeout_s=0.3, hold=hold) as camera,
    ):
        camera.wait_ready(BOUND_S)
        assert camera.request()
        with pytest.raises(RenderProcessError, match=r"no camera frame .* in 0.3 s"):
            camera.wait(BOUND_S)
        assert not camera._process.is_alive()  # the stuck child was stopped


def test_a_child_that_cannot_build_the_scene_says_why(scene: Scene):
    """A model registered at run time in this process only: the parent's world builds,
    the child (a fresh interpreter) does not know the model."""
    panda = get_model("franka_panda")
    register_model("test_only_panda", panda.factory, kind=panda.kind)
    try:
        robots = {
            name: spec.model_copy(update={"model": "test_only_panda"})
            for name, spec in scene.robots.items()
        }
        with SimWorld(scene.model_copy(update={"robots": robots}), seed=1) as world:
            camera = AsyncCamera(world)
            try:
                with pytest.raises(RenderProcessError, match="unknown robot model"):
                    camera.wait_ready(BOUND_S)
                assert not camera._process.is_alive()
            finally:
                camera.close()
    finally:
        del MODELS["test_only_panda"]


def _own_a_camera(pids) -> None:
    """In a process of its own: a world, a render child; report its pid, then wait to
    be killed."""
    with SimWorld(load_scene("tabletop"), seed=1) as world, AsyncCamera(world) as camera:
        camera.wait_ready(BOUND_S)
        pids.put(camera.pid)
        time.sleep(BOUND_S)


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_the_child_exits_when_its_parent_dies():
    ctx = multiprocessing.get_context("spawn")
    pids = ctx.Queue()
    owner = ctx.Process(target=_own_a_camera, args=(pids,))  # not daemonic: it has one
    owner.start()
    try:
        child = pids.get(timeout=BOUND_S)
        assert not _gone(child)
        os.kill(owner.pid, signal.SIGKILL)
        owner.join(BOUND_S)
        _wait_for(lambda: _gone(child), "the render process to exit")
    finally:
        if owner.is_alive():
            owner.kill()


@pytest.mark.parametrize("name", ["tabletop", "logistics"])
def test_the_snapshot_covers_every_body(name: str):
    """Every body the world built is in the layout, by name (not id order), with the
    joints that move."""
    with SimWorld(load_scene(name), seed=1) as world:
        layout = snapshot_layout(world)
        names = {body for body, _ in layout.bodies}
        assert names == set(world.named_bodies())
        assert len(names) == layout.body_count == p.getNumBodies(physicsClientId=world.client)
        joints = dict(layout.bodies)
        for arm in world.arms:  # an arm mounted on a base is named after the robot too
            body = f"arm:{arm}" if arm in world.bases else f"robot:{arm}"
            assert len(joints[body]) >= 7  # arm and fingers
        for base in world.bases:
            assert len(joints[f"robot:{base}"]) == 4  # wheels
        snapshot = take_snapshot(world, layout)
        assert snapshot.values.shape == (layout.size,)
        assert snapshot.stamp == world.time
