"""Planning-only benchmark: goal accuracy, plan validity, attempts, latency and tokens
for any backend, on the shared command table (no simulation)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
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
    lines = [
        f"# Planner (`robot-planner bench planner`): {report['backend']}",
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
