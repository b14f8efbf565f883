"""`robot-planner bench language`: how often the offline planner reads a command to the
wrong goal and still plans it (exit 0): the worst thing it can do, worse than refusing.

Three sets of commands are scored: the scene's command table (`bench/commands.py` for the
tabletop, `bench/tasks_logistics.py` for the logistics cell), paraphrases of each entry
with a known goal, and a held-out set made by other rules and another seed, standing for
commands the developers never saw. Paraphrases are made from the scene's vocabulary and
the domain's lexicon, never from words written here, so they work for any scene, and
only by changes that cannot change the meaning: a filler before or after the command,
a verb swapped for another of the same lexicon class (put/grasp/tower/send/go, and only
words that belong to one class), a place phrase swapped for another phrase the
vocabulary maps to the same place, an object noun swapped for another noun of its type
that names no other type, upper/lower case and the final punctuation. The held-out set
also swaps robot phrases, changes every occurrence at once and adds fillers at both
ends. A phrase with two meanings ("packing": a station and an arm) or that is also a
command word ("pick") is never changed, and a rewrite whose places, objects and robots
(in order) differ from its original's is dropped.

Each command is planned by the offline planner from the scene's start; the outcome is
``right`` (the goal facts expected), ``refused`` (a `PlanningError` with one readable
line), ``wrong`` (planned, with other goal facts; for an entry that must be refused, any
plan) or ``crash`` (any other exception, or a refusal with no readable line).
"""

from __future__ import annotations

import logging
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from robot_planner.planning.base import Planner, PlanningError, PlanRequest
from robot_planner.planning.lexicon import (
    POSITIONS,
    Vocabulary,
    plural_of,
    third_person,
)
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

#: (category, command, goal facts it means, or None: it must be refused)
Entry = tuple[str, str, set[str] | frozenset[str] | None]

TABLE, PARAPHRASE, HELD_OUT = "table", "paraphrase", "held-out"
SETS = (TABLE, PARAPHRASE, HELD_OUT)
OUTCOMES = ("right", "refused", "wrong", "crash")

# English, the same in every world (the grammar's FILLERS are English too): which of
# the lexicon's fillers read naturally after a command, which do not read before one,
# and which take a comma.
_AFTER = ("please", "now", "right now", "thanks", "thank you", "for me")
_NOT_BEFORE = ("thanks", "thank you", "for me")
_COMMA = ("ok", "okay", "hey", "please", "now", "right now")
_ENDINGS = ("", ".", "!")


def command_table(scene: Scene) -> list[tuple[str, str, set[str] | None]]:
    """The scene's commands with the goal facts they mean (None: must be refused).

    Raises:
        ValueError: the scene has no such table.
    """
    if scene.name == "tabletop":
        from robot_planner.bench.commands import COMMANDS

        return [(c, t, None if g is None else set(g)) for c, t, g in COMMANDS]
    if scene.name == "logistics":
        from robot_planner.bench.tasks_logistics import TASKS

        return [(level, text, set(goal)) for level, text, goal in TASKS]
    raise ValueError(
        f"bench language: no command table for scene '{scene.name}' (known: tabletop, logistics)"
    )


@dataclass(frozen=True)
class Case:
    """One command to score, where it came from and how it was made."""

    set: str
    category: str
    command: str
    expected: frozenset[str] | None
    #: the table command it paraphrases (itself for a table entry)
    source: str
    #: what was changed: "verb: put -> place", "place: left bin -> left basket", ...
    edits: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # place, object, robot, filler, position, fixed (ambiguous: never changed)
    name: str  # the scene name for place/object/robot, else the phrase
    phrase: str


@dataclass
class _Edit:
    start: int
    end: int
    kind: str
    old: str
    choices: list[str]


