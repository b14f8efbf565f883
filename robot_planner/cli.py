"""`robot-planner`: the command-line entry point.

Exit codes: 0 success; 1 the job ran but did not succeed (a plan failed); 2 bad input
(a missing or malformed file, an invalid plan, an unknown scene), always with one
readable line per problem on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robot_planner import __version__
from robot_planner.plan.validation import MAX_PLAN_BYTES, ValidationReport, validate_plan
from robot_planner.planning.base import Planner, PlanningError
from robot_planner.resources import ResourceError
from robot_planner.ros_cli import RosCliError
from robot_planner.world.catalogue import Catalogue, load_catalogue
from robot_planner.world.facts import FactError, parse_facts
from robot_planner.world.loading import ConfigError
from robot_planner.world.scene import Scene, load_scene

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class PlanRejected(Exception):
    """An invalid plan: each line printed on stderr, exit code 2."""

    def __init__(self, lines: list[str]):
        super().__init__(lines[0] if lines else "invalid plan")
        self.lines = lines


# --- shared helpers ------------------------------------------------------------------


def _read_input(path: str, what: str) -> bytes:
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_PLAN_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    return data


def _world(args: argparse.Namespace) -> tuple[Catalogue, Scene]:
    return load_catalogue(args.catalogue), load_scene(args.scene)


def _state(args: argparse.Namespace) -> frozenset | None:
    """Facts from ``--state FILE`` (a JSON list of fact strings), or None."""
    if not getattr(args, "state", None):
        return None
    raw = _read_input(args.state, "state file")
    try:
        data = json.loads(raw)
        if not isinstance(data, list):
            raise UsageError(f"state file {args.state}: expected a JSON list of facts")
        return parse_facts(data)
    except (ValueError, FactError) as exc:
        raise UsageError(f"state file {args.state}: {exc}") from None


def _load_valid_plan(
    args: argparse.Namespace, catalogue: Catalogue, scene: Scene
) -> ValidationReport:
    raw = _read_input(args.plan, "plan")
    if getattr(args, "dart", False):
        from robot_planner.plan.dart import from_dart

        report = from_dart(raw, catalogue, scene, _state(args))
    else:
        report = validate_plan(raw, catalogue, scene, _state(args))
    if not report.ok:
        raise PlanRejected([f"{args.plan}: {line}" for line in report.errors])
    return report


def _planner(args: argparse.Namespace, catalogue: Catalogue, scene: Scene) -> Planner:
    """The planner chosen by --planner-config and --backend (offline by default)."""
    from robot_planner.planning.config import PlannerConfig, load_planner_config, make_planner

    config = (
        load_planner_config(args.planner_config)
        if args.planner_config
        else PlannerConfig(backend="offline")
    )
    if args.backend:
        config = config.model_copy(update={"backend": args.backend})
    return make_planner(config, catalogue, scene)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


# --- subcommands ---------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    catalogue, scene = _world(args)
    report = _load_valid_plan(args, catalogue, scene)
    print(f"{args.plan}: {report.summary()}")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from robot_planner.adapters.fake import FakeRobotAdapter
    from robot_planner.bt.compiler import compile_plan
    from robot_planner.bt.render import ascii_tree, dot_source, render_png, unicode_tree

    catalogue, scene = _world(args)
    plan = _load_valid_plan(args, catalogue, scene).plan
    # Rendering needs no robot; the fake adapter only satisfies the compiler's checks.
    compiled = compile_plan(plan, catalogue, FakeRobotAdapter(catalogue, scene))
    print(unicode_tree(compiled) if args.unicode else ascii_tree(compiled), end="")
    if args.dot:
        Path(args.dot).write_text(dot_source(compiled))
        print(f"wrote {args.dot}", file=sys.stderr)
    if args.png:
        render_png(compiled, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    if args.status:
        from robot_planner.service.events import StatusEvent

        _print_json(StatusEvent.model_json_schema())
        return EXIT_OK
    from robot_planner.plan.schema import plan_json_schema

    catalogue, scene = _world(args)
    _print_json(plan_json_schema(catalogue, scene))
    return EXIT_OK


def _parse_failures(items: Sequence[str]) -> dict[str, str]:
    failures = {}
    for item in items:
        key, sep, reason = item.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--fail expects KEY=REASON (e.g. left_arm:pick=grasp missed), got '{item}'"
            )
        failures[key] = reason or "scripted failure"
    return failures


def cmd_execute(args: argparse.Namespace) -> int:
    from robot_planner.adapters.fake import FakeRobotAdapter
    from robot_planner.execution.executor import Outcome, PlanExecutor

    catalogue, scene = _world(args)
    plan = _load_valid_plan(args, catalogue, scene).plan
    if args.period <= 0 or args.duration <= 0:
        raise UsageError("--period and --duration must be positive")
    adapter = FakeRobotAdapter(
        catalogue, scene, failures=_parse_failures(args.fail), default_duration=args.duration
    )
    listeners = [] if args.json else [lambda e: print(json.dumps(e.to_dict()))]
    executor = PlanExecutor(
        plan,
        catalogue,
        adapter,
        period_s=args.period,
        listeners=listeners,
        failure_policy=args.on_failure,
    )
    result = executor.run(max_sim_time_s=args.max_time)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(
            f"{result.outcome.value}: {len(plan.tasks)} task(s), {result.sim_time_s:.2f} s "
            f"simulated, goal {'holds' if result.goal_satisfied else 'does NOT hold'}"
            + (f" — {result.reason}" if result.reason else "")
        )
    return (
        EXIT_OK if result.outcome is Outcome.SUCCEEDED and result.goal_satisfied else EXIT_FAILED
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from robot_planner.plan.dart import to_dart
    from robot_planner.planning.base import PlanningError, PlanRequest

    catalogue, scene = _world(args)
    planner = _planner(args, catalogue, scene)
    state = _state(args)
    request = PlanRequest(args.command_text, scene.initial_facts() if state is None else state)
    try:
        result = planner.plan(request)
    except PlanningError as exc:
        raise UsageError(f"cannot plan '{args.command_text.strip()[:80]}': {exc}") from None
    if args.dart:
        _print_json(to_dart(result.plan, scene))
    elif args.json:
        _print_json(result.to_dict())
    else:
        print(result.plan.to_json(indent=2))
    print(
        f"{result.backend}: {len(result.plan.tasks)} task(s) in "
        f"{result.latency_s * 1000:.1f} ms, {result.attempts} attempt(s)",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_grammar(args: argparse.Namespace) -> int:
    from robot_planner.planning.jsgf import jsgf_grammar
    from robot_planner.planning.language import grammar_text

    _, scene = _world(args)
    print(jsgf_grammar(scene) if args.format == "jsgf" else grammar_text(), end="")
    return EXIT_OK


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Decode WAV files as the voice node would (same grammar, same decoder settings)."""
    from robot_planner.speech.recognizer import SpeechError, SpeechRecognizer, read_wav

    _, scene = _world(args)
    try:
        audio = [(path, *read_wav(path, args.max_audio_s)) for path in args.wav]
        recognizer = SpeechRecognizer(scene, max_audio_s=args.max_audio_s)  # ~1 s: after
        heard = [(path, recognizer.transcribe(pcm, rate)) for path, pcm, rate in audio]
    except SpeechError as exc:
        raise UsageError(str(exc)) from None
    for path, transcript in heard:
        if args.json:
            print(json.dumps({"file": path, **transcript.to_dict()}))
        else:
            print(transcript.text)
    return EXIT_OK


