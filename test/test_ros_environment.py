"""The ROS 2 install `make setup` provides: rclpy imports and pub/sub works in-process.

Nodes arrive with the ROS issue; this guards the environment they will need. Each test
uses its own ROS_DOMAIN_ID and bounded spin loops.
"""

import time

import pytest


@pytest.mark.ros
def test_in_process_publish_subscribe(monkeypatch, ros_domain):
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ros_domain))
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("robot_planner_env_check", context=context)
        received: list[str] = []
        node.create_subscription(
            String, "/robot_planner/env_check", lambda m: received.append(m.data), 10
        )
        pub = node.create_publisher(String, "/robot_planner/env_check", 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 10.0
        while not received and time.monotonic() < deadline:
            pub.publish(String(data="hello"))
            executor.spin_once(timeout_sec=0.1)
        assert received and received[0] == "hello"
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
