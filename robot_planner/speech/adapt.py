"""Speaker adaptation of pocketsphinx's bundled en-us acoustic model, and the sentences a
user records for it.

The bundled model is the recogniser's limit (see `DECODER_OPTIONS`); 20-40 recordings of
one speaker, run through sphinxtrain as the CMU Sphinx tutorial "Adapting the default
acoustic model" does, give an MLLR transform (`SpeechRecognizer(mllr=)`) and, with MAP, a
model directory (`SpeechRecognizer(acoustic_model=)`). The Debian tools do the training;
this module prepares what they read and runs them with argument lists only (no shell:
file names and sentences are the user's text).
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import struct
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robot_planner.bench.voice import manifest, wav_name
from robot_planner.speech.recognizer import (
    SAMPLE_RATE,
    SpeechError,
    SpeechRecognizer,
    _prepare,
    _pronounce,
    read_wav,
)
from robot_planner.world.loading import ConfigError
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

#: Where Debian's sphinxtrain keeps bw, mllr_solve and map_adapt (not on PATH).
SPHINXTRAIN_DIR = Path("/usr/lib/sphinxtrain")
#: Each tool and the Debian package that ships it.
TOOLS = {
    "pocketsphinx_mdef_convert": "pocketsphinx",
    "sphinx_fe": "sphinxbase-utils",
    "bw": "sphinxtrain",
    "mllr_solve": "sphinxtrain",
    "map_adapt": "sphinxtrain",
}
#: Fewer recordings cannot estimate even one global transform (MLLR saturates near 10).
MIN_UTTERANCES = 5
#: 40 utterances take about 4 s in all; the bound only stops a hung tool.
TOOL_TIMEOUT_S = 600.0


class AdaptationError(ConfigError):
    """Recordings or tools that cannot make an adapted model (one readable line; the CLI
    exits 2 on it as on any unusable input)."""


@dataclass(frozen=True)
class AdaptationResult:
    """What `adapt_speaker` wrote: the MLLR transform, the MAP model directory (None
    without MAP), the number of utterances, wall-clock seconds and the logs' directory."""

    mllr_matrix: Path
    map_model: Path | None
    utterances: int
    seconds: float
    work_dir: Path


def find_tools(with_map: bool = False) -> dict[str, Path]:
    """The tool paths, so a missing package is one line before any work is done.

    Raises:
        AdaptationError: naming every missing tool and the packages to install.
    """
    found: dict[str, Path] = {}
    for name in TOOLS:
        if name == "map_adapt" and not with_map:
            continue
        search = os.environ.get("PATH", "")
        if TOOLS[name] == "sphinxtrain":
            search = os.pathsep.join((str(SPHINXTRAIN_DIR), search))
        path = shutil.which(name, path=search)
        if path:
            found[name] = Path(path)
    missing = [n for n in TOOLS if n not in found and (with_map or n != "map_adapt")]
    if missing:
        raise AdaptationError(
            f"speaker adaptation needs {', '.join(missing)} (not found on PATH or in "
            f"{SPHINXTRAIN_DIR}): apt-get install sphinxtrain sphinxbase-utils pocketsphinx"
        )
    return found


def read_recordings(directory: Path) -> list[tuple[Path, str]]:
    """(WAV, sentence) pairs from `sentences.txt` (bench-voice format) or, failing that,
    `transcripts.txt` (``file.wav | sentence``), each WAV checked readable.

    Raises:
        AdaptationError: no directory, no manifest, a bad line, or a bad or missing WAV.
    """
    if not directory.is_dir():
        raise AdaptationError(f"{directory}: no such recordings directory")
    sentences, transcripts = directory / "sentences.txt", directory / "transcripts.txt"
    if not sentences.is_file() and not transcripts.is_file():
        raise AdaptationError(
            f"{directory}: no sentences.txt ('category | sentence' per line) nor "
            "transcripts.txt ('file.wav | sentence' per line)"
        )
    try:
        if sentences.is_file():
            pairs = [(wav_name(s), s) for _, s in manifest(sentences)]
        else:
            pairs = _transcripts(transcripts)
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, or a bad line
        raise AdaptationError(str(exc)) from None
    items = []
    for name, sentence in pairs:
        wav = directory / name
        try:
            read_wav(wav)
        except SpeechError as exc:
            raise AdaptationError(f"recording for {sentence!r}: {exc}") from None
        items.append((wav, sentence.lower()))
    return items