@dataclass
class Paraphraser:
    """Meaning-keeping rewrites of commands for one scene, from its vocabulary and
    its domain's lexicon (see the module docstring for the rules)."""

    scene: Scene
    vocab: Vocabulary = field(init=False)

    def __post_init__(self) -> None:
        self.vocab = Vocabulary.from_scene(self.scene)
        lexicon = self.vocab.lexicon
        language = self.scene.domain.language
        skill_words = lexicon.skill_words()
        reserved = set(lexicon.reserved)
        # Verb classes of the lexicon; a verb in two classes ("take": put and grasp), or
        # whose first word starts a skill phrase ("move" home) or is a grammar word
        # ("go": "red goes in the bin"), or a name ("pick" station) is never touched.
        classes = {
            "put": language.put_verbs,
            "grasp": language.grasp_verbs,
            "tower": language.tower.verbs if language.tower else (),
            "send": language.send_verbs,
            "go": language.go_verbs,
        }
        membership = Counter(v for verbs in classes.values() for v in set(verbs))
        names = {*self.vocab.phrases, *self.vocab.robots}
        self.verbs: dict[str, list[str]] = {}
        for kind, verbs in classes.items():
            usable = [
                v
                for v in dict.fromkeys(verbs)
                if membership[v] == 1
                and v.split()[0] not in skill_words | reserved
                and not set(v.split()) & names
                and v not in lexicon.tower_nouns
            ]
            if len(usable) > 1:
                self.verbs[kind] = usable
        # Object nouns that name no other type here ("box": a block and a bin).
        domain = self.scene.domain
        kinds = {s.type for s in self.scene.objects.values()}
        other_nouns = {n for s in self.scene.places.values() for n in domain.nouns(s.type)}
        other_nouns |= {n for r in self.scene.robots.values() for n in domain.robot_nouns(r.kind)}
        self.nouns: dict[str, list[str]] = {}
        for kind in kinds:
            others = other_nouns | {n for k in kinds - {kind} for n in domain.nouns(k)}
            mine = [
                n
                for n in domain.nouns(kind)
                if n not in others and n not in reserved and " " not in n
            ]
            if len(mine) > 1:
                self.nouns[kind] = mine
        # Every phrase a span can be, with what it names; a phrase with two meanings, or
        # one that is also a command word, is fixed: kept as it is.
        fixed_words = reserved | skill_words | set(lexicon.fillers) | set(POSITIONS)
        for words in (lexicon.verbs, lexicon.grasp_verbs, lexicon.send_verbs, lexicon.go_verbs):
            fixed_words |= set(words)
        fixed_words |= set(lexicon.tower_verbs) | set(lexicon.tower_nouns)
        meanings: dict[str, set[tuple[str, str]]] = {}
        for phrase, name in self.vocab.phrases.items():
            if "_" in phrase:
                continue
            kind = "object" if name in self.scene.objects else "place"
            meanings.setdefault(phrase, set()).add((kind, name))
        for phrase, name in self.vocab.robots.items():
            meanings.setdefault(phrase, set()).add(("robot", name))
        generic_fillers = [f for f in lexicon.fillers if f not in language.fillers]
        for phrase in lexicon.fillers:
            meanings.setdefault(phrase, set()).add(("filler", phrase))
        for phrase in POSITIONS:
            meanings.setdefault(phrase, set()).add(("position", phrase))
        self._meaning: dict[str, tuple[str, str]] = {}
        for phrase, found in meanings.items():
            kind, name = next(iter(found))
            ambiguous = len(found) > 1 or (
                kind in ("place", "robot", "object") and phrase in fixed_words
            )
            self._meaning[phrase] = ("fixed", phrase) if ambiguous else (kind, name)
        self.aliases: dict[str, list[str]] = {}  # scene name -> phrases to swap in
        for phrase, (kind, name) in self._meaning.items():
            words = phrase.split()
            if kind in ("place", "robot") and len(set(words)) == len(words):
                self.aliases.setdefault(name, []).append(phrase)
        ordered = sorted(self._meaning, key=len, reverse=True)
        self._spans = re.compile(
            r"(?<![a-z0-9_'])(?:"
            + "|".join(r"[\s-]+".join(map(re.escape, p.split())) for p in ordered)
            + r")(?![a-z0-9_'])"
        )
        robot_nouns = set(lexicon.robot_nouns)
        every_verb = (
            *lexicon.verbs,
            *lexicon.grasp_verbs,
            *lexicon.tower_verbs,
            *lexicon.send_verbs,
            *lexicon.go_verbs,
        )
        self._verb_first = re.compile(
            "(?:" + "|".join(_word_regex(v) for v in sorted(set(every_verb), key=len)[::-1]) + ")"
        )
        self.before = [f for f in generic_fillers if f not in _NOT_BEFORE + tuple(robot_nouns)]
        self.after = [f for f in generic_fillers if f in _AFTER]

    # --- reading a command ------------------------------------------------------------

    def spans(self, text: str) -> list[_Span]:
        """The names, fillers and tower positions in `text` (lower case), leftmost and
        longest first."""
        found = []
        for match in self._spans.finditer(text):
            phrase = " ".join(re.split(r"[\s-]+", match.group()))
            kind, name = self._meaning[phrase]
            found.append(_Span(match.start(), match.end(), kind, name, phrase))
        return found

    def mentions(self, text: str) -> list[tuple[str, str]]:
        """What `text` names, in order: a paraphrase must name the same."""
        return [
            (s.kind, s.name)
            for s in self.spans(text.lower())
            if s.kind in ("place", "object", "robot", "fixed", "position")
        ]

    def edits(self, text: str, robots: bool) -> list[_Edit]:
        """Every swap `text` (lower case) allows: places, objects' nouns, verbs and, when
        `robots`, robot phrases."""
        spans = self.spans(text)
        edits: list[_Edit] = []
        for span in spans:
            if span.kind == "place" and not re.match(r"\s+of\b", text[span.end :]):
                choices = [a for a in self.aliases.get(span.name, []) if a != span.phrase]
                edits.append(_Edit(span.start, span.end, "place", span.phrase, choices))
            elif span.kind == "robot" and robots:
                choices = [a for a in self.aliases.get(span.name, []) if a != span.phrase]
                edits.append(_Edit(span.start, span.end, "robot", span.phrase, choices))
            elif span.kind == "object":
                edits += self._object_noun(span)
        free = _free_regions(text, spans)
        for verbs in self.verbs.values():
            for verb in verbs:
                for form in dict.fromkeys((verb, third_person(verb))):
                    third = form != verb
                    for match in re.finditer(_word_regex(form), text):
                        if _inside(match.start(), match.end(), free):
                            choices = [third_person(v) if third else v for v in verbs]
                            choices = [c for c in choices if c != form]
                            edits.append(_Edit(match.start(), match.end(), "verb", form, choices))
        for nouns in self.nouns.values():
            for noun in nouns:
                for form, plural in ((noun, False), (plural_of(noun), True)):
                    for match in re.finditer(_word_regex(form), text):
                        if _inside(match.start(), match.end(), free):
                            choices = [plural_of(n) if plural else n for n in nouns]
                            choices = [c for c in choices if c != form]
                            edits.append(_Edit(match.start(), match.end(), "noun", form, choices))
        return _no_overlaps([e for e in edits if e.choices])

    def _object_noun(self, span: _Span) -> list[_Edit]:
        """The noun of an object phrase ("red block" -> "red cube"), kept only where the
        new phrase names the same object."""
        kind = self.scene.objects[span.name].type
        nouns = self.nouns.get(kind, [])
        *head, last = span.phrase.split()
        if last not in nouns:
            return []
        choices = [
            n
            for n in nouns
            if n != last and self.vocab.phrases.get(" ".join((*head, n))) == span.name
        ]
        start = span.end - len(last)
        return [_Edit(start, span.end, "noun", last, choices)]

    # --- writing paraphrases ----------------------------------------------------------

    def paraphrase(self, command: str, rng: random.Random) -> tuple[str, tuple[str, ...]]:
        """One to three rewrites of `command` (the shown paraphrases' rules)."""
        text = command.lower()
        edits = self.edits(text, robots=False)
        by_kind: dict[str, list[_Edit]] = {}
        for edit in edits:
            by_kind.setdefault(edit.kind, []).append(edit)
        kinds = [*by_kind, "before", "after", "case", "ending"]
        chosen = rng.sample(kinds, min(len(kinds), rng.choice((1, 2, 2, 3))))
        picked = [rng.choice(by_kind[k]) for k in chosen if k in by_kind]
        return self._write(
            text,
            picked,
            rng,
            before="before" in chosen,
            after="after" in chosen,
            case=rng.choice(("lower", "upper", "sentence")) if "case" in chosen else None,
            ending="ending" in chosen,
        )

    def held_out(self, command: str, rng: random.Random) -> tuple[str, tuple[str, ...]]:
        """Many rewrites at once, robot phrases too, every occurrence on its own, fillers
        at both ends and title case: rules the shown paraphrases do not use."""
        text = command.lower()
        picked = [e for e in self.edits(text, robots=True) if rng.random() < 0.75]
        return self._write(
            text,
            picked,
            rng,
            before=rng.random() < 0.6,
            after=rng.random() < 0.5,
            case=rng.choice(("lower", "title", "sentence", "upper", "title")),
            ending=rng.random() < 0.5,
        )

    def _write(
        self,
        text: str,
        picked: list[_Edit],
        rng: random.Random,
        before: bool,
        after: bool,
        case: str | None,
        ending: bool,
    ) -> tuple[str, tuple[str, ...]]:
        done = []
        for edit in sorted(picked, key=lambda e: e.start, reverse=True):
            new = rng.choice(edit.choices)
            text = text[: edit.start] + new + text[edit.end :]
            done.append(f"{edit.kind}: {edit.old} -> {new}")
        done.reverse()
        body, end = _split_ending(text)
        spans = self.spans(body)
        ends_with_filler = (
            bool(spans) and spans[-1].kind == "filler" and spans[-1].end == len(body)
        )
        if after and self.after and not ends_with_filler:
            filler = rng.choice(self.after)  # not after one already there ("now, now")
            body = f"{body}{rng.choice((', ', ' '))}{filler}"
            done.append(f"after: {filler}")
        # "could you", "i want you to", "just" ask for a verb next; before anything else
        # ("robot one, go ...", "first ...", "please ...") only "okay, ", "hey, ".
        verb_first = re.match(self._verb_first, body) is not None
        fillers = self.before if verb_first else [f for f in self.before if f in _COMMA]
        if before and fillers:
            filler = rng.choice(fillers)
            joint = (rng.choice((", ", " ")) if verb_first else ", ") if filler in _COMMA else " "
            body = f"{filler}{joint}{body}"
            done.append(f"before: {filler}")
        if ending:
            new_end = rng.choice([e for e in _ENDINGS if e != end] or [end])
            done.append(f"ending: {end or 'none'} -> {new_end or 'none'}")
            end = new_end
        text = body + end
        if case == "upper":
            text = text.upper()
        elif case == "title":
            text = " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
        elif case == "sentence":
            text = text[:1].upper() + text[1:]
        if case:
            done.append(f"case: {case}")
        return text, tuple(done)


