"""`run` and `demo`: one command planned and executed in PyBullet, end to end, with the
goal checked; `demo` is `run` with a fixed spoken-style command (`make demo`).

The exit code is the system's own verdict (its supervisor succeeded and it observes the
goal); the simulator's ground truth is printed beside it, and a disagreement is stated.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from robot_planner.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_base_disturbance_args,
    add_monitor_args,
    add_planner_args,
    add_world_args,
    chosen_planner,
    disturbance_config,
    load_world,
    monitor_config,
    print_json,
    seed_type,
    utf8_text,
)
from robot_planner.untrusted import quoted


def _run_episode(args: argparse.Namespace, command: str, verbose: bool) -> int:
    from robot_planner.bt.render import unicode_tree
    from robot_planner.episode import EpisodeConfig, run_episode, verdict_lines
    from robot_planner.monitor.base import VqaError
    from robot_planner.planning.base import PlanningError
    from robot_planner.planning.readback import readback
    from robot_planner.recording import RecordingError
    from robot_planner.sim.world import SimError

    record_mcap = _record_mcap_path(args)
    catalogue, scene = load_world(args)
    disturbances = disturbance_config(args)
    if not 0 < args.max_time < math.inf:  # NaN fails too (it never ran out)
        raise UsageError(f"--max-time must be a positive number of seconds, not {args.max_time}")
    if not 0 <= args.max_replans <= 100:
        raise UsageError("--max-replans must be in 0..100")
    config = EpisodeConfig(
        command=command,
        seed=args.seed,
        gui=args.gui,
        realtime=args.realtime,
        record=Path(args.record) if args.record else None,
        record_mcap=record_mcap,
        record_mcap_hz=args.record_mcap_hz,
        disturbances=disturbances,
        max_sim_time_s=args.max_time,
        monitor_config=monitor_config(args, scene),
        alarm_frames=Path(args.alarm_frames) if args.alarm_frames else None,
        max_replans=args.max_replans,
        self_check=not args.blind_skills,
    )

    def show_plan(plan, executor) -> None:
        if not verbose:
            return
        print(f"== command: {command}")
        print(f"== goal: {', '.join(plan.goal)}")
        print(f"== plan ({len(plan.tasks)} tasks):")
        for task in plan.tasks:
            after = f"  after {', '.join(task.depends_on)}" if task.depends_on else ""
            args_text = ", ".join(f"{k}={v}" for k, v in task.args.items())
            print(f"   {task.id}: {task.robot} {task.skill}({args_text}){after}")
        print(f"== readback: {readback(plan, scene, catalogue)}")
        print("== behaviour tree:")
        print(unicode_tree(executor.compiled), end="")
        print("== events (simulated time):")

    def show_event(event: dict) -> None:
        if verbose:
            print("   " + json.dumps(event))

    try:
        report = run_episode(
            config,
            catalogue,
            scene,
            planner=chosen_planner(args, catalogue, scene),
            on_event=show_event,
            on_plan=show_plan,
        )
    except PlanningError as exc:
        raise UsageError(f"cannot plan '{quoted(command)}': {exc}") from None
    except (SimError, VqaError, RecordingError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json(report)
    else:
        # One verdict, the system's own; the simulator's ground truth on a line beside it.
        for line in verdict_lines(report):
            print(f"== {line}")
        monitor = report["monitor"]
        if monitor["vqa"] is not None:
            print(
                f"== monitor: {monitor['vqa']} VQA, mode {monitor['mode']}; "
                f"{monitor['checks']} checks ({monitor['ms_per_check']:.1f} ms each), "
                f"{len(report['misalignments'])} misalignment(s), {report['replans']} re-plan(s)"
                + (" [oracle: evaluation only]" if monitor["oracle_used"] else "")
            )
        else:
            print(f"== monitor: off; {report['replans']} re-plan(s)")
        source = report["final_facts_source"]
        print(f"== final facts ({source}): {', '.join(report['final_facts'])}")
        if report.get("recording"):
            print(f"== recording: {report['recording']}")
        if report.get("recording_mcap"):
            print(f"== MCAP recording: {report['recording_mcap']}")
    return EXIT_OK if report["success"] else EXIT_FAILED


def _record_mcap_path(args: argparse.Namespace) -> Path | None:
    """The checked `--record-mcap` path: a bad one is one line before anything runs."""
    from robot_planner.recording import RecordingError, check_output

    if not args.record_mcap:
        return None
    if not args.record_mcap_hz > 0:
        raise UsageError("--record-mcap-hz must be positive")
    try:
        return check_output(args.record_mcap)
    except RecordingError as exc:
        raise UsageError(f"--record-mcap: {exc}") from None


def _add_sim_args(p: argparse.ArgumentParser) -> None:
    """The options `run` and `demo` share: world, planner, seed, disturbances, monitor."""
    add_world_args(p)
    add_planner_args(p)
    p.add_argument("--seed", type=seed_type, default=0, help="seed for start poses, disturbances")
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.add_argument("--record", metavar="OUT.gif", help="write a GIF of the overhead camera")
    p.add_argument(
        "--record-mcap",
        metavar="FILE.mcap",
        help="write status events, plans, camera frames (JPEG) and joint states to an MCAP "
        "file in simulated time (open it in Foxglove)",
    )
    p.add_argument(
        "--record-mcap-hz",
        type=float,
        default=2.0,
        metavar="HZ",
        help="camera frames per simulated second in the MCAP recording at least (the "
        "monitor's own frames are recorded too; default 2)",
    )
    p.add_argument("--gui", action="store_true", help="open the PyBullet window")
    p.add_argument("--realtime", action="store_true", help="run at wall-clock speed")
    p.add_argument(
        "--drop-prob",
        type=float,
        default=0.0,
        help="probability of dropping a carried block (default 0)",
    )
    p.add_argument(
        "--displace-cm",
        type=float,
        default=0.0,
        help="placement noise in cm: each placed block is moved by up to this much (default 0)",
    )
    p.add_argument(
        "--displace-model",
        choices=["disc", "gaussian"],
        default="disc",
        help="disc: uniform up to --displace-cm; gaussian: std-dev --displace-cm per axis",
    )
    add_base_disturbance_args(p)
    p.add_argument(
        "--max-time", type=float, default=300.0, help="simulated time limit, s (default 300)"
    )
    add_monitor_args(p)
    p.add_argument(
        "--alarm-frames",
        metavar="DIR",
        help="save the camera frame of each misalignment as a PNG in DIR",
    )
    p.add_argument(
        "--max-replans",
        type=int,
        default=5,
        help="re-plans in a row without progress (no shorter plan) before giving up; "
        "never more than 3x this in all (default 5)",
    )
    p.add_argument(
        "--blind-skills",
        action="store_true",
        help="skills do not check their own grasp (only the monitor can "
        "notice a drop), as in DoReMi's benchmark",
    )


# --- run -----------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    if not args.command_text or not args.command_text.strip():
        raise UsageError(
            "--command is empty: say what to do, e.g. 'put the red block in the right bin'"
        )
    return _run_episode(args, args.command_text, verbose=not args.json)


def add_run_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="plan and execute a command in PyBullet, check the goal")
    _add_sim_args(p)
    p.add_argument(
        "--command",
        dest="command_text",
        required=True,
        metavar="TEXT",
        type=utf8_text("--command"),
        help="the command, e.g. 'put the red block in the right bin'",
    )
    p.set_defaults(func=cmd_run)


# --- demo ----------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """`make demo`: a headless PyBullet run of the scene's spoken-style demo command
    (the tabletop's unless --scene says otherwise), offline planner."""
    _, scene = load_world(args)
    if not scene.demo:
        raise UsageError(f"scene {scene.name} has no demo command (its `demo:` field)")
    args.command_text = scene.demo
    return _run_episode(args, scene.demo, verbose=not args.json)


def add_demo_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="the demo run by `make demo` (headless PyBullet)")
    _add_sim_args(p)
    p.set_defaults(func=cmd_demo, record="out/demo/demo.gif")
