"""`validate`, `render`, `schema`, `execute`: the commands that work on a plan file (or,
for `schema`, describe one) without planning or simulating anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robot_planner.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_plan_args,
    add_world_args,
    load_valid_plan,
    load_world,
    print_json,
)

# --- validate ------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    catalogue, scene = load_world(args)
    report = load_valid_plan(args, catalogue, scene)
    print(f"{args.plan}: {report.summary()}")
    return EXIT_OK


def add_validate_parser(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a plan; exit 0 if valid, 2 with errors if not")
    add_plan_args(p)
    p.add_argument("--dart", action="store_true", help="the plan is in DART-LLM's format")
    p.set_defaults(func=cmd_validate)


# --- render --------------------------------------------------------------------------


def cmd_render(args: argparse.Namespace) -> int:
    from robot_planner.adapters.fake import FakeRobotAdapter
    from robot_planner.bt.compiler import compile_plan
    from robot_planner.bt.render import ascii_tree, dot_source, render_png, unicode_tree

    catalogue, scene = load_world(args)
    plan = load_valid_plan(args, catalogue, scene).plan
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


def add_render_parser(sub: Any) -> None:
    p = sub.add_parser("render", help="print a plan's behaviour tree; draw it as PNG/DOT")
    add_plan_args(p)
    p.add_argument("--png", help="write a PNG drawing of the tree")
    p.add_argument("--dot", help="write Graphviz DOT source of the tree")
    p.add_argument("--unicode", action="store_true", help="unicode instead of ASCII text")
    p.set_defaults(func=cmd_render)


# --- schema --------------------------------------------------------------------------


def cmd_schema(args: argparse.Namespace) -> int:
    if args.status:
        from robot_planner.service.events import StatusEvent

        print_json(StatusEvent.model_json_schema())
        return EXIT_OK
    from robot_planner.plan.schema import plan_json_schema

    catalogue, scene = load_world(args)
    print_json(plan_json_schema(catalogue, scene))
    return EXIT_OK


def add_schema_parser(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the plan JSON Schema for a scene")
    add_world_args(p)
    p.add_argument(
        "--status", action="store_true", help="the status event schema (/robot_planner/status)"
    )
    p.set_defaults(func=cmd_schema)


# --- execute -------------------------------------------------------------------------


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

    catalogue, scene = load_world(args)
    plan = load_valid_plan(args, catalogue, scene).plan
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
        print_json(result.to_dict())
    else:
        print(
            f"{result.outcome.value}: {len(plan.tasks)} task(s), {result.sim_time_s:.2f} s "
            f"simulated, goal {'holds' if result.goal_satisfied else 'does NOT hold'}"
            + (f" — {result.reason}" if result.reason else "")
        )
    return (
        EXIT_OK if result.outcome is Outcome.SUCCEEDED and result.goal_satisfied else EXIT_FAILED
    )


def add_execute_parser(sub: Any) -> None:
    p = sub.add_parser("execute", help="dry-run a plan on scripted (fake) robots")
    add_plan_args(p)
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
