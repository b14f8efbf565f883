"""VQA with any OpenAI-compatible vision chat model: the frame plus a yes/no question.

The reply is untrusted text. It is asked for as a small JSON object
(`{"answer": "yes"|"no"|"unknown", "confidence": 0..1, "evidence": "..."}`), and a
plain "yes"/"no" is accepted too; anything else is "cannot tell" or a `VqaError`. The
answer only ever becomes a boolean for the detector: nothing in it is executed. Retries
and timeouts are the planner's (`create_with_retries`), and the API key is scrubbed from
every error text.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import cv2
import openai

from robot_planner.monitor.base import VqaAnswer, VqaError, parse_yes_no
from robot_planner.monitor.config import OpenAIVqaSettings
from robot_planner.planning.llm import BackendError
from robot_planner.planning.openai_backend import (
    create_with_retries,
    error_detail,
    make_client,
    scrub,
)
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are the visual monitor of a robot arm. Look at the camera image and answer the "
    "question about the scene. Reply with only a JSON object: "
    '{"answer": "yes" | "no" | "unknown", "confidence": <number from 0 to 1>, '
    '"evidence": "<a few words on what you see>"}.'
)
#: Replies longer than this are not a yes/no answer.
MAX_REPLY_CHARS = 2000
EVIDENCE_CHARS = 120


def encode_png(observation: Observation) -> str:
    """The colour frame as a PNG data URL (lossless: small objects survive)."""
    bgr = cv2.cvtColor(observation.frame.rgb, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", bgr)
    if not ok:
        raise VqaError("could not encode the camera frame as PNG")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def parse_reply(text: str, default_confidence: float) -> VqaAnswer:
    """The answer in a model's reply; `VqaError` when it is not one."""
    if len(text) > MAX_REPLY_CHARS:
        raise VqaError(f"VQA reply too long ({len(text)} characters)")
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        raw = data.get("answer")
        if not isinstance(raw, str | bool):
            raise VqaError(f"VQA reply has no yes/no answer: {str(raw)[:40]!r}")
        answer = parse_yes_no(raw)  # "unknown" and anything unclear: cannot tell
        confidence = data.get("confidence", default_confidence)
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            confidence = default_confidence
        confidence = min(1.0, max(0.0, float(confidence)))
        if confidence != confidence:  # NaN
            confidence = 0.0
        evidence = data.get("evidence", "")
        evidence = " ".join(str(evidence).split())[:EVIDENCE_CHARS]
        return VqaAnswer(answer, confidence if answer is not None else 0.0, evidence)
    answer = parse_yes_no(body)
    if answer is None:
        snippet = " ".join(body.split())[:60]
        raise VqaError(f"VQA reply is neither JSON nor yes/no: {snippet!r}")
    return VqaAnswer(answer, default_confidence, "plain yes/no reply")


class OpenAIVqa:
    """`VqaBackend` over the official `openai` client."""

    name = "openai"

    def __init__(
        self,
        settings: OpenAIVqaSettings,
        client: openai.OpenAI | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """`client` and `sleep` are injectable for tests (fake server, no backoff)."""
        self.settings = settings
        self._sleep = sleep
        key = settings.api_key()
        self._secret = key
        if client is None:
            client = make_client(settings, key, "openai VQA", VqaError)
        self.client = client
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0}

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": question},
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": encode_png(observation),
                            "detail": self.settings.detail,
                        },
                    },
                ],
            },
        ]
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": 0.0,
            "max_tokens": self.settings.max_tokens,
        }
        try:
            response = create_with_retries(
                lambda: self.client.chat.completions.create(**kwargs),
                max_retries=self.settings.max_retries,
                timeout_s=self.settings.timeout_s,
                scrub=self._scrub,
                sleep=self._sleep,
            )
        except BackendError as exc:
            raise VqaError(str(exc)) from None
        except openai.APIStatusError as exc:
            raise VqaError(
                f"openai VQA request rejected ({exc.status_code}): "
                f"{error_detail(exc, self._secret)}"
            ) from None
        self.usage["requests"] += 1
        if response.usage is not None:
            self.usage["prompt_tokens"] += int(response.usage.prompt_tokens or 0)
            self.usage["completion_tokens"] += int(response.usage.completion_tokens or 0)
        choices = response.choices or []
        text = choices[0].message.content if choices else None
        if not text or not text.strip():
            raise VqaError("openai VQA reply is empty")
        result = parse_reply(text, self.settings.default_confidence)
        log.debug("openai VQA %s -> %s (%.2f)", fact, result.answer, result.confidence)
        return result

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secret)
