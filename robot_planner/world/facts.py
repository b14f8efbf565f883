"""Ground facts: the one representation shared by planner, validator, simulator and monitor.

A fact is a predicate applied to names, written ``on(red_block,blue_block)``. Keeping
facts as small immutable tuples (not strings) makes sets of them cheap to compare and
lets every layer use the same parser and printer. Which predicates exist, how many
arguments each takes, which facts are derived and which can never hold together is the
domain's business (`robot_planner.world.domain.Domain`), not this module's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

from robot_planner.untrusted import shown

#: ``pred(arg, ...)`` where an arg is a name, a ``?variable`` or ``*`` (a template).
TEMPLATE_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*\(([^()]*)\)\s*$")
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
        args = tuple(a.strip() for a in inner.split(",")) if inner else ()
        for arg in args:
            if not _NAME_RE.match(arg):
                raise FactError(f"'{shown(text)}': '{shown(arg)}' is not a valid name")
        return cls(predicate, args)


def fact(predicate: str, *args: str) -> Fact:
    """Build a fact without parsing (for code that already has the names)."""
    return Fact(predicate, tuple(args))


def parse_facts(texts: Iterable[str]) -> frozenset[Fact]:
    """Parse many facts; the first bad one raises `FactError`."""
    return frozenset(Fact.parse(t) for t in texts)


def format_facts(facts: Iterable[Fact]) -> list[str]:
    """Facts as sorted strings: the stable JSON form used in reports and plans."""
    return sorted(str(f) for f in facts)


class Pattern(tuple):
    """A parsed fact template: (predicate, args) where an arg is a name, ``?var`` or
    ``*``."""

    @classmethod
    @lru_cache(maxsize=4096)
    def parse(cls, text: str) -> Pattern:
        """Parse a template (cached: domains reuse a few templates everywhere)."""
        match = TEMPLATE_RE.match(text)
        if match is None:
            raise ValueError(f"'{shown(text)}' is not a fact template")
        args = tuple(p.strip() for p in match.group(2).split(",")) if match.group(2) else ()
        return cls((match.group(1), args))

    @property
    def predicate(self) -> str:
        return self[0]

    @property
    def args(self) -> tuple[str, ...]:
        return self[1]

    def match(self, fact: Fact, binding: Mapping[str, str]) -> dict[str, str] | None:
        """`binding` extended so that this pattern equals `fact`, or None."""
        if fact.predicate != self.predicate or len(fact.args) != len(self.args):
            return None
        out = dict(binding)
        for want, got in zip(self.args, fact.args, strict=True):
            if want == "*":
                continue
            if want.startswith("?"):
                if out.setdefault(want[1:], got) != got:
                    return None
            elif want != got:
                return None
        return out

    def ground(self, binding: Mapping[str, str]) -> Fact:
        return Fact(
            self.predicate, tuple(binding[a[1:]] if a[:1] == "?" else a for a in self.args)
        )
