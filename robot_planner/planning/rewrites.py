"""Rewrites of a command's text before it is parsed: phrasings said other ways are put in
the grammar's forms ("make sure the red block is in the left bin" -> "the red block should
be in the left bin", "from X" -> a checked origin, "drive it" -> the robot named before),
and what a plan cannot do as said is refused with one line (conditions, negations, "back"
with no place, counts of trips). A rewrite takes the text and returns it rewritten, or
raises `_Unsaid`; `robot_planner.planning.language` applies them in order. What the rewrites
and the interpreter both ask (where a robot can be sent, the places a noun names, "back")
is here too."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from robot_planner.planning.lexicon import (
    _NEVER,
    _TEMPLATE,
    MOTION_VERBS,
    ORIGIN_WORDS,
    PARALLEL_WORDS,
    PLACE_PREPOSITIONS,
    SEQUENCE_WORDS,
    Lexicon,
    Vocabulary,
    _alternatives,
    _near_miss,
    _or_never,
    _run_regex,
    _slots,
    _Unsaid,
    _verb_starts,
    known_words,
    plural_of,
)
from robot_planner.untrusted import quoted, shown
from robot_planner.world.facts import Pattern
from robot_planner.world.scene import Scene

_BACK_TO = re.compile(r"\bback\s+(?=(?:to|into|in|onto|on|at|inside|over)\b)")
#: "on to the packing station", "over to the right bin": "to" it
_ON_TO = re.compile(r"\b(?:on|over)\s+(?=to\b)")
#: "go there and (come) back": going back comes after going there, as with "then"
_AND_BACK = re.compile(r"\band\s+(?!then\b)(?=(?:[a-z]+\s+){0,3}back\b(?!\s+home\b))")
#: "back" with no place ("put it back", "come back", "put it back where it was")
_BACK = re.compile(
    r"\bback(?:\s+where\s+(?:it|they)\s+(?:was|were|came\s+from|started))?\b(?!\s+home\b)"
)
#: what a bare "back" becomes for the parser: a place named "back" (`_Interpreter.back`)
BACK = "back"


def on_to_verbs(lexicon: Lexicon) -> tuple[str, ...]:
    """The words before a verb's own "on to" / "over to" ("hold" of "hold on to"): after
    them the "on" stays, elsewhere "on to" is read as "to" (`_without_back`; the JSGF)."""
    said = (*lexicon.verbs, *lexicon.grasp_verbs, *lexicon.send_verbs, *lexicon.go_verbs)
    return tuple(v.rsplit(" ", 2)[0] for v in said if v.endswith((" on to", " over to")))


def back_is_dropped(vocab: Vocabulary) -> bool:
    """ "back" before a place is dropped ("go back to the dock") and a bare "back" is
    resolved, unless a name has the word ("the back shelf"): then it is the name's."""
    return BACK not in {w for p in (*vocab.phrases, *vocab.robots) for w in p.split()}


def destinations(scene: Scene, robot: str) -> list[str]:
    """The places `robot` can be sent to: those it reaches whose type a skill of its kind
    takes as its one argument and moves the robot to (``navigate(place)``), not every
    place it reaches (the fetcher reaches the aisle's floor but parks in no bay there)."""
    domain = scene.domain
    predicate = domain.locations.robot
    spec = scene.robots.get(robot)
    if predicate is None or spec is None:
        return []
    types: set[str] = set()
    for skill in domain.skills_of(spec.kind):
        skill_spec = domain.skills[skill]
        if len(skill_spec.args) != 1:
            continue
        [(arg, arg_spec)] = skill_spec.args.items()
        moved = Pattern.parse(f"{predicate}(?robot,?{arg})")
        if any(moved == Pattern.parse(t) for e in skill_spec.effects for t in e.add):
            types.update(arg_spec.types)
    return [p for p in spec.reach if any(scene.is_a(p, t) for t in types)]


def goes_places(scene: Scene, robot: str, lexicon: Lexicon) -> bool:
    """The domain's go/send words apply to `robot`: it is of the type the domain's robot
    location fact is about (a base, not an arm); verbless dispatch sends only these."""
    predicate = scene.domain.locations.robot
    if predicate is None or not (lexicon.go_verbs or lexicon.send_verbs):
        return False
    return scene.is_a(robot, scene.domain.predicates[predicate].args[0])


@dataclass(frozen=True)
class _Back:
    """The "back" of a command that has one with no place: the refusal to give when it
    cannot be resolved from the command itself."""

    refusal: str
    command: str


def _without_back(
    text: str, scene: Scene, vocab: Vocabulary, command: str
) -> tuple[str, _Back | None]:
    """`text` with "back" before a destination dropped ("go back to the dock" goes to the
    dock) and "on to" / "over to" read as "to" (not a verb's own: "hold on to"). A "back"
    with no place ("then come back") becomes the place `BACK`, which the interpreter
    resolves to where the robot or object was before the one earlier step of the command
    that moved it; with no such step ("put it back" alone: the planner remembers no
    earlier command) it is refused with the returned `_Back`."""
    kept = tuple(f"{w} " for w in on_to_verbs(vocab.lexicon))
    text = _ON_TO.sub(lambda m: m[0] if text[: m.start()].endswith(kept) else "", text)
    if not back_is_dropped(vocab):
        return text, None  # a name with "back" in it ("the back shelf")
    text = _BACK_TO.sub("", _AND_BACK.sub("then ", text))
    left = _BACK.search(text)
    if left is None:
        return text, None
    refusal = (
        f"not understood: 'back' names no place in '{quoted(command)}'; say where, e.g. "
        f"'{_back_example(text[: left.start()], scene, vocab)}'"
    )
    return _BACK.sub(f"to {BACK}", text), _Back(refusal, command)


