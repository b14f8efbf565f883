"""`robot-planner`: the command-line entry point.

Exit codes: 0 success; 1 the job ran but did not succeed (a plan failed); 2 bad input
(a missing or malformed file, an invalid plan, an unknown scene), always with one
readable line per problem on stderr and never a traceback.

Each command lives in its own module with its parser next to its handler; this module
only assembles the parser (in the order `--help` lists the commands) and maps errors to
exit codes. Handlers import their heavy dependencies (PyBullet, torch, rclpy) when they
run, so `--help` and `plan` stay fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from robot_planner import __version__, ros_cli
from robot_planner.cli import bench, domain, plan, run, speech, validate
from robot_planner.cli.common import EXIT_BAD_INPUT, PlanRejected, UsageError
from robot_planner.planning.base import PlanningError
from robot_planner.resources import ResourceError
from robot_planner.ros_cli import RosCliError
from robot_planner.world.loading import ConfigError

__all__ = ["build_parser", "main"]

#: Each adds one command (or a group) to the subparsers, in `--help` order.
COMMANDS = (
    validate.add_validate_parser,
    plan.add_plan_parser,
    plan.add_grammar_parser,
    speech.add_transcribe_parser,
    speech.add_voice_parser,
    validate.add_render_parser,
    validate.add_schema_parser,
    validate.add_execute_parser,
    bench.add_parser,
    run.add_run_parser,
    run.add_demo_parser,
    domain.add_domain_parser,
    domain.add_pddl_parser,
    ros_cli.add_parsers,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robot-planner",
        description="Plan, validate, render and execute multi-robot task plans.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:  # from a `type=` check (argparse's own errors exit 2 here)
        print(f"robot-planner: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
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