def language_cases(
    scene: Scene,
    table: Sequence[Entry],
    seed: int = 0,
    paraphrases: int = 3,
    held_out: int | None = None,
) -> list[Case]:
    """The table, `paraphrases` paraphrases of each entry with a goal, and `held_out`
    (default: as many) held-out rewrites of each made by other rules from another seed,
    none equal to a command of the first two sets."""
    held_out = paraphrases if held_out is None else held_out
    maker = Paraphraser(scene)
    cases = [Case(TABLE, c, t, _frozen(g), t) for c, t, g in table]
    shown = {c.command for c in cases}
    made: list[Case] = []
    hidden: list[Case] = []
    for category, command, goal in table:
        if goal is None:
            continue  # a refusal's paraphrase need not be refused: nothing to expect
        original = maker.mentions(command)
        for kind, count, make, into in (
            (PARAPHRASE, paraphrases, maker.paraphrase, made),
            (HELD_OUT, held_out, maker.held_out, hidden),
        ):
            rng = random.Random(f"{kind}/{seed}/{command}")
            seen: set[str] = set()
            for _ in range(20 * count):
                if len(seen) >= count:
                    break
                text, edits = make(command, rng)
                if text in shown or text in seen or text.lower() == command.lower():
                    continue
                if maker.mentions(text) != original or _positions(text) != _positions(command):
                    log.debug("dropped %r: it names other things than %r", text, command)
                    continue
                seen.add(text)
                into.append(Case(kind, category, text, frozenset(goal), command, edits))
            if kind == PARAPHRASE:
                shown |= seen
    return cases + made + [c for c in hidden if c.command not in shown]


