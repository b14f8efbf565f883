"""The command language's words and grammar: English structure words (the same in every
world), a domain's own words (`Lexicon`, from its ``language`` section), a scene's phrases
(`Vocabulary`), the lark grammar built from them, the parse tree's transformer, the words
known for a did-you-mean, and what understanding gives (`Understanding`, its errors).
`robot_planner.planning.rewrites` rewrites a command's text into the grammar's forms and
`robot_planner.planning.language` interprets the parse."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

from lark import Lark, Token, Transformer
from rapidfuzz.distance import OSA

from robot_planner.untrusted import shown
from robot_planner.world.domain import Domain
from robot_planner.world.facts import Fact
from robot_planner.world.scene import Scene

MAX_COMMAND_CHARS = 500

# English structure, the same in every world. A domain's own words (its verbs, tower
# words, robot nouns and fillers) come from its `language` section (`Lexicon`).
FILLERS = (
    "could you please",
    "can you please",
    "would you please",
    "could you",
    "can you",
    "would you",
    "will you",
    "please",
    "kindly",
    "now",
    "right now",
    "ok",
    "okay",
    "hey",
    "robots",
    "robot",
    "i want you to",
    "i would like you to",
    "i'd like you to",
    "i need you to",
    "go ahead and",
    "just",
    "thanks",
    "thank you",
    "for me",
    "let's",
    "lets",
    # politeness, not a condition ("if the red block is ...": CONDITION_WORDS)
    "if you can",
    "if you could",
    "if you would",
    "if possible",
    "if you don't mind",
)
POSITIONS = (
    "at the bottom",
    "on the bottom",
    "at the base",
    "in the middle",
    "on top",
    "at the top",
    "on the top",
    "as the base",
    "as the top",
)
SEQUENCE_WORDS = (
    "and then",
    "then",
    # two in a row: "then finally put it ...", "and then finally ..."
    "then finally",
    "and then finally",
    "then lastly",
    "then after that",
    "after that",
    "afterwards",
    "after this",
    "next",
    "finally",
    "and finally",
    "lastly",
    "last",
    "once done",
    "when done",
    "once that is done",
    "when that is done",
)
PARALLEL_WORDS = (
    "at the same time",
    "simultaneously",
    "meanwhile",
    "in parallel",
    "and at the same time",
    "and meanwhile",
    "while",
    "and while",
    "whilst",
)


#: The words before where something goes ("in the left bin", "on top of the red block");
#: which fact it becomes is the target's (the domain's `locations.put`), not the word's.
PLACE_PREPOSITIONS = (
    "in",
    "on",
    "at",
    "to",
    "into",
    "onto",
    "inside",
    "inside of",
    "on top of",
    "atop",
    "over",
)

#: Verbs of going somewhere, said without an object ("left arm, go to the left bin"): a
#: world whose robots do not go to places refuses them with who does (`_cannot_go`).
MOTION_VERBS = (
    "go",
    "goes",
    "drive",
    "drives",
    "head",
    "heads",
    "come",
    "comes",
    "move",
    "moves",
    "travel",
    "travels",
    "navigate",
    "navigates",
    "return",
    "returns",
    "get",
    "gets",
)

#: Counts ("the two blocks on the left side") and skill arguments ("wait five seconds").
NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}
#: "all blocks except the red one", "all the blocks but green"
EXCEPT_WORDS = ("except for", "except", "but not", "but", "other than", "apart from")

#: Words that say where an object or robot is before it moves ("from the dock", "off
#: robot one", "off of the table"), longest first for the pattern.
ORIGIN_WORDS = ("off of", "out of", "from", "off")

#: A relative clause before a relation ("the block that is in the center zone", "the
#: blocks which are on the left side", "the block that's on top of the red block"): it
#: says where the objects are, as "from X" does, and only right after them.
RELATIVE_WORDS = ("that", "which")


def _alternatives(words: tuple[str, ...]) -> str:
    """A regex alternation, longest first, with flexible spaces and a word boundary."""
    ordered = sorted(set(words), key=len, reverse=True)
    return "|".join(w.replace(" ", r"\s+").replace("'", r"\'") for w in ordered)


# Optional items sit in small nullable helper rules (`_comma: _COMMA?`) rather than inline:
# lark expands every inline `x?` into two alternatives of the whole rule, so a rule with
# seven of them became 128 rules, all predicted at every word boundary (2x the parse time).
GRAMMAR = r"""
start: _fillers sequence _fillers _end

// "move X to Y first, then ...": the first step may say it is first
sequence: step _first (_seq step)*
_seq: _comma _and _SEQ _comma | _END _seq_word _comma
// Negative priorities: of two readings, the one with fewer steps and actions wins, so
// a list or a tower is read whole ("blue at the bottom, then red, then yellow, green on
// top" is one tower, not two; "take the red and green blocks to ..." moves both).
step.-1: _first chunk (_par chunk | _AND robot_chunk)*  -> step
    | _PAR_LEAD chunk _comma chunk                   -> step
    | _ONCE condition _comma _seq_word chunk         -> once
_par: _comma _and _PAR _comma

