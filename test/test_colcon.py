"""`colcon build` installs a working ament_python package (what a ROS 2 user gets).

The package is copied into a temporary workspace and built there with every colcon
directory (build, install, log, COLCON_HOME) under the temporary directory, so the
checkout is never touched. The installed programs then run in the environment that
sourcing the install's own `setup.sh` gives, from a directory outside the checkout, so
they import the installed copy and find the installed data files (share/robot_planner)
through the ament index, as they would for `ros2 run` and `ros2 launch`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from robot_planner import bringup

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 300
RUN_TIMEOUT_S = 60

pytestmark = [pytest.mark.ros, pytest.mark.timeout(BUILD_TIMEOUT_S + 300)]

#: Top-level entries of the checkout that are not package sources.
NOT_SOURCES = {".venv", ".git", "out", "build", "install", "log", ".hypothesis"}


def _colcon() -> str:
    """The venv's colcon (pytest may run without the venv's bin on PATH), else PATH's."""
    beside = Path(sys.executable).parent / "colcon"
    found = str(beside) if beside.is_file() else shutil.which("colcon")
    if found is None:
        pytest.skip("colcon is not installed (it is in requirements-dev.txt: make setup)")
    return found


def _ignore(directory: str, names: list[str]) -> list[str]:
    top = Path(directory) == ROOT
    return [
        n
        for n in names
        if (top and n in NOT_SOURCES)
        or n in ("__pycache__", ".pytest_cache", ".ruff_cache")
        or n.endswith(".egg-info")
    ]


class Workspace:
    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.install = root / "install"
        self.prefix = self.install / "robot_planner"
        self.share = self.prefix / "share" / "robot_planner"
        self.lib = self.prefix / "lib" / "robot_planner"
        self.env = env

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv,
            cwd=self.root,  # not the checkout: `python -c` must not import the sources
            env=self.env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    colcon = _colcon()
    root = tmp_path_factory.mktemp("colcon_ws")
    shutil.copytree(ROOT, root / "src" / "robot_planner", ignore=_ignore)
    env = {k: v for k, v in os.environ.items() if k != "ROBOT_PLANNER_SHARE"}
    env["COLCON_HOME"] = str(root / "colcon_home")  # no user defaults or mixins
    build = subprocess.run(
        [
            colcon,
            "--log-base",
            str(root / "log"),
            "build",
            "--base-paths",
            str(root / "src"),
            "--build-base",
            str(root / "build"),
            "--install-base",
            str(root / "install"),
            "--event-handlers",
            "desktop_notification-",
            "terminal_title-",
            "status-",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "1 package finished" in build.stdout, build.stdout
    # The environment `. install/setup.sh` gives (PYTHONPATH, AMENT_PREFIX_PATH, ...).
    sourced = subprocess.run(
        ["sh", "-c", '. "$1/setup.sh" && env -0', "sh", str(root / "install")],
        cwd=root,
        env=env,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=True,
    )
    setup_env = dict(
        item.split("=", 1) for item in sourced.stdout.decode().split("\0") if "=" in item
    )
    return Workspace(root, setup_env)


def test_install_has_the_ament_layout(workspace: Workspace) -> None:
    index = workspace.prefix / "share" / "ament_index" / "resource_index" / "packages"
    assert (index / "robot_planner").is_file()
    for relative in (
        "package.xml",
        "launch/sim_launch.py",
        "launch/robot_launch.py",
        "config/robot_planner.yaml",
        "config/robot_planner_hardware.yaml",
        "config/domains/tabletop/domain.yaml",
        "sim/scenes/tabletop.yaml",
    ):
        assert (workspace.share / relative).is_file(), relative
    # `ros2 run robot_planner <executable>` looks in lib/robot_planner.
    for executable in ["robot-planner", *(spec.executable for spec in bringup.NODES)]:
        path = workspace.lib / executable
        assert path.is_file() and os.access(path, os.X_OK), path


def test_setup_sh_puts_the_install_first(workspace: Workspace) -> None:
    site = workspace.prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert workspace.env["PYTHONPATH"].split(os.pathsep)[0] == str(site / "site-packages")
    assert workspace.env["AMENT_PREFIX_PATH"].split(os.pathsep)[0] == str(workspace.prefix)


def test_installed_node_prints_its_parameters(workspace: Workspace) -> None:
    result = workspace.run(str(workspace.lib / "planner_node"), "--help")
    assert result.returncode == 0, result.stderr
    assert "Parameters:" in result.stdout
    assert "backend (str" in result.stdout


def test_installed_cli_runs(workspace: Workspace) -> None:
    cli = str(workspace.lib / "robot-planner")
    result = workspace.run(cli, "--help")
    assert result.returncode == 0, result.stderr
    assert "bringup" in result.stdout and "usage: robot-planner" in result.stdout
    version = re.search(r"<version>([^<]+)</version>", (ROOT / "package.xml").read_text())
    assert version is not None
    result = workspace.run(cli, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["robot-planner", version.group(1)]


def test_installed_package_uses_its_own_share(workspace: Workspace) -> None:
    """What an installed launch file sees: the installed module and parameter files."""
    probe = (
        "import robot_planner; from robot_planner import bringup; "
        "print(robot_planner.__file__); "
        "print(*[p.params_file for p in bringup.processes('sim', {})], sep='\\n')"
    )
    result = workspace.run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    module, *params_files = result.stdout.splitlines()
    assert Path(module).is_relative_to(workspace.prefix)
    assert params_files == [str(workspace.share / "config" / "robot_planner.yaml")] * len(
        bringup.NODES
    )
