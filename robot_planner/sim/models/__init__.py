"""Simulated robot models, registered by the name a scene gives as a robot's ``model:``.

Every module of this package is imported here, and each registers its model with
`register_model` (as pluginlib loads the plugins a params file names), so adding an arm
is one file: a class satisfying `SimArm` (or `SimBase` for a mobile base) and a
``register_model("name", factory)`` line.
"""

from __future__ import annotations

import importlib
import pkgutil

from robot_planner.sim.models.registry import (
    MODELS,
    ModelFactory,
    RobotModel,
    SimArm,
    SimBase,
    SimRobot,
    get_model,
    known_models,
    register_model,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "MODELS",
    "ModelFactory",
    "RobotModel",
    "SimArm",
    "SimBase",
    "SimRobot",
    "get_model",
    "known_models",
    "register_model",
]
