"""Ground facts: the one vocabulary shared by planner, validator, simulator and monitor.

A fact is a predicate applied to names, written ``on(red_block,blue_block)``. Keeping
facts as small immutable tuples (not strings) makes sets of them cheap to compare and
lets every layer use the same parser and printer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from robot_planner.untrusted import shown

#: Predicate name -> the kind of each argument. Kinds are resolved against a scene:
#: ``block`` (a movable object), ``bin``, ``zone``, ``robot``.
PREDICATES: dict[str, tuple[str, ...]] = {
    "on": ("block", "block"),
    "in": ("block", "bin"),
    "at": ("block", "zone"),
    "holding": ("robot", "block"),
    "gripper_empty": ("robot",),
    "clear": ("block",),
    "on_table": ("block",),
}

_FACT_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*\(\s*([^()]*?)\s*\)\s*$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_FACT_LENGTH = 256


class FactError(ValueError):
    """A fact string that is not ``predicate(arg, ...)`` in the known vocabulary."""


class Fact(NamedTuple):
    """A ground predicate such as ``on(red_block, blue_block)``."""

    predicate: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.predicate}({','.join(self.args)})"

    @classmethod
    def parse(cls, text: str) -> Fact:
        """Parse ``pred(a,b)``; raise `FactError` naming what is wrong."""
        if not isinstance(text, str):
            raise FactError(f"a fact must be a string, got {type(text).__name__}")
        if len(text) > MAX_FACT_LENGTH:
            raise FactError(f"fact is longer than {MAX_FACT_LENGTH} characters")
        match = _FACT_RE.match(text)
        if match is None:
            raise FactError(f"'{shown(text)}' is not of the form predicate(arg,...)")
        predicate, inner = match.groups()
        if predicate not in PREDICATES:
            raise FactError(
                f"unknown predicate '{shown(predicate)}' in '{shown(text)}' "
                f"(known: {', '.join(sorted(PREDICATES))})"
            )
        args = tuple(a.strip() for a in inner.split(",")) if inner else ()
        expected = len(PREDICATES[predicate])
        if len(args) != expected:
            raise FactError(
                f"'{shown(text)}': {predicate} takes {expected} argument(s), got {len(args)}"
            )
        for arg in args:
            if not _NAME_RE.match(arg):
                raise FactError(f"'{shown(text)}': '{shown(arg)}' is not a valid name")
        return cls(predicate, args)


_QUESTIONS: dict[str, str] = {
    "on": "Is {0} on {1}?",
    "in": "Is {0} inside {1}?",
    "at": "Is {0} in {1}?",
    "holding": "Is {1} in {0}'s gripper?",
    "gripper_empty": "Is {0}'s gripper empty?",
    "clear": "Is there nothing on top of {0}?",
    "on_table": "Is {0} standing on the table?",
}


def question_for(fact: Fact) -> str:
    """A yes/no question whose "yes" means `fact` holds, for the VQA monitor."""
    names = ["the " + arg.replace("_", " ") for arg in fact.args]
    return _QUESTIONS[fact.predicate].format(*names)


def fact(predicate: str, *args: str) -> Fact:
    """Build a fact without parsing (for code that already has the names)."""
    return Fact(predicate, tuple(args))


def parse_facts(texts: Iterable[str]) -> frozenset[Fact]:
    """Parse many facts; the first bad one raises `FactError`."""
    return frozenset(Fact.parse(t) for t in texts)


def format_facts(facts: Iterable[Fact]) -> list[str]:
    """Facts as sorted strings: the stable JSON form used in reports and plans."""
    return sorted(str(f) for f in facts)


def derive(facts: Iterable[Fact], blocks: Iterable[str]) -> frozenset[Fact]:
    """Recompute the derived facts ``clear`` and transitive ``at`` from the base facts.

    ``clear(X)``: nothing is on X and no robot holds it. ``at(X, Z)`` also holds for a
    block stacked (directly or not) on a block that is at zone Z, because the simulator
    decides ``at`` from the block's position, and a tower stands in its zone.
    """
    base = {f for f in facts if f.predicate != "clear"}
    support = {f.args[0]: f.args[1] for f in base if f.predicate == "on"}
    zone_of = {f.args[0]: f.args[1] for f in base if f.predicate == "at"}
    for block in support:
        seen: set[str] = set()
        below = support.get(block)
        while below is not None and below not in seen:
            seen.add(below)
            if below in zone_of:
                base.add(Fact("at", (block, zone_of[below])))
                break
            below = support.get(below)
    covered = set(support.values())
    held = {f.args[1] for f in base if f.predicate == "holding"}
    for block in blocks:
        if block not in covered and block not in held:
            base.add(Fact("clear", (block,)))
    return frozenset(base)


def contradictions(facts: Iterable[Fact]) -> list[str]:
    """Reasons why a set of facts can never hold together (for goals), one per problem.

    Checks what the physical world rules out: a block on itself, on two things at once,
    two blocks on one, stacking loops, a held block that is also somewhere, a robot
    holding two blocks or holding while empty, ``clear`` of a covered block.
    """
    facts = sorted(set(facts))
    problems: list[str] = []
    where: dict[str, list[str]] = {}
    on_top: dict[str, list[str]] = {}
    holders: dict[str, list[str]] = {}
    held_by: dict[str, list[str]] = {}
    support: dict[str, str] = {}
    for f in facts:
        a = f.args
        if f.predicate == "on":
            if a[0] == a[1]:
                problems.append(f"{f}: a block cannot be on itself")
                continue
            where.setdefault(a[0], []).append(str(f))
            on_top.setdefault(a[1], []).append(a[0])
            support[a[0]] = a[1]
        elif f.predicate in ("in", "on_table"):
            where.setdefault(a[0], []).append(str(f))
        elif f.predicate == "holding":
            holders.setdefault(a[1], []).append(a[0])
            held_by.setdefault(a[0], []).append(a[1])
    zones: dict[str, list[str]] = {}
    for f in facts:
        if f.predicate == "at":
            zones.setdefault(f.args[0], []).append(f.args[1])
    for block, places in sorted(where.items()):
        if len(places) > 1:
            problems.append(f"{' and '.join(places)}: {block} cannot be in two places")
    for block, names in sorted(zones.items()):
        if len(names) > 1:
            problems.append(f"{block} cannot be at {' and '.join(names)} at once")
        if any(p.startswith("in(") for p in where.get(block, [])):
            problems.append(f"{block} cannot be in a bin and at {names[0]} at once")
    for below, blocks in sorted(on_top.items()):
        if len(blocks) > 1:
            problems.append(f"{' and '.join(blocks)} cannot both be on {below}")
        if Fact("clear", (below,)) in facts:
            problems.append(f"clear({below}) contradicts on({blocks[0]},{below})")
    for block, robots in sorted(holders.items()):
        if len(robots) > 1:
            problems.append(f"{block} cannot be held by {' and '.join(robots)}")
        if block in where or block in zones:
            problems.append(f"{block} cannot be held and placed at the same time")
    for robot, blocks in sorted(held_by.items()):
        if len(blocks) > 1:
            problems.append(f"{robot} cannot hold {' and '.join(blocks)} at once")
        if Fact("gripper_empty", (robot,)) in facts:
            problems.append(f"{robot} cannot hold {blocks[0]} with an empty gripper")
    reported: set[frozenset[str]] = set()
    for start in sorted(support):
        chain = [start]
        current = support[start]
        while current in support and current not in chain:
            chain.append(current)
            current = support[current]
        if current in chain:
            loop = chain[chain.index(current) :]
            if frozenset(loop) not in reported:
                reported.add(frozenset(loop))
                problems.append(f"{' on '.join([*loop, current])}: blocks cannot stack in a loop")
    return problems
