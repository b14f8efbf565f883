"""Speech recognition for commands: pocketsphinx searching the planner's JSGF grammar.

The decoder only searches sentences of the offline command language built from the scene
(`robot_planner.planning.jsgf.jsgf_grammar`), so what it hears is something the offline
planner understands, and a small grammar keeps decoding fast and far more accurate than
open dictation with the same acoustic model.

Audio is untrusted (it comes off a topic or a file): every problem is a `SpeechError`
with one readable line, and the length limit bounds how long a decode can take.
"""

from __future__ import annotations

import logging
import numbers
import re
import threading
import time
import wave
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot_planner.planning.jsgf import jsgf_grammar
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

#: What the acoustic model was trained on: 16 kHz mono, signed 16-bit little-endian.
SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2
#: Longer audio is refused: a command is a sentence or two, and the cap bounds the
#: decode time (and the memory a hostile message can pin).
MAX_AUDIO_S = 30.0
#: Shorter audio cannot hold a word.
MIN_AUDIO_S = 0.1
#: A recording whose loudest 20 ms frame is quieter than this holds no speech; it is
#: refused before decoding (the search would otherwise force a sentence out of silence).
SILENCE_DBFS = -50.0
#: Silence added before and after the utterance: pocketsphinx's silence model and
#: cepstral normalisation expect some, and segmenters or TTS often cut speech tightly.
PAD_S = 0.3
#: Resampling accepts rates a sound card or WAV file can plausibly have.
MIN_RATE, MAX_RATE = 4_000, 384_000
#: pocketsphinx options, tuned on 60 espeak-ng recordings (8 voices, 2 speeds) against
#: this grammar, exact sentences 1/20 -> 11/20 on the held-out ones: a word insertion
#: penalty (wip) of 0.1 stops short words ("in", "at") being fitted into the trailing
#: silence; a phone insertion penalty (pip) below 1 stops "put the" turning into "puts
#: the"; beams narrower than the defaults (1e-48) cut the decode time ~3x at no loss.
#: Re-measured on 120 other recordings (60 sentences, 9 voices, 130-170 wpm): 28/120
#: exact; batch CMN, wider beams, other wip/pip/lw/silprob, noise removal, more dither
#: and bestpath off gave 0-29/120, none clearly better (the acoustic model is the limit).
DECODER_OPTIONS: dict[str, Any] = {
    "wip": 0.1,
    "pip": 0.5,
    "beam": 1e-30,
    "wbeam": 1e-25,
    "pbeam": 1e-30,
    "loglevel": "FATAL",  # "no final state" is reported as a SpeechError instead
}
#: Amplitude of the deterministic dither added to the audio (LSBs): digital silence
#: (exact zeros, as TTS and gated microphones produce) breaks the log-energy features.
DITHER_LSB = 2
_SEARCH = "commands"
#: With a speaker-adapted model, pocketsphinx's own (wider) beams: on the 22 fixtures a
#: MAP model adapted on 40 other espeak sentences heard 21/22 exactly with them and
#: 18/22 with `DECODER_OPTIONS`' narrow beams (MLLR: 19 and 16); the bundled model
#: hears 10/22 with either, so its beams stay narrow (3x faster).
ADAPTED_BEAMS: dict[str, Any] = {"beam": 1e-48, "wbeam": 7e-29, "pbeam": 1e-48}


class SpeechError(ValueError):
    """Audio that cannot be turned into a command (one readable line)."""


class NotUnderstood(SpeechError):
    """Speech that is not a whole sentence of the command grammar.

    The decoder always returns its best path, even when the search ended outside a final
    state of the grammar ("... in the right bin id"); that is a guess, shown to the user,
    never a command.

    Attributes:
        guess: the decoder's best partial hypothesis ("" when it had none).
        transcript: the decode with that guess as its text (timings, score).
    """

    def __init__(self, message: str, guess: str, transcript: Transcript) -> None:
        super().__init__(message)
        self.guess = guess
        self.transcript = transcript


