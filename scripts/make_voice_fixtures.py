"""Speak the voice fixtures with espeak-ng: test/fixtures/audio/voice/sentences.txt ->
one 16 kHz mono 16-bit WAV per sentence, named after it.

    apt install espeak-ng   # 1.51 on Debian bookworm
    .venv/bin/python scripts/make_voice_fixtures.py [--voice en-us] [--speed 150]

Synthetic speech stands in for a person: the figures it gives are about the recogniser and
grammar, not about real voices, accents or microphones.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import wave
from pathlib import Path

from robot_planner.speech import read_wav

HERE = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "audio" / "voice"


def sentences(path: Path) -> list[tuple[str, str]]:
    """(category, sentence) pairs of a manifest; '#' starts a comment."""
    pairs = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            category, sentence = (part.strip() for part in line.split("|", 1))
            pairs.append((category, sentence))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="en-us")
    parser.add_argument("--speed", type=int, default=150, help="words per minute")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for _, sentence in sentences(HERE / "sentences.txt"):
            raw = Path(tmp) / "raw.wav"
            subprocess.run(
                ["espeak-ng", "-v", args.voice, "-s", str(args.speed), "-w", str(raw), sentence],
                check=True,
            )
            pcm, rate = read_wav(raw)  # 22.05 kHz -> 16 kHz, band-limited
            target = args.out / (sentence.replace(" ", "_") + ".wav")
            with wave.open(str(target), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(rate)
                out.writeframes(pcm)
            print(target.name)


if __name__ == "__main__":
    main()
