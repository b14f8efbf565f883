"""Choosing a VQA backend by name: geometric (default), openai, transformers, oracle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robot_planner.monitor.base import TimeLimitedVqa, VqaBackend, VqaError
from robot_planner.monitor.config import DEFAULT_VQA, MonitorConfig
from robot_planner.world.scene import Scene

if TYPE_CHECKING:
    from robot_planner.sim.world import SimWorld

VQA_BACKENDS: tuple[str, ...] = ("geometric", "openai", "transformers", "oracle")


def make_vqa(
    name: str | None = None,
    *,
    scene: Scene,
    world: SimWorld | None = None,
    config: MonitorConfig | None = None,
) -> VqaBackend:
    """The named backend (`config.vqa`, else the offline default when `name` is None).
    Heavy libraries load only when their backend is chosen; a backend that cannot start
    (no key, no model, no simulator for the oracle) is a one-line `VqaError`."""
    config = config or MonitorConfig()
    name = name or config.vqa or DEFAULT_VQA
    if name == "geometric":
        from robot_planner.monitor.geometric import GeometricVqa

        return GeometricVqa(scene)
    if name == "openai":
        from robot_planner.monitor.openai_vqa import OpenAIVqa

        return TimeLimitedVqa(OpenAIVqa(config.openai), config.vqa_timeout_s)
    if name == "transformers":
        from robot_planner.monitor.transformers_vqa import TransformersVqa

        return TimeLimitedVqa(TransformersVqa(config.transformers), config.vqa_timeout_s)
    if name == "oracle":
        if world is None:
            raise VqaError("the oracle VQA backend reads the simulator: it needs a sim world")
        from robot_planner.monitor.oracle import OracleVqa

        return OracleVqa(world)
    raise VqaError(f"unknown VQA backend '{name}' (choose from {', '.join(VQA_BACKENDS)})")