def _back_example(before: str, scene: Scene, vocab: Vocabulary) -> str:
    """A command that says where, for a "back" that does not: a robot sent back ("robot
    one, go back", "send robot two back") goes to where it starts; an object is put
    somewhere (the domain's example). The clause's verb decides, or the last before it."""
    lexicon = vocab.lexicon
    example = lexicon.example.split(", ")[0]
    going = {*lexicon.go_verbs, *lexicon.send_verbs} - set(lexicon.verbs)
    verbs = going | {v.split()[0] for v in (*lexicon.verbs, *lexicon.grasp_verbs)}
    clauses = re.split(r"[,;.:!?]|\b(?:then|and)\b", before)
    said = next(
        (set(c.split()) & verbs for c in reversed(clauses) if set(c.split()) & verbs), set()
    )
    mobile = {n: s.start for n, s in scene.robots.items() if s.start is not None}
    if not going & said or not mobile:
        return example
    named = sorted(  # the mobile robot the command names first, as it names it
        (m.start(), phrase, name)
        for phrase, name in vocab.robots.items()
        if name in mobile
        for m in [re.search(rf"\b{re.escape(phrase)}\b", before)]
        if m is not None
    )
    if named:
        _, phrase, name = named[0]
    else:
        name = next(iter(mobile))
        aliases = scene.robots[name].aliases
        phrase = aliases[0] if aliases else name.replace("_", " ")
    return f"{phrase}, go to the {str(mobile[name]).replace('_', ' ')}"


def _dispatch_comma(text: str, vocab: Vocabulary) -> str:
    """Dispatch talk with no verb ("robot one to the pick station", "picker to the dock"):
    a comma after the robots that open a clause, so they are read as who is addressed,
    as in "robot one, to the pick station", not as an object ("robot" is a filler, and
    "one to the pick station" a verbless move of an object 'one'). So too before a verb
    ("the base one goes to ...": not "the base" and an object 'one'; "packer drops ...":
    a name with no robot noun is a robot where it is addressed). Not after a verb in
    the same clause ("send robot one, robot two to ...": they are what is sent). Whether
    they go is the interpreter's (`_Interpreter.dispatched`); a comma is no word."""
    if not vocab.robots:
        return text
    names = "|".join(
        r"\s+".join(map(re.escape, p.split())) for p in sorted(vocab.robots, key=len, reverse=True)
    )
    one = rf"(?:the\s+)?(?:{names})"
    opens = _alternatives((*SEQUENCE_WORDS, *PARALLEL_WORDS))
    fillers = _alternatives(vocab.lexicon.fillers)
    lexicon = vocab.lexicon
    verbs = {
        w
        for v in (*lexicon.verbs, *lexicon.grasp_verbs, *lexicon.send_verbs, *lexicon.go_verbs)
        for w in v.split()[:1]
    }
    # ... or before a verb ("the base one goes to ...", "packer drops ..."): who does it
    said = _alternatives((*verbs, *(v.split()[0] for v in lexicon.tower_verbs)))
    said += "|" + _alternatives(tuple(lexicon.skill_starts())) if lexicon.skills else ""
    robots = re.compile(
        rf"(?P<open>^|[,;:.!?]|\b(?:{opens})\b)\s*(?:(?:{fillers})\s+)*"
        rf"{one}(?:\s*(?:,\s*|\s+)(?:and\s+)?{one})*\b"
        rf"(?=\s+(?:(?:back|on|over)\s+)?to\b|\s+from\b|\s+(?:{said})\b)"
    )

    def addressed(match: re.Match[str]) -> str:
        clause = re.split(rf"[;.!?]|\b(?:{opens})\b", text[: match.end("open")])[-1]
        return match[0] if verbs & set(re.findall(r"[a-z']+", clause)) else match[0] + ","

    return robots.sub(addressed, text)


#: "can the left arm put ...?", "could robot one go ...": a polite question to a robot
MODAL_WORDS = ("can", "could", "would", "will")
#: "the right arm should put ...": what a robot is to do, said after it
TOLD_WORDS = (
    *MODAL_WORDS,
    "should",
    "must",
    "shall",
    "has to",
    "have to",
    "needs to",
    "need to",
    "is to",
    "is going to",
    "are going to",
)


_DESIRE = re.compile(
    r"^(?:i\s+(?:want|need|would\s+like)|i'd\s+like|make\s+sure|ensure|see\s+to\s+it)"
    r"(?:\s+that)?\s+(?!you\b)(?P<rest>.+)$"
)


def _desired(text: str, vocab: Vocabulary) -> str:
    """ "I want the red block in the left bin", "make sure the red block is in the left
    bin", "I'd like the blocks to be in the right bin": a wish for a state is that state
    as a goal ("the red block should be in the left bin"), not a statement of fact. Each
    step is read on its own ("..., then make sure the blue block is on it")."""
    steps = re.split(
        rf"((?:[,;.]\s*|\s+)(?:(?:{_alternatives(SEQUENCE_WORDS)})\s+)|[;.]\s+)", text
    )
    return "".join(part if i % 2 else _wish(part, vocab) for i, part in enumerate(steps))


def _wish(text: str, vocab: Vocabulary) -> str:
    """One step of `_desired`."""
    wish = _DESIRE.match(text)
    if wish is None:
        return text
    if wish["rest"].startswith("to "):  # "make sure to put ...": a command
        return wish["rest"].removeprefix("to ")
    who = wish["rest"].split(" to ", 1)[0]
    if " to " in wish["rest"] and who.removeprefix("the ") in vocab.robots:
        return f"ask {wish['rest']}"  # "I want the left arm to put ...": ask it
    done = re.match(
        r"(?P<what>.+?)\s+(?:(?:to\s+be|is|are)\s+)?(?P<how>stacked|piled|placed|put|moved)"
        r"(?P<where>\s+.+)?$",
        wish["rest"],
    )
    if done:  # "I want all the blocks stacked in the center zone": the verb's goal
        verb = "stack" if done["how"] in ("stacked", "piled") else "put"
        return f"{verb} {done['what']}{done['where'] or ''}"
    return re.sub(
        r"(?:\b(?:is|are|to\s+be)\b|(?<= )'s\b|\bto(?=\s+go\b))",
        lambda m: "should" if m[0] == "to" else "should be",
        wish["rest"],
        count=1,
    )