def score(
    planner: Planner,
    state: frozenset,
    case: Case,
) -> dict[str, Any]:
    """Plan one command and say how it went (`right`, `refused`, `wrong`, `crash`)."""
    row: dict[str, Any] = {
        "set": case.set,
        "category": case.category,
        "command": case.command,
        "expected": None if case.expected is None else sorted(case.expected),
    }
    if case.set != TABLE:
        row.update(source=case.source, edits=list(case.edits))
    started = time.perf_counter()
    try:
        result = planner.plan(PlanRequest(case.command, state))
    except PlanningError as exc:
        reason = str(exc)
        readable = bool(reason.strip()) and "\n" not in reason and reason.isprintable()
        row.update(outcome="refused" if readable else "crash", reason=reason)
    except Exception as exc:  # any other failure is what is counted
        log.warning("bench language: %r raised %s", case.command, type(exc).__name__)
        row.update(outcome="crash", reason=f"{type(exc).__name__}: {exc}")
    else:
        got = sorted(result.plan.goal)
        right = case.expected is not None and got == sorted(case.expected)
        row.update(outcome="right" if right else "wrong", got=got)
    row["latency_s"] = time.perf_counter() - started
    return row


def bench_language(
    planner: Planner,
    scene: Scene,
    table: Sequence[Entry] | None = None,
    seed: int = 0,
    paraphrases: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score `planner` (one object, reused) on the table, its paraphrases and the
    held-out set; totals per set and category, every wrong goal and crash.

    Held-out commands are not listed (they stand for commands never shown), except
    those read to a wrong goal or crashing: those are never hidden.
    """
    table = command_table(scene) if table is None else table
    started = time.perf_counter()
    cases = language_cases(scene, table, seed, paraphrases)
    state = scene.initial_facts()
    rows = []
    for index, case in enumerate(cases, start=1):
        rows.append(score(planner, state, case))
        if progress:
            progress(index, len(cases))
    elapsed = time.perf_counter() - started
    by_set = {s: _totals(r for r in rows if r["set"] == s) for s in SETS}
    categories = dict.fromkeys(r["category"] for r in rows)
    by_category = {
        c: {s: _totals(r for r in rows if r["category"] == c and r["set"] == s) for s in SETS}
        for c in categories
    }
    everything = _totals(rows)
    latencies = [r["latency_s"] for r in rows]
    held = by_set[HELD_OUT]
    return {
        "backend": getattr(planner, "name", type(planner).__name__),
        "scene": scene.name,
        "seed": seed,
        "paraphrases_per_command": paraphrases,
        "commands": len(rows),
        "totals": everything,
        "sets": by_set,
        "by_category": by_category,
        "held_out_target_met": held["wrong"] == 0
        and held["crash"] == 0
        and (held["n"] == 0 or held["handled_right_rate"] >= 0.9),
        "passed": everything["wrong"] == 0 and everything["crash"] == 0,
        "wrong": [_listed(r) for r in rows if r["outcome"] == "wrong"],
        "crash": [_listed(r) for r in rows if r["outcome"] == "crash"],
        "refused": [
            _listed(r) for r in rows if r["outcome"] == "refused" and r["set"] != HELD_OUT
        ],
        "wall_time_s": round(elapsed, 2),
        "latency_ms_median": round(1000 * statistics.median(latencies), 1) if rows else None,
        "rows": [
            {k: v for k, v in r.items() if k != "latency_s"} for r in rows if r["set"] != HELD_OUT
        ],
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: totals per set and per category, then every wrong goal,
    crash and (shown sets only) refusal."""
    from robot_planner.bench.report import table

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    sets, total = report["sets"], report["totals"]
    lines = [
        f"# Language (`robot-planner bench language`): {report['scene']}, {report['backend']}",
        "",
        f"{sets[TABLE]['n']} table commands, {sets[PARAPHRASE]['n']} paraphrases and "
        f"{sets[HELD_OUT]['n']} held-out commands (seed {report['seed']}, "
        f"{report['paraphrases_per_command']} per command); **wrong goals: "
        f"{total['wrong']}**, crashes: {total['crash']}; {report['commands']} commands in "
        f"{report['wall_time_s']} s (median {report['latency_ms_median']} ms). Handled "
        "right = understood exactly, or refused where the table says it must be; safe = "
        "not wrong and no crash.",
        "",
        table(
            ["set", "commands", "right", "refused", "wrong", "crash", "handled right", "safe"],
            [
                (
                    name,
                    t["n"],
                    t["right"],
                    t["refused"],
                    t["wrong"],
                    t["crash"],
                    rate(t["handled_right_rate"]),
                    rate(t["safe_rate"]),
                )
                for name, t in (*sets.items(), ("all", total))
            ],
            "lrrrrrrr",
        ),
        "",
        "Per category, table and paraphrases (held-out beside them):",
        "",
        table(
            [
                "category",
                "commands",
                "right",
                "refused",
                "wrong",
                "crash",
                "handled right",
                "held-out",
                "held-out right",
                "held-out wrong",
            ],
            [
                (
                    category,
                    *_row(_merge(per[TABLE], per[PARAPHRASE])),
                    per[HELD_OUT]["n"],
                    per[HELD_OUT]["right"],
                    per[HELD_OUT]["wrong"],
                )
                for category, per in report["by_category"].items()
            ],
            "lrrrrrrrrr",
        ),
    ]
    for key, title in (
        ("wrong", "Wrong goals (planned, exit 0, with other goal facts)"),
        ("crash", "Crashes"),
        ("refused", "Refused (table and paraphrases)"),
    ):
        listed = report[key]
        lines += ["", f"{title}: {len(listed) or 'none'}"]
        if listed:
            lines += [""] + [_bullet(r) for r in listed]
    return "\n".join(lines) + "\n"


# --- helpers ---------------------------------------------------------------------------


def _frozen(goal: Iterable[str] | None) -> frozenset[str] | None:
    return None if goal is None else frozenset(goal)


def _word_regex(words: str) -> str:
    return r"(?<![a-z0-9_'])" + r"\s+".join(map(re.escape, words.split())) + r"(?![a-z0-9_'])"


def _free_regions(text: str, spans: list[_Span]) -> list[tuple[int, int]]:
    """The stretches of `text` outside every span."""
    regions, at = [], 0
    for span in spans:
        regions.append((at, span.start))
        at = span.end
    regions.append((at, len(text)))
    return regions


def _no_overlaps(edits: list[_Edit]) -> list[_Edit]:
    """The longest edit where two overlap ("pick up", not "pick")."""
    kept: list[_Edit] = []
    for edit in sorted(edits, key=lambda e: (e.start, e.start - e.end)):
        if not kept or edit.start >= kept[-1].end:
            kept.append(edit)
    return kept


def _inside(start: int, end: int, regions: list[tuple[int, int]]) -> bool:
    return any(a <= start and end <= b for a, b in regions)


def _split_ending(text: str) -> tuple[str, str]:
    """ "put it in the bin!" -> ("put it in the bin", "!")."""
    body = text.rstrip()
    stripped = body.rstrip(".!?")
    return stripped.rstrip(), body[len(stripped) :]


_POSITION_RE = re.compile(
    r"\b(?:" + "|".join(r"\s+".join(map(re.escape, p.split())) for p in POSITIONS) + r")\b"
)


def _positions(text: str) -> int:
    """How many tower positions ("on top", "in the middle") `text` says: a swapped place
    must not become one ("in the middle" of a tower is no place)."""
    return len(_POSITION_RE.findall(text.lower()))


def _totals(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    counts = Counter(r["outcome"] for r in rows)
    expected_refusals = sum(1 for r in rows if r["outcome"] == "refused" and r["expected"] is None)
    n = len(rows)
    out: dict[str, Any] = {"n": n, **{o: counts[o] for o in OUTCOMES}}
    out["refused_as_expected"] = expected_refusals
    out["handled_right_rate"] = round((counts["right"] + expected_refusals) / n, 4) if n else None
    out["safe_rate"] = round((counts["right"] + counts["refused"]) / n, 4) if n else None
    return out


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    n = a["n"] + b["n"]
    out = {k: a[k] + b[k] for k in ("n", *OUTCOMES, "refused_as_expected")}
    out["handled_right_rate"] = (
        round((out["right"] + out["refused_as_expected"]) / n, 4) if n else None
    )
    return out


def _row(t: dict[str, Any]) -> tuple:
    rate = t["handled_right_rate"]
    return (
        t["n"],
        t["right"],
        t["refused"],
        t["wrong"],
        t["crash"],
        "-" if rate is None else f"{rate:.1%}",
    )


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("set", "category", "command", "expected", "got", "reason", "source", "edits")
    return {k: row[k] for k in keys if k in row}


def _bullet(row: dict[str, Any]) -> str:
    said = f"[{row['set']}, {row['category']}] `{row['command']}`"
    if "got" in row:
        return f"* {said}: expected {row['expected']}, got {row['got']}"
    return f"* {said}: {row.get('reason')}"
