"""`robot-planner bench language`: the offline planner never reads a command to a wrong
goal and plans it. The command table, meaning-keeping paraphrases made from the scene's
vocabulary and a held-out set (other rules, another seed) are scored; the scorer itself
must be able to fail (a wrong expectation is `wrong`, an exception a `crash`).

The held-out commands stand for commands the developers never saw: only their counts
are asserted and shown here, never their text."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from robot_planner.bench import language
from robot_planner.bench.language import (
    HELD_OUT,
    PARAPHRASE,
    TABLE,
    Case,
    Paraphraser,
    bench_language,
    command_table,
    language_cases,
    score,
)
from robot_planner.cli import main
from robot_planner.planning.base import PlanningError
from robot_planner.planning.lexicon import third_person
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.world.scene import Scene, load_scene

ROOT = Path(__file__).resolve().parent.parent
TABLETOP = load_scene("tabletop")
LOGISTICS = load_scene("logistics")
#: the shown paraphrases' seed, and another one for the held-out set
SEED, HELD_OUT_SEED = 3, 1011


@pytest.fixture(scope="module")
def planner() -> OfflinePlanner:
    return OfflinePlanner(TABLETOP.domain.catalogue, TABLETOP)


@pytest.fixture(scope="module")
def shown(planner) -> dict[str, list[dict]]:
    """The table and one paraphrase per entry, scored once for the tests below."""
    cases = language_cases(TABLETOP, command_table(TABLETOP), SEED, paraphrases=1, held_out=0)
    state = TABLETOP.initial_facts()
    rows = [score(planner, state, case) for case in cases]
    return {s: [r for r in rows if r["set"] == s] for s in (TABLE, PARAPHRASE)}


def _wrong(rows: list[dict]) -> list[tuple[str, list | None, list | None]]:
    return [
        (r["command"], r["expected"], r.get("got"))
        for r in rows
        if r["outcome"] in ("wrong", "crash")
    ]


def test_the_command_table_has_no_wrong_goal(shown):
    rows = shown[TABLE]
    assert len(rows) == len(command_table(TABLETOP))
    assert _wrong(rows) == []
    # The table's refusals are the ones it asks for.
    assert all(r["expected"] is None for r in rows if r["outcome"] == "refused")


def test_paraphrases_have_no_wrong_goal_and_90_percent_right(shown):
    rows = shown[PARAPHRASE]
    with_goal = sum(1 for _, _, goal in command_table(TABLETOP) if goal is not None)
    assert len(rows) == with_goal  # one per entry with a goal
    assert _wrong(rows) == []
    right = sum(r["outcome"] == "right" for r in rows)
    assert right / len(rows) >= 0.9, Counter(r["outcome"] for r in rows)


def test_the_held_out_set_has_no_wrong_goal(planner, shown):
    cases = [
        c
        for c in language_cases(TABLETOP, command_table(TABLETOP), HELD_OUT_SEED, 0, held_out=1)
        if c.set == HELD_OUT
    ]
    assert len(cases) > 50
    paraphrased = {r["command"] for r in shown[PARAPHRASE]} | {r["command"] for r in shown[TABLE]}
    assert len(paraphrased & {c.command for c in cases}) == 0
    state = TABLETOP.initial_facts()
    outcomes = Counter(score(planner, state, c)["outcome"] for c in cases)
    # Counts only: the held-out commands are never shown.
    assert outcomes["wrong"] == 0 and outcomes["crash"] == 0, dict(outcomes)


def test_a_wrong_expectation_is_counted_wrong(planner):
    table = [
        ("basic", "put the red block in the right bin", {"in(red_block,left_bin)"}),
        ("must refuse", "put the red block in the right bin", None),
        ("must refuse", "fly the red block to the moon", None),
        ("basic", "put the red block in the left bin", {"in(red_block,left_bin)"}),
    ]
    report = bench_language(planner, TABLETOP, table, seed=0, paraphrases=0)
    outcomes = [r["outcome"] for r in report["rows"]]
    assert outcomes == ["wrong", "wrong", "refused", "right"]
    assert report["totals"]["wrong"] == 2 and not report["passed"]
    assert report["totals"]["handled_right_rate"] == 0.5  # right + the expected refusal
    assert report["wrong"][0] == {
        "set": TABLE,
        "category": "basic",
        "command": "put the red block in the right bin",
        "expected": ["in(red_block,left_bin)"],
        "got": ["in(red_block,right_bin)"],
    }
    assert report["wrong"][1]["expected"] is None
    assert "Wrong goals (planned, exit 0, with other goal facts): 2" in language.markdown(report)


class _Raising:
    """A planner that fails in a given way."""

    name = "raising"

    def __init__(self, error: Exception):
        self.error = error

    def plan(self, request):
        raise self.error


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (PlanningError("unknown action 'fly'"), "refused"),
        (PlanningError("two\nlines"), "crash"),
        (PlanningError("  "), "crash"),
        (KeyError("red_block"), "crash"),
    ],
)
def test_only_a_one_line_refusal_is_a_refusal(error, outcome):
    case = Case(TABLE, "basic", "put the red block in the right bin", None, "x")
    row = score(_Raising(error), TABLETOP.initial_facts(), case)
    assert row["outcome"] == outcome


# --- the paraphrases keep the meaning -------------------------------------------------


@pytest.mark.parametrize("scene", [TABLETOP, LOGISTICS], ids=lambda s: s.name)
def test_paraphrase_edits_keep_names_and_verb_classes(scene: Scene):
    maker = Paraphraser(scene)
    vocab = maker.vocab
    classes = {verb: kind for kind, verbs in maker.verbs.items() for verb in verbs}
    cases = language_cases(scene, command_table(scene), SEED, paraphrases=3)
    made = [c for c in cases if c.set == PARAPHRASE]
    assert len(made) >= 2 * len(command_table(scene))
    kinds = Counter(edit.split(":")[0] for c in made for edit in c.edits)
    assert {"verb", "place", "noun", "before", "after"} <= set(kinds), kinds
    for case in made:  # the held-out set uses the same edits; its text is never shown
        assert maker.mentions(case.command) == maker.mentions(case.source)
        for edit in case.edits:
            kind, change = edit.split(": ", 1)
            old, _, new = change.partition(" -> ")
            if kind in ("place", "robot"):
                names = {**vocab.phrases, **vocab.robots}
                assert names[old] == names[new], edit
            elif kind == "verb":
                base = {v: v for v in classes} | {third_person(v): v for v in classes}
                assert classes[base[old]] == classes[base[new]], edit


def test_paraphrases_use_the_scenes_own_words():
    """Logistics paraphrases say parcels and stations, never a tabletop word."""
    tabletop_only = {"block", "cube", "brick", "blocks", "cubes", "bricks", "tower", "basket"}
    hidden = 0
    for case in language_cases(LOGISTICS, command_table(LOGISTICS), SEED, paraphrases=2):
        words = set(re.findall(r"[a-z]+", case.command.lower()))
        if case.set == HELD_OUT:
            hidden += bool(words & tabletop_only)
        else:
            assert not words & tabletop_only, case.command
    assert hidden == 0


def test_cases_are_repeatable_and_the_seed_matters():
    table = command_table(TABLETOP)
    first = language_cases(TABLETOP, table, 5, paraphrases=2)
    same = first == language_cases(TABLETOP, table, 5, paraphrases=2)
    assert same  # not `==` in the assert: pytest would print the held-out commands
    other = language_cases(TABLETOP, table, 6, paraphrases=2)
    shown = [c.command for c in first if c.set == PARAPHRASE]
    assert shown != [c.command for c in other if c.set == PARAPHRASE]
    held = {c.command for c in first if c.set == HELD_OUT}
    assert len(held) > 0
    assert len(held & {c.command for c in first if c.set != HELD_OUT}) == 0


def test_no_table_for_an_unknown_scene():
    scene = TABLETOP.model_copy(update={"name": "kitchen"})
    with pytest.raises(ValueError, match="no command table for scene 'kitchen'"):
        command_table(scene)


# --- CLI --------------------------------------------------------------------------------


def test_cli_json_and_exit_codes(tmp_path, capsys, monkeypatch):
    table = [
        ("basic", "put the red block in the right bin", {"in(red_block,right_bin)"}),
        ("tower", "put red on top and green at the bottom of the tower", None),
    ]
    monkeypatch.setattr(language, "command_table", lambda scene: table)
    out = tmp_path / "bench"
    argv = ["bench", "language", "--paraphrases", "2", "--seed", "4", "--json"]
    assert main([*argv, "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sets"][TABLE]["n"] == 2 and report["sets"][PARAPHRASE]["n"] == 2
    assert report["sets"][HELD_OUT]["n"] == 2
    assert report["totals"]["wrong"] == 0 and report["passed"] is True
    assert set(report["by_category"]) == {"basic", "tower"}
    assert {p.name for p in out.iterdir()} == {"language.json", "language.md"}
    assert json.loads((out / "language.json").read_text())["suite"] == "language"

    wrong = [("basic", "put the red block in the right bin", {"in(red_block,left_bin)"})]
    monkeypatch.setattr(language, "command_table", lambda scene: wrong)
    assert main(["bench", "language", "--paraphrases", "0", "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "**wrong goals: 1**" in text
    assert "`put the red block in the right bin`: expected ['in(red_block,left_bin)'], got" in text


def test_cli_logistics_table(tmp_path, capsys):
    argv = ["bench", "language", "--scene", "logistics", "--paraphrases", "0", "--json"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scene"] == "logistics"
    assert report["sets"][TABLE]["n"] == len(command_table(LOGISTICS))
    assert report["totals"]["wrong"] == 0 and report["totals"]["crash"] == 0


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--paraphrases", "-1"], "--paraphrases must be 0..50"),
        (["--paraphrases", "51"], "--paraphrases must be 0..50"),
        (["--scene", "moonbase"], "unknown scene 'moonbase'"),
        (["--scene", "KITCHEN"], "no command table for scene 'kitchen'"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, fragment, tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("bad input must be refused before any scoring")

    monkeypatch.setattr(language, "bench_language", refuse)
    kitchen = tmp_path / "kitchen.yaml"  # a scene with no command table
    text = (ROOT / "sim" / "scenes" / "tabletop.yaml").read_text()
    kitchen.write_text(text.replace("name: tabletop", "name: kitchen", 1))
    argv = [str(kitchen) if a == "KITCHEN" else a for a in argv]
    out = tmp_path / "out"
    assert main(["bench", "language", *argv, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and fragment in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert captured.out == "" and not out.exists()
