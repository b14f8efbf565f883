"""`transcribe`: speech to command text offline, with the voice node's grammar and
decoder settings, so a recording can be checked without ROS. `voice prompts` / `voice
adapt`: the sentences a user records, and a model adapted to their voice from them.

Every file given is decoded and reported, one line each, whatever happened to the others:
a batch of recordings is how a user checks a microphone or a voice, and one bad file must
not hide the rest. Exit 0 when every file is a whole command, 1 when one is speech that is
not (not understood: its best guess is shown), 2 when a file is bad input (unreadable, not
16-bit PCM, too long, silent) or nothing could be tried (bad arguments, no recogniser).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from robot_planner.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_speech_model_args,
    add_world_args,
    load_world,
    seed_type,
)


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Decode WAV files as the voice node would (same grammar, same decoder settings)."""
    from robot_planner.speech.recognizer import (
        NotUnderstood,
        SpeechError,
        SpeechRecognizer,
        read_wav,
    )

    _, scene = load_world(args)
    if not 0 < args.max_audio_s <= 600:
        raise UsageError(f"--max-audio-s must be in (0, 600], not {args.max_audio_s:g}")
    try:
        recognizer = SpeechRecognizer(
            scene,
            max_audio_s=args.max_audio_s,
            acoustic_model=args.acoustic_model,
            mllr=args.mllr,
        )
    except SpeechError as exc:
        raise UsageError(str(exc)) from None
    failed = bad = 0
    many = len(args.wav) > 1
    for path in args.wav:
        report: dict[str, Any] = {"file": path}
        try:
            pcm, rate = read_wav(path, args.max_audio_s)
            heard = recognizer.transcribe(pcm, rate)
        except NotUnderstood as exc:
            report |= {**exc.transcript.to_dict(), "complete": False, "error": _named(path, exc)}
        except SpeechError as exc:
            report |= {"text": "", "complete": False, "error": _named(path, exc)}
            bad += 1
        else:
            report |= {**heard.to_dict(), "complete": True}
        failed += not report["complete"]
        _print(report, as_json=args.json, with_name=many)
    if many and not args.json:
        print(f"{len(args.wav) - failed}/{len(args.wav)} file(s) understood", file=sys.stderr)
    return EXIT_BAD_INPUT if bad else EXIT_FAILED if failed else EXIT_OK


def _print(report: dict[str, Any], *, as_json: bool, with_name: bool) -> None:
    """One line per file: the command on stdout, or why not on stderr."""
    if as_json:
        print(json.dumps(report), flush=True)
        return
    if report["complete"]:
        print(f"{report['file']}: {report['text']}" if with_name else report["text"], flush=True)
        return
    print(f"robot-planner: error: {report['error']}", file=sys.stderr, flush=True)


def _named(path: str, exc: Exception) -> str:
    """The error line with the file's name in front (read_wav's lines already have it)."""
    message = str(exc)
    return message if message.startswith(f"{path}:") else f"{path}: {message}"


def add_transcribe_parser(sub: Any) -> None:
    p = sub.add_parser(
        "transcribe",
        help="speech to command text: decode WAV files with the command grammar",
        description="Decode each WAV file as the voice node would and report each: the "
        "command it holds, or why it is not one (not a whole sentence of the grammar: the "
        "best guess is shown; unreadable; silent). Exit 0 if every file is a command, 1 if "
        "any speech is not understood, 2 if a file is unreadable, silent or too long.",
    )
    p.add_argument("wav", nargs="+", help="16-bit PCM WAV file(s); other rates are resampled")
    add_world_args(p)
    p.add_argument("--max-audio-s", type=float, default=30.0, help="longest audio accepted, s")
    add_speech_model_args(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per file: file, text, complete, error, timings, score",
    )
    p.set_defaults(func=cmd_transcribe)


# --- voice prompts / voice adapt -----------------------------------------------------------


