"""The packaged SROS2 policy (config/sros2/policy.xml) matches the nodes' topics: only the
planner reads commands, only the operator and voice enclaves may send them, and every
topic a node uses is allowed in its enclave (a missing one would silently cut a link
once security is enforced)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from robot_planner.nodes import common

POLICY = Path(__file__).parents[1] / "config" / "sros2" / "policy.xml"


def _rules() -> dict[str, dict[str, set[str]]]:
    rules: dict[str, dict[str, set[str]]] = {}
    for enclave in ET.parse(POLICY).getroot().iter("enclave"):
        access = rules.setdefault(enclave.get("path"), {"publish": set(), "subscribe": set()})
        for topics in enclave.iter("topics"):
            for kind in ("publish", "subscribe"):
                if topics.get(kind) == "ALLOW":
                    access[kind] |= {"/" + t.text.strip() for t in topics.iter("topic")}
    return rules


def test_only_the_planner_reads_commands_and_only_operators_and_voice_send_them():
    rules = _rules()
    readers = {e for e, r in rules.items() if common.COMMAND in r["subscribe"]}
    writers = {e for e, r in rules.items() if common.COMMAND in r["publish"]}
    assert readers == {"/robot_planner/planner"}
    assert writers == {"/robot_planner/operator", "/robot_planner/voice"}
    assert "/robot_planner/cancel" in rules["/robot_planner/operator"]["publish"]


def test_every_enclave_belongs_to_a_node_of_the_bringup_or_the_operator():
    from robot_planner.bringup import ENCLAVE_ROOT, NODES

    expected = {f"{ENCLAVE_ROOT}/{n.name}" for n in NODES} | {f"{ENCLAVE_ROOT}/operator"}
    assert set(_rules()) == expected


def test_each_topic_the_nodes_exchange_has_a_publisher_and_a_subscriber():
    rules = _rules()
    published = set().union(*(r["publish"] for r in rules.values()))
    subscribed = set().union(*(r["subscribe"] for r in rules.values()))
    topics = {
        common.COMMAND,
        common.PLAN,
        common.STATUS,
        common.CANCEL,
        common.REPLAN,
        common.MISALIGNMENT,
        common.PERCEPTION,
        common.GRIPPERS,
        common.AUDIO,
        common.COLOR,
        common.DEPTH,
        common.CAMERA_INFO,
    }
    assert topics <= published and topics <= subscribed, (
        topics - published,
        topics - subscribed,
    )
