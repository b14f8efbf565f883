"""The bring-up description (ROS-free) and the parameter files it starts the nodes with."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from robot_planner import bringup
from robot_planner.bringup import NODES, PROFILES, Process, processes
from robot_planner.service.commands import POLICIES

NODE_NAMES = [spec.name for spec in NODES]
PARAM_FILES = sorted(PROFILES.values())
SIM_CONFIG = ROOT / "config" / "robot_planner.yaml"


def _by_name(procs: list[Process]) -> dict[str, Process]:
    return {p.spec.name: p for p in procs}


# --- processes -----------------------------------------------------------------------


def test_sim_profile_starts_every_node_with_the_sim_parameter_file():
    procs = processes("sim", {})
    assert [p.spec.name for p in procs] == ["planner", "executor", "monitor", "voice"]
    assert {p.params_file.resolve() for p in procs} == {SIM_CONFIG.resolve()}
    assert all(p.params == {} for p in procs), "no override unless an argument is given"


def test_hardware_profile_uses_the_hardware_parameter_file():
    procs = processes("hardware", {})
    assert {p.params_file.name for p in procs} == {"robot_planner_hardware.yaml"}
    assert all(p.params_file.is_file() for p in procs)


def test_node_specs_name_their_executables_and_modules():
    assert [(s.executable, s.module) for s in NODES] == [
        ("planner_node", "robot_planner.nodes.planner_node"),
        ("executor_node", "robot_planner.nodes.executor_node"),
        ("monitor_node", "robot_planner.nodes.monitor_node"),
        ("voice_node", "robot_planner.nodes.voice_node"),
    ]


def test_voice_false_drops_the_voice_node():
    assert [p.spec.name for p in processes("sim", {"voice": "false"})] == [
        "planner",
        "executor",
        "monitor",
    ]


@pytest.mark.parametrize("values", [{"voice": "true"}, {"voice": ""}, {}])
def test_voice_on_or_unset_keeps_the_voice_node(values):
    assert "voice" in _by_name(processes("sim", values))


def test_planner_backend_goes_to_the_planner_only():
    procs = _by_name(processes("sim", {"planner_backend": "openai"}))
    assert procs["planner"].params == {"backend": "openai"}
    assert procs["executor"].params == {}
    assert procs["monitor"].params == {}
    assert procs["voice"].params == {}


def test_monitor_mode_goes_to_executor_and_monitor_under_their_own_names():
    procs = _by_name(processes("sim", {"monitor_mode": "after-skill"}))
    assert procs["executor"].params == {"monitor_mode": "after-skill"}
    assert procs["monitor"].params == {"mode": "after-skill"}
    assert procs["planner"].params == {}
    assert procs["voice"].params == {}


def test_both_overrides_together():
    procs = _by_name(processes("hardware", {"planner_backend": "offline", "monitor_mode": "off"}))
    assert procs["planner"].params == {"backend": "offline"}
    assert procs["executor"].params == {"monitor_mode": "off"}
    assert procs["monitor"].params == {"mode": "off"}


def test_empty_overrides_are_not_passed():
    procs = processes("sim", {"planner_backend": "", "monitor_mode": "", "config": ""})
    assert all(p.params == {} for p in procs)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("planner_backend", "gpt"),
        ("planner_backend", "OPENAI"),
        ("monitor_mode", "sometimes"),
        ("voice", "maybe"),
        ("voice", "False"),
    ],
)
def test_invalid_choices_name_the_argument_and_the_options(argument, value):
    with pytest.raises(ValueError) as info:
        processes("sim", {argument: value})
    message = str(info.value)
    assert message.startswith(f"{argument} must be one of ")
    assert message.endswith(f"not {value!r}")
    choices = next(a.choices for a in bringup.ARGUMENTS if a.name == argument)
    assert all(choice in message for choice in choices if choice)
    assert "\n" not in message


def test_a_given_config_file_is_used_for_every_node(tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text(SIM_CONFIG.read_text())
    procs = processes("hardware", {"config": str(config)})
    assert {p.params_file for p in procs} == {config}


def test_a_missing_config_file_is_a_value_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ValueError) as info:
        processes("sim", {"config": str(missing)})
    assert str(info.value) == f"parameter file {missing} does not exist"


def test_a_directory_is_not_a_config_file(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist"):
        processes("sim", {"config": str(tmp_path)})


def test_unknown_profile_is_a_value_error():
    with pytest.raises(ValueError) as info:
        processes("moon", {})
    assert str(info.value) == "unknown profile 'moon' (known: sim, hardware)"


# --- Process.argv --------------------------------------------------------------------


def _process(params: dict[str, str]) -> Process:
    return Process(NODES[1], Path("/cfg/robot_planner.yaml"), params)


def test_argv_layout_without_overrides():
    assert _process({}).argv(["/bin/executor_node"]) == [
        "/bin/executor_node",
        "--ros-args",
        "-r",
        "__node:=executor",
        "--params-file",
        "/cfg/robot_planner.yaml",
    ]


def test_argv_passes_overrides_then_extra_parameters():
    argv = _process({"monitor_mode": "off"}).argv(
        ["python", "-m", "robot_planner.nodes.executor_node"],
        {"drop_prob": "0.3", "seed": "7"},
    )
    assert argv == [
        "python",
        "-m",
        "robot_planner.nodes.executor_node",
        "--ros-args",
        "-r",
        "__node:=executor",
        "--params-file",
        "/cfg/robot_planner.yaml",
        "-p",
        'monitor_mode:="off"',  # quoted: rcl reads a bare off as a boolean
        "-p",
        "drop_prob:=0.3",
        "-p",
        "seed:=7",
    ]


def test_extra_parameters_win_over_argument_overrides():
    argv = _process({"monitor_mode": "off"}).argv(["x"], {"monitor_mode": "on"})
    assert argv.count("-p") == 1
    assert argv[-2:] == ["-p", "monitor_mode:=on"]


def test_argv_does_not_change_the_process():
    process = _process({"monitor_mode": "off"})
    process.argv(["x"], {"seed": "1"})
    assert process.params == {"monitor_mode": "off"}
    assert process.argv(["x"])[-2:] == ["-p", 'monitor_mode:="off"']


def test_processes_argv_from_real_processes():
    procs = _by_name(processes("sim", {"planner_backend": "offline"}))
    argv = procs["planner"].argv(["planner_node"])
    assert argv[:4] == ["planner_node", "--ros-args", "-r", "__node:=planner"]
    assert argv[4] == "--params-file" and Path(argv[5]).resolve() == SIM_CONFIG.resolve()
    assert argv[6:] == ["-p", 'backend:="offline"']


# --- the parameter files -------------------------------------------------------------


def _load_params(relative: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / relative).read_text(encoding="utf-8"))


def _constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level `NAME = <literal>` assignments (for defaults given by name)."""
    found = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = stmt.value.value
    return found


