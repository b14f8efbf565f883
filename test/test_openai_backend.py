"""The OpenAI-compatible backend against a scripted local chat-completions server.

The real `openai` client talks over loopback to a `ThreadingHTTPServer` started per
test; each test queues the server's answers (status + JSON body, or a hang longer than
the client timeout) and inspects the request bodies and headers it recorded.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer

from robot_planner.planning.base import PlanningError, PlanRequest, PlanResult
from robot_planner.planning.config import OpenAISettings
from robot_planner.planning.llm import MAX_REPLY_CHARS
from robot_planner.planning.openai_backend import OpenAIPlanner, backoff_s
from robot_planner.planning.prompt import PromptBuilder
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene

pytestmark = pytest.mark.timeout(60)

KEY_ENV = "RP_TEST_OPENAI_KEY"
SECRET = "sk-test-SECRET123"
# The hand-over plan's own command: a reply must plan the command that was sent.
COMMAND = "hand the red block over to the right arm and put it in the right bin"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, clean_openai_env: None) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(server: FakeOpenAIServer, catalogue: Catalogue, scene: Scene, sleeps: list[float]) -> Any:
    """Build a planner for the fake server; settings overridable per test."""

    def build(**overrides: Any) -> OpenAIPlanner:
        values: dict[str, Any] = {
            "model": "fake-model",
            "base_url": server.base_url,
            "api_key_env": KEY_ENV,
            "timeout_s": 5.0,
            "max_retries": 2,
            "max_repairs": 2,
            "structured_output": "json_schema",
        }
        values.update(overrides)
        return OpenAIPlanner(OpenAISettings(**values), catalogue, scene, sleep=sleeps.append)

    return build


def request(scene: Scene, command: str = COMMAND) -> PlanRequest:
    return PlanRequest(command, scene.initial_facts())


def repair_text(server: FakeOpenAIServer, index: int) -> str:
    """The repair (last user) message of request `index`."""
    last = server.sent_messages(index)[-1]
    assert last["role"] == "user"
    return last["content"]


# --- happy path --------------------------------------------------------------------------


def test_valid_reply_gives_plan_in_one_attempt(make, server, scene, handover):
    server.plan(handover, prompt_tokens=100, completion_tokens=40)
    result = make().plan(request(scene))
    assert isinstance(result, PlanResult)
    assert result.backend == "openai"
    assert result.attempts == 1
    assert result.plan.goal == ["in(red_block,right_bin)"]
    assert [t.id for t in result.plan.tasks] == ["t1", "t2", "t3", "t4", "t5"]
    assert result.usage == {"prompt_tokens": 100, "completion_tokens": 40}
    assert len(server.requests) == 1
    body = server.requests[0]["body"]
    assert body["model"] == "fake-model"
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 4096
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert COMMAND in body["messages"][1]["content"]


def test_invalid_json_is_repaired_and_usage_summed(make, server, scene, handover):
    server.reply("{this is not json", prompt_tokens=10, completion_tokens=3)
    server.plan(handover, prompt_tokens=20, completion_tokens=30)
    result = make().plan(request(scene))
    assert result.attempts == 2
    assert result.usage == {"prompt_tokens": 30, "completion_tokens": 33}
    assert len(server.requests) == 2
    second = server.sent_messages(1)
    assert second[:2] == server.sent_messages(0)
    assert second[2] == {"role": "assistant", "content": "{this is not json"}
    assert "no JSON object" in repair_text(server, 1)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p["tasks"][0].update(skill="throw"), "unknown skill 'throw'"),
        (
            lambda p: p["tasks"][0]["args"].update(object="purple_block"),
            "unknown block 'purple_block'",
        ),
        (lambda p: p["tasks"][0].update(depends_on=["t5"]), "dependency cycle"),
    ],
    ids=["hallucinated-skill", "hallucinated-object", "cycle"],
)
def test_validator_errors_are_sent_back(make, server, scene, handover, mutate, expected):
    bad = copy.deepcopy(handover)
    mutate(bad)
    server.plan(bad)
    server.plan(handover)
    result = make().plan(request(scene))
    assert result.attempts == 2
    assert result.plan.goal == ["in(red_block,right_bin)"]
    assert expected in repair_text(server, 1)
    assert json.loads(server.sent_messages(1)[-2]["content"]) == bad
    assert expected not in repair_text(server, 0)


def test_repair_budget_exhausted(make, server, scene, handover):
    bad = copy.deepcopy(handover)
    bad["tasks"][0]["skill"] = "throw"
    for _ in range(5):
        server.plan(bad)
    with pytest.raises(PlanningError, match=r"no valid plan in 3 attempt\(s\)") as info:
        make(max_repairs=2).plan(request(scene))
    assert "unknown skill 'throw'" in str(info.value)
    assert len(server.requests) == 3


def test_zero_repairs_means_one_request(make, server, scene):
    server.reply("nope")
    server.reply("nope")
    with pytest.raises(PlanningError, match=r"in 1 attempt\(s\)"):
        make(max_repairs=0).plan(request(scene))
    assert len(server.requests) == 1


# --- transport retries ---------------------------------------------------------------------


def test_server_error_is_retried(make, server, scene, handover, sleeps):
    server.error(500, "boom")
    server.plan(handover)
    result = make().plan(request(scene))
    assert result.attempts == 1
    assert len(server.requests) == 2
    assert server.requests[0]["body"] == server.requests[1]["body"]
    assert sleeps == [0.5]


def test_rate_limit_is_retried_honouring_retry_after(make, server, scene, handover, sleeps):
    server.error(429, "slow down", headers={"Retry-After": "2"})
    server.error(429, "slow down")
    server.plan(handover)
    result = make().plan(request(scene))
    assert result.attempts == 1
    assert len(server.requests) == 3
    assert sleeps == [2.0, 1.0]


def test_persistent_server_error_fails_after_bounded_attempts(make, server, scene, sleeps):
    for _ in range(5):
        server.error(503, "down")
    with pytest.raises(PlanningError, match="server error 503 after 3 attempts"):
        make(max_retries=2).plan(request(scene))
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_persistent_rate_limit(make, server, scene):
    for _ in range(3):
        server.error(429, "slow down")
    with pytest.raises(PlanningError, match=r"rate limited \(429\) after 2 attempts"):
        make(max_retries=1).plan(request(scene))
    assert len(server.requests) == 2


def test_client_error_is_not_retried(make, server, scene, sleeps):
    server.error(404, "model fake-model not found")
    server.plan({})
    with pytest.raises(PlanningError, match=r"rejected \(404\): model fake-model not found"):
        make().plan(request(scene))
    assert len(server.requests) == 1
    assert sleeps == []


def test_timeout_is_bounded(make, server, scene, sleeps):
    for _ in range(3):
        server.hang()
    started = time.monotonic()
    with pytest.raises(PlanningError, match=r"timed out after 0\.5 s \(2 attempts\)") as info:
        make(timeout_s=0.5, max_retries=1).plan(request(scene))
    elapsed = time.monotonic() - started
    assert elapsed < 4.0
    assert len(server.requests) == 2
    assert sleeps == [0.5]
    assert "\n" not in str(info.value)


def test_connection_refused_is_a_planning_error(catalogue, scene, sleeps):
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens on this port any more
    settings = OpenAISettings(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    planner = OpenAIPlanner(settings, catalogue, scene, sleep=sleeps.append)
    with pytest.raises(PlanningError, match="connection failed after 2 attempts"):
        planner.plan(request(scene))
    assert sleeps == [0.5]


def test_backoff_grows_and_is_capped():
    assert [backoff_s(i) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff_s(0, retry_after=3.0) == 3.0
    assert backoff_s(0, retry_after=3600.0) == 8.0
    assert backoff_s(3, retry_after=0.1) == 4.0


# --- structured output ---------------------------------------------------------------------


def _skill_enum(schema: dict[str, Any]) -> list[str]:
    variants = schema["properties"]["tasks"]["items"]["anyOf"]
    return [name for v in variants for name in v["properties"]["skill"]["enum"]]


def test_json_schema_mode_sends_strict_schema(make, server, scene, handover, catalogue):
    server.plan(handover)
    make(structured_output="json_schema").plan(request(scene))
    fmt = server.requests[0]["body"]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "task_plan"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema == PromptBuilder(catalogue, scene).schema()
    assert sorted(_skill_enum(schema)) == sorted(catalogue.skills)
    assert "throw" not in _skill_enum(schema)


def test_json_object_and_text_modes(make, server, scene, handover):
    server.plan(handover)
    server.plan(handover)
    make(structured_output="json_object").plan(request(scene))
    make(structured_output="text").plan(request(scene))
    assert server.requests[0]["body"]["response_format"] == {"type": "json_object"}
    assert "response_format" not in server.requests[1]["body"]


def test_auto_falls_back_to_json_object_and_remembers(make, server, scene, handover):
    server.error(400, "response_format json_schema is not supported")
    server.plan(handover)
    server.plan(handover)
    planner = make(structured_output="auto")
    assert planner.plan(request(scene)).attempts == 1
    assert planner.mode == "json_object"
    planner.plan(request(scene))
    types = [r["body"].get("response_format", {}).get("type") for r in server.requests]
    assert types == ["json_schema", "json_object", "json_object"]


def test_auto_falls_back_to_text(make, server, scene, handover, sleeps):
    server.error(400, "unknown field response_format")
    server.error(400, "unknown field response_format")
    server.plan(handover)
    planner = make(structured_output="auto")
    planner.plan(request(scene))
    assert planner.mode == "text"
    assert [("response_format" in r["body"]) for r in server.requests] == [True, True, False]
    assert sleeps == []


def test_auto_gives_up_when_even_text_is_rejected(make, server, scene):
    for _ in range(4):
        server.error(400, "context too long")
    planner = make(structured_output="auto")
    with pytest.raises(PlanningError, match=r"rejected \(400\): context too long"):
        planner.plan(request(scene))
    assert len(server.requests) == 3
    assert planner.mode == "json_schema"  # nothing worked, so nothing is remembered


def test_fixed_mode_does_not_fall_back(make, server, scene):
    server.error(400, "json_schema unsupported")
    with pytest.raises(PlanningError, match=r"rejected \(400\)"):
        make(structured_output="json_schema").plan(request(scene))
    assert len(server.requests) == 1


def test_text_mode_extracts_json_from_prose(make, server, scene, handover):
    server.reply(f"Sure! Here is the plan:\n```json\n{json.dumps(handover)}\n```\nHope this helps")
    result = make(structured_output="text").plan(request(scene))
    assert result.attempts == 1
    assert result.plan.goal == ["in(red_block,right_bin)"]
    assert len(server.requests) == 1


# --- keys ----------------------------------------------------------------------------------


def test_api_key_is_sent_but_never_logged_or_raised(
    make, server, scene, handover, monkeypatch, caplog
):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    bad = copy.deepcopy(handover)
    bad["tasks"][0]["skill"] = "throw"
    server.error(500, "flaky")
    server.plan(bad)
    server.plan(handover)
    server.script.append((401, {"echo_auth": True}, {}))  # a server that echoes the key
    planner = make()
    assert planner.plan(request(scene)).attempts == 2
    with pytest.raises(PlanningError) as info:
        planner.plan(request(scene))
    assert all(r["headers"]["authorization"] == f"Bearer {SECRET}" for r in server.requests)
    assert "401" in str(info.value)
    assert "bad key Bearer ***" in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert caplog.records, "expected DEBUG/INFO records from the planner and the client"
    assert any(r.name == "robot_planner.planning.openai_backend" for r in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)
    assert SECRET not in caplog.text


def test_no_key_with_base_url_uses_placeholder(make, server, scene, handover):
    server.plan(handover)
    make().plan(request(scene))
    assert server.requests[0]["headers"]["authorization"] == "Bearer not-needed"


def test_no_key_and_no_base_url_names_the_variable(catalogue, scene):
    settings = OpenAISettings(api_key_env=KEY_ENV, base_url=None)
    with pytest.raises(PlanningError, match=KEY_ENV):
        OpenAIPlanner(settings, catalogue, scene)


# --- odd replies ---------------------------------------------------------------------------


def test_refusal_is_a_planning_error(make, server, scene, handover):
    server.plan({"command": COMMAND, "goal": [], "tasks": []})
    server.plan(handover)
    with pytest.raises(PlanningError, match="refused"):
        make().plan(request(scene, "launch the robots at the moon"))
    assert len(server.requests) == 1


def test_empty_content_is_a_backend_error(make, server, scene, handover):
    server.reply(None)
    server.plan(handover)
    with pytest.raises(PlanningError, match=r"^openai reply is empty"):
        make().plan(request(scene))
    assert len(server.requests) == 1


def test_huge_reply_is_rejected_then_repaired(make, server, scene, handover):
    huge = json.dumps(handover) + " " * (MAX_REPLY_CHARS + 50_000)
    assert len(huge) > 200_000
    server.reply(huge)
    server.plan(handover)
    result = make().plan(request(scene))
    assert result.attempts == 2
    assert f"longer than {MAX_REPLY_CHARS} characters" in repair_text(server, 1)
    echoed = server.sent_messages(1)[-2]
    assert echoed["role"] == "assistant"
    assert len(echoed["content"]) <= 20_000


def test_huge_replies_only_exhaust_the_budget(make, server, scene):
    for _ in range(2):
        server.reply("x" * 250_000)
    with pytest.raises(PlanningError, match="longer than 200000 characters"):
        make(max_repairs=1).plan(request(scene))
    assert len(server.requests) == 2
