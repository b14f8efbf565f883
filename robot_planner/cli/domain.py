"""`domain`: load and check a domain (and optionally a scene in it), and say what it is.

The one place a roboticist sees their domain the way robot_planner reads it: types and
their parents, robot kinds and their skills, the fact vocabulary with how each fact is
observed, and -- with ``--scene`` -- what the configured perceiver cannot observe in
that scene, before anything runs. A bad file is one line and exit code 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from robot_planner.cli.common import EXIT_OK, print_json


def describe(args: argparse.Namespace) -> dict[str, Any]:
    """The domain (and scene) as data: what `domain --json` prints."""
    from robot_planner.resources import DEFAULT_DOMAIN
    from robot_planner.world.domain import load_domain
    from robot_planner.world.scene import load_scene

    scene = load_scene(args.scene, domain=args.domain) if args.scene else None
    domain = scene.domain if scene is not None else load_domain(args.domain or DEFAULT_DOMAIN)
    out: dict[str, Any] = {
        "domain": domain.name,
        "file": domain.source,
        "types": {
            n: {"parent": t.parent, "nouns": list(t.nouns)} for n, t in domain.types.items()
        },
        "robot_kinds": {n: list(domain.skills_of(n)) for n in domain.robot_kinds},
        "predicates": {
            n: {"args": list(p.args), "observed": p.observed} for n, p in domain.predicates.items()
        },
        "skills": {
            n: {
                "args": {a: spec.label for a, spec in s.args.items()},
                "offered_by": [k for k in domain.robot_kinds if domain.kind_offers(k, n)],
                "timeout_s": s.timeout_s,
            }
            for n, s in domain.skills.items()
        },
    }
    if scene is not None:
        out["scene"] = _scene_summary(scene, args.vqa)
    return out


def _scene_summary(scene: Any, vqa: str) -> dict[str, Any]:
    from robot_planner.monitor.backends import make_vqa
    from robot_planner.monitor.observability import Observability

    backend = make_vqa(vqa, scene=scene) if vqa != "none" else None
    observability = Observability.of(backend, scene)
    return {
        "name": scene.name,
        "robots": {n: {"kind": r.kind, "model": r.model} for n, r in scene.robots.items()},
        "objects": {n: o.type for n, o in scene.objects.items()},
        "places": {n: p.type for n, p in scene.places.items()},
        "initial_facts": sorted(str(f) for f in scene.initial_facts()),
        "perceiver": observability.perceiver if backend is not None else None,
        "not_observable": dict(observability.blind),
    }


def cmd_domain(args: argparse.Namespace) -> int:
    data = describe(args)
    if args.json:
        print_json(data)
        return EXIT_OK
    types = ", ".join(
        f"{n} < {t['parent']}" if t["parent"] else n for n, t in data["types"].items()
    )
    print(f"domain {data['domain']} ({data['file']})")
    print(f"  types: {types}")
    for kind, skills in data["robot_kinds"].items():
        print(f"  robot kind {kind}: {', '.join(skills)}")
    for name, spec in data["predicates"].items():
        print(f"  fact {name}({', '.join(spec['args'])}): {spec['observed']}")
    for name, spec in data["skills"].items():
        args_text = ", ".join(f"{a}: {t}" for a, t in spec["args"].items())
        print(
            f"  skill {name}({args_text}) by {', '.join(spec['offered_by'])}, "
            f"timeout {spec['timeout_s']:g} s"
        )
    scene = data.get("scene")
    if scene is not None:
        print(
            f"scene {scene['name']}: {len(scene['robots'])} robot(s), "
            f"{len(scene['objects'])} object(s), {len(scene['places'])} place(s), "
            f"{len(scene['initial_facts'])} initial fact(s)"
        )
        for robot, spec in scene["robots"].items():
            print(f"  robot {robot}: {spec['kind']}, model {spec['model']}")
        if scene["perceiver"] is None:
            print("  monitor: none asked (--vqa none)")
        elif not scene["not_observable"]:
            print(f"  monitor ({scene['perceiver']}): can observe every object and place")
        for name, why in sorted(scene["not_observable"].items()):
            print(
                f"  monitor ({scene['perceiver']}): cannot observe {name} ({why}); "
                "facts about it will not be checked"
            )
    return EXIT_OK


def add_domain_parser(sub: Any) -> None:
    p = sub.add_parser(
        "domain",
        help="check a domain (and a scene in it); print its types, skills and facts",
    )
    p.add_argument(
        "domain",
        nargs="?",
        default=None,
        help="domain name (config/domains/NAME) or file (default: the scene's, else tabletop)",
    )
    p.add_argument("--scene", default=None, help="also check this scene (name or path)")
    p.add_argument(
        "--vqa",
        default="geometric",
        choices=["geometric", "none"],
        help="perceiver whose blind spots to report for --scene (default: geometric; "
        "the VLM backends report none)",
    )
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=cmd_domain)


# --- pddl ----------------------------------------------------------------------------


def cmd_pddl(args: argparse.Namespace) -> int:
    from pathlib import Path

    from robot_planner.cli.common import UsageError, load_state, load_world
    from robot_planner.planning.language import understand
    from robot_planner.planning.lexicon import UnderstandingError
    from robot_planner.planning.lifted import ModelError
    from robot_planner.planning.pddl import export_pddl
    from robot_planner.world.facts import FactError

    catalogue, scene = load_world(args)
    try:
        if args.command_text:
            goal = understand(args.command_text, scene)
        else:
            goal = [scene.check_fact(scene.domain.parse_fact(g)) for g in args.goal]
    except (UnderstandingError, FactError) as exc:
        raise UsageError(f"goal: {exc}") from None
    from unified_planning.exceptions import UPException

    try:
        domain_text, problem_text = export_pddl(scene, catalogue, load_state(args, scene), goal)
    except (ModelError, UPException) as exc:
        # A UP refusal is our bug, not the user's; still one line, never a traceback.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot express the domain in PDDL: {first}") from None
    if args.out is None:
        print(domain_text)
        print(problem_text)
        return EXIT_OK
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "domain.pddl").write_text(domain_text)
        (out / "problem.pddl").write_text(problem_text)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    print(f"wrote {out / 'domain.pddl'} and {out / 'problem.pddl'}")
    return EXIT_OK


def add_pddl_parser(sub: Any) -> None:
    from robot_planner.cli.common import add_world_args, utf8_text

    p = sub.add_parser(
        "pddl",
        help="export a scene's planning model as PDDL domain + problem (PlanSys2, your planner)",
    )
    add_world_args(p)
    goal = p.add_mutually_exclusive_group()
    goal.add_argument(
        "--command",
        dest="command_text",
        metavar="TEXT",
        type=utf8_text("--command"),
        help="goal from a command",
    )
    goal.add_argument(
        "--goal",
        nargs="+",
        default=[],
        metavar="FACT",
        type=utf8_text("--goal fact"),
        help="goal facts, e.g. in(red_block,left_bin)",
    )
    p.add_argument(
        "--state",
        default=None,
        help="JSON list of facts that hold now (default: the scene's start)",
    )
    p.add_argument(
        "--out", default=None, metavar="DIR", help="write domain.pddl, problem.pddl here"
    )
    p.set_defaults(func=cmd_pddl)