def _tail_then(text: str, vocab: Vocabulary) -> str:
    """ "pick up the red block with the left arm and put the blue block in the right bin":
    a robot said after its clause ends that clause, so "and" and a verb after it start the
    next one, as ", then" does (the goal is the same; it was not understood near 'the blue
    block')."""
    if not vocab.robots:
        return text
    robots = _alternatives(tuple(p.replace("_", " ") for p in vocab.robots))
    verbs = _alternatives(tuple(_verb_starts(vocab.lexicon)))
    return re.sub(
        rf"\b(?P<tail>(?:with|using)\s+(?:the\s+)?(?:{robots}))\s*,?\s+and\s+"
        rf"(?:then\s+)?(?=(?:{verbs})\b)",
        r"\g<tail>, then ",
        text,
    )


def _polite_question(text: str, vocab: Vocabulary) -> str:
    """A polite question that names a robot ("can the left arm put the red block in the
    left bin?", "could robot one please go to the dock", "would both arms go home") asks
    that robot, as "the left arm puts ..." does: the modal is dropped where it opens a
    clause before a robot phrase (a known robot, or words before a robot noun: "could
    the third arm ..." is then refused as an unknown robot, not as an unknown action).
    "can you ..." is a filler. Only the word order of a question changes: what the
    robot is asked to do is read as before."""
    lexicon = vocab.lexicon
    nouns = _or_never(lexicon.robot_nouns)
    names = _alternatives(tuple(vocab.robots)) if vocab.robots else _NEVER
    opens = _alternatives((*SEQUENCE_WORDS, *PARALLEL_WORDS))
    modal = re.compile(
        rf"(?P<open>^|[,;:.!?]|\b(?:{opens})\b)(?P<gap>\s*(?:(?:{_alternatives(lexicon.fillers)})"
        rf"\s+)*)(?:{_alternatives(MODAL_WORDS)})\s+"
        rf"(?=(?:the\s+)?(?:{names})\b|(?:both|all|the)\s+(?:[a-z0-9']+\s+){{0,2}}?(?:{nouns})\b)"
    )
    text = modal.sub(lambda m: m["open"] + m["gap"], text)
    # "the right arm should put ...", "both arms must go home": a robot told what it is
    # to do, as "the right arm puts ..." does
    robot = rf"(?:the\s+)?(?:{names})|(?:both|all|the)\s+(?:[a-z0-9']+\s+){{0,2}}?(?:{nouns})"
    told = re.compile(rf"(?P<robot>\b(?:{robot}))\s+(?:{_alternatives(TOLD_WORDS)})\s+(?=[a-z])")
    text = told.sub(lambda m: m["robot"] + " ", text)
    # "tell the left arm to put ...", "have robot two bring ...": a robot asked through
    # the user, before a verb (not "get robot one to the dock": a send)
    verbs = {
        v.split()[0]
        for v in (
            *lexicon.verbs,
            *lexicon.grasp_verbs,
            *lexicon.tower_verbs,
            *lexicon.send_verbs,
            *lexicon.go_verbs,
            *lexicon.skill_starts(),
        )
    }
    asked = re.compile(
        rf"(?P<open>^|[,;:.!?]|\b(?:{opens}|and)\b)(?P<gap>\s*(?:(?:{_alternatives(lexicon.fillers)})"
        rf"\s+)*)(?:(?:tell|ask|get)\s+(?P<to>{robot})\s+to|(?:have|let|make)\s+(?P<bare>{robot}))"
        rf"\s+(?=(?:{_or_never(tuple(verbs))})\b)"
    )
    return asked.sub(lambda m: f"{m['open']}{m['gap']}{m['to'] or m['bare']} ", text)


def _colon_list(text: str, scene: Scene, vocab: Vocabulary) -> str:
    """ "stack the blocks: red on blue, green on red", "put the blocks: red in the left
    bin, blue in the right bin": a verb and the plural noun of the objects before a colon
    introduce what is said after it, as "stack red on blue, green on red". The noun names
    every object of its type, so it narrows nothing the words after the colon name (read
    as one list, "the blocks" and "red" named the red block twice). Not after anything
    else ("all the blocks:" says all move, "the left arm:" who moves them)."""
    lexicon = vocab.lexicon
    verbs = (*lexicon.verbs, *lexicon.tower_verbs)
    nouns = {plural_of(n) for o in scene.objects.values() for n in scene.domain.nouns(o.type)}
    if not verbs or not nouns:
        return text
    introduced = re.compile(
        rf"\b(?P<verb>{_alternatives(verbs)})\s+(?:the\s+)?"
        rf"(?:{_alternatives(tuple(nouns))})\s*:\s*"
    )
    return introduced.sub(lambda m: f"{m['verb']} ", text)


def _known_relations(scene: Scene) -> str:
    """The place relations the domain has, in its own words, for a refusal: "on a block,
    in a bin, at a zone; also to, into, ..." (each target type's put fact, said with its
    predicate's name when that is a preposition, else the word its question puts between
    the object and the target: "Is {0} on {1}'s tray?" -> "on"), then the other words
    the grammar takes before a place."""
    domain = scene.domain
    said: dict[str, list[str]] = {}
    for kind, patterns in domain.locations.put.items():
        predicate = Pattern.parse(patterns[0]).predicate
        word = predicate if predicate in PLACE_PREPOSITIONS else ""
        question = domain.predicates[predicate].question if predicate in domain.predicates else ""
        between = re.search(r"\{0\}\s+([a-z]+)\b[^{]*\{1\}", question)
        word = word or (between[1] if between else predicate.replace("_", " "))
        nouns = domain.nouns(kind) if kind in domain.types else ()
        noun = nouns[0] if nouns else kind.replace("_", " ")  # a robot kind: "a base"
        said.setdefault(word, []).append(_a(noun))
    relations = [f"{word} {' or '.join(dict.fromkeys(nouns))}" for word, nouns in said.items()]
    others = [  # "inside of" is "inside" said longer
        p
        for p in PLACE_PREPOSITIONS
        if p not in said and not (p.endswith(" of") and p[:-3] in PLACE_PREPOSITIONS)
    ]
    return f"{', '.join(relations)}; also {', '.join(others)}"


