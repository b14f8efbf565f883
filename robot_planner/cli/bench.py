"""`bench SUITE`: the benchmark suites. Each handler only checks its options, runs the
suite in `robot_planner.bench` (imported when the suite runs: some need PyBullet or ROS),
shows progress on stderr and prints or writes the report.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from robot_planner.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_base_disturbance_args,
    add_monitor_args,
    add_planner_args,
    add_speech_model_args,
    add_world_args,
    chosen_planner,
    disturbance_config,
    load_world,
    monitor_config,
    print_json,
    seed_type,
    stderr_console,
    utf8_text,
)
from robot_planner.untrusted import quoted

#: The committed espeak-ng recordings (a source checkout; pass --dir elsewhere).
VOICE_FIXTURES = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "audio" / "voice"


def _publish(args: argparse.Namespace, suite: str, result: dict, text: str, plots: dict) -> None:
    """Write a suite's JSON, Markdown and PNGs to --out; print JSON or the Markdown."""
    from robot_planner.bench import report

    written = report.write(args.out, suite, result, text, plots)
    if args.json:
        print_json(result)
    else:
        print(text)
        print("written: " + ", ".join(str(p) for p in written))


# --- tree ----------------------------------------------------------------------------


def cmd_bench_tree(args: argparse.Namespace) -> int:
    from robot_planner.bench.tree import bench_tree

    catalogue, scene = load_world(args)
    if any(n < 1 or n > 20_000 for n in args.tasks):
        raise UsageError("--tasks sizes must be between 1 and 20000")
    rows = bench_tree(args.tasks, catalogue, scene, repeat=args.repeat)
    if args.json:
        print_json({"suite": "tree", "scene": scene.name, "results": rows})
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


