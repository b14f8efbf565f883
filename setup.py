"""ament_python setup for robot_planner.

The version lives in package.xml only; it is read from there so colcon, pip and the
CLI (`robot-planner --version`) always agree.
"""

import re
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "robot_planner"
HERE = Path(__file__).resolve().parent


def _version() -> str:
    match = re.search(r"<version>([^<]+)</version>", (HERE / "package.xml").read_text())
    if match is None:
        raise RuntimeError("package.xml has no <version>")
    return match.group(1).strip()


def _tree(src: str) -> list[tuple[str, list[str]]]:
    """Install every file under `src` into share/<package>/<src>, keeping sub-folders."""
    entries: dict[str, list[str]] = {}
    for path in sorted(glob(f"{src}/**/*", recursive=True)):
        if Path(path).is_file() and "__pycache__" not in Path(path).parts:
            dest = str(Path("share") / PACKAGE / Path(path).parent)
            entries.setdefault(dest, []).append(path)
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version=_version(),
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *_tree("launch"),
        *_tree("config"),
        *_tree("sim"),
        *_tree("examples"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="robot_planner maintainers",
    maintainer_email="maintainers@robot-planner.invalid",
    description="Natural-language multi-robot task planning with behaviour trees for ROS 2",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        "console_scripts": [
            "robot-planner = robot_planner.cli:main",
            "planner_node = robot_planner.nodes.planner_node:main",
            "executor_node = robot_planner.nodes.executor_node:main",
            "monitor_node = robot_planner.nodes.monitor_node:main",
            "voice_node = robot_planner.nodes.voice_node:main",
            "fake_hardware_node = robot_planner.nodes.fake_hardware:main",
            "recorder_node = robot_planner.nodes.recorder_node:main",
        ],
    },
)
