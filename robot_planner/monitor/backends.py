"""Choosing a VQA backend by name: geometric (default), openai, transformers, oracle.

The oracle reads the simulator's ground truth, so only a simulated system can supply it:
the composition root (`robot_planner.system`) passes an `oracle` factory in. The monitor
itself never imports the simulator.
"""

from __future__ import annotations

from collections.abc import Callable

from robot_planner.monitor.base import TimeLimitedVqa, VqaBackend, VqaError
from robot_planner.monitor.config import DEFAULT_VQA, MonitorConfig
from robot_planner.world.scene import Scene

VQA_BACKENDS: tuple[str, ...] = ("geometric", "openai", "transformers", "oracle")

#: Builds the simulator's oracle backend on demand (only simulated systems have one).
OracleFactory = Callable[[], VqaBackend]


def make_vqa(
    name: str | None = None,
    *,
    scene: Scene,
    config: MonitorConfig | None = None,
    oracle: OracleFactory | None = None,
) -> VqaBackend:
    """The named backend (`config.vqa`, else the offline default when `name` is None).

    Heavy libraries load only when their backend is chosen; a backend that cannot start
    (no key, no model, no simulator for the oracle) is a one-line `VqaError`.

    Args:
        name: geometric, openai, transformers or oracle; None takes `config.vqa`.
        scene: the scene the backend perceives.
        config: thresholds and backend settings (defaults when None).
        oracle: makes the ground-truth backend; given by a simulated system only.
    """
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
        if oracle is None:
            raise VqaError(
                "the oracle VQA backend reads the simulator: it needs a sim world "
                "(use it with robot-planner run or a simulation benchmark)"
            )
        return oracle()
    raise VqaError(f"unknown VQA backend '{name}' (choose from {', '.join(VQA_BACKENDS)})")