def cmd_voice_prompts(args: argparse.Namespace) -> int:
    """Write sentences of the scene's grammar to record, in bench voice's format."""
    from robot_planner.bench.voice import manifest, wav_name
    from robot_planner.cli.bench import VOICE_FIXTURES
    from robot_planner.speech.adapt import prompt_sentences

    _, scene = load_world(args)
    if not 1 <= args.count <= 500:
        raise UsageError(f"--count must be 1..500, not {args.count}")
    fixtures = VOICE_FIXTURES / "sentences.txt"
    # The bench's own recordings stay out, so `bench voice` still scores unseen sentences.
    held_out = frozenset(s for _, s in manifest(fixtures)) if fixtures.is_file() else frozenset()
    try:
        prompts = prompt_sentences(scene, args.count, args.seed, held_out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "sentences.txt").write_text(
            f"# robot-planner voice prompts --scene {scene.name} --seed {args.seed}\n"
            "# category | sentence   (record each as <sentence with _ for spaces>.wav)\n"
            + "".join(f"{category} | {sentence}\n" for category, sentence in prompts),
            encoding="utf-8",
        )
    except OSError as exc:
        raise UsageError(f"{out}: cannot write sentences.txt: {exc.strerror or exc}") from None
    example = out / wav_name(prompts[0][1])
    print(f"wrote {out / 'sentences.txt'}: {len(prompts)} sentences of the {scene.name} grammar")
    print(
        "Record each sentence as a 16-bit mono WAV (16 kHz best), in your own voice and "
        f"with the microphone the robot will use, named after it in {out}\n"
        f"(the first: {example}); then run:\n"
        f"  robot-planner voice adapt {shlex.quote(str(out))} OUT_DIR [--map]"
    )
    return EXIT_OK


def cmd_voice_adapt(args: argparse.Namespace) -> int:
    """Adapt the acoustic model to the recordings' speaker; print how to use the result."""
    from robot_planner.speech.adapt import adapt_speaker

    load_world(args)  # a bad --scene is one line before any work, not after it
    result = adapt_speaker(Path(args.recordings), Path(args.out), with_map=args.map)
    print(
        f"adapted to {result.utterances} recordings in {result.seconds:.1f} s "
        f"(data and logs: {result.work_dir})"
    )
    flags = [f"--mllr {shlex.quote(str(result.mllr_matrix))}"]
    print(f"wrote {result.mllr_matrix} (MLLR transform): use {flags[0]}")
    if result.map_model is not None:
        flags.append(f"--acoustic-model {shlex.quote(str(result.map_model))}")
        print(
            f"wrote {result.map_model}/ (MAP-adapted model; better with 40+ recordings): "
            f"use {flags[1]}"
        )
    scene_flag = "" if args.scene == "tabletop" else f" --scene {shlex.quote(args.scene)}"
    for flag in flags:
        print(f"  robot-planner transcribe FILE.wav{scene_flag} {flag}")
    print("(one of the two: the MLLR transform is of the bundled model, not of the MAP one)")
    return EXIT_OK


def add_voice_parser(sub: Any) -> None:
    voice = sub.add_parser(
        "voice",
        help="adapt the speech recogniser to your voice: sentences to record, then a model",
        description="Speaker adaptation of the recogniser's acoustic model (pocketsphinx "
        "en-us) with sphinxtrain: 'voice prompts' writes sentences to record, 'voice adapt' "
        "makes an adapted model from the recordings.",
    )
    steps = voice.add_subparsers(dest="voice_command", required=True, metavar="STEP")
    p = steps.add_parser(
        "prompts",
        help="write DIR/sentences.txt: grammar sentences to record for adaptation",
        description="Write COUNT sentences of the scene's command grammar (the planner "
        "understands each) to DIR/sentences.txt as 'category | sentence' lines, the same "
        "for the same seed. Record each as DIR/<sentence with _ for spaces>.wav.",
    )
    add_world_args(p)
    p.add_argument("--count", type=int, default=40, help="sentences (default 40)")
    p.add_argument("--seed", type=seed_type, default=0, help="which sentences (default 0)")
    p.add_argument("--out", default="out/voice", help="directory for sentences.txt")
    p.set_defaults(func=cmd_voice_prompts)
    a = steps.add_parser(
        "adapt",
        help="adapt the acoustic model to recordings: OUT/mllr_matrix [, OUT/en-us-map/]",
        description="Adapt pocketsphinx's bundled en-us model to the speaker of "
        "RECORDINGS_DIR (WAVs plus sentences.txt as 'voice prompts' writes it, or "
        "transcripts.txt with 'file.wav | sentence' lines; 5 or more, 20-40 is better). "
        "Needs Debian's sphinxtrain, sphinxbase-utils and pocketsphinx packages. Exit 2 "
        "with one line on bad recordings or a missing tool.",
    )
    a.add_argument("recordings", metavar="RECORDINGS_DIR", help="WAVs and their sentences")
    a.add_argument("out", metavar="OUT_DIR", help="where the adapted model goes")
    a.add_argument(
        "--map",
        action="store_true",
        help="also MAP-adapt the model (OUT/en-us-map/, --acoustic-model): needs more data",
    )
    add_world_args(a)
    a.set_defaults(func=cmd_voice_adapt)
