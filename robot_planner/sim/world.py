"""A scene loaded into PyBullet: a table or station surfaces, arms, mobile bases, objects,
containers and zones.

Each robot is built by the robot model its scene entry names (``model: franka_panda``,
``husky``) through the model registry (`robot_planner.sim.models`); a model the
simulator does not have is a one-line `SimError` before anything is loaded. A model may
build a base and an arm as one robot (a mobile manipulator, `CompositeRobot`): its base
is among `SimWorld.bases` and its arm among `SimWorld.arms`, both under its name.

What a place is built as follows from the domain and the scene, not from its name: a
place whose ``locations.put`` fact is decided by the ``inside`` relation is an open box
(a container); a place with a ``surface_z`` above the ground is a box table of that
height (a station); other places where things can be put are marked zones on the shared
table when there is one, and plain floor areas (no body) when there is none. An arm
whose base stands above the ground gets a pedestal (one mounted on a base does not).

DIRECT (headless) by default; ``gui=True`` opens a window where a display exists.
Every PyBullet call passes this world's client id and no module state is kept, so two
worlds can run side by side in one process (the benchmarks rely on that). A seed fixes
the blocks' starting positions (jittered within their zone).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pybullet as p
import pybullet_data

from robot_planner.sim.models import SimArm, SimBase, SimRobot, get_model
from robot_planner.untrusted import shown
from robot_planner.world.observation import BaseState, GripperState, Observation
from robot_planner.world.scene import PlaceSpec, Scene

if TYPE_CHECKING:
    from robot_planner.sim.camera import Camera

log = logging.getLogger(__name__)

#: Wall height and thickness of the bins built from boxes (metres).
BIN_WALL_HEIGHT = 0.06
BIN_WALL_THICKNESS = 0.01
ZONE_THICKNESS = 0.001
#: A surface this far above the ground under it needs a body to stand on (metres).
RAISED = 0.01
#: Footprint of an arm's pedestal (metres).
PEDESTAL_SIZE = (0.2, 0.2)
PEDESTAL_RGBA = (0.35, 0.35, 0.38, 1.0)
STATION_RGBA = (0.72, 0.6, 0.45, 1.0)


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


@runtime_checkable
class CompositeRobot(Protocol):
    """What a model factory may build instead of one arm or one base: a mobile
    manipulator, a base with an arm mounted on it. The world keeps `base` among its
    bases and `arm` among its arms under the robot's one name, and steps each once."""

    name: str
    base: SimBase
    arm: SimArm

    def hold_still(self) -> None:
        """Stop both parts (cancel)."""
        ...


