"""voice_node: speech in, commands out.

Listens on ``/robot_planner/audio`` (std_msgs/UInt8MultiArray: one utterance of 16 kHz
mono s16le samples per message, e.g. from a push-to-talk button) and, with
``microphone: true``, on the default sound card through an energy gate. Each utterance is
decoded by pocketsphinx against the JSGF grammar of the offline planner's command
language for the scene, so only sentences the planner understands can be heard. A
recognised sentence is published on ``/robot_planner/command`` as
``{"id", "text", "source": "voice"}`` together with a ``transcript`` status event (text,
decode and audio seconds) under the same command id. Speech that is not a whole sentence
of the grammar (the decoder's search ended part-way, or found nothing) is never sent: it
is answered with a ``not_understood`` status event (empty command id) that shows the best
guess; audio that cannot be used (empty, odd length, too long, silent, the decoder busy)
with an ``error`` status event with an empty command id.

Health on ``/diagnostics`` once a second (``robot_planner/voice``: model, pending,
decodes, last decode seconds; WARN when the decoder is full or the last utterance
failed). Parameters are read-only, checked at start-up.

Parameters:
  scene (str, "tabletop"): scene name or YAML path (its colours, bins, zones, robots
      are the vocabulary).
  microphone (bool, false): also listen to a sound card; start-up fails with one line
      if there is none (PortAudio missing, no input device).
  device (str, ""): sound card name or index for the microphone ("" = the default).
  threshold_dbfs (float, -40.0): microphone level that counts as speech.
  max_audio_s (float, 30.0): longer utterances are refused.
  max_pending (int, 4): utterances that may wait for the decoder; more are refused.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

from rclpy.node import Node
from std_msgs.msg import String, UInt8MultiArray

from robot_planner.nodes.common import (
    AUDIO,
    COMMAND,
    COMMAND_QOS,
    DiagnosticsPublisher,
    StatusPublisher,
    declare,
    reliable,
    run_node,
    subscribe,
)
from robot_planner.nodes.health import Health, voice_health
from robot_planner.service.commands import new_command_id
from robot_planner.speech.recognizer import (
    SAMPLE_RATE,
    NotUnderstood,
    SpeechError,
    SpeechRecognizer,
    check_pcm,
)
from robot_planner.speech.segmenter import UtteranceSegmenter
from robot_planner.world.scene import load_scene

#: A 30 s utterance is ~1 MB; a few in flight is plenty for push-to-talk.
AUDIO_QOS_DEPTH = 4


class VoiceNode(Node):
    """Turns utterances into commands, one decode at a time in a worker thread."""

    def __init__(self, name: str = "voice", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        from robot_planner.resources import scene_path

        scene = declare(self, "scene", "tabletop", "scene name or YAML path (vocabulary)")
        microphone = declare(self, "microphone", False, "also listen to a sound card")
        device = declare(self, "device", "", "sound card name or index ('' = default)")
        threshold = declare(
            self,
            "threshold_dbfs",
            -40.0,
            "microphone level that is speech",
            limits=(-120.0, 0.0),
        )
        max_audio_s = declare(
            self,
            "max_audio_s",
            30.0,
            "longest utterance accepted, s",
            limits=(0.01, 600.0),
        )
        max_pending = declare(
            self,
            "max_pending",
            4,
            "utterances that may wait to be decoded",
            limits=(1, 64),
        )
        if max_pending < 1:
            raise ValueError(f"parameter max_pending: must be at least 1, not {max_pending}")

        acoustic_model = declare(
            self,
            "acoustic_model",
            "",
            "pocketsphinx model directory (a speaker-adapted one); empty: the bundled en-us",
        )
        mllr = declare(self, "mllr", "", "MLLR transform adapted to a speaker; empty: none")
        self.recognizer = SpeechRecognizer(
            load_scene(scene_path(scene)),
            max_audio_s=max_audio_s,
            acoustic_model=acoustic_model or None,
            mllr=mllr or None,
        )
        self.max_audio_s = float(max_audio_s)
        self.status = StatusPublisher(self, "voice")
        self.command_pub = self.create_publisher(String, COMMAND, COMMAND_QOS)
        self._pending: queue.Queue[tuple[bytes, str] | None] = queue.Queue(int(max_pending))
        self._stream: Any = None
        #: What the decoder did, for /diagnostics.
        self.model = f"pocketsphinx, JSGF grammar of scene {scene!r}"
        self.decodes = self.errors = 0
        self._last_decode_s: float | None = None
        self._last_error = ""
        self.diagnostics = DiagnosticsPublisher(self, self.health)
        subscribe(self, UInt8MultiArray, AUDIO, self._on_audio, reliable(AUDIO_QOS_DEPTH))
        self._worker = threading.Thread(target=self._work, name="voice-worker", daemon=True)
        self._worker.start()
        if microphone:
            self._stream = self._open_microphone(device, float(threshold))
        self.get_logger().info(
            f"voice ready: listening on {AUDIO}"
            + (" and the microphone" if self._stream is not None else "")
            + f"; vocabulary of scene {scene!r}"
        )

    def health(self) -> Health:
        """This node's `/diagnostics` status (see `voice_health`)."""
        return voice_health(
            model=self.model,
            microphone=self._stream is not None,
            pending=self._pending.qsize(),
            max_pending=self._pending.maxsize,
            decodes=self.decodes,
            errors=self.errors,
            last_decode_s=self._last_decode_s,
            last_error=self._last_error,
        )

    # --- input ------------------------------------------------------------------------

    def _on_audio(self, msg: UInt8MultiArray) -> None:
        pcm = bytes(msg.data)
        try:
            check_pcm(pcm, SAMPLE_RATE, self.max_audio_s)
        except SpeechError as exc:
            self.status("", "error", reason=f"bad audio on {AUDIO}: {exc}")
            return
        self._offer(pcm, "topic")

    def _offer(self, pcm: bytes, origin: str) -> None:
        try:
            self._pending.put_nowait((pcm, origin))
        except queue.Full:
            self.status(
                "",
                "error",
                reason=f"voice busy: {self._pending.maxsize} utterance(s) already waiting; "
                "this one was dropped",
            )

    def _open_microphone(self, device: str, threshold_dbfs: float) -> Any:
        """Open the sound card; any failure is one `RuntimeError` line (start-up fails)."""
        try:
            import sounddevice
        except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
            raise RuntimeError(
                f"microphone: {exc} (Debian/Ubuntu: apt install libportaudio2)"
            ) from None
        segmenter = UtteranceSegmenter(threshold_dbfs, max_s=self.max_audio_s)
        chosen: Any = int(device) if device.strip().isdigit() else (device or None)

        def on_block(data: Any, frames: int, when: Any, flags: Any) -> None:
            for utterance in segmenter.feed(bytes(data)):
                self._offer(utterance, "microphone")

        try:
            stream = sounddevice.RawInputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                device=chosen,
                blocksize=SAMPLE_RATE // 10,
                callback=on_block,
            )
            stream.start()
        except Exception as exc:  # PortAudioError, ValueError: no such device / no input
            raise RuntimeError(f"microphone {device or '(default)'}: {exc}") from None
        return stream

    # --- decoding -----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            pcm, origin = item
            try:
                heard = self.recognizer.transcribe(pcm, SAMPLE_RATE)
            except NotUnderstood as exc:
                # Not a whole sentence: shown to the user with the best guess, never sent.
                self.decodes += 1
                self._last_decode_s, self._last_error = exc.transcript.decode_s, str(exc)
                self.status(
                    "",
                    "not_understood",
                    reason=str(exc),
                    guess=exc.guess,
                    origin=origin,
                    **{k: v for k, v in exc.transcript.to_dict().items() if k != "text"},
                )
                self.get_logger().info(f"not understood ({origin}): best guess {exc.guess!r}")
                continue
            except SpeechError as exc:
                self.errors += 1
                self._last_error = str(exc)
                self.status("", "error", reason=f"speech from the {origin}: {exc}")
                continue
            except Exception as exc:  # a decoder bug must not end the voice node
                self.errors += 1
                self._last_error = f"decoder: {type(exc).__name__}: {exc}"
                self.get_logger().error(f"decoder: {type(exc).__name__}: {exc}")
                self.status("", "error", reason=f"speech decoder failed: {exc}")
                continue
            self.decodes += 1
            self._last_decode_s, self._last_error = heard.decode_s, ""
            command_id = new_command_id()
            self.status(command_id, "transcript", origin=origin, **heard.to_dict())
            payload = {"id": command_id, "text": heard.text, "source": "voice"}
            self.command_pub.publish(String(data=json.dumps(payload)))
            self.get_logger().info(
                f"[{command_id}] heard {heard.text!r} ({heard.audio_s:.1f} s of audio, "
                f"decoded in {heard.decode_s:.2f} s)"
            )

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception as exc:
                self.get_logger().warning(f"microphone did not close cleanly: {exc}")
        while True:  # drop waiting audio: the worker must see the stop at once
            try:
                self._pending.get_nowait()
            except queue.Empty:
                break
        self._pending.put(None)
        self._worker.join(timeout=5.0)


def main(argv: list[str] | None = None) -> int:
    return run_node(VoiceNode, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
