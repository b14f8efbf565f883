"""VQA backend selection and the OpenAI-compatible vision backend against a fake server.

The oracle must never be a default; unknown names and unusable backends are one-line
errors; the openai backend sends the frame and question, parses yes/no replies (JSON or
plain), retries transient failures boundedly and never leaks the API key.
"""

from __future__ import annotations

import base64
import json
import logging

import cv2
import numpy as np
import pytest
from fake_openai import FakeOpenAIServer

from robot_planner.monitor.backends import VQA_BACKENDS, make_vqa
from robot_planner.monitor.base import VqaError, parse_yes_no
from robot_planner.monitor.config import (
    DEFAULT_VQA,
    MonitorConfig,
    OpenAIVqaSettings,
    load_monitor_config,
)
from robot_planner.monitor.openai_vqa import OpenAIVqa, parse_reply
from robot_planner.world.facts import Fact
from robot_planner.world.loading import ConfigError
from robot_planner.world.observation import CameraFrame, Observation

pytestmark = pytest.mark.timeout(60)

KEY_ENV = "RP_TEST_VQA_KEY"
SECRET = "sk-test-VQASECRET42"
FACT = Fact.parse("holding(left_arm,red_block)")
QUESTION = "Is the left arm holding the red block?"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, clean_openai_env: None) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def observation() -> Observation:
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[5:10, 5:10] = (255, 0, 0)
    frame = CameraFrame("overhead", 1.0, rgb, np.ones((24, 32), np.float32), np.eye(3), np.eye(4))
    return Observation(1.0, frame, {})


@pytest.fixture
def vqa(server: FakeOpenAIServer):
    sleeps: list[float] = []

    def build(**overrides) -> OpenAIVqa:
        values = {
            "model": "fake-vlm",
            "base_url": server.base_url,
            "api_key_env": KEY_ENV,
            "timeout_s": 2.0,
            "max_retries": 1,
        }
        values.update(overrides)
        backend = OpenAIVqa(OpenAIVqaSettings(**values), sleep=sleeps.append)
        backend.sleeps = sleeps  # type: ignore[attr-defined]
        return backend

    return build


# --- selection ------------------------------------------------------------------------


def test_default_backend_is_geometric_never_the_oracle(scene):
    assert DEFAULT_VQA == "geometric"
    assert MonitorConfig().vqa == "geometric"
    assert load_monitor_config().vqa == "geometric"
    assert make_vqa(scene=scene).name == "geometric"
    assert make_vqa(None, scene=scene, config=MonitorConfig()).name == "geometric"


def test_oracle_needs_a_simulator(scene):
    with pytest.raises(VqaError, match="needs a sim world"):
        make_vqa("oracle", scene=scene)


def test_oracle_comes_from_the_factory_a_simulated_system_passes(scene):
    made = []

    class Reference:
        name = "oracle"

    def factory():
        made.append(Reference())
        return made[-1]

    assert make_vqa("geometric", scene=scene, oracle=factory).name == "geometric"
    assert made == []  # built only when chosen
    assert make_vqa("oracle", scene=scene, oracle=factory) is made[0]


def test_unknown_backend_is_a_one_line_error(scene):
    with pytest.raises(VqaError, match="unknown VQA backend 'clip'") as info:
        make_vqa("clip", scene=scene)
    assert "\n" not in str(info.value)
    assert set(VQA_BACKENDS) == {"geometric", "openai", "transformers", "oracle"}


def test_openai_without_key_or_url_is_refused(scene):
    config = MonitorConfig(vqa="openai", openai=OpenAIVqaSettings(api_key_env=KEY_ENV))
    with pytest.raises(VqaError, match=f"set the environment variable {KEY_ENV}"):
        make_vqa(scene=scene, config=config)


def test_transformers_without_model_is_refused(scene):
    with pytest.raises(VqaError, match=r"transformers\.model"):
        make_vqa("transformers", scene=scene)


def test_yaml_on_off_booleans_are_modes(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text("mode: off\nvqa: geometric\n")
    assert load_monitor_config(path).mode == "off"
    path.write_text("mode: on\n")
    assert load_monitor_config(path).mode == "on"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("vqa: clip\n", "vqa"),
        ("debounce: 0\n", "debounce"),
        ("openai: {api_key: sk-123}\n", "openai.api_key"),
        ("- a list\n", "mapping"),
    ],
)
def test_bad_monitor_config_is_one_line(tmp_path, text, expected):
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_monitor_config(path)
    assert "\n" not in str(info.value)


