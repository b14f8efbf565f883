"""What the configured perceiver cannot observe in a scene, known before anything runs.

Each predicate of the domain says how it is observed: ``perceived`` (a camera perceiver
decides it), ``robot`` (the robot reports it) or ``derived`` (computed from other facts).
A perceiver may be blind to some objects of a scene -- the geometric perceiver cannot
tell two objects of nearly the same hue apart -- and says so through an optional
``blind_spots(scene)`` method. From both, `Observability` decides which facts can be
checked at all. The monitor marks the others *uncheckable* (reported, not asked) instead
of failing a finished command because the camera "did not see" them, and re-planning
keeps its belief about objects the camera cannot see.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observability:
    """Which facts of a scene a perceiver can check.

    Args:
        scene: the scene (its domain says how each predicate is observed).
        perceiver: the perceiver's name, for messages.
        blind: object or place name -> why the perceiver cannot observe it.
    """

    scene: Scene
    perceiver: str = "monitor"
    blind: Mapping[str, str] = field(default_factory=dict)
    #: Perceived predicates the perceiver cannot decide at all, with the reason.
    predicates: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, backend: object | None, scene: Scene) -> Observability:
        """Ask a VQA backend (if it can say) what it is blind to in `scene`."""
        if backend is None:
            return cls(scene)
        spots = getattr(backend, "blind_spots", None)
        blind = dict(spots(scene)) if callable(spots) else {}
        undecided = getattr(backend, "unsupported_predicates", None)
        predicates = dict(undecided(scene)) if callable(undecided) else {}
        return cls(scene, str(getattr(backend, "name", "monitor")), blind, predicates)

    def reason(self, fact: Fact) -> str | None:
        """Why `fact` cannot be checked by the perceiver, or None when it can."""
        spec = self.scene.domain.predicates.get(fact.predicate)
        if spec is None or spec.observed == "robot":
            return None
        if fact.predicate in self.predicates:
            why = self.predicates[fact.predicate]
            return f"the {self.perceiver} perceiver cannot decide {fact.predicate}: {why}"
        if not self.blind:
            return None
        unseen = [a for a in fact.args if a in self.blind]
        if unseen:
            name = unseen[0]
            return f"the {self.perceiver} perceiver cannot observe {name}: {self.blind[name]}"
        if spec.observed == "derived" and self._derived_from_everything(fact.predicate):
            names = ", ".join(sorted(self.blind))
            return (
                f"{fact.predicate} is derived from facts about every object, and the "
                f"{self.perceiver} perceiver cannot observe {names}"
            )
        return None

    def _derived_from_everything(self, predicate: str) -> bool:
        """An `unless` rule looks at every object (a wildcard), so one blind object
        makes its facts uncheckable."""
        return any(
            rule.unless and rule.fact.startswith(predicate + "(")
            for rule in self.scene.domain.derived
        )

    def uncheckable(self, facts: Iterable[Fact]) -> dict[str, str]:
        """The facts among `facts` that cannot be checked, with the reason for each."""
        return {str(f): r for f in facts if (r := self.reason(f)) is not None}

    def report(self) -> list[str]:
        """One line per object or predicate the perceiver cannot observe (empty: none)."""
        lines = [
            f"the {self.perceiver} perceiver cannot decide {name} facts ({why}): they are "
            "not checked"
            for name, why in sorted(self.predicates.items())
        ]
        return lines + [
            f"the {self.perceiver} perceiver cannot observe {name} ({why}): facts about it "
            "are not checked"
            for name, why in sorted(self.blind.items())
        ]

    def log_report(self) -> None:
        """Say at load time what cannot be checked (a warning per blind name)."""
        for line in self.report():
            log.warning("monitor: %s", line)

    def keep_belief(self, observed: frozenset[Fact], believed: frozenset[Fact]) -> frozenset[Fact]:
        """The observed facts, with facts about blind names taken from the belief (the
        camera's silence about them is not evidence that they moved)."""
        if not self.blind:
            return observed

        def about_blind(f: Fact) -> bool:
            return any(a in self.blind for a in f.args)

        kept = {f for f in observed if not about_blind(f)}
        kept |= {f for f in believed if about_blind(f)}
        return self.scene.derive(kept)
