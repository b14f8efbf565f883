"""The generated plan JSON Schema: well-formed, strict-mode shaped, agrees with the validator."""

import json

import jsonschema
import pytest
from conftest import PLANS

from robot_planner.plan.schema import ground_facts, plan_json_schema
from robot_planner.plan.validation import require_valid


@pytest.fixture(scope="module")
def schema(catalogue, scene):
    return plan_json_schema(catalogue, scene)


def _objects(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_schema_is_valid_draft_2020_12(schema):
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_has_strict_mode_shape(schema):
    objects = list(_objects(schema))
    assert len(objects) > 10
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])


def test_schema_enumerates_catalogue_and_scene_names(schema, catalogue, scene):
    variants = schema["properties"]["tasks"]["items"]["anyOf"]
    assert [v["properties"]["skill"]["enum"] for v in variants] == [[s] for s in catalogue.skills]
    pick = variants[0]
    assert pick["properties"]["robot"]["enum"] == ["left_arm", "right_arm"]
    assert pick["properties"]["args"]["properties"]["object"]["enum"] == list(scene.objects)
    place = variants[1]["properties"]["args"]["properties"]["target"]["enum"]
    assert set(place) == set(scene.objects) | set(scene.places)


def test_ground_facts_are_well_typed(scene):
    facts = ground_facts(scene)
    assert "on(red_block,blue_block)" in facts
    assert "on(red_block,red_block)" not in facts
    assert "in(left_bin,red_block)" not in facts
    assert len(facts) == len(set(facts)) == 12 + 8 + 12 + 8 + 2 + 4 + 4


@pytest.mark.parametrize("name", ["handover.json", "parallel_sort.json"])
def test_valid_plans_satisfy_the_schema(name, schema, catalogue, scene):
    parsed = require_valid((PLANS / name).read_bytes(), catalogue, scene)
    jsonschema.validate(parsed.to_dict(), schema)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["tasks"][0].update(skill="throw"),
        lambda p: p["tasks"][0].update(robot="third_arm"),
        lambda p: p["tasks"][0]["args"].update(object="purple_block"),
        lambda p: p["tasks"][0]["args"].update(extra=1),
        lambda p: p["goal"].append("on(red_block,red_block)"),
        lambda p: p.update(notes="x"),
    ],
)
def test_schema_rejects_what_the_validator_rejects(mutate, schema, catalogue, scene):
    data = require_valid((PLANS / "handover.json").read_bytes(), catalogue, scene).to_dict()
    mutate(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_schema_is_json_serialisable(schema):
    assert json.loads(json.dumps(schema)) == schema
