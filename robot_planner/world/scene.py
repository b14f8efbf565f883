"""Scene descriptions (``sim/scenes/*.yaml``): robots, blocks, bins, zones and reach.

The scene is the planner's and the validator's picture of the workcell: which names
exist, of what kind, where each block starts, and which robot can reach which place.
Geometry (positions, sizes, colours) is carried for the simulator and the perception
code; the symbolic layers only use names, kinds and reach.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robot_planner.world.facts import Fact, derive
from robot_planner.world.loading import ConfigError, load_yaml_model

Kind = Literal["block", "bin", "zone", "robot"]
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RobotSpec(_Strict):
    """One arm: its model, base pose and the places it can reach."""

    model: str = Field(description="robot model, e.g. franka_panda")
    base_position: Vec3 = Field(description="base position in the world frame, metres")
    base_yaw: float = Field(0.0, description="base heading about +z, radians")
    reach: tuple[str, ...] = Field(description="zones and bins this robot can reach")
    description: str = ""


class BlockSpec(_Strict):
    """A movable block and where it starts (a zone, a bin or another block)."""

    color: str = Field(description="colour name used in commands and perception")
    rgba: tuple[float, float, float, float]
    size: float = Field(0.05, gt=0.0, le=0.2, description="cube edge, metres")
    start: str = Field(description="zone, bin or block the block starts in/on")


class BinSpec(_Strict):
    """An open container on the table."""

    position: Vec2 = Field(description="centre on the table, metres")
    size: Vec2 = Field((0.2, 0.2), description="inner x/y extent, metres")
    description: str = ""


class ZoneSpec(_Strict):
    """A marked rectangle on the table."""

    center: Vec2 = Field(description="centre on the table, metres")
    size: Vec2 = Field(description="x/y extent, metres")
    description: str = ""


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
    """A workcell: robots, blocks, bins, zones and who reaches what."""

    name: str
    description: str = ""
    table: TableSpec = TableSpec()
    robots: dict[str, RobotSpec]
    objects: dict[str, BlockSpec]
    bins: dict[str, BinSpec] = {}
    zones: dict[str, ZoneSpec] = {}
    cameras: dict[str, CameraSpec] = {}

    @field_validator("robots", "objects", "bins", "zones")
    @classmethod
    def _names_are_identifiers(cls, value: dict) -> dict:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"'{name}' is not a lower_snake_case name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scene:
        if not self.robots:
            raise ValueError("a scene needs at least one robot")
        seen: dict[str, str] = {}
        for kind, names in (
            ("robot", self.robots),
            ("block", self.objects),
            ("bin", self.bins),
            ("zone", self.zones),
        ):
            for name in names:
                if name in seen:
                    raise ValueError(f"'{name}' is both a {seen[name]} and a {kind}")
                seen[name] = kind
        places = set(self.bins) | set(self.zones)
        for robot, spec in self.robots.items():
            for place in spec.reach:
                if place not in places:
                    raise ValueError(
                        f"robot {robot} reaches '{place}', which is not a bin or zone"
                    )
        for block, spec in self.objects.items():
            if spec.start not in places and spec.start not in self.objects:
                raise ValueError(f"block {block} starts at unknown place '{spec.start}'")
            if spec.start == block:
                raise ValueError(f"block {block} cannot start on itself")
        # A start chain (a on b on c ...) must end at a place, not loop.
        for block in self.objects:
            seen_chain = {block}
            where = self.objects[block].start
            while where in self.objects:
                if where in seen_chain:
                    raise ValueError(f"blocks {sorted(seen_chain)} start on each other")
                seen_chain.add(where)
                where = self.objects[where].start
        return self

    # --- names and kinds -------------------------------------------------------------

    @property
    def blocks(self) -> tuple[str, ...]:
        return tuple(self.objects)

    def kind_of(self, name: str) -> Kind | None:
        """The kind of a name in this scene, or None when the scene does not know it."""
        if name in self.objects:
            return "block"
        if name in self.bins:
            return "bin"
        if name in self.zones:
            return "zone"
        if name in self.robots:
            return "robot"
        return None

    def reaches(self, robot: str, place: str) -> bool:
        """True when `robot` can reach the zone or bin `place`."""
        spec = self.robots.get(robot)
        return spec is not None and place in spec.reach

    # --- state -----------------------------------------------------------------------

    def initial_facts(self) -> frozenset[Fact]:
        """The facts that hold when the scene is loaded (before any motion)."""
        facts: set[Fact] = {Fact("gripper_empty", (r,)) for r in self.robots}
        for block, spec in self.objects.items():
            if spec.start in self.zones:
                facts |= {Fact("on_table", (block,)), Fact("at", (block, spec.start))}
            elif spec.start in self.bins:
                facts.add(Fact("in", (block, spec.start)))
            else:
                facts.add(Fact("on", (block, spec.start)))
        return derive(facts, self.objects)


def location_of(block: str, facts: frozenset[Fact] | set[Fact]) -> str | None:
    """The zone or bin a block is in (following stacks), the robot holding it, or None."""
    support: dict[str, str] = {}
    place: dict[str, str] = {}
    holder: dict[str, str] = {}
    for f in facts:
        if f.predicate == "on":
            support[f.args[0]] = f.args[1]
        elif f.predicate in ("in", "at"):
            place[f.args[0]] = f.args[1]
        elif f.predicate == "holding":
            holder[f.args[1]] = f.args[0]
    seen: set[str] = set()
    current = block
    while current not in seen:
        seen.add(current)
        if current in holder:
            return holder[current]
        if current in place:
            return place[current]
        if current not in support:
            return None
        current = support[current]
    return None


def load_scene(source: str | Path) -> Scene:
    """Load a scene by name (``tabletop``) or path; raise `ConfigError` with one line."""
    from robot_planner.resources import scene_path

    path = scene_path(source)
    return load_yaml_model(path, Scene, what="scene")


__all__ = ["ConfigError", "Scene", "load_scene", "location_of"]