def _transcripts(path: Path) -> list[tuple[str, str]]:
    """(file, sentence) pairs of ``file.wav | sentence`` lines; '#' starts a comment line."""
    pairs = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        name, sep, sentence = raw.strip().partition("|")
        if raw.strip() and not raw.lstrip().startswith("#"):
            if not sep or not name.strip() or not sentence.strip():
                raise ValueError(f"{path}:{number}: expected 'file.wav | sentence', got {raw!r}")
            pairs.append((name.strip(), " ".join(sentence.lower().split())))
    return pairs


def read_sendump(path: Path) -> np.ndarray:
    """Mixture weights (senone, feature stream, codeword) from a pocketsphinx `sendump`:
    bw and map_adapt read only Sphinx-III `mixture_weights` (a Python 3 port of
    sphinxtrain's sendump.py)."""
    shift, features, clusters = 10, 0, 0
    with path.open("rb") as fh:
        while (size := struct.unpack("<I", fh.read(4))[0]) != 0:
            key, _, value = fh.read(size)[:-1].decode("ascii", "replace").partition(" ")
            if key == "mixw_shift":
                shift = int(value)
            elif key == "feature_count":
                features = int(value)
            elif key == "cluster_count":
                clusters = int(value)
        if clusters:
            raise AdaptationError(f"{path}: a clustered sendump is not supported")
        densities, senones = struct.unpack("<II", fh.read(8))
        raw = np.frombuffer(fh.read(features * densities * senones), dtype=np.uint8)
    # Stored as quantised -log1.0001 weights, shifted.
    logs = raw.reshape(features, densities, senones).astype(np.float64) * (1 << shift)
    weights = np.power(1.0001, -logs).transpose(2, 0, 1)
    return weights / weights.sum(axis=2, keepdims=True)


def write_mixture_weights(path: Path, weights: np.ndarray) -> None:
    """A Sphinx-III float32 array file. Its header has no `chksum0` line: with one, bw
    expects a checksum and fails with a bare "initialization failed"."""
    head = b"s3\nversion 1.0\n"
    pad = b" " * ((4 - (len(head) + len(b"endhdr\n")) % 4) % 4)
    with path.open("wb") as fh:
        fh.write(head + pad + b"endhdr\n")
        fh.write(struct.pack("=i", 0x11223344))  # byte-order magic
        fh.write(struct.pack("=IIII", *weights.shape, weights.size))
        weights.astype("<f4").ravel().tofile(fh)