#: Words that join clauses or say who does it ("... and the blue block", "... with the
#: left arm"): a run of words with one of them is no relation.
_CLAUSE_JOINS = (
    "and",
    "then",
    "with",
    "using",
    "from",
    "off",
    "as",
    "while",
    "whilst",
    "meanwhile",
    "simultaneously",
    "after",
    "afterwards",
    "finally",
    "lastly",
    "once",
    "when",
    "except",
    "but",
    "plus",
)

#: Words that make what to do depend on what is found ("if the red block is in the bin,
#: ..."): a plan does not branch, so they are refused with what to say instead.
CONDITION_WORDS = ("if", "unless", "whether", "otherwise")
#: Words that say what not to do ("don't move the blue block", "never ..."): refused.
NEGATION_WORDS = ("don't", "dont", "do not", "never", "doesn't", "does not", "avoid")
#: Words that say how to move ("carefully put ..."): skills run at their own speed and
#: force, so the plan cannot do as said; refused rather than dropped.
MANNER_WORDS = ("quickly", "slowly", "carefully", "gently", "softly", "fast", "faster", "slower")


#: "down" as a verb's particle ("set the green block down in the middle", "put it down
#: on the blue block", "set down the red block in ..."): it says nothing the place after
#: it does not; elsewhere it stays, and is refused as a word the language lacks.
_DOWN = re.compile(
    rf"\bdown\s+(?=(?:{_alternatives(PLACE_PREPOSITIONS)})\b)|(?<=\bput\s)down\s+"
    r"|(?<=\bset\s)down\s+|(?<=\blay\s)down\s+"
)


def _down(text: str) -> str:
    return _DOWN.sub("", text)


def _no_condition(said: str, vocab: Vocabulary, command: str) -> None:
    """Refuse "if the red block is on the left side, put it in the left bin" with what to
    say: a plan does not branch on what is found, and the rest must not be done as if the
    condition were not said ("if possible" is a filler, not a condition).

    Raises:
        _Unsaid: a condition word outside the fillers.
    """
    fillers = sorted(vocab.lexicon.fillers, key=len, reverse=True)
    bare = re.sub(rf"\b(?:{'|'.join(map(re.escape, fillers))})\b", " ", said)
    negation = re.search(rf"(?<![\w'])({_alternatives(NEGATION_WORDS)})(?![\w'])", bare)
    if negation:  # "don't move the blue block": read without it, it would be done
        raise _Unsaid(
            f"'{negation[1]}' in '{quoted(command)}' says what not to do, which a plan "
            "cannot promise: say only what to do"
        )
    manner = re.search(rf"\b({_alternatives(MANNER_WORDS)})\b", bare)
    if manner:
        raise _Unsaid(
            f"'{manner[1]}' in '{quoted(command)}' says how to move, which a plan does not "
            "set (each skill moves at its own speed): leave it out"
        )
    found = re.search(rf"\b({_alternatives(CONDITION_WORDS)})\b", bare)
    if found:
        raise _Unsaid(
            f"'{found[1]}' in '{quoted(command)}' asks for a plan that depends on what is "
            "found, which plans do not: say what to do, or 'once ..., ...' for one thing "
            "after another"
        )


#: Words before a place that say how the object is, not where ("the red block is behind
#: the blue block"): not part of a relation's name.
_BEING = ("is", "are", "'s", "goes", "go", "should go", "must go", "should be", "must be")


def _unknown_relation(text: str, scene: Scene, vocab: Vocabulary) -> str | None:
    """The words between an object (or a verb of going) and the object or place after it
    that are no relation the language knows ("put the red block behind the blue block":
    'behind'; "in front of", "to the left of", "between"), for a refusal that names them;
    None when there are none, when the words are known (the command failed elsewhere),
    or when they start with a near miss of a known word (a typo: "put the red blok ...",
    left to the did-you-mean). Only ever asked about a command that was not understood."""
    lexicon = vocab.lexicon
    objects = [p for p, n in vocab.phrases.items() if n in scene.objects and "_" not in p]
    # "the red and blue blocks in ...", "the blue one": a noun said after a list
    nouns = {n for s in scene.objects.values() for n in scene.domain.nouns(s.type)}
    said = {*nouns, *map(plural_of, nouns), "one", "ones"}
    objects += sorted(said)
    targets = [p for p, n in vocab.phrases.items() if "_" not in p]
    going = (*MOTION_VERBS, *lexicon.go_verbs)
    if not objects or not targets:
        return None
    left = rf"(?:{_alternatives((*objects, 'it', 'them', *going))})"
    gap = r"(?P<gap>[a-z']+(?:\s+[a-z']+){0,4}?)"
    pattern = re.compile(
        rf"\b{left}\s+{gap}\s+(?:(?:the|a|an)\s+)?(?:{_alternatives(tuple(targets))})\b"
    )
    # words that join clauses or say who, not how: the failure is elsewhere
    # (not a skill's first word: "close to the blue block" is no "close the gripper")
    verbs = (*lexicon.verbs, *lexicon.grasp_verbs, *lexicon.tower_verbs, *lexicon.send_verbs)
    stop = {*_CLAUSE_JOINS, *(f for f in lexicon.fillers if " " not in f)}
    stop |= {v.split()[0] for v in verbs}
    prepositions = {w for p in PLACE_PREPOSITIONS for w in p.split()} | {"the", "a", "an"}
    known = known_words(vocab)
    position = 0
    while (match := pattern.search(text, position)) is not None:
        position = match.start("gap")
        words = match["gap"].split()
        while words and (words[0] in _BEING or words[0] in said or words[0] == "back"):
            words = words[1:]
        while len(words) > 1 and " ".join(words[:2]) in _BEING:
            words = words[2:]
        relation = " ".join(words)
        if not words or set(words) <= prepositions or set(words) & stop:
            continue  # "go on to to the dock": a known relation said twice
        if words[0] not in known and _near_miss(words[0], known) is not None:
            return None
        return relation
    return None


