"""How validation, compilation and ticking scale with plan size.

For each size: validate, compile, first tick, then run the whole plan on the fake
adapter and report the median and 95th-percentile tick time. Figures are measured,
never asserted; the tests only check that the report has the right shape.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from robot_planner.adapters.fake import FakeRobotAdapter
from robot_planner.bench.synthetic import synthetic_plan
from robot_planner.bt.compiler import compile_plan
from robot_planner.execution.executor import Outcome, PlanExecutor
from robot_planner.plan.validation import validate_plan
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def bench_tree_size(
    n_tasks: int,
    catalogue: Catalogue,
    scene: Scene,
    repeat: int = 3,
    max_ticks: int | None = None,
) -> dict[str, Any]:
    """Timings for one plan size (best of `repeat` for one-off steps).

    `max_ticks` stops the run early (a 10,000-task plan takes thousands of ticks; a few
    hundred give a stable tick time); the outcome is then ``running``.
    """
    plan = synthetic_plan(n_tasks, scene)
    validate_s, compile_s, first_tick_s = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = validate_plan(plan, catalogue, scene)
        validate_s.append(time.perf_counter() - t0)
        if not report.ok:
            raise RuntimeError(f"synthetic plan is invalid: {report.errors[:2]}")
        adapter = FakeRobotAdapter(catalogue, scene, default_duration=0.1)
        t0 = time.perf_counter()
        compiled = compile_plan(plan, catalogue, adapter)
        t1 = time.perf_counter()
        compiled.root.tick_once()
        t2 = time.perf_counter()
        compile_s.append(t1 - t0)
        first_tick_s.append(t2 - t1)

    adapter = FakeRobotAdapter(catalogue, scene, default_duration=0.1)
    executor = PlanExecutor(plan, catalogue, adapter, period_s=0.05)
    ticks = []
    t_run = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        outcome = executor.tick()
        ticks.append(time.perf_counter() - t0)
        if outcome is not Outcome.RUNNING or (max_ticks and len(ticks) >= max_ticks):
            break
    run_s = time.perf_counter() - t_run
    ticks.sort()
    busy = sum(
        r.ended_at - r.started_at
        for r in executor.ledger.records.values()
        if r.started_at is not None and r.ended_at is not None
    )
    makespan = adapter.now()
    return {
        "tasks": n_tasks,
        "dependencies": sum(len(t.depends_on) for t in plan.tasks),
        "validate_ms": _ms(min(validate_s)),
        "compile_ms": _ms(min(compile_s)),
        "first_tick_ms": _ms(min(first_tick_s)),
        "compile_and_first_tick_ms": _ms(
            min(c + f for c, f in zip(compile_s, first_tick_s, strict=True))
        ),
        "tick_median_ms": _ms(statistics.median(ticks)),
        "tick_p95_ms": _ms(ticks[int(0.95 * (len(ticks) - 1))]),
        "ticks": len(ticks),
        "run_wall_s": round(run_s, 3),
        "outcome": outcome.value,
        "parallelism": round(busy / makespan, 3) if makespan else 0.0,
    }


def bench_tree(
    sizes: Sequence[int], catalogue: Catalogue, scene: Scene, repeat: int = 3
) -> list[dict[str, Any]]:
    return [bench_tree_size(n, catalogue, scene, repeat) for n in sizes]
