#!/usr/bin/env python3
"""Prepare adaptation data for sphinxtrain: audio as the recogniser hears it, fileids,
transcription and a dictionary (CMUdict + the plurals the recogniser adds).

usage: prep.py SRCDIR WORKDIR MODELDICT
SRCDIR holds WAVs plus either sentences.txt (bench-voice format: 'category | sentence',
WAV named sentence_with_underscores.wav) or transcripts.txt ('file.wav | sentence')."""

import sys
import wave
from pathlib import Path

import numpy as np
import pocketsphinx

from robot_planner.bench.voice import manifest, wav_name
from robot_planner.speech.recognizer import _prepare, _pronounce, read_wav

src, work, cmudict = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
if (src / "sentences.txt").exists():
    items = [(wav_name(s), s) for _, s in manifest(src / "sentences.txt")]
else:
    items = []
    for line in (src / "transcripts.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            f, _, s = line.partition("|")
            items.append((f.strip(), " ".join(s.lower().split())))
(work / "wav").mkdir(parents=True, exist_ok=True)
dec = pocketsphinx.Decoder(lm=None, loglevel="FATAL")
known = {line.split()[0] for line in cmudict.read_text().splitlines() if line.strip()}
extra, ids, trans = {}, [], []
for i, (f, s) in enumerate(items):
    pcm, rate = read_wav(src / f)
    samples = np.frombuffer(pcm, dtype="<i2")
    audio = _prepare(samples)  # same padding + dither as SpeechRecognizer
    uid = f"u{i:04d}"
    with wave.open(str(work / "wav" / f"{uid}.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(audio)
    for word in s.split():
        if word not in known and word not in extra:
            p = _pronounce(dec, word)
            if p is None:
                sys.exit(f"no pronunciation for {word!r} ({f})")
            extra[word] = p
    ids.append(uid)
    trans.append(f"<s> {s} </s> ({uid})")
(work / "adapt.fileids").write_text("\n".join(ids) + "\n")
(work / "adapt.transcription").write_text("\n".join(trans) + "\n")
(work / "adapt.dict").write_text(
    cmudict.read_text().rstrip("\n")
    + "\n"
    + "".join(f"{w} {p}\n" for w, p in sorted(extra.items()))
)
print(f"{len(ids)} utterances, {len(extra)} extra dictionary words", file=sys.stderr)
