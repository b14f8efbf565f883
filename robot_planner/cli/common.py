"""What every `robot-planner` command shares: exit codes, the two user-facing errors,
reading the world/plan/state/planner from the arguments, and the option groups that
several commands add the same way (so `--scene` reads the same everywhere).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robot_planner.plan.validation import MAX_PLAN_BYTES, ValidationReport, validate_plan
from robot_planner.planning.base import Planner
from robot_planner.untrusted import shown
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import FactError
from robot_planner.world.scene import Scene, load_scene

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class PlanRejected(Exception):
    """An invalid plan: each line printed on stderr, exit code 2."""

    def __init__(self, lines: list[str]):
        super().__init__(lines[0] if lines else "invalid plan")
        self.lines = lines


# --- reading the arguments -----------------------------------------------------------


#: Seeds feed numpy's generator (0 .. 2**32 - 1); the executor node takes the same range
#: as here, with room for a bench's consecutive seeds above it.
MAX_SEED = 2**31 - 1


def seed_type(text: str) -> int:
    """argparse type for `--seed`: a whole number in 0..MAX_SEED, else one error line
    (a negative seed reached numpy and ended in a traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: '{shown(text)}'") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be 0..{MAX_SEED}, not {value}")
    return value


def add_speech_model_args(p: argparse.ArgumentParser) -> None:
    """The recogniser's adapted acoustic model, for `transcribe` and `bench voice`."""
    p.add_argument(
        "--acoustic-model",
        metavar="DIR",
        help="pocketsphinx model directory to use instead of the bundled en-us one (a "
        "speaker-adapted copy: docs/research/voice_adaptation)",
    )
    p.add_argument(
        "--mllr", metavar="FILE", help="MLLR transform of the model adapted to a speaker"
    )


def utf8_text(what: str) -> Callable[[str], str]:
    """An argparse `type` for free text (a command, an id, a fact, a parameter value).

    Python hands over argv bytes that are not UTF-8 as lone surrogates ("\\udcff" for
    0xff), which fail later wherever the text is encoded (rclpy, pydantic, the planner).
    This rejects them while parsing: `UsageError` is not one of the exceptions argparse
    turns into its own usage message, so it reaches `main()` and becomes one line, exit 2.
    File paths are not checked: a path that is not UTF-8 is still a valid path.
    """

    def check(value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(value[exc.start])
            where = f"byte 0x{code - 0xDC00:02x}" if _escaped_byte(code) else f"U+{code:04X}"
            raise UsageError(
                f"{what} is not UTF-8 text: '{shown(_as_bytes_escaped(value))}' "
                f"({where} at character {exc.start}); is the terminal's locale UTF-8?"
            ) from None
        return value

    check.__name__ = what  # argparse names the type in its own messages
    return check


def _escaped_byte(code: int) -> bool:
    return 0xDC80 <= code <= 0xDCFF  # how surrogateescape carries bytes 0x80..0xff


def _as_bytes_escaped(value: str) -> str:
    """`value` with undecodable bytes shown as \\xNN and stray surrogates as \\uNNNN."""
    return "".join(
        f"\\x{ord(c) - 0xDC00:02x}"
        if _escaped_byte(ord(c))
        else f"\\u{ord(c):04x}"
        if 0xD800 <= ord(c) <= 0xDFFF
        else c
        for c in value
    )


def read_input(path: str, what: str) -> bytes:
    """At most MAX_PLAN_BYTES + 1 bytes of `path` (``-`` is standard input)."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_PLAN_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    return data


def load_world(args: argparse.Namespace) -> tuple[Catalogue, Scene]:
    """The scene named by --scene (in the domain named by --domain, if given) and its
    domain's skill catalogue."""
    scene = load_scene(args.scene, domain=getattr(args, "domain", None))
    return scene.domain.catalogue, scene


def load_state(args: argparse.Namespace, scene: Scene) -> frozenset | None:
    """Facts about `scene` from ``--state FILE`` (a JSON list of fact strings), or None."""
    if not getattr(args, "state", None):
        return None
    raw = read_input(args.state, "state file")
    try:
        data = json.loads(raw)
        if not isinstance(data, list):
            raise UsageError(f"state file {args.state}: expected a JSON list of facts")
        return scene.parse_facts(data)
    except (ValueError, FactError) as exc:
        raise UsageError(f"state file {args.state}: {exc}") from None


def load_valid_plan(
    args: argparse.Namespace, catalogue: Catalogue, scene: Scene
) -> ValidationReport:
    """The plan file given as the `plan` argument, validated; PlanRejected if invalid."""
    raw = read_input(args.plan, "plan")
    if getattr(args, "dart", False):
        from robot_planner.plan.dart import from_dart

        report = from_dart(raw, catalogue, scene, load_state(args, scene))
    else:
        report = validate_plan(raw, catalogue, scene, load_state(args, scene))
    if not report.ok:
        raise PlanRejected([f"{args.plan}: {line}" for line in report.errors])
    return report


def chosen_planner(args: argparse.Namespace, catalogue: Catalogue, scene: Scene) -> Planner:
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


def monitor_config(args: argparse.Namespace, scene: Any) -> Any:
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


# --- output --------------------------------------------------------------------------


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def stderr_console() -> Console:
    """A rich console on stderr, for progress bars that keep stdout clean."""
    from rich.console import Console

    return Console(stderr=True)


# --- option groups -------------------------------------------------------------------


def add_world_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scene",
        default="tabletop",
        help="scene name (sim/scenes/NAME.yaml) or path (default: tabletop)",
    )
    p.add_argument(
        "--domain",
        default=None,
        help="domain name (config/domains/NAME) or file whose types, predicates and skills "
        "to use (default: the domain the scene names)",
    )


def add_plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", help="plan JSON file, or - for standard input")
    add_world_args(p)
    p.add_argument(
        "--state",
        default=None,
        help="JSON list of facts that hold now (default: the scene's start)",
    )


def add_planner_args(p: argparse.ArgumentParser) -> None:
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


def add_monitor_args(p: argparse.ArgumentParser) -> None:
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


def disturbance_config(args: argparse.Namespace) -> Any:
    """The simulator's disturbances from `run`/`demo`/`bench episodes` options; a bad
    value is a `UsageError` (one line, exit 2)."""
    from robot_planner.sim.disturbances import DisturbanceConfig

    try:
        return DisturbanceConfig(
            drop_prob=args.drop_prob,
            displace_cm=args.displace_cm,
            displace_model=getattr(args, "displace_model", "disc"),
            spill_prob=args.spill_prob,
            delay_prob=args.delay_prob,
            delay_s=args.delay_s,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def add_base_disturbance_args(p: argparse.ArgumentParser) -> None:
    """Disturbances of mobile bases' drives (the logistics cell; no effect without bases)."""
    p.add_argument(
        "--spill-prob",
        type=float,
        default=0.0,
        metavar="P",
        help="probability per drive of a base that what rides on its tray is knocked off "
        "onto the floor midway (default 0)",
    )
    p.add_argument(
        "--delay-prob",
        type=float,
        default=0.0,
        metavar="Q",
        help="probability per drive of a base that it stops midway for --delay-s (default 0)",
    )
    p.add_argument(
        "--delay-s",
        type=float,
        default=8.0,
        metavar="D",
        help="how long a delayed base stands, s (default 8)",
    )