def _relation_refusal(relation: str, command: str, scene: Scene) -> str:
    return (
        f"unknown place relation '{shown(relation)}' in '{quoted(command)}' "
        f"(known: {_known_relations(scene)})"
    )


#: Sequence words that are a relation's before "to": "next to the blue block" is never
#: "next" and a step that only says where ("to the blue block"), which planned a stack
#: nobody asked for (the voice grammar leaves them out before such a step too).
RELATION_BEFORE_TO = ("next",)
_NEXT_TO = re.compile(rf"\b(?:{_alternatives(RELATION_BEFORE_TO)})\s+to\b")


def _phrases_of(names: Iterable[str], vocab: Vocabulary) -> str:
    """A regex alternation of the vocabulary's phrases for `names` (longest first), as
    they stand in the text after `Vocabulary.join_compounds`: none with a grammar word
    in it ("pick", a place and a verb, stays the verb's)."""
    wanted, reserved = set(names), set(vocab.lexicon.reserved)
    said = [p for p, n in vocab.phrases.items() if n in wanted and not reserved & set(p.split())]
    return _alternatives(tuple(said)) if said else _NEVER


def _verb_names(text: str, scene: Scene, vocab: Vocabulary) -> str:
    """A name of one word that is also a grammar word ("pick": the pick station's alias
    and a verb) names the place or object after a preposition and before the clause ends
    or another preposition ("go to pick", "from pick to packing"): it is swapped for the
    scene's name ("pick_station"), which the parser reads as a name. Elsewhere it is the
    grammar's word ("pick the red parcel")."""
    reserved = set(vocab.lexicon.reserved)
    names = {
        p: n
        for p, n in vocab.phrases.items()
        if p in reserved and (n in scene.places or n in scene.objects) and vocab.resolve(n) == n
    }
    if not names:
        return text
    prep = r"(?:to|into|in|onto|on|at|inside|over|towards|from)"
    ends = rf"(?:$|[,;.:!?]|\b(?:and|{_alternatives((*SEQUENCE_WORDS, *PARALLEL_WORDS))})\b)"
    pattern = re.compile(
        rf"\b(?P<before>{prep}\s+(?:the\s+)?)(?P<name>{_alternatives(tuple(names))})\b"
        rf"(?=\s*{ends}|\s+(?:back\s+)?{prep}\b)"
    )
    return pattern.sub(lambda m: m["before"] + names[m["name"]], text)


#: A relative clause before a relation (`RELATIVE_WORDS`): it says where the objects are,
#: as "from X" does, and only right after them.
_RELATIVE = re.compile(
    r"(?:that|which)\s+(?:is|are|'s)\s+(?:on\s+top\s+of|inside\s+of|inside|in|on|at)"
)

#: What "from X" becomes for the parser: a place in the target chain that names where the
#: object or robot is, not where it goes (`_Interpreter.origin`).
FROM = "from_"
#: "the rest", "the others": the objects a command has not named before (`the_rest`).
REST_WORDS = ("rest", "others", "other ones", "remaining ones")
#: An origin that is a noun of several places ("off the table", "out of the bins"): the
#: object is at one of them. Said only where an object is, never where it goes.
ANY_OF = "any of "


def place_group(scene: Scene, noun: str) -> tuple[str, ...]:
    """The places a noun of their type names ("table": every zone), scene order."""
    return tuple(n for n, p in scene.places.items() if noun in scene.domain.nouns(p.type))


def _a(noun: str) -> str:
    """ "a bin", "an area"."""
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def origin_places(scene: Scene, origin: str) -> tuple[str, ...]:
    """The places an origin says: one place, or those of `ANY_OF` a noun."""
    if origin.startswith(ANY_OF):
        return place_group(scene, origin.removeprefix(ANY_OF))
    return (origin,)


def _from_places(
    text: str, scene: Scene, vocab: Vocabulary
) -> tuple[str, dict[str, tuple[str, str]], frozenset[str]]:
    """ "move the red block from the left side to the center zone", "drive from the dock
    to the pick station", "unload it from robot one into the bin", "take the red block from
    the left side", "take the parcel off robot one": "from X" (or "off X") says where the
    object or robot is. It becomes a place of the
    target chain, a name word `FROM` + letters, which the interpreter checks and takes out
    (`_Interpreter.origin`); returned: each such word -> (X's scene name, the words said),
    and the words of those said as a relative clause ("the block that is in the center
    zone": a description narrowed to those there, as "the block in the center zone" is),
    which the interpreter takes only right after what moves (`_Interpreter.relative`)."""
    said = {**vocab.phrases, **vocab.robots}
    # "the middle of the table": a name of two words said "X of the N", as elsewhere
    said |= {p.replace(" ", " of the ", 1): n for p, n in vocab.phrases.items() if " " in p}
    nouns = {n for p in scene.places.values() for n in scene.domain.nouns(p.type)}
    for noun in nouns:  # "off the table", "out of the bins": at one of those places
        if len(place_group(scene, noun)) > 1:
            for phrase in (noun, plural_of(noun)):
                said.setdefault(phrase, ANY_OF + noun)
    reserved = set(vocab.lexicon.reserved) - set(vocab.lexicon.robot_nouns)
    phrases = tuple(p for p in said if not reserved & set(p.split()) - {"of", "the"})
    if not phrases:
        return text, {}, frozenset()
    prep = r"(?:to|into|in|onto|on|at|inside|over)\b"
    ends = rf"(?:$|[,;.:!?]|\b(?:and|{_alternatives((*SEQUENCE_WORDS, *PARALLEL_WORDS))})\b)"
    pattern = re.compile(
        # not "apart from the red block": an exception (EXCEPT_WORDS), no place
        rf"(?<!\bapart )\b(?P<from>{_alternatives(ORIGIN_WORDS)}"
        rf"|(?P<relative>{_RELATIVE.pattern}))\s+"
        rf"(?P<said>(?:the\s+)?(?P<name>{_alternatives(phrases)}))"
        rf"(?=\s+(?:back\s+)?(?P<prep>{prep})|\s*(?P<end>{ends})|\s+(?:with|using)\b)"
    )
    origins: dict[str, tuple[str, str]] = {}
    relative: set[str] = set()

    def marked(match: re.Match[str]) -> str:
        word = FROM + "".join(chr(97 + int(d)) for d in str(len(origins)))  # a name word
        said_from = " ".join(match["from"].split()).replace(" 's", "'s")
        words = f"{said_from} " + " ".join(match["said"].split()).replace("_", " ")
        origins[word] = (said[" ".join(match["name"].split())], words)
        if match["relative"]:
            relative.add(word)
        return f"{'to' if match['prep'] else 'at'} {word}"

    return pattern.sub(marked, text), origins, frozenset(relative)


