"""Property-based fuzzing of everything that reads untrusted input (hypothesis).

Targets: the offline command grammar and planner, the plan validator (JSON text, bytes,
structures), the YAML loaders (scene, catalogue, planner, monitor, hardware bindings),
and the message handlers (commands, status events, misalignments, facts, audio). The
property is the same everywhere: a result or the module's own one-line error, never
another exception (a crash in a node) and never a multi-line message.

Used by the tests (`test/test_fuzz.py`, 1,000 inputs per target) and by
``robot-planner bench faults`` (10,000 per target by default). Needs `hypothesis`
(a development dependency; ``make`` installs it).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_planner.adapters.bindings import Bindings, load_bindings
from robot_planner.monitor.config import MonitorConfig
from robot_planner.monitor.detector import Misalignment
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError, PlanRequest
from robot_planner.planning.config import PlannerConfig
from robot_planner.planning.lexicon import SEQUENCE_WORDS, Lexicon
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.service.commands import CommandError, parse_command
from robot_planner.service.events import EventError, parse_event
from robot_planner.speech.recognizer import SpeechError, check_pcm
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.domain import load_domain
from robot_planner.world.facts import FactError
from robot_planner.world.loading import ConfigError, load_yaml_model
from robot_planner.world.scene import Scene


def one_line(message: str) -> None:
    """A readable error: non-empty, one line, no traceback."""
    assert message.strip(), "empty error message"
    assert "\n" not in message.strip(), message
    assert "Traceback" not in message, message


# --- strategies -------------------------------------------------------------------------

_LEXICON = Lexicon.of(load_domain("tabletop"))
WORDS = [
    *_LEXICON.verbs,
    *_LEXICON.fillers,
    *SEQUENCE_WORDS,
    "the",
    "a",
    "and",
    "then",
    "it",
    "them",
    "on",
    "in",
    "into",
    "to",
    "with",
    "while",
    "red",
    "green",
    "blue",
    "yellow",
    "purple",
    "block",
    "blocks",
    "cube",
    "bin",
    "box",
    "left",
    "right",
    "center",
    "zone",
    "side",
    "middle",
    "arm",
    "robot",
    "tower",
    "stack",
    "top",
    "bottom",
    "all",
    "every",
    "both",
    "once",
    "is",
    "are",
    "first",
    "after",
    "of",
    ",",
    ".",
    ";",
    "!",
    "?",
    "'",
    '"',
    "-",
    "rm -rf /",
    "$(reboot)",
    "`id`",
    "{",
    "}",
]
commands = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join),
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
SKILLS = ["pick", "place", "move_home", "open_gripper", "close_gripper", "wave", "", "rm"]
ROBOTS = ["left_arm", "right_arm", "third_arm", "", "left_arm; shutdown"]
OBJECTS = [
    "red_block",
    "green_block",
    "blue_block",
    "yellow_block",
    "left_bin",
    "right_bin",
    "center_zone",
    "moon",
    "",
    "red_block)",
]
ARG_KEYS = ["object", "target", "robot", "speed", "", "__class__"]
task_ids = st.sampled_from(["t1", "t2", "t3", "t4", "t5", "T1", "", "t1 ", "1t", "x" * 70])
tasks = st.fixed_dictionaries(
    {
        "id": task_ids,
        "skill": st.sampled_from(SKILLS),
        "robot": st.sampled_from(ROBOTS),
        "args": st.dictionaries(
            st.sampled_from(ARG_KEYS), st.sampled_from(OBJECTS) | json_values, max_size=3
        ),
        "depends_on": st.lists(task_ids, max_size=3),
    },
    optional={
        "constraints": st.lists(
            st.fixed_dictionaries(
                {
                    "phase": st.sampled_from(["before", "during", "after", "never"]),
                    "fact": st.sampled_from(
                        ["holding(left_arm,red_block)", "on(a,b)", "in(red_block)", "x"]
                    ),
                },
                optional={"expected": json_values, "question": st.text(max_size=30)},
            ),
            max_size=2,
        ),
        "extra": json_values,
    },
)
facts = st.sampled_from(
    [
        "on(red_block,green_block)",
        "in(blue_block,left_bin)",
        "at(red_block,center_zone)",
        "holding(left_arm,red_block)",
        "on(red_block,red_block)",
        "on(red_block)",
        "",
        "x(y,z)",
        "in(moon,left_bin)",
        "clear(green_block",
    ]
) | st.text(max_size=30)
plans = st.fixed_dictionaries(
    {"tasks": st.lists(tasks, max_size=8)},
    optional={"command": st.text(max_size=40) | json_values, "goal": st.lists(facts, max_size=4)},
)

MODELS = [
    (Scene, "scene"),
    (Catalogue, "skill catalogue"),
    (PlannerConfig, "planner config"),
    (MonitorConfig, "monitor config"),
]
yaml_texts = st.one_of(
    json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.text(max_size=300),
    st.sampled_from(
        [
            "a: &x [*x]",
            "!!python/object/apply:os.system ['id']",
            "{",
            "- - -",
            "a: b: c",
            "robots: {left_arm: {reach: [left_side]}}",
            "\x00",
            "x: 1e999",
            "? [a]\n: b",
        ]
    ),
)

messages = st.one_of(
    st.text(max_size=300),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=70) | json_values,
            "text": commands | json_values,
            "source": json_values,
        },
    ).map(json.dumps),
)


# --- the properties -----------------------------------------------------------------------


def _planner(catalogue: Catalogue, scene: Scene) -> Callable[[str], None]:
    planner = OfflinePlanner(catalogue, scene)
    state = scene.initial_facts()

    def check(text: str) -> None:
        try:
            result = planner.plan(PlanRequest(text, state))
        except PlanningError as exc:
            one_line(str(exc))
            return
        # Whatever it plans is a valid plan of catalogue skills.
        assert validate_plan(result.plan, catalogue, scene).ok

    return check


def _validator(catalogue: Catalogue, scene: Scene) -> Callable[[Any], None]:
    def check(source: Any) -> None:
        report = validate_plan(source, catalogue, scene)
        if not report.ok:
            assert report.errors
            for error in report.errors:
                one_line(error)

    return check


def _yaml(catalogue: Catalogue, scene: Scene) -> Callable[[tuple[str, int]], None]:
    folder = Path(tempfile.mkdtemp(prefix="robot_planner_fuzz_"))
    path = folder / "input.yaml"

    def check(case: tuple[str, int]) -> None:
        text, which = case
        try:
            path.write_text(text, encoding="utf-8")
        except UnicodeEncodeError:
            return  # lone surrogates cannot even be written to a file: not an input
        try:
            if which == len(MODELS):
                assert isinstance(load_bindings(path), Bindings)
            else:
                model, what = MODELS[which]
                assert isinstance(load_yaml_model(path, model, what), model)
        except ConfigError as exc:
            one_line(str(exc))

    return check


def _commands(catalogue: Catalogue, scene: Scene) -> Callable[[str], None]:
    def check(data: str) -> None:
        try:
            command = parse_command(data)
        except CommandError as exc:
            one_line(str(exc))
            return
        assert command.text.strip() and command.id

    return check


def _events(catalogue: Catalogue, scene: Scene) -> Callable[[str], None]:
    def check(data: str) -> None:
        try:
            parse_event(data)
        except EventError as exc:
            one_line(str(exc))

    return check


def _misalignments(catalogue: Catalogue, scene: Scene) -> Callable[[tuple[Any, Any]], None]:
    """What the executor reads off /robot_planner/misalignment and /perception."""

    def check(case: tuple[Any, Any]) -> None:
        data, facts_list = case
        # ValueError, KeyError, TypeError are the documented errors: the node logs one
        # line and goes on. Anything else escapes and fails the property.
        with contextlib.suppress(ValueError, KeyError, TypeError):
            Misalignment.from_dict(data)
        try:
            scene.parse_facts(facts_list)
        except (FactError, TypeError, ValueError) as exc:
            one_line(str(exc) or type(exc).__name__)

    return check


def _audio(catalogue: Catalogue, scene: Scene) -> Callable[[tuple[Any, Any]], None]:
    def check(case: tuple[Any, Any]) -> None:
        pcm, rate = case
        try:
            seconds = check_pcm(pcm, rate)
        except SpeechError as exc:
            one_line(str(exc))
            return
        assert seconds > 0

    return check


status_events = st.one_of(
    messages,
    st.fixed_dictionaries(
        {
            "command_id": st.text(max_size=70),
            "state": st.sampled_from(["done", "x", ""]),
            "time": json_values,
            "source": json_values,
        },
        optional={"details": json_values},
    ).map(json.dumps),
)
misalignment_cases = st.tuples(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "task": json_values,
                "fact": facts | json_values,
                "phase": json_values,
                "expected": json_values,
                "answers": json_values | st.lists(st.booleans()),
            },
            optional={"time": json_values, "confidence": json_values, "robot": json_values},
        ),
    ),
    st.lists(facts | json_values, max_size=5) | json_values,
)

#: name -> (what it stands for, strategy, property factory)
TARGETS: dict[str, tuple[str, Any, Callable[[Catalogue, Scene], Callable[[Any], None]]]] = {
    "grammar": ("offline command grammar and planner", commands, _planner),
    "validator": (
        "plan validator (JSON text, bytes, structures)",
        st.one_of(
            plans,
            plans.map(lambda p: json.dumps(p, default=str)),
            json_values,
            st.binary(max_size=200),
            st.text(max_size=200),
        ),
        _validator,
    ),
    "yaml": (
        "YAML loaders (scene, catalogue, planner, monitor, bindings)",
        st.tuples(yaml_texts, st.sampled_from(range(len(MODELS) + 1))),
        _yaml,
    ),
    "commands": ("command messages (/robot_planner/command)", messages, _commands),
    "events": ("status event messages (/robot_planner/status)", status_events, _events),
    "misalignments": (
        "misalignment and perceived-fact messages",
        misalignment_cases,
        _misalignments,
    ),
    "audio": (
        "audio messages (/robot_planner/audio)",
        st.tuples(st.binary(max_size=4000) | json_values, json_values | st.integers()),
        _audio,
    ),
}


def run_target(name: str, examples: int, catalogue: Catalogue, scene: Scene) -> dict[str, Any]:
    """Feed `examples` generated inputs to one target; count them and what failed.

    Returns ``{"target", "what", "inputs", "seconds", "failure"}``; ``failure`` is None
    or the (shrunk) failing input and the error, as one line each.
    """
    what, strategy, factory = TARGETS[name]
    check = factory(catalogue, scene)
    count = 0

    def counted(value: Any) -> None:
        nonlocal count
        count += 1
        check(value)

    test = settings(
        max_examples=examples,
        deadline=None,  # no wall-clock limits on a shared machine; hangs hit timeouts
        suppress_health_check=list(HealthCheck),
        database=None,  # every run explores afresh
        derandomize=False,
    )(given(strategy)(counted))
    started = time.perf_counter()
    failure = None
    try:
        test()
    except Exception as exc:  # the property failed: hypothesis re-raises, shrunk
        failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
    return {
        "target": name,
        "what": what,
        "inputs": count,
        "seconds": round(time.perf_counter() - started, 2),
        "failure": failure,
    }
