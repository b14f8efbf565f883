"""Command understanding for the offline planner: text -> goal facts, order, robots.

A lark grammar (Earley) gives the sentence structure: steps in sequence ("then", "after
that", "first … then …", "once X is …, …", "finally", sentence ends), chunks in parallel
("while", "at the same time", "meanwhile", "simultaneously"), robot assignments ("left
arm, …", "right arm: …", "with the right arm", "the left arm puts …"), actions with lists
and quantifiers ("red and green", "both", "all blocks"), pronouns ("it", "them"), towers
by order ("yellow at the bottom, then blue, red on top"; "stack red on blue on yellow"),
sorting ("red and green go in the left bin") and fillers ("could you please", "now").

The examples are the tabletop's; the words are not in this module. Verbs, tower words,
robot nouns and domain fillers come from the domain's ``language`` section (`Lexicon`),
and noun phrases are resolved against the scene's vocabulary (colours, type nouns,
names and aliases), so a new world needs no grammar change. Anything not understood is
refused with one line that says what was not understood and what is known. The result
is the set of facts that must hold when the whole command is done, plus which steps must
follow which and which robot was asked to do what. Steps are visits: a fact a later step
supersedes ("go to the pick station, then go to the dock") is kept with its step as a
visit (`Understanding.visits`), which the planner reaches before the step that moves on;
two places for one thing in the same step are refused (nothing says which is first). A
step that is only a destination ("..., then to the right bin") moves on what the step
before moved; "back" before a place is "to" it, and "back" alone is where the command
found what the one earlier step moved ("go to the pick station and come back"), else
refused (the planner remembers no earlier command).

Every word is accounted for or the command is refused: every object, place and robot the
command names must be in the goal (or in a visit on the way), and the goal
names nothing else (`_Interpreter.check_accounted`). "Pick up X" with nothing done to X
afterwards leaves X held (the domain's holder fact); "and" between clauses that each
name their robot joins them like "while". Of two parses, the one with fewer steps and
actions wins, so lists and towers are read whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace as replaced_with
from difflib import SequenceMatcher
from itertools import pairwise

from lark import Token, Tree, UnexpectedEOF, UnexpectedInput

from robot_planner.planning.lexicon import (
    _CLAUSE_STARTS,
    _TREE,
    MAX_COMMAND_CHARS,
    MOTION_VERBS,
    NUMBER_WORDS,
    ORIGIN_WORDS,
    PARALLEL_WORDS,
    POSITIONS,
    RELATIVE_WORDS,
    SEQUENCE_WORDS,
    GoalItem,
    TaskRequest,
    Understanding,
    UnderstandingError,
    Vocabulary,
    _normalise,
    _or_never,
    _parser,
    _UnknownAction,
    _UnknownPlace,
    _Unsaid,
    _verb_starts,
    did_you_mean,
    plural_of,
    third_person,
)
from robot_planner.planning.readback import fact_words
from robot_planner.planning.rewrites import (
    _NEXT_TO,
    ANY_OF,
    BACK,
    REST_WORDS,
    _a,
    _Back,
    _bare_steps,
    _cannot_go,
    _colon_list,
    _desired,
    _dispatch_comma,
    _down,
    _example_for,
    _from_places,
    _motion_refusal,
    _no_condition,
    _no_count_of_trips,
    _polite_question,
    _relation_refusal,
    _sent_pronoun,
    _tail_then,
    _to_bare_place,
    _unknown_relation,
    _verb_names,
    _without_back,
    destinations,
    goes_places,
    origin_places,
    place_group,
)
from robot_planner.untrusted import quoted, shown
from robot_planner.world.facts import Fact, Pattern
from robot_planner.world.scene import Scene


class _Interpreter:
    """Walks the parse tree in order, keeping pronoun context and step numbers."""

    def __init__(
        self,
        scene: Scene,
        vocab: Vocabulary,
        state: frozenset[Fact] | None = None,
        back: _Back | None = None,
    ):
        self.scene = scene
        #: the command has a "back" with no place (the place `BACK`): `returned` says where
        self.back = back
        self.vocab = vocab
        self.state = state
        # The word for the objects commands move, in messages ("which two blocks").
        first = next(iter(scene.objects.values()), None)
        self.noun = scene.domain.nouns(first.type)[0] if first else "object"
        self.nouns = plural_of(self.noun)
        self.tower_noun = next(iter(vocab.lexicon.tower_nouns), "stack")
        #: the place named last: what "the right one" is one of (`place_one`)
        self.last_place: str | None = None
        self.items: list[GoalItem] = []
        self.step = 0
        self.last: list[str] = []
        # What `understand_command` checks the goal against: every name the command
        # named (-> the words that named it), the names a later clause replaced in the
        # goal ("..., then put it in the bin"), and the robots chosen without being named
        # (the holder of "pick up X", the carriers of "one on each robot").
        self.named: dict[str, str] = {}
        self.replaced: set[str] = set()
        self.chosen: set[str] = set()
        #: objects picked up and not (yet) put anywhere -> (robot asked, step, verb)
        self.grasped: dict[str, tuple[str | None, int, str]] = {}
        #: skills asked for by name, and where a word had to be guessed
        self.actions: list[TaskRequest] = []
        self.guesses: list[str] = []
        # Names the command used to say which objects, not what to do with them: those
        # "all ... except" leaves out, and the places and objects of "the two blocks on
        # the left side", "the block on the red block".
        self.excluded: set[str] = set()
        self.qualifiers: set[str] = set()
        #: the last put or pick-up, for "..., and the yellow block too"
        self.last_deed: tuple[str, list[str], str | None] | None = None
        #: The robots an earlier step addressed, when it addressed one set only ("robot
        #: two, go to the pick station, then go to the dock"): later steps that go
        #: somewhere or ask for a skill without naming a robot are theirs. `_named` holds
        #: the robot sets the current step named (None: a chunk named none).
        self.subject: list[str] | None = None
        self._named: list[tuple[str, ...] | None] = []
        #: the robot sets the current clause sent somewhere ("send robot one to ...")
        self._sent: list[tuple[str, ...]] = []
        #: goal items a later step superseded: visits on the way (`Understanding.visits`)
        self.visits: list[GoalItem] = []
        #: what the last put or go moved, for a step that only says where ("..., then to
        #: the right bin"): ("move", objects) or ("go", ()); None after other work
        self.moved: tuple[str, tuple[str, ...]] | None = None
        #: "from X" in the command: its place words -> (X, the words said), set by
        #: `_understand` (`_from_places`); `origin` holds those of the action being read,
        #: `_acting` whether one is (an action may read another: "then to ..." a go)
        self.origins: dict[str, tuple[str, str]] = {}
        #: those of `origins` said as a relative clause ("the block that is in ..."): they
        #: say which objects move, so only right after them (`_from_targets`)
        self.relative: frozenset[str] = frozenset()
        self.origin: list[tuple[str, str]] = []
        self._part_origins: list[list[tuple[str, str]]] = []
        self._acting = self._origin_checked = False
        #: the text parsed (for refusals that look at the words around a failure)
        self.text = ""

    # --- names ------------------------------------------------------------------------

    def thing(self, words: str) -> str:
        name = self.vocab.resolve_object(words, self.scene)
        if name is None:
            one = self.described(words)  # "the block" when there is one
            if one is not None and len(one) == 1:
                return one[0]
            motion = words in MOTION_VERBS and _motion_refusal(self.text, self.scene, self.vocab)
            if motion:  # "right arm, head to the center zone": not an object 'head'
                raise _Unsaid(motion)
            raise UnderstandingError(f"unknown object '{words}' (known: {self.known_things()})")
        self.named.setdefault(name, words)
        return name

    def some(self, words: str) -> list[str]:
        """The object a name names, or the objects a description names ("the two red
        blocks"), or those the command has not named yet ("the rest")."""
        name = self.vocab.resolve_object(words, self.scene)
        if name is not None:
            self.named.setdefault(name, words)
            return [name]
        return self.the_rest(words) or self.described(words) or [self.thing(words)]

    def the_rest(self, words: str) -> list[str] | None:
        """ "put the red block in the left bin and the rest in the right bin": "the rest",
        "the others", "the other (red) blocks", "the remaining blocks" are the objects the
        description fits that the command has not named before, or named as left out;
        None for other words.

        Raises:
            UnderstandingError: nothing was named before, or nothing is left.
        """
        first, _, described = words.partition(" ")
        if words in REST_WORDS:
            described = ""
        elif first not in ("other", "remaining", "rest") or not described:
            return None  # "the rest of the blocks" comes as "rest blocks"
        elif described in ("ones", "one"):
            described = ""
        # named and not left out ("all blocks except the red one ..., then the rest ..."),
        # or left out and then moved after all
        used = {a for i in self.items for a in i.fact.args} | set(self.grasped)
        before = [
            n
            for n in self.named
            if n in self.scene.objects and (n not in self.excluded or n in used)
        ]
        if not before:
            raise UnderstandingError(f"'the {words}' follows no {self.noun} named before it")
        left = [
            n
            for n in self.scene.objects
            if n not in before and (not described or self.describes(described, n))
        ]
        if not left:
            raise UnderstandingError(f"'the {words}' leaves no {self.noun}: all are named")
        for name in left:
            self.named.setdefault(name, f"the {words}")
        return left

    def guess_pronoun(self, word: str, candidates: list[str]) -> None:
        """ "it" with several candidates means the most recent: a guess, said so."""
        others = ", ".join(c.replace("_", " ") for c in candidates[:-1])
        self.guesses.append(
            f"'{word}' taken as the {candidates[-1].replace('_', ' ')} (not the {others})"
        )

    def described(self, words: str, qualifier: str | None = None) -> list[str] | None:
        """The objects a description names ("the block", "the two blocks", "blocks"),
        optionally only those at a place or on an object (`qualifier`, a scene name);
        None when the words are no description. A count (or a singular noun: one) must
        match exactly, else the command is refused with what there is."""
        tokens = words.split()
        # "the two blocks", "the 2 blocks" (digits are name words too: "base 2")
        number = int(tokens[0]) if tokens[0].isdigit() else NUMBER_WORDS.get(tokens[0])
        count = number if len(tokens) > 1 else None
        rest = " ".join(tokens[1:] if count is not None else tokens)
        candidates = [n for n in self.scene.objects if self.describes(rest, n)]
        if not candidates:
            return None
        if qualifier is not None:
            candidates = [n for n in candidates if self.is_at(n, qualifier)]
        nouns = {n for o in self.scene.objects.values() for n in self.scene.domain.nouns(o.type)}
        plural = tokens[-1] not in nouns
        wanted = count if count is not None else (None if plural else 1)
        if (wanted is not None and len(candidates) != wanted) or not candidates:
            said = f"{words} {self.relation(qualifier)}".strip()
            if candidates:
                there = ", ".join(c.replace("_", " ") for c in candidates)
                found = f"{len(candidates)}: {there}"
            else:
                found = "none; " + self.whereabouts(rest)
            verb = "is" if len(candidates) == 1 else "are"
            raise UnderstandingError(
                f"'{said}' names {wanted or 'some'}, but there {verb} {found}"
            )
        for name in candidates:
            self.named.setdefault(name, words)
        return candidates

    def whereabouts(self, words: str) -> str:
        """Where the objects `words` describe are: "red block at left side, ..."."""
        described = [n for n in self.scene.objects if self.describes(words, n)]
        state = self.state if self.state is not None else self.scene.initial_facts()
        put = self.scene.domain.location_predicates
        parts = []
        for name in described:
            on = next((f.args[1] for f in state if f.predicate in put and f.args[0] == name), None)
            prep = "on" if on in self.scene.objects else "at"
            where = f" {prep} {on.replace('_', ' ')}" if on else ""
            parts.append(f"{name.replace('_', ' ')}{where}")
        return ", ".join(parts)

    def relation(self, qualifier: str | None) -> str:
        if qualifier is None:
            return ""
        if qualifier.startswith(ANY_OF):  # "off the table": at one of its places
            return f"at {_a(qualifier.removeprefix(ANY_OF))}"
        prep = "on" if qualifier in self.scene.objects else "at"
        return f"{prep} the {qualifier.replace('_', ' ')}"

    def is_at(self, thing: str, where: str) -> bool:
        """`thing` is at place `where` (on whatever stands there too), or directly on or
        in object `where`: from the state when known, else where things start."""
        if where.startswith(ANY_OF):
            return self.where(thing) in origin_places(self.scene, where)
        if where in self.scene.places:
            return self.where(thing) == where
        state = self.state if self.state is not None else self.scene.initial_facts()
        put = self.scene.domain.location_predicates
        return any(f.predicate in put and f.args == (thing, where) for f in state)

    def qualified(self, objects: tuple, targets: list) -> tuple[list[str], list] | None:
        """ "the two blocks on the left side in the right bin": a description and the
        first place of a chain say which objects; the rest is where they go. None when
        the objects are named, not described."""
        kind, value = objects
        if kind == "both" and value and len(targets) > 1:  # "both blocks on the left side"
            kind, value = "list", [f"two {value}"]
        if kind != "list" or len(value) != 1 or isinstance(targets[0], tuple):
            return None
        if self.vocab.resolve_object(value[0], self.scene) is not None:
            return None
        qualifier = self.place(targets[0])
        names = self.described(value[0], qualifier)
        if names is None:
            return None
        self.qualifiers.add(qualifier)
        self.last = names
        return names, targets[1:]

    def known_things(self) -> str:
        return ", ".join(
            f"{s.color} {self.scene.domain.nouns(s.type)[0]}".strip()
            for s in self.scene.objects.values()
        )

    def describes(self, words: str, name: str) -> bool:
        """True when `words` ("blocks", "red cubes", "red ones", "red" as in "everything
        red") describe object `name`: a noun of its type, singular or plural, or "one(s)",
        after at most its colour; or its colour alone."""
        spec = self.scene.objects[name]
        nouns = {*self.scene.domain.nouns(spec.type), "one"}
        *adjectives, noun = words.split()
        if not adjectives and noun == spec.color.lower():
            return True
        if noun not in {*nouns, *(plural_of(n) for n in nouns)} or len(adjectives) > 1:
            return False
        return all(a == spec.color.lower() for a in adjectives)

    def every(self, words: str) -> list[str]:
        """The objects of "all ...": all of them, or those the words narrow it to ("all
        blocks", "every red cube"). Words that describe nothing are refused, not skipped:
        "all heavy blocks" must not mean all blocks."""
        if words.split()[:1] in (["other"], ["remaining"]):  # "all the other blocks"
            return self.the_rest(words) or []
        names = list(self.scene.objects)
        first, _, rest = words.partition(" ")
        count = NUMBER_WORDS.get(first, int(first) if first.isdigit() else None)
        narrowed = rest if count is not None else words  # "all four blocks": all, and four
        if narrowed:
            names = [n for n in names if self.describes(narrowed, n)]
        if names and count is not None and count != len(names):
            there = ", ".join(n.replace("_", " ") for n in names)
            raise UnderstandingError(
                f"'all {words}' names {count}, but there are {len(names)}: {there}"
            )
        if not names:
            raise UnderstandingError(
                f"'all {words}' names no {self.noun} here (known: all {self.nouns}, "
                f"{self.known_things()})"
            )
        for name in names:
            self.named.setdefault(name, f"all {words}".strip())
        return names

    def things(self, objects: tuple) -> list[str]:
        kind, value = objects
        said: list[tuple[str, str]] = []  # each name and the words that named it
        if kind == "list":
            said = [(n, w) for w in value for n in self.some(w)]
            names = [n for n, _ in said]
        elif kind == "both_list":
            names = [self.thing(w) for w in value]
            if len(names) != 2:
                raise UnderstandingError(f"'both' names two {self.nouns}, not {len(names)}")
        elif kind == "all":
            names = self.every(value)
        elif kind == "all_except":
            words, (kind, others) = value
            if kind != "list":
                raise UnderstandingError(f"say which {self.nouns} 'all {words}' leaves out")
            names = self.every(words)
            left_out = [self.thing(w) for w in others]
            for name, said in zip(left_out, others, strict=True):
                if name not in names:
                    raise UnderstandingError(f"'{said}' is not among 'all {words}'")
            self.excluded.update(left_out)
            names = [n for n in names if n not in left_out]
            if not names:
                raise UnderstandingError(f"'all {words}' except those leaves no {self.noun}")
        elif kind == "both":
            if len(self.last) != 2:
                raise UnderstandingError(f"'both' does not say which two {self.nouns}: name them")
            if value and not all(self.describes(value, n) for n in self.last):
                raise UnderstandingError(
                    f"'both {value}' does not describe the "
                    + " and the ".join(n.replace("_", " ") for n in self.last)
                )
            names = list(self.last)
        else:
            if not self.last:
                raise UnderstandingError(f"'{value}' does not refer to any {self.noun} yet")
            names = list(self.last) if value in ("them", "those", "these") else self.last[-1:]
            if len(names) == 1 and len(self.last) > 1:
                self.guess_pronoun(value, self.last)
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            words = list(dict.fromkeys(w for n, w in said if n == twice))
            which = (  # "the red blocks: red on blue": say which words named it
                f": '{shown(words[0])}' and '{shown(words[1])}' both name the "
                f"{twice.replace('_', ' ')}"
                if len(words) > 1
                else ""
            )
            raise UnderstandingError(f"the same {self.noun} is named twice in one list{which}")
        self.last = names
        return names

    def place(self, words: str) -> str:
        if words == BACK and self.back is not None:  # where no earlier step says
            raise _Unsaid(self.back.refusal)
        name = self.vocab.resolve(words) or self.vocab.resolve_object(words, self.scene)
        domain = self.scene.domain
        if name is None:
            name = self.place_one(words)
        if name in self.scene.places:
            self.last_place = name
        alike = [n for n, spec in self.scene.places.items() if words in domain.nouns(spec.type)]
        if name is None and len(alike) > 1:  # "the bin" with two bins
            said = " or the ".join(n.replace("_", " ") for n in alike)
            raise UnderstandingError(f"'the {shown(words)}' could be the {said}: say which")
        several = next(
            (
                place_group(self.scene, n)
                for spec in self.scene.places.values()
                for n in domain.nouns(spec.type)
                if plural_of(n) == words
            ),
            (),
        )
        if name is None and len(several) > 1:  # "put the blocks in the bins"
            said = " and the ".join(n.replace("_", " ") for n in several)
            raise UnderstandingError(
                f"'the {shown(words)}' are the {said}: say which one each {self.noun} "
                f"goes to, e.g. 'the {several[0].replace('_', ' ')}'"
            )
        if name is None:
            places = sorted(
                {
                    *(n.replace("_", " ") for n in self.scene.places),
                }
            )
            raise _UnknownPlace(
                f"unknown place '{shown(words.replace('_', ' '))}' "
                f"(known: a {self.noun}, or {', '.join(places)})"
            )
        self.named.setdefault(name, words)
        return name

    def place_one(self, words: str) -> str | None:
        """ "put the red block in the left bin and the blue one in the right one": "one"
        after a place is the kind of place named last ("right one" -> the right bin;
        "the other one" -> the one other place of that kind). None when no place was
        named before or the words name none."""
        head, _, last = words.rpartition(" ")
        if last != "one" or not head or self.last_place is None:
            return None
        kind = self.scene.places[self.last_place].type
        if head == "other":
            others = [n for n, s in self.scene.places.items() if s.type == kind]
            others.remove(self.last_place)
            return others[0] if len(others) == 1 else None
        for noun in self.scene.domain.nouns(kind):
            name = self.vocab.resolve(f"{head} {noun}")
            if name in self.scene.places and self.scene.places[name].type == kind:
                return name
        return None

    def _target(self, target: str | tuple, context: list[str]) -> str:
        """A place or a robot ("put it on robot one"); a pronoun target ("put yellow on
        it") means the object mentioned before."""
        if isinstance(target, tuple) and target[0] == "robot":
            return self.robot(target[1])
        if isinstance(target, tuple):
            if not context:
                raise UnderstandingError(f"'{target[1]}' does not refer to any {self.noun} yet")
            if len(context) > 1:
                self.guess_pronoun(target[1], context)
            return context[-1]
        return self.place(target)

    def robot(self, words: str) -> str:
        text = " ".join(w for w in words.split() if w not in ("the", "a", "an"))
        text = " ".join(self.vocab.lexicon.singular_robot_noun(w) for w in text.split())
        name = self.vocab.robots.get(text)
        head, _, noun = text.rpartition(" ")
        if name is None and head:  # "the base two robot": a robot phrase + a noun of its kind
            named = self.vocab.robots.get(head)
            if named and noun in self.scene.domain.robot_nouns(self.scene.robots[named].kind):
                name = named
        if name is None and text in self.vocab.lexicon.robot_nouns:  # "on the fetcher"
            [name] = self.robots(("the", text))  # one robot of that noun, else refused
        if name is None:
            known = ", ".join(r.replace("_", " ") for r in self.scene.robots)
            raise UnderstandingError(f"unknown robot '{words}' (known: {known})")
        self.named.setdefault(name, words)
        return name

    def robots(self, robots: tuple) -> list[str]:
        """Robots from a list ("robot one and robot two") or all of a noun ("both robots")."""
        kind, value = robots
        if kind == "list":
            names = [self.robot(w) for w in value]
            if len(set(names)) != len(names):
                raise UnderstandingError("the same robot is named twice in one list")
            return names
        noun = self.vocab.lexicon.singular_robot_noun(value)
        domain = self.scene.domain
        names = [n for n, r in self.scene.robots.items() if noun in domain.robot_nouns(r.kind)]
        if not names:
            raise UnderstandingError(f"no robot is a {noun}")
        if kind == "both" and len(names) != 2:  # "both robots" where three are robots
            known = ", ".join(n.replace("_", " ") for n in names)
            raise UnderstandingError(
                f"'both {plural_of(noun)}' names two, but the {plural_of(noun)} here are "
                f"{known}: name them, or say 'all {plural_of(noun)}'"
            )
        if kind == "the" and value == noun and len(names) > 1:  # "the base" with two bases
            known = ", ".join(n.replace("_", " ") for n in names)
            raise UnderstandingError(f"'the {noun}' could be any of {known}: name one")
        for name in names:
            self.named.setdefault(name, f"all {plural_of(noun)}")
        return names

    def carriers(self, noun: str) -> list[str]:
        """The robots of a noun that things can be put on (scene order)."""
        domain = self.scene.domain
        return [
            n
            for n, r in self.scene.robots.items()
            if noun in domain.robot_nouns(r.kind) and domain.put_fact("", n, r.kind)
        ]

    def spread(self, things: list[str], noun: str) -> None:
        """Each object rides on its own robot of that noun (in scene order)."""
        noun = self.vocab.lexicon.singular_robot_noun(noun)
        carriers = self.carriers(noun)
        if not carriers:
            raise UnderstandingError(f"nothing can be carried on a {noun}")
        if len(things) > len(carriers):
            raise UnderstandingError(
                f"{len(things)} {self.nouns} but only {len(carriers)} {plural_of(noun)} "
                "to carry one each"
            )
        via = dict(zip(things, carriers, strict=False))
        self.chosen.update(via.values())
        for item in self.items:
            if item.fact.args and item.fact.args[0] in via:
                item.via = via[item.fact.args[0]]

    def listed(self, robots: list[str]) -> str:
        return " and ".join(_the(r) for r in robots)

    def movers(self, robots: list[str], place: str | None = None) -> None:
        """Refuse "robot one and the packer, go to the dock" when a robot named is none
        that goes places (the robot argument of the domain's locations.robot fact)."""
        if self.scene.domain.locations.robot is None:
            return  # `go` says so
        unable = [r for r in robots if not self.can_go(r)]
        if unable:
            raise UnderstandingError(_cannot_go(self.scene, self.vocab, unable, place))

    def example_robot(self) -> str:
        """How a user would name a robot that goes places (its first alias: "robot one",
        not the generated "base 1 robot")."""
        mobile = [s for s in self.scene.robots.values() if s.start is not None]
        for name, spec in self.scene.robots.items():
            if spec in mobile or not mobile:
                return spec.aliases[0] if spec.aliases else name.replace("_", " ")
        return "the robot"

    def go(self, robot: str, targets: list) -> None:
        """The robot is to end at a place (the domain's locations.robot fact)."""
        predicate = self.scene.domain.locations.robot
        if predicate is None:  # the domain's validation requires it with send/go verbs
            raise UnderstandingError("robots in this world do not move between places")
        self.check_origin(robot)
        if not targets:  # "robot one, drive from the dock"
            raise UnderstandingError(
                f"'{shown(self.origin[0][1])}' says where the {robot.replace('_', ' ')} "
                "is, not where it goes: say where it goes"
            )
        if len(targets) != 1:
            raise UnderstandingError("a robot goes to one place")
        if targets == [BACK] and self.back is not None:  # "then come back"
            place = self.returned(robot, {predicate})
        else:
            place = self._target(targets[0], self.last)
        self.movers([robot], place)
        if place in self.scene.places and place not in destinations(self.scene, robot):
            kind = self.scene.robots[robot].kind
            mobile = [r for r in self.scene.robots if self.can_go(r)]
            able = [r for r in mobile if place in destinations(self.scene, r)]
            if able:
                raise UnderstandingError(
                    f"{_the(robot)} cannot go to the {place.replace('_', ' ')} "
                    f"(robots that can: {', '.join(r.replace('_', ' ') for r in able)})"
                )
            reach = [
                p
                for r in mobile
                if self.scene.robots[r].kind == kind
                for p in destinations(self.scene, r)
            ]
            raise UnderstandingError(
                f"no {kind.replace('_', ' ')} goes to the {place.replace('_', ' ')} "
                f"({plural_of(kind.replace('_', ' '))} go to {_the_places(reach)})"
            )
        if place not in self.scene.places:
            raise UnderstandingError(f"{place.replace('_', ' ')} is not a place a robot goes to")
        fact = Fact(predicate, (robot, place))
        self.replace(lambda i: i.fact.predicate == predicate and i.fact.args[0] == robot, fact)
        self.items.append(GoalItem(fact, self.step))

    def returned(self, name: str, predicates: set[str]) -> str:
        """Where "back" takes an object or a robot: where it was before the one earlier
        step of this command that moved it ("robot one, go to the pick station, then come
        back": the dock), from the state the command starts in. Not said otherwise: no
        earlier step (the planner remembers no earlier command), or several (back to
        which?).

        Raises:
            UnderstandingError: "back" does not say where.
        """
        assert self.back is not None
        earlier = {
            i.step
            for i in (*self.visits, *self.items)
            if i.fact.predicate in predicates and i.fact.args[0] == name and i.step < self.step
        }
        state = self.state if self.state is not None else self.scene.initial_facts()
        start = next(
            (f.args[1] for f in state if f.predicate in predicates and f.args[0] == name), None
        )
        if len(earlier) > 1:
            raise _Unsaid(
                f"not understood: 'back' could be where {_the(name)} was "
                f"before any of {len(earlier)} steps in '{quoted(self.back.command)}'; say where"
            )
        if not earlier or start is None:
            raise _Unsaid(self.back.refusal)
        self.chosen.add(start)
        return start

    def replace(self, old: Callable[[GoalItem], bool], new: Fact) -> None:
        """Take the goal items `new` replaces out of the end goal, remembering their
        names (they were understood): the goal is what must hold when all is done. An
        item of an earlier step becomes a visit on the way (`visits`), so the plan still
        goes there first; one said again is just said later.

        Raises:
            UnderstandingError: the item was asked for in the same step as `new`, so
                nothing says which comes first.
        """
        for item in self.items:
            if not old(item):
                continue
            self.replaced.update(item.fact.args)
            self.replaced.update(r for r in (item.robot, item.via) if r is not None)
            if item.fact == new:
                continue
            if item.step == self.step:
                first, then = (fact_words(f, self.scene) for f in (item.fact, new))
                raise UnderstandingError(
                    f"'{first}' and '{then}' are asked for in one step and cannot both hold: "
                    "say 'then' between them to do one after the other"
                )
            self.visits.append(replaced_with(item, until=self.step))
        self.items = [i for i in self.items if not old(i)]

    # --- facts ------------------------------------------------------------------------

    def add(self, thing: str, target: str, robot: str | None) -> None:
        if thing == target:
            raise UnderstandingError(f"cannot put the {thing.replace('_', ' ')} on itself")
        domain = self.scene.domain
        fact = domain.put_fact(thing, target, self.scene.kind_of(target) or "")
        if fact is None:
            raise UnderstandingError(f"nothing can be put on/in the {target.replace('_', ' ')}")
        held = self.grasped.get(thing)
        if robot is None and held is not None and held[0] is not None:
            robot = held[0]  # "grab X with the left arm, then put it ...": the one holding it
        self.reachable(target, fact.predicate, robot)
        # A later instruction about the same object replaces its earlier destination in
        # the goal (what must hold when the whole command is done); the earlier one is a
        # visit on the way.
        where = domain.location_predicates
        self.replace(lambda i: i.fact.args[0] == thing and i.fact.predicate in where, fact)
        self.grasped.pop(thing, None)  # "pick up X and put it ...": X is put, not held
        self.items.append(GoalItem(fact, self.step, robot))

    def reachable(self, target: str, predicate: str, robot: str | None) -> None:
        """A robot named to put something at a place reaches it: "packer, drop the red
        parcel in the aisle" is refused with what it reaches and who reaches the place
        (no one: "no arm reaches the aisle"). With no robot named, the planner says so.

        Raises:
            UnderstandingError: the named robot does not reach `target`.
        """
        if robot is None or target not in self.scene.places:
            return  # an object or a robot: reached through where it is
        putters = _putters(self.scene, predicate)
        if robot not in putters or self.scene.reaches(robot, target):
            return
        reaching = [r for r in putters if self.scene.reaches(r, target)]
        place = target.replace("_", " ")
        kinds = " or ".join(dict.fromkeys(self.scene.robots[r].kind for r in putters))
        others = (
            f"robots that can: {', '.join(r.replace('_', ' ') for r in reaching)}"
            if reaching
            else f"no {kinds.replace('_', ' ')} reaches the {place}"
        )
        reach = _the_places(self.scene.robots[robot].reach)
        raise UnderstandingError(
            f"{_the(robot)} cannot reach the {place} (it reaches {reach}); {others}"
        )

    def hold(self) -> None:
        """Objects picked up and never put anywhere end held ("pick up the red block"):
        the domain's holder fact, by the robot named or by one that can hold and reach
        the object (the first in scene order: a default, not a guess)."""
        if not self.grasped:
            return
        holder = self.scene.domain.locations.holder
        able = _holders(self.scene)
        if holder is None or not able:
            thing, (_, _, verb) = next(iter(self.grasped.items()))
            raise UnderstandingError(
                f"'{verb}' alone is not supported here: say where to put the "
                f"{thing.replace('_', ' ')} (e.g. '{self.vocab.lexicon.example}')"
            )
        busy = {i.fact.args[0] for i in self.items if i.fact.predicate == holder}
        where = self.scene.domain.location_predicates
        supports = {i.fact.args[1] for i in self.items if i.fact.predicate in where}
        for thing, (robot, step, verb) in self.grasped.items():
            if thing in supports:  # "pick up X, then put Y on it": held, or under Y?
                raise UnderstandingError(
                    f"the {thing.replace('_', ' ')} is to be held ('{verb}') and to have "
                    "something put on it: say where it goes first"
                )
            if robot is None:
                robot = self.holder_for(thing, able, busy)
                self.chosen.add(robot)
            elif robot not in able:
                raise UnderstandingError(
                    f"{_the(robot)} cannot hold a {self.noun} "
                    f"(robots that can: {', '.join(r.replace('_', ' ') for r in able)})"
                )
            busy.add(robot)
            self.items.append(GoalItem(Fact(holder, (robot, thing)), step))

    def holder_for(self, thing: str, able: list[str], busy: set[str]) -> str:
        """A robot to hold `thing`: one that reaches where it is and holds nothing else
        yet, else any that holds nothing (another may hand it over), else one that
        reaches it (the planner then says why not), else the first."""
        where = self.where(thing)
        reach = [r for r in able if where is not None and self.scene.reaches(r, where)]
        free = [r for r in able if r not in busy]
        return ([r for r in reach if r in free] or free or reach or able)[0]

    def where(self, thing: str) -> str | None:
        """The place `thing` is at: from the state when known, else where it starts."""
        if self.state is not None:
            return self.scene.location_of(thing, self.state)
        place: str | None = self.scene.objects[thing].start
        seen = set()
        while place in self.scene.objects and place not in seen:
            seen.add(place)
            place = self.scene.objects[place].start
        return place

    def move(
        self,
        things: list[str],
        targets: list,
        robot: str | None,
        before: list[str] | None = None,
        verb: str | None = None,
    ) -> None:
        for thing in things:
            self.check_origin(thing)
        if not targets:  # "move the red block from the left side": to where?
            what = " and the ".join(t.replace("_", " ") for t in things)
            raise UnderstandingError(
                f"'{shown(self.origin[0][1])}' says where the {what} "
                f"{'are' if len(things) > 1 else 'is'}, not where "
                f"{'they go' if len(things) > 1 else 'it goes'}: say where, e.g. "
                f"'{_example_for(self.scene, self.vocab, 'the ' + what.split(' and the ')[0])}'"
            )
        if targets == [BACK] and self.back is not None:  # "..., then put it back"
            where = set(self.scene.domain.location_predicates)
            for thing in things:
                self.add(thing, self.returned(thing, where), robot)
            return
        if self.onto_each(things, targets, robot, verb):
            return
        places = [self._target(t, before if before is not None else self.last) for t in targets]
        self.not_onto_robot(verb, things, places)
        # "stack red on blue on yellow": a chain of supports.
        for upper, lower in pairwise(places):
            if upper not in self.scene.objects:  # "the red parcel on robot one to X"
                what = " and the ".join(t.replace("_", " ") for t in things)
                raise UnderstandingError(
                    f"only an object can be put somewhere with the {what} on it, not "
                    f"{_the(upper)}: to say where the {what} is now, say 'from "
                    f"{_the(upper)}'"
                )
            if not self.scene.domain.put_fact("", upper, self.scene.kind_of(upper) or ""):
                raise UnderstandingError(
                    f"'{upper.replace('_', ' ')}' cannot hold a {self.noun} on it"
                )
            self.add(upper, lower, robot)
        for thing in things:
            self.add(thing, places[0], robot)

    def onto_each(
        self, things: list[str], targets: list, robot: str | None, verb: str | None
    ) -> bool:
        """ "load the red and blue parcels onto the bases": a plural robot noun as the one
        place puts one object on each of its robots that carry things (in the order said
        and the scene's; any order does what was asked). False when the target is none.

        Raises:
            UnderstandingError: the objects are not as many as those robots.
        """
        if len(targets) != 1 or not isinstance(targets[0], tuple) or targets[0][0] != "robot":
            return False
        words = str(targets[0][1])
        noun = self.vocab.lexicon.singular_robot_noun(words)
        if noun == words or words not in self.vocab.lexicon.robot_nouns:
            return False
        carriers = self.carriers(noun)
        if not carriers:
            raise UnderstandingError(f"nothing can be put on a {noun}")
        if len(things) != len(carriers):
            listed = " and ".join(c.replace("_", " ") for c in carriers)
            count = f"{len(things)} {self.noun if len(things) == 1 else self.nouns}"
            raise UnderstandingError(
                f"'the {words}' are {listed}: {count} cannot go one on each; say which "
                f"goes on which, e.g. '... on {carriers[0].replace('_', ' ')}'"
            )
        self.not_onto_robot(verb, things, carriers)
        for thing, carrier in zip(things, carriers, strict=True):
            self.named.setdefault(carrier, f"the {words}")
            self.add(thing, carrier, robot)
        return True

    def not_onto_robot(self, verb: str | None, things: list[str], places: list[str]) -> None:
        """ "unload X onto base two" asks to take X off a robot and to put it on one: a
        contradiction, refused with what to say instead (the verb it undoes, or a place).

        Raises:
            UnderstandingError: `verb` undoes a put and a place is a robot.
        """
        if verb is None or verb not in self.vocab.lexicon.undoing_verbs:
            return
        carrier = next((p for p in places if p in self.scene.robots), None)
        if carrier is None:
            return
        what = " and the ".join(t.replace("_", " ") for t in things) or self.noun
        it = "them" if len(things) > 1 else "it"
        name = carrier.replace("_", " ")
        # "unloads" (a robot's clause) is suggested and echoed in the base form
        base = next((v for v in self.vocab.lexicon.verbs if third_person(v) == verb), verb)
        raise UnderstandingError(
            f"'{verb}' takes the {what} off a robot, so it cannot put {it} on {name}: say "
            f"'{base[2:]}' to put {it} on {name}, or say where to {base} {it}"
        )

    def stacked_at(
        self, verb: str | None, things: list[str], targets: list, robot: str | None
    ) -> bool:
        """ "stack the red and blue blocks in the center zone", "stack all the blocks in the
        left bin": a tower verb with several objects and one place builds a tower there
        (the first named at the bottom, as in "stack red, blue and yellow"); it used to put
        them side by side, dropping what "stack" says. On an object, the tower stands on it.
        False (not handled) otherwise."""
        if verb not in self.vocab.lexicon.tower_verbs or len(things) < 2 or len(targets) != 1:
            return False
        where = targets[0]
        if not isinstance(where, str):
            return False
        base = self.place(where)
        levels = [(n.replace("_", " "), "") for n in things]
        if base in self.scene.places:
            self.tower(levels, where, robot)
            return True
        kind = self.scene.kind_of(base) or ""
        if (
            base in self.scene.objects
            and base not in things
            and self.scene.domain.put_fact("", base, kind)
        ):  # "stack the red and blue blocks on the green block": a tower on the green one
            self.tower([(base.replace("_", " "), ""), *levels], None, robot)
            return True
        return False

    def tower(self, levels: list[tuple[str, str]], where: str | None, robot: str | None) -> None:
        """Levels in the order spoken, each maybe with a position word."""
        named = [(self.thing(noun), pos) for noun, pos in levels]
        bottom = [b for b, pos in named if "bottom" in pos or "base" in pos]
        top = [b for b, pos in named if "top" in pos]
        middle = [b for b, pos in named if b not in bottom and b not in top]
        if len(bottom) > 1 or len(top) > 1:
            raise UnderstandingError(f"a {self.tower_noun} has one bottom and one top {self.noun}")
        order = bottom + middle + top if (bottom or top) else [b for b, _ in named]
        if len(order) < 2:
            raise UnderstandingError(f"a {self.tower_noun} needs at least two {self.nouns}")
        if where is not None:
            self.add(order[0], self.place(where), robot)
        for lower, upper in pairwise(order):
            self.add(upper, lower, robot)
        self.last = order

    # --- walking ----------------------------------------------------------------------

    def chunk(self, tree: Tree) -> None:
        """One clause with its robots. A clause that only sends robots somewhere ("send
        robot one to the pick station") addresses them, as "robot one, go to ..." does:
        they are the subject of later steps (`_end_step`)."""
        at, sent = len(self._named), len(self._sent)
        self._chunk(tree)
        actions = next(c for c in tree.children if isinstance(c, Tree) and c.data == "actions")
        groups = self._sent[sent:]
        only_sends = all(a.data in ("send", "send_pair") for a in actions.children)
        if self._named[at] is None and groups and only_sends:
            self._named[at : at + 1] = groups
        del self._sent[sent:]

    def _chunk(self, tree: Tree) -> None:
        robots: list[str] = []
        actions = None
        for child in tree.children:
            if isinstance(child, tuple) and child[0] == "robot":
                who = child[1]
                robots = self.robots(who) if isinstance(who, tuple) else [self.robot(who)]
            elif isinstance(child, Tree) and child.data == "actions":
                actions = child
        assert actions is not None
        self._named.append(tuple(robots) or None)
        if (
            not robots
            and self.subject
            and all(
                self.goes(a) or (a.data.startswith("skill__") and _slot_robots(a) is None)
                for a in actions.children
            )
        ):
            robots = list(self.subject)
        if len(robots) < 2:
            for action in actions.children:
                self.action(self.dispatched(action, robots), robots[0] if robots else None)
            return
        # Several robots addressed ("both arms, go home"): each does a skill or goes, in
        # parallel; work on objects needs one robot (never a guess at who does which).
        for action in actions.children:
            action = self.dispatched(action, robots)
            if not self.goes(action) and not action.data.startswith("skill__"):
                raise UnderstandingError(
                    f"one robot does this, not {self.listed(robots)} together: say which"
                )
            if self.goes(action):
                said = next((c for c in action.children if isinstance(c, list)), [None])[0]
                self.movers(robots, self.vocab.resolve(said) if isinstance(said, str) else None)
                for robot in robots:
                    self.action(action, robot)
            elif _slot_robots(action) is not None:  # "both arms, open both grippers"
                self.skill(action, None)
            else:
                self.skill(action, None, robots)

    def dispatched(self, action: Tree, robots: list[str]) -> Tree:
        """Dispatch talk names robots and a place with no verb ("robot one to the pick
        station", "both robots, to the dock", "load it onto robot one, then robot one to
        the dock"): it says where they go, as "robot one, go to ..." does, when each of
        them goes places. Else the step is left to `onward` (an arm named: move on what
        the step before moved, or refuse with what is missing)."""
        if action.data != "onward" or not robots:
            return action
        if not all(self.can_go(r) for r in robots):
            return action
        return Tree("go", action.children)

    def can_go(self, robot: str) -> bool:
        """The domain's go/send words apply to the robot: it is of the type the domain's
        robot location fact is about (a base, not an arm)."""
        return goes_places(self.scene, robot, self.vocab.lexicon)

    def goes(self, action: Tree) -> bool:
        """A "go": said so, or a step that only says where after one ("robot one, go to
        the pick station, then to the dock")."""
        onward = action.data == "onward" and self.moved is not None
        return action.data == "go" or (onward and self.moved[0] == "go")  # type: ignore[index]

    def onward(self, targets: list, robot: str | None) -> None:
        """A step that is only a destination ("..., then to the right bin", "..., and then
        in the right bin") moves on what the last put or go moved, as "..., then move it
        to the right bin" or "..., then go to the right bin" would.

        Raises:
            UnderstandingError: nothing before it put or sent anything somewhere.
        """
        if self.moved is None:
            said = " ".join(t if isinstance(t, str) else t[1] for t in targets).replace("_", " ")
            if robot is not None:  # "left arm to the left bin": put what there?
                raise UnderstandingError(
                    f"only a place ('{shown(said)}') is said for the "
                    f"{robot.replace('_', ' ')}, not what it should put there: say what, "
                    f"e.g. '{self.vocab.lexicon.example.split(', ')[0]}'"
                )
            raise UnderstandingError(
                f"only a place ('{shown(said)}') is said, not what goes there: say what, e.g. "
                f"'{self.vocab.lexicon.example.split(', ')[0]}'"
            )
        kind, things = self.moved
        if kind == "go":
            self.action(Tree("go", [targets]), robot)
            return
        before = list(self.last)
        self.last = list(things)
        self.not_a_chain(things, targets)
        self.not_for_objects(things, targets)
        self.move(list(things), targets, robot, before)

    def not_for_objects(self, things: tuple[str, ...], targets: list) -> None:
        """ "bring the red parcel to the packing station, then home": the step moves the
        parcel on, but nothing can be put at the dock; a robot that goes places may have
        been meant: refused with who goes there.

        Raises:
            UnderstandingError: the place holds no objects and a robot goes there.
        """
        said = targets[0] if len(targets) == 1 and isinstance(targets[0], str) else None
        place = self.vocab.resolve(said) if said else None
        if place not in self.scene.places or not things:
            return
        domain, thing = self.scene.domain, things[0]
        if domain.put_fact(thing, place, self.scene.kind_of(place) or ""):
            return
        going = [r for r in self.scene.robots if self.can_go(r) and self.scene.reaches(r, place)]
        if not going or not self.vocab.lexicon.send_verbs:
            return
        spec = self.scene.robots[going[0]]
        robot = spec.aliases[0] if spec.aliases else going[0].replace("_", " ")
        now = next((i.fact.args[1] for i in reversed(self.items) if i.fact.args[0] == thing), "")
        put = f" was put at the {now.replace('_', ' ')}" if now else " was moved"
        where = place.replace("_", " ")
        raise UnderstandingError(
            f"only a place ('{shown(said.replace('_', ' '))}') is said after the "
            f"{thing.replace('_', ' ')}{put}, and nothing can be put at the {where}: say who "
            f"goes there, e.g. 'then {self.vocab.lexicon.send_verbs[0]} {robot} to the {where}'"
        )

    def not_a_chain(self, things: tuple[str, ...], targets: list) -> None:
        """ "stack red on blue, then on yellow" may move red on, or stack blue (with red)
        on yellow: after an object was put on an object, a step that only names another
        object says neither, so it is refused with the words for each.

        Raises:
            UnderstandingError: the last destination and this one are both objects.
        """
        if len(targets) != 1 or not isinstance(targets[0], str) or targets[0] == BACK:
            return
        new = self.vocab.resolve_object(targets[0], self.scene)
        under = next(
            (i.fact.args[1] for i in reversed(self.items) if i.fact.args[:1] == things[:1]), None
        )
        if new is None or under not in self.scene.objects:
            return
        moved, below, on = (n.replace("_", " ") for n in (things[0], under, new))
        raise UnderstandingError(
            f"only a place ('{shown(targets[0])}') is said after the {moved} was put on the "
            f"{below}: say which {self.noun} goes on the {on}, e.g. 'then put the {moved} on "
            f"the {on}' or 'then put the {below} on the {on}'"
        )

    def action(self, tree: Tree, robot: str | None) -> None:
        """One action; its "from X" places are taken out of its targets and checked
        against where the objects or robots it moves are (`check_origin`)."""
        if self._acting:
            self._action(tree, robot)
            return
        self._acting, self._origin_checked = True, False
        try:
            self._action(tree, robot)
            if self.origin and not self._origin_checked:  # nothing said to move from X
                raise UnderstandingError(
                    f"'{shown(self.origin[0][1])}' is not understood here: say what "
                    f"moves from there, e.g. '{self.vocab.lexicon.example.split(', ')[0]}'"
                )
        finally:
            self._acting = False
            self.origin = []

    def _left_out_last(self, tree: Tree) -> Tree:
        """ "put all the blocks in the left bin except the red one" as "put all the blocks
        except the red one in the left bin"; an exception after a list ("put the red and
        blue blocks in the bin, except the blue one") leaves out what the same command
        names: refused, never half done.

        Raises:
            UnderstandingError: the objects before it are not "all ..." (or "every ...").
        """
        verb, objects, targets, others = tree.children
        if objects[0] != "all":
            raise _Unsaid(
                "'except …' leaves out of 'all the "
                f"{self.nouns}' only: name the {self.nouns} that go, or say 'all the "
                f"{self.nouns} except …'"
            )
        return Tree("move", [verb, ("all_except", (objects[1], others)), targets])

    def _from_targets(self, parts: list) -> list:
        """`parts` with the "from X" places taken out of each target chain, into
        `origin`."""
        kept = []
        self._part_origins = []
        for part in parts:
            origins = []
            if isinstance(part, list):
                self.relative_first(part)
                said = [t for t in part if isinstance(t, str) and t in self.origins]
                origins = [self.origins[t] for t in said]
                part = [t for t in part if not (isinstance(t, str) and t in self.origins)]
            self.origin += origins
            self._part_origins.append(origins)
            kept.append(part)
        return kept

    def relative_first(self, targets: list) -> None:
        """A relative clause says where the objects before it are ("move the block that is
        in the center zone to ..."): after where they go ("put the red block on the blue
        block that is in the left bin") it would say where that is, which is no goal and
        is not checked: refused, never read as a destination.

        Raises:
            UnderstandingError: a relative clause after the first place of the chain.
        """
        for target in targets[1:]:
            if isinstance(target, str) and target in self.relative:
                said = self.origins[target][1]
                raise UnderstandingError(
                    f"'{shown(said)}' is understood only right after what moves, not after "
                    f"where it goes: leave it out"
                )

    def located(self, name: str) -> tuple[str | None, bool]:
        """Where object or robot `name` is when the current step starts (a place, or what
        it stands on or rides on), and whether an earlier step of the command put it
        there; else from the state the command starts in."""
        domain = self.scene.domain
        facts = set(domain.location_predicates)
        if domain.locations.robot is not None:
            facts.add(domain.locations.robot)
        for item in reversed(self.items):
            fact = item.fact
            if item.step < self.step and fact.predicate in facts and fact.args[0] == name:
                return fact.args[1], True
        state = self.state if self.state is not None else self.scene.initial_facts()
        at = [f.args[1] for f in state if f.predicate in facts and f.args[0] == name]
        # What it stands or rides on before a place: a state with derived facts has both
        # ("on(yellow,red)", "at(yellow,center)"); the first found was a set's order, so
        # "the block that is on the red block" was found there or not from run to run.
        return min(at, key=lambda w: (w in self.scene.places, w), default=None), False

    def at_origin(self, name: str, origin: str) -> bool:
        """`name` is at `origin` (or at one of its places: "off the table"): directly, or
        on what stands or rides there."""
        places = origin_places(self.scene, origin)
        seen: set[str] = set()
        where: str | None = name
        while where is not None and where not in seen:
            seen.add(where)
            where = self.located(where)[0]
            if where in places:
                return True
        return False

    def check_origin(self, name: str) -> None:
        """Each "from X" of the action names where `name` is.

        Raises:
            UnderstandingError: it is elsewhere, said with where it is.
        """
        for origin, said in self.origin:
            if not self.at_origin(name, origin):
                where, later = self.located(name)
                what = _the(name)
                if where is None:
                    raise UnderstandingError(
                        f"'{shown(said)}' cannot be checked: where {what} is is not "
                        "known; leave it out"
                    )
                on = "at" if where in self.scene.places else "on"
                robot = self.scene.robots.get(where)
                words = (
                    robot.aliases[0]
                    if robot is not None and robot.aliases
                    else f"the {where.replace('_', ' ')}"
                )
                prep = next((w for w in ORIGIN_WORDS if said.startswith(f"{w} ")), None)
                if said.split()[0] in RELATIVE_WORDS:  # "that is in ...": "that is at ..."
                    opening = " ".join(said.split()[:2])
                    advice = f"say '{opening} {on} {words}', or leave '{opening} ...' out"
                elif prep:
                    advice = f"say '{prep} {words}', or leave '{prep} ...' out"
                else:
                    advice = f"say '{words}', or leave the place out"
                raise UnderstandingError(
                    f"'{shown(said)}' is not where {what} is: it is {on} the "
                    f"{where.replace('_', ' ')}{' by then' if later else ''}; {advice}"
                )
            self.qualifiers.add(origin)
        self._origin_checked = True

    def from_things(self, objects: tuple) -> list[str]:
        """The objects of an action with "from X": "all blocks from X", "the two blocks
        from X" are those at X; named objects must be there (`check_origin`)."""
        kind, value = objects
        described = (
            kind == "list"
            and len(value) == 1
            and self.vocab.resolve_object(value[0], self.scene) is None
        )
        if not self.origin or len(self.origin) > 1 or kind not in ("all", "list"):
            return self.things(objects)
        origin, said = self.origin[0]
        if kind == "all":
            names = self.every(value)
            there = [n for n in names if self.at_origin(n, origin)]
            if not there:
                raise UnderstandingError(
                    f"'all {value} {shown(said)}' names no {self.noun}: none is "
                    f"{self.relation(origin)}"
                )
            self.excluded.update(n for n in names if n not in there)
        elif described:
            there = self.described(value[0], origin)
            if there is None:
                return self.things(objects)
        else:
            return self.things(objects)
        self.qualifiers.add(origin)
        self._origin_checked = True
        self.last = there
        return there

    def _action(self, tree: Tree, robot: str | None) -> None:
        parts = self._from_targets([c for c in tree.children if not isinstance(c, Token)])
        verb = next(
            (
                " ".join(c.split())
                for c in tree.children
                if isinstance(c, Token) and c.type == "VERB"
            ),
            None,
        )
        if tree.data.startswith("skill__"):
            self.skill(tree, robot)
            return
        if tree.data == "move_except":  # "put all blocks in the left bin except the red one"
            self._action(self._left_out_last(tree), robot)
            return
        if tree.data not in ("move", "send", "send_pair", "go", "onward"):
            self.moved = None  # "stack red on blue, then to the bin": which block?
        if tree.data == "move":
            objects, targets = parts
            if not targets and verb in self.vocab.lexicon.grasp_verbs:  # "take X from Y"
                self._action(Tree("mention", [Token("PICKUP", verb), objects]), robot)
                return
            if targets == [BACK] and self.back and objects[0] == "pronoun" and not self.last:
                raise _Unsaid(self.back.refusal)  # "put it back": nothing, nowhere
            before = list(self.last)
            located = self.qualified(objects, targets) if len(targets) > 1 else None
            if located is not None:
                things, targets = located
            else:
                things = self.from_things(objects)
            if self.stacked_at(verb, things, targets, robot):
                self.last_deed, self.moved = None, None
                return
            self.move(things, targets, robot, before, verb)
            self.last_deed = ("move", targets, robot)
            self.moved = ("move", tuple(things))
        elif tree.data == "ditto":  # "..., and the yellow block too"
            if self.last_deed is None:
                raise UnderstandingError("'too' does not say what to do: say where it goes")
            kind, targets, asked = self.last_deed
            (objects,) = parts
            names = self.things(objects)
            if kind == "move":
                self.move(names, targets, robot or asked, [])
            else:
                for name in names:
                    self.grasped[name] = (robot or asked, self.step, targets[0])
        elif tree.data == "move_pair":
            first, first_target, second, second_target = parts
            said, each = self.origin, self._part_origins  # "from X" of each pair its own
            before = list(self.last)
            self.origin = each[1]
            self.move(self.things(first), first_target, robot, before, verb)
            before = list(self.last)
            self.origin = each[3]
            self.move(self.things(second), second_target, robot, before, verb)
            self.origin = said
        elif tree.data in ("send", "send_pair"):
            for robots, targets in zip(parts[::2], parts[1::2], strict=True):
                names = self.robots(robots)
                self._sent.append(tuple(names))
                for name in names:
                    self.go(name, targets)
            self.moved = ("go", ())
        elif tree.data == "onward":
            self.onward(parts[0], robot)
        elif tree.data == "move_spread":
            objects, targets = parts[:2]
            before = list(self.last)
            things = self.things(objects)
            self.move(things, targets, robot, before, verb)
            self.spread(things, str(tree.children[-1]))
            self.not_onto_robot(verb, things, [i.via for i in self.items if i.via])
        elif tree.data == "go":
            (targets,) = parts
            if robot is None:
                lexicon = self.vocab.lexicon
                nouns = tuple(n for n in lexicon.robot_nouns if n in lexicon.fillers)
                said = re.search(rf"\b({_or_never(nouns)})\s*[,:]", self.text)
                if said:  # "robots, go to the dock": a filler that speaks to no robot
                    said = said[1]
                    every = plural_of(lexicon.singular_robot_noun(said))
                    raise UnderstandingError(
                        f"'{said}' does not say which robot goes: name it, e.g. "
                        f"'{self.example_robot()}, go to ...', or say 'all {every}, go to ...'"
                    )
                raise UnderstandingError(
                    "'go' does not say which robot: name it first, e.g. "
                    f"'{self.example_robot()}, go to ...'"
                )
            self.go(robot, targets)
            self.moved = ("go", ())
        elif tree.data == "mention":  # "pick up X": held, unless "... and put it ..."
            objects, *where = parts
            where = [w for w in where if w]  # "pick up X from Y": where X is
            verb = " ".join(str(tree.children[0]).split())
            located = self.qualified(objects, [*where[0], None]) if where else None
            if where and located is None and len(where[0]) == 1:  # "pick up X at Y": X is at Y
                said = where[0][0]
                words = said[1] if isinstance(said, tuple) else f"the {said.replace('_', ' ')}"
                self.origin.append((self._target(said, self.last), words))
                where = []
            if where and located is None:
                raise UnderstandingError(
                    f"'{verb} ... {where[0][0]}': say which {self.noun} by its colour, "
                    f"or where to put it with a verb such as '{self.vocab.lexicon.verbs[0]}'"
                )
            for name in located[0] if located else self.from_things(objects):
                self.check_origin(name)
                self.grasped[name] = (robot, self.step, verb)
            self.last_deed = ("mention", [verb], robot)
        elif tree.data == "stack_list":
            (objects,) = parts
            names = self.things(objects)
            # "stack red, blue and yellow": the first named ends on top.
            levels = [(n.replace("_", " "), "") for n in reversed(names)]
            self.tower(levels, None, robot)
        elif tree.data == "tower":
            where = next((p[1] for p in parts if isinstance(p, tuple) and p[0] == "where"), None)
            levels = [p for p in parts if isinstance(p, list)]
            flat = (
                levels[0]
                if levels
                else [p for p in parts if isinstance(p, tuple) and p[0] != "where"]
            )
            self.tower(flat, where, robot)
        elif tree.data == "tower_of":
            where = next((p[1] for p in parts if isinstance(p, tuple) and p[0] == "where"), None)
            objects = next(p for p in parts if isinstance(p, tuple) and p[0] != "where")
            names = self.things(objects)
            bottom_up = any(isinstance(c, Token) and c.type == "BOTTOM_UP" for c in tree.children)
            # "a tower of red, blue and yellow" names the top first unless "bottom up".
            order = names if bottom_up else list(reversed(names))
            self.tower([(n.replace("_", " "), "") for n in order], where, robot)

    def skill(self, tree: Tree, robot: str | None, several: list[str] | None = None) -> None:
        """A skill asked for by name: its robots are those named (in the phrase, else for
        the clause: `robot`, or `several`, each a task), else the first that offers it
        (a default, not a guess)."""
        skill, *named = tree.data.removeprefix("skill__").split("__")
        slots = [x for x in named if x != "robot"]
        said = [str(c) for c in tree.children if isinstance(c, Token) and c.type == "NUMBER"]
        inner = _slot_robots(tree)
        robots = several or ([robot] if robot is not None else [])
        if inner is not None:  # "open the left gripper", "open both grippers"
            robots = self.robots(inner)
        domain = self.scene.domain
        able = [n for n, r in self.scene.robots.items() if domain.kind_offers(r.kind, skill)]
        words = " ".join(skill.split("_"))
        if not able:
            raise UnderstandingError(f"no robot here can {words}")
        unnamed = not robots
        if unnamed:
            robots = [able[0]]
            self.chosen.add(able[0])
        place = self.skill_place(tree)
        # "robot one, go home": a robot that goes places goes to the place said
        moves = place is not None and robots and all(self.can_go(r) for r in robots)
        if moves and not set(robots) & set(able):
            for name in robots:
                self.go(name, [place])
            self.moved = ("go", ())
            return
        unable = [_the(r) for r in robots if r not in able]
        if unable:
            known = ", ".join(r.replace("_", " ") for r in able)
            raise UnderstandingError(
                f"{' and '.join(unable)} cannot {words} (robots that can: {known})"
            )
        the = next((c[1] for c in tree.children if isinstance(c, tuple) and c[0] == "the"), None)
        if the is not None and not all(
            the in domain.robot_nouns(self.scene.robots[r].kind) for r in robots
        ):  # "close the robot": the slot's "the <noun>" is the robot asked
            raise UnderstandingError(f"'the {the}' names no robot here that can {words}")
        spec = domain.skills[skill]
        args: dict[str, float] = {}
        for slot, text in zip(slots, said, strict=True):
            value = float(NUMBER_WORDS.get(text, 0) if text in NUMBER_WORDS else text)
            arg = spec.args[slot]
            low, high = arg.minimum, arg.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                raise UnderstandingError(
                    f"{words}: {slot} must be between {low:g} and {high:g}, not {value:g}"
                )
            args[slot] = value
        after = any(i.step == self.step for i in self.items) or any(
            step == self.step for _, step, _ in self.grasped.values()
        )
        for name in robots:
            self.actions.append(TaskRequest(self.step, name, skill, dict(args), after, unnamed))
        self.last_deed = None

    def skill_place(self, tree: Tree) -> str | None:
        """The place a skill phrase's words name after its verb ("go home", "go back
        home": "home", when a place has that alias), as said; None when they name none
        ("go to your home position", "wait 5 seconds")."""
        words = [w for c in tree.children if isinstance(c, Token) for w in str(c).split()]
        if not words or any(c.type == "NUMBER" for c in tree.children if isinstance(c, Token)):
            return None
        said = " ".join(w for w in words[1:] if w != "back")
        return said if self.vocab.resolve(said) in self.scene.places else None

    def walk(self, tree: Tree) -> None:
        sequence = tree.children[0] if tree.data == "start" else tree
        self.step = 0
        for step in sequence.children:
            if step.data == "once":
                condition, chunk = step.children
                objects, targets = condition.children
                before = list(self.last)
                self.move(self.things(objects), targets, None, before)
                self.step += 1  # what follows "once X is ..." waits for it
                self.chunk(chunk)
            else:
                for chunk in step.children:
                    self.chunk(chunk)
            self._end_step()
            self.step += 1
        self.hold()

    def _end_step(self) -> None:
        """The step's one addressed robot set becomes the subject of later steps; a step
        that named several, or named some chunks' robots and not others', ends it."""
        named, self._named = self._named, []
        sets = set(named)
        if sets == {None} or not sets:
            return
        self.subject = list(sets.pop()) if len(sets) == 1 else None  # type: ignore[arg-type]

    def check_accounted(self, command: str) -> None:
        """Every object, place and robot the command names is in the goal (or in a visit
        a later step superseded), and the goal names nothing else: a command is never
        half done while the run reports success.

        Raises:
            UnderstandingError: what was not understood, and what was.
        """
        if not self.items and not self.actions:
            raise UnderstandingError(f"nothing to do in '{quoted(command)}'")
        used = {a for i in self.items for a in i.fact.args} | set(self.grasped)
        used.update(r for i in self.items for r in (i.robot, i.via) if r is not None)
        used.update(a.robot for a in self.actions)
        understood = ", ".join(
            [*(str(i.fact) for i in self.items), *(f"{a.skill}({a.robot})" for a in self.actions)]
        )
        accounted = self.replaced | self.excluded | self.qualifiers
        for name, words in self.named.items():
            if name not in used and name not in accounted:
                raise UnderstandingError(
                    f"not understood what to do with '{words}' in '{quoted(command)}' "
                    f"(understood only: {understood})"
                )
        extra = sorted(used - set(self.named) - self.chosen)
        if extra:
            raise UnderstandingError(
                f"the goal ({understood}) names {extra[0]}, which '{quoted(command)}' does not"
            )


def _slot_robots(tree: Tree) -> tuple | None:
    """The robots a skill phrase names in its {robot} slot ("open both grippers"), or
    None: no slot, or "open the gripper" (the robot the clause asks, as without a slot)."""
    if not tree.data.startswith("skill__"):
        return None
    return next((c for c in tree.children if isinstance(c, tuple) and c[0] != "the"), None)


def _the(name: str) -> str:
    """A robot or object as a sentence names it: "the left arm", but "base 1" (a name
    with a number needs no article)."""
    words = name.replace("_", " ")
    return words if words[-1].isdigit() else f"the {words}"


def _the_places(names: Iterable[str]) -> str:
    """ "the pick station, the packing station and the dock"."""
    said = [f"the {n.replace('_', ' ')}" for n in dict.fromkeys(names)]
    return " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)


def _putters(scene: Scene, predicate: str) -> list[str]:
    """Robots with a skill whose effect adds a `predicate` fact (they put things so)."""
    skills = {
        name
        for name, skill in scene.domain.skills.items()
        if any(Pattern.parse(t).predicate == predicate for e in skill.effects for t in e.add)
    }
    return [
        name
        for name, robot in scene.robots.items()
        if any(scene.domain.kind_offers(robot.kind, s) for s in skills)
    ]


def _holders(scene: Scene) -> list[str]:
    """Robots with a skill that makes the domain's holder fact: those that can be left
    holding an object."""
    holder = scene.domain.locations.holder
    if holder is None:
        return []
    grasps = {
        name
        for name, skill in scene.domain.skills.items()
        if any(Pattern.parse(t).predicate == holder for e in skill.effects for t in e.add)
    }
    return [
        name
        for name, robot in scene.robots.items()
        if any(scene.domain.kind_offers(robot.kind, s) for s in grasps)
    ]


def _unknown_word(text: str, vocab: Vocabulary) -> str | None:
    """The first word of a clause that is neither a verb of any class (put, grasp, tower,
    send, go, a skill phrase's) nor the start of a known name, after fillers and the
    words that open a clause ("first", "once", "at the same time"): an "unknown action"
    message must never name a verb the language knows ("send base two somewhere" failed
    on "somewhere", not on "send"; "picker, wait 2 seconds" not on "2")."""
    lexicon = vocab.lexicon
    known = {p.split()[0] for p in (*vocab.phrases, *vocab.robots)}
    starts = _verb_starts(lexicon) | {*lexicon.tower_nouns, *known}
    openers = (*lexicon.fillers, *SEQUENCE_WORDS, *PARALLEL_WORDS, *POSITIONS, *_CLAUSE_STARTS)
    skipped = {w for phrase in openers for w in phrase.split()} | set(lexicon.reserved)
    names = {tuple(p.split()) for p in (*vocab.phrases, *vocab.robots)}
    clauses = re.split(r"\b(?:then|and|after that|finally|while|meanwhile)\b|[,;.:!?]", text)
    for clause in clauses:
        words = clause.split()
        for i, word in enumerate(words):
            # A verb, or a name (which may start with a filler word: "robot one, ...").
            if word in starts or any(tuple(words[i : i + len(n)]) == n for n in names):
                break
            if word not in skipped:
                return word
    return None


def _unknown_addressee(text: str, vocab: Vocabulary) -> str | None:
    """The words before "<words>, <verb> ..." when they name no known robot ("the truck,
    go to the dock"): a robot spoken to, not an unknown action."""
    match = re.match(r"\s*(?:(?:the|a|an)\s+)?(?P<who>[a-z][a-z ]*?)\s*,\s*(?P<verb>\S+)", text)
    if match is None or match["verb"] not in _verb_starts(vocab.lexicon):
        return None
    who = match["who"]
    words = who.split()
    if len(words) > 3 or any(w in _verb_starts(vocab.lexicon) for w in words):
        return None
    lexicon = vocab.lexicon
    nouns = {*lexicon.robot_nouns, *(lexicon.singular_robot_noun(n) for n in lexicon.robot_nouns)}
    openers = {w for p in (*lexicon.fillers, *SEQUENCE_WORDS, *_CLAUSE_STARTS) for w in p.split()}
    if who in vocab.robots or words[-1] in nouns or set(words) & openers:
        return None
    return who


def understand_command(
    command: str, scene: Scene, state: frozenset[Fact] | None = None
) -> Understanding:
    """What `command` asks for; raise `UnderstandingError` with a readable reason.

    A refused command with near-miss words ("teh red blok") says what it may have meant
    ("did you mean 'the red block'?"): a suggestion for the user, never acted on.
    """
    try:
        return _understand(command, scene, state)
    except UnderstandingError as exc:
        suggestion = None
        if not isinstance(exc, _Unsaid):
            action = exc.word if isinstance(exc, _UnknownAction) else None
            suggestion = did_you_mean(command, Vocabulary.from_scene(scene), action=action)
        if suggestion is None:
            raise
        raise UnderstandingError(f"{exc}; did you mean '{quoted(suggestion)}'?") from None


def _where_it_failed(
    command: str, text: str, exc: UnexpectedInput, fillers: tuple[str, ...]
) -> str:
    """Where the parse of `text` (the normalised `command`) failed, for the refusal, in the
    user's own words: " near '<the rest as said>'", or, when the text ended while more was
    expected (lark says position -1: "near 'd'" quoted the last letter), that it ends too
    early, with its last words as said. Never a word a rewrite made ("go back to" is read
    as "go to"; the user must recognise what is quoted)."""
    position = getattr(exc, "pos_in_stream", None)
    if isinstance(exc, UnexpectedEOF) or position is None or position < 0:
        last = " ".join(command.split()[-4:])
        return f": it ends too early, after '{quoted(last, 30)}'" if last else ""
    start = _said_at(command, text, position, fillers)
    if start is None:
        return ""
    if not command[:start].strip():  # the whole command: "near" would repeat it
        return ""
    near = quoted(command[start:], 30)
    return f" near '{near}'" if near else ""


def _said_at(command: str, text: str, position: int, fillers: tuple[str, ...]) -> int | None:
    """Where in `command` the word is that the parser stopped at, at `position` in `text`
    (`command` normalised and rewritten: "back"/"on" dropped, "and" read as "then",
    names joined with "_", robot nouns added). The words are aligned; a word a rewrite
    put in or changed is placed at the user's word it stands for (or the next one). None
    when the failure is past the user's last word."""
    said = list(re.finditer(r"\S+", command))
    words: list[tuple[str, int]] = []  # each normalised word and the said word it is from
    for index, match in enumerate(said):
        words += [(w, index) for w in re.split(r"[\s_]+", _normalise(match[0], fillers)) if w]
    read = list(re.finditer(r"[^\s_]+", text))
    at = next((j for j, m in enumerate(read) if m.end() > position), len(read))
    matcher = SequenceMatcher(None, [w for w, _ in words], [m[0] for m in read], autojunk=False)
    for tag, i1, _, j1, j2 in matcher.get_opcodes():
        if j1 <= at < j2 or (at == j1 == j2):
            i = i1 + (at - j1) if tag == "equal" else i1
            return said[words[i][1]].start() if i < len(words) else None
    return None


#: "back" before a destination ("go back to the dock", "put it back in the left bin"):
#: the destination says where; "back home" is a skill phrase's own word.
def _understand(command: str, scene: Scene, state: frozenset[Fact] | None = None) -> Understanding:
    """`understand_command` without the did-you-mean.

    Every object, place and robot the command names must end up in the goal, or the
    command is refused: a goal that silently lost part of a command would be planned,
    run and reported as a success. `state` (optional) says where objects are now, for
    choosing a robot to hold what "pick up X" leaves held.
    """
    vocab = Vocabulary.from_scene(scene)
    example = vocab.lexicon.example
    if not isinstance(command, str) or not command.strip():
        hint = f", e.g. '{example.split(', ')[0]}'" if example else ""
        raise UnderstandingError(f"empty command: say what to do{hint}")
    if len(command) > MAX_COMMAND_CHARS:
        raise UnderstandingError(f"command is longer than {MAX_COMMAND_CHARS} characters")
    said = _down(_normalise(command, vocab.lexicon.fillers))
    _no_condition(said, vocab, command)
    said = _desired(said, vocab)
    if _NEXT_TO.search(said) and _unknown_word(said, vocab) is None:
        relation = " ".join(_NEXT_TO.search(said)[0].split())  # type: ignore[index]
        raise _Unsaid(_relation_refusal(relation, command, scene))
    text = _polite_question(said, vocab)
    text = _tail_then(text, vocab)
    text = _colon_list(text, scene, vocab)
    text = _sent_pronoun(text, scene, vocab, command)
    text = _dispatch_comma(text, vocab)
    text = vocab.join_compounds(text)
    _no_count_of_trips(text, scene, vocab, command)
    text = _verb_names(text, scene, vocab)
    text, origins, relative = _from_places(text, scene, vocab)
    text = _to_bare_place(text, scene, vocab)
    text, bare = _bare_steps(text, scene, vocab, command)
    text, back = _without_back(text, scene, vocab, command)
    try:
        tree = _TREE.transform(_parser(vocab.lexicon).parse(text))
    except UnexpectedInput as exc:
        word = _unknown_word(text, vocab)
        if back is not None and word in (None, BACK):  # "to back" was not said: "back" was
            raise _Unsaid(back.refusal) from None
        if bare and (word is None or word in bare.split("'")[1].split()):  # "then home"
            raise _Unsaid(bare) from None
        who = _unknown_addressee(text, vocab)
        if who:
            known = ", ".join(r.replace("_", " ") for r in scene.robots)
            raise UnderstandingError(
                f"unknown robot '{shown(who)}' in '{quoted(command)}' (known: {known})"
            ) from None
        if word:
            raise _UnknownAction(
                f"unknown action '{shown(word)}' in '{quoted(command)}' "
                f"(known: {vocab.lexicon.known_actions()})",
                word,
            ) from None
        relation = _unknown_relation(said, scene, vocab)
        if relation:
            raise _Unsaid(_relation_refusal(relation, command, scene)) from None
        motion = _motion_refusal(text, scene, vocab)
        if motion:
            raise _Unsaid(motion) from None
        where = _where_it_failed(command, text, exc, vocab.lexicon.fillers)
        hint = f"; try e.g. '{example}'" if example else ""
        raise UnderstandingError(
            f"could not understand '{quoted(command)}'{where}{hint}"
        ) from None
    interpreter = _Interpreter(scene, vocab, state, back)
    interpreter.origins, interpreter.relative, interpreter.text = origins, relative, text
    try:
        interpreter.walk(tree)
    except _UnknownPlace:
        relation = _unknown_relation(said, scene, vocab)  # "in front of", "to the left of"
        if relation:
            raise _Unsaid(_relation_refusal(relation, command, scene)) from None
        raise
    interpreter.check_accounted(command)
    result = Understanding(
        interpreter.items, interpreter.actions, interpreter.guesses, interpreter.visits
    )
    problems = scene.domain.contradictions(result.goal)
    for until in sorted({v.until for v in result.visits if v.until is not None}):
        if problems:
            break
        # the goal just before the step that moves something on must be possible too
        problems = scene.domain.contradictions(
            [i.fact for i in result.in_force(lambda step, until=until: step < until)]
        )
    if problems:
        raise UnderstandingError(f"impossible: {problems[0]}")
    return result


def understand(command: str, scene: Scene) -> list[Fact]:
    """Goal facts for a command (see `understand_command` for order and robots)."""
    return understand_command(command, scene).goal