_UNKNOWN = object()


def _declared(module: str) -> dict[str, Any]:
    """Parameters a node module declares through `declare(self, "<name>", default, ...)`,
    with the default's value (`_UNKNOWN` when it is not a literal or a module constant)."""
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _constants(tree)
    declared: dict[str, Any] = {}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "declare"
            and len(node.args) >= 3
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "self"
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            continue
        default = node.args[2]
        if isinstance(default, ast.Constant):
            value = default.value
        elif isinstance(default, ast.Name):
            value = constants.get(default.id, _UNKNOWN)
        else:
            value = _UNKNOWN
        declared[node.args[1].value] = value
    return declared


def _node_module(name: str) -> str:
    return next(spec.module for spec in NODES if spec.name == name)


def _require_module(name: str) -> str:
    module = _node_module(name)
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        pytest.skip(f"{module} does not exist yet ({path.relative_to(ROOT)}): cannot check")
    return module


def test_declared_parameters_are_found_in_every_existing_node():
    # Guards the AST scan itself: if it silently found nothing, the checks below would pass.
    assert {"scene", "backend", "on_new_command", "max_queue", "journal"} <= set(
        _declared("robot_planner.nodes.planner_node")
    )
    assert {"adapter", "sim_speed", "monitor_mode", "max_command_s"} <= set(
        _declared("robot_planner.nodes.executor_node")
    )
    assert {"mode", "vqa", "publish_perception"} <= set(
        _declared("robot_planner.nodes.monitor_node")
    )
    assert _declared("robot_planner.nodes.planner_node")["journal"] == (
        "~/.ros/robot_planner/journal.jsonl"
    )


