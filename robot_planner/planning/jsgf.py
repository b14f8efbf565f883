"""The offline command language as a JSGF grammar, for speech recognisers (pocketsphinx).

Built from the same word lists as the lark grammar (the domain's lexicon: verbs, tower
words, robot nouns, fillers; English sequence and parallel words) and the scene's
vocabulary (colours, names, aliases, robots), so what the recogniser can hear is what
the planner understands. Speech has no punctuation, so separators are words only.
"""

from __future__ import annotations

import re

from robot_planner.planning.language import (
    EXCEPT_WORDS,
    NUMBER_WORDS,
    PARALLEL_WORDS,
    POSITIONS,
    SEQUENCE_WORDS,
    Vocabulary,
    plural_of,
)
from robot_planner.service.approval import APPROVE_WORDS, REJECT_WORDS
from robot_planner.world.scene import Scene

PREPOSITIONS = ("in", "into", "inside", "on", "onto", "on top of", "to", "at")


#: What may be said to a plan waiting for approval (the words the planner takes).
ANSWER_WORDS = (*APPROVE_WORDS, *REJECT_WORDS)


def _words(text: str) -> str:
    """JSGF tokens: lower-case words (apostrophes dropped, as recognisers spell them)."""
    return " ".join(re.sub(r"[^a-z ]", "", text.lower()).split())


def _alt(options: list[str] | tuple[str, ...]) -> str:
    """Alternatives factored by their first words ("left (bin | box) | right (bin | box)").

    pocketsphinx expands every rule where it is used, so a flat list of phrases is copied
    word by word into each use; sharing the leading words keeps the search graph (and the
    decode time and memory) small without changing which sentences it holds.
    """
    phrases = {tuple(_words(o).split()) for o in options if _words(o)}
    return _factored(sorted(phrases))


def _factored(phrases: list[tuple[str, ...]]) -> str:
    """JSGF for a set of word sequences, as a trie: alternatives, with [] where a phrase
    may end early."""
    groups: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        groups.setdefault(phrase[0], []).append(phrase[1:])
    out = []
    for first, rests in sorted(groups.items(), key=lambda g: (-max(map(len, g[1])), g[0])):
        tails = [r for r in rests if r]
        if not tails:
            out.append(first)
            continue
        inner = _factored(tails)
        if len(tails) > 1 and " | " in inner:
            inner = f"({inner})"
        out.append(f"{first} [{inner}]" if len(tails) < len(rests) else f"{first} {inner}")
    return " | ".join(out)


def _skill_phrase(template: str) -> str:
    """A domain skill phrase in JSGF: its [optional] and (a|b) groups are JSGF's own;
    {robot} is a robot phrase and any other slot a spoken number."""
    phrase = re.sub(r"\{robot\}", "[the] <robot>", template)
    return re.sub(r"\{[a-z_]+\}", "<number>", phrase)


def _sayable(phrase: str) -> bool:
    return re.fullmatch(r"[a-z' ]+", phrase) is not None