chunk: _par_tail _fillers _robot_head_opt _fillers actions _robot_tail_opt _comma _par_tail
// "... and the right arm puts ...": an "and" between clauses with their own robot joins
// them like "while" (they may run in parallel).
robot_chunk: _comma _fillers robot_head _fillers actions _robot_tail_opt _comma _par_tail -> chunk
_robot_head_opt: robot_head?
_robot_tail_opt: robot_tail?
// "the left arm, ...", "both arms, ...", "robot one and robot two go ...": a list
// does what it is asked each (a skill or a "go"; `_Interpreter.chunk`).
robot_head.2: robots _COLON
          | robots _COMMA
          | bare_kind (_COMMA | _COLON)
          | robots
          | _WITH _one_robot _comma
          | _USE _one_robot _TO
          | _USING _one_robot _comma
robot_tail: _WITH _one_robot | _USING _one_robot
// "the left arm", "robot one", "base 2", "base 2 cart", "the base two robot"
robot: _det ARM? WORD+ ARM
     | _det ARM WORD
// "the fetcher": the one robot of a noun, where one robot is meant (`_Interpreter.robot`
// refuses it when several robots are of that noun)
kind_robot: _DET ARM                               -> robot
_one_robot: robot | kind_robot
// "fetcher, go ...", "robots, go ...": a noun without "the" before a comma
// (not a filler: "robots, ..." speaks to whoever does it)
bare_kind: BARE_ARM                                -> robot_all

actions: action (_join action)*
_join: _comma _AND | _COMMA
?action.-1: VERB objects _PREP target _to_be        -> move
      | objects _go _PREP target                    -> move
      | VERB objects _PREP target _comma _AND objects _PREP target   -> move_pair
      | PICKUP objects                              -> mention
      | robot_action
      | tower_action
      | TOWER_VERB objects                          -> stack_list
      | more_action
// In a rule of their own: Earley predicts every alternative of `action` at each word.
?more_action: objects _TO_BE                        -> ditto
      | located_mention
      | skill_call
      | onward
      | VERB objects _PREP target _comma _EXCEPT objects   -> move_except
// "..., then to the right bin": only a destination; the step before says what goes there
onward.-3: _PREP target
// "pick up the block in the center zone": below a plain "take X to Y" (a move).
located_mention.-3: PICKUP objects _PREP target      -> mention
{skill_rules}

?robot_action: SEND robots _PREP target            -> send
      | VERB objects _PREP target _comma _SPREAD ARM -> move_spread
      | SEND robots _PREP target _comma _AND robots _PREP target   -> send_pair
      | GO_VERB _PREP target                        -> go

tower_action: _tower_verb tower_head levels          -> tower
              | _tower_verb tower_head _OF objects _bottom_up  -> tower_of
              | level_pos (_level_sep level)+          -> tower
              | (level _level_sep)+ level_pos          -> tower
tower_head: _det TOWER _tower_where _tower_join
_tower_where: (_PREP plain_noun)?
// No "of" inside a tower's place or levels: "a tower in the left bin of red and blue" is
// a tower of red and blue in the left bin.
plain_noun: _det WORD+                              -> noun
_tower_join: (_WITH | _COLON | _COMMA)?
_tower_verb: TOWER_VERB?
_bottom_up: BOTTOM_UP?

condition: objects _IS _PREP target

objects: noun (_list noun)*                         -> noun_list
       | BOTH noun (_list noun)+                    -> both_list
       | _quant WORD* _except                       -> every
       | BOTH WORD*                                 -> both
       | PRONOUN                                    -> pronoun
_list: _comma _AND | _COMMA
// "all the blocks", "every red block", "everything (red)"
_quant: _det QUANT | EVERYTHING
noun: _det WORD+ _of_noun
_of_noun: (_OF _det WORD+)?

target: place (_PREP place)*
robots: robot                                      -> robot_list
      | _one_robot (_list _one_robot)+               -> robot_list
      | BOTH ARM                                    -> robot_all
      | _det QUANT ARM                              -> robot_all
      | _DET ARM                                    -> robot_all
?place: noun
      | robot                                       -> robot_target
      | _DET ARM                                    -> robot_target
      | PRONOUN                                     -> pronoun

levels: level (_level_sep level)+
_level_sep: _COMMA _seq_word | _SEQ | _comma _AND
level: plain_noun POSITION
     | POSITION plain_noun
     | plain_noun
level_pos: plain_noun POSITION                      -> level
         | POSITION plain_noun                      -> level

// A filler may take a comma after it ("okay, once ...", "right now, first ..."): a
// comma before one belongs to what precedes it (a clause's end, "at the same time,").
_fillers: (_FILLER _comma)*
_except: (_EXCEPT objects)?
_end: _END?
_comma: _COMMA?
_and: _AND?
_det: _DET?
_first: (_FIRST _comma)?
_seq_word: _SEQ?
_to_be: _TO_BE?
_go: _GO?
_par_tail: (_PAR_TAIL _comma)?

