"""Scenes (``sim/scenes/*.yaml``): one problem in a domain -- robots, objects, places.

The scene is the planner's and the validator's picture of the workcell: which names
exist, of which domain type, where each object starts, which robot (of which kind and
model) can reach which place, which facts hold at the start. Geometry (positions,
sizes, colours, cameras) is carried for the simulator and the perception code; the
symbolic layers only use names, types and reach. What the types, predicates and skills
mean is the domain's (`robot_planner.world.domain`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from robot_planner.untrusted import shown
from robot_planner.world.domain import Domain, Pattern, load_domain
from robot_planner.world.facts import Fact, FactError
from robot_planner.world.loading import ConfigError, load_yaml_model

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RobotSpec(_Strict):
    """One robot: its kind (what it can do), model (what simulates or drives it), base
    pose and the places it can reach."""

    kind: str = Field(description="robot kind declared in the domain, e.g. arm")
    model: str = Field(description="robot model, e.g. franka_panda")
    base_position: Vec3 = Field(description="base position in the world frame, metres")
    base_yaw: float = Field(0.0, description="base heading about +z, radians")
    reach: tuple[str, ...] = Field(description="places this robot can reach")
    start: str | None = Field(
        None, description="for a mobile robot: the place it starts at (locations.robot)"
    )
    description: str = ""
    aliases: tuple[str, ...] = Field((), description="other names in commands ('robot one')")


class ObjectSpec(_Strict):
    """A movable object of a domain type and where it starts (a place or an object)."""

    type: str = Field(description="domain type, e.g. block")
    start: str = Field(description="place or object the object starts in/on")
    color: str = Field("", description="colour name used in commands and perception")
    rgba: tuple[float, float, float, float] = (0.5, 0.5, 0.5, 1.0)
    size: float = Field(0.05, gt=0.0, le=0.5, description="edge length, metres")
    description: str = ""
    aliases: tuple[str, ...] = Field((), description="other words for this object in commands")


class PlaceSpec(_Strict):
    """A fixed place of a domain type: a rectangle on the work surface."""

    type: str = Field(description="domain type, e.g. bin or zone")
    center: Vec2 = Field(description="centre on the work surface, metres")
    size: Vec2 = Field((0.2, 0.2), description="x/y extent, metres")
    description: str = ""
    aliases: tuple[str, ...] = Field(
        (), description="other words for this place in commands ('middle', 'handover')"
    )
    bays: tuple[Vec3, ...] = Field(
        (), description="poses (x, y, yaw) where mobile robots park to serve this place"
    )
    surface_z: float | None = Field(
        None, description="height of the surface things stand on here (default: table top)"
    )

    @property
    def position(self) -> Vec2:
        """The centre (the name containers use in the simulator)."""
        return self.center


class CameraSpec(_Strict):
    """A fixed camera: where it is, what it looks at, and its image size and field of view."""

    eye: Vec3 = Field(description="camera position, metres")
    target: Vec3 = Field(description="point the optical axis goes through, metres")
    up: Vec3 = (0.0, 0.0, 1.0)
    fov_deg: float = Field(60.0, gt=1.0, lt=170.0, description="vertical field of view")
    width: int = Field(320, ge=16, le=4096)
    height: int = Field(240, ge=16, le=4096)
    near: float = Field(0.05, gt=0.0)
    far: float = Field(3.0, gt=0.0)

    def intrinsics(self) -> np.ndarray:
        """3x3 pinhole K of this camera (square pixels, principal point at the centre)."""
        fy = (self.height / 2.0) / math.tan(math.radians(self.fov_deg) / 2.0)
        return np.array(
            [[fy, 0.0, self.width / 2.0], [0.0, fy, self.height / 2.0], [0.0, 0.0, 1.0]]
        )

    def world_from_camera(self) -> np.ndarray:
        """4x4 pose of the camera at `eye` looking at `target` (OpenCV axes: x right,
        y down, z forward). Kept here so a monitor on another machine rebuilds the same
        pose from the scene file as the simulator renders with."""
        eye, target, up = (np.asarray(v, dtype=float) for v in (self.eye, self.target, self.up))
        forward = target - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, up)
        if np.linalg.norm(right) < 1e-9:
            raise ValueError("camera up vector is parallel to its viewing direction")
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
        return pose


class TableSpec(_Strict):
    urdf: str = "table/table.urdf"
    position: Vec3 = (0.0, 0.0, 0.0)
    top_z: float = 0.626


class Scene(_Strict):
    """A workcell in a domain: robots, objects, places, initial facts and who reaches what."""

    name: str
    description: str = ""
    domain: Domain = Field(repr=False)
    table: TableSpec = TableSpec()
    robots: dict[str, RobotSpec]
    objects: dict[str, ObjectSpec]
    places: dict[str, PlaceSpec] = {}
    facts: tuple[str, ...] = Field((), description="extra facts that hold at the start")
    cameras: dict[str, CameraSpec] = {}
    demo: str = Field("", description="the spoken-style command `robot-planner demo` runs")

    @field_validator("domain", mode="before")
    @classmethod
    def _load_domain(cls, value: Any, info: ValidationInfo) -> Any:
        """A domain named by the scene: a packaged name, or a path relative to the file."""
        if value is None or isinstance(value, (str, Path)):
            from robot_planner.resources import DEFAULT_DOMAIN, ResourceError

            source = value or DEFAULT_DOMAIN
            base = (info.context or {}).get("base")
            if base is not None and (
                str(source).endswith((".yaml", ".yml")) or "/" in str(source)
            ):
                source = Path(base) / source
            try:
                return load_domain(source)
            except (ResourceError, ConfigError) as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("robots", "objects", "places")
    @classmethod
    def _names_are_identifiers(cls, value: dict) -> dict:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"'{shown(name)}' is not a lower_snake_case name")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_domain(cls, data: Any) -> Any:
        if isinstance(data, dict) and "domain" not in data:
            data = {**data, "domain": None}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Scene:
        domain = self.domain
        if not self.robots:
            raise ValueError("a scene needs at least one robot")
        seen: dict[str, str] = {}
        for kind, names in (
            ("robot", self.robots),
            ("object", self.objects),
            ("place", self.places),
        ):
            for name in names:
                if name in seen:
                    raise ValueError(f"'{name}' is both a {seen[name]} and a {kind}")
                seen[name] = kind
        for name, spec in [*self.objects.items(), *self.places.items()]:
            if spec.type not in domain.types:
                raise ValueError(
                    f"{name}: unknown type '{shown(spec.type)}' in domain {domain.name} "
                    f"(known: {', '.join(domain.types)})"
                )
        for robot, spec in self.robots.items():
            if spec.kind not in domain.robot_kinds:
                raise ValueError(
                    f"robot {robot}: unknown kind '{shown(spec.kind)}' in domain {domain.name} "
                    f"(known: {', '.join(domain.robot_kinds)})"
                )
            for place in spec.reach:
                if place not in self.places:
                    raise ValueError(f"robot {robot} reaches '{place}', which is not a place")
            if spec.start is not None:
                if spec.start not in self.places:
                    raise ValueError(f"robot {robot} starts at unknown place '{spec.start}'")
                if domain.locations.robot is None:
                    raise ValueError(
                        f"robot {robot} has a start, but domain {domain.name} has no "
                        "locations.robot (where a mobile robot is)"
                    )
        for obj, spec in self.objects.items():
            if spec.start not in self.places and spec.start not in self.objects:
                raise ValueError(f"{obj} starts at unknown place '{spec.start}'")
            if spec.start == obj:
                raise ValueError(f"{obj} cannot start on itself")
            where = self.places.get(spec.start) or self.objects.get(spec.start)
            if not domain.put_facts(obj, spec.start, where.type):
                raise ValueError(
                    f"{obj} starts at {spec.start}, a {where.type}: the domain does not say "
                    f"how things are put on a {where.type} (locations.put)"
                )
        # A start chain (a on b on c ...) must end at a place, not loop.
        for obj in self.objects:
            seen_chain = {obj}
            where_name = self.objects[obj].start
            while where_name in self.objects:
                if where_name in seen_chain:
                    raise ValueError(f"objects {sorted(seen_chain)} start on each other")
                seen_chain.add(where_name)
                where_name = self.objects[where_name].start
        for text in self.facts:
            try:
                self.check_fact(domain.parse_fact(text))
            except FactError as exc:
                raise ValueError(f"facts: {exc}") from None
        return self

    # --- names and types -------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Every object and place name (robots are not things to act on)."""
        return (*self.objects, *self.places)

    def kind_of(self, name: str) -> str | None:
        """The domain type of a name (a robot's kind for robots), or None when unknown."""
        spec = self.objects.get(name) or self.places.get(name)
        if spec is not None:
            return spec.type
        robot = self.robots.get(name)
        return robot.kind if robot is not None else None

    def is_a(self, name: str, type_name: str) -> bool:
        """True when `name` is of type `type_name` or one of its subtypes (a robot is a
        `robot` and of its kind)."""
        return self.domain.is_a(self.kind_of(name), type_name)

    def names_of_type(self, type_name: str) -> list[str]:
        """Every name of a type (or its subtypes), robots included, in scene order."""
        return [n for n in (*self.names, *self.robots) if self.is_a(n, type_name)]

    @cached_property
    def places_by_type(self) -> dict[str, dict[str, PlaceSpec]]:
        """Places under each type they are of (their own and its ancestors'), for
        perception and simulation (computed once: the scene is immutable)."""
        out: dict[str, dict[str, PlaceSpec]] = {}
        for name, spec in self.places.items():
            for type_name in self.domain.ancestors(spec.type):
                out.setdefault(type_name, {})[name] = spec
        return out

    def places_of(self, type_name: str) -> dict[str, PlaceSpec]:
        """Places of a type or its subtypes, in scene order."""
        return self.places_by_type.get(type_name, {})

    def reaches(self, robot: str, place: str) -> bool:
        """True when `robot` can reach the place `place`."""
        spec = self.robots.get(robot)
        return spec is not None and place in spec.reach

    def check_fact(self, fact: Fact) -> Fact:
        """`fact` if its predicate is declared and each argument is a known name of the
        predicate's argument type; else `FactError` saying what is wrong."""
        self.domain.check_fact(fact)
        types = self.domain.predicates[fact.predicate].args
        for arg, type_name in zip(fact.args, types, strict=True):
            kind = self.kind_of(arg)
            if kind is None:
                raise FactError(f"'{shown(str(fact))}': unknown name '{shown(arg)}'")
            if not self.is_a(arg, type_name):
                raise FactError(f"'{shown(str(fact))}': {arg} is a {kind}, not a {type_name}")
        return fact

    def parse_facts(self, texts: Iterable[str]) -> frozenset[Fact]:
        """Parse and check facts about this scene; the first bad one raises `FactError`."""
        return frozenset(self.check_fact(self.domain.parse_fact(t)) for t in texts)

    # --- state -----------------------------------------------------------------------

    def derive(self, facts: Iterable[Fact]) -> frozenset[Fact]:
        """`facts` with the domain's derived facts recomputed."""
        return self.domain.derive(facts, self)

    def location_of(self, obj: str, facts: Iterable[Fact]) -> str | None:
        """The place an object is in/at (following stacks), the robot carrying it, or None."""
        return self.domain.location_of(obj, facts)

    def initial_facts(self) -> frozenset[Fact]:
        """The facts that hold when the scene is loaded (before any motion)."""
        facts: set[Fact] = set()
        for robot, spec in self.robots.items():
            for template in self.domain.robot_kinds[spec.kind].initial:
                facts.add(Pattern.parse(template).ground({"robot": robot}))
            if spec.start is not None and self.domain.locations.robot is not None:
                facts.add(Fact(self.domain.locations.robot, (robot, spec.start)))
        for obj, spec in self.objects.items():
            facts.update(self.domain.put_facts(obj, spec.start, self.kind_of(spec.start) or ""))
        facts.update(self.domain.parse_fact(t) for t in self.facts)
        return self.derive(facts)


def load_scene(source: str | Path, domain: str | Path | Domain | None = None) -> Scene:
    """Load a scene by name (``tabletop``) or path; raise `ConfigError` with one line.

    Args:
        domain: use this domain (a name, a file, or a loaded one) instead of the one the
            scene file names -- to try a changed domain on an existing scene.
    """
    from robot_planner.resources import scene_path

    path = scene_path(source)
    if domain is not None and not isinstance(domain, Domain):
        domain = load_domain(domain)  # relative to the working directory, not the scene
    overrides = {} if domain is None else {"domain": domain}
    return load_yaml_model(path, Scene, what="scene", overrides=overrides)


__all__ = ["ConfigError", "Scene", "load_scene"]
