"""Planning-only benchmark: goal accuracy, plan validity, attempts, latency and tokens
for any backend, on the shared command table (no simulation).

For an LLM backend, `bench_modes` scores its planning modes side by side on the same
table and the same endpoint: ``dag`` (the model writes the plan) and ``goal`` (the model
reads the goal, the domain-independent planner plans)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from robot_planner.bench.commands import COMMANDS
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import Planner, PlanningError, PlanRequest
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene


def bench_planner(
    planner: Planner,
    catalogue: Catalogue,
    scene: Scene,
    progress: Callable[[int, int], None] | None = None,
    repeat: int = 1,
) -> dict[str, Any]:
    """Score `planner` on every command of the table (best latency of `repeat` runs)."""
    rows = []
    state = scene.initial_facts()
    for index, (category, command, expected) in enumerate(COMMANDS, start=1):
        latencies = []
        outcome: dict[str, Any] = {"category": category, "command": command}
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                result = planner.plan(PlanRequest(command, state))
                latencies.append(time.perf_counter() - started)
                outcome.update(
                    planned=True,
                    attempts=result.attempts,
                    usage=result.usage,
                    goal=sorted(result.plan.goal),
                    valid=validate_plan(result.plan, catalogue, scene).ok,
                )
            except PlanningError as exc:
                latencies.append(time.perf_counter() - started)
                outcome.update(planned=False, error=str(exc), valid=False, attempts=0, usage={})
        outcome["latency_s"] = min(latencies)
        if expected is None:
            outcome["correct"] = not outcome["planned"]  # must refuse, not misread
        else:
            outcome["correct"] = outcome.get("goal") == sorted(expected)
        rows.append(outcome)
        if progress:
            progress(index, len(COMMANDS))
    latencies = sorted(r["latency_s"] for r in rows)
    tokens = sum(sum(r["usage"].values()) for r in rows)
    return {
        "backend": getattr(planner, "name", type(planner).__name__),
        "mode": getattr(planner, "planning_mode", None),  # None: one mode only (offline)
        "commands": len(rows),
        "goal_accuracy": round(sum(r["correct"] for r in rows) / len(rows), 4),
        "valid_plans": sum(r["valid"] for r in rows),
        "planned": sum(r["planned"] for r in rows),
        "mean_attempts": round(
            statistics.mean(r["attempts"] for r in rows if r["planned"])
            if any(r["planned"] for r in rows)
            else 0.0,
            3,
        ),
        "latency_ms": {
            "median": round(1000 * statistics.median(latencies), 2),
            "p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2),
            "max": round(1000 * latencies[-1], 2),
        },
        "tokens": tokens,
        "wrong": [
            {k: r.get(k) for k in ("command", "goal", "error")} for r in rows if not r["correct"]
        ],
        "by_category": _by_category(rows),
        "rows": [
            {
                k: r.get(k)
                for k in (
                    "category",
                    "command",
                    "correct",
                    "valid",
                    "attempts",
                    "latency_s",
                    "usage",
                    "error",
                )
            }
            for r in rows
        ],
    }


def bench_modes(
    planner: Planner,
    modes: Sequence[str],
    catalogue: Catalogue,
    scene: Scene,
    progress: Callable[[int, int], None] | None = None,
    repeat: int = 1,
) -> dict[str, Any]:
    """Score one LLM planner in each planning mode on the same table, side by side.

    The same planner (one client, one loaded model) switches `planning_mode` between
    runs, so only the mode differs; it is restored afterwards.
    """
    if not hasattr(planner, "planning_mode"):
        raise ValueError(f"{getattr(planner, 'name', planner)!s} has no planning modes")
    original = planner.planning_mode  # type: ignore[attr-defined]
    reports: dict[str, dict[str, Any]] = {}
    total = len(COMMANDS) * len(modes)
    try:
        for index, mode in enumerate(modes):
            planner.planning_mode = mode  # type: ignore[attr-defined]
            done = index * len(COMMANDS)
            reports[mode] = bench_planner(
                planner,
                catalogue,
                scene,
                progress=(lambda n, _t, d=done: progress(d + n, total)) if progress else None,
                repeat=repeat,
            )
    finally:
        planner.planning_mode = original  # type: ignore[attr-defined]
    summary = {
        mode: {
            key: r[key]
            for key in ("goal_accuracy", "valid_plans", "planned", "mean_attempts", "tokens")
        }
        | {
            "latency_ms_median": r["latency_ms"]["median"],
            "latency_ms_p95": r["latency_ms"]["p95"],
        }
        for mode, r in reports.items()
    }
    # Commands the modes disagree on: where one reads right and the other does not.
    differ = []
    for i, (category, command, _) in enumerate(COMMANDS):
        correct = {mode: r["rows"][i]["correct"] for mode, r in reports.items()}
        if len(set(correct.values())) > 1:
            differ.append({"category": category, "command": command, "correct": correct})
    return {
        "backend": getattr(planner, "name", type(planner).__name__),
        "modes": list(modes),
        "commands": len(COMMANDS),
        "summary": summary,
        "differ": differ,
        "reports": reports,
    }


def markdown_modes(report: dict[str, Any]) -> str:
    """The modes side by side: one column per mode."""
    from robot_planner.bench.report import table

    modes = report["modes"]
    summary = report["summary"]
    metrics = [
        ("goal accuracy", lambda s: f"{s['goal_accuracy']:.1%}"),
        ("valid plans", lambda s: s["valid_plans"]),
        ("planned", lambda s: s["planned"]),
        ("mean attempts", lambda s: s["mean_attempts"]),
        ("latency median ms", lambda s: s["latency_ms_median"]),
        ("latency p95 ms", lambda s: s["latency_ms_p95"]),
        ("tokens", lambda s: s["tokens"]),
    ]
    lines = [
        f"# Planner modes (`robot-planner bench planner --mode`): {report['backend']}",
        "",
        f"{report['commands']} commands per mode. dag: the model writes the task plan; "
        "goal: the model reads the goal, the domain-independent planner plans.",
        "",
        table(
            ["metric", *modes],
            [(name, *(get(summary[m]) for m in modes)) for name, get in metrics],
            "l" + "r" * len(modes),
        ),
    ]
    if report["differ"]:
        lines += [
            "",
            "Where the modes differ (right = goal as expected, or refused if unplannable):",
        ]
        lines += [""]
        lines += [
            f"* `{d['command']}`: "
            + ", ".join(f"{m} {'right' if ok else 'wrong'}" for m, ok in d["correct"].items())
            for d in report["differ"]
        ]
    for mode in modes:
        wrong = report["reports"][mode]["wrong"]
        if wrong:
            lines += ["", f"Wrong or refused ({mode}):", ""]
            lines += [f"* `{w['command']}` -> {w.get('goal') or w.get('error')}" for w in wrong]
    return "\n".join(lines) + "\n"


def plots_modes(report: dict[str, Any]) -> dict[str, Any]:
    def latency(ax: Any) -> None:
        modes = report["modes"]
        data = [[1000 * r["latency_s"] for r in report["reports"][m]["rows"]] for m in modes]
        ax.boxplot(data, tick_labels=modes)
        ax.set_ylabel("ms per command")
        ax.set_title(f"Planning latency by mode ({report['backend']})")

    return {"latency": latency}


def _by_category(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for category in dict.fromkeys(r["category"] for r in rows):
        mine = [r for r in rows if r["category"] == category]
        out[category] = {
            "commands": len(mine),
            "goal_accuracy": round(sum(r["correct"] for r in mine) / len(mine), 4),
            "latency_ms_median": round(1000 * statistics.median(r["latency_s"] for r in mine), 2),
        }
    return out


def markdown(report: dict[str, Any]) -> str:
    from robot_planner.bench.report import table

    lat = report["latency_ms"]
    mode = f" ({report['mode']} mode)" if report.get("mode") else ""
    lines = [
        f"# Planner (`robot-planner bench planner`): {report['backend']}{mode}",
        "",
        f"Goal accuracy **{report['goal_accuracy']:.1%}** over {report['commands']} "
        f"commands; {report['valid_plans']} valid plans; mean attempts "
        f"{report['mean_attempts']}; latency median {lat['median']} ms, p95 {lat['p95']} ms, "
        f"max {lat['max']} ms; {report['tokens']} tokens.",
        "",
        table(
            ["category", "commands", "goal accuracy", "median ms"],
            [
                (c, v["commands"], f"{v['goal_accuracy']:.0%}", v["latency_ms_median"])
                for c, v in report["by_category"].items()
            ],
            "lrrr",
        ),
    ]
    if report["wrong"]:
        lines += ["", "Wrong or refused:", ""]
        lines += [
            f"* `{w['command']}` -> {w.get('goal') or w.get('error')}" for w in report["wrong"]
        ]
    return "\n".join(lines) + "\n"


def plots(report: dict[str, Any]) -> dict[str, Any]:
    def latency(ax: Any) -> None:
        categories = list(report["by_category"])
        data = [
            [1000 * r["latency_s"] for r in report["rows"] if r["category"] == c]
            for c in categories
        ]
        ax.boxplot(data, tick_labels=categories)
        ax.set_ylabel("ms per command")
        ax.set_title(f"Planning latency by category ({report['backend']})")
        ax.tick_params(axis="x", labelsize=7, rotation=30)

    return {"latency": latency}
