"""`robot-planner bench voice`: recordings of known sentences through the recogniser and the
offline planner, scored by what a robot would do with them.

A recording comes with the sentence that was spoken (a manifest of ``category |
sentence`` lines; the WAV is named after the sentence with ``_`` for spaces). Outcomes,
safest first:

* ``exact``: the same words (up to spellings the decoder's dictionary says sound alike,
  "center"/"centre": no recogniser can tell them apart);
* ``same_goal``: other words, but the planner reads them to the spoken sentence's goal;
* ``not_understood``: not a whole sentence of the grammar, so nothing is sent;
* ``refused``: a whole sentence the planner refuses with one line;
* ``wrong``: a whole sentence the planner plans to another goal, the one outcome that
  moves a robot somewhere nobody asked for (``confirm: always`` guards against it).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robot_planner.planning.base import Planner, PlanningError, PlanRequest
from robot_planner.speech.recognizer import NotUnderstood, SpeechError, SpeechRecognizer, read_wav

OUTCOMES = ("exact", "same_goal", "not_understood", "refused", "wrong", "unreadable")


def manifest(path: Path) -> list[tuple[str, str]]:
    """(category, sentence) pairs; '#' starts a comment.

    Raises:
        ValueError: a line without ``category | sentence``.
    """
    pairs = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        category, sep, sentence = line.partition("|")
        if not sep or not category.strip() or not sentence.strip():
            raise ValueError(f"{path}:{number}: expected 'category | sentence', got {raw!r}")
        pairs.append((category.strip(), " ".join(sentence.split())))
    return pairs


def wav_name(sentence: str) -> str:
    """The file a sentence is recorded in."""
    return sentence.replace(" ", "_") + ".wav"


def bench_voice(
    recognizer: SpeechRecognizer,
    planner: Planner,
    state: frozenset,
    directory: Path,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Decode every recording of `directory`'s ``sentences.txt`` and score it (see module)."""
    cases = manifest(directory / "sentences.txt")
    rows = []
    for done, (category, sentence) in enumerate(cases):
        wav = directory / wav_name(sentence)
        scored = _score(recognizer, planner, state, wav, sentence)
        rows.append({"category": category, "sentence": sentence, **scored})
        if progress is not None:
            progress(done + 1, len(cases))
    counts = Counter(row["outcome"] for row in rows)
    n = len(rows)
    by_category: dict[str, Counter] = {}
    for row in rows:
        by_category.setdefault(row["category"], Counter())[row["outcome"]] += 1
    decode = [row["decode_s"] for row in rows if row.get("decode_s") is not None]
    return {
        "suite": "voice",
        "directory": str(directory),
        "n": n,
        "counts": {o: counts.get(o, 0) for o in OUTCOMES},
        "exact_rate": round(counts["exact"] / n, 4) if n else 0.0,
        "safe_rate": round((n - counts["wrong"]) / n, 4) if n else 0.0,
        "by_category": {c: dict(v) for c, v in sorted(by_category.items())},
        "decode_s_median": round(statistics.median(decode), 3) if decode else None,
        "audio_s_total": round(sum(row.get("audio_s") or 0 for row in rows), 2),
        "rows": rows,
        "passed": counts["wrong"] == 0 and counts["unreadable"] == 0,
    }


def _score(
    recognizer: SpeechRecognizer, planner: Planner, state: frozenset, wav: Path, sentence: str
) -> dict[str, Any]:
    try:
        pcm, rate = read_wav(wav)
        heard = recognizer.transcribe(pcm, rate)
    except NotUnderstood as exc:
        return {"outcome": "not_understood", "heard": exc.guess, **_timing(exc.transcript)}
    except SpeechError as exc:
        return {"outcome": "unreadable", "heard": "", "error": str(exc)}
    row = {"heard": heard.text, **_timing(heard)}
    if recognizer.sounds_alike(heard.text, sentence):
        return {"outcome": "exact", **row}
    said, got = _goal(planner, state, sentence), _goal(planner, state, heard.text)
    if got is None:
        return {"outcome": "refused", **row}
    return {"outcome": "same_goal" if got == said else "wrong", "goal": sorted(got), **row}


def _goal(planner: Planner, state: frozenset, text: str) -> frozenset[str] | None:
    try:
        result = planner.plan(PlanRequest(text, state))
    except PlanningError:
        return None
    return frozenset(str(fact) for fact in result.plan.goal)


def _timing(transcript: Any) -> dict[str, Any]:
    return {"decode_s": transcript.decode_s, "audio_s": transcript.audio_s}


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: totals, per category, and every miss."""
    c = report["counts"]
    lines = [
        f"{report['n']} recordings of {report['directory']}: **exact {c['exact']}/{report['n']}"
        f" ({100 * report['exact_rate']:.0f}%)**, wrong goal **{c['wrong']}**; "
        f"decode median {report['decode_s_median']} s.",
        "",
        "| outcome | recordings |",
        "| --- | ---: |",
        *(f"| {o} | {c[o]} |" for o in OUTCOMES),
        "",
        "| category | " + " | ".join(OUTCOMES) + " |",
        "| --- |" + " ---: |" * len(OUTCOMES),
    ]
    for category, counts in report["by_category"].items():
        lines.append(
            f"| {category} | " + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES) + " |"
        )
    misses = [r for r in report["rows"] if r["outcome"] != "exact"]
    if misses:
        lines += ["", "Not exact:"]
        lines += [f"- {r['outcome']}: `{r['sentence']}` -> `{r['heard']}`" for r in misses]
    return "\n".join(lines)
