"""The logistics cell's commands for `robot-planner bench tasks --scene logistics`, in
DART-LLM's three levels (the runner is `robot_planner.bench.tasks`):

* L1 — one robot, one goal: a base drives to a station or the dock.
* L2 — several goals with an ordering or for several robots that do not depend on each
  other: bases sent one after another or to different places at once.
* L3 — several robots with cross-robot dependencies: a base parks at the pick station
  before the Panda loads it, the Panda lets go before the base leaves, the xArm unloads
  it at the packing station; stations hold one base, so bases take turns.
"""

from __future__ import annotations

R, G, B = "red_parcel", "green_parcel", "blue_parcel"
PICK, PACK, BIN, DOCK = "pick_station", "packing_station", "packing_bin", "dock"

#: (level, command, goal facts that must hold at the end)
TASKS: list[tuple[str, str, set[str]]] = [
    # L1: one robot, one goal
    ("L1", "robot one, go to the pick station", {f"robot_at(base_1,{PICK})"}),
    ("L1", "robot two, go to the packing station", {f"robot_at(base_2,{PACK})"}),
    ("L1", "send robot one to the packing station", {f"robot_at(base_1,{PACK})"}),
    ("L1", "base two, drive to the pick table", {f"robot_at(base_2,{PICK})"}),
    ("L1", "robot two goes to the pick station", {f"robot_at(base_2,{PICK})"}),
    ("L1", "please send base one to packing", {f"robot_at(base_1,{PACK})"}),
    ("L1", "could you move robot two to the packing table", {f"robot_at(base_2,{PACK})"}),
    ("L1", "dispatch robot one to the picking station", {f"robot_at(base_1,{PICK})"}),
    # dispatch talk with no verb: the named base goes there
    ("L1", "robot one to the pick station", {f"robot_at(base_1,{PICK})"}),
    ("L1", "base two, to the dock", {f"robot_at(base_2,{DOCK})"}),
    # L2: several goals, ordered or for robots that do not depend on each other
    (
        "L2",
        "send robot one to the pick station and robot two to the packing station",
        {f"robot_at(base_1,{PICK})", f"robot_at(base_2,{PACK})"},
    ),
    (
        "L2",
        "robot one, go to the packing station, then robot two, go to the pick station",
        {f"robot_at(base_1,{PACK})", f"robot_at(base_2,{PICK})"},
    ),
    (
        "L2",
        "send robot two to the pick station, then send robot one to packing",
        {f"robot_at(base_2,{PICK})", f"robot_at(base_1,{PACK})"},
    ),
    (
        "L2",
        "robot one goes to the pick station while robot two goes to the packing station",
        {f"robot_at(base_1,{PICK})", f"robot_at(base_2,{PACK})"},
    ),
    (
        "L2",
        "first send base two to the packing table, then send base one to the pick table",
        {f"robot_at(base_2,{PACK})", f"robot_at(base_1,{PICK})"},
    ),
    (
        "L2",
        "send robot one to packing and robot two to the pick table",
        {f"robot_at(base_1,{PACK})", f"robot_at(base_2,{PICK})"},
    ),
    (
        "L2",
        "robot two, go to the pick station; at the same time robot one goes to packing",
        {f"robot_at(base_2,{PICK})", f"robot_at(base_1,{PACK})"},
    ),
    # a later step that is only a destination; "back to" a place
    (
        "L2",
        "robot one, go to the pick station, then to the packing station",
        {f"robot_at(base_1,{PACK})"},
    ),
    (
        "L2",
        "send robot two to the packing station, then back to the pick station",
        {f"robot_at(base_2,{PICK})"},
    ),
    ("L2", "both robots to the dock", {f"robot_at(base_1,{DOCK})", f"robot_at(base_2,{DOCK})"}),
    # L3: several robots with cross-robot dependencies
    ("L3", "please put the red parcel on robot one", {f"on_tray({R},base_1)"}),
    ("L3", "load the green parcel onto base two", {f"on_tray({G},base_2)"}),
    (
        "L3",
        "put the red and the green parcels on robot one",
        {f"on_tray({R},base_1)", f"on_tray({G},base_1)"},
    ),
    ("L3", "bring the red parcel to the packing station", {f"at({R},{PACK})"}),
    ("L3", "bring the green parcel to the packing station", {f"at({G},{PACK})"}),
    ("L3", "take the blue package to packing", {f"at({B},{PACK})"}),
    ("L3", "put the green parcel in the packing bin", {f"in({G},{BIN})"}),
    ("L3", "put the red parcel into the packing bin", {f"in({R},{BIN})"}),
    ("L3", "deliver the blue box to the packing bin", {f"in({B},{BIN})"}),
    (
        "L3",
        "bring the red and the blue parcels to packing",
        {f"at({R},{PACK})", f"at({B},{PACK})"},
    ),
    (
        "L3",
        "bring the red and the blue parcels to packing, one on each robot",
        {f"at({R},{PACK})", f"at({B},{PACK})"},
    ),
    (
        "L3",
        "put the green parcel in the packing bin, then send robot two to the dock",
        {f"in({G},{BIN})", f"robot_at(base_2,{DOCK})"},
    ),
    (
        "L3",
        "bring the red parcel to the packing station, then send both robots to the dock",
        {f"at({R},{PACK})", f"robot_at(base_1,{DOCK})", f"robot_at(base_2,{DOCK})"},
    ),
    (
        "L3",
        "put the red parcel in the packing bin and the blue parcel on the packing table",
        {f"in({R},{BIN})", f"at({B},{PACK})"},
    ),
    (
        "L3",
        "bring all parcels to the packing station",
        {f"at({R},{PACK})", f"at({G},{PACK})", f"at({B},{PACK})"},
    ),
    (
        "L3",
        "put all the parcels in the packing bin",
        {f"in({R},{BIN})", f"in({G},{BIN})", f"in({B},{BIN})"},
    ),
    (
        "L3",
        "pick up the green parcel and bring it to packing, then put it in the bin",
        {f"in({G},{BIN})"},
    ),
    (
        "L3",
        "bring the blue parcel to packing, then put the red parcel in the packing bin",
        {f"at({B},{PACK})", f"in({R},{BIN})"},
    ),
    (
        "L3",
        "robot two, go to the packing station, then bring the red parcel to the packing bin",
        {f"robot_at(base_2,{PACK})", f"in({R},{BIN})"},
    ),
    (
        "L3",
        "bring the green and the blue parcels to the packing bin, one on each robot",
        {f"in({G},{BIN})", f"in({B},{BIN})"},
    ),
]
