"""recorder_node: writes the planner's topics to an MCAP file (what Foxglove opens).

Started by ``robot-planner bringup --record FILE.mcap`` (and ``record:=FILE.mcap`` in the
launch files). Like ``ros2 bag record`` (not installable from PyPI), it subscribes to
each listed topic once a publisher appears, with the type the graph advertises and a QoS
that matches every publisher (reliable and transient local only where all of them offer
it), and writes every message as it arrived (CDR, stamped with the receive time). Colour
``sensor_msgs/Image`` topics are written as ``sensor_msgs/CompressedImage`` on
``<topic>/compressed`` (image_transport's name), not raw. The file's summary and footer
are written on shutdown (Ctrl-C, SIGTERM): a file cut off without them cannot be opened.

Parameters:
  path (str, required): the .mcap file; its directory must exist and be writable.
  topics (str[], `DEFAULT_TOPICS`): the topics to record: ``/name`` (type and QoS from
      the graph, once a publisher appears) or ``/name:pkg/msg/Type`` (subscribed at
      start, reliable and volatile: for one-shot publishers such as `say`, which would
      be gone before discovery; it does not match best-effort publishers).
  image_format (str, "jpeg"): jpeg | png | raw: how colour images are written (raw:
      as sensor_msgs/Image; depth and other non-colour images are always written raw).
  discovery_period_s (float, 0.1): how often the graph is searched for new publishers
      (as rosbag2 polls): a publisher that sends once right after it appears (`say`)
      can be missed; the planner's `accepted` status event repeats the command text.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message

from robot_planner.nodes import common, sensors
from robot_planner.nodes.common import declare, run_node
from robot_planner.recording import (
    COMPRESSED_IMAGE,
    IMAGE,
    IMAGE_FORMATS,
    McapRecorder,
    compress,
    full_type_name,
)

#: What a Foxglove user wants from a run: every planner topic, the colour camera,
#: joint states and the nodes' log. Depth images (300 KB each) are left out, and so are the
#: JSON mirrors of the status events and plans: the typed messages carry the same.
DEFAULT_TOPICS = [
    f"{common.COMMAND}:std_msgs/msg/String",  # `say` publishes once, right after it starts
    common.STATUS_EVENTS,
    common.PLAN_GRAPH,
    common.TREE,
    common.CANCEL,
    common.REPLAN,
    common.MISALIGNMENT,
    common.PERCEPTION,
    common.STATE,
    common.GRIPPERS,
    common.COLOR,
    common.CAMERA_INFO,
    common.JOINT_STATES,
    "/rosout",
]
DEPTH = 100  # per topic: status events come in bursts
IMAGE_DEPTH = 10


def message_class(type_name: str) -> Any:
    """The Python class of a ROS 2 message type name (``pkg/msg/Type``)."""
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def matching_qos(offered: list[QoSProfile], depth: int) -> QoSProfile:
    """A subscription QoS every publisher in `offered` matches (rosbag2's rule): reliable
    and transient local only when all offer it, so a best-effort camera or a volatile
    publisher is never left unmatched, and a latched plan still arrives late."""
    reliable = all(p.reliability == ReliabilityPolicy.RELIABLE for p in offered)
    durable = all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in offered)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if durable else DurabilityPolicy.VOLATILE,
    )


class RecorderNode(Node):
    """Subscribes to the listed topics as their publishers appear and writes what comes."""

    def __init__(self, name: str = "recorder", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        path = declare(self, "path", "", "the .mcap file to write (required)")
        topics = declare(self, "topics", list(DEFAULT_TOPICS), "topics to record")
        self.image_format = declare(self, "image_format", "jpeg", "jpeg | png | raw")
        period = declare(self, "discovery_period_s", 0.1, "graph search period, s")
        if not path:
            raise ValueError("parameter path is empty: name the .mcap file to write")
        if self.image_format not in (*IMAGE_FORMATS, "raw"):
            raise ValueError(f"image_format must be jpeg, png or raw, not {self.image_format!r}")
        if not period > 0:
            raise ValueError("discovery_period_s must be positive")
        eager = {}
        self.wanted = []
        for entry in (str(t) for t in topics):
            topic, _, type_name = entry.partition(":")
            self.wanted.append(topic)
            if type_name:
                eager[topic] = full_type_name(type_name)  # a bad name stops the start
        self.types: dict[str, str] = {}
        self._lock = threading.Lock()
        self.recorder = McapRecorder(path, {"source": "robot-planner bringup --record"})
        self._heard: set[str] = set()
        for topic, type_name in eager.items():
            self._subscribe(topic, type_name, [common.reliable()])
        self._timer = self.create_timer(float(period), self._discover)
        self._discover()
        self.get_logger().info(
            f"recording {len(self.wanted)} topic(s) to {self.recorder.path} "
            f"(colour images: {self.image_format})"
        )

    @property
    def subscribed(self) -> dict[str, str]:
        """Topic -> type of the topics recorded so far."""
        with self._lock:
            return dict(self.types)

    def _discover(self) -> None:
        advertised = dict(self.get_topic_names_and_types())
        for topic in self.wanted:
            if topic in self.types or not advertised.get(topic):
                continue
            offered = [i.qos_profile for i in self.get_publishers_info_by_topic(topic)]
            if not offered:
                continue
            type_name = advertised[topic][0]
            if len(advertised[topic]) > 1:
                self.get_logger().warning(
                    f"{topic} has types {advertised[topic]}; recording {type_name}"
                )
            self._subscribe(topic, type_name, offered)

    def _subscribe(self, topic: str, type_name: str, offered: list[QoSProfile]) -> None:
        try:
            msg_class = message_class(type_name)
        except (ImportError, AttributeError, ValueError) as exc:
            self.get_logger().error(f"cannot record {topic}: type {type_name}: {exc}")
            with self._lock:
                self.types[topic] = type_name  # do not try again every period
            return
        compress_images = type_name == IMAGE and self.image_format != "raw"
        qos = matching_qos(offered, IMAGE_DEPTH if type_name == IMAGE else DEPTH)

        def on_message(data: bytes) -> None:
            stamp = self.get_clock().now().nanoseconds
            if compress_images:
                self._write_image(topic, data, stamp)
            else:
                self.recorder.write_cdr(topic, type_name, data, stamp)
            if topic not in self._heard:  # shows a user (and a test) that data flows
                self._heard.add(topic)
                self.get_logger().info(f"first message on {topic} recorded")

        # Raw: messages are stored as they came, without a decode/encode round trip.
        self.create_subscription(msg_class, topic, common.guarded(self, on_message), qos, raw=True)
        with self._lock:
            self.types[topic] = type_name
        self.get_logger().info(f"recording {topic} ({type_name})")

    def _write_image(self, topic: str, data: bytes, stamp: int) -> None:
        """A colour image as CompressedImage on <topic>/compressed; others raw."""
        from sensor_msgs.msg import CompressedImage, Image

        image = deserialize_message(data, Image)
        if image.encoding not in ("rgb8", "bgr8"):
            self.recorder.write_cdr(topic, IMAGE, data, stamp)
            return
        message = CompressedImage(header=image.header, format=self.image_format)
        message.data = compress(sensors.decode_image(image), self.image_format)
        self.recorder.write_cdr(
            f"{topic}/compressed", COMPRESSED_IMAGE, serialize_message(message), stamp
        )

    def close(self) -> None:
        """Finish the file (run_node calls this on shutdown, after Ctrl-C or SIGTERM).
        It logs through `logging`: the node's logger would try /rosout, already gone."""
        self.recorder.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(RecorderNode, __doc__, argv, threads=2)


if __name__ == "__main__":
    raise SystemExit(main())