def adapt_speaker(recordings: Path, out: Path, *, with_map: bool = False) -> AdaptationResult:
    """Adapt the bundled en-us model to the speaker of `recordings` (see `read_recordings`):
    `out/mllr_matrix`, and with MAP `out/en-us-map/`; logs and data in `out/work/`
    (replaced on every run).

    Raises:
        AdaptationError: a missing tool, bad recordings, a word without pronunciation,
            fewer than `MIN_UTTERANCES`, or a tool that failed (its last log line).
    """
    import pocketsphinx

    started = time.perf_counter()
    tools = find_tools(with_map)
    items = read_recordings(recordings)
    if len(items) < MIN_UTTERANCES:
        raise AdaptationError(
            f"{recordings}: {len(items)} recording(s); adaptation needs at least "
            f"{MIN_UTTERANCES} (20-40 is better)"
        )
    model = Path(pocketsphinx.get_model_path()) / "en-us"
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    hmm, feats = work / "hmm", work / "mfc"
    for made in (work / "wav", work / "acc", feats):
        made.mkdir(parents=True)
    # Checks every word's pronunciation, so bad input is reported before any tool runs.
    _write_training_data(items, work, model / "cmudict-en-us.dict")
    shutil.copytree(model / "en-us", hmm)
    _run(tools, "pocketsphinx_mdef_convert", ["-text", hmm / "mdef", hmm / "mdef.txt"], work)
    write_mixture_weights(hmm / "mixture_weights", read_sendump(hmm / "sendump"))
    # The model's own front end, voice detection off (pocketsphinx 5 decodes without it).
    _run(tools, "sphinx_fe", ["-argfile", hmm / "feat.params", "-samprate", str(SAMPLE_RATE),
         "-remove_silence", "no", "-c", work / "adapt.fileids", "-di", work / "wav",
         "-do", feats, "-ei", "wav", "-eo", "mfc", "-mswav", "yes"], work)  # fmt: skip
    # Baum-Welch counts against the unadapted model.
    _run(tools, "bw", ["-hmmdir", hmm, "-moddeffn", hmm / "mdef.txt", "-ts2cbfn", ".ptm.",
         "-feat", "1s_c_d_dd", "-svspec", "0-12/13-25/26-38", "-cmn", "current", "-agc",
         "none", "-dictfn", work / "adapt.dict", "-fdictfn", hmm / "noisedict", "-ctlfn",
         work / "adapt.fileids", "-lsnfn", work / "adapt.transcription", "-cepdir", feats,
         "-accumdir", work / "acc"], work)  # fmt: skip
    matrix = out / "mllr_matrix"
    _run(tools, "mllr_solve", ["-meanfn", hmm / "means", "-varfn", hmm / "variances",
         "-outmllrfn", matrix, "-accumdir", work / "acc"], work)  # fmt: skip
    mapped = None
    if with_map:
        mapped = out / "en-us-map"
        shutil.rmtree(mapped, ignore_errors=True)
        # pocketsphinx reads mixture_weights when there is no sendump.
        shutil.copytree(hmm, mapped, ignore=shutil.ignore_patterns("sendump", "mdef.txt"))
        _run(tools, "map_adapt", ["-moddeffn", hmm / "mdef.txt", "-ts2cbfn", ".ptm.",
             "-meanfn", hmm / "means", "-varfn", hmm / "variances",
             "-mixwfn", hmm / "mixture_weights", "-tmatfn", hmm / "transition_matrices",
             "-accumdir", work / "acc", "-mapmeanfn", mapped / "means",
             "-mapvarfn", mapped / "variances", "-mapmixwfn", mapped / "mixture_weights",
             "-maptmatfn", mapped / "transition_matrices"], work)  # fmt: skip
    seconds = time.perf_counter() - started
    log.info("adapted on %d utterances in %.1f s", len(items), seconds)
    return AdaptationResult(matrix, mapped, len(items), round(seconds, 2), work)


