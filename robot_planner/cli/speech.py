"""`transcribe`: speech to command text offline, with the voice node's grammar and
decoder settings, so a recording can be checked without ROS.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from robot_planner.cli.common import EXIT_OK, UsageError, add_world_args, load_world


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Decode WAV files as the voice node would (same grammar, same decoder settings)."""
    from robot_planner.speech.recognizer import SpeechError, SpeechRecognizer, read_wav

    _, scene = load_world(args)
    try:
        audio = [(path, *read_wav(path, args.max_audio_s)) for path in args.wav]
        recognizer = SpeechRecognizer(scene, max_audio_s=args.max_audio_s)  # ~1 s: after
        heard = [(path, recognizer.transcribe(pcm, rate)) for path, pcm, rate in audio]
    except SpeechError as exc:
        raise UsageError(str(exc)) from None
    for path, transcript in heard:
        if args.json:
            print(json.dumps({"file": path, **transcript.to_dict()}))
        else:
            print(transcript.text)
    return EXIT_OK


def add_transcribe_parser(sub: Any) -> None:
    p = sub.add_parser(
        "transcribe", help="speech to command text: decode WAV files with the command grammar"
    )
    p.add_argument("wav", nargs="+", help="16-bit PCM WAV file(s); other rates are resampled")
    add_world_args(p)
    p.add_argument("--max-audio-s", type=float, default=30.0, help="longest audio accepted, s")
    p.add_argument("--json", action="store_true", help="JSON per file: text, timings, score")
    p.set_defaults(func=cmd_transcribe)