def _example_for(scene: Scene, vocab: Vocabulary, said: str) -> str:
    """The domain's example command (its first clause) about the object `said` ("the
    green block"): its own object's words swapped for these."""
    example = vocab.lexicon.example.split(", ")[0]
    named = [
        m
        for p, n in vocab.phrases.items()
        if n in scene.objects
        for m in [re.search(rf"\bthe\s+{re.escape(p)}\b", example)]
        if m
    ]
    if not named:
        return example
    first = min(named, key=lambda m: (m.start(), -m.end()))
    return f"{example[: first.start()]}{said}{example[first.end() :]}"


#: Going to and fro with no number of trips ("drive back and forth between A and B").
_TRIPS = re.compile(r"\b(?:back\s+and\s+forth|forth\s+and\s+back|to\s+and\s+fro)\b")


def _no_count_of_trips(text: str, scene: Scene, vocab: Vocabulary, command: str) -> None:
    """Refuse "back and forth" / "to and fro": no number of trips is said (a plan has an
    end), with one trip said so that is understood: a robot that goes places goes to a
    place and back, an object is put somewhere and put back.

    Raises:
        _Unsaid: the text has such words.
    """
    trips = _TRIPS.search(text)
    if trips is None:
        return
    lexicon = vocab.lexicon
    named = sorted(  # what the command names, in order (the longest phrase first)
        (
            (m.start(), phrase, name)
            for phrase, name in (*vocab.robots.items(), *vocab.phrases.items())
            for m in re.finditer(rf"\b{re.escape(phrase)}\b", text)
        ),
        key=lambda x: (x[0], -len(x[1])),
    )
    going = {*lexicon.go_verbs, *lexicon.send_verbs} - set(lexicon.verbs)
    mobile = [r for r in scene.robots if goes_places(scene, r, lexicon)]
    robots = [(p, n) for _, p, n in named if n in mobile]
    things = [(p, n) for _, p, n in named if n in scene.objects]
    if mobile and (robots or (going & set(text.split()) and not things)):
        phrase, robot = robots[0] if robots else ("", mobile[0])
        spec = scene.robots[robot]
        if not robots:
            phrase = spec.aliases[0] if spec.aliases else robot.replace("_", " ")
        places = [n for _, _, n in named if n in spec.reach] + list(spec.reach)
        place = next((p for p in places if p != spec.start), places[0])
        verb = "go" if "go" in lexicon.go_verbs else (lexicon.go_verbs or ("go",))[0]
        example = f"{phrase}, {verb} to the {place.replace('_', ' ')} and back"
    else:
        said = f"the {things[0][0]}" if things else ""
        clause = _example_for(scene, vocab, said) if said else lexicon.example.split(", ")[0]
        example = f"{clause}, then {lexicon.verbs[0]} it back"
    raise _Unsaid(
        f"not understood: '{' '.join(trips[0].split())}' says no number of trips in "
        f"'{quoted(command)}'; say each one, e.g. '{example}'"
    )


def _cannot_go(scene: Scene, vocab: Vocabulary, robots: list[str], place: str | None) -> str:
    """Why `robots` (none: the robot a command left unnamed) do not go to `place`, by the
    domain's robot kinds: those of robots that go places (the domain's robot location
    fact) and those that stay where they stand; and a command that works: a robot that
    goes there, else one that reaches it, putting something there."""
    lexicon = vocab.lexicon
    mobile = [r for r in scene.robots if goes_places(scene, r, lexicon)]
    staying = robots or [r for r in scene.robots if r not in mobile]
    kinds = [plural_of(k.replace("_", " ")) for k in scene.domain.robot_kinds]

    def kinds_of(names: list[str]) -> str:
        said = {plural_of(scene.robots[n].kind.replace("_", " ")) for n in names}
        return " and ".join(k for k in kinds if k in said)

    where = f"the {place.replace('_', ' ')}" if place else "a place"
    who = f"the {' and the '.join(r.replace('_', ' ') for r in robots)} cannot go to {where}"
    why = f"{kinds_of(staying)} stay where they stand, " + (
        f"only {kinds_of(mobile)} go to places" if mobile else "and no robot here goes to places"
    )

    def called(name: str) -> str:
        spec = scene.robots[name]
        return spec.aliases[0] if spec.aliases else name.replace("_", " ")

    going = [r for r in mobile if place is None or scene.reaches(r, place)]
    if going:
        verb = "go" if "go" in lexicon.go_verbs else (*lexicon.go_verbs, "go")[0]
        example = f"say e.g. '{called(going[0])}, {verb} to {where}'"
        if not robots:  # no robot named that the words could be
            return f"no robot named here goes to {where}: {why}; {example}"
        return f"{who}: {why}; {example}"
    first = (not robots and f"no robot goes to {where}") or who
    reaching = [r for r in (*robots, *scene.robots) if place is None or scene.reaches(r, place)]
    verbs = [v for v in ("move", "bring", "take", "carry") if v in lexicon.verbs]
    if not reaching or not verbs or place is None:
        return f"{first}: {why}; say what to do, e.g. '{lexicon.example.split(', ')[0]}'"
    arm = reaching[0]
    state = scene.initial_facts()
    things = [o for o in scene.objects if scene.reaches(arm, scene.location_of(o, state) or "")]
    thing = (things or list(scene.objects))[0].replace("_", " ")
    whose = "it should" if robots else "to"
    return (
        f"{first}: {why}; say what {whose} put there, e.g. '{called(arm)}, {verbs[0]} the "
        f"{thing} to {where}'"
    )


