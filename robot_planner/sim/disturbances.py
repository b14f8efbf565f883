"""Seeded disturbances: dropped blocks, displaced placements, knocked objects.

They exist to test the monitor and to benchmark recovery (DoReMi's protocol): every
random choice comes from the world seed's own stream, and every disturbance that
happens is logged as an event with its simulated time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from robot_planner.sim.skills import CARRY_PHASE, SkillRun

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
    """

    drop_prob: float = 0.0
    displace_cm: float = 0.0
    knocks: tuple[Knock, ...] = ()
    displace_model: str = "disc"

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_prob <= 1.0:
            raise ValueError(f"drop probability must be in [0, 1], got {self.drop_prob}")
        if self.displace_cm < 0:
            raise ValueError(f"displacement must be >= 0 cm, got {self.displace_cm}")
        if self.displace_model not in DISPLACE_MODELS:
            raise ValueError(
                f"unknown displacement model '{self.displace_model}' "
                f"({', '.join(DISPLACE_MODELS)})"
            )

    @property
    def active(self) -> bool:
        return self.drop_prob > 0 or self.displace_cm > 0 or bool(self.knocks)


@dataclass
class Disturbances:
    """Applies a `DisturbanceConfig` to a world, step by step."""

    world: SimWorld
    config: DisturbanceConfig
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence([self.world.seed, 1]))
        self._drops: dict[int, float] = {}  # id(run) -> fraction of the carry
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
        # Draw for every place (even with p = 0) so the random stream, and therefore
        # every later disturbance, does not depend on which probability is set.
        if run.skill != "place":
            return
        draw, moment = self.rng.random(), self.rng.uniform(0.2, 0.8)
        if draw < self.config.drop_prob:
            self._drops[id(run)] = moment

    def on_skill_end(self, run: SkillRun, succeeded: bool) -> None:
        self._drops.pop(id(run), None)
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
