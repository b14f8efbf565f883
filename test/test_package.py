"""Packaging: one version, ament layout, data files, and a ROS-free core."""

import ast
import configparser
import re
from pathlib import Path

import robot_planner
from robot_planner.resources import share_dir
from robot_planner.world.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parent.parent


def test_version_comes_from_package_xml():
    version = re.search(r"<version>([^<]+)</version>", (ROOT / "package.xml").read_text())
    assert version and robot_planner.__version__ == version.group(1)


def test_ament_python_layout():
    assert (ROOT / "resource" / "robot_planner").is_file()
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["develop"]["script_dir"] == "$base/lib/robot_planner"
    assert cfg["install"]["install_scripts"] == "$base/lib/robot_planner"
    xml = (ROOT / "package.xml").read_text()
    assert 'format="3"' in xml and "<build_type>ament_python</build_type>" in xml
    for dep in ("rclpy", "std_msgs", "sensor_msgs", "py_trees"):
        assert f"<exec_depend>{dep}</exec_depend>" in xml


def test_data_files_are_found():
    share = share_dir()
    assert (share / "config" / "domains" / "tabletop" / "domain.yaml").is_file()
    assert (share / "sim" / "scenes" / "tabletop.yaml").is_file()


#: The hardware adapter is ROS glue that lives beside the adapter interface (DESIGN.md's
#: "adapters/ (robot interface, ROS bindings)"); only the nodes and tests import it.
ROS_ADAPTER = "robot_planner.adapters.ros_bindings"


def test_core_never_imports_rclpy():
    offenders = []
    for layer in ("plan", "world", "bt", "planning", "monitor", "execution", "adapters"):
        for path in (ROOT / "robot_planner" / layer).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                ros = any(n == "rclpy" or n.startswith("rclpy.") for n in names)
                if (ros and module != ROS_ADAPTER) or ROS_ADAPTER in names:
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_catalogue_and_adapter_implementations_agree(catalogue, scene):
    """Every catalogue skill is implemented by every adapter, and no adapter adds any."""
    from robot_planner.adapters.fake import FakeRobotAdapter
    from robot_planner.sim.adapter import PyBulletRobotAdapter
    from robot_planner.sim.world import SimWorld

    with SimWorld(scene) as world:
        adapters = [FakeRobotAdapter(catalogue, scene), PyBulletRobotAdapter(world)]
        for adapter in adapters:
            assert adapter.supported_skills == frozenset(catalogue.skills), type(adapter)


def test_every_catalogue_skill_runs_on_the_fake_adapter(catalogue, scene):
    from robot_planner.adapters.base import SkillState
    from robot_planner.adapters.fake import FakeRobotAdapter

    examples = {
        "pick": {"object": "red_block"},
        "place": {"object": "red_block", "target": "left_bin"},
        "wait": {"seconds": 0.5},
    }
    adapter = FakeRobotAdapter(catalogue, scene)
    for skill in load_catalogue().skills:
        args = examples.get(skill, {})
        assert catalogue.argument_errors(skill, args, scene) == []
        handle = adapter.start_skill("left_arm", skill, args)
        adapter.advance(5.0)
        assert adapter.poll(handle).state is SkillState.SUCCEEDED, skill
