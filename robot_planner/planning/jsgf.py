"""The offline command language as a JSGF grammar, for speech recognisers (pocketsphinx).

Built from the same word lists as the lark grammar (the domain's lexicon: verbs, tower
words, robot nouns, fillers; English sequence and parallel words) and the scene's
vocabulary (colours, names, aliases, robots), so what the recogniser can hear is what
the planner understands. Speech has no punctuation, so separators are words only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from robot_planner.planning.lexicon import (
    EXCEPT_WORDS,
    NUMBER_WORDS,
    PARALLEL_WORDS,
    POSITIONS,
    SEQUENCE_WORDS,
    Lexicon,
    Vocabulary,
    plural_of,
)
from robot_planner.planning.rewrites import (
    RELATION_BEFORE_TO,
    back_is_dropped,
    destinations,
    goes_places,
    on_to_verbs,
)
from robot_planner.service.approval import APPROVE_WORDS, REJECT_WORDS
from robot_planner.world.scene import Scene

PREPOSITIONS = ("in", "into", "inside", "on", "onto", "on top of", "to", "at")
#: "move it on to the dock", "drive over to the pick station": the parser reads them as "to".
ON_TO = ("on to", "over to")


#: What may be said to a plan waiting for approval (the words the planner takes).
ANSWER_WORDS = (*APPROVE_WORDS, *REJECT_WORDS)


def _words(text: str) -> str:
    """JSGF tokens: lower-case words (apostrophes dropped, as recognisers spell them)."""
    return " ".join(re.sub(r"[^a-z ]", "", text.lower()).split())


def _of_noun(scene: Scene, lexicon: Lexicon, noun: str) -> list[str]:
    """The robots a robot noun names, singular or plural ("arms": both arms)."""
    singular = lexicon.singular_robot_noun(noun)
    return [
        r for r, spec in scene.robots.items() if singular in scene.domain.robot_nouns(spec.kind)
    ]


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


@dataclass(frozen=True)
class _Moving:
    """The JSGF for what the parser reads after rewrites, around steps that move things
    or send robots: alternatives to add to <steps>, <chunks> and <action>, and the rules
    they use."""

    steps: str = ""
    chunk: str = ""
    action: str = ""
    rules: tuple[str, ...] = ()


def _moving_rules(
    scene: Scene, vocab: Vocabulary, places: list[str], alt: Callable[[list[str]], str]
) -> _Moving:
    """Steps that only say where (", then to the right bin"), "back" before a place,
    "on to" / "over to" and verbless dispatch, each only where the parser takes it
    (`rewrites._without_back`, `_dispatch_comma`, `onward`):

    - a destination-only step follows a step that moved objects (to a place objects go)
      or sent robots (to a place robots are), as the parser moves on what it moved;
    - "back" before a place is said after one object or one robot, never after a list
      with "and" (the parser reads "and ... back" as "then ... back");
    - verbless dispatch names only robots that go places ("robot one to the dock", "both
      robots to the dock": a plural robot noun all of whose robots go places);
    - a destination step may leave out "to" ("..., then the right bin"), and a robot
      that goes places may be sent or go to a one-word place name ("send robot one
      home", "robot two drive home"), not a name that is also a grammar word ("pick").

    Not here: "X first, then Y" and a bare "back" ("..., and come back"). The parser
    takes them only in the first step, which needs a second copy of a step in the
    decoder's graph: tried, it made decoding 1.7x slower and lost an exact recording.
    """
    lexicon = vocab.lexicon
    domain = scene.domain
    name_of = dict(vocab.phrases)

    def place_names(phrases: list[str], kinds: list[str]) -> list[str]:
        def named(p: str) -> str | None:
            return name_of.get(p) or name_of.get(p.replace(" of the ", " ", 1))

        return [p for p in phrases if any(scene.is_a(named(p) or "", k) for k in kinds)]

    back = back_is_dropped(vocab)
    on_to = _on_to_is_to(vocab, _nouns(scene))
    reserved = set(lexicon.reserved)

    def bare(phrases: list[str]) -> list[str]:
        """Place phrases the parser takes with no "to" before them: not a grammar word
        ("pick"), not "X of the N" (the parser's own "to" reading of it)."""
        return [p for p in phrases if p not in reserved and " of the " not in p]

    put_kinds = [k for k in domain.locations.put if k not in domain.robot_kinds]
    put_places = place_names(places, put_kinds) if lexicon.verbs else []
    said_as: dict[str, list[str]] = {}  # each robot that goes places: its phrases
    for phrase, robot in vocab.robots.items():
        if _sayable(phrase) and goes_places(scene, robot, lexicon):
            said_as.setdefault(robot, []).append(phrase)
    mobile = [p for phrases in said_as.values() for p in phrases]
    # "both robots", "all the bases": plural robot nouns all of whose robots go places
    every = [
        n
        for n in lexicon.robot_nouns
        if n != lexicon.singular_robot_noun(n)
        and (kinds := _of_noun(scene, lexicon, n))
        and set(kinds) <= set(said_as)
    ]
    every_two = [n for n in every if len(_of_noun(scene, lexicon, n)) == 2]
    robot_at = domain.locations.robot
    go_places = place_names(places, [domain.predicates[robot_at].args[1]]) if robot_at else []
    # Places every robot that goes places can be sent to: a sentence of the grammar
    # names any of them with any place (the fetcher's service bay is its own).
    sendable = [set(destinations(scene, r)) for r in said_as]
    common = set.intersection(*sendable) if sendable else set()
    go_places = [
        p
        for p in go_places
        if (name_of.get(p) or name_of.get(p.replace(" of the ", " ", 1))) in common
    ]
    # Before a step that is only a place, a sequence word the parser cannot read as the
    # end of the place before it ("the left bin last, to ..." is a place "left bin last").
    # Not "next": "..., next to the blue block" is a relation the parser refuses.
    then = [
        w
        for w in SEQUENCE_WORDS
        if w.split()[0] in lexicon.reserved and w not in RELATION_BEFORE_TO
    ]
    rules: list[str] = [f"<then> = {alt(then)};"]
    steps = chunk = action = ""
    back_to = "[back] <onto>" if back else "<onto>"
    if put_places:
        rules += [
            f"<put_place> = {alt(put_places)};",
            f"<put_name> = {alt(bare(put_places))};",
            f"<onward> = ({back_to} [the] <put_place> | [the] <put_name>) [<then> <onward>];",
            # Its own copy for the decoder: kept small (named objects, a robot said before
            # it) as each use copies it whole; a bigger one made decoding 1.7x slower.
            "<moving> = [<one_robot_head>] <put>;",
            "<put> = <verb> <object_list> <onto> <target>"
            + (" | <verb> <one_object> back <onto> <target>" if back else "")
            + ";",
            "<one_robot_head> = [the] <robot> | (with | using) [the] <robot> | use [the] <robot>"
            " to;",
            f"<one_object> = [the] <colour> [{alt([*_nouns(scene), 'one'])}];",
        ]
        steps += " | <moving> <then> <onward> [<sequence> <steps>]"
        if back:
            action += " | <verb> <one_object> back <onto> <target>"
    if mobile and go_places and (lexicon.go_verbs or lexicon.send_verbs):
        verbless = "[on | over] to" if on_to else "to"
        going = ["<dispatch>"]
        rules += [
            f"<mobile_robot> = {alt(mobile)};",
            # One robot, or two different ones joined by "and" (the parser refuses a robot
            # named twice, and a list with no "and" before a bare "to"); no "the" before
            # a verb ("the base one goes": 'the base' could be either).
            "<mobile_robots> = <mobile_robot>"
            + "".join(
                f" | ({alt(said_as[a])}) and ({alt(said_as[b])})"
                for a in said_as
                for b in said_as
                if a != b
            )
            + ";",
            f"<go_place> = {alt(go_places)};",
            f"<go_name> = {alt(bare(go_places))};",
            # "..., then (go) back to the dock", "..., then the dock": the robots the step
            # before sent
            f"<onward_go> = ({'[<go_verb>] ' if lexicon.go_verbs else ''}{back_to} [the]"
            " <go_place> | [the] <go_name>) [<then> <onward_go>];",
            f"<dispatch> = [the] <mobile_robots> {verbless} [the] <go_place>"
            + (" | [the] <mobile_robot> back to [the] <go_place>" if back else "")
            + (" | <every_mobile> to [the] <go_place>" if every else "")
            + ";",
            *(
                [
                    f"<every_mobile> = all [the] ({alt(every)})"
                    + (f" | both ({alt(every_two)})" if every_two else "")
                    + ";"
                ]
                if every
                else []
            ),
        ]
        # "send robot one home", "robot two drive home": a place's one-word alias, no "to"
        aliases = {a for spec in scene.places.values() for a in spec.aliases if " " not in a}
        home = [p for p in bare(go_places) if p in aliases]
        if home:
            rules.append(f"<go_word> = {alt(home)};")
        chunk += " | <dispatch>"
        homing = []
        if home and lexicon.go_verbs:  # a list before a verb is who is addressed
            homing.append(f"[the] <mobile_robots> <go_verb> {'[back] ' if back else ''}<go_word>")
        if home and lexicon.send_verbs:  # a list sent is read "and then ... back"
            sent = "([the] <mobile_robots> | <every_mobile>)" if every else "[the] <mobile_robots>"
            homing.append(f"<send_verb> {sent} <go_word>")
            if back:
                homing.append("<send_verb> [the] <mobile_robot> back <go_word>")
        if homing:
            rules.append(f"<go_home> = {' | '.join(homing)};")
            going.append("<go_home>")
            chunk += " | <go_home>"
        if lexicon.go_verbs:
            going.append("[the] <mobile_robots> <go_verb> <onto> [the] <go_place>")
            if back:
                going.append("[the] <mobile_robots> <go_verb> back <onto> [the] <go_place>")
                chunk += " | [the] <mobile_robots> <go_verb> back <onto> [the] <go_place>"
        if lexicon.send_verbs:
            going.append("<send_verb> [the] <mobile_robots> <onto> [the] <go_place>")
            if back:
                going.append("<send_verb> [the] <mobile_robot> back <onto> [the] <go_place>")
                action += " | <send_verb> [the] <mobile_robot> back <onto> [the] <go_place>"
        rules.append(f"<going> = {' | '.join(going)};")
        steps += " | <going> <then> <onward_go> [<sequence> <steps>]"
    return _Moving(steps, chunk, action, tuple(rules) if steps else ())


def _on_to_is_to(vocab: Vocabulary, nouns: list[str]) -> bool:
    """Whether "on to" / "over to" may be said for "to": the parser keeps them only after
    a verb's own first words ("hold" of "hold on to"), so not when such a word could come
    right before the "to" in the grammar (a go verb, the last word of a name or noun)."""
    kept = set(on_to_verbs(vocab.lexicon))
    names = (*vocab.phrases, *vocab.robots, *nouns, *map(plural_of, nouns))
    before = {*vocab.lexicon.go_verbs, *(p.split()[-1] for p in names if p.split())}
    return not kept & before


def _nouns(scene: Scene) -> list[str]:
    """The nouns the scene's objects answer to ("block", "cube")."""
    return sorted({n for s in scene.objects.values() for n in scene.domain.nouns(s.type)})


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
    # Not for an alias that is also a grammar word ("the pick of the table": "pick" is the
    # verb there; the parser takes "pick" as the place only right after a preposition).
    reserved = set(vocab.lexicon.reserved)
    places += [
        p.replace(" ", " of the ", 1)
        for p in places
        if p.split()[0] in aliases and p.split()[0] not in reserved
    ]
    nouns = _nouns(scene)
    plural = [plural_of(n) for n in nouns]
    lexicon = vocab.lexicon
    # Every phrase the parser takes for a robot ("left arm", "robot one").
    robot_phrases = [p for p in vocab.robots if _sayable(p)]
    plural_robots = [n for n in lexicon.robot_nouns if n in map(plural_of, lexicon.robot_nouns)]
    # "both" only before a noun of two robots (the parser refuses it before any other count)
    two = [n for n in plural_robots if len(_of_noun(scene, lexicon, n)) == 2]
    domain = scene.domain
    on_robots = any(k in domain.robot_kinds for k in domain.locations.put)
    send_rule = " | <send_verb> <robots> <onto> <target>" if lexicon.send_verbs else ""
    go_rule = " | <go_verb> [from [the] <place>] <onto> <target>" if lexicon.go_verbs else ""
    towers = lexicon.tower_nouns
    tower_rule = (
        f" | [<tower_verb>] [a] ({alt(towers)}) [in <target>] [with] <levels>" if towers else ""
    )
    grasp_rule = (
        f" | ({alt(lexicon.grasp_verbs)}) <objects> [<preposition> <target>]"
        if lexicon.grasp_verbs
        else ""
    )
    moving = _moving_rules(scene, vocab, places, alt)
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
        f"<steps> = <step> [<sequence> <steps>]{moving.steps};",
        "<step> = <chunks> | once <condition> <chunk>;",
        f"<chunks> = (<chunk>{moving.chunk}) [<parallel> <chunks>];",
        "<chunk> = [<robot_head>] <actions> [with [the] <robot>];",
        "<actions> = <action> [and <actions>];",
        "<robot_head> = <robots> | with [the] <robot> | use [the] <robot> to"
        " | using [the] <robot>;",
        f"<robot> = {alt(robot_phrases)};",
        "<action> = <verb> <objects> [from [the] <place>] <onto> <target>"
        f" | <objects> [goes | go | belongs | should go] <preposition> <target>{tower_rule}"
        f"{grasp_rule}{send_rule}{go_rule}{skill_rule}{moving.action}"
        " | <objects> (too | as well);",
        *([f"<skill> = {' | '.join(sorted(set(skills)))};"] if skills else []),
        # Several robots: "robot one and robot two", "both arms" (a clause's head, a skill's
        # robot, whom to send); the parser refuses what they cannot do together.
        "<robots> = <robot_list>"
        + (f" | all [the] ({alt(plural_robots)})" if plural_robots else "")
        + (f" | both ({alt(two)})" if two else "")
        + ";",
        "<robot_list> = [the] <robot> [[and] <robot_list>];",
        "<condition> = <objects> (is | are) <preposition> <target>;",
        # "all the blocks", "every block": the noun agrees with its quantifier (the decoder
        # heard "put all the block to ..." for "put all the blocks in ...")
        f"<objects> = <object_list> | (all [the] [<colour>] ({alt(plural)})"
        f" | (every | each) [<colour>] ({alt(nouns)})) [({alt(EXCEPT_WORDS)}) <object_list>]"
        f" | both [{alt(plural)}] | it | them;",
        "<object_list> = <object> [[and] <object_list>];",
        f"<object> = [the] <colour> [{alt([*nouns, *plural, 'one'])}]"
        f" | [the] [<number>] [<colour>] ({alt(nouns + plural)}) [<preposition> <target>];",
        f"<number> = {alt(tuple(NUMBER_WORDS))};",
        f"<colour> = {alt(colours)};",
        f"<target> = [the] (<colour> [{alt([*nouns, 'one'])}] | <place> | it"
        f"{' | <robot>' if on_robots else ''});",
        f"<place> = {alt(places)};",
        *moving.rules,
        "<levels> = <level> [[then] [and] <levels>];",
        f"<level> = <object> [{alt(POSITIONS)}];",
        f"<verb> = {alt(lexicon.verbs)};",
        *([f"<tower_verb> = {alt(lexicon.tower_verbs)};"] if towers else []),
        *([f"<send_verb> = {alt(lexicon.send_verbs)};"] if lexicon.send_verbs else []),
        *([f"<go_verb> = {alt(lexicon.go_verbs)};"] if lexicon.go_verbs else []),
        f"<preposition> = {alt(PREPOSITIONS)};",
        f"<onto> = <preposition>{' | ' + alt(ON_TO) if _on_to_is_to(vocab, nouns) else ''};",
        f"<sequence> = {alt(SEQUENCE_WORDS)};",
        f"<parallel> = {alt(PARALLEL_WORDS)};",
        f"<filler> = {alt(lexicon.fillers)};",
        "",
    ]
    return "\n".join(lines)
