"""Cut a continuous microphone stream into utterances by energy.

A simple, predictable gate for a quiet lab: an utterance starts after a few loud frames
in a row (a click is not speech), keeps a little audio from before the start (the first
consonant is quiet), and ends after a stretch of quiet (the pause after a sentence) or at
the length limit. Noisy rooms need a push-to-talk button publishing on the audio topic
instead.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from robot_planner.speech.recognizer import MAX_AUDIO_S, SAMPLE_RATE


class UtteranceSegmenter:
    """Feed it audio chunks of any size; it returns each finished utterance as bytes.

    Args:
        threshold_dbfs: a 30 ms frame louder than this (RMS, dB full scale) is speech.
        sample_rate: of the s16le mono input, Hz.
        start_s: loud audio needed in a row to start an utterance.
        end_silence_s: quiet audio that ends an utterance.
        pre_roll_s: audio kept from before the start.
        min_speech_s: shorter bursts of loud audio are dropped (coughs, door slams).
        max_s: an utterance is cut here (the recogniser's limit).
    """

    def __init__(
        self,
        threshold_dbfs: float = -40.0,
        *,
        sample_rate: int = SAMPLE_RATE,
        start_s: float = 0.09,
        end_silence_s: float = 0.6,
        pre_roll_s: float = 0.3,
        min_speech_s: float = 0.25,
        max_s: float = MAX_AUDIO_S,
    ) -> None:
        self.frame = int(sample_rate * 0.03)
        self.threshold = 32768.0 * 10 ** (threshold_dbfs / 20.0)

        def frames(seconds: float) -> int:
            return max(1, round(seconds * sample_rate / self.frame))

        self.start_frames = frames(start_s)
        self.end_frames = frames(end_silence_s)
        self.min_frames = frames(min_speech_s)
        self.max_frames = max(self.start_frames + 1, int(max_s * sample_rate / self.frame))
        self._pre_roll: deque[bytes] = deque(maxlen=frames(pre_roll_s))
        self._pending = b""
        self._speech: list[bytes] = []
        self._loud_run = 0
        self._quiet_run = 0
        self._loud_total = 0

    @property
    def in_speech(self) -> bool:
        return bool(self._speech)

    def feed(self, pcm: bytes) -> list[bytes]:
        """Add s16le mono audio; return the utterances that ended within it."""
        data = self._pending + bytes(pcm)
        size = 2 * self.frame
        whole = len(data) - len(data) % size
        self._pending = data[whole:]
        done: list[bytes] = []
        for start in range(0, whole, size):
            utterance = self._frame(data[start : start + size])
            if utterance is not None:
                done.append(utterance)
        return done

    def flush(self) -> bytes | None:
        """End of stream: the utterance in progress, if it holds enough speech."""
        utterance = b"".join(self._speech) if self._speech else None
        keep = utterance is not None and self._loud_total >= self.min_frames
        self._speech, self._pending = [], b""
        self._pre_roll.clear()
        self._loud_run = self._quiet_run = self._loud_total = 0
        return utterance if keep else None

    def _frame(self, frame: bytes) -> bytes | None:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        loud = float(np.sqrt((samples**2).mean())) > self.threshold
        if not self._speech:
            self._pre_roll.append(frame)
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run >= self.start_frames:
                self._speech = list(self._pre_roll)
                self._pre_roll.clear()
                self._quiet_run = 0
                self._loud_total = self._loud_run
            return None
        self._speech.append(frame)
        self._loud_total += loud
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._quiet_run >= self.end_frames or len(self._speech) >= self.max_frames:
            utterance = b"".join(self._speech)
            keep = self._loud_total >= self.min_frames
            self._speech = []
            self._loud_run = 0
            return utterance if keep else None
        return None