@pytest.mark.parametrize("relative", PARAM_FILES)
def test_parameter_file_is_a_ros2_params_file_for_every_node(relative):
    params = _load_params(relative)
    assert isinstance(params, dict)
    assert sorted(params) == sorted(NODE_NAMES), "one section per node, no others"
    for name in NODE_NAMES:
        section = params[name]
        assert isinstance(section, dict) and list(section) == ["ros__parameters"], name
        values = section["ros__parameters"]
        assert isinstance(values, dict) and values, name
        for key, value in values.items():
            # ROS 2 parameters cannot be null; a bare `key:` in YAML would be.
            assert isinstance(value, (str, int, float, bool, list)), f"{name}.{key}={value!r}"


@pytest.mark.parametrize("relative", PARAM_FILES)
@pytest.mark.parametrize("node", NODE_NAMES)
def test_parameter_file_only_sets_declared_parameters(relative, node):
    module = _require_module(node)
    declared = _declared(module)
    assert declared, f"no declare(self, ...) calls found in {module}"
    configured = set(_load_params(relative)[node]["ros__parameters"])
    undeclared = sorted(configured - set(declared))
    assert not undeclared, f"{relative}: {node} sets undeclared parameter(s) {undeclared}"


def _ros_type(value: Any) -> str:
    """The ROS 2 parameter type a Python/YAML value gets (bool before int: bool is an int)."""
    for python_type, ros_type in ((bool, "bool"), (int, "integer"), (float, "double")):
        if isinstance(value, python_type):
            return ros_type
    return type(value).__name__


@pytest.mark.parametrize("relative", PARAM_FILES)
@pytest.mark.parametrize("node", NODE_NAMES)
def test_parameter_file_values_have_the_declared_types(relative, node):
    # rclpy fixes a parameter's type from its default: a YAML `5` for a parameter
    # declared with 5.0 makes the node fail at start-up (InvalidParameterTypeException).
    declared = _declared(_require_module(node))
    mismatched = [
        f"{key}: {_ros_type(value)} in the file, {_ros_type(declared[key])} declared"
        for key, value in _load_params(relative)[node]["ros__parameters"].items()
        if key in declared
        and declared[key] is not _UNKNOWN
        and _ros_type(value) != _ros_type(declared[key])
    ]
    assert not mismatched, f"{relative}: {node}: {mismatched}"


@pytest.mark.parametrize("relative", PARAM_FILES)
def test_parameter_files_agree_with_the_bringup_choices(relative):
    params = _load_params(relative)
    choices = {a.name: a.choices for a in bringup.ARGUMENTS}
    assert params["planner"]["ros__parameters"]["backend"] in choices["planner_backend"]
    assert params["executor"]["ros__parameters"]["monitor_mode"] in choices["monitor_mode"]
    assert params["monitor"]["ros__parameters"]["mode"] in choices["monitor_mode"]
    policy = params["planner"]["ros__parameters"]["on_new_command"]
    assert policy in POLICIES


def test_with_sros2_enabled_each_node_runs_in_its_own_enclave(monkeypatch):
    procs = _by_name(processes("sim", {}))
    assert "--enclave" not in procs["planner"].argv(["planner_node"])
    monkeypatch.setenv("ROS_SECURITY_ENABLE", "true")
    argv = procs["planner"].argv(["planner_node"])
    assert argv[argv.index("--enclave") + 1] == "/robot_planner/planner"
    assert argv.index("--enclave") > argv.index("--ros-args")
