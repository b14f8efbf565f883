"""Speaker adaptation (`robot-planner voice prompts` / `voice adapt`): the sentences to
record, the checks on recordings and tools (one line each, exit 2), the sendump
conversion, and, where Debian's sphinxtrain is installed, a real adaptation that makes
the recogniser hear its speaker better."""

from __future__ import annotations

import contextlib
import shutil
import struct
from pathlib import Path

import numpy as np
import pocketsphinx
import pytest

from robot_planner.bench.voice import manifest, wav_name
from robot_planner.cli import main
from robot_planner.planning.base import PlanRequest
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.speech import NotUnderstood, SpeechRecognizer, adapt, read_wav
from robot_planner.speech.adapt import (
    AdaptationError,
    adapt_speaker,
    find_tools,
    prompt_sentences,
    read_sendump,
    write_mixture_weights,
)
from robot_planner.world.scene import load_scene

VOICE = Path(__file__).parent / "fixtures" / "audio" / "voice"
FIXTURES = manifest(VOICE / "sentences.txt")
MODEL = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us"


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# --- tools -------------------------------------------------------------------------------


def test_missing_tools_are_one_line_naming_them_and_the_packages(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sphinx_fe").write_text("#!/bin/sh\n")
    (bin_dir / "sphinx_fe").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(adapt, "SPHINXTRAIN_DIR", tmp_path / "no_sphinxtrain")
    with pytest.raises(AdaptationError) as raised:
        find_tools(with_map=True)
    message = str(raised.value)
    assert "needs pocketsphinx_mdef_convert, bw, mllr_solve, map_adapt " in message
    assert "sphinx_fe" not in message  # it was found
    assert message.endswith("apt-get install sphinxtrain sphinxbase-utils pocketsphinx")
    # MLLR alone does not need map_adapt.
    with pytest.raises(AdaptationError, match=r"needs pocketsphinx_mdef_convert, bw, mllr_solve "):
        find_tools(with_map=False)
    assert main(["voice", "adapt", str(VOICE), str(tmp_path / "out")]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("robot-planner: error: speaker adaptation needs ")
    assert "apt-get install sphinxtrain sphinxbase-utils pocketsphinx" in line
    assert not (tmp_path / "out").exists()  # nothing was started


def _fake_tools(tmp_path: Path, monkeypatch, script: str) -> None:
    """Every tool is `script`: the tool checks pass and what a failing tool says is known."""
    bin_dir = tmp_path / "fake_bin"
    bin_dir.mkdir()
    for name in adapt.TOOLS:
        (bin_dir / name).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(adapt, "SPHINXTRAIN_DIR", bin_dir)


def _copies(directory: Path, sentences: list[str], with_wavs: bool = True) -> Path:
    """A transcripts.txt recordings directory: each sentence on a copy of one fixture."""
    directory.mkdir()
    source = VOICE / wav_name(FIXTURES[0][1])
    lines = []
    for number, sentence in enumerate(sentences):
        if with_wavs:
            shutil.copy(source, directory / f"take {number}.wav")
        lines.append(f"take {number}.wav | {sentence}")
    (directory / "transcripts.txt").write_text("# file | sentence\n" + "\n".join(lines) + "\n")
    return directory


def test_a_failing_tool_is_one_line_with_its_last_error_and_the_full_log_kept(
    tmp_path, monkeypatch
):
    _fake_tools(
        tmp_path,
        monkeypatch,
        'echo "INFO: reading"; echo "ERROR: \\"mdef.c\\", line 9: bad model" >&2; '
        'echo "INFO: bye"; exit 3',
    )
    recordings = _copies(tmp_path / "rec", ["put the red block in the right bin"] * 5)
    with pytest.raises(AdaptationError) as raised:
        adapt_speaker(recordings, tmp_path / "out")
    message = str(raised.value)
    logged = tmp_path / "out" / "work" / "pocketsphinx_mdef_convert.log"
    assert message == (
        f"pocketsphinx_mdef_convert failed (exit 3; log {logged}): "
        'ERROR: "mdef.c", line 9: bad model'
    )
    assert "\n" not in message
    assert "INFO: reading" in logged.read_text() and "INFO: bye" in logged.read_text()


# --- recordings --------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> list[tuple[Path, str]]:
    red = "put the red block in the right bin"
    missing_wav = _copies(tmp_path / "missing", [red] * 5)
    (missing_wav / "take 3.wav").unlink()
    broken = _copies(tmp_path / "broken", [red] * 5)
    (broken / "take 2.wav").write_bytes(b"RIFF not really a wave file")
    bad_line = tmp_path / "bad_line"
    bad_line.mkdir()
    (bad_line / "sentences.txt").write_text("basic | put the red block in the right bin\nnope\n")
    (tmp_path / "empty").mkdir()
    return [
        (tmp_path / "nowhere", "nowhere: no such recordings directory"),
        (
            tmp_path / "empty",
            "empty: no sentences.txt ('category | sentence' per line) nor transcripts.txt "
            "('file.wav | sentence' per line)",
        ),
        (bad_line, "sentences.txt:2: expected 'category | sentence'"),
        (missing_wav, "recording for 'put the red block in the right bin': "),
        (missing_wav, "take 3.wav: no such file"),
        (broken, "take 2.wav: not a 16-bit PCM WAV file"),
        (_copies(tmp_path / "few", [red] * 4), "4 recording(s); adaptation needs at least 5"),
        (
            _copies(tmp_path / "unsayable", [red] * 4 + ["put the zqxv block in the right bin"]),
            "take 4.wav: the word 'zqxv' of 'put the zqxv block in the right bin' has no "
            "pronunciation",
        ),
    ]


def test_each_bad_recordings_directory_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    _fake_tools(tmp_path, monkeypatch, 'echo "a tool ran" >&2; exit 1')
    for recordings, fragment in _bad_inputs(tmp_path):
        assert main(["voice", "adapt", str(recordings), str(tmp_path / "out")]) == 2, fragment
        line = _one_error_line(capsys)
        assert line.startswith("robot-planner: error: ") and fragment in line, (fragment, line)
        assert "a tool ran" not in line  # bad input is found before any tool runs


def test_sentences_txt_names_the_wavs_as_bench_voice_does(tmp_path):
    directory = tmp_path / "rec"
    directory.mkdir()
    picked = FIXTURES[:6]
    (directory / "sentences.txt").write_text("".join(f"{c} | {s}\n" for c, s in picked))
    for _, sentence in picked:
        shutil.copy(VOICE / wav_name(sentence), directory / wav_name(sentence))
    assert adapt.read_recordings(directory) == [(directory / wav_name(s), s) for _, s in picked]


# --- the sendump conversion --------------------------------------------------------------


def _s3_body(path: Path) -> tuple[bytes, bytes]:
    """A Sphinx-III array file's header and what follows its byte-order magic."""
    data = path.read_bytes()
    end = data.index(b"endhdr\n") + len(b"endhdr\n")
    assert struct.unpack("<i", data[end : end + 4])[0] == 0x11223344  # little-endian file
    return data[:end], data[end + 4 :]


def test_sendump_becomes_mixture_weights_of_the_models_shape(tmp_path):
    weights = read_sendump(MODEL / "sendump")
    # The model's mdef has 5126 tied states; its means give the streams and codewords.
    _, means = _s3_body(MODEL / "means")
    _, n_feat, n_density = struct.unpack("<III", means[:12])
    assert weights.shape == (5126, n_feat, n_density) == (5126, 3, 128)
    assert np.allclose(weights.sum(axis=2), 1.0, atol=1e-6) and (weights > 0).all()
    # Not flat: a senone's weights are spread (a wrong axis order would blur them).
    assert np.median(weights.max(axis=2)) > 4 / n_density
    out = tmp_path / "mixture_weights"
    write_mixture_weights(out, weights)
    header, body = _s3_body(out)
    assert header.startswith(b"s3\nversion 1.0\n") and b"chksum0" not in header
    assert len(header) % 4 == 0
    assert struct.unpack("<IIII", body[:16]) == (5126, 3, 128, weights.size)
    back = np.frombuffer(body[16:], dtype="<f4").reshape(weights.shape)
    assert len(body) == 16 + 4 * weights.size
    assert np.allclose(back, weights, atol=1e-7)


# --- voice prompts -----------------------------------------------------------------------


def test_prompts_are_deterministic_grammar_sentences_the_planner_plans(tmp_path, capsys):
    out = tmp_path / "prompts"
    assert main(["voice", "prompts", "--count", "12", "--seed", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'sentences.txt'}: 12 sentences of the tabletop grammar" in printed
    assert "16-bit mono WAV" in printed and f"voice adapt {out}" in printed
    prompts = manifest(out / "sentences.txt")  # bench voice's own reader
    first = (out / "sentences.txt").read_text()
    assert main(["voice", "prompts", "--count", "12", "--seed", "3", "--out", str(out)]) == 0
    assert (out / "sentences.txt").read_text() == first
    assert main(["voice", "prompts", "--count", "12", "--seed", "4", "--out", str(out)]) == 0
    assert manifest(out / "sentences.txt") != prompts
    capsys.readouterr()

    scene = load_scene("tabletop")
    recognizer = SpeechRecognizer(scene)
    planner = OfflinePlanner(scene.domain.catalogue, scene)
    sentences = [s for _, s in prompts]
    assert len(set(sentences)) == 12 and len({c for c, _ in prompts}) >= 4
    assert not set(sentences) & {s for _, s in FIXTURES}  # the bench stays held out
    for sentence in sentences:
        assert recognizer.is_sentence(sentence), sentence
        assert planner.plan(PlanRequest(sentence, scene.initial_facts())).plan.tasks, sentence
        assert wav_name(sentence).endswith(".wav") and "," not in sentence


def test_prompts_for_another_domain_and_a_bad_count(tmp_path, capsys):
    scene = load_scene("logistics")
    prompts = prompt_sentences(scene, 8, seed=1)
    assert prompts == prompt_sentences(scene, 8, seed=1)
    planner = OfflinePlanner(scene.domain.catalogue, scene)
    for _, sentence in prompts:
        planner.plan(PlanRequest(sentence, scene.initial_facts()))
    assert main(["voice", "prompts", "--count", "0", "--out", str(tmp_path)]) == 2
    assert _one_error_line(capsys) == "robot-planner: error: --count must be 1..500, not 0"
    assert not (tmp_path / "sentences.txt").exists()


# --- end to end, with the Debian tools ---------------------------------------------------

try:
    find_tools()
    TOOLS_MISSING = ""
except AdaptationError as exc:
    TOOLS_MISSING = str(exc)

#: Short fixtures, four of which the bundled model does not hear exactly (measured: 2/6
#: exact before, 6/6 after; an adaptation that changed nothing would tie).
SUBSET = [
    "put the red block in the right bin",
    "put the blue block in the left bin",
    "take the red and green blocks to the left bin",
    "put all the blocks in the left bin",
    "go home",
    "yes",
]


def _exact(recognizer: SpeechRecognizer) -> int:
    heard = 0
    for sentence in SUBSET:
        pcm, rate = read_wav(VOICE / wav_name(sentence))
        with contextlib.suppress(NotUnderstood):  # not a whole sentence: not exact
            heard += recognizer.sounds_alike(recognizer.transcribe(pcm, rate).text, sentence)
    return heard


@pytest.mark.skipif(bool(TOOLS_MISSING), reason=TOOLS_MISSING or "tools found")
def test_adapting_on_the_fixtures_makes_the_recogniser_hear_them_better(tmp_path, scene, capsys):
    out = tmp_path / "adapted"
    assert main(["voice", "adapt", str(VOICE), str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"adapted to {len(FIXTURES)} recordings" in printed
    assert f"use --mllr {out / 'mllr_matrix'}" in printed
    assert not (out / "en-us-map").exists()  # MLLR only without --map
    assert (out / "work" / "bw.log").is_file()
    base = _exact(SpeechRecognizer(scene))
    adapted = _exact(SpeechRecognizer(scene, mllr=out / "mllr_matrix"))
    # At least as many, and more: an adaptation that changed nothing would tie.
    assert adapted > base, (base, adapted)