# --- reply parsing -------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, answer, confidence",
    [
        ('{"answer": "yes", "confidence": 0.93, "evidence": "red in gripper"}', True, 0.93),
        ('{"answer": "No", "confidence": 0.7}', False, 0.7),
        ('{"answer": "unknown", "confidence": 0.9}', None, 0.0),
        ('{"answer": "yes", "confidence": 7}', True, 1.0),
        ('{"answer": "yes", "confidence": "high"}', True, 0.8),
        ('```json\n{"answer": "no"}\n```', False, 0.8),
        ("Yes.", True, 0.8),
        ("no, the gripper is empty", False, 0.8),
    ],
)
def test_replies_are_parsed(reply, answer, confidence):
    result = parse_reply(reply, 0.8)
    assert result.answer is answer
    assert result.confidence == pytest.approx(confidence)


@pytest.mark.parametrize(
    "reply",
    [
        "I think the robot might be holding it",
        '{"answer": ["yes"]}',
        '{"verdict": "yes"}',
        "rm -rf / ; yes",
        "y" * 5000,
    ],
)
def test_unusable_replies_are_errors_not_answers(reply):
    with pytest.raises(VqaError) as info:
        parse_reply(reply, 0.8)
    assert "\n" not in str(info.value)


def test_parse_yes_no_is_strict_about_the_first_word():
    assert parse_yes_no("**Yes**") is True
    assert parse_yes_no("false") is False
    assert parse_yes_no("maybe yes") is None
    assert parse_yes_no("") is None
    assert parse_yes_no(None) is None
    assert parse_yes_no(1) is None


# --- the openai backend on a fake server ---------------------------------------------


def test_sends_image_and_question_and_parses_answer(vqa, server):
    server.reply('{"answer": "no", "confidence": 0.9, "evidence": "gripper empty"}')
    result = vqa().answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence, result.evidence) == (False, 0.9, "gripper empty")
    body = server.requests[0]["body"]
    assert body["model"] == "fake-vlm"
    content = body["messages"][-1]["content"]
    assert {"type": "text", "text": QUESTION} in content
    image = next(part for part in content if part["type"] == "image_url")["image_url"]
    assert image["detail"] == "low"
    prefix = "data:image/png;base64,"
    assert image["url"].startswith(prefix)
    png = np.frombuffer(base64.b64decode(image["url"][len(prefix) :]), np.uint8)
    decoded = cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decoded, observation().frame.rgb)


def test_transient_errors_are_retried_boundedly(vqa, server):
    backend = vqa(max_retries=1)
    server.error(503, "busy")
    server.reply("yes")
    assert backend.answer(observation(), QUESTION, FACT).answer is True
    assert len(backend.sleeps) == 1
    server.error(500, "down")
    server.error(500, "down")
    server.reply("yes")  # never reached: the retries are used up
    with pytest.raises(VqaError, match="server error 500 after 2 attempts"):
        backend.answer(observation(), QUESTION, FACT)
    assert len(server.requests) == 4


def test_timeout_is_a_vqa_error(vqa, server):
    server.hang()
    server.hang()
    with pytest.raises(VqaError, match="timed out"):
        vqa(timeout_s=0.3, max_retries=1).answer(observation(), QUESTION, FACT)


def test_client_errors_are_not_retried(vqa, server):
    server.error(400, "model does not take images")
    with pytest.raises(VqaError, match=r"rejected \(400\): model does not take images"):
        vqa().answer(observation(), QUESTION, FACT)
    assert len(server.requests) == 1


def test_empty_reply_is_an_error(vqa, server):
    server.reply(None)
    with pytest.raises(VqaError, match="empty"):
        vqa().answer(observation(), QUESTION, FACT)


def test_key_is_sent_but_never_logged_or_raised(vqa, server, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    server.reply('{"answer": "yes", "confidence": 1}')
    server.script.append((401, {"echo_auth": True}, {}))
    backend = vqa()
    assert backend.answer(observation(), QUESTION, FACT).answer is True
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    with pytest.raises(VqaError) as info:
        backend.answer(observation(), QUESTION, FACT)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    assert SECRET not in caplog.text
    assert SECRET not in json.dumps(backend.usage)


def test_usage_is_counted(vqa, server):
    server.reply("yes", prompt_tokens=300, completion_tokens=2)
    server.reply("no", prompt_tokens=310, completion_tokens=2)
    backend = vqa()
    backend.answer(observation(), QUESTION, FACT)
    backend.answer(observation(), QUESTION, FACT)
    assert backend.usage == {"prompt_tokens": 610, "completion_tokens": 4, "requests": 2}
