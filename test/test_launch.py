"""The launch files start exactly what `robot-planner bringup` starts.

`launch` and `launch_ros` do not install from PyPI, so the real launch files are loaded
against small stand-ins for the five modules they import. The stand-ins keep the real
constructors' signatures (keyword-only arguments, `DeclareLaunchArgument`'s checks of
`choices` and `default_value`) and record what they were given; `_launch()` then does what
`ros2 launch FILE name:=value` does with a launch description: sets the launch
configurations, visits the argument declarations (defaults, choices) and runs the
`OpaqueFunction`. The `Node` actions it returns are compared with `bringup.processes()`
and with the command line `Process.argv` gives the same node.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from robot_planner import bringup

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILES = {"sim_launch.py": "sim", "robot_launch.py": "hardware"}


# --- stand-ins for launch / launch_ros (signatures as in ROS 2 Kilted) ---------------


class LaunchContext:
    def __init__(self, *, argv: list[str] | None = None, noninteractive: bool = False):
        self.argv = argv or []
        self.launch_configurations: dict[str, str] = {}


class LaunchDescription:
    def __init__(self, initial_entities: list | None = None, *, deprecated_reason=None):
        self.entities = list(initial_entities or [])


class SubstitutionFailure(RuntimeError):
    pass


class DeclareLaunchArgument:
    def __init__(
        self,
        name: str,
        *,
        default_value: str | None = None,
        description: str | None = None,
        choices: list[str] | None = None,
        **kwargs: Any,
    ):
        # The real constructor refuses these two, so a launch file that passed them
        # would fail at `ros2 launch` time, not silently here.
        if choices is not None and len(choices) == 0:
            raise RuntimeError(
                "Provided choices arg is empty. Use None to ignore the choice list."
            )
        if choices is not None and default_value is not None and default_value not in choices:
            raise RuntimeError(f'Provided default_value "{default_value}" is not in {choices}')
        self.name = name
        self.default_value = default_value
        self.description = description
        self.choices = choices
        self.kwargs = kwargs

    def execute(self, context: LaunchContext) -> None:
        configurations = context.launch_configurations
        if self.name not in configurations:
            if self.default_value is None:
                raise RuntimeError(f'Required launch argument "{self.name}" was not provided.')
            configurations[self.name] = self.default_value
        if self.choices is not None and configurations[self.name] not in self.choices:
            raise RuntimeError(f'Argument "{self.name}" provided value is not valid')


class OpaqueFunction:
    def __init__(self, *, function, args=None, kwargs=None, **left_over_kwargs: Any):
        self.function = function
        self.args = list(args or [])
        self.kwargs = dict(kwargs or {})

    def execute(self, context: LaunchContext) -> list | None:
        return self.function(context, *self.args, **self.kwargs)


class LaunchConfiguration:
    def __init__(self, variable_name: str, *, default: str | None = None):
        self.variable_name = variable_name
        self.default = default

    def perform(self, context: LaunchContext) -> str:
        if self.variable_name in context.launch_configurations:
            return context.launch_configurations[self.variable_name]
        if self.default is None:
            raise SubstitutionFailure(f"launch configuration '{self.variable_name}' not set")
        return self.default


class Node:
    def __init__(
        self,
        *,
        executable: str,
        package: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        exec_name: str | None = None,
        parameters: list | None = None,
        remappings: list | None = None,
        ros_arguments: list | None = None,
        arguments: list | None = None,
        **kwargs: Any,  # ExecuteProcess's: output, emulate_tty, respawn, ...
    ):
        if parameters is not None and not isinstance(parameters, list):
            raise TypeError("parameters must be a list")  # launch's ensure_argument_type
        self.executable = executable
        self.package = package
        self.name = name
        self.namespace = namespace
        self.parameters = parameters or []
        self.remappings = remappings
        self.arguments = arguments
        self.kwargs = kwargs


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


@pytest.fixture
def launch_stubs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`launch`, `launch.actions`, `launch.substitutions`, `launch_ros(.actions)`."""
    stubs = {
        "launch": _module(
            "launch", LaunchContext=LaunchContext, LaunchDescription=LaunchDescription
        ),
        "launch.actions": _module(
            "launch.actions",
            DeclareLaunchArgument=DeclareLaunchArgument,
            OpaqueFunction=OpaqueFunction,
        ),
        "launch.substitutions": _module(
            "launch.substitutions",
            LaunchConfiguration=LaunchConfiguration,
            SubstitutionFailure=SubstitutionFailure,
        ),
        "launch_ros": _module("launch_ros"),
        "launch_ros.actions": _module("launch_ros.actions", Node=Node),
    }
    stubs["launch"].actions = stubs["launch.actions"]
    stubs["launch"].substitutions = stubs["launch.substitutions"]
    stubs["launch_ros"].actions = stubs["launch_ros.actions"]
    for name, module in stubs.items():
        monkeypatch.setitem(sys.modules, name, module)
    # No launch/__pycache__: setup.py installs everything under launch/ into share/.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def _load(filename: str) -> types.ModuleType:
    """Import a launch file the way `ros2 launch` does: by path, not as a package module."""
    path = ROOT / "launch" / filename
    spec = importlib.util.spec_from_file_location(f"_launch_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launch(filename: str, arguments: dict[str, str]) -> list[Node]:
    """`ros2 launch robot_planner FILENAME name:=value ...`: the Node actions it starts."""
    description = _load(filename).generate_launch_description()
    context = LaunchContext()
    context.launch_configurations.update(arguments)
    nodes: list[Node] = []
    for entity in description.entities:
        nodes += entity.execute(context) or []
    return nodes


def _from_argv(argv: list[str]) -> dict[str, Any]:
    """Node name, parameter files and `-p` overrides from a `--ros-args` command line."""
    found: dict[str, Any] = {"name": None, "params_files": [], "params": {}}
    args = argv[argv.index("--ros-args") + 1 :]
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag == "-r" and value.startswith("__node:="):
            found["name"] = value.removeprefix("__node:=")
        elif flag == "--params-file":
            found["params_files"].append(value)
        elif flag == "-p":
            name, _, text = value.partition(":=")
            # A YAML-quoted value ('off', "off") is the same text as the plain one.
            quoted = text[:1] in ("'", '"')
            found["params"][name] = yaml.safe_load(text) if quoted else text
    return found


@pytest.fixture
def custom_config(tmp_path: Path) -> Path:
    path = tmp_path / "my_robot.yaml"
    path.write_text("planner:\n  ros__parameters:\n    scene: tabletop\n")
    return path


CASES = {
    "defaults": {},
    "voice off": {"voice": "false"},
    "openai planner": {"planner_backend": "openai"},
    "monitor off": {"monitor_mode": "off"},
    "monitor after-skill, no voice": {"monitor_mode": "after-skill", "voice": "false"},
    "custom config": {"config": "<custom>"},
}


@pytest.mark.parametrize("filename", LAUNCH_FILES)
@pytest.mark.parametrize("case", CASES)
def test_launch_starts_what_bringup_starts(
    launch_stubs: None, filename: str, case: str, custom_config: Path
) -> None:
    profile = LAUNCH_FILES[filename]
    arguments = {k: str(custom_config) if v == "<custom>" else v for k, v in CASES[case].items()}

    nodes = _launch(filename, arguments)
    expected = bringup.processes(profile, arguments)

    assert [n.executable for n in nodes] == [p.spec.executable for p in expected]
    for node, process in zip(nodes, expected, strict=True):
        assert node.package == "robot_planner"
        assert node.name == process.spec.name
        assert node.kwargs.get("output") == "screen"
        params_file, overrides = node.parameters
        assert params_file == str(process.params_file)
        assert Path(params_file).is_file()
        assert overrides == process.params
        # Plain str values: launch_ros keeps a Python str a string parameter (it YAML-dumps
        # it quoted), as every override parameter is declared.
        assert all(type(v) is str for v in overrides.values())
        # ... and the same as what `robot-planner bringup` puts on the command line.
        argv = _from_argv(process.argv([process.spec.executable]))
        assert argv == {"name": node.name, "params_files": [params_file], "params": overrides}


@pytest.mark.parametrize("filename", LAUNCH_FILES)
def test_arguments_reach_the_right_nodes(launch_stubs: None, filename: str, custom_config):
    profile_file = str(bringup.profile_config(LAUNCH_FILES[filename]))

    def started(arguments: dict[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
        nodes = _launch(filename, arguments)
        return {n.executable: (n.parameters[0], n.parameters[1]) for n in nodes}

    assert started({}) == {
        "planner_node": (profile_file, {}),
        "executor_node": (profile_file, {}),
        "monitor_node": (profile_file, {}),
        "voice_node": (profile_file, {}),
    }
    assert "voice_node" not in started({"voice": "false"})
    assert started({"planner_backend": "openai"})["planner_node"][1] == {"backend": "openai"}
    off = started({"monitor_mode": "off"})
    assert off["executor_node"][1] == {"monitor_mode": "off"}
    assert off["monitor_node"][1] == {"mode": "off"}
    assert off["planner_node"][1] == {}
    custom = started({"config": str(custom_config)})
    assert {files for files, _ in custom.values()} == {str(custom_config)}


@pytest.mark.parametrize("filename", LAUNCH_FILES)
def test_every_bringup_argument_is_declared_with_a_description(launch_stubs, filename):
    entities = _load(filename).generate_launch_description().entities
    declared = [e for e in entities if isinstance(e, DeclareLaunchArgument)]
    # Arguments first (so `ros2 launch --show-args` lists them), then the nodes.
    assert entities[: len(declared)] == declared
    assert [type(e) for e in entities[len(declared) :]] == [OpaqueFunction]
    assert [d.name for d in declared] == [a.name for a in bringup.ARGUMENTS]
    for argument, declaration in zip(bringup.ARGUMENTS, declared, strict=True):
        assert isinstance(declaration.description, str) and declaration.description.strip()
        assert declaration.default_value == argument.default
        assert declaration.choices == (list(argument.choices) or None)


@pytest.mark.parametrize("filename", LAUNCH_FILES)
def test_invalid_arguments_stop_the_launch(launch_stubs, filename, tmp_path):
    with pytest.raises(RuntimeError, match="planner_backend"):
        _launch(filename, {"planner_backend": "gpt-9"})  # not a declared choice
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ValueError, match="does not exist"):
        _launch(filename, {"config": str(missing)})


def test_bringup_command_line_keeps_string_overrides_strings():
    for mode in ("on", "off"):
        for process in bringup.processes("sim", {"monitor_mode": mode}):
            argv = process.argv([process.spec.executable])
            for item in argv[argv.index("--ros-args") :]:
                if ":=" in item and not item.startswith("__"):
                    name, _, text = item.partition(":=")
                    # rcl parses a `-p` value as YAML 1.1 (as PyYAML's safe_load does).
                    assert yaml.safe_load(text) == process.params[name], item
