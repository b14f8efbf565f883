"""Seeded disturbances: dropped blocks, displaced placements, knocked objects, spilled
trays and delayed bases.

They exist to test the monitor and to benchmark recovery (DoReMi's protocol): every
random choice comes from the world seed's own stream, and every disturbance that
happens is logged as an event with its simulated time. What a disturbance acts on is
decided by the robot's model (an arm carrying, a mobile base driving), not by skill or
predicate names: the drives of mobile bases draw from a stream of their own, so the
arms' disturbances are the same whether bases are disturbed or not.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from robot_planner.sim.driving import floor_areas
from robot_planner.sim.skills import CARRY_PHASE, SkillRun
from robot_planner.sim.truth import riding

if TYPE_CHECKING:
    from robot_planner.sim.world import SimWorld

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Knock:
    """Push `object` sideways at simulated time `time_s` with speed `speed` m/s."""

    time_s: float
    object: str
    speed: float = 0.8


DISPLACE_MODELS = ("disc", "gaussian")
#: A base is disturbed between these fractions of its drive (of its reserved path's
#: length), never while it sets off or parks.
DRIVE_WINDOW = (0.2, 0.8)
#: Drives shorter than this (m) are not disturbed (turning on the spot in a bay).
MIN_DRIVE = 0.2
#: What a spill knocks off a tray falls from this far (m) outside the base's footprint
#: with this sideways speed (m/s): it lands about `SPILL_REACH` (m) beside the base's
#: centre line, clear of its wheels and well inside a 1.3 m aisle.
SPILL_GAP = 0.02
SPILL_SPEED = 0.3
SPILL_REACH = 0.5


@dataclass(frozen=True)
class DisturbanceConfig:
    """What to disturb.

    Attributes:
        drop_prob: probability that a carried block is dropped during a place's carry.
        displace_cm: size (cm) of the horizontal displacement of a block after placing.
        displace_model: ``disc`` (the default): uniform direction, distance uniform in
            [0, displace_cm] ("placement noise of up to q cm"); ``gaussian``: independent
            normal noise of std-dev displace_cm on x and y (typically 1.25 q away, so most
            blocks placed on a 5 cm block topple at q = 3 cm).
        knocks: objects pushed at given times.
        spill_prob: probability, per drive of a mobile base, that what rides on its tray
            is knocked off sideways onto the floor midway (20-80 %) through the drive.
        delay_prob: probability, per drive of a mobile base, that it stops midway for
            `delay_s` seconds and then drives on.
        delay_s: how long a delayed base stands (s).
    """

    drop_prob: float = 0.0
    displace_cm: float = 0.0
    knocks: tuple[Knock, ...] = ()
    displace_model: str = "disc"
    spill_prob: float = 0.0
    delay_prob: float = 0.0
    delay_s: float = 8.0

    def __post_init__(self) -> None:
        for what, value in (
            ("drop", self.drop_prob),
            ("spill", self.spill_prob),
            ("delay", self.delay_prob),
        ):
            if not 0.0 <= value <= 1.0:  # NaN fails too
                raise ValueError(f"{what} probability must be in [0, 1], got {value}")
        if not 0.0 <= self.delay_s < math.inf:
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {self.delay_s}")
        if not 0.0 <= self.displace_cm < math.inf:  # NaN fails too
            raise ValueError(
                f"displacement must be a finite number of cm >= 0, got {self.displace_cm}"
            )
        if self.displace_model not in DISPLACE_MODELS:
            raise ValueError(
                f"unknown displacement model '{self.displace_model}' "
                f"({', '.join(DISPLACE_MODELS)})"
            )

    @property
    def active(self) -> bool:
        return (
            self.drop_prob > 0
            or self.displace_cm > 0
            or bool(self.knocks)
            or self.spill_prob > 0
            or (self.delay_prob > 0 and self.delay_s > 0)
        )


@dataclass
class _Drive:
    """One skill run of a mobile base: what was drawn when it started (the fractions of
    the drive at which to spill and to stop, None for neither) and how far it has gone."""

    spill_at: float | None
    spill_side: float  # +1: to the base's left, -1: to its right
    delay_at: float | None
    length: float | None = None
    travelled: float = 0.0
    last: np.ndarray | None = None


@dataclass
class Disturbances:
    """Applies a `DisturbanceConfig` to a world, step by step.

    `paths` are the paths the bases have reserved (`Traffic.paths`, by base): a base
    drives while it holds one, and its length is what a drive's progress is measured
    against.
    """

    world: SimWorld
    config: DisturbanceConfig
    paths: Mapping[str, Sequence[np.ndarray]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence([self.world.seed, 1]))
        self.base_rng = np.random.default_rng(np.random.SeedSequence([self.world.seed, 2]))
        self._drops: dict[int, float] = {}  # id(run) -> fraction of the carry
        self._drives: dict[int, _Drive] = {}  # id(run) -> a base's drive
        # A delayed base stays stopped until then, whichever run drives it: whatever
        # stopped it (a person in the aisle) does not leave because the plan changed.
        self._blocked_until: dict[str, float] = {}
        self._knocks = sorted(self.config.knocks, key=lambda k: k.time_s)

    def _log(self, kind: str, **details: Any) -> None:
        event = {
            "event": "disturbance",
            "kind": kind,
            "time": round(self.world.time, 4),
            **details,
        }
        self.events.append(event)
        log.info("disturbance %s", event)

    def on_skill_start(self, run: SkillRun) -> None:
        # Draw for every place and every run of a base (even with p = 0) so the random
        # streams, and therefore every later disturbance, do not depend on which
        # probabilities are set.
        if run.robot in self.world.bases:
            spill, spill_at, side = self.base_rng.random(3)
            delay, delay_at = self.base_rng.random(2)
            low, high = DRIVE_WINDOW
            self._drives[id(run)] = _Drive(
                spill_at=low + (high - low) * spill_at if spill < self.config.spill_prob else None,
                spill_side=1.0 if side < 0.5 else -1.0,
                delay_at=(
                    low + (high - low) * delay_at
                    if delay < self.config.delay_prob and self.config.delay_s > 0
                    else None
                ),
            )
            return
        if run.skill != "place":
            return
        draw, moment = self.rng.random(), self.rng.uniform(0.2, 0.8)
        if draw < self.config.drop_prob:
            self._drops[id(run)] = moment

    def on_skill_end(self, run: SkillRun, succeeded: bool) -> None:
        self._drops.pop(id(run), None)
        self._drives.pop(id(run), None)
        if run.skill != "place" or not succeeded:
            return
        noise = self.rng.normal(0.0, 1.0, 2)
        if self.config.displace_cm <= 0:
            return
        block = run.args["object"]
        size = self.config.displace_cm / 100.0
        if self.config.displace_model == "disc":
            angle, distance = self.rng.uniform(0, 2 * np.pi), self.rng.uniform(0, size)
            offset = distance * np.array([np.cos(angle), np.sin(angle)])
        else:
            offset = noise * size
        pos, _ = self.world.block_pose(block)
        self.world.move_block(block, [pos[0] + offset[0], pos[1] + offset[1], pos[2] + 0.002])
        self._log(
            "displace",
            object=block,
            dx_cm=round(offset[0] * 100, 2),
            dy_cm=round(offset[1] * 100, 2),
        )

    def before_step(self, runs: list[SkillRun]) -> None:
        for run in runs:
            drive = self._drives.get(id(run))
            if drive is not None:
                self._drive_step(run, drive)
                continue
            moment = self._drops.get(id(run))
            if moment is None or run.phase != CARRY_PHASE:
                continue
            phase = run.phases[run.index]
            if self.world.time - phase.started_at >= moment * phase.expected_duration:
                del self._drops[id(run)]
                arm = self.world.arms[run.robot]
                arm.command_gripper(arm.open_width, 40.0)  # its model's own full opening
                self._log("drop", robot=run.robot, object=run.args["object"])
        while self._knocks and self.world.time >= self._knocks[0].time_s:
            knock = self._knocks.pop(0)
            if knock.object not in self.world.blocks:
                self._log("knock_skipped", object=knock.object, reason="unknown object")
                continue
            angle = self.rng.uniform(0, 2 * np.pi)
            velocity = [knock.speed * np.cos(angle), knock.speed * np.sin(angle), 0.3]
            self.world.push_block(knock.object, velocity)
            self._log("knock", object=knock.object, speed=knock.speed)

    # --- mobile bases --------------------------------------------------------------

    def _drive_step(self, run: SkillRun, drive: _Drive) -> None:
        """Measure how far a base has driven along its reserved path; spill its tray or
        stop it once the drawn fraction of the path is behind it. A base still delayed
        when a new run starts driving it (after a re-plan) stands until the delay ends."""
        if run.held:
            return
        path = self.paths.get(run.robot)
        if path is None:  # not driving: waiting for a bay or a clear path, or arrived
            return
        base = self.world.bases[run.robot]
        blocked = self._blocked_until.get(run.robot, -math.inf)
        if self.world.time < blocked:
            base.hold_still()
            run.hold(self.world.time, blocked - self.world.time)
            self._log("delay", robot=run.robot, seconds=round(blocked - self.world.time, 3))
            return
        if drive.spill_at is None and drive.delay_at is None:
            return
        xy = base.pose()[0]
        if drive.length is None or drive.last is None:
            drive.length = sum(float(np.linalg.norm(b - a)) for a, b in itertools.pairwise(path))
            drive.last = xy
            return
        drive.travelled += float(np.linalg.norm(xy - drive.last))
        drive.last = xy
        if drive.length < MIN_DRIVE:
            return
        done = drive.travelled / drive.length
        if drive.spill_at is not None and done >= drive.spill_at:
            drive.spill_at = None
            self._spill(run.robot, drive.spill_side)
        if drive.delay_at is not None and done >= drive.delay_at:
            drive.delay_at = None
            base.hold_still()  # brakes at its acceleration limits: nothing slides off
            run.hold(self.world.time, self.config.delay_s)
            self._blocked_until[run.robot] = self.world.time + self.config.delay_s
            self._log("delay", robot=run.robot, seconds=self.config.delay_s)

    def _spill(self, robot: str, side: float) -> None:
        """Knock what rides on `robot`'s tray off sideways: each object is moved out from
        the tray to just beside the base's footprint, at its height, and falls from there
        to the floor with the base's forward speed and a little sideways speed. (Pushed
        off the tray instead, an object fast enough to clear the chassis flew out of a
        1.3 m aisle, and a slower one came to rest on the chassis beside the tray.)"""
        world = self.world
        held = {
            block
            for arm in world.arms.values()
            for block, body in world.blocks.items()
            if all(arm.finger_contacts(body))
        }
        objects = [block for block in riding(world, robot) if block not in held]
        if not objects:
            return  # an empty tray: nothing to spill
        base = world.bases[robot]
        xy, yaw = base.pose()
        heading = np.array([math.cos(yaw), math.sin(yaw)])
        left = np.array([-heading[1], heading[0]])
        side = self._landing_side(xy, left, side)
        for block in objects:
            pos, _ = world.block_pose(block)
            along = float(np.dot(pos[:2] - xy, heading))
            beside = base.footprint[1] + world.block_size[block] / 2 + SPILL_GAP
            x, y = xy + along * heading + side * beside * left
            world.move_block(block, [x, y, pos[2]])
            velocity = base.velocity()[0] * heading + side * SPILL_SPEED * left
            world.push_block(block, [velocity[0], velocity[1], 0.0])
        self._log("spill", robot=robot, objects=objects, side="left" if side > 0 else "right")

    def _landing_side(self, xy: np.ndarray, left: np.ndarray, drawn: float) -> float:
        """The side to spill to: the one whose landing point lies in a floor area (the
        aisle, not a station or a bin, where no fact would say where it is), then the
        one nearer the scene's cameras (the far side is hidden behind the base: that
        would be a lost object, another experiment), else the drawn one."""
        floors = floor_areas(self.world)
        eyes = [np.asarray(c.eye[:2], dtype=float) for c in self.world.scene.cameras.values()]

        def landing(side: float) -> np.ndarray:
            return xy + side * SPILL_REACH * left

        def on_floor(side: float) -> bool:
            x, y = landing(side)
            return any(
                abs(x - spec.center[0]) <= spec.size[0] / 2
                and abs(y - spec.center[1]) <= spec.size[1] / 2
                for spec in floors
            )

        def to_camera(side: float) -> float:
            return min((float(np.linalg.norm(landing(side) - e)) for e in eyes), default=0.0)

        return min((drawn, -drawn), key=lambda side: (not on_floor(side), to_camera(side)))
