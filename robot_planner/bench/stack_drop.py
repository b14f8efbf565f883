"""The DoReMi / Code-as-Monitor stack-in-order benchmark with dropped and displaced blocks.

Stack three blocks in a given order while the simulator drops the carried block with
probability p per carry (at a random moment of the carry) and optionally displaces
placed blocks by up to q cm (uniform direction and distance; `gaussian`: normal noise of
std-dev q on each axis). Skills are blind to their own slips (as in
DoReMi's protocol), so only the monitor can notice; `off` shows what happens without it.

Success is scored against the simulator's ground truth (the tower stands as asked at
the end), as in the published benchmarks; the system's own verdict is reported beside it
(`system_success_rate`, and the seeds where the two disagree).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from robot_planner.bench.sim import run_jobs
from robot_planner.episode import EpisodeConfig, run_episode
from robot_planner.monitor.config import MonitorConfig
from robot_planner.sim.disturbances import DisturbanceConfig
from robot_planner.world.facts import Fact
from robot_planner.world.scene import load_scene

STACK_COMMAND = (
    "build a tower with the yellow block at the bottom, then the blue block, "
    "then the red block on top"
)
#: Published anchors (Code-as-Monitor's PyBullet re-run of DoReMi), success rates.
ANCHORS = {
    "p=0.15": {"DoReMi": 0.833, "Code-as-Monitor": 0.95},
    "p=0.3": {"DoReMi": 0.767, "Code-as-Monitor": 0.883},
    "q=3cm": {"DoReMi": 0.40, "Code-as-Monitor": 0.633},
}


def _episode(job: tuple) -> dict[str, Any]:
    seed, drop_prob, displace_cm, noise_model, monitor, monitoring, scene_name = job
    config = EpisodeConfig(
        command=STACK_COMMAND,
        seed=seed,
        self_check=False,
        monitor=monitor,
        monitor_config=monitoring,
        disturbances=DisturbanceConfig(
            drop_prob=drop_prob, displace_cm=displace_cm, displace_model=noise_model
        ),
        judge_alarms=True,
        max_sim_time_s=240.0,
    )
    scene = load_scene(scene_name)
    report = run_episode(config, scene.domain.catalogue, scene)
    disturbances = [
        e
        for e in report["events"]
        if e.get("event") == "disturbance" and e["kind"] in ("drop", "displace")
    ]
    alarms = [e for e in report["events"] if e.get("event") == "misalignment"]
    delays, missed_drops = _detections(disturbances, alarms)
    return {
        "seed": seed,
        # The benchmark's measure is the simulator's ground truth; the system's own
        # verdict is kept beside it.
        "success": report["ground_truth"]["goal_holds"],
        "system_success": report["success"],
        "sim_time_s": report["sim_time_s"],
        "wall_time_s": report["wall_time_s"],
        "replans": report["replans"],
        "false_alarms": sum(1 for a in alarms if a.get("false_alarm")),
        "disturbances": len(disturbances),
        "detection_delays_s": delays,
        "missed_drops": missed_drops,
        "checks": report["monitor"]["checks"],
        "ms_per_check": report["monitor"]["ms_per_check"],
        "vs_oracle": report["monitor"]["vs_oracle"],
        "vqa": report["monitor"]["vqa"],
        "reason": report["reason"],
    }


def _detections(
    disturbances: list[dict[str, Any]], alarms: list[dict[str, Any]]
) -> tuple[list[float], int]:
    """Detection delays, and drops that went unnoticed.

    A true alarm (not a false alarm) answers a disturbance that came after the previous
    true alarm (each alarm halts the robots and re-plans from what the camera sees, so
    older disturbances are accounted for): the latest one that names a block of the
    alarm's fact, else the latest one (a placement that toppled the tower below it).
    A drop counts as noticed when some true alarm follows it before that block is
    disturbed again: two drops at once are both handled by the first alarm."""
    true_alarms = [a for a in alarms if not a.get("false_alarm")]
    delays: dict[int, float] = {}
    previous = float("-inf")
    for alarm in true_alarms:
        names = Fact.parse(alarm["fact"]).args
        candidates = [
            index for index, d in enumerate(disturbances) if previous < d["time"] <= alarm["time"]
        ]
        naming = [index for index in candidates if disturbances[index]["object"] in names]
        chosen = (naming or candidates or [None])[-1]
        previous = alarm["time"]
        if chosen is not None:
            delay = alarm["time"] - disturbances[chosen]["time"]
            delays[chosen] = min(delays.get(chosen, delay), delay)
    missed = 0
    for index, disturbance in enumerate(disturbances):
        if disturbance["kind"] != "drop" or index in delays:
            continue
        until = next(
            (d["time"] for d in disturbances[index + 1 :] if d["object"] == disturbance["object"]),
            float("inf"),
        )
        if not any(disturbance["time"] <= a["time"] < until for a in true_alarms):
            missed += 1
    return [delays[index] for index in sorted(delays)], missed


def bench_stack_drop(
    drop_prob: float,
    displace_cm: float,
    episodes: int,
    monitor: str,
    seed: int = 0,
    workers: int = 1,
    monitoring: MonitorConfig | None = None,
    scene: str = "tabletop",
    noise_model: str = "disc",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """One grid cell: `episodes` runs with seeds seed, seed+1, ..."""
    monitoring = monitoring or MonitorConfig()
    jobs = [
        (seed + i, drop_prob, displace_cm, noise_model, monitor, monitoring, scene)
        for i in range(episodes)
    ]
    rows = run_jobs(_episode, jobs, workers, progress)
    delays = sorted(d for r in rows for d in r["detection_delays_s"])
    checks = sum(r["checks"] for r in rows)
    return {
        "drop_prob": drop_prob,
        "displace_cm": displace_cm,
        "noise_model": noise_model,
        "monitor": monitor,
        "vqa": monitoring.vqa if monitor != "off" else None,
        "oracle_used": monitor != "off" and monitoring.vqa == "oracle",
        "episodes": len(rows),
        "success_rate": round(sum(r["success"] for r in rows) / max(1, len(rows)), 4),
        "system_success_rate": round(
            sum(r["system_success"] for r in rows) / max(1, len(rows)), 4
        ),
        "verdict_disagreements": [r["seed"] for r in rows if r["success"] != r["system_success"]],
        "mean_sim_time_s": round(statistics.mean(r["sim_time_s"] for r in rows), 2),
        "mean_wall_time_s": round(statistics.mean(r["wall_time_s"] for r in rows), 2),
        "replans_per_episode": round(statistics.mean(r["replans"] for r in rows), 3),
        "false_alarms": sum(r["false_alarms"] for r in rows),
        "disturbances": sum(r["disturbances"] for r in rows),
        "detected": len(delays),
        "missed_drops": sum(r["missed_drops"] for r in rows),
        "detection_delay_s": {
            "median": round(statistics.median(delays), 3) if delays else None,
            "max": round(delays[-1], 3) if delays else None,
        },
        "monitor_checks": checks,
        "monitor_ms_per_check": round(
            sum(r["ms_per_check"] * r["checks"] for r in rows) / checks, 3
        )
        if checks
        else 0.0,
        "vqa_vs_oracle": _agreement(r["vs_oracle"] for r in rows),
        "failures": [{"seed": r["seed"], "reason": r["reason"]} for r in rows if not r["success"]][
            :10
        ],
    }


def _agreement(summaries: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """VQA answers scored against the oracle, summed over episodes (None: not scored)."""
    keys = ("asked", "agree", "disagree", "unknown")
    total = dict.fromkeys(keys, 0)
    by_predicate: dict[str, dict[str, int]] = {}
    scored = False
    for summary in summaries:
        if not summary:
            continue
        scored = True
        for key in keys:
            total[key] += summary[key]
        for predicate, row in summary["by_predicate"].items():
            into = by_predicate.setdefault(predicate, dict.fromkeys(keys, 0))
            for key in keys:
                into[key] += row[key]
    if not scored:
        return None
    answered = total["agree"] + total["disagree"]
    return {
        **total,
        "accuracy": round(total["agree"] / answered, 4) if answered else None,
        "by_predicate": by_predicate,
    }


def grid(
    drop_probs: Sequence[float] = (0.0, 0.15, 0.3),
    displacements: Sequence[float] = (0.0, 3.0),
    monitors: Sequence[str] = ("on", "after-skill", "off"),
) -> list[tuple]:
    """The benchmark grid: drop-only cells, then displacement-only cells."""
    cells = [(p, 0.0, m) for p in drop_probs for m in monitors]
    cells += [(0.0, q, m) for q in displacements if q > 0 for m in monitors]
    return cells


def _condition(row: dict[str, Any]) -> str:
    if row["displace_cm"]:
        return f"q={row['displace_cm']:g}cm"
    return f"p={row['drop_prob']:g}"


def plots(report: dict[str, Any]) -> dict[str, Any]:
    """Success and time per condition and monitor mode, next to the published figures."""
    import numpy as np

    results = report["results"]
    conditions = list(dict.fromkeys(_condition(r) for r in results))
    modes = list(dict.fromkeys(r["monitor"] for r in results))
    anchors = report.get("anchors", ANCHORS)
    systems = sorted({name for a in anchors.values() for name in a})

    def by(condition: str, mode: str, key: str) -> float:
        row = next(
            (r for r in results if _condition(r) == condition and r["monitor"] == mode), None
        )
        return float(row[key]) if row is not None else float("nan")

    def success(ax: Any) -> None:
        x = np.arange(len(conditions))
        bars = len(modes) + len(systems)
        width = 0.8 / bars
        for i, mode in enumerate(modes):
            values = [100 * by(c, mode, "success_rate") for c in conditions]
            ax.bar(x + (i - bars / 2 + 0.5) * width, values, width, label=f"ours, monitor {mode}")
        for j, system in enumerate(systems):
            values = [100 * anchors.get(c, {}).get(system, float("nan")) for c in conditions]
            ax.bar(
                x + (len(modes) + j - bars / 2 + 0.5) * width,
                values,
                width,
                label=f"{system} (published)",
                hatch="//",
                alpha=0.6,
            )
        ax.set_xticks(x, conditions)
        ax.set_ylim(0, 140)
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("success %")
        ax.set_title("Stack-in-order under drops (p) and placement noise (q)")
        ax.legend(fontsize=7, loc="upper center", ncol=2)

    def time(ax: Any) -> None:
        for mode in modes:
            ax.plot(
                conditions,
                [by(c, mode, "mean_sim_time_s") for c in conditions],
                marker="o",
                label=f"monitor {mode}",
            )
        ax.set_ylabel("mean simulated time per episode (s)")
        ax.set_title("Time cost of recovering")
        ax.legend(fontsize=8)

    return {"success": success, "time": time}