def _motion_refusal(text: str, scene: Scene, vocab: Vocabulary) -> str | None:
    """For a command the parser did not take: a robot told to go to a place with a verb
    of going ("left arm, go to the left bin", "go back to the left bin" in a world whose
    robots stay where they stand) is refused with `_cannot_go`; None when no such words."""
    verbs = _alternatives((*MOTION_VERBS, *vocab.lexicon.go_verbs))
    places = _phrases_of(scene.places, vocab) + f"|{BACK}"  # "come back": no place said
    going = re.search(
        rf"\b(?:{verbs})\s+(?:(?:on|over)\s+)?(?:to|into|towards)\s+(?:the\s+)?"
        rf"(?P<place>{places})\b",
        text,
    )
    if going is None:
        return None
    place = vocab.resolve(going["place"]) if going["place"] != BACK else None
    clause = re.split(r"[;.!?]|\b(?:then|and|after that|finally)\b", text[: going.start()])[-1]
    named = [
        (m.start(), -len(phrase), name)
        for phrase, name in vocab.robots.items()
        for m in re.finditer(rf"\b{re.escape(phrase)}\b", clause)
    ]
    robots = [min(named)[2]] if named else []
    if robots and goes_places(scene, robots[0], vocab.lexicon):
        return None  # a robot that goes places: the parse failed elsewhere
    return _cannot_go(scene, vocab, robots, place)


def _sent_pronoun(text: str, scene: Scene, vocab: Vocabulary, command: str) -> str:
    """ "load the red parcel onto robot one, then drive it to the packing station": after
    a verb that only ever sends robots ("drive", "send", "dispatch"; not "move" or
    "bring", which also move objects) "it" is the robot that goes places the command
    named before, said by its name so the parser reads a send.

    Raises:
        _Unsaid: two such robots were named before it (which one goes?).
    """
    lexicon = vocab.lexicon
    only = tuple(v for v in lexicon.send_verbs if v not in lexicon.verbs)
    both = tuple(v for v in lexicon.send_verbs if v in lexicon.verbs)
    mobile = {r for r in scene.robots if goes_places(scene, r, lexicon)}
    if not (only or both) or not mobile:
        return text
    phrases = {p: n for p, n in vocab.robots.items() if n in mobile}
    for noun in lexicon.robot_nouns:  # "the fetcher": the one robot of its noun
        of_noun = [r for r in mobile if noun in scene.domain.robot_nouns(scene.robots[r].kind)]
        if len(of_noun) == 1:
            phrases.setdefault(noun, of_noun[0])
    if not phrases:
        return text
    names = re.compile(rf"\b(?:{_alternatives(tuple(phrases))})\b")
    sent = re.compile(rf"\b(?:{_alternatives(only)})\s+(?P<it>it)\b") if only else None
    # "load the red parcel onto robot one and send it to ...": after a verb that moves
    # objects too, "it" is the robot only when what "it" was just went onto that robot
    carried = (
        re.compile(
            rf"\b(?:on|onto|on to)\s+(?:the\s+)?(?P<robot>{_alternatives(tuple(phrases))})\s*"
            rf"(?:,\s*)?(?:(?:and|{_alternatives(SEQUENCE_WORDS)})\s+)*"
            rf"(?P<verb>{_alternatives(both)})\s+it\b"
        )
        if both
        else None
    )

    def robot(match: re.Match[str]) -> str:
        said = {m[0]: phrases[m[0]] for m in names.finditer(text, 0, match.start())}
        robots = list(dict.fromkeys(said.values()))
        verb = match[0][: match.start("it") - match.start()]
        if not robots:
            first = next(r for r in scene.robots if r in mobile)
            aliases = scene.robots[first].aliases
            example = aliases[0] if aliases else first.replace("_", " ")
            raise _Unsaid(
                f"'{verb}it' names no robot before it: say which robot, e.g. "
                f"'{verb}{example} to ...'"
            )
        if len(robots) > 1:
            which = " or ".join(r.replace("_", " ") for r in robots)
            raise _Unsaid(f"'{verb}it' could be {which}: name the robot")
        phrase = next(p for p, n in said.items() if n == robots[0])
        return f"{verb}{'the ' if phrase in lexicon.robot_nouns else ''}{phrase}"

    places = {p: n for p, n in vocab.phrases.items() if n in scene.places}
    goes_to = (
        re.compile(
            rf"\s+(?:to|into|towards?)\s+(?:the\s+)?(?P<dest>{_alternatives(tuple(places))})\b"
        )
        if places
        else None
    )

    def onto(match: re.Match[str]) -> str:
        phrase = match["robot"]
        where = goes_to.match(text, match.end()) if goes_to is not None else None
        if where is None or places[where["dest"]] not in destinations(scene, phrases[phrase]):
            return match[0]  # "..., then move it to the packing bin": the parcel goes
        the = "the " if phrase in lexicon.robot_nouns else ""
        return f"{match[0][: match.end('verb') - match.start()]} {the}{phrase}"

    if carried is not None:
        text = carried.sub(onto, text)
    text = sent.sub(robot, text) if sent is not None else text
    return _sent_object(text, scene, vocab, only, phrases)


