"""In-process ROS test support: the nodes under test and a probe node in one
`MultiThreadedExecutor` of a private rclpy context on a reserved ROS domain, spun in a
bounded loop in a background thread. The probe plays whichever node is not under test."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from robot_planner.testing.waiting import wait_for


class Ros:
    """A private context with the nodes under test and a probe node, spun in a thread."""

    def __init__(self, domain: int):
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import Empty, String

        from robot_planner.nodes import common
        from robot_planner.nodes.typed import status_from_msg
        from robot_planner_interfaces.msg import Misalignment as MisalignmentMsg
        from robot_planner_interfaces.msg import Plan as PlanMsg
        from robot_planner_interfaces.msg import StatusEvent as StatusEventMsg

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.probe = rclpy.create_node("probe", context=self.context)
        self.executor.add_node(self.probe)
        self.nodes: list[Any] = []
        self.events: list[Any] = []
        self.plans: list[dict] = []
        self.String, self.Empty = String, Empty
        # The typed status events, as the nodes read them (the JSON mirror is for people).
        self.probe.create_subscription(
            StatusEventMsg,
            common.STATUS_EVENTS,
            lambda m: self.events.append(status_from_msg(m)),
            common.STATUS_QOS,
        )
        # Every plan (typed, as the nodes read them), not only the newest (the latched
        # publisher's depth is 1).
        every_plan = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=100,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.probe.create_subscription(PlanMsg, common.PLAN_GRAPH, self._on_plan, every_plan)
        self.pub = {
            "command": self.probe.create_publisher(String, common.COMMAND, common.COMMAND_QOS),
            "status": self.probe.create_publisher(
                StatusEventMsg, common.STATUS_EVENTS, common.STATUS_QOS
            ),
            "plan": self.probe.create_publisher(PlanMsg, common.PLAN_GRAPH, common.latched()),
            "cancel": self.probe.create_publisher(Empty, common.CANCEL, common.reliable()),
            "misalignment": self.probe.create_publisher(
                MisalignmentMsg, common.MISALIGNMENT, common.reliable(100)
            ),
        }
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop:
            self.executor.spin_once(timeout_sec=0.05)

    def _on_plan(self, msg: Any) -> None:
        """A plan as the planner's plan message (a dict, as the executor reads it)."""
        from robot_planner.nodes.typed import plan_from_msg

        self.plans.append(plan_from_msg(msg))

    def add(self, factory: Callable[..., Any], **params: Any) -> Any:
        from rclpy.parameter import Parameter

        overrides = [Parameter(k, value=v) for k, v in params.items()]
        node = factory(context=self.context, parameter_overrides=overrides)
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        return wait_for(predicate, timeout, what)

    def connected(self, name: str, count: int = 1) -> None:
        """Until `name` has `count` subscribers and every endpoint of the probe has matched
        every peer the graph shows (an event published before its match is lost)."""
        publisher = self.pub[name]
        self.wait_for(lambda: publisher.get_subscription_count() >= count, 20, f"{name} peers")
        self.wait_for(self._all_matched, 20, "the probe matched with every node")

    def _all_matched(self) -> bool:
        probe = self.probe
        return all(
            s.get_publisher_count() >= probe.count_publishers(s.topic_name)
            for s in probe.subscriptions
        ) and all(
            p.get_subscription_count() >= probe.count_subscribers(p.topic_name)
            for p in probe.publishers
        )

    def publish_plan(self, message: dict[str, Any]) -> Any:
        """Publish the plan message `message` as the planner does (typed); return it."""
        from robot_planner.nodes.typed import plan_msg

        msg = plan_msg(message)
        self.pub["plan"].publish(msg)
        return msg

    def say(self, text: str, command_id: str) -> None:
        self.pub["command"].publish(self.String(data=json.dumps({"id": command_id, "text": text})))

    def of(self, command_id: str, state: str | None = None) -> list[Any]:
        return [
            e
            for e in list(self.events)
            if e.command_id == command_id and (state is None or e.state == state)
        ]

    def executor_says(self, command_id: str, state: str, **details: Any) -> None:
        from robot_planner.nodes.typed import status_msg
        from robot_planner.service.events import make_event

        event = make_event(command_id, state, "executor", details)
        self.pub["status"].publish(status_msg(event))

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5.0)
        for node in self.nodes:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()
        self.probe.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def recording(node_class: type, *callbacks: str) -> type:
    """`node_class` whose named subscription callbacks record every message they handled
    (returned from without raising) in ``node.handled[name]`` (the first argument: the
    message). Nodes wrap callbacks in `guarded`, which logs and swallows an exception:
    only this shows that a message arrived and was dealt with."""

    def recorded(name: str) -> Callable[..., None]:
        def callback(self: Any, msg: Any, *more: Any) -> None:
            getattr(super(cls, self), name)(msg, *more)
            self.handled[name].append(msg)

        callback.__name__ = name
        return callback

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        self.handled = {name: [] for name in callbacks}
        super(cls, self).__init__(*args, **kwargs)

    methods = {name: recorded(name) for name in callbacks}
    cls = type(f"Recording{node_class.__name__}", (node_class,), {"__init__": init, **methods})
    return cls
