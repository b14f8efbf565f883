"""Commands with the goal facts they mean on the tabletop scene.

Shared by the offline planner's tests and `robot-planner bench planner`, which scores any
backend (offline or an LLM endpoint) on goal accuracy, validity and latency. A goal of
None marks a phrasing the offline grammar does not cover: it must be refused, not misread.
"""

from __future__ import annotations

R, G, B, Y = "red_block", "green_block", "blue_block", "yellow_block"

#: (category, command, expected goal facts)
COMMANDS: list[tuple[str, str, set[str] | None]] = [
    # basic verbs and synonyms
    ("basic", "put the red block in the right bin", {f"in({R},right_bin)"}),
    ("synonym", "place the green cube on the blue block", {f"on({G},{B})"}),
    ("synonym", "drop the yellow block into the left box", {f"in({Y},left_bin)"}),
    ("synonym", "set the blue block on top of the yellow block", {f"on({B},{Y})"}),
    ("synonym", "move the red block to the middle", {f"at({R},center_zone)"}),
    ("synonym", "take the green block to the center zone", {f"at({G},center_zone)"}),
    ("synonym", "stack the red cube on the green cube", {f"on({R},{G})"}),
    ("synonym", "bring the blue block to the left bin", {f"in({B},left_bin)"}),
    ("synonym", "carry the yellow cube into the right basket", {f"in({Y},right_bin)"}),
    ("synonym", "transfer the red block to the right box", {f"in({R},right_bin)"}),
    ("synonym", "put the green block onto the yellow block", {f"on({G},{Y})"}),
    ("synonym", "lay the blue block in the middle of the table", {f"at({B},center_zone)"}),
    ("synonym", "put the red block in the centre zone", {f"at({R},center_zone)"}),
    ("synonym", "move the yellow block to the left side", {f"at({Y},left_side)"}),
    ("synonym", "put red in the right bin", {f"in({R},right_bin)"}),
    ("synonym", "Put the RED block in the right bin!", {f"in({R},right_bin)"}),
    ("synonym", "put the red block inside the left container", {f"in({R},left_bin)"}),
    # politeness and filler
    ("polite", "could you please put the red block in the right bin", {f"in({R},right_bin)"}),
    ("polite", "please place the green block on the blue block, thanks", {f"on({G},{B})"}),
    ("polite", "can you put the yellow block in the left bin now", {f"in({Y},left_bin)"}),
    ("polite", "now put the blue block in the middle please", {f"at({B},center_zone)"}),
    ("polite", "hey robots, could you kindly stack red on green", {f"on({R},{G})"}),
    ("polite", "I would like you to put the green block in the right bin", {f"in({G},right_bin)"}),
    ("polite", "okay, just put the red block in the left bin", {f"in({R},left_bin)"}),
    ("polite", "would you please move the blue cube to the center", {f"at({B},center_zone)"}),
    # pronouns
    ("pronoun", "pick up the red block and put it in the right bin", {f"in({R},right_bin)"}),
    ("pronoun", "take the green block and place it on the blue block", {f"on({G},{B})"}),
    (
        "pronoun",
        "grab the red and green blocks and put them in the left bin",
        {f"in({R},left_bin)", f"in({G},left_bin)"},
    ),
    (
        "pronoun",
        "put the red block on the green block, then put it in the right bin",
        {f"in({R},right_bin)"},
    ),
    ("pronoun", "pick up the blue block and put it on the yellow one", {f"on({B},{Y})"}),
    (
        "pronoun",
        "pick up the red and the green block and put both in the left bin",
        {f"in({R},left_bin)", f"in({G},left_bin)"},
    ),
    # sequencing
    ("sequence", "put red on blue and then green on red", {f"on({R},{B})", f"on({G},{R})"}),
    (
        "sequence",
        "first put the red block in the left bin, then put the blue block in the right bin",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "sequence",
        "put the red block in the left bin. after that, stack the green block on the blue block",
        {f"in({R},left_bin)", f"on({G},{B})"},
    ),
    (
        "sequence",
        "once the red block is in the right bin, put the green block on the blue block",
        {f"in({R},right_bin)", f"on({G},{B})"},
    ),
    (
        "sequence",
        "put the red block in the right bin, finally put the green block in the left bin",
        {f"in({R},right_bin)", f"in({G},left_bin)"},
    ),
    (
        "sequence",
        "move the blue block to the center zone, then place the red block on the blue block",
        {f"at({B},center_zone)", f"on({R},{B})"},
    ),
    (
        "sequence",
        "put the yellow block in the right bin; then put the green block in the left bin",
        {f"in({Y},right_bin)", f"in({G},left_bin)"},
    ),
    (
        "sequence",
        "after the blue block is in the left bin, put the yellow block on it",
        {f"in({B},left_bin)", f"on({Y},{B})"},
    ),
    (
        "sequence",
        "put the red block in the center zone and afterwards put the green block in the left bin",
        {f"at({R},center_zone)", f"in({G},left_bin)"},
    ),
    (
        "sequence",
        "put the green block in the left bin. next, put the red block on the green block",
        {f"in({G},left_bin)", f"on({R},{G})"},
    ),
    # a later step that is only a destination moves the same block on; "back" + a place
    (
        "sequence",
        "move the red block to the center zone then to the right bin",
        {f"in({R},right_bin)"},
    ),
    (
        "sequence",
        "put the blue block in the left bin and then in the center zone",
        {f"at({B},center_zone)"},
    ),
    (
        "sequence",
        "move the green block to the center zone, then back to the left bin",
        {f"in({G},left_bin)"},
    ),
    ("synonym", "put the yellow block back in the right bin", {f"in({Y},right_bin)"}),
    ("synonym", "return the red block to the left box", {f"in({R},left_bin)"}),
    # "back" with no place: where it was is not known (no memory of earlier commands)
    ("pronoun", "put it back", None),
    ("synonym", "put the red block back", None),
    # parallelism
    (
        "parallel",
        "put the red block in the left bin while the right arm puts the blue block "
        "in the right bin",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "parallel",
        "put the red block in the left bin and the blue block in the right bin at the same time",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "parallel",
        "simultaneously put red in the left bin and blue in the right bin",
        {f"in({R},left_bin)", f"in({B},right_bin)"},
    ),
    (
        "parallel",
        "left arm puts green in the left bin, meanwhile right arm puts yellow on blue",
        {f"in({G},left_bin)", f"on({Y},{B})"},
    ),
    (
        "parallel",
        "while the left arm puts the red block in the left bin, the right arm "
        "stacks the yellow block on the blue block",
        {f"in({R},left_bin)", f"on({Y},{B})"},
    ),
    (
        "parallel",
        "put the green block in the left bin and in parallel put the yellow block "
        "in the right bin",
        {f"in({G},left_bin)", f"in({Y},right_bin)"},
    ),
    # explicit robots
    ("robot", "left arm, put the red block in the left bin", {f"in({R},left_bin)"}),
    ("robot", "right arm: stack the yellow block on the blue block", {f"on({Y},{B})"}),
    (
        "robot",
        "put the blue block in the center zone with the right arm",
        {f"at({B},center_zone)"},
    ),
    ("robot", "with the left arm, put the green block in the middle", {f"at({G},center_zone)"}),
    (
        "robot",
        "use the right arm to put the yellow block in the right bin",
        {f"in({Y},right_bin)"},
    ),
    ("robot", "the left arm puts the red block in the left bin", {f"in({R},left_bin)"}),
    ("robot", "using the left arm, put the blue block in the left bin", {f"in({B},left_bin)"}),
    ("robot", "left robot, put the green block on the red block", {f"on({G},{R})"}),
    # lists and quantifiers
    (
        "list",
        "put the red and green blocks in the left bin",
        {f"in({R},left_bin)", f"in({G},left_bin)"},
    ),
    (
        "list",
        "put the red, green and blue blocks in the right bin",
        {f"in({R},right_bin)", f"in({G},right_bin)", f"in({B},right_bin)"},
    ),
    ("list", "put all blocks in the left bin", {f"in({b},left_bin)" for b in (R, G, B, Y)}),
    (
        "list",
        "put all the blocks in the center zone",
        {f"at({b},center_zone)" for b in (R, G, B, Y)},
    ),
    ("list", "put every block in the right bin", {f"in({b},right_bin)" for b in (R, G, B, Y)}),
    (
        "list",
        "move the blue and yellow cubes to the left side",
        {f"at({B},left_side)", f"at({Y},left_side)"},
    ),
    (
        "list",
        "put the red block and the blue block in the center zone",
        {f"at({R},center_zone)", f"at({B},center_zone)"},
    ),
    (
        "list",
        "put the red and green blocks in the left bin, then move them to the center zone",
        {f"at({R},center_zone)", f"at({G},center_zone)"},
    ),
    (
        "list",
        "grab the blue and yellow blocks and put both in the left bin",
        {f"in({B},left_bin)", f"in({Y},left_bin)"},
    ),
    ("list", "put each block in the left bin", {f"in({b},left_bin)" for b in (R, G, B, Y)}),
    # towers
    (
        "tower",
        "build a tower with yellow at the bottom, then blue, red on top",
        {f"on({B},{Y})", f"on({R},{B})"},
    ),
    ("tower", "yellow at the bottom, then blue, red on top", {f"on({B},{Y})", f"on({R},{B})"}),
    ("tower", "stack blue on yellow then red on blue", {f"on({B},{Y})", f"on({R},{B})"}),
    (
        "tower",
        "stack the red block on the blue block on the yellow block",
        {f"on({B},{Y})", f"on({R},{B})"},
    ),
    (
        "tower",
        "build a tower in the center zone with the yellow block at the bottom, then "
        "the blue block, then the red block on top",
        {f"at({Y},center_zone)", f"on({B},{Y})", f"on({R},{B})"},
    ),
    (
        "tower",
        "make a tower of red, green and blue from the bottom up",
        {f"on({G},{R})", f"on({B},{G})"},
    ),
    ("tower", "build a tower of red, green and blue", {f"on({G},{B})", f"on({R},{G})"}),
    ("tower", "stack red, blue and yellow", {f"on({B},{R})", f"on({Y},{B})"}),
    (
        "tower",
        "build a stack: green at the bottom, red in the middle, blue on top",
        {f"on({R},{G})", f"on({B},{R})"},
    ),
    ("tower", "put red on top and green at the bottom of the tower", None),
    (
        "tower",
        "create a tower in the middle with blue at the bottom and yellow on top",
        {f"at({B},center_zone)", f"on({Y},{B})"},
    ),
    # sorting
    (
        "sort",
        "red and green go in the left bin, blue and yellow in the right bin",
        {f"in({R},left_bin)", f"in({G},left_bin)", f"in({B},right_bin)", f"in({Y},right_bin)"},
    ),
    (
        "sort",
        "sort the blocks: red and green in the left bin, blue and yellow in the right bin",
        {f"in({R},left_bin)", f"in({G},left_bin)", f"in({B},right_bin)", f"in({Y},right_bin)"},
    ),
    (
        "sort",
        "the red block goes in the right bin and the yellow block goes in the left bin",
        {f"in({R},right_bin)", f"in({Y},left_bin)"},
    ),
    ("sort", "blue belongs in the left bin", {f"in({B},left_bin)"}),
    (
        "sort",
        "red should go in the right box, green in the left box",
        {f"in({R},right_bin)", f"in({G},left_bin)"},
    ),
    # zones
    ("zone", "put the red block in the center zone", {f"at({R},center_zone)"}),
    ("zone", "put the green block in the middle", {f"at({G},center_zone)"}),
    ("zone", "move the blue block to the centre of the table", {f"at({B},center_zone)"}),
    ("zone", "put the yellow block at the hand-over zone", {f"at({Y},center_zone)"}),
    ("zone", "put the red block on the right side", {f"at({R},right_side)"}),
    ("zone", "move the green block to the middle area", {f"at({G},center_zone)"}),
]
