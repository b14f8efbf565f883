"""A scene loaded into PyBullet: table, arms, blocks, bins and zones.

Each robot is built by the robot model its scene entry names (``model: franka_panda``)
through the model registry (`robot_planner.sim.models`); a model the simulator does not
have is a one-line `SimError` before anything is loaded.

DIRECT (headless) by default; ``gui=True`` opens a window where a display exists.
Every PyBullet call passes this world's client id and no module state is kept, so two
worlds can run side by side in one process (the benchmarks rely on that). A seed fixes
the blocks' starting positions (jittered within their zone).
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pybullet as p
import pybullet_data

from robot_planner.sim.models import SimArm, get_model
from robot_planner.untrusted import shown
from robot_planner.world.observation import GripperState, Observation
from robot_planner.world.scene import Scene

if TYPE_CHECKING:
    from robot_planner.sim.camera import Camera

log = logging.getLogger(__name__)

#: Wall height and thickness of the bins built from boxes (metres).
BIN_WALL_HEIGHT = 0.06
BIN_WALL_THICKNESS = 0.01
ZONE_THICKNESS = 0.001


@dataclass(frozen=True)
class SimConfig:
    """Physics and set-up parameters (defaults suit the tabletop scene)."""

    time_step: float = 1.0 / 240.0
    block_mass: float = 0.08
    block_friction: float = 1.0
    finger_friction: float = 2.0
    start_jitter_m: float = 0.02
    min_block_spacing_m: float = 0.08
    solver_iterations: int = 50


class SimError(RuntimeError):
    """The simulation could not be set up (bad geometry, unknown robot model, no display
    for --gui)."""


def check_models(scene: Scene) -> None:
    """Raise `SimError` (one line) for the first robot whose ``model:`` is not a
    registered simulator model, or is a model of another robot kind than the scene's
    ``kind:``, so a scene asking for another robot is refused instead of silently getting
    a different one."""
    for name, spec in scene.robots.items():
        try:
            model = get_model(spec.model)
        except LookupError as exc:
            raise SimError(f"robot {name}: {exc.args[0]}") from None
        if model.kind != spec.kind:
            raise SimError(
                f"robot {name}: model '{spec.model}' is a robot of kind {model.kind}, "
                f"but the scene says {name} is a {shown(spec.kind)}"
            )


class SimWorld:
    """One PyBullet world built from a `Scene`.

    Attributes:
        scene: the scene it was built from.
        arms: a `SimArm` per robot name, of the robot's scene ``model:``.
        robot_kinds: each robot's kind (``arm``), from its model.
        blocks: PyBullet body id per block name.
        bins, zones: PyBullet body ids of the bin and zone markers.
    """

    def __init__(
        self,
        scene: Scene,
        seed: int = 0,
        gui: bool = False,
        config: SimConfig | None = None,
        renderer: str = "tiny",
    ):
        if renderer not in ("tiny", "egl"):
            raise SimError(f"unknown renderer '{renderer}' (tiny, egl)")
        check_models(scene)
        self.scene = scene
        self.config = config or SimConfig()
        self.seed = seed
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
        self.client = p.connect(p.GUI if gui else p.DIRECT)
        if self.client < 0:
            raise SimError("cannot connect to PyBullet (no display for --gui?)")
        self.steps = 0
        self.egl = False
        try:
            if renderer == "egl" and not gui:
                from robot_planner.sim.camera import load_egl_plugin

                self.egl = load_egl_plugin(self.client)
            self._build()
        except Exception:
            self.close()
            raise

    # --- construction ------------------------------------------------------------------

    def _build(self) -> None:
        c = self.client
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setPhysicsEngineParameter(
            fixedTimeStep=self.config.time_step,
            numSolverIterations=self.config.solver_iterations,
            physicsClientId=c,
        )
        p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=c)
        self.plane = p.loadURDF("plane.urdf", physicsClientId=c)
        table = self.scene.table
        self.table = p.loadURDF(
            table.urdf, list(table.position), useFixedBase=True, physicsClientId=c
        )
        self.table_top = table.top_z
        models = {name: get_model(spec.model) for name, spec in self.scene.robots.items()}
        self.robot_kinds = {name: model.kind for name, model in models.items()}
        self.arms: dict[str, SimArm] = {
            name: models[name].factory(c, name, self.scene.robots[name], self.config)
            for name in self.scene.robots
        }
        reached = {
            z: sum(z in r.reach for r in self.scene.robots.values())
            for z in self.scene.places_of("zone")
        }
        # Shared (hand-over) zones get a warmer, still unsaturated, tint than the others.
        self.zones = {
            name: self._make_zone(
                spec.center,
                spec.size,
                (0.82, 0.80, 0.70, 1.0) if reached[name] > 1 else (0.75, 0.75, 0.85, 1.0),
            )
            for name, spec in self.scene.places_of("zone").items()
        }
        self.bins = {
            name: self._make_bin(spec.position, spec.size)
            for name, spec in self.scene.places_of("bin").items()
        }
        self.blocks: dict[str, int] = {}
        self.block_size = {name: spec.size for name, spec in self.scene.objects.items()}
        for name, position in self._start_positions().items():
            spec = self.scene.objects[name]
            self.blocks[name] = self._make_block(position, spec.size, spec.rgba)
        self.body_names = {v: k for k, v in self.blocks.items()}
        self.settle(0.3)
        self.steps = 0  # simulated time starts once the scene has settled

    def camera(
        self, name: str = "overhead", width: int | None = None, height: int | None = None
    ) -> Camera:
        """A camera from the scene (or a default overhead one), optionally resized."""
        from robot_planner.sim.camera import Camera, default_camera_spec

        spec = self.scene.cameras.get(name)
        if spec is None:
            if name != "overhead":
                known = ", ".join(self.scene.cameras) or "overhead"
                raise SimError(f"unknown camera '{name}' (known: {known})")
            spec = default_camera_spec()
        update = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
        return Camera(self, name, spec.model_copy(update=update) if update else spec)

    def _make_zone(
        self, center: tuple[float, float], size: tuple[float, float], rgba: tuple[float, ...]
    ) -> int:
        half = [size[0] / 2, size[1] / 2, ZONE_THICKNESS]
        visual = p.createVisualShape(
            p.GEOM_BOX,
            halfExtents=half,
            rgbaColor=list(rgba),
            physicsClientId=self.client,
        )
        return p.createMultiBody(
            0,
            -1,
            visual,
            [center[0], center[1], self.table_top + 0.0005],
            physicsClientId=self.client,
        )

    def _make_bin(self, position: tuple[float, float], size: tuple[float, float]) -> int:
        """An open box: a floor and four walls as one static compound body."""
        sx, sy = size[0] / 2, size[1] / 2
        t, h = BIN_WALL_THICKNESS / 2, BIN_WALL_HEIGHT / 2
        parts = [
            ([sx + 2 * t, sy + 2 * t, t], [0, 0, t]),
            ([t, sy + 2 * t, h], [sx + t, 0, h]),
            ([t, sy + 2 * t, h], [-sx - t, 0, h]),
            ([sx, t, h], [0, sy + t, h]),
            ([sx, t, h], [0, -sy - t, h]),
        ]
        halves = [h_ for h_, _ in parts]
        offsets = [o for _, o in parts]
        c = self.client
        collision = p.createCollisionShapeArray(
            [p.GEOM_BOX] * 5,
            halfExtents=halves,
            collisionFramePositions=offsets,
            physicsClientId=c,
        )
        visual = p.createVisualShapeArray(
            [p.GEOM_BOX] * 5,
            halfExtents=halves,
            visualFramePositions=offsets,
            rgbaColors=[[0.45, 0.3, 0.2, 1]] * 5,
            physicsClientId=c,
        )
        return p.createMultiBody(
            0, collision, visual, [position[0], position[1], self.table_top], physicsClientId=c
        )

    def _make_block(self, position: np.ndarray, size: float, rgba: tuple) -> int:
        c = self.client
        half = [size / 2] * 3
        collision = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        visual = p.createVisualShape(
            p.GEOM_BOX, halfExtents=half, rgbaColor=list(rgba), physicsClientId=c
        )
        body = p.createMultiBody(
            self.config.block_mass, collision, visual, list(position), physicsClientId=c
        )
        # No rolling friction: it models the rolling resistance of round things, and on a
        # cube its 0.1 mm lever did nothing a face contact does not, yet it added two
        # solver rows to every contact point (a fifth of the physics step time).
        p.changeDynamics(
            body,
            -1,
            lateralFriction=self.config.block_friction,
            spinningFriction=0.002,
            physicsClientId=c,
        )
        return body

    def _start_positions(self) -> dict[str, np.ndarray]:
        """Seeded, jittered, non-overlapping start positions within each block's place."""
        positions: dict[str, np.ndarray] = {}
        by_place: dict[str, list[str]] = {}
        for name, spec in self.scene.objects.items():
            by_place.setdefault(spec.start, []).append(name)
        for place, names in by_place.items():
            if place in self.scene.objects:
                continue
            slots = self.free_slots(place, len(names))
            for name, slot in zip(names, slots, strict=True):
                size = self.scene.objects[name].size
                jitter = self.rng.uniform(-1, 1, 2) * self.config.start_jitter_m
                positions[name] = np.array(
                    [
                        slot[0] + jitter[0],
                        slot[1] + jitter[1],
                        self.table_top + size / 2 + self._floor(place),
                    ]
                )
        # Blocks that start on other blocks: stack them (in dependency order).
        pending = [n for n, s in self.scene.objects.items() if s.start in self.scene.objects]
        while pending:
            for name in list(pending):
                below = self.scene.objects[name].start
                if below in positions:
                    base = positions[below]
                    size = self.scene.objects[name].size
                    below_size = self.scene.objects[below].size
                    positions[name] = base + np.array([0, 0, (size + below_size) / 2 + 0.001])
                    pending.remove(name)
        return positions

    def _floor(self, place: str) -> float:
        return BIN_WALL_THICKNESS if place in self.scene.places_of("bin") else 0.0

    def free_slots(self, place: str, count: int) -> list[tuple[float, float]]:
        """`count` evenly spread points along the long axis of a zone or bin."""
        if place in self.scene.places_of("zone"):
            center, size = (
                self.scene.places_of("zone")[place].center,
                self.scene.places_of("zone")[place].size,
            )
        else:
            center, size = (
                self.scene.places_of("bin")[place].position,
                self.scene.places_of("bin")[place].size,
            )
        axis = 1 if size[1] >= size[0] else 0
        # Spread blocks around the middle of the place, not out to its edges (near bins).
        length = min(
            size[axis] - self.config.min_block_spacing_m, self.config.min_block_spacing_m * 3.5
        )
        offsets = [0.0] if count == 1 else list(np.linspace(-length / 2, length / 2, count))
        slots = []
        for off in offsets:
            xy = [center[0], center[1]]
            xy[axis] += off
            slots.append((xy[0], xy[1]))
        return slots

    # --- stepping and state ------------------------------------------------------------

    @property
    def time(self) -> float:
        """Simulated seconds since the world was built."""
        return self.steps * self.config.time_step

    def step(self) -> None:
        for arm in self.arms.values():
            arm.apply_targets()
        p.stepSimulation(physicsClientId=self.client)
        self.steps += 1

    def settle(self, seconds: float) -> None:
        for _ in range(round(seconds / self.config.time_step)):
            self.step()

    def observe(self, camera: Camera) -> Observation:
        """A camera frame plus every gripper's tool point and opening (proprioception)."""
        frame = camera.capture()
        grippers = {
            name: GripperState(arm.tool_pose()[0], arm.finger_width())
            for name, arm in self.arms.items()
        }
        return Observation(frame.stamp, frame, grippers)

    def block_pose(self, name: str) -> tuple[np.ndarray, float]:
        """Position and yaw of a block."""
        pos, orn = p.getBasePositionAndOrientation(self.blocks[name], physicsClientId=self.client)
        return np.array(pos), p.getEulerFromQuaternion(orn)[2]

    def block_up_axis_tilt(self, name: str) -> float:
        """How far (radians) a block's nearest face normal is from vertical."""
        _, orn = p.getBasePositionAndOrientation(self.blocks[name], physicsClientId=self.client)
        m = np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3)
        return float(math.acos(min(1.0, np.max(np.abs(m[2, :])))))

    def move_block(self, name: str, position: Any, yaw: float | None = None) -> None:
        """Teleport a block (disturbances and test set-ups only)."""
        _, current_yaw = self.block_pose(name)
        orn = p.getQuaternionFromEuler([0, 0, current_yaw if yaw is None else yaw])
        p.resetBasePositionAndOrientation(
            self.blocks[name], list(position), orn, physicsClientId=self.client
        )
        p.resetBaseVelocity(self.blocks[name], [0, 0, 0], [0, 0, 0], physicsClientId=self.client)

    def push_block(self, name: str, velocity: Any) -> None:
        """Give a block a velocity (a knock)."""
        p.resetBaseVelocity(
            self.blocks[name], list(velocity), [0, 0, 0], physicsClientId=self.client
        )

    def touching(self, body_a: int, body_b: int) -> bool:
        return bool(p.getContactPoints(body_a, body_b, physicsClientId=self.client))

    def close(self) -> None:
        if getattr(self, "client", -1) >= 0:
            with contextlib.suppress(p.error):
                p.disconnect(physicsClientId=self.client)
            self.client = -1

    def __enter__(self) -> SimWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
