r"""Hardware bring-up: planner, executor (real robots over ROS 2), monitor and voice nodes.

Usage::

    ros2 launch robot_planner robot_launch.py
    ros2 launch robot_planner robot_launch.py planner_backend:=openai voice:=false \
        monitor_mode:=after-skill config:=/path.yaml
    ros2 launch robot_planner robot_launch.py --show-args

Which nodes run, with which parameter file and overrides, comes from
`robot_planner.bringup` (profile "hardware": config/robot_planner_hardware.yaml, whose
executor drives the robots through config/hardware_bindings.yaml), the description that
`robot-planner bringup --config <that file>` also starts, so the two cannot drift apart.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from robot_planner import bringup

PROFILE = "hardware"


def _nodes(context: LaunchContext) -> list[Node]:
    # The arguments are evaluated here, not in generate_launch_description(), because
    # bringup.processes() needs their values to pick the nodes (voice:=false drops one).
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in bringup.ARGUMENTS}
    return [
        Node(
            package=bringup.PACKAGE,
            executable=process.spec.executable,
            name=process.spec.name,
            output="screen",
            parameters=[str(process.params_file), process.params],
        )
        for process in bringup.processes(PROFILE, values)
    ]


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            a.name,
            default_value=a.default,
            description=a.description,
            choices=list(a.choices) or None,
        )
        for a in bringup.ARGUMENTS
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_nodes)])
