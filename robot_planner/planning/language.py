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
from dataclasses import dataclass, field
from dataclasses import replace as replaced_with
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import pairwise

from lark import Lark, Token, Transformer, Tree, UnexpectedEOF, UnexpectedInput
from rapidfuzz.distance import OSA

from robot_planner.planning.readback import fact_words
from robot_planner.untrusted import quoted, shown
from robot_planner.world.domain import Domain
from robot_planner.world.facts import Fact, Pattern
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
        used = {a for i in self.items for a in i.fact.args}
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
        if kind == "the" and value == noun and len(names) > 1:  # "the base" with two bases
            known = ", ".join(n.replace("_", " ") for n in names)
            raise UnderstandingError(f"'the {noun}' could be any of {known}: name one")
        for name in names:
            self.named.setdefault(name, f"all {plural_of(noun)}")
        return names

    def spread(self, things: list[str], noun: str) -> None:
        """Each object rides on its own robot of that noun (in scene order)."""
        noun = self.vocab.lexicon.singular_robot_noun(noun)
        domain = self.scene.domain
        carriers = [
            n
            for n, r in self.scene.robots.items()
            if noun in domain.robot_nouns(r.kind) and domain.put_fact("", n, r.kind)
        ]
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
        domain = self.scene.domain
        carriers = [
            n
            for n, r in self.scene.robots.items()
            if noun in domain.robot_nouns(r.kind) and domain.put_fact("", n, r.kind)
        ]
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
        used = {a for i in self.items for a in i.fact.args}
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


#: Words that say where an object or robot is before it moves ("from the dock", "off
#: robot one", "off of the table"), longest first for the pattern.
ORIGIN_WORDS = ("off of", "out of", "from", "off")

#: A relative clause before a relation ("the block that is in the center zone", "the
#: blocks which are on the left side", "the block that's on top of the red block"): it
#: says where the objects are, as "from X" does, and only right after them.
RELATIVE_WORDS = ("that", "which")
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
            rf"\s+(?:to|into|towards?)\s+(?:the\s+)?(?P<place>{_alternatives(tuple(places))})\b"
        )
        if places
        else None
    )

    def onto(match: re.Match[str]) -> str:
        phrase = match["robot"]
        where = goes_to.match(text, match.end()) if goes_to is not None else None
        if where is None or places[where["place"]] not in destinations(scene, phrases[phrase]):
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
    said = re.compile(
        rf"\b(?P<verb>{_alternatives(only)})\s+(?P<what>(?:(?!\b(?:to|into|onto|in|on|at|"
        rf"from|off|and|then)\b).)+?)(?=\s+(?:to|into|onto|in|on|at)\b)"
    )
    robot_words = re.compile(rf"\b(?:{_alternatives(tuple(robots))}|it)\b") if robots else None

    def put(match: re.Match[str]) -> str:
        what = match["what"]
        words = set(what.split())
        named = any(re.search(rf"\b{re.escape(o)}\b", what) for o in objects)
        if (robot_words is not None and robot_words.search(what)) or not (named or words & nouns):
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