VERB.3: /({verbs})\b/
PICKUP.3: /({grasp})\b/
TOWER_VERB.3: /({tower_verbs})\b/
TOWER.3: /({tower_nouns})\b/
POSITION.3: /({positions})\b/
BOTTOM_UP.3: /(from\s+the\s+bottom\s+up|bottom\s+to\s+top|from\s+bottom\s+to\s+top|bottom\s+up)\b/
_PREP.3: /({place_prepositions})\b/
_TO_BE.3: /(too|as\s+well)\b/
_IS.3: /(is|are|has\s+been|have\s+been|'s)\b/
_GO.3: /(goes|go|should\s+go|must\s+go|belongs|belong|should\s+be|must\s+be)\b/
PRONOUN.3: /(it|them|that\s+one|this\s+one|those|these)\b/
BOTH.3: /both\b/
QUANT.3: /(all\s+of\s+the|all\s+the|all|every|each)\b/
EVERYTHING.3: /everything\b/
ARM.3: /({robot_nouns})\b/
BARE_ARM.3: /({bare_robot_nouns})\b/
SEND.3: /({send_verbs})\b/
_SPREAD.3: /(one\s+(on|per|for|with)(\s+each)?|each\s+on\s+(its\s+own|a\s+different))\b/
GO_VERB.3: /({go_verbs})\b/
_DET.3: /(the|a|an|that|this|its|their)\b/
_SEQ.3: /({sequence})\b/
_PAR_LEAD.4: /(while|whilst|as)\b/
_PAR.3: /({parallel})\b/
_PAR_TAIL.3: /(at\s+the\s+same\s+time|simultaneously|in\s+parallel|together)\b/
_FIRST.3: /(first\s+of\s+all|first|to\s+start|to\s+begin)\b/
_ONCE.3: /(once|after|when|as\s+soon\s+as)\b/
_WITH.3: /(with|by)\b/
_USING.3: /using\b/
_USE.3: /use\b/
_TO.3: /to\b/
_OF.3: /of\b/
_AND.3: /(and|plus|as\s+well\s+as)\b/
_FILLER.3: /({fillers})\b/
_EXCEPT.3: /({except_words})\b/
NUMBER.3: /(\d+(\.\d+)?|{number_words})\b/
{skill_terminals}
_COMMA: /[,:]/
_COLON: /:/
_END: /[.;!?]+/
// A name word: not a grammar word, not the start of a filler of several words ("right
// now" is no "... bin right" + "now"); digits name robots and places ("base 2").
WORD: /(?!({reserved})\b)(?!({phrase_fillers})\b)([a-z][a-z_']*|\d+\b)/

%import common.WS
%ignore WS
"""

#: Words that open a clause besides verbs and names: "first", "once", "as soon as", ...
#: (the grammar's _FIRST, _ONCE, _PAR_LEAD and _PAR_TAIL words).
_CLAUSE_STARTS = (
    "first",
    "to start",
    "to begin",
    "once",
    "after",
    "when",
    "as soon as",
    "while",
    "whilst",
    "as",
    "together",
    "in parallel",
)

_RESERVED = (
    "and",
    "then",
    "after",
    "finally",
    "while",
    "whilst",
    "meanwhile",
    "with",
    "using",
    "to",
    "in",
    "into",
    "on",
    "onto",
    "at",
    "of",
    "is",
    "are",
    "it",
    "them",
    "the",
    "a",
    "an",
    "both",
    "all",
    "every",
    "each",
    "once",
    "when",
    "first",
    "robot",
    "robots",
    "please",
    "now",
    "next",
    "afterwards",
    "simultaneously",
    "plus",
    "inside",
    "over",
    "too",
    "goes",
    "go",
    "should",
    "must",
    "be",
    "belongs",
    "belong",
    "use",
    "as",
    "its",
    "their",
    "that",
    "this",
    "those",
    "these",
    "by",
    "top",
    "bottom",
    "base",
    "same",
    "time",
    "up",
    "except",
    "but",
    # "open your gripper": the skill's own words, never a robot named "your gripper"
    "your",
)


#: A terminal for a word class the domain leaves empty: no normalised command contains
#: a NUL, and lark refuses zero-width terminals.
_NEVER = r"\x00"


def third_person(verb: str) -> str:
    """ "put" -> "puts", "carry" -> "carries", "pick up" -> "picks up"."""
    first, _, rest = verb.partition(" ")
    inflected = first + "es" if first.endswith("o") else plural_of(first)
    return f"{inflected} {rest}".strip()


@dataclass(frozen=True)
class Lexicon:
    """Every word class of the command language for one domain; hashable, so a parser
    is built once per distinct lexicon (a process may hold several worlds)."""

    verbs: tuple[str, ...]
    grasp_verbs: tuple[str, ...]
    tower_verbs: tuple[str, ...]
    tower_nouns: tuple[str, ...]
    robot_nouns: tuple[str, ...]
    send_verbs: tuple[str, ...]
    go_verbs: tuple[str, ...]
    fillers: tuple[str, ...]
    example: str
    #: (skill, its phrase templates) for skills asked for by name ("wait 5 seconds")
    skills: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, domain: Domain) -> Lexicon:
        """The domain's words.

        Raises:
            ValueError: a skill phrase names a skill or argument the domain lacks.
        """
        lang = domain.language
        nouns = {n for kind in domain.robot_kinds for n in domain.robot_nouns(kind)}
        for skill, phrases in lang.skills.items():
            spec = domain.skills.get(skill)
            if spec is None:
                raise ValueError(f"language.skills: no skill '{shown(skill)}' in the domain")
            for phrase in phrases:
                for slot in _slots(phrase):
                    if slot != "robot" and (slot not in spec.args or spec.args[slot].is_name):
                        raise ValueError(
                            f"language.skills.{skill}: '{{{slot}}}' is no number argument "
                            f"of {skill}"
                        )
        return cls(
            verbs=_inflected(lang.put_verbs),
            grasp_verbs=_inflected(lang.grasp_verbs),
            tower_verbs=_inflected(lang.tower.verbs) if lang.tower else (),
            tower_nouns=lang.tower.nouns if lang.tower else (),
            robot_nouns=tuple(sorted(nouns | {plural_of(n) for n in nouns})),
            send_verbs=_inflected(lang.send_verbs),
            go_verbs=_inflected(lang.go_verbs),
            fillers=(*FILLERS, *lang.fillers),
            example=lang.example,
            skills=tuple((k, tuple(v)) for k, v in lang.skills.items()),
        )

    @property
    def reserved(self) -> tuple[str, ...]:
        """Words a name can never contain (they start another part of the sentence)."""
        own = {w for p in (*self.grasp_verbs, *self.tower_nouns) for w in p.split()[:1]}
        own |= {w for _, phrases in self.skills for p in phrases for w in _first_words(p)}
        return tuple(dict.fromkeys((*_RESERVED, *self.robot_nouns, *sorted(own))))

    @property
    def undoing_verbs(self) -> frozenset[str]:
        """Put verbs that undo another put verb ("unload" of "load", "unpack" of "pack"):
        they take an object off what the other puts it on, so their target is never a
        robot ("unload X onto base two" says both; refused, not read as "load")."""
        return frozenset(v for v in self.verbs if v.startswith("un") and v[2:] in self.verbs)

    def skill_starts(self) -> set[str]:
        """The words a skill phrase can start with ("wait", "pause", "go", ...), in the
        first and third person."""
        starts = {w for _, phrases in self.skills for p in phrases for w in _first_words(p)}
        return starts | {third_person(w) for w in starts}

    def skill_words(self) -> set[str]:
        """Every literal word of the skill phrases (for did-you-mean and the JSGF)."""
        return {
            t for _, ps in self.skills for p in ps for t in _TEMPLATE.findall(p) if t[0].isalpha()
        }

    def singular_robot_noun(self, word: str) -> str:
        return next((n for n in self.robot_nouns if plural_of(n) == word), word)

    def known_actions(self) -> str:
        """A few verbs for "unknown action" messages."""
        known = list(dict.fromkeys(v for v in self.verbs if third_person(v) != v))[:6]
        if self.tower_verbs and self.tower_nouns:
            known.append(f"{self.tower_verbs[0]} a {self.tower_nouns[0]}")
        return ", ".join(known) + ", ..."


_TEMPLATE = re.compile(r"\[|\]|\(|\)|\||\{[a-z_]+\}|[a-z']+")


def _slots(phrase: str) -> list[str]:
    """The slots of a skill phrase in order: "wait {seconds} seconds" -> ["seconds"]."""
    return [t[1:-1] for t in _TEMPLATE.findall(phrase) if t.startswith("{")]


def _first_words(phrase: str) -> set[str]:
    """The words a skill phrase can start with: "(wait|pause) [for] ..." -> wait, pause."""
    tokens = _TEMPLATE.findall(phrase)
    if tokens[0] != "(":
        return {tokens[0]}
    group = tokens[1 : tokens.index(")")]
    return {t for t in group if t[0].isalpha()}


def _skill_rules(lexicon: Lexicon) -> tuple[str, str]:
    """Lark rules and terminals for the skill phrases. The words between two slots are
    one terminal ("(wait|pause) [for]"), and a skill's phrases of the same shape share
    one alternative, named ``skill__<skill>__<slots>`` so the interpreter knows the skill
    and its slots: inline groups and one rule per phrase would multiply the rules Earley
    predicts at each word. The terminals stay in the tree (no "_"): the words said
    ("go home") may name a place for a robot that goes places (`_Interpreter.skill`)."""
    terminals: dict[str, str] = {}  # regex -> terminal name
    nouns = frozenset(lexicon.robot_nouns)
    alternatives: list[str] = []
    for skill, phrases in lexicon.skills:
        shapes: dict[tuple[str, ...], list[list[str]]] = {}  # slots -> word runs per phrase
        for phrase in phrases:
            slots = tuple(_slots(phrase))
            runs = [r.strip() for r in re.split(r"\{[a-z_]+\}", phrase)]
            shapes.setdefault(slots, []).append(runs)
        for slots, phrasings in shapes.items():
            parts = []
            for i in range(len(slots) + 1):
                words = sorted(
                    {_run_regex(runs[i], i == 0, nouns) for runs in phrasings if runs[i]}
                )
                if words:
                    pattern = "|".join(words)
                    parts.append(terminals.setdefault(pattern, f"SW{len(terminals)}"))
                if i < len(slots):
                    parts.append("robots" if slots[i] == "robot" else "NUMBER")
            name = "__".join(("skill", skill, *slots))
            alternatives.append(f"{' '.join(parts)} -> {name}")
    if not alternatives:
        return "skill_call: NEVER", "NEVER: /\\x00/"
    rules = "skill_call: " + "\n    | ".join(alternatives)
    lines = [f"{name}.3: /({pattern})\\b/" for pattern, name in terminals.items()]
    return rules, "\n".join(lines)


def _run_regex(run: str, first: bool = False, nouns: frozenset[str] = frozenset()) -> str:
    """A regex for the words of a skill phrase between slots: "(go|move) [back] home" ->
    (?:go|move)(?:\\s+(?:back))?\\s+home; the phrase's first words also in the third
    person ("the right arm goes home"), its robot nouns also in the plural ("both arms,
    open your grippers")."""
    pattern = ""
    for group in re.findall(r"\[[^\]]*\]|\([^)]*\)|[a-z']+", run):
        optional = group.startswith("[")
        words = group.strip("[]()").split("|")
        if first and not pattern:
            words += [third_person(w) for w in words]
        elif pattern:
            words += [plural_of(w) for w in words if plural_of(w) in nouns]
        alternatives = "|".join(
            r"\s+".join(map(re.escape, w.split())) for w in sorted(words, key=len, reverse=True)
        )
        piece = f"(?:{alternatives})"
        if not pattern:
            pattern = piece
        elif optional:
            pattern += rf"(?:\s+{piece})?"
        else:
            pattern += rf"\s+{piece}"
    return pattern


def _inflected(verbs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*verbs, *(third_person(v) for v in verbs))))


def _or_never(words: tuple[str, ...]) -> str:
    return _alternatives(words) if words else _NEVER


def _phrase_fillers(fillers: tuple[str, ...]) -> tuple[str, ...]:
    """Fillers of several words ("right now", "thank you"): a name word never starts
    one, else "in the left bin right now" reads as the place "left bin right" and the
    filler "now"."""
    return tuple(f for f in fillers if " " in f)


def grammar_text(lexicon: Lexicon) -> str:
    """The lark grammar for a domain's lexicon."""
    skill_rules, skill_terminals = _skill_rules(lexicon)
    numbers = _alternatives(tuple(NUMBER_WORDS))
    return (
        GRAMMAR.replace("{skill_rules}", skill_rules)
        .replace("{skill_terminals}", skill_terminals)
        .replace("{number_words}", numbers)
        .replace("{except_words}", _alternatives(EXCEPT_WORDS))
        .replace("{verbs}", _alternatives(lexicon.verbs))
        .replace("{grasp}", _or_never(lexicon.grasp_verbs))
        .replace("{tower_verbs}", _or_never(lexicon.tower_verbs))
        .replace("{tower_nouns}", _or_never(lexicon.tower_nouns))
        .replace("{robot_nouns}", _or_never(lexicon.robot_nouns))
        .replace(
            "{bare_robot_nouns}",
            _or_never(tuple(n for n in lexicon.robot_nouns if n not in lexicon.fillers)),
        )
        .replace("{send_verbs}", _or_never(lexicon.send_verbs))
        .replace("{go_verbs}", _or_never(lexicon.go_verbs))
        .replace("{fillers}", _alternatives(lexicon.fillers))
        .replace("{sequence}", _alternatives(SEQUENCE_WORDS))
        .replace("{parallel}", _alternatives(PARALLEL_WORDS))
        .replace("{positions}", _alternatives(POSITIONS))
        .replace("{place_prepositions}", _alternatives(PLACE_PREPOSITIONS))
        .replace("{reserved}", "|".join(lexicon.reserved))
        .replace("{phrase_fillers}", _or_never(_phrase_fillers(lexicon.fillers)))
    )


class UnderstandingError(ValueError):
    """A command the offline planner does not understand; one line for the user."""


class _UnknownAction(UnderstandingError):
    """A clause that starts with a word that is no verb: its did-you-mean may only be a
    verb ("give" is one letter from "five")."""

    def __init__(self, message: str, word: str):
        super().__init__(message)
        self.word = word


class _UnknownPlace(UnderstandingError):
    """A place the scene does not name: it may be an unknown relation's words ("in front
    of the blue block" read "in" + a place 'front blue block'; `_unknown_relation`)."""


class _Unsaid(UnderstandingError):
    """A refusal for what the command leaves unsaid ("put it back": no place), not for
    a word: no did-you-mean ("where it was" is no typo of "when it as")."""


# --- the result ------------------------------------------------------------------------


@dataclass
class GoalItem:
    """One fact asked for, the step it belongs to, and the robot asked to do it."""

    fact: Fact
    step: int
    robot: str | None = None
    #: the robot the object must ride on, when the command spreads objects over robots
    #: ("one on each robot")
    via: str | None = None
    #: the step of a later instruction that supersedes this fact ("go to the pick
    #: station, then go to the dock"): it is a visit on the way, not part of the end goal
    until: int | None = None


@dataclass(frozen=True)
class TaskRequest:
    """A skill asked for by name ("wait 5 seconds", "left arm, go home"): its effect is
    no goal fact, so it is planned as asked, after the work of the steps before it."""

    step: int
    robot: str
    skill: str
    args: dict[str, float] = field(default_factory=dict)
    #: said after other work of its step ("put X in the bin and wait"): runs after it
    after_goal: bool = False
    #: no robot was named: `robot` is the first that offers the skill, and the planner
    #: gives the task to the robots that did the work before it instead, when they offer
    #: it ("put the blue block in the right bin, then go home": the right arm goes home)
    unnamed: bool = False


@dataclass
class Understanding:
    """What a command asks for."""

    items: list[GoalItem] = field(default_factory=list)
    #: skills asked for by name, in step order
    actions: list[TaskRequest] = field(default_factory=list)
    #: where the understanding had to guess ("it" with two candidates: the most recent);
    #: a default robot choice is not a guess
    guesses: list[str] = field(default_factory=list)
    #: goal facts a later step superseded (each with `until`): places visited on the way
    #: ("put it in the left bin, then in the right bin" visits the left bin first)
    visits: list[GoalItem] = field(default_factory=list)

    @property
    def goal(self) -> list[Fact]:
        """What must hold when the whole command is done (what execution checks)."""
        return [item.fact for item in self.items]

    @property
    def steps(self) -> int:
        return 1 + max((x.step for x in (*self.items, *self.visits, *self.actions)), default=0)

    def in_force(self, done: Callable[[int], bool]) -> list[GoalItem]:
        """The goal items that must hold once the steps `done` accepts are done: those
        said in them that none of them superseded. A plan that reaches each of these in
        turn visits every place the command named, not only where things end."""
        return [
            i
            for i in (*self.visits, *self.items)
            if done(i.step) and (i.until is None or not done(i.until))
        ]

    def carriers(self, items: Iterable[GoalItem] | None = None) -> dict[str, str]:
        """Object -> the robot it must be carried on ("one on each robot"), for the
        end goal or for `items`."""
        items = self.items if items is None else items
        return {i.fact.args[0]: i.via for i in items if i.via is not None}

    def assignments(self, items: Iterable[GoalItem] | None = None) -> dict[str, str]:
        """Object -> robot that must do its final placement, in the end goal or in
        `items`."""
        items = self.items if items is None else items
        return {i.fact.args[0]: i.robot for i in items if i.robot is not None}


# --- vocabulary ------------------------------------------------------------------------


def plural_of(noun: str) -> str:
    """The English plural of a noun from a domain file (box -> boxes, block -> blocks)."""
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


@dataclass(frozen=True)
class Vocabulary:
    """Phrases -> scene names, built from the scene (colours, names, type nouns,
    aliases) and the domain's lexicon."""

    phrases: dict[str, str]
    robots: dict[str, str]
    lexicon: Lexicon
    #: Multi-word aliases that contain a grammar word ("hand over"): joined with "_"
    #: before parsing, so "hand" is not read as a robot noun.
    compounds: tuple[tuple[re.Pattern[str], str], ...] = ()
    #: Robot names without a robot noun -> the name with its kind's noun ("picker" ->
    #: "picker arm"): the grammar knows a robot by its noun. Only where they are
    #: addressed (`addressed` finds them).
    bare_robots: dict[str, str] = field(default_factory=dict)
    #: A list of bare robot names addressed before a comma or colon ("the picker, ...",
    #: "panda: ...", "the picker and the packer, ...").
    addressed: re.Pattern[str] | None = None
    #: Any one bare robot name (within an `addressed` match).
    bare_name: re.Pattern[str] | None = None

    @classmethod
    def from_scene(cls, scene: Scene) -> Vocabulary:
        """Every phrase for every object and place: colour + a noun of its type, its name,
        its name with the type noun swapped for a synonym, and its aliases (+ noun)."""
        phrases: dict[str, str] = {}
        domain = scene.domain
        lexicon = Lexicon.of(domain)
        for name, spec in scene.objects.items():
            colour = spec.color.lower()
            if colour:
                for noun in (*domain.nouns(spec.type), "one", ""):
                    phrases[f"{colour} {noun}".strip()] = name
            phrases[name.replace("_", " ")] = name
            for alias in spec.aliases:
                phrases[alias] = name
        for name, spec in scene.places.items():
            words = name.replace("_", " ")
            nouns = domain.nouns(spec.type)
            phrases[words] = name
            stem = next((words[: -len(n) - 1] for n in nouns if words.endswith(" " + n)), words)
            for noun in nouns:
                phrases[f"{stem} {noun}"] = name
            for alias in spec.aliases:
                phrases[alias] = name
                if alias.split()[-1] not in nouns:  # "packing station", not "... station"
                    for noun in nouns:
                        phrases[f"{alias} {noun}"] = name
        # A bare type noun names the one place of that type, when there is one
        # ("the bin" in a scene with one bin).
        by_noun: dict[str, list[str]] = {}
        for name, spec in scene.places.items():
            for noun in domain.nouns(spec.type):
                by_noun.setdefault(noun, []).append(name)
        for noun, names in by_noun.items():
            if len(names) == 1:
                phrases.setdefault(noun, names[0])
        robots: dict[str, str] = {}
        for name, robot in scene.robots.items():
            words = name.replace("_", " ")
            nouns = domain.robot_nouns(robot.kind)
            stem = next((words[: -len(n) - 1] for n in nouns if words.endswith(" " + n)), words)
            for noun in nouns:
                robots[f"{stem} {noun}"] = name
            robots[words] = name
            for alias in robot.aliases:  # "robot one"; "panda" -> "the panda arm"
                robots[alias] = name
                if not set(alias.split()) & set(lexicon.robot_nouns):
                    for noun in nouns:
                        robots.setdefault(f"{alias} {noun}", name)
        # Multi-word names with a grammar word in them ("hand over", "pick station"):
        # the longest first, each joined with "_" in the text and in the phrases.
        reserved = set(lexicon.reserved)
        compounds = []
        for phrase in sorted(list(phrases), key=len, reverse=True):
            words = phrase.split()
            if len(words) > 1 and reserved & set(words):
                joined = "_".join(words)
                pattern = re.compile(r"\b" + r"\s+".join(map(re.escape, words)) + r"\b")
                compounds.append((pattern, joined))
                phrases.setdefault(joined, phrases[phrase])
        # A robot name with no robot noun, addressed before a comma or colon, gets its
        # kind's noun ("the picker, go home" -> "the picker arm, go home"), unless a word
        # of it also names a place or an object ("packing": an arm and a station) or is a
        # grammar word: never a guess. Elsewhere ("on the picker") it stays a name.
        robot_nouns = set(lexicon.robot_nouns)
        taken = {w for p in phrases for w in p.split()} | reserved
        bare = {}
        for phrase, name in robots.items():
            if set(phrase.split()) & (robot_nouns | taken):
                continue
            bare[phrase] = f"{phrase} {domain.robot_nouns(scene.robots[name].kind)[0]}"
        addressed = bare_name = None
        if bare:
            one = "|".join(
                r"\s+".join(map(re.escape, p.split())) for p in sorted(bare, key=len, reverse=True)
            )
            bare_name = re.compile(rf"\b(?:{one})\b")
            item = rf"(?:the\s+)?(?:{one})"
            addressed = re.compile(rf"\b{item}(?:\s*(?:,\s*|\s+)(?:and\s+)?{item})*\b(?=\s*[,:])")
        return cls(phrases, robots, lexicon, tuple(compounds), bare, addressed, bare_name)

    def join_compounds(self, text: str) -> str:
        """`text` with multi-word names joined ("pick_station") and addressed robot names
        given their noun ("the picker arm, ...", "the picker arm and the packer arm,
        ..."), ready for the parser."""
        for pattern, joined in self.compounds:
            text = pattern.sub(joined, text)
        if self.addressed is None or self.bare_name is None:
            return text
        name = self.bare_name

        def with_nouns(match: re.Match[str]) -> str:
            return name.sub(lambda m: self.bare_robots[" ".join(m[0].split())], match[0])

        return self.addressed.sub(with_nouns, text)

    def resolve(self, words: str) -> str | None:
        return self.phrases.get(" ".join(words.split()))

    def resolve_object(self, words: str, scene: Scene) -> str | None:
        """A movable object from a phrase; plural nouns ("blocks") are accepted."""
        text = " ".join(words.split())
        nouns = {n for s in scene.objects.values() for n in scene.domain.nouns(s.type)}
        plurals = {plural_of(n): n for n in nouns}
        singular = " ".join(plurals.get(w, w) for w in text.split())
        for candidate in (text, singular):
            name = self.phrases.get(candidate)
            if name is not None and name in scene.objects:
                return name
        return None


# --- parse tree -> meaning -------------------------------------------------------------


class _Tree(Transformer):
    """Turns the parse tree into plain tuples; meaning is decided in `_Interpreter`."""

    def noun(self, items: list[Token]) -> str:
        return " ".join(str(t) for t in items)

    def robot(self, items: list[Token]) -> str:
        return " ".join(str(t) for t in items)

    def noun_list(self, items: list[str]) -> tuple:
        return ("list", items)

    def both_list(self, items: list) -> tuple:
        return ("both_list", [i for i in items if not isinstance(i, Token)])

    def every(self, items: list) -> tuple:
        words = " ".join(str(t) for t in items[1:] if isinstance(t, Token))
        others = [i for i in items if isinstance(i, tuple)]
        return ("all_except", (words, others[0])) if others else ("all", words)

    def both(self, items: list[Token]) -> tuple:
        return ("both", " ".join(str(t) for t in items[1:]))

    def pronoun(self, items: list[Token]) -> tuple:
        return ("pronoun", str(items[0]))

    def target(self, items: list[str]) -> list[str]:
        return items

    def robot_head(self, items: list[str]) -> tuple:
        return ("robot", items[0])

    def robot_tail(self, items: list[str]) -> tuple:
        return ("robot", items[0])

    def robot_target(self, items: list[str]) -> tuple:
        return ("robot", items[0])

    def robot_list(self, items: list[str]) -> tuple:
        return ("list", items)

    def robot_all(self, items: list[Token]) -> tuple:
        # "the arm" names one robot (`_Interpreter.robots`); "both arms", "all arms" all
        # ("both": two, checked there)
        if len(items) > 1 and str(items[0]) == "both":
            return ("both", str(items[-1]))
        return ("all" if len(items) > 1 else "the", str(items[-1]))

    def level(self, items: list) -> tuple:
        noun = next(i for i in items if isinstance(i, str) and not isinstance(i, Token))
        position = next((str(i) for i in items if isinstance(i, Token)), "")
        return (noun, " ".join(position.split()))

    def levels(self, items: list) -> list:
        return items

    def tower_head(self, items: list) -> tuple:
        nouns = [i for i in items if not isinstance(i, Token)]
        return ("where", nouns[0] if nouns else None)


_TREE = _Tree()


@lru_cache(maxsize=8)
def _parser(lexicon: Lexicon) -> Lark:
    return Lark(grammar_text(lexicon), parser="earley", ambiguity="resolve")


def warm_up(domain: Domain) -> None:
    """Build the parser ahead of the first command (it takes tens of milliseconds)."""
    _parser(Lexicon.of(domain))


def _normalise(text: str, fillers: tuple[str, ...] = FILLERS) -> str:
    """Lower case, plain apostrophes and spaces; "'s" split off a word ("the red block's
    in the bin" -> "block 's in": a possessive is harmless, and "'s" may be "is"), except
    in a filler that has it ("let's": "let 's" would be an unknown verb "let")."""
    text = text.lower().replace("’", "'").replace("centre", "center")
    whole = "|".join(re.escape(f.removesuffix("'s")) for f in fillers if f.endswith("'s"))
    keep = rf"(?!(?:{whole})'s\b)" if whole else ""
    text = re.sub(rf"\b{keep}(\w+)'s\b", r"\1 's", text)
    # Letters of any alphabet stay, so that a refusal quotes 'réd' as it was said.
    text = re.sub(r"[^\w,;:.!?' ]+", " ", text)
    text = re.sub(r"\b(can|could|would|will)\s+you\b", r"\1 you", text)
    return " ".join(text.split())


def _verb_starts(lexicon: Lexicon) -> set[str]:
    """The first words of every verb the language knows (put, grasp, tower, send, go and
    the skill phrases' verbs)."""
    verbs = (
        *lexicon.verbs,
        *lexicon.grasp_verbs,
        *lexicon.tower_verbs,
        *lexicon.send_verbs,
        *lexicon.go_verbs,
    )
    return {v.split()[0] for v in verbs} | set(lexicon.skill_starts())


def known_words(vocab: Vocabulary) -> frozenset[str]:
    """Every word the command language knows for a scene: the grammar's own words, the
    domain's and the scene's names."""
    return _known_words(vocab.lexicon, tuple(vocab.phrases), tuple(vocab.robots))


@lru_cache(maxsize=8)
def _known_words(
    lexicon: Lexicon, phrases: tuple[str, ...], robots: tuple[str, ...]
) -> frozenset[str]:
    # rewritten early: "from", "off"; "which" of a relative clause
    words: set[str] = {w for said in (*ORIGIN_WORDS, *RELATIVE_WORDS) for w in said.split()}
    words.add("down")  # a particle before a place (`_down`), no near miss of "own"
    for line in grammar_text(lexicon).splitlines():
        if re.match(r"^_?[A-Z_0-9]+(\.\d+)?: /", line) and not line.startswith("WORD"):
            said = line.split("/", 1)[1].replace("\\s+", " ").replace("\\'", "'")  # "don't"
            words.update(re.findall(r"[a-z']+", said))
    for phrase in (*phrases, *robots):
        # with plurals: "the red and the green parcels" has no near miss "parcel"
        said = phrase.replace("_", " ").split()
        words.update((*said, *map(plural_of, said)))
    return frozenset(w for w in words if len(w) > 1 or w in ("a", "s"))


#: Common English words a command may use that the language lacks: never a typing slip
#: of a known word ("some" is one letter from "home", "any" from "an", "rest" from
#: "left"), so a command with one gets no did-you-mean (its refusal says what is known).
_PLAIN = """
    some any other others rest only just also very more most less least few many much
    none nothing anything something every one ones own same such than then there here
    where what which who whom whose why how this that these those not never no yes don't
    do does did done doing have has had having make makes made keep keeps kept leave
    leaves let lets get gets got give gives gave hand hands push pull turn swap stop stay
    stays start tell ask asked need needs want wants like try tries see look find found
    show big small large tiny heavy light near far away close closer above below under
    over behind front beside besides between around across along through without within
    instead again twice once always still already yet soon later now quickly slowly
    carefully gently fast slow empty full clear clean free open closed whole half part
    same different each either neither both all side end middle corner edge floor wall
    bit little lot lots slightly rather quite almost exactly enough really thing things stuff
    times
"""
PLAIN_WORDS = frozenset(_PLAIN.split())


def did_you_mean(command: str, vocab: Vocabulary, action: str | None = None) -> str | None:
    """The command with its near misses corrected, in the user's own words otherwise:
    "put the yelow block on the gren block" -> "put the yellow block on the green block".
    None when every word is known or some unknown word is near nothing.

    A near miss is one edit from a known word (a letter added, dropped, changed, or two
    swapped: "blok", "teh"), two for words of eight letters or more; words of one or two
    letters have none. A real word the language lacks is usually further ("purple",
    "twice") and gets no suggestion: the refusal already lists what is known. The word
    refused as an unknown action (`action`) is only ever corrected to a verb ("give" is
    one letter from "five").
    """
    if not isinstance(command, str):
        return None
    known = known_words(vocab)
    verbs = _verb_starts(vocab.lexicon)
    words = command.split()
    fixed = list(words)
    changed = False
    for i, word in enumerate(words):
        bare = word.strip(",;:.!?").lower()
        if not bare or bare in known or not bare.replace("'", "").isalpha():
            continue
        if bare in PLAIN_WORDS:
            return None  # a word the language lacks, not a slip
        near = _near_miss(bare, verbs if bare == action else known)
        if near is None:
            return None
        fixed[i] = word.replace(word.strip(",;:.!?"), near)
        changed = True
    return " ".join(fixed) if changed else None


def _near_miss(word: str, known: Iterable[str]) -> str | None:
    """The known word nearest `word` within the near-miss distance (see `did_you_mean`);
    ties go to a word with the same letters ("teh" -> "the", not "ten"), then to the
    most similar spelling."""
    if len(word) < 3:  # one edit from "a", "to", "in": every short word is
        return None
    limit = 2 if len(word) >= 8 else 1
    scored = [
        (distance, sorted(k) != sorted(word), -SequenceMatcher(None, word, k).ratio(), k)
        for k in known
        if (distance := OSA.distance(word, k, score_cutoff=limit)) <= limit
    ]
    return min(scored)[3] if scored else None
