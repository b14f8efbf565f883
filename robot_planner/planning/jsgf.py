"""The offline command language as a JSGF grammar, for speech recognisers (pocketsphinx).

Built from the same word lists as the lark grammar (the domain's lexicon: verbs, tower
words, robot nouns, fillers; English sequence and parallel words) and the scene's
vocabulary (colours, names, aliases, robots), so what the recogniser can hear is what
the planner understands. Speech has no punctuation, so separators are words only.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
    {robot} is one or several robots and any other slot a spoken number."""
    phrase = re.sub(r"\{robot\}", "<robots>", template)
    return re.sub(r"\{[a-z_]+\}", "<number>", phrase)


def _sayable(phrase: str) -> bool:
    return re.fullmatch(r"[a-z' ]+", phrase) is not None


def jsgf_grammar(
    scene: Scene, name: str = "robot_planner", sayable: Callable[[str], bool] | None = None
) -> str:
    """The JSGF grammar text for commands about `scene`.

    Args:
        sayable: which words the recogniser can pronounce (its dictionary); phrases with
            another word are left out, so a name such as "xarm" costs its phrases, not the
            whole grammar. None keeps every phrase.
    """

    def alt(options: list[str] | tuple[str, ...]) -> str:
        kept = [o for o in options if sayable is None or all(map(sayable, _words(o).split()))]
        return _alt(kept or list(options))

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
        f" | [<tower_verb>] [a] ({alt(towers)}) [in <target>] [with] <levels>" if towers else ""
    )
    grasp_rule = (
        f" | ({alt(lexicon.grasp_verbs)}) <objects> [<preposition> <target>]"
        if lexicon.grasp_verbs
        else ""
    )
    skills = [
        _skill_phrase(p)
        for _, phrases in lexicon.skills
        for p in phrases
        if sayable is None or all(map(sayable, re.findall(r"[a-z']+", re.sub(r"\{\w+\}", "", p))))
    ]
    skill_rule = " | <skill>" if skills else ""
    lines = [
        "#JSGF V1.0;",
        f"grammar {name};",
        "",
        # A whole-utterance yes/no answers a plan waiting for approval (confirm).
        # Lists are right-recursive rules, not "X (sep X)*": pocketsphinx turns a right
        # recursion into a loop, where a repeat would copy X (and all it uses) again.
        "public <command> = [<filler>] <steps> [<filler>] | <answer>;",
        f"<answer> = {alt([a for a in ANSWER_WORDS if chr(39) not in a])};",
        "<steps> = <step> [<sequence> <steps>];",
        "<step> = <chunks> | once <condition> <chunk>;",
        "<chunks> = <chunk> [<parallel> <chunks>];",
        "<chunk> = [<robot_head>] <actions> [with [the] <robot>];",
        "<actions> = <action> [and <actions>];",
        "<robot_head> = <robots> | with [the] <robot> | use [the] <robot> to"
        " | using [the] <robot>;",
        f"<robot> = {alt(robot_phrases)};",
        "<action> = <verb> <objects> <preposition> <target>"
        f" | <objects> [goes | go | belongs | should go] <preposition> <target>{tower_rule}"
        f"{grasp_rule}{send_rule}{go_rule}{skill_rule} | <objects> (too | as well);",
        *([f"<skill> = {' | '.join(sorted(set(skills)))};"] if skills else []),
        # Several robots: "robot one and robot two", "both arms" (a clause's head, a skill's
        # robot, whom to send); the parser refuses what they cannot do together.
        "<robots> = <robot_list>"
        + (f" | (both | all [the]) ({alt(plural_robots)})" if plural_robots else "")
        + ";",
        "<robot_list> = [the] <robot> [[and] <robot_list>];",
        "<condition> = <objects> (is | are) <preposition> <target>;",
        "<objects> = <object_list> | (all | every | each) [the] "
        f"[<colour>] ({alt(nouns + plural)}) [({alt(EXCEPT_WORDS)}) <object_list>]"
        f" | both [{alt(plural)}] | it | them;",
        "<object_list> = <object> [[and] <object_list>];",
        f"<object> = [the] <colour> [{alt([*nouns, *plural, 'one'])}]"
        f" | [the] [<number>] [<colour>] ({alt(nouns + plural)}) [<preposition> <target>];",
        f"<number> = {alt(tuple(NUMBER_WORDS))};",
        f"<colour> = {alt(colours)};",
        f"<target> = [the] (<colour> [{alt([*nouns, 'one'])}] | {alt(places)} | it"
        f"{' | <robot>' if on_robots else ''});",
        "<levels> = <level> [[then] [and] <levels>];",
        f"<level> = <object> [{alt(POSITIONS)}];",
        f"<verb> = {alt(lexicon.verbs)};",
        *([f"<tower_verb> = {alt(lexicon.tower_verbs)};"] if towers else []),
        *([f"<send_verb> = {alt(lexicon.send_verbs)};"] if lexicon.send_verbs else []),
        *([f"<go_verb> = {alt(lexicon.go_verbs)};"] if lexicon.go_verbs else []),
        f"<preposition> = {alt(PREPOSITIONS)};",
        f"<sequence> = {alt(SEQUENCE_WORDS)};",
        f"<parallel> = {alt(PARALLEL_WORDS)};",
        f"<filler> = {alt(lexicon.fillers)};",
        "",
    ]
    return "\n".join(lines)