def _add_tree_parser(suites: Any) -> None:
    b = suites.add_parser("tree", help="validate/compile/tick cost against plan size")
    add_world_args(b)
    b.add_argument(
        "--tasks",
        type=int,
        nargs="+",
        default=[10, 100, 1000],
        help="plan sizes (default: 10 100 1000)",
    )
    b.add_argument("--repeat", type=int, default=3, help="repetitions per size (best kept)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_tree)


# --- episodes ------------------------------------------------------------------------


def cmd_bench_episodes(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench.sim import bench_episodes
    from robot_planner.planning.base import PlanningError
    from robot_planner.planning.offline import OfflinePlanner

    catalogue, scene = load_world(args)
    if not 1 <= args.seeds <= 10_000 or not 1 <= args.workers <= 64:
        raise UsageError("--seeds must be 1..10000 and --workers 1..64")
    disturbances = disturbance_config(args)
    try:  # refuse a bad command once, before starting any process
        OfflinePlanner(catalogue, scene).plan_text(args.command_text)
    except PlanningError as exc:
        raise UsageError(f"cannot plan '{quoted(args.command_text)}': {exc}") from None
    seeds = range(args.seed, args.seed + args.seeds)
    with Progress(console=stderr_console(), transient=True) as bar:
        task = bar.add_task("episodes", total=len(seeds))
        report = bench_episodes(
            str(args.scene),
            args.command_text,
            seeds,
            args.workers,
            progress=lambda done, total: bar.update(task, completed=done),
            disturbances=disturbances,
            monitor=args.monitor,
        )
    if args.json:
        print_json(report)
    else:
        print(
            f"{report['command']}: {report['success_rate']:.0%} success over "
            f"{report['episodes']} seeds (monitor {report['monitor']}); system verdict "
            f"{report['system_success_rate']:.0%}; mean {report['mean_sim_time_s']:.1f} s "
            f"simulated, {report['mean_wall_time_s']:.2f} s wall per episode"
        )
        if report["disturbances"]:
            happened = ", ".join(f"{n} {kind}" for kind, n in report["disturbances"].items())
            print(
                f"  disturbances: {happened}; {report['misalignments']} misalignment(s), "
                f"{report['replans_per_episode']:g} re-plans per episode, "
                f"{report['stalls_noticed']} stall(s) noticed"
            )
        for failure in report["failures"]:
            print(f"  seed {failure['seed']}: {failure['outcome']} {failure['reason']}")
    return EXIT_OK


def _add_episodes_parser(suites: Any) -> None:
    b = suites.add_parser("episodes", help="success rate of one command over many seeds")
    add_world_args(b)
    b.add_argument(
        "--command",
        dest="command_text",
        required=True,
        metavar="TEXT",
        type=utf8_text("--command"),
    )
    b.add_argument("--seeds", type=int, default=20, help="number of seeds, from --seed")
    b.add_argument("--seed", type=seed_type, default=0, help="first seed (default 0)")
    b.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    b.add_argument("--drop-prob", type=float, default=0.0)
    b.add_argument("--displace-cm", type=float, default=0.0)
    add_base_disturbance_args(b)
    b.add_argument(
        "--monitor",
        choices=["on", "after-skill", "off"],
        help="VQA monitor mode (default: config/monitor.yaml's)",
    )
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_episodes)


# --- clutter -------------------------------------------------------------------------


def cmd_bench_clutter(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench.clutter import COMMANDS, bench_clutter

    if not 1 <= args.seeds <= 10_000 or not 1 <= args.workers <= 64:
        raise UsageError("--seeds must be 1..10000 and --workers 1..64")
    commands = COMMANDS[: args.commands]
    if not 1 <= args.commands <= len(COMMANDS):
        raise UsageError(f"--commands must be 1..{len(COMMANDS)}")
    seeds = range(args.seed, args.seed + args.seeds)
    with Progress(console=stderr_console(), transient=True) as bar:
        task = bar.add_task("clutter", total=len(seeds) * len(commands))
        report = bench_clutter(
            seeds,
            commands,
            monitor=args.monitor,
            workers=args.workers,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    if args.json:
        print_json(report)
        return EXIT_OK
    print(
        f"clutter: {report['success_rate']:.1%} success over {report['episodes']} episodes "
        f"({report['commands']} commands x {report['seeds']} random layouts, monitor "
        f"{report['monitor']}); {report['replans_per_success']} re-plans per success; "
        f"recoveries used: {report['recoveries_used'] or 'none'}"
    )
    for command, rate in report["per_command"].items():
        print(f"  {rate:6.1%}  {command}")
    for failure in report["failures"]:
        print(
            f"  FAILED seed {failure['seed']} '{failure['command']}': {failure['outcome']} "
            f"{failure['reason']} (layout {failure['layout']})"
        )
    return EXIT_OK


def _add_clutter_parser(suites: Any) -> None:
    b = suites.add_parser(
        "clutter", help="placement and hand-over commands from random start layouts"
    )
    b.add_argument("--seeds", type=int, default=50, help="random layouts, from --seed")
    b.add_argument("--seed", type=seed_type, default=0, help="first seed (default 0)")
    b.add_argument(
        "--commands", type=int, default=10, help="how many of the 10 commands (default all)"
    )
    b.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    b.add_argument("--monitor", choices=["on", "after-skill", "off"], default="on")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_clutter)


# --- planner -------------------------------------------------------------------------


def cmd_bench_planner(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import report as reports
    from robot_planner.bench.planner import (
        bench_modes,
        bench_planner,
        markdown,
        markdown_modes,
        plots,
        plots_modes,
    )

    catalogue, scene = load_world(args)
    planner = chosen_planner(args, catalogue, scene)
    modes = None if args.mode is None else ["dag", "goal"] if args.mode == "both" else [args.mode]
    if modes is not None and not hasattr(planner, "planning_mode"):
        raise UsageError(
            f"--mode: the {planner.name} planner has one mode; give an LLM backend "
            "(--backend openai|transformers or --planner-config FILE)"
        )
    with Progress(console=stderr_console(), transient=True) as bar:
        task = bar.add_task("commands", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if modes is not None:
            both = bench_modes(
                planner, modes, catalogue, scene, progress=progress, repeat=args.repeat
            )
        else:
            report = bench_planner(
                planner, catalogue, scene, repeat=args.repeat, progress=progress
            )
    if modes is not None:
        written = reports.write(args.out, "planner", both, markdown_modes(both), plots_modes(both))
        if args.json:
            print_json(both)
        else:
            for mode, line in both["summary"].items():
                print(
                    f"{both['backend']} {mode}: goal accuracy {line['goal_accuracy']:.1%} "
                    f"over {both['commands']} commands; {line['valid_plans']} valid plans; "
                    f"mean attempts {line['mean_attempts']}; latency median "
                    f"{line['latency_ms_median']} ms, p95 {line['latency_ms_p95']} ms; "
                    f"{line['tokens']} tokens"
                )
            for row in both["differ"]:
                verdicts = ", ".join(
                    f"{m} {'right' if ok else 'wrong'}" for m, ok in row["correct"].items()
                )
                print(f"  differ: {row['command']!r}: {verdicts}")
            print("written: " + ", ".join(str(p) for p in written))
        return EXIT_OK
    written = reports.write(args.out, "planner", report, markdown(report), plots(report))
    if args.json:
        print_json(report)
    else:
        lat = report["latency_ms"]
        mode = f" ({report['mode']} mode)" if report.get("mode") else ""
        print(
            f"{report['backend']}{mode}: goal accuracy {report['goal_accuracy']:.1%} over "
            f"{report['commands']} commands; {report['valid_plans']} valid plans; latency "
            f"median {lat['median']} ms, p95 {lat['p95']} ms, max {lat['max']} ms; "
            f"{report['tokens']} tokens"
        )
        for wrong in report["wrong"]:
            print(f"  wrong: {wrong['command']!r} -> {wrong.get('goal') or wrong.get('error')}")
        print("written: " + ", ".join(str(p) for p in written))
    return EXIT_OK


def _add_planner_parser(suites: Any) -> None:
    b = suites.add_parser("planner", help="planning only: goal accuracy, validity, latency")
    add_world_args(b)
    add_planner_args(b)
    b.add_argument(
        "--mode",
        choices=["dag", "goal", "both"],
        default=None,
        help="LLM planning mode to score: dag (the model writes the plan), goal (the model "
        "reads the goal, the planner plans) or both side by side (default: the config's)",
    )
    b.add_argument("--repeat", type=int, default=1, help="runs per command (best kept)")
    b.add_argument("--out", default="out/bench", help="where JSON, Markdown and PNGs go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_planner)


# --- language ------------------------------------------------------------------------


def cmd_bench_language(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import language
    from robot_planner.planning.offline import OfflinePlanner

    catalogue, scene = load_world(args)
    if not 0 <= args.paraphrases <= 50:
        raise UsageError("--paraphrases must be 0..50")
    try:
        table = language.command_table(scene)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    planner = OfflinePlanner(catalogue, scene)
    with Progress(console=stderr_console(), transient=True) as bar:
        task = bar.add_task("commands", total=None)
        result = language.bench_language(
            planner,
            scene,
            table,
            seed=args.seed,
            paraphrases=args.paraphrases,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    _publish(args, "language", result, language.markdown(result), {})
    return EXIT_OK if result["passed"] else EXIT_FAILED


def _add_language_parser(suites: Any) -> None:
    b = suites.add_parser(
        "language",
        help="offline planner on the command table, paraphrases and a held-out set: right, "
        "refused, wrong goal (exit 1 if any wrong goal or crash); tabletop and logistics",
        description="Score the offline planner on the scene's command table (tabletop: "
        "bench/commands.py; logistics: bench/tasks_logistics.py; other scenes have none), "
        "K meaning-keeping paraphrases of each entry with a goal and K held-out rewrites. "
        "Exit 0 when no command was planned to a wrong goal and none crashed, else 1.",
    )
    add_world_args(b)
    b.add_argument("--seed", type=seed_type, default=0, help="paraphrase seed (default 0)")
    b.add_argument(
        "--paraphrases",
        type=int,
        default=2,
        metavar="K",
        help="paraphrases and held-out rewrites per command with a goal (default 2)",
    )
    b.add_argument("--out", default="out/bench", help="where JSON and Markdown go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_language)


# --- voice ---------------------------------------------------------------------------


def cmd_bench_voice(args: argparse.Namespace) -> int:
    from robot_planner.bench import voice
    from robot_planner.planning.offline import OfflinePlanner
    from robot_planner.speech.recognizer import SpeechError, SpeechRecognizer

    catalogue, scene = load_world(args)
    directory = Path(args.dir)
    if not (directory / "sentences.txt").is_file():
        raise UsageError(f"{directory}: no sentences.txt ('category | sentence' per line)")
    try:
        recognizer = SpeechRecognizer(scene, acoustic_model=args.acoustic_model, mllr=args.mllr)
        result = voice.bench_voice(
            recognizer, OfflinePlanner(catalogue, scene), scene.initial_facts(), directory
        )
    except (SpeechError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    _publish(args, "voice", result, voice.markdown(result), {})
    return EXIT_OK if result["passed"] else EXIT_FAILED


def _add_voice_parser(suites: Any) -> None:
    b = suites.add_parser(
        "voice",
        help="recordings of known sentences through the recogniser and the planner: exact, "
        "same goal, not understood, refused, wrong goal (exit 1 if any wrong goal)",
        description="Decode each recording listed in DIR/sentences.txt ('category | "
        "sentence'; the WAV is the sentence with _ for spaces) and score what the robot "
        "would do with it. Exit 0 when no recording was planned to a wrong goal.",
    )
    add_world_args(b)
    b.add_argument(
        "--dir",
        default=str(VOICE_FIXTURES),
        help="recordings and their sentences.txt (default: the espeak-ng fixtures)",
    )
    add_speech_model_args(b)
    b.add_argument("--out", default="out/bench", help="where JSON and Markdown go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_voice)


# --- stack-drop ----------------------------------------------------------------------


def cmd_bench_stack_drop(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench.stack_drop import ANCHORS, bench_stack_drop, grid

    _, scene = load_world(args)
    if not 1 <= args.episodes <= 10_000 or not 1 <= args.workers <= 64:
        raise UsageError("--episodes must be 1..10000 and --workers 1..64")
    if args.drop_prob is None:
        args.drop_prob = 0.0 if args.noise_cm > 0 else 0.3
    if not 0 <= args.drop_prob <= 1 or args.noise_cm < 0:
        raise UsageError("--drop-prob must be in [0, 1] and --noise-cm >= 0")
    monitoring = monitor_config(args, scene)
    cells = grid() if args.grid else [(args.drop_prob, args.noise_cm, monitoring.mode)]
    results = []
    with Progress(console=stderr_console(), transient=True) as bar:
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
        print_json(report if args.grid else results[0])
    else:
        print("\n".join(table))
        print("written: " + ", ".join(str(p) for p in written))
    return EXIT_OK


def _add_stack_drop_parser(suites: Any) -> None:
    b = suites.add_parser("stack-drop", help="DoReMi stack-in-order benchmark with drops")
    add_world_args(b)
    b.add_argument(
        "--drop-prob",
        type=float,
        default=None,
        help="drop probability per carry (default 0.3, or 0 when --noise-cm is given: "
        "a noise cell is measured on its own, as in --grid)",
    )
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
    add_monitor_args(b)
    b.add_argument("--seed", type=seed_type, default=0)
    b.add_argument("--workers", type=int, default=1)
    b.add_argument(
        "--grid",
        action="store_true",
        help="p in {0, 0.15, 0.3} and q in {0, 3} cm, each monitor mode",
    )
    b.add_argument("--out", default="out/bench", help="where JSON and Markdown go")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench_stack_drop)


# --- vqa -----------------------------------------------------------------------------


def cmd_bench_vqa(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench.vqa import bench_vqa

    _, scene = load_world(args)
    if not 1 <= args.episodes <= 1000 or not 0 < args.period <= 60:
        raise UsageError("--episodes must be 1..1000 and --period in (0, 60]")
    monitoring = monitor_config(args, scene)
    with Progress(console=stderr_console(), transient=True) as bar:
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
        print_json(report)
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


def _add_vqa_parser(suites: Any) -> None:
    b = suites.add_parser("vqa", help="VQA accuracy against ground truth, ms per frame")
    add_world_args(b)
    b.add_argument("--episodes", type=int, default=3, help="stack-drop episodes (default 3)")
    b.add_argument("--seed", type=seed_type, default=0)
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


# --- sim-speed -----------------------------------------------------------------------


def cmd_bench_sim_speed(args: argparse.Namespace) -> int:
    from robot_planner.bench.sim import bench_sim_speed

    if not 0 < args.seconds <= 3600:
        raise UsageError("--seconds must be in (0, 3600]")
    load_world(args)  # a bad scene is one line
    try:
        report = bench_sim_speed(str(args.scene), args.seconds)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json(report)
    else:
        for key in ("without_camera", "with_camera"):
            row = report[key]
            print(f"{key}: {row['real_time_factor']}x real time ({row['steps_per_s']} steps/s)")
        print(
            f"camera 320x240: {report['camera_fps_320x240']} fps; "
            f"640x480: {report['camera_fps_640x480']} fps"
        )
    return EXIT_OK


def _add_sim_speed_parser(suites: Any) -> None:
    b = suites.add_parser("sim-speed", help="simulated seconds per wall second; camera fps")
    add_world_args(b)
    b.add_argument("--seconds", type=float, default=10.0, help="simulated seconds per run")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_sim_speed)


# --- ros-latency ---------------------------------------------------------------------


def cmd_bench_ros_latency(args: argparse.Namespace) -> int:
    from robot_planner.bench.ros_latency import markdown, measure

    if args.commands < 1:
        raise UsageError("--commands must be at least 1")
    try:
        report = measure(args.commands, settings=args.set or ())
    except RuntimeError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    summary = report.summary()
    if args.json:
        print_json(summary)
    else:
        print(markdown(summary))
    return EXIT_OK


def _add_ros_latency_parser(suites: Any) -> None:
    b = suites.add_parser(
        "ros-latency", help="command-to-plan and command-to-first-motion latency over DDS"
    )
    b.add_argument("--commands", type=int, default=20, help="commands to time")
    b.add_argument(
        "--set",
        action="append",
        metavar="NODE.PARAM=VALUE",
        help="a bring-up parameter to measure with, e.g. executor.camera_process=true "
        "(repeatable)",
    )
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_ros_latency)


# --- perf ----------------------------------------------------------------------------


def cmd_bench_perf(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import perf

    catalogue, scene = load_world(args)
    sizes = args.sizes or list(perf.SIZES)
    if any(not 1 <= n <= 100_000 for n in sizes):
        raise UsageError("--sizes must be between 1 and 100000 tasks")
    if not 0 <= args.dds_commands <= 200 or not 1 <= args.sim_seconds <= 600:
        raise UsageError("--dds-commands must be 0..200 and --sim-seconds 1..600")
    with Progress(console=stderr_console(), transient=True) as bar:
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


def cmd_bench_planning(args: argparse.Namespace) -> int:
    from robot_planner.bench import general_planner

    if not 1 <= args.repeat <= 20:
        raise UsageError("--repeat must be between 1 and 20")
    result = general_planner.measure(
        args.engines, args.repeat, not args.no_parity, not args.no_synthetic
    )
    _publish(args, "planning", result, general_planner.markdown(result), {})
    return EXIT_OK


def _add_planning_parser(suites: Any) -> None:
    b = suites.add_parser(
        "planning",
        help="domain-independent planner: latency, parity with the baseline, 8x30 synthetic",
    )
    b.add_argument(
        "--engines",
        nargs="+",
        default=["builtin"],
        choices=["builtin", "fast-downward"],
        help="planning engines to measure (default: builtin)",
    )
    b.add_argument("--repeat", type=int, default=3, help="best of N per command (default 3)")
    b.add_argument("--no-parity", action="store_true", help="skip the baseline comparison")
    b.add_argument("--no-synthetic", action="store_true", help="skip the 8 x 30 problem")
    b.add_argument("--out", default="out/bench", help="where to write the report files")
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    b.set_defaults(func=cmd_bench_planning)


def _add_perf_parser(suites: Any) -> None:
    b = suites.add_parser(
        "perf", help="cost of every stage against the targets, and how it grows with plan size"
    )
    add_world_args(b)
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


# --- tasks ---------------------------------------------------------------------------


def cmd_bench_tasks(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import tasks

    load_world(args)  # a bad scene is one line here, not an error in every worker
    try:
        tasks.task_set(str(args.scene))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 1 <= args.workers <= 64:
        raise UsageError("--workers must be 1..64")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    levels = args.levels or list(tasks.LEVELS)
    with Progress(console=stderr_console(), transient=True) as bar:
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


def _add_tasks_parser(suites: Any) -> None:
    b = suites.add_parser(
        "tasks", help="DART-LLM-style L1/L2/L3 commands end to end in PyBullet, vs one-arm"
    )
    add_world_args(b)
    b.add_argument("--levels", nargs="+", choices=["L1", "L2", "L3"], help="default: all")
    b.add_argument("--limit", type=int, help="only the first N commands of each level")
    b.add_argument("--seed", type=seed_type, default=0)
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


# --- faults --------------------------------------------------------------------------


def cmd_bench_faults(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from robot_planner.bench import faults

    catalogue, scene = load_world(args)
    if not 1 <= args.fuzz_examples <= 1_000_000 or not 1 <= args.flood <= 100_000:
        raise UsageError("--fuzz-examples must be 1..1000000 and --flood 1..100000")
    with Progress(console=stderr_console(), transient=True) as bar:
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


def _add_faults_parser(suites: Any) -> None:
    b = suites.add_parser(
        "faults", help="inject LLM, VQA, robot, process and input faults; count survivals"
    )
    add_world_args(b)
    b.add_argument(
        "--fuzz-examples", type=int, default=10_000, help="generated inputs per fuzz target"
    )
    b.add_argument("--flood", type=int, default=1000, help="commands sent in one second")
    b.add_argument("--no-ros", action="store_true", help="skip the flood and the killed node")
    b.add_argument("--out", default="out/bench", help="where JSON, Markdown and PNGs go")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_faults)


def add_parser(sub: Any) -> None:
    """`bench` and its suites, in the order `bench --help` lists them."""
    p = sub.add_parser("bench", help="benchmarks")
    suites = p.add_subparsers(dest="suite", required=True, metavar="SUITE")
    for add in (
        _add_tree_parser,
        _add_episodes_parser,
        _add_clutter_parser,
        _add_planner_parser,
        _add_language_parser,
        _add_voice_parser,
        _add_stack_drop_parser,
        _add_vqa_parser,
        _add_sim_speed_parser,
        _add_ros_latency_parser,
        _add_perf_parser,
        _add_planning_parser,
        _add_tasks_parser,
        _add_faults_parser,
    ):
        add(suites)
