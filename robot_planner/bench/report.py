"""Bench reports: one JSON, one Markdown and PNG plots per suite under ``out/bench/``.

Every suite writes the same three kinds of file so results can be diffed (JSON), read
(Markdown) and compared at a glance (PNG), and so a user's run of ``robot-planner bench
SUITE`` is reproducible from its JSON (it records the machine and the arguments).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from robot_planner import __version__


def machine() -> dict[str, Any]:
    """What the figures were measured on (they mean little without it)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "robot_planner": __version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The `q` (0..1) percentile by nearest rank (no interpolation: a reported p95 is a
    value that was actually measured)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(round(q * len(ordered), 9)) - 1))]


def spread(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """Median, p95 and max, rounded."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "p95": round(percentile(values, 0.95), digits),
        "max": round(max(values), digits),
    }


def growth_exponent(sizes: Sequence[float], costs: Sequence[float]) -> float | None:
    """Least-squares slope of log(cost) against log(size): 1 is linear, 2 quadratic.

    Needs at least two sizes with positive costs; None otherwise.
    """
    points = [
        (math.log(s), math.log(c)) for s, c in zip(sizes, costs, strict=True) if s > 0 and c > 0
    ]
    if len(points) < 2:
        return None
    mean_x = statistics.fmean(p[0] for p in points)
    mean_y = statistics.fmean(p[1] for p in points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    return round(sum((x - mean_x) * (y - mean_y) for x, y in points) / var, 3)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A Markdown table; `align` has one character per column, l or r (default r)."""
    align = align.ljust(len(headers), "r")
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


Plot = Callable[[Any], None]


def write(
    out: str | Path, suite: str, data: dict[str, Any], markdown: str, plots: dict[str, Plot]
) -> list[Path]:
    """Write ``SUITE.json``, ``SUITE.md`` and one ``SUITE_NAME.png`` per plot.

    Each plot callable draws on a fresh matplotlib Axes (Agg backend: no display needed).
    Returns the paths written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = suite.replace("-", "_")
    written = [out / f"{stem}.json", out / f"{stem}.md"]
    payload = {"suite": suite, "machine": machine(), **data}
    written[0].write_text(json.dumps(payload, indent=2, default=str) + "\n")
    images = []
    for name, draw in plots.items():
        path = out / f"{stem}_{name}.png"
        _draw(path, draw)
        images.append(path)
    links = "\n".join(f"![{p.stem}]({p.name})" for p in images)
    written[1].write_text(markdown.rstrip() + ("\n\n" + links if links else "") + "\n")
    return written + images


def _draw(path: Path, draw: Plot) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    try:
        draw(axes)
        figure.tight_layout()
        figure.savefig(path)
    finally:
        plt.close(figure)
