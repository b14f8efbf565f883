"""What rendering the camera in a child process saves the caller: in-process
`Camera.capture` ms per frame against the caller's cost per asynchronous frame
(snapshot + send + receive), per scene, and how long a thread of the caller's process
waits for the GIL meanwhile (what delays a cancel in the executor node).

    .venv/bin/python bench/render_process.py [--frames 20] [--scenes tabletop logistics]
                                             [--nice N] [--json]

The asynchronous loop is what the executor does: request a frame, then tick (12 physics
steps, 0.05 s) and poll once a tick until the frame comes. "caller ms/frame" adds up only
the time spent in `request` and `poll`: wall time, and CPU time (the thread's own, without
the waits for a core that a loaded machine adds); "ticks in flight" is how many ticks ran
while the child rendered. A probe thread sleeps 1 ms in a loop; its lateness (p99, max) is
how long a ROS callback could have waited for the interpreter (or, on a loaded machine,
for a core). `--nice N` lowers the render child's priority. Figures depend on the load.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from robot_planner.sim.render_process import AsyncCamera
from robot_planner.sim.world import SimWorld
from robot_planner.world.scene import load_scene

log = logging.getLogger("bench.render_process")


@contextmanager
def gil_probe() -> Iterator[Callable[[], dict[str, float]]]:
    """A thread sleeping 1 ms at a time; yields a function giving its lateness so far
    (ms; p99 and max): how long it waited to run again, for the interpreter or, on a
    loaded machine, for a core."""
    late: list[float] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            time.sleep(0.001)
            late.append((time.perf_counter() - start - 0.001) * 1e3)

    def summary() -> dict[str, float]:
        ordered = sorted(late)
        return {"p99": ordered[int(0.99 * (len(ordered) - 1))], "max": ordered[-1]}

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield summary
    finally:
        stop.set()
        thread.join()


def _moving(world: SimWorld) -> None:
    """Arms and bases under way, so each frame shows a new state."""
    for arm in world.arms.values():
        arm.command_arm(np.asarray(arm.home) + 0.3)
    for base in world.bases.values():
        base.drive(0.3, 0.2)


#: Physics steps per executor tick (``period_s`` 0.05 s at 240 Hz): the node's sensors
#: publish, and would poll, once a tick.
STEPS_PER_TICK = 12


def _in_process(world: SimWorld, frames: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each in-process capture, a tick of physics apart."""
    camera = world.camera()
    camera.capture()  # warm-up
    wall, cpu = [], []
    for _ in range(frames):
        for _ in range(STEPS_PER_TICK):
            world.step()
        start, start_cpu = time.perf_counter(), time.thread_time()
        camera.capture()
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    return wall, cpu


def _async(world: SimWorld, renderer: AsyncCamera, frames: int) -> dict[str, list[float]]:
    """Per frame: the caller's wall and CPU seconds in `request` and `poll`, the request
    alone, the poll that got the frame, ticks stepped while it rendered, the child's
    render time. The executor's loop: request, then tick and poll until the frame comes."""
    out: dict[str, list[float]] = {
        k: [] for k in ("wall", "cpu", "request", "receive", "ticks", "render")
    }
    for _ in range(frames):
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        assert renderer.request()
        sent = time.perf_counter()
        wall, cpu, ticks = sent - begin, time.thread_time() - begin_cpu, 0
        while True:
            for _ in range(STEPS_PER_TICK):
                world.step()
            ticks += 1
            start, start_cpu = time.perf_counter(), time.thread_time()
            observation = renderer.poll()
            polled = time.perf_counter()
            wall += polled - start
            cpu += time.thread_time() - start_cpu
            if observation is not None:
                break
        for key, value in (
            ("wall", wall),
            ("cpu", cpu),
            ("request", sent - begin),
            ("receive", polled - start),
            ("ticks", ticks),
            ("render", renderer.render_s),
        ):
            out[key].append(value)
    return out


def measure_scene(name: str, frames: int, nice: int = 0) -> dict[str, Any]:
    """In-process and asynchronous figures for one scene (medians over `frames`).

    Timings come from runs without the GIL probe (its thread's wake-ups would be charged
    to whatever Python code runs then); the probe runs the same loops again.
    """
    with SimWorld(load_scene(name), seed=0) as world:
        _moving(world)
        sync_wall, sync_cpu = _in_process(world, frames)
        with gil_probe() as worst:
            _in_process(world, frames)
            gil_sync = worst()
        with AsyncCamera(world, nice=nice) as renderer:
            startup = renderer.wait_ready()
            rss_mb = _rss_mb(renderer.pid)
            renderer.capture()  # warm-up
            timing = _async(world, renderer, frames)
            with gil_probe() as worst:
                _async(world, renderer, frames)
                gil_async = worst()
    return {
        "scene": name,
        "frames": frames,
        "in_process_ms": _ms(sync_wall),
        "in_process_cpu_ms": _ms(sync_cpu),
        "caller_ms": _ms(timing["wall"]),
        "caller_cpu_ms": _ms(timing["cpu"]),
        "request_ms": _ms(timing["request"]),
        "receive_ms": _ms(timing["receive"]),
        "child_render_ms": _ms(timing["render"]),
        "ticks_in_flight": statistics.median(timing["ticks"]),
        "probe_late_ms": {"in_process": gil_sync, "async": gil_async},
        "child_startup_s": startup,
        "child_rss_mb": rss_mb,
        "child_nice": nice,
    }


def _ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1e3


def _rss_mb(pid: int | None) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next(x for x in status if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--scenes", nargs="+", default=["tabletop", "logistics"])
    parser.add_argument("--nice", type=int, default=0, help="the render child's niceness")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = [measure_scene(name, args.frames, args.nice) for name in args.scenes]
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 0
    for r in results:
        gil = r["probe_late_ms"]
        log.info(
            "%-9s in-process %6.1f ms/frame (CPU %5.1f) | async: caller %5.2f ms/frame "
            "(CPU %4.2f; request %.2f, receive %.2f), child render %6.1f ms, %2.0f ticks in "
            "flight | probe thread late p99/max: in-process %5.1f/%5.1f ms, async "
            "%5.1f/%5.1f ms | child start-up %.1f s, %.0f MB, nice %d",
            r["scene"],
            r["in_process_ms"],
            r["in_process_cpu_ms"],
            r["caller_ms"],
            r["caller_cpu_ms"],
            r["request_ms"],
            r["receive_ms"],
            r["child_render_ms"],
            r["ticks_in_flight"],
            gil["in_process"]["p99"],
            gil["in_process"]["max"],
            gil["async"]["p99"],
            gil["async"]["max"],
            r["child_startup_s"],
            r["child_rss_mb"],
            r["child_nice"],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
