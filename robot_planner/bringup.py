"""The bring-up description: which nodes run, with which parameter file and overrides.

Shared by `launch/sim_launch.py`, `launch/robot_launch.py` (for full ROS 2 installs) and
`robot-planner bringup` (for pip-only installs, where `ros2 launch` does not exist), so
the two ways of starting the system cannot drift apart: both start the executables in
`NODES` with the parameter file named by `PROFILES` and the overrides in `ARGUMENTS`.
ROS-free: importing it needs neither rclpy nor launch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from robot_planner.resources import share_dir

PACKAGE = "robot_planner"


@dataclass(frozen=True)
class Argument:
    """A launch argument (`ros2 launch ... name:=value`, `bringup --name value`)."""

    name: str
    default: str
    description: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    """One node: its name, console script, module (for `python -m`), the argument that
    switches it on (None: always on) and parameters taken from arguments when the
    argument is not empty (parameter -> argument)."""

    name: str
    executable: str
    module: str
    enabled_by: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)


#: Parameter files per profile, relative to the package's share directory.
PROFILES = {
    "sim": "config/robot_planner.yaml",
    "hardware": "config/robot_planner_hardware.yaml",
}

ARGUMENTS = (
    Argument("config", "", "ROS 2 parameter file for every node (empty: the profile's own)"),
    Argument(
        "planner_backend",
        "",
        "planner backend: offline | openai | transformers | auto (empty: from the config)",
        ("", "offline", "openai", "transformers", "auto"),
    ),
    Argument(
        "monitor_mode",
        "",
        "VQA monitor: on | after-skill | off (empty: from the config)",
        ("", "on", "after-skill", "off"),
    ),
    Argument(
        "voice", "true", "start the voice node (speech on /robot_planner/audio)", ("true", "false")
    ),
    Argument("scene", "", "scene name or file for every node (empty: from the config)"),
    Argument(
        "record",
        "",
        "write the planner's topics, status, plan and camera (compressed) to this .mcap "
        "file (empty: no recording)",
    ),
)

NODES = (
    NodeSpec(
        "planner",
        "planner_node",
        "robot_planner.nodes.planner_node",
        overrides={"backend": "planner_backend", "scene": "scene"},
    ),
    NodeSpec(
        "executor",
        "executor_node",
        "robot_planner.nodes.executor_node",
        overrides={"monitor_mode": "monitor_mode", "scene": "scene"},
    ),
    NodeSpec(
        "monitor",
        "monitor_node",
        "robot_planner.nodes.monitor_node",
        overrides={"mode": "monitor_mode", "scene": "scene"},
    ),
    NodeSpec(
        "voice",
        "voice_node",
        "robot_planner.nodes.voice_node",
        overrides={"scene": "scene"},
        enabled_by="voice",
    ),
)


#: Started only with `record` (its parameter `path`), and first, so it is up before the
#: others publish. Not in `NODES`: the parameter files need no section for it.
RECORDER = NodeSpec("recorder", "recorder_node", "robot_planner.nodes.recorder_node")


def profile_config(profile: str) -> Path:
    """The installed parameter file of a profile (`sim` or `hardware`)."""
    try:
        return share_dir() / PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})") from None


def enabled(spec: NodeSpec, values: dict[str, str]) -> bool:
    """Whether `spec` runs with these argument values."""
    if spec.enabled_by is None:
        return True
    return values.get(spec.enabled_by, "true").strip().lower() in ("true", "1", "yes", "on")


def overrides(spec: NodeSpec, values: dict[str, str]) -> dict[str, str]:
    """The parameter overrides for `spec` (only arguments that were given a value)."""
    return {param: values[arg] for param, arg in spec.overrides.items() if values.get(arg)}


@dataclass(frozen=True)
class Process:
    """One node as `robot-planner bringup` starts it."""

    spec: NodeSpec
    params_file: Path
    params: dict[str, str]

    def argv(self, executable: list[str], extra: dict[str, str] | None = None) -> list[str]:
        """The command line: the executable, then ROS arguments (node name, parameter
        file, overrides) exactly as `ros2 launch` would pass them."""
        args = [*executable, "--ros-args", "-r", f"__node:={self.spec.name}"]
        args += ["--params-file", str(self.params_file)]
        # Argument overrides are strings: quoted, or rcl's YAML reading turns `off` into
        # a boolean. `extra` (`bringup --set`) stays YAML, so `drop_prob=0.3` is a number.
        for name, value in self.params.items():
            if name not in (extra or {}):
                args += ["-p", f"{name}:={json.dumps(value)}"]
        for name, value in (extra or {}).items():
            args += ["-p", f"{name}:={value}"]
        if os.environ.get("ROS_SECURITY_ENABLE", "").lower() == "true":
            # SROS2: each node in its own enclave, so permissions can differ per node
            # (docs/security.md: only the operator enclave may publish commands).
            args += ["--enclave", f"{ENCLAVE_ROOT}/{self.spec.name}"]
        return args


#: SROS2 enclaves of the nodes are ENCLAVE_ROOT/<node> (config/sros2/policy.xml).
ENCLAVE_ROOT = "/robot_planner"


def processes(profile: str, values: dict[str, str]) -> list[Process]:
    """The nodes to start for `profile` with these argument values (defaults filled in)."""
    merged = {a.name: a.default for a in ARGUMENTS} | {k: v for k, v in values.items() if v}
    for argument in ARGUMENTS:
        if argument.choices and merged[argument.name] not in argument.choices:
            options = ", ".join(c for c in argument.choices if c)
            raise ValueError(
                f"{argument.name} must be one of {options}, not {merged[argument.name]!r}"
            )
    config = Path(merged["config"]) if merged["config"] else profile_config(profile)
    if not config.is_file():
        raise ValueError(f"parameter file {config} does not exist")
    nodes = [
        Process(spec, config, overrides(spec, merged)) for spec in NODES if enabled(spec, merged)
    ]
    if merged["record"]:
        from robot_planner.recording import check_output

        # Checked here, before any node starts: the recorder would die, the rest run on.
        path = check_output(merged["record"])  # RecordingError is a ValueError
        nodes.insert(0, Process(RECORDER, config, {"path": str(path)}))
    return nodes