@dataclass(frozen=True)
class Transcript:
    """What was heard, and how long it took.

    Attributes:
        text: the recognised command, lower-case words of the command grammar.
        decode_s: wall-clock seconds spent decoding.
        audio_s: length of the audio, seconds.
        score: pocketsphinx's path score for the hypothesis (higher is better; not
            calibrated).
        probability: pocketsphinx's posterior probability of the hypothesis.
    """

    text: str
    decode_s: float
    audio_s: float
    score: float | None = None
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_pcm(
    pcm: bytes | bytearray | memoryview,
    sample_rate: int = SAMPLE_RATE,
    max_audio_s: float = MAX_AUDIO_S,
) -> float:
    """Check raw s16le mono audio before any work is done on it; return its seconds.

    Cheap (no copy, no decode), so a node can refuse bad audio in its callback.

    Raises:
        SpeechError: not bytes, empty, an odd byte count, a rate out of range, or
            shorter than `MIN_AUDIO_S` / longer than `max_audio_s`.
    """
    if not isinstance(pcm, (bytes, bytearray, memoryview)):
        raise SpeechError(f"audio must be bytes of 16-bit samples, not {type(pcm).__name__}")
    size = memoryview(pcm).nbytes
    if size == 0:
        raise SpeechError("empty audio: no samples")
    if size % BYTES_PER_SAMPLE:
        raise SpeechError(
            f"audio of {size} bytes is an odd byte count: expected 16-bit (2-byte) samples"
        )
    if isinstance(sample_rate, float) and sample_rate.is_integer():
        sample_rate = int(sample_rate)
    if not isinstance(sample_rate, numbers.Integral) or isinstance(sample_rate, bool):
        raise SpeechError(f"sample rate must be a whole number of Hz, not {sample_rate!r}")
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise SpeechError(f"sample rate {sample_rate!r} Hz is outside {MIN_RATE}..{MAX_RATE}")
    seconds = size / BYTES_PER_SAMPLE / sample_rate
    if seconds > max_audio_s:
        raise SpeechError(f"audio of {seconds:.1f} s is over the {max_audio_s:g} s limit")
    if seconds < MIN_AUDIO_S:
        raise SpeechError(f"audio of {seconds * 1000:.1f} ms is too short to hold a command")
    return seconds


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling of int16 audio (FFT: no aliasing when rate > target)."""
    if rate == target or samples.size == 0:
        return samples.astype(np.int16, copy=False)
    n_out = max(1, round(samples.size * target / rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    kept = np.zeros(n_out // 2 + 1, dtype=complex)
    count = min(kept.size, spectrum.size)
    kept[:count] = spectrum[:count]
    out = np.fft.irfft(kept, n_out) * (n_out / samples.size)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def read_wav(path: str | Path, max_audio_s: float = MAX_AUDIO_S) -> tuple[bytes, int]:
    """Read a 16-bit PCM WAV file as 16 kHz mono s16le bytes.

    Stereo (or more channels) is averaged to mono; other sample rates are resampled to
    16 kHz. The length is checked from the header before the samples are read.

    Returns:
        (pcm, 16000).

    Raises:
        SpeechError: unreadable, not a PCM WAV file, not 16-bit, or too long.
    """
    try:
        with wave.open(str(path), "rb") as handle:
            width = handle.getsampwidth()
            channels = handle.getnchannels()
            rate = handle.getframerate()
            frames = handle.getnframes()
            if width != BYTES_PER_SAMPLE:
                raise SpeechError(
                    f"{path}: {8 * width}-bit samples; expected 16-bit PCM "
                    "(convert with: sox IN -b 16 OUT.wav)"
                )
            if not MIN_RATE <= rate <= MAX_RATE:
                raise SpeechError(
                    f"{path}: sample rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE}"
                )
            if frames / rate > max_audio_s:
                raise SpeechError(
                    f"{path}: {frames / rate:.1f} s of audio is over the {max_audio_s:g} s limit"
                )
            raw = handle.readframes(frames)
    except SpeechError:
        raise
    except FileNotFoundError:
        raise SpeechError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SpeechError(f"{path}: is a directory, not a WAV file") from None
    except OSError as exc:
        raise SpeechError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (wave.Error, EOFError) as exc:
        raise SpeechError(
            f"{path}: not a 16-bit PCM WAV file ({str(exc) or 'truncated header'})"
        ) from None
    frame_bytes = BYTES_PER_SAMPLE * channels
    samples = np.frombuffer(raw[: len(raw) - len(raw) % frame_bytes], dtype="<i2")
    if channels > 1:
        mono = samples.reshape(-1, channels).astype(np.int32).mean(axis=1)
        samples = np.round(mono).astype(np.int16)
    return resample(samples, rate).astype("<i2").tobytes(), SAMPLE_RATE


def peak_dbfs(samples: np.ndarray, frame: int = SAMPLE_RATE // 50) -> float:
    """Level of the loudest 20 ms frame, dB relative to full scale (-inf for zeros)."""
    usable = samples[: samples.size - samples.size % frame] if samples.size >= frame else samples
    blocks = usable.astype(np.float64).reshape(-1, min(frame, usable.size))
    rms = float(np.sqrt((blocks**2).mean(axis=1)).max())
    return 20.0 * np.log10(rms / 32768.0) if rms > 0 else float("-inf")


def _adaptation(acoustic_model: str | Path | None, mllr: str | Path | None) -> dict[str, str]:
    """Decoder options for an adapted model, checked first: pocketsphinx itself reports a
    bad path as a crash or a bare "failed to initialize"."""
    out = {}
    if acoustic_model:
        model = Path(acoustic_model).expanduser()
        missing = [
            n for n in ("mdef", "means", "variances", "feat.params") if not (model / n).is_file()
        ]
        if missing:
            raise SpeechError(
                f"acoustic model {model}: not a pocketsphinx model directory "
                f"(no {', '.join(missing)})"
            )
        out["hmm"] = str(model)
    if mllr:
        matrix = Path(mllr).expanduser()
        if not matrix.is_file():
            raise SpeechError(f"MLLR transform {matrix}: no such file")
        out["mllr"] = str(matrix)
    return out


class SpeechRecognizer:
    """Transcribes one utterance at a time into a command of the scene's grammar.

    The decoder is built once (about half a second: the acoustic model and the grammar)
    and reused; `transcribe` is thread-safe (calls are serialised).

    Args:
        scene: the workcell whose vocabulary (colours, bins, zones, robots) can be heard.
        max_audio_s: longest utterance accepted.
        options: pocketsphinx `Config` options that override `DECODER_OPTIONS`.
        acoustic_model: a pocketsphinx model directory to use instead of the bundled
            en-us one (a speaker-adapted copy: docs/research/voice_adaptation).
        mllr: an MLLR transform of the model's means, adapted to a speaker.

    Raises:
        SpeechError: pocketsphinx is missing, a model path is not one, or pocketsphinx
            refuses the configuration.
    """

    def __init__(
        self,
        scene: Scene,
        *,
        max_audio_s: float = MAX_AUDIO_S,
        options: Mapping[str, Any] | None = None,
        acoustic_model: str | Path | None = None,
        mllr: str | Path | None = None,
    ) -> None:
        if not 0 < max_audio_s <= 600:
            raise SpeechError(f"max_audio_s must be in (0, 600], not {max_audio_s!r}")
        adapted = _adaptation(acoustic_model, mllr)
        options = {**(ADAPTED_BEAMS if adapted else {}), **(options or {}), **adapted}
        try:
            import pocketsphinx
        except ImportError:
            raise SpeechError(
                "pocketsphinx is not installed (pip install pocketsphinx==5.1.1)"
            ) from None
        self.max_audio_s = float(max_audio_s)
        started = time.perf_counter()
        try:
            # lm=None: no n-gram model is loaded; the grammar is the only search.
            config = pocketsphinx.Config(lm=None, **{**DECODER_OPTIONS, **(options or {})})
            decoder = pocketsphinx.Decoder(config)
            # The world's own words the dictionary lacks ("fetcher"), as its domain says.
            for word, phones in scene.domain.language.pronounce.items():
                if decoder.lookup_word(word) is None:
                    decoder.add_word(word, phones, True)
            # Only phrases the dictionary can pronounce (a robot called "xarm" cannot be
            # said; its other names can).
            self.grammar = jsgf_grammar(
                scene, sayable=lambda word: _pronounce(decoder, word) is not None
            )
            _add_plurals(decoder, self.grammar)
            decoder.add_jsgf_string(_SEARCH, self.grammar)
            decoder.activate_search(_SEARCH)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise SpeechError(f"cannot build the pocketsphinx decoder: {exc}") from None
        self._decoder = decoder
        self._fsg = decoder.get_fsg(_SEARCH)
        self._lock = threading.Lock()
        log.info("speech recogniser ready in %.2f s", time.perf_counter() - started)

    def transcribe(
        self, pcm: bytes | bytearray | memoryview, sample_rate: int = SAMPLE_RATE
    ) -> Transcript:
        """Decode one utterance of mono s16le audio.

        Args:
            pcm: the samples; 16 kHz is native, other rates are resampled.
            sample_rate: their rate, Hz.

        Raises:
            NotUnderstood: the decoder's best path is not a whole sentence of the grammar
                (the guess is on the exception).
            SpeechError: bad audio (see `check_pcm`) or silence.
        """
        audio_s = check_pcm(pcm, sample_rate, self.max_audio_s)
        samples = np.frombuffer(pcm, dtype="<i2")
        samples = resample(samples, sample_rate)
        level = peak_dbfs(samples)
        if level < SILENCE_DBFS:
            raise SpeechError(
                f"no speech: the audio is silent (loudest {level:.0f} dBFS, "
                f"speech needs {SILENCE_DBFS:.0f} dBFS or more)"
            )
        audio = _prepare(samples)
        with self._lock:
            started = time.perf_counter()
            try:
                # Each utterance starts from the model's own cepstral mean: the live mean
                # otherwise carries over from the last one, and the same recording was
                # heard right once and "not understood" when said again (0.1 ms).
                self._decoder.reinit_feat()
                self._decoder.start_utt()
                self._decoder.process_raw(audio, full_utt=True)
                self._decoder.end_utt()
            except RuntimeError as exc:
                raise SpeechError(f"the decoder failed: {exc}") from None
            decode_s = time.perf_counter() - started
            hyp = self._decoder.hyp()
        text = " ".join(hyp.hypstr.split()) if hyp is not None else ""
        heard = Transcript(
            text=text,
            decode_s=round(decode_s, 4),
            audio_s=round(audio_s, 4),
            score=_number(getattr(hyp, "score", None)),
            probability=_number(getattr(hyp, "prob", None)),
        )
        if not self.is_sentence(text):
            raise NotUnderstood(
                f"not understood: {_quoted(text)} is not a whole command"
                if text
                else f"not understood: nothing in {audio_s:.1f} s of audio fits the command "
                "grammar",
                text,
                heard,
            )
        log.debug("heard %r in %.3f s (%.1f s of audio)", text, decode_s, audio_s)
        return heard

    def sounds_alike(self, a: str, b: str) -> bool:
        """True when two word strings are pronounced the same by the decoder's dictionary
        ("center zone" and "centre zone"): what no recogniser can tell apart."""
        words_a, words_b = a.split(), b.split()
        if len(words_a) != len(words_b):
            return False
        with self._lock:
            return all(
                x == y
                or (self._decoder.lookup_word(x) or x) == (self._decoder.lookup_word(y) or y)
                for x, y in zip(words_a, words_b, strict=True)
            )

    def is_sentence(self, text: str) -> bool:
        """True when `text` is a complete sentence of the grammar the decoder searches.

        Asked of the decoder's own finite-state grammar (pocketsphinx's `fsg_model_accept`),
        so the check and the search can never disagree about what a sentence is.
        """
        if not text.strip():
            return False
        with self._lock:
            return bool(self._fsg.accept(" ".join(text.split())))


def _prepare(samples: np.ndarray) -> bytes:
    """Pad with silence and add a fixed dither (seeded, so the input to the decoder is the
    same every time the same audio arrives)."""
    pad = np.zeros(round(PAD_S * SAMPLE_RATE), dtype=np.int32)
    audio = np.concatenate([pad, samples.astype(np.int32), pad])
    # A fixed seed: the same audio gives the same transcript (tests, reproducible bugs).
    noise = np.random.default_rng(0).integers(-DITHER_LSB, DITHER_LSB + 1, audio.size)
    return np.clip(audio + noise, -32768, 32767).astype("<i2").tobytes()


#: Phones after which a plural "-s" is voiceless (/s/ as in "carts"), else /z/ ("arms").
_VOICELESS = {"P", "T", "K", "F", "TH"}
_SIBILANT = {"S", "Z", "SH", "ZH", "CH", "JH"}


def _pronounce(decoder: Any, word: str) -> str | None:
    """The phones of `word`: the dictionary's, or for a plural a domain's nouns make
    ("grippers", "huskies") its singular's with the plural ending; None if neither."""
    phones = decoder.lookup_word(word)
    if phones is not None:
        return phones
    # "huskies" -> "husky", "bases" -> "base", "arms" -> "arm", "boxes" -> "box": the
    # "-s" stem before the "-es" one ("bases" is "base" + s, not "bas" + es).
    stems = [word[:-3] + "y"] if word.endswith("ies") else []
    stems += [word[:-1]] if word.endswith("s") else []
    stems += [word[:-2]] if word.endswith("es") else []
    singular = next((p for p in map(decoder.lookup_word, stems) if p is not None), None)
    if singular is None:
        return None
    last = singular.split()[-1]
    ending = "IH Z" if last in _SIBILANT else "S" if last in _VOICELESS else "Z"
    return f"{singular} {ending}"


def _add_plurals(decoder: Any, grammar: str) -> None:
    """Give the dictionary the plurals the grammar uses that it lacks."""
    words = set(re.findall(r"(?<![<\w])[a-z']+(?![\w>])", grammar.split(";", 2)[-1]))
    for word in sorted(words):
        if decoder.lookup_word(word) is None:
            phones = _pronounce(decoder, word)
            if phones is None:
                raise SpeechError(
                    f"the word {word!r} of the command grammar is not in the speech dictionary"
                )
            decoder.add_word(word, phones, True)


def _quoted(text: str, limit: int = 120) -> str:
    """A guess in quotes for an error line, cut with "…" (never silently)."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None