class SimWorld:
    """One PyBullet world built from a `Scene`.

    Attributes:
        scene: the scene it was built from.
        arms: a `SimArm` per arm's name, of the robot's scene ``model:``.
        bases: a `SimBase` per mobile base's name (none on the tabletop).
        composites: the robots that are both (`CompositeRobot`: a base with an arm on
            it), by name; their parts are in `bases` and `arms` under the same name.
        robot_kinds: each robot's kind (``arm``, ``base``), from its model.
        blocks: PyBullet body id per object name (blocks, parcels).
        containers: the places built as open boxes (bins), by name.
        bins, zones: PyBullet body ids of the containers and of the zone markers.
        stations: PyBullet body ids of the raised surfaces (station tables).
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
        # No shared table (``urdf: ""``): things stand on the floor or on station surfaces.
        self.table = (
            p.loadURDF(table.urdf, list(table.position), useFixedBase=True, physicsClientId=c)
            if table.urdf
            else None
        )
        self.table_top = table.top_z
        self.ground = self.table_top if self.table is not None else 0.0
        models = {name: get_model(spec.model) for name, spec in self.scene.robots.items()}
        self.robot_kinds = {name: model.kind for name, model in models.items()}
        robots: dict[str, SimRobot | CompositeRobot] = {
            name: models[name].factory(c, name, self.scene.robots[name], self.config)
            for name in self.scene.robots
        }
        #: The robots built as a base and an arm together (a mobile manipulator), by name.
        self.composites: dict[str, CompositeRobot] = {
            name: robot
            for name, robot in robots.items()
            if not isinstance(robot, SimBase) and isinstance(robot, CompositeRobot)
        }
        self.bases: dict[str, SimBase] = {
            name: robot.base if name in self.composites else robot  # type: ignore[union-attr,misc]
            for name, robot in robots.items()
            if name in self.composites or isinstance(robot, SimBase)
        }
        self.arms: dict[str, SimArm] = {
            name: robot.arm if name in self.composites else robot  # type: ignore[union-attr,misc]
            for name, robot in robots.items()
            if name in self.composites or name not in self.bases
        }
        # An arm mounted on a base stands on the base, not on a pedestal.
        self.pedestals = {
            name: self._make_box(
                (spec.base_position[0], spec.base_position[1]),
                PEDESTAL_SIZE,
                self.ground,
                spec.base_position[2],
                PEDESTAL_RGBA,
            )
            for name, spec in self.scene.robots.items()
            if name in self.arms
            and name not in self.bases
            and spec.base_position[2] - self.ground > RAISED
        }
        self.containers = self._containers()
        zones = {
            name: spec
            for name, spec in self.scene.places.items()
            if self.table is not None
            and name not in self.containers
            and spec.surface_z is None
            and self.scene.domain.put_facts("object", name, spec.type)
        }
        reached = {z: sum(z in r.reach for r in self.scene.robots.values()) for z in zones}
        # Shared (hand-over) zones get a warmer, still unsaturated, tint than the others.
        self.zones = {
            name: self._make_zone(
                spec.center,
                spec.size,
                (0.82, 0.80, 0.70, 1.0) if reached[name] > 1 else (0.75, 0.75, 0.85, 1.0),
            )
            for name, spec in zones.items()
        }
        self.stations = {
            name: self._make_box(
                spec.center, spec.size, self.ground, self.surface(name), STATION_RGBA
            )
            for name, spec in self.scene.places.items()
            if name not in self.containers and self.surface(name) - self.ground > RAISED
        }
        self.bins: dict[str, int] = {}
        #: The stands of bins that stand above the ground, by bin.
        self.stands: dict[str, int] = {}
        for name, spec in self.containers.items():
            floor = self.surface(name)
            if floor - self.ground > RAISED:  # a bin on a stand
                wall = 2 * BIN_WALL_THICKNESS
                outer = (spec.size[0] + wall, spec.size[1] + wall)
                self.stands[name] = self._make_box(
                    spec.center, outer, self.ground, floor, PEDESTAL_RGBA
                )
            self.bins[name] = self._make_bin(spec.position, spec.size, floor)
        self.blocks: dict[str, int] = {}
        self.block_size = {name: spec.size for name, spec in self.scene.objects.items()}
        for name, position in self._start_positions().items():
            spec = self.scene.objects[name]
            self.blocks[name] = self._make_block(position, spec.size, spec.rgba)
        self.body_names = {v: k for k, v in self.blocks.items()}
        #: Release points (x, y) where a place into a bin or zone stopped short, by
        #: place: the next place there chooses another spot.
        self.failed_releases: dict[str, list[np.ndarray]] = {}
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

    # --- geometry of places -------------------------------------------------------------

    def _containers(self) -> dict[str, PlaceSpec]:
        """Places whose put fact (``locations.put``) is decided by the ``inside``
        relation: things put there are inside an open box (the tabletop's bins)."""
        domain = self.scene.domain
        inside = {n for n, spec in domain.predicates.items() if spec.geometry == "inside"}
        return {
            name: spec
            for name, spec in self.scene.places.items()
            if any(f.predicate in inside for f in domain.put_facts("object", name, spec.type))
        }

    def surface(self, place: str) -> float:
        """Height of what things stand on at `place`: its ``surface_z``, else the table
        top (a container's floor is `BIN_WALL_THICKNESS` above this)."""
        surface_z = self.scene.places[place].surface_z
        return self.table_top if surface_z is None else surface_z

    def work_height(self, robot: str) -> float:
        """The highest surface `robot` works on: the places it reaches and the trays of
        the bases that park at them (its skills' safe height is measured from here)."""
        spec = self.scene.robots[robot]
        heights = [self.surface(place) for place in spec.reach]
        if any(self.scene.places[place].bays for place in spec.reach):
            heights += [base.tray_pose()[0][2] for base in self.bases.values()]
        return max(heights, default=self.table_top)

    @property
    def robots(self) -> dict[str, SimRobot | CompositeRobot]:
        """Every robot, arms and bases, by name (a mobile manipulator as its composite,
        whose `hold_still` stops both parts)."""
        return {**self.arms, **self.bases, **self.composites}

    def _make_box(
        self,
        center: tuple[float, float],
        size: tuple[float, float],
        bottom: float,
        top: float,
        rgba: tuple[float, ...],
    ) -> int:
        """A static box from `bottom` to `top`: a station's table, a pedestal, a stand."""
        c = self.client
        half = [size[0] / 2, size[1] / 2, (top - bottom) / 2]
        collision = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        visual = p.createVisualShape(
            p.GEOM_BOX, halfExtents=half, rgbaColor=list(rgba), physicsClientId=c
        )
        body = p.createMultiBody(
            0, collision, visual, [center[0], center[1], (top + bottom) / 2], physicsClientId=c
        )
        p.changeDynamics(body, -1, lateralFriction=1.0, physicsClientId=c)
        return body

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

    def _make_bin(
        self, position: tuple[float, float], size: tuple[float, float], floor: float
    ) -> int:
        """An open box standing at height `floor`: a floor and four walls as one static
        compound body."""
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
            0, collision, visual, [position[0], position[1], floor], physicsClientId=c
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
                        self.surface(place) + size / 2 + self.floor_thickness(place),
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

    def floor_thickness(self, place: str) -> float:
        """How far above the place's surface an object inside rests (a bin's floor)."""
        return BIN_WALL_THICKNESS if place in self.containers else 0.0

    def holder_of(self, block: str) -> SimArm | None:
        """The arm holding `block` (both fingers touch it), if any."""
        body = self.blocks[block]
        return next((a for a in self.arms.values() if all(a.finger_contacts(body))), None)

    def free_slots(self, place: str, count: int) -> list[tuple[float, float]]:
        """`count` evenly spread points along the long axis of a place's rectangle."""
        center, size = self.scene.places[place].center, self.scene.places[place].size
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
        for base in self.bases.values():
            base.apply_targets()
        p.stepSimulation(physicsClientId=self.client)
        self.steps += 1

    def settle(self, seconds: float) -> None:
        for _ in range(round(seconds / self.config.time_step)):
            self.step()

    def observe(self, camera: Camera, views: Sequence[Camera] = ()) -> Observation:
        """A camera frame plus every gripper's tool point and opening and every base's
        odometry (proprioception), and frames of the `views` cameras."""
        frame = camera.capture()
        grippers, bases = self.proprioception()
        seen = tuple(view.capture() for view in views)
        return Observation(frame.stamp, frame, grippers, bases, seen)

    def proprioception(self) -> tuple[dict[str, GripperState], dict[str, BaseState]]:
        """Every gripper's tool point and opening and every base's odometry: cheap, so a
        camera rendered elsewhere (`robot_planner.sim.render_process`) takes it at the
        instant of its snapshot."""
        grippers = {
            name: GripperState(arm.tool_pose()[0], arm.finger_width())
            for name, arm in self.arms.items()
        }
        bases = {}
        for name, base in self.bases.items():
            center, yaw = base.pose()
            bases[name] = BaseState(
                np.asarray(center, dtype=float)[:2], yaw, base.tray_pose()[0], base.tray_size
            )
        return grippers, bases

    def named_bodies(self) -> dict[str, int]:
        """Every body this world built, as ``kind:name`` -> PyBullet body id (``plane``,
        ``table``, ``robot:left_arm``, ``tray:mover``, ``arm:fetcher`` (the arm of a
        mobile manipulator, whose ``robot:`` is its base), ``object:red_block``, ``bin:``,
        ``stand:``, ``zone:``, ``station:``, ``pedestal:``): a second world built from the
        same scene finds the same body by name, whatever order the ids came in."""
        named = {"plane": self.plane}
        if self.table is not None:
            named["table"] = self.table
        named.update({f"robot:{n}": a.body for n, a in self.arms.items()})  # type: ignore[attr-defined]
        named.update({f"robot:{n}": b.body for n, b in self.bases.items()})
        # A mobile manipulator's arm, whose robot name its base already has.
        named.update(
            {f"arm:{n}": a.body for n, a in self.arms.items() if n in self.bases}  # type: ignore[attr-defined]
        )
        named.update({f"tray:{n}": b.tray for n, b in self.bases.items()})
        for kind, bodies in (
            ("pedestal", self.pedestals),
            ("zone", self.zones),
            ("station", self.stations),
            ("stand", self.stands),
            ("bin", self.bins),
            ("object", self.blocks),
        ):
            named.update({f"{kind}:{n}": body for n, body in bodies.items()})
        return named

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

    def touched_by(self, body: int) -> list[str]:
        """Names of what `body` touches now (objects, bins, stations, robots, the
        table): why a straight-line move stopped short, in a failure message."""
        names = {
            **{v: k for k, v in self.blocks.items()},
            **{v: k for k, v in self.bins.items()},
            **{v: k for k, v in self.stations.items()},
            **{arm.body: name for name, arm in self.arms.items()},
            **{base.body: name for name, base in self.bases.items()},
        }
        if self.table is not None:
            names[self.table] = "the table"
        touched = {
            names.get(c[2], "something")
            for c in p.getContactPoints(bodyA=body, physicsClientId=self.client)
            if c[2] != body
        }
        return sorted(touched)

    def close(self) -> None:
        if getattr(self, "client", -1) >= 0:
            with contextlib.suppress(p.error):
                p.disconnect(physicsClientId=self.client)
            self.client = -1

    def __enter__(self) -> SimWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
