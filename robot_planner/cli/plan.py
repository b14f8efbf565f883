"""`plan` and `grammar`: from command text to a validated plan, and the grammar the
offline planner (and the voice node) accept.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from robot_planner.cli.common import (
    EXIT_OK,
    UsageError,
    add_planner_args,
    add_world_args,
    chosen_planner,
    load_state,
    load_world,
    print_json,
    utf8_text,
)
from robot_planner.untrusted import quoted

# --- plan ----------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    from robot_planner.plan.dart import to_dart
    from robot_planner.planning.base import PlanningError, PlanRequest
    from robot_planner.planning.readback import readback

    catalogue, scene = load_world(args)
    planner = chosen_planner(args, catalogue, scene)
    state = load_state(args, scene)
    request = PlanRequest(args.command_text, scene.initial_facts() if state is None else state)
    try:
        result = planner.plan(request)
    except PlanningError as exc:
        raise UsageError(f"cannot plan '{quoted(args.command_text.strip())}': {exc}") from None
    said = readback(result.plan, scene, catalogue)
    if args.dart:
        print_json(to_dart(result.plan, scene))
    elif args.json:
        print_json({**result.to_dict(), "readback": said})
    else:
        print(result.plan.to_json(indent=2))
    print(
        f"{result.backend}: {len(result.plan.tasks)} task(s) in "
        f"{result.latency_s * 1000:.1f} ms, {result.attempts} attempt(s)",
        file=sys.stderr,
    )
    # Not in the plain plan JSON: a plan file has no room for it (unknown keys are refused).
    print(f"readback: {said}", file=sys.stderr)
    for guess in result.guesses:  # what `confirm: ambiguous` would ask about
        print(f"guess: {guess}", file=sys.stderr)
    return EXIT_OK


def add_plan_parser(sub: Any) -> None:
    p = sub.add_parser("plan", help="plan a command; print the validated plan as JSON")
    add_world_args(p)
    add_planner_args(p)
    p.add_argument(
        "--command",
        dest="command_text",
        required=True,
        metavar="TEXT",
        type=utf8_text("--command"),
    )
    p.add_argument(
        "--state",
        default=None,
        help="JSON list of facts that hold now (default: the scene's start)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print plan plus backend, attempts, latency, token usage and readback",
    )
    p.add_argument("--dart", action="store_true", help="print the plan in DART-LLM's format")
    p.set_defaults(func=cmd_plan)


# --- grammar -------------------------------------------------------------------------


def cmd_grammar(args: argparse.Namespace) -> int:
    from robot_planner.planning.jsgf import jsgf_grammar
    from robot_planner.planning.lexicon import Lexicon, grammar_text

    _, scene = load_world(args)
    if args.format == "jsgf":
        print(jsgf_grammar(scene), end="")
    else:
        print(grammar_text(Lexicon.of(scene.domain)), end="")
    return EXIT_OK


def add_grammar_parser(sub: Any) -> None:
    p = sub.add_parser("grammar", help="print the offline command grammar (JSGF or lark)")
    add_world_args(p)
    p.add_argument("--format", choices=["jsgf", "lark"], default="jsgf")
    p.set_defaults(func=cmd_grammar)