def jsgf_grammar(scene: Scene, name: str = "robot_planner") -> str:
    """The JSGF grammar text for commands about `scene`."""
    colours = [spec.color.lower() for spec in scene.objects.values() if spec.color]
    # Place phrases are the parser's own (one vocabulary), so the recogniser can hear
    # every place word the parser accepts; "of the table" is the parser's filler.
    vocab = Vocabulary.from_scene(scene)
    # Phrases a recogniser can say: no digits, no "_" (names joined for the parser).
    places = [p for p, name in vocab.phrases.items() if name in scene.places and _sayable(p)]
    # "the middle of the table": the parser reads "X of the N" as "X N" (place aliases).
    aliases = {a for spec in scene.places.values() for a in spec.aliases if " " not in a}
    places += [p.replace(" ", " of the ", 1) for p in places if p.split()[0] in aliases]
    nouns = sorted({n for s in scene.objects.values() for n in scene.domain.nouns(s.type)})
    plural = [plural_of(n) for n in nouns]
    lexicon = vocab.lexicon
    # Every phrase the parser takes for a robot ("left arm", "robot one").
    robot_phrases = [p for p in vocab.robots if _sayable(p)]
    plural_robots = [n for n in lexicon.robot_nouns if n in map(plural_of, lexicon.robot_nouns)]
    domain = scene.domain
    on_robots = any(k in domain.robot_kinds for k in domain.locations.put)
    send_rule = " | <send_verb> <robots> <preposition> <target>" if lexicon.send_verbs else ""
    go_rule = " | <go_verb> <preposition> <target>" if lexicon.go_verbs else ""
    towers = lexicon.tower_nouns
    tower_rule = (
        f" | [<tower_verb>] [a] ({_alt(towers)}) [in <target>] [with] <levels>" if towers else ""
    )
    grasp_rule = (
        f" | ({_alt(lexicon.grasp_verbs)}) <objects> [<preposition> <target>]"
        if lexicon.grasp_verbs
        else ""
    )
    skills = [_skill_phrase(p) for _, phrases in lexicon.skills for p in phrases]
    skill_rule = " | <skill>" if skills else ""
    lines = [
        "#JSGF V1.0;",
        f"grammar {name};",
        "",
        # A whole-utterance yes/no answers a plan waiting for approval (confirm).
        # Lists are right-recursive rules, not "X (sep X)*": pocketsphinx turns a right
        # recursion into a loop, where a repeat would copy X (and all it uses) again.
        "public <command> = [<filler>] <steps> [<filler>] | <answer>;",
        f"<answer> = {_alt([a for a in ANSWER_WORDS if chr(39) not in a])};",
        "<steps> = <step> [<sequence> <steps>];",
        "<step> = <chunks> | once <condition> <chunk>;",
        "<chunks> = <chunk> [<parallel> <chunks>];",
        "<chunk> = [<robot_head>] <actions> [with [the] <robot>];",
        "<actions> = <action> [and <actions>];",
        "<robot_head> = [the] <robot> | with [the] <robot> | use [the] <robot> to"
        " | using [the] <robot>;",
        f"<robot> = {_alt(robot_phrases)};",
        "<action> = <verb> <objects> <preposition> <target>"
        f" | <objects> [goes | go | belongs | should go] <preposition> <target>{tower_rule}"
        f"{grasp_rule}{send_rule}{go_rule}{skill_rule} | <objects> (too | as well);",
        *([f"<skill> = {' | '.join(sorted(set(skills)))};"] if skills else []),
        *(
            [
                "<robots> = [the] <robot> ([and] [the] <robot>)*"
                f" | (both | all [the]) ({_alt(plural_robots)});"
            ]
            if lexicon.send_verbs
            else []
        ),
        "<condition> = <objects> (is | are) <preposition> <target>;",
        "<objects> = <object_list> | (all | every | each) [the] "
        f"[<colour>] ({_alt(nouns + plural)}) [({_alt(EXCEPT_WORDS)}) <object_list>]"
        f" | both [{_alt(plural)}] | it | them;",
        "<object_list> = <object> [[and] <object_list>];",
        f"<object> = [the] <colour> [{_alt([*nouns, *plural, 'one'])}]"
        f" | [the] [<number>] [<colour>] ({_alt(nouns + plural)}) [<preposition> <target>];",
        f"<number> = {_alt(tuple(NUMBER_WORDS))};",
        f"<colour> = {_alt(colours)};",
        f"<target> = [the] (<colour> [{_alt([*nouns, 'one'])}] | {_alt(places)} | it"
        f"{' | <robot>' if on_robots else ''});",
        "<levels> = <level> [[then] [and] <levels>];",
        f"<level> = <object> [{_alt(POSITIONS)}];",
        f"<verb> = {_alt(lexicon.verbs)};",
        *([f"<tower_verb> = {_alt(lexicon.tower_verbs)};"] if towers else []),
        *([f"<send_verb> = {_alt(lexicon.send_verbs)};"] if lexicon.send_verbs else []),
        *([f"<go_verb> = {_alt(lexicon.go_verbs)};"] if lexicon.go_verbs else []),
        f"<preposition> = {_alt(PREPOSITIONS)};",
        f"<sequence> = {_alt(SEQUENCE_WORDS)};",
        f"<parallel> = {_alt(PARALLEL_WORDS)};",
        f"<filler> = {_alt(lexicon.fillers)};",
        "",
    ]
    return "\n".join(lines)