def _sent_object(
    text: str, scene: Scene, vocab: Vocabulary, only: tuple[str, ...], robots: dict[str, str]
) -> str:
    """ "send the red parcel to the packing station": a verb that otherwise only sends
    robots, said of objects and no robot, moves them as the domain's first put verb does
    (it was refused near 'to the packing station')."""
    if not only or not vocab.lexicon.verbs:
        return text
    domain = scene.domain
    nouns = {n for o in scene.objects.values() for n in domain.nouns(o.type)}
    nouns |= {plural_of(n) for n in nouns}
    objects = {p for p, n in vocab.phrases.items() if n in scene.objects}
    # the words up to the clause's first place preposition, never past the clause's end
    joins = _alternatives(
        (
            "to",
            "into",
            "onto",
            "in",
            "on",
            "at",
            "from",
            "off",
            "and",
            *SEQUENCE_WORDS,
            *PARALLEL_WORDS,
        )
    )
    said = re.compile(
        rf"\b(?P<verb>{_alternatives(only)})\s+(?P<what>(?:(?![,;.:!?]|\b(?:{joins})\b).)+?)"
        r"(?=\s+(?:to|into|onto|in|on|at)\b)"
    )
    # a robot named by a phrase or by a noun of robots ("all carts"), or "it"
    who = (*robots, *vocab.lexicon.robot_nouns, "it")
    robot_words = re.compile(rf"\b(?:{_alternatives(who)})\b")

    def put(match: re.Match[str]) -> str:
        what = match["what"]
        words = set(what.split())
        named = any(re.search(rf"\b{re.escape(o)}\b", what) for o in objects)
        if robot_words.search(what) or not (named or words & nouns):
            return match[0]
        return f"{vocab.lexicon.verbs[0]} {what}"

    return said.sub(put, text)


def _to_bare_place(text: str, scene: Scene, vocab: Vocabulary) -> str:
    """ "send robot one home", "robot two, drive home": a go or send verb (and the robots
    sent) before a place's name said with no article and nothing after it in the clause
    takes the "to" English leaves out there, as "send robot one to home". Not where the
    words are a skill's phrase ("go home": the arms' skill; a robot that goes places is
    sent to the place by `_Interpreter.skill`)."""
    lexicon = vocab.lexicon
    if not (lexicon.go_verbs or lexicon.send_verbs) or not vocab.robots:
        return text
    names = _phrases_of(scene.places, vocab)
    ends = (
        rf"(?=\s*(?:$|[,;.:!?]|\b(?:and|{_alternatives((*SEQUENCE_WORDS, *PARALLEL_WORDS))})\b))"
    )
    one = rf"(?:the\s+)?(?:{_alternatives(tuple(vocab.robots))})"
    plural = [n for n in lexicon.robot_nouns if n != lexicon.singular_robot_noun(n)]
    every = rf"(?:both|all(?:\s+the)?)\s+(?:{_or_never(tuple(plural))})"
    robots = rf"(?:{every}|{one}(?:\s*(?:,\s*|\s+)(?:and\s+)?{one})*)"
    skills = [
        re.compile(_run_regex(phrase, True))
        for _, phrases in lexicon.skills
        for phrase in phrases
        if not _slots(phrase)
    ]
    said = re.compile(
        rf"\b(?P<verb>(?:{_or_never(lexicon.go_verbs)})|(?:{_or_never(lexicon.send_verbs)})"
        rf"\s+{robots})(?P<back>\s+back)?\s+(?P<place>{names}){ends}"
    )

    def to(match: re.Match[str]) -> str:
        if any(s.fullmatch(" ".join(match[0].split())) for s in skills):
            return match[0]
        return f"{match['verb']}{match['back'] or ''} to {match['place']}"

    return said.sub(to, text)


def _bare_steps(text: str, scene: Scene, vocab: Vocabulary, command: str) -> tuple[str, str]:
    """A step after a sequence word that is only a name ("..., then the right bin"). A
    place is where the step before moves on to, as "..., then to the right bin": "to" is
    put in. An object alone ("..., then the blue block") says neither what moves nor
    where: the returned refusal says what to say, given if the parse fails (a tower's
    levels are objects after "then" too: "yellow at the bottom, then blue, ...")."""
    sequence = _alternatives(SEQUENCE_WORDS)
    after = _alternatives((*SEQUENCE_WORDS, *PARALLEL_WORDS, *vocab.lexicon.fillers))
    ends = rf"(?=\s*(?:$|[,;.:!?]|\b(?:and|{after})\b))"
    opens = rf"(?P<seq>\b(?:{sequence}))(?P<gap>\s*,?\s*)"
    places, objects = (
        re.compile(rf"{opens}(?P<name>(?:the\s+)?(?:{_phrases_of(names, vocab)})){ends}")
        for names in (scene.places, scene.objects)
    )
    text = places.sub(lambda m: f"{m['seq']}{m['gap']}to {m['name']}", text)
    bare = objects.search(text)
    if bare is None:
        return text, _skill_tail(text, opens, ends, vocab, command)
    said, seq = " ".join(bare["name"].split()), " ".join(bare["seq"].split())
    thing = vocab.resolve(said.removeprefix("the "))
    assert thing is not None
    lexicon, domain = vocab.lexicon, scene.domain
    examples = []
    if domain.put_fact("", thing, scene.kind_of(thing) or ""):
        examples.append(f"{seq} {lexicon.verbs[0]} it on {said}")
    examples.append(f"{seq} {_example_for(scene, vocab, said)}")
    refusal = (
        f"not understood: only '{said}' is said after '{seq}' in '{quoted(command)}': say "
        "what to do" + (", e.g. '" + "' or '".join(examples) + "'" if examples else "")
    )
    return text, refusal


def _skill_tail(text: str, opens: str, ends: str, vocab: Vocabulary, command: str) -> str:
    """A step after a sequence word that is a skill phrase without its verb ("..., then
    home" where no place is called home): the refusal to give if the parse fails, with
    the whole phrase to say ("then go home"); "" when there is none."""
    for match in re.finditer(rf"{opens}(?P<rest>[a-z']+(?:\s+[a-z']+){{0,3}}){ends}", text):
        rest = " ".join(match["rest"].split())
        for _, phrases in vocab.lexicon.skills:
            for phrase in phrases:
                if _slots(phrase):
                    continue
                verb = next(t for t in _TEMPLATE.findall(phrase) if t[0].isalpha())
                if re.fullmatch(_run_regex(phrase, True), f"{verb} {rest}"):
                    seq = " ".join(match["seq"].split())
                    return (
                        f"not understood: only '{rest}' is said after '{seq}' in "
                        f"'{quoted(command)}': say '{seq} {verb} {rest}'"
                    )
    return ""
