"""The executor node with ``camera_process: true``: the simulated camera is rendered in a
child process (`AsyncCamera`) and still reaches the camera topics, stamped and paired
with the proprioception of the same moment, and the child ends with the node."""

from __future__ import annotations

import pytest
from ros_nodes import Ros


@pytest.fixture
def ros(ros_domain):
    system = Ros(ros_domain)
    yield system
    system.close()


@pytest.mark.ros
@pytest.mark.timeout(180)
def test_frames_rendered_in_a_child_process_are_published_with_their_stamp(ros):
    from sensor_msgs.msg import Image

    from robot_planner.nodes import common
    from robot_planner.nodes.executor_node import ExecutorNode
    from robot_planner_interfaces.msg import Proprioception

    images: list = []
    proprioception: list = []
    ros.probe.create_subscription(Image, common.COLOR, images.append, common.SENSOR_QOS)
    ros.probe.create_subscription(
        Proprioception, common.GRIPPERS, proprioception.append, common.SENSOR_QOS
    )
    executor = ros.add(
        ExecutorNode, camera_process=True, camera_rate_hz=2.0, monitor_mode="off", sim_speed=4.0
    )
    assert executor.sim is not None and executor.sim.renderer is not None
    ros.wait_for(lambda: len(images) >= 3, 120, "three colour frames from the render process")
    camera = executor.sim.world.scene.cameras["overhead"]
    frame = images[0]
    assert (frame.width, frame.height) == (camera.width, camera.height)
    assert frame.width > 0 and frame.height > 0 and len(frame.data) == frame.step * frame.height
    # Each frame goes out with the proprioception of its own moment (the monitor pairs them).
    stamps = {(m.stamp.sec, m.stamp.nanosec) for m in proprioception}
    assert (frame.header.stamp.sec, frame.header.stamp.nanosec) in stamps
    child = executor.sim.renderer
    executor.close()
    ros.nodes.remove(executor)
    ros.executor.remove_node(executor)
    executor.destroy_node()
    ros.wait_for(lambda: not child.alive, 30, "the render process to end with the node")
