"""`transcribe`: speech to command text offline, with the voice node's grammar and
decoder settings, so a recording can be checked without ROS.

Every file given is decoded and reported, one line each, whatever happened to the others:
a batch of recordings is how a user checks a microphone or a voice, and one bad file must
not hide the rest. Exit 0 when every file is a whole command, 1 when one is speech that is
not (not understood: its best guess is shown), 2 when a file is bad input (unreadable, not
16-bit PCM, too long, silent) or nothing could be tried (bad arguments, no recogniser).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from robot_planner.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_speech_model_args,
    add_world_args,
    load_world,
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