def _write_training_data(items: list[tuple[Path, str]], work: Path, cmudict: Path) -> None:
    """Audio exactly as `SpeechRecognizer` hears it (16 kHz, padded, dithered), the file
    ids, transcripts, and a dictionary with the plurals the recogniser adds."""
    import pocketsphinx

    decoder = pocketsphinx.Decoder(lm=None, loglevel="FATAL")
    extra: dict[str, str] = {}
    ids, lines = [], []
    for number, (wav, sentence) in enumerate(items):
        for word in sentence.split():
            if word in extra or decoder.lookup_word(word) is not None:
                continue
            phones = _pronounce(decoder, word)
            if phones is None:
                raise AdaptationError(
                    f"{wav.name}: the word {word!r} of {sentence!r} has no pronunciation in "
                    "the speech dictionary"
                )
            extra[word] = phones
        pcm, _ = read_wav(wav)
        uid = f"u{number:04d}"
        with wave.open(str(work / "wav" / f"{uid}.wav"), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(_prepare(np.frombuffer(pcm, dtype="<i2")))
        ids.append(uid)
        lines.append(f"<s> {sentence} </s> ({uid})")
    (work / "adapt.fileids").write_text("\n".join(ids) + "\n")
    (work / "adapt.transcription").write_text("\n".join(lines) + "\n")
    words = "".join(f"{w} {p}\n" for w, p in sorted(extra.items()))
    (work / "adapt.dict").write_text(cmudict.read_text().rstrip("\n") + "\n" + words)


def _run(tools: dict[str, Path], name: str, args: list[str | Path], work: Path) -> None:
    """Run one tool (argument list, no shell), its whole output kept in `work/NAME.log`."""
    logged = work / f"{name}.log"
    try:
        done = subprocess.run(
            [str(tools[name]), *map(str, args)],
            check=False,
            capture_output=True,
            timeout=TOOL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise AdaptationError(f"{name} did not finish in {TOOL_TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise AdaptationError(f"{name} could not run: {exc.strerror or exc}") from None
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    logged.write_text(text)
    if done.returncode != 0:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        errors = [line for line in lines if re.match(r"(ERROR|FATAL|SYSTEM_ERROR)", line)]
        last = (errors or lines or ["no output"])[-1]
        raise AdaptationError(f"{name} failed (exit {done.returncode}; log {logged}): {last}")


# --- what to record ------------------------------------------------------------------------

#: Rewrites of each command of the scene's table considered (one is picked per command).
_VARIANTS = 6


def prompt_sentences(
    scene: Scene, count: int, seed: int = 0, exclude: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """`count` (category, sentence) pairs to record, as bench voice's manifest has them:
    whole sentences of the recogniser's grammar that the offline planner understands,
    spread over the scene's command table (its commands and their paraphrases, as `bench
    language` makes them), the same for the same seed. `exclude`: sentences kept out (the
    bench's own recordings, so the bench stays held out).

    Raises:
        ValueError: the scene has no command table, or fewer sentences than `count`.
    """
    from robot_planner.bench.language import Paraphraser, command_table
    from robot_planner.planning.base import PlanningError, PlanRequest
    from robot_planner.planning.offline import OfflinePlanner

    table = [(c, t) for c, t, goal in command_table(scene) if goal is not None]
    recognizer = SpeechRecognizer(scene)  # its grammar is the one that will listen
    maker = Paraphraser(scene)
    rng = random.Random(f"voice-prompts/{seed}")
    sources = []
    for category, command in table:
        variants = [command] + [maker.paraphrase(command, rng)[0] for _ in range(_VARIANTS)]
        # Speech has no punctuation nor capitals; the grammar drops apostrophes too.
        spoken = {" ".join(re.sub(r"[^a-z ]", " ", v.lower()).split()) for v in variants}
        spoken = {s for s in spoken if s not in exclude and recognizer.is_sentence(s)}
        sources.append((category, sorted(spoken)))
    rng.shuffle(sources)
    planner = OfflinePlanner(scene.domain.catalogue, scene)
    state = scene.initial_facts()
    chosen: list[tuple[str, str]] = []
    taken: set[str] = set()
    # One sentence per table command first, then a second one each, ...: variety.
    while len(chosen) < count and any(options for _, options in sources):
        for category, options in sources:
            if len(chosen) == count or not options:
                continue
            sentence = options.pop(rng.randrange(len(options)))
            if sentence in taken:
                continue
            try:
                planner.plan(PlanRequest(sentence, state))
            except PlanningError:
                continue
            taken.add(sentence)
            chosen.append((category, sentence))
    if len(chosen) < count:
        raise ValueError(
            f"scene {scene.name}: only {len(chosen)} distinct sentences to record, not {count}"
        )
    return chosen