def cmd_bench_planner(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import report as reports
    from robot_planner.bench.planner import bench_planner, markdown, plots

    catalogue, scene = _world(args)
    planner = _planner(args, catalogue, scene)
    with Progress(console=_stderr_console(), transient=True) as bar:
        task = bar.add_task("commands", total=None)
        report = bench_planner(
            planner,
            catalogue,
            scene,
            repeat=args.repeat,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    written = reports.write(args.out, "planner", report, markdown(report), plots(report))
    if args.json:
        _print_json(report)
    else:
        lat = report["latency_ms"]
        print(
            f"{report['backend']}: goal accuracy {report['goal_accuracy']:.1%} over "
            f"{report['commands']} commands; {report['valid_plans']} valid plans; latency "
            f"median {lat['median']} ms, p95 {lat['p95']} ms, max {lat['max']} ms; "
            f"{report['tokens']} tokens"
        )
        for wrong in report["wrong"]:
            print(f"  wrong: {wrong['command']!r} -> {wrong.get('goal') or wrong.get('error')}")
        print("written: " + ", ".join(str(p) for p in written))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from robot_planner.bench.tree import bench_tree

    catalogue, scene = _world(args)
    if any(n < 1 or n > 20_000 for n in args.tasks):
        raise UsageError("--tasks sizes must be between 1 and 20000")
    rows = bench_tree(args.tasks, catalogue, scene, repeat=args.repeat)
    if args.json:
        _print_json({"suite": "tree", "scene": scene.name, "results": rows})
        return EXIT_OK
    columns = [
        "tasks",
        "validate_ms",
        "compile_ms",
        "first_tick_ms",
        "compile_and_first_tick_ms",
        "tick_median_ms",
        "tick_p95_ms",
        "ticks",
        "parallelism",
    ]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    return EXIT_OK


def cmd_bench_episodes(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench.sim import bench_episodes
    from robot_planner.planning.base import PlanningError
    from robot_planner.planning.offline import OfflinePlanner

    catalogue, scene = _world(args)
    if not 1 <= args.seeds <= 10_000 or not 1 <= args.workers <= 64:
        raise UsageError("--seeds must be 1..10000 and --workers 1..64")
    try:  # refuse a bad command once, before starting any process
        OfflinePlanner(catalogue, scene).plan_text(args.command_text)
    except PlanningError as exc:
        raise UsageError(f"cannot plan '{args.command_text[:80]}': {exc}") from None
    seeds = range(args.seed, args.seed + args.seeds)
    with Progress(console=_stderr_console(), transient=True) as bar:
        task = bar.add_task("episodes", total=len(seeds))
        report = bench_episodes(
            str(args.scene),
            args.command_text,
            seeds,
            args.workers,
            args.drop_prob,
            args.displace_cm,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    if args.json:
        _print_json(report)
    else:
        print(
            f"{report['command']}: {report['success_rate']:.0%} success over "
            f"{report['episodes']} seeds; mean {report['mean_sim_time_s']:.1f} s simulated, "
            f"{report['mean_wall_time_s']:.2f} s wall per episode"
        )
        for failure in report["failures"]:
            print(f"  seed {failure['seed']}: {failure['outcome']} {failure['reason']}")
    return EXIT_OK


def _monitor_config(args: argparse.Namespace, scene: Any) -> Any:
    """The monitor config file with --monitor/--vqa applied; backends that need a key
    or a model are started once here so a bad setting fails before any simulation."""
    from robot_planner.monitor.backends import make_vqa
    from robot_planner.monitor.base import VqaError
    from robot_planner.monitor.config import load_monitor_config

    config = load_monitor_config(args.monitor_config)
    update = {"mode": args.monitor, "vqa": args.vqa}
    config = config.model_copy(update={k: v for k, v in update.items() if v is not None})
    if config.vqa in ("openai", "transformers") and config.mode != "off":
        try:
            make_vqa(config.vqa, scene=scene, config=config)
        except VqaError as exc:
            raise UsageError(str(exc)) from None
    return config


def cmd_bench_stack_drop(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench.stack_drop import ANCHORS, bench_stack_drop, grid

    _, scene = _world(args)
    if not 1 <= args.episodes <= 10_000 or not 1 <= args.workers <= 64:
        raise UsageError("--episodes must be 1..10000 and --workers 1..64")
    if not 0 <= args.drop_prob <= 1 or args.noise_cm < 0:
        raise UsageError("--drop-prob must be in [0, 1] and --noise-cm >= 0")
    monitoring = _monitor_config(args, scene)
    cells = grid() if args.grid else [(args.drop_prob, args.noise_cm, monitoring.mode)]
    results = []
    with Progress(console=_stderr_console(), transient=True) as bar:
        for drop, noise, monitor in cells:
            label = f"p={drop:g} q={noise:g}cm monitor={monitor}"
            task = bar.add_task(label, total=args.episodes)
            results.append(
                bench_stack_drop(
                    drop,
                    noise,
                    args.episodes,
                    monitor,
                    args.seed,
                    args.workers,
                    monitoring,
                    str(args.scene),
                    args.noise_model,
                    progress=lambda done, total, t=task: bar.update(t, completed=done),
                )
            )
    report = {"suite": "stack-drop", "results": results, "anchors": ANCHORS}
    table = [
        "| p | q (cm) | monitor | success | sim s | replans | false alarms | "
        "delay median / max (s) | checks | ms/check | VQA vs oracle |",
        "|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        delay = r["detection_delay_s"]
        scored = r["vqa_vs_oracle"]
        accuracy = (
            f"{scored['accuracy']:.1%} of {scored['asked']}"
            if scored and scored["accuracy"] is not None
            else ("oracle" if r["oracle_used"] else "-")
        )
        table.append(
            f"| {r['drop_prob']:g} | {r['displace_cm']:g} | {r['monitor']} | "
            f"{r['success_rate']:.1%} | {r['mean_sim_time_s']} | {r['replans_per_episode']} | "
            f"{r['false_alarms']} | {delay['median']} / {delay['max']} | "
            f"{r['monitor_checks']} | {r['monitor_ms_per_check']} | {accuracy} |"
        )
    from robot_planner.bench import report as reports
    from robot_planner.bench.stack_drop import plots

    out = Path(args.out)
    written = reports.write(
        out,
        "stack-drop",
        {"results": results, "anchors": ANCHORS},
        "\n".join(table),
        plots(report),
    )
    if args.json:
        _print_json(report if args.grid else results[0])
    else:
        print("\n".join(table))
        print("written: " + ", ".join(str(p) for p in written))
    return EXIT_OK


def cmd_bench_vqa(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench.vqa import bench_vqa

    _, scene = _world(args)
    if not 1 <= args.episodes <= 1000 or not 0 < args.period <= 60:
        raise UsageError("--episodes must be 1..1000 and --period in (0, 60]")
    monitoring = _monitor_config(args, scene)
    with Progress(console=_stderr_console(), transient=True) as bar:
        task = bar.add_task(f"{monitoring.vqa} VQA", total=args.episodes)
        report = bench_vqa(
            args.episodes,
            args.seed,
            args.period,
            vqa=monitoring.vqa,
            scene_name=str(args.scene),
            monitor=monitoring,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    if args.json:
        _print_json(report)
        return EXIT_OK
    print(
        f"{report['vqa']} VQA against ground truth, {report['facts_per_frame']} facts per "
        f"frame, {report['episodes']} stack-drop episode(s):"
    )
    print(
        "| size | frames | accuracy | cannot tell | wrong and sure | ms/frame (median, p95) "
        "| ms/question |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in report["sizes"].items():
        print(
            f"| {name} | {row['frames']} | {row['accuracy']:.2%} | {row['unknown_rate']:.2%} | "
            f"{row['wrong_and_sure']} | {row['frame_ms_median']}, {row['frame_ms_p95']} | "
            f"{row['question_ms_median']} |"
        )
    for name, row in report["sizes"].items():
        parts = [
            f"{predicate} {t['accuracy']:.1%}"
            for predicate, t in row["by_predicate"].items()
            if t["accuracy"] is not None
        ]
        print(f"{name} by predicate: {', '.join(parts)}")
    return EXIT_OK


def cmd_bench_ros_latency(args: argparse.Namespace) -> int:
    from robot_planner.bench.ros_latency import markdown, measure

    if args.commands < 1:
        raise UsageError("--commands must be at least 1")
    try:
        report = measure(args.commands)
    except RuntimeError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    summary = report.summary()
    if args.json:
        _print_json(summary)
    else:
        print(markdown(summary))
    return EXIT_OK


def _publish(args: argparse.Namespace, suite: str, result: dict, text: str, plots: dict) -> None:
    """Write a suite's JSON, Markdown and PNGs to --out; print JSON or the Markdown."""
    from robot_planner.bench import report

    written = report.write(args.out, suite, result, text, plots)
    if args.json:
        _print_json(result)
    else:
        print(text)
        print("written: " + ", ".join(str(p) for p in written))


def cmd_bench_perf(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import perf

    catalogue, scene = _world(args)
    sizes = args.sizes or list(perf.SIZES)
    if any(not 1 <= n <= 100_000 for n in sizes):
        raise UsageError("--sizes must be between 1 and 100000 tasks")
    if not 0 <= args.dds_commands <= 200 or not 1 <= args.sim_seconds <= 600:
        raise UsageError("--dds-commands must be 0..200 and --sim-seconds 1..600")
    with Progress(console=_stderr_console(), transient=True) as bar:
        stage = bar.add_task("perf", total=None)
        try:
            result = perf.measure(
                catalogue,
                scene,
                sizes=sorted(set(sizes)),
                sim_seconds=args.sim_seconds,
                dds_commands=args.dds_commands,
                progress=lambda what: bar.update(stage, description=what),
            )
        except RuntimeError as exc:  # the DDS part could not bring the nodes up
            raise UsageError(str(exc).splitlines()[0]) from None
    _publish(args, "perf", result, perf.markdown(result), perf.plots(result))
    return EXIT_OK


def cmd_bench_tasks(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import tasks

    _world(args)  # a bad scene is one line here, not an error in every worker
    if not 1 <= args.workers <= 64:
        raise UsageError("--workers must be 1..64")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    levels = args.levels or list(tasks.LEVELS)
    with Progress(console=_stderr_console(), transient=True) as bar:
        task = bar.add_task("tasks", total=None)
        result = tasks.bench_tasks(
            str(args.scene),
            levels=levels,
            limit=args.limit,
            seed=args.seed,
            workers=args.workers,
            baseline=not args.no_baseline,
            monitor=args.monitor,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    _publish(args, "tasks", result, tasks.markdown(result), tasks.plots(result))
    return EXIT_OK


def cmd_bench_faults(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import faults

    catalogue, scene = _world(args)
    if not 1 <= args.fuzz_examples <= 1_000_000 or not 1 <= args.flood <= 100_000:
        raise UsageError("--fuzz-examples must be 1..1000000 and --flood 1..100000")
    with Progress(console=_stderr_console(), transient=True) as bar:
        stage = bar.add_task("faults", total=None)
        try:
            result = faults.run(
                catalogue,
                scene,
                fuzz_examples=args.fuzz_examples,
                ros=not args.no_ros,
                flood_commands=args.flood,
                progress=lambda what: bar.update(stage, description=what),
            )
        except RuntimeError as exc:  # the ROS part could not start or timed out
            raise UsageError(f"bench faults: {str(exc).splitlines()[0]}") from None
    _publish(args, "faults", result, faults.markdown(result), faults.plots(result))
    totals = result["totals"]
    return EXIT_OK if not totals["scenarios_failed"] and not totals["lost"] else EXIT_FAILED


def cmd_bench_sim_speed(args: argparse.Namespace) -> int:
    from robot_planner.bench.sim import bench_sim_speed

    if not 0 < args.seconds <= 3600:
        raise UsageError("--seconds must be in (0, 3600]")
    report = bench_sim_speed(str(args.scene), args.seconds)
    if args.json:
        _print_json(report)
    else:
        for key in ("without_camera", "with_camera"):
            row = report[key]
            print(f"{key}: {row['real_time_factor']}x real time ({row['steps_per_s']} steps/s)")
        print(
            f"camera 320x240: {report['camera_fps_320x240']} fps; "
            f"640x480: {report['camera_fps_640x480']} fps"
        )
    return EXIT_OK


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


DEMO_COMMAND = (
    "could you please put the red block in the right bin, "
    "then stack the green block on the blue block"
)


def _run_episode(args: argparse.Namespace, command: str, verbose: bool) -> int:
    from robot_planner.bt.render import unicode_tree
    from robot_planner.episode import EpisodeConfig, run_episode
    from robot_planner.monitor.base import VqaError
    from robot_planner.planning.base import PlanningError
    from robot_planner.sim.disturbances import DisturbanceConfig
    from robot_planner.sim.world import SimError

    catalogue, scene = _world(args)
    try:
        disturbances = DisturbanceConfig(
            drop_prob=args.drop_prob,
            displace_cm=args.displace_cm,
            displace_model=args.displace_model,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.max_time <= 0:
        raise UsageError("--max-time must be positive")
    if not 0 <= args.max_replans <= 100:
        raise UsageError("--max-replans must be in 0..100")
    config = EpisodeConfig(
        command=command,
        seed=args.seed,
        gui=args.gui,
        realtime=args.realtime,
        record=Path(args.record) if args.record else None,
        disturbances=disturbances,
        max_sim_time_s=args.max_time,
        monitor_config=_monitor_config(args, scene),
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
            planner=_planner(args, catalogue, scene),
            on_event=show_event,
            on_plan=show_plan,
        )
    except PlanningError as exc:
        raise UsageError(f"cannot plan '{command[:80]}': {exc}") from None
    except (SimError, VqaError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _print_json(report)
    else:
        verdict = "SUCCESS: goal holds" if report["success"] else "FAILED: goal does not hold"
        print(
            f"== {verdict} ({', '.join(report['goal'])}) after {report['sim_time_s']:.1f} s "
            f"simulated, {report['wall_time_s']:.1f} s wall"
            + (f"; {report['reason']}" if report["reason"] else "")
        )
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
        print(f"== final facts: {', '.join(report['final_facts'])}")
        if report.get("recording"):
            print(f"== recording: {report['recording']}")
    return EXIT_OK if report["success"] else EXIT_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    if not args.command_text or not args.command_text.strip():
        raise UsageError(
            "--command is empty: say what to do, e.g. 'put the red block in the right bin'"
        )
    return _run_episode(args, args.command_text, verbose=not args.json)


def cmd_demo(args: argparse.Namespace) -> int:
    """`make demo`: a headless PyBullet run of a spoken-style command, offline planner."""
    args.command_text = DEMO_COMMAND
    return _run_episode(args, DEMO_COMMAND, verbose=not args.json)


# --- parser --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robot-planner",
        description="Plan, validate, render and execute multi-robot task plans.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def world_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--scene",
            default="tabletop",
            help="scene name (sim/scenes/NAME.yaml) or path (default: tabletop)",
        )
        p.add_argument(
            "--catalogue",
            default=None,
            help="skill catalogue YAML (default: the packaged config/skills.yaml)",
        )

    def plan_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("plan", help="plan JSON file, or - for standard input")
        world_args(p)
        p.add_argument(
            "--state",
            default=None,
            help="JSON list of facts that hold now (default: the scene's start)",
        )

    def planner_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--backend",
            choices=["offline", "openai", "transformers", "auto"],
            help="planner backend (default: offline, or the config file's)",
        )
        p.add_argument(
            "--planner-config",
            metavar="FILE",
            help="planner YAML (see config/planner.yaml); API keys come from "
            "the environment variable it names",
        )

    p = sub.add_parser("validate", help="check a plan; exit 0 if valid, 2 with errors if not")
    plan_args(p)
    p.add_argument("--dart", action="store_true", help="the plan is in DART-LLM's format")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="plan a command; print the validated plan as JSON")
    world_args(p)
    planner_args(p)
    p.add_argument("--command", dest="command_text", required=True, metavar="TEXT")
    p.add_argument(
        "--state",
        default=None,
        help="JSON list of facts that hold now (default: the scene's start)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print plan plus backend, attempts, latency and token usage",
    )
    p.add_argument("--dart", action="store_true", help="print the plan in DART-LLM's format")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("grammar", help="print the offline command grammar (JSGF or lark)")
    world_args(p)
    p.add_argument("--format", choices=["jsgf", "lark"], default="jsgf")
    p.set_defaults(func=cmd_grammar)

    p = sub.add_parser(
        "transcribe", help="speech to command text: decode WAV files with the command grammar"
    )
    p.add_argument("wav", nargs="+", help="16-bit PCM WAV file(s); other rates are resampled")
    world_args(p)
    p.add_argument("--max-audio-s", type=float, default=30.0, help="longest audio accepted, s")
    p.add_argument("--json", action="store_true", help="JSON per file: text, timings, score")
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("render", help="print a plan's behaviour tree; draw it as PNG/DOT")
    plan_args(p)
    p.add_argument("--png", help="write a PNG drawing of the tree")
    p.add_argument("--dot", help="write Graphviz DOT source of the tree")
    p.add_argument("--unicode", action="store_true", help="unicode instead of ASCII text")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("schema", help="print the plan JSON Schema for a scene")
    world_args(p)
    p.add_argument(
        "--status", action="store_true", help="the status event schema (/robot_planner/status)"
    )
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("execute", help="dry-run a plan on scripted (fake) robots")
    plan_args(p)
    p.add_argument("--period", type=float, default=0.05, help="tick period, s (default 0.05)")
    p.add_argument("--duration", type=float, default=1.0, help="seconds per skill (default 1)")
    p.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="KEY=REASON",
        help="make calls fail, KEY is skill, robot:skill or robot:skill:object",
    )
    p.add_argument(
        "--on-failure",
        choices=["halt", "continue"],
        default="halt",
        help="halt every robot on a failure (default) or let independent work go on",
    )
    p.add_argument("--max-time", type=float, default=3600.0, help="simulated time limit, s")
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("bench", help="benchmarks")
    bench = p.add_subparsers(dest="suite", required=True, metavar="SUITE")
    b = bench.add_parser("tree", help="validate/compile/tick cost against plan size")
    world_args(b)
    b.add_argument(
        "--tasks",
        type=int,
        nargs="+",
        default=[10, 100, 1000],
        help="plan sizes (default: 10 100 1000)",
    )
    b.add_argument("--repeat", type=int, default=3, help="repetitions per size (best kept)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench)

    def sim_args(p: argparse.ArgumentParser) -> None:
        world_args(p)
        planner_args(p)
        p.add_argument("--seed", type=int, default=0, help="seed for start poses, disturbances")
        p.add_argument("--json", action="store_true", help="print one JSON report")
        p.add_argument("--record", metavar="OUT.gif", help="write a GIF of the overhead camera")
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
            help="placement noise in cm: each placed block is moved by up to this much "
            "(default 0)",
        )
        p.add_argument(
            "--displace-model",
            choices=["disc", "gaussian"],
            default="disc",
            help="disc: uniform up to --displace-cm; gaussian: std-dev --displace-cm per axis",
        )
        p.add_argument(
            "--max-time", type=float, default=300.0, help="simulated time limit, s (default 300)"
        )
        monitor_args(p)
        p.add_argument(
            "--alarm-frames",
            metavar="DIR",
            help="save the camera frame of each misalignment as a PNG in DIR",
        )
        p.add_argument("--max-replans", type=int, default=5, help="re-plans before giving up")
        p.add_argument(
            "--blind-skills",
            action="store_true",
            help="skills do not check their own grasp (only the monitor can "
            "notice a drop), as in DoReMi's benchmark",
        )

    def monitor_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--monitor",
            choices=["on", "after-skill", "off"],
            default=None,
            help="VQA monitoring: during+after each task, after each skill only, or off "
            "(default: the monitor config's mode, 'on')",
        )
        p.add_argument(
            "--vqa",
            choices=["geometric", "openai", "transformers", "oracle"],
            default=None,
            help="VQA backend (default: the monitor config's, 'geometric'; "
            "oracle reads the simulator: evaluation only)",
        )
        p.add_argument(
            "--monitor-config",
            metavar="FILE",
            help="monitor YAML (default: the packaged config/monitor.yaml)",
        )

    p = sub.add_parser("run", help="plan and execute a command in PyBullet, check the goal")
    sim_args(p)
    p.add_argument(
        "--command",
        dest="command_text",
        required=True,
        metavar="TEXT",
        help="the command, e.g. 'put the red block in the right bin'",
    )
    p.set_defaults(func=cmd_run)

    b = bench.add_parser("episodes", help="success rate of one command over many seeds")
    world_args(b)
    b.add_argument("--command", dest="command_text", required=True, metavar="TEXT")
    b.add_argument("--seeds", type=int, default=20, help="number of seeds, from --seed")
    b.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    b.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    b.add_argument("--drop-prob", type=float, default=0.0)
    b.add_argument("--displace-cm", type=float, default=0.0)
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_episodes)
    b = bench.add_parser("planner", help="planning only: goal accuracy, validity, latency")
    world_args(b)
    planner_args(b)
    b.add_argument("--repeat", type=int, default=1, help="runs per command (best kept)")
    b.add_argument("--out", default="out/bench", help="where JSON, Markdown and PNGs go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_planner)
    b = bench.add_parser("stack-drop", help="DoReMi stack-in-order benchmark with drops")
    world_args(b)
    b.add_argument("--drop-prob", type=float, default=0.3, help="drop probability per carry")
    b.add_argument(
        "--noise-cm", type=float, default=0.0, help="placement noise: displace by up to Q cm"
    )
    b.add_argument(
        "--noise-model",
        choices=["disc", "gaussian"],
        default="disc",
        help="disc: distance uniform in [0, Q]; gaussian: std-dev Q per axis",
    )
    b.add_argument("--episodes", type=int, default=20)
    monitor_args(b)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=1)
    b.add_argument(
        "--grid",
        action="store_true",
        help="p in {0, 0.15, 0.3} and q in {0, 3} cm, each monitor mode",
    )
    b.add_argument("--out", default="out/bench", help="where JSON and Markdown go")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench_stack_drop)
    b = bench.add_parser("vqa", help="VQA accuracy against ground truth, ms per frame")
    world_args(b)
    b.add_argument("--episodes", type=int, default=3, help="stack-drop episodes (default 3)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--period", type=float, default=0.5, help="simulated s between frames")
    b.add_argument(
        "--vqa",
        choices=["geometric", "openai", "transformers", "oracle"],
        default=None,
        help="backend to score (default: the monitor config's)",
    )
    b.add_argument("--monitor-config", metavar="FILE")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench_vqa, monitor=None)
    b = bench.add_parser("sim-speed", help="simulated seconds per wall second; camera fps")
    world_args(b)
    b.add_argument("--seconds", type=float, default=10.0, help="simulated seconds per run")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_sim_speed)

    b = bench.add_parser(
        "ros-latency", help="command-to-plan and command-to-first-motion latency over DDS"
    )
    b.add_argument("--commands", type=int, default=20, help="commands to time")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_ros_latency)

    b = bench.add_parser(
        "perf", help="cost of every stage against the targets, and how it grows with plan size"
    )
    world_args(b)
    b.add_argument(
        "--sizes", type=int, nargs="+", metavar="N", help="plan sizes (default 10 100 1000 10000)"
    )
    b.add_argument("--sim-seconds", type=float, default=10.0, help="simulated s per speed run")
    b.add_argument(
        "--dds-commands", type=int, default=5, help="commands timed over DDS (0 skips ROS)"
    )
    b.add_argument("--out", default="out/bench", help="where JSON, Markdown and PNGs go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_perf)

    b = bench.add_parser(
        "tasks", help="DART-LLM-style L1/L2/L3 commands end to end in PyBullet, vs one-arm"
    )
    world_args(b)
    b.add_argument("--levels", nargs="+", choices=["L1", "L2", "L3"], help="default: all")
    b.add_argument("--limit", type=int, help="only the first N commands of each level")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=1, help="episodes in parallel processes")
    b.add_argument(
        "--monitor", choices=["on", "after-skill", "off"], default="off", help="VQA monitor"
    )
    b.add_argument(
        "--no-baseline", action="store_true", help="skip the one-task-at-a-time baseline runs"
    )
    b.add_argument("--out", default="out/bench", help="where JSON, Markdown and PNGs go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_tasks)

    b = bench.add_parser(
        "faults", help="inject LLM, VQA, robot, process and input faults; count survivals"
    )
    world_args(b)
    b.add_argument(
        "--fuzz-examples", type=int, default=10_000, help="generated inputs per fuzz target"
    )
    b.add_argument("--flood", type=int, default=1000, help="commands sent in one second")
    b.add_argument("--no-ros", action="store_true", help="skip the flood and the killed node")
    b.add_argument("--out", default="out/bench", help="where JSON, Markdown and PNGs go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_faults)

    p = sub.add_parser("demo", help="the demo run by `make demo` (headless PyBullet)")
    sim_args(p)
    p.set_defaults(func=cmd_demo, record="out/demo/demo.gif")

    from robot_planner.ros_cli import add_parsers

    add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except PlanRejected as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (UsageError, ConfigError, ResourceError, PlanningError, RosCliError) as exc:
        print(f"robot-planner: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("robot-planner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
