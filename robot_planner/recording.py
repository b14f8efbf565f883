"""MCAP recordings of a run (ROS 2 profile, CDR messages): what Foxglove Studio and
``ros2 bag`` open.

Both ways of running the system record the same channels: ``robot-planner run
--record-mcap`` writes them from the in-process simulation (simulated time), and the
``recorder_node`` that ``robot-planner bringup --record`` starts writes what it receives
over DDS. No rclpy here: `run` stays ROS-free.

Each channel's schema is the ROS 2 message definition with its dependencies appended
(``====…\\nMSG: pkg/Type`` blocks, as rosbag2 writes them), read from the ``.msg`` files
installed with the message packages (``<prefix>/share/<pkg>/msg``), so a schema never
drifts from the installed interfaces.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

log = logging.getLogger(__name__)

SUFFIX = ".mcap"
#: The topics the recordings use; the same names as robot_planner.nodes.common (which
#: imports rclpy, so `run` cannot import it; a test checks that they agree).
STATUS = "/robot_planner/status"  # the JSON mirrors (for `ros2 topic echo`): not recorded
PLAN = "/robot_planner/plan"
STATUS_EVENTS = "/robot_planner/status_events"
PLAN_GRAPH = "/robot_planner/plan_graph"
COLOR = "/camera/color/image_raw"
COLOR_COMPRESSED = f"{COLOR}/compressed"  # image_transport's name for the compressed stream
JOINT_STATES = "/joint_states"

STRING = "std_msgs/msg/String"
STATUS_EVENT = "robot_planner_interfaces/msg/StatusEvent"
PLAN_MSG = "robot_planner_interfaces/msg/Plan"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
IMAGE = "sensor_msgs/msg/Image"
JOINT_STATE = "sensor_msgs/msg/JointState"
IMAGE_FORMATS = ("jpeg", "png")

_PRIMITIVES = frozenset(
    {"bool", "byte", "char", "float32", "float64", "string", "wstring"}
    | {f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)}
)
_DIVIDER = "=" * 80


class RecordingError(ValueError):
    """A recording that cannot be made (bad path, unknown message type): one line."""


def check_output(path: str | os.PathLike[str]) -> Path:
    """The absolute path of a recording to be written, checked before anything runs: a
    run that ends with 'cannot write' has wasted the run.

    Raises:
        RecordingError: not a ``.mcap`` name, its directory is missing or not writable,
            or it names a directory.
    """
    target = Path(path).expanduser()
    if target.suffix != SUFFIX:
        raise RecordingError(f"recording {target}: the file name must end in {SUFFIX}")
    target = target.absolute()
    if target.is_dir():
        raise RecordingError(f"recording {target}: is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise RecordingError(f"recording {target}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        raise RecordingError(f"recording {target}: not writable")
    # Permission bits do not tell everything (root on /proc, a read-only mount): open it.
    existed = target.exists()
    try:
        with open(target, "ab"):
            pass
    except OSError as exc:
        raise RecordingError(f"recording {target}: {exc.strerror or exc}") from None
    if not existed:
        target.unlink(missing_ok=True)
    return target


# --- schemas -------------------------------------------------------------------------


def full_type_name(type_name: str) -> str:
    """``pkg/Type`` or ``pkg/msg/Type`` as ``pkg/msg/Type`` (the name rosbag2 records)."""
    parts = type_name.strip().split("/")
    if len(parts) == 2 and all(parts):
        return f"{parts[0]}/msg/{parts[1]}"
    if len(parts) == 3 and parts[1] == "msg" and parts[0] and parts[2]:
        return type_name.strip()
    raise RecordingError(f"message type {type_name!r}: expected pkg/msg/Type")


def _share_dirs() -> list[Path]:
    """Where message packages install their share/ directories: this Python's prefix
    (the PyPI wheels), then the ament prefixes of a sourced ROS 2."""
    dirs = [Path(sys.prefix) / "share"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            dirs.append(Path(prefix) / "share")
    return dirs


def _msg_file(package: str, name: str) -> Path:
    for share in _share_dirs():
        path = share / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    searched = ", ".join(str(d) for d in _share_dirs())
    raise RecordingError(f"no definition of {package}/msg/{name} (searched {searched})")


def _field_types(package: str, text: str) -> list[tuple[str, str]]:
    """The (package, Type) of every non-primitive field of a .msg text, in order."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        base = line.split()[0].split("[", 1)[0].split("<=", 1)[0]
        if base in _PRIMITIVES:
            continue
        if "/" in base:
            parts = base.split("/")
            found.append((parts[0], parts[-1]))
        elif base == "Header":  # ROS 1 shorthand, still accepted by rosidl
            found.append(("std_msgs", "Header"))
        else:
            found.append((package, base))
    return found


def message_definition(type_name: str) -> str:
    """The schema text of a ROS 2 message type: its .msg file, then each message it uses
    (depth first, once each) after a ``MSG: pkg/Type`` divider.

    Raises:
        RecordingError: the type or one it uses has no installed .msg file.
    """
    package, _, name = full_type_name(type_name).split("/")
    main = _msg_file(package, name).read_text()
    blocks = [main.rstrip("\n")]
    seen = {(package, name)}
    pending = list(reversed(_field_types(package, main)))
    while pending:
        dep = pending.pop()
        if dep in seen:
            continue
        seen.add(dep)
        text = _msg_file(*dep).read_text()
        blocks.append(f"{_DIVIDER}\nMSG: {dep[0]}/{dep[1]}\n{text.rstrip(chr(10))}")
        pending.extend(reversed(_field_types(dep[0], text)))
    return "\n".join(blocks) + "\n"


# --- messages ------------------------------------------------------------------------


def stamp(time_ns: int) -> dict[str, int]:
    """A builtin_interfaces/Time as a dict."""
    return {"sec": time_ns // 1_000_000_000, "nanosec": time_ns % 1_000_000_000}


def compress(rgb: np.ndarray, image_format: str = "jpeg", quality: int = 90) -> bytes:
    """An (H, W, 3) RGB or (H, W) mono uint8 image as JPEG or PNG bytes."""
    import cv2

    if image_format not in IMAGE_FORMATS:
        raise RecordingError(f"image format must be jpeg or png, not {image_format!r}")
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if image_format == "jpeg":
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    else:
        ok, data = cv2.imencode(".png", image)
    if not ok:
        raise RecordingError(f"could not encode a {image.shape} image as {image_format}")
    return data.tobytes()


def compressed_image(
    rgb: np.ndarray, time_ns: int, frame_id: str, image_format: str = "jpeg"
) -> dict[str, Any]:
    """A sensor_msgs/CompressedImage (as a dict) of an RGB frame."""
    return {
        "header": {"stamp": stamp(time_ns), "frame_id": frame_id},
        "format": image_format,
        "data": compress(rgb, image_format),
    }


# --- the writer ----------------------------------------------------------------------


class McapRecorder:
    """An MCAP file being written: ROS 2 messages by topic, schemas from the installed
    .msg files. Thread-safe (node callbacks run on several threads); `close` writes the
    summary and footer, without which the file cannot be opened, and is idempotent.

    `write` takes a message as a dict (or an object with the fields as attributes) and
    encodes it; `write_cdr` takes an already serialized CDR message (an rclpy raw
    subscription's bytes), which is what rosbag2 stores too.
    """

    def __init__(self, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None):
        from mcap.writer import CompressionType, Writer

        self.path = check_output(path)
        try:
            self._file: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise RecordingError(f"recording {self.path}: {exc.strerror}") from None
        self._writer = Writer(self._file, compression=CompressionType.ZSTD)
        self._writer.start(profile="ros2", library="robot_planner")
        self._lock = threading.Lock()
        self._schemas: dict[str, int] = {}
        self._encoders: dict[str, Any] = {}
        self._channels: dict[str, int] = {}
        self._sequence: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.closed = False
        if metadata:
            self._writer.add_metadata("robot_planner", {k: str(v) for k, v in metadata.items()})

    def _channel(self, topic: str, type_name: str) -> int:
        from mcap.well_known import MessageEncoding, SchemaEncoding

        type_name = full_type_name(type_name)
        schema_id = self._schemas.get(type_name)
        if schema_id is None:
            text = message_definition(type_name)
            schema_id = self._writer.register_schema(type_name, SchemaEncoding.ROS2, text.encode())
            self._schemas[type_name] = schema_id
        channel = self._channels.get(topic)
        if channel is None:
            channel = self._writer.register_channel(topic, MessageEncoding.CDR, schema_id)
            self._channels[topic] = channel
        return channel

    def _encoder(self, type_name: str) -> Any:
        # mcap-ros2-support's encoder for a schema text (what its Writer uses inside).
        from mcap_ros2._dynamic import serialize_dynamic

        type_name = full_type_name(type_name)
        encoder = self._encoders.get(type_name)
        if encoder is None:
            encoder = serialize_dynamic(type_name, message_definition(type_name))[type_name]
            self._encoders[type_name] = encoder
        return encoder

    def write(self, topic: str, type_name: str, message: Any, time_ns: int) -> None:
        """Encode `message` (dict or attributes) as `type_name` and write it on `topic`."""
        with self._lock:
            if self.closed:
                return
            data = self._encoder(type_name)(message)
            self._add(topic, type_name, data, time_ns)

    def write_cdr(self, topic: str, type_name: str, data: bytes, time_ns: int) -> None:
        """Write an already serialized (CDR) message of `type_name` on `topic`."""
        with self._lock:
            if not self.closed:
                self._add(topic, type_name, bytes(data), time_ns)

    def _add(self, topic: str, type_name: str, data: bytes, time_ns: int) -> None:
        channel = self._channel(topic, type_name)
        self._writer.add_message(
            channel_id=channel,
            log_time=time_ns,
            publish_time=time_ns,
            sequence=self._sequence[topic],
            data=data,
        )
        self._sequence[topic] += 1
        self.counts[topic] += 1

    def close(self) -> None:
        """Write the summary and footer and close the file (once; later writes are
        dropped)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._writer.finish()
            finally:
                self._file.close()
        log.info("recording closed: %s", self.summary())

    def summary(self) -> str:
        """One line: messages per topic and the file size."""
        topics = ", ".join(f"{topic} {n}" for topic, n in sorted(self.counts.items()))
        size = self.path.stat().st_size / 1024 if self.path.exists() else 0.0
        return f"{self.path} ({size:.0f} KB; {topics or 'no messages'})"

    def __enter__(self) -> McapRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_messages(
    path: str | os.PathLike[str], topics: Iterable[str] | None = None
) -> list[tuple[str, str, int, Any]]:
    """Every message of a recording as (topic, schema name, log time ns, decoded message),
    in log-time order: for tests and for looking at a recording without Foxglove."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with open(path, "rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        return [
            (channel.topic, schema.name if schema else "", message.log_time, decoded)
            for schema, channel, message, decoded in reader.iter_decoded_messages(
                topics=list(topics) if topics is not None else None, log_time_order=True
            )
        ]
