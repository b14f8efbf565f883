"""Planning with any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, ...).

Only the transport lives here: one model call per `complete`, with our own bounded
retries (timeouts, connection errors, 429, 5xx) and exponential backoff, and the choice
of structured output. Prompting, parsing, validation and repair are in `LLMPlanner`.
The client's own retries are off so that the attempt count and total time are ours to
bound. The API key is read from the environment, passed to the client and nowhere
else: every message that leaves this module is scrubbed of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import openai
from openai.types.chat import ChatCompletion

from robot_planner.planning.base import PlanningError
from robot_planner.planning.config import OpenAISettings
from robot_planner.planning.llm import BackendError, Completion, LLMPlanner
from robot_planner.planning.prompt import Message, PromptBuilder
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

Mode = Literal["json_schema", "json_object", "text"]

#: The order `auto` tries structured-output modes in, best first.
FALLBACK: tuple[Mode, ...] = ("json_schema", "json_object", "text")
#: Key sent to local servers that need none (the client refuses an empty key).
PLACEHOLDER_KEY = "not-needed"
#: First backoff delay and its cap, in seconds (a planner call should fail fast).
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
#: HTTP statuses meaning "this server does not take that response_format".
REJECTED_FORMAT = (400, 422)
#: Longest server error detail quoted in an error message.
DETAIL_CHARS = 200


def backoff_s(retry: int, retry_after: float | None = None) -> float:
    """Delay before retry number `retry` (0-based): 0.5, 1, 2, ... capped, so a flaky
    server gets room to recover without a planning call hanging for minutes. A server's
    Retry-After is honoured when it asks for longer, up to the same cap."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2**retry))
    if retry_after is not None and retry_after > delay:
        delay = min(BACKOFF_CAP_S, retry_after)
    return delay


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: ignore it, the exponential delay will do
        return None


def make_client(
    settings: Any, key: str | None, what: str, error: type[Exception]
) -> openai.OpenAI:
    """An `openai.OpenAI` client with our own retries (the client's are off); `error`
    when there is neither a key nor a base URL. `settings` has `base_url`,
    `api_key_env` and `timeout_s` (the planner's and the VQA monitor's settings)."""
    if key is None and not settings.base_url:
        raise error(
            f"{what}: no API key: set the environment variable "
            f"{settings.api_key_env} or give openai.base_url for a local server"
        )
    return openai.OpenAI(
        api_key=key or PLACEHOLDER_KEY,
        base_url=settings.base_url,
        timeout=settings.timeout_s,
        max_retries=0,
    )


def create_with_retries(
    create: Callable[[], ChatCompletion],
    *,
    max_retries: int,
    timeout_s: float,
    scrub: Callable[[str], str],
    sleep: Callable[[float], None] = time.sleep,
) -> ChatCompletion:
    """Call `create` with bounded retries on timeouts, connection errors, 429 and 5xx
    (exponential backoff); `BackendError` when they run out. Other HTTP errors (4xx)
    propagate as `openai.APIStatusError` for the caller to judge. Shared by the planner
    and the VQA monitor so both fail the same bounded way."""
    attempts = max_retries + 1
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except openai.APITimeoutError:
            failure = f"openai request timed out after {timeout_s:g} s ({tries})"
            retry_after = None
        except openai.APIConnectionError as exc:
            failure = f"openai connection failed after {tries}: {scrub(str(exc))}"
            retry_after = None
        except openai.RateLimitError as exc:
            failure = f"rate limited (429) after {tries}"
            retry_after = _retry_after(exc)
        except openai.APIStatusError as exc:
            if exc.status_code < 500:
                raise
            failure = f"openai server error {exc.status_code} after {tries}"
            retry_after = _retry_after(exc)
        if attempt == attempts:
            raise BackendError(failure)
        delay = backoff_s(attempt - 1, retry_after)
        log.warning(
            "openai attempt %d/%d failed (%s); retrying in %.2g s",
            attempt,
            attempts,
            failure.split(" after ")[0],
            delay,
        )
        sleep(delay)
    raise AssertionError("unreachable: the last attempt either returns or raises")


class OpenAIPlanner(LLMPlanner):
    """`LLMPlanner` over the official `openai` client."""

    name = "openai"

    def __init__(
        self,
        settings: OpenAISettings,
        catalogue: Catalogue,
        scene: Scene,
        client: openai.OpenAI | None = None,
        *,
        prompts: PromptBuilder | None = None,
        sleep: Callable[[float], None] = time.sleep,
        planning_mode: str = "dag",
    ):
        """`client` and `sleep` are injectable so tests can point at a fake server and
        skip real backoff delays; `planning_mode` is ``dag`` (the model writes the plan)
        or ``goal`` (the model reads the goal, the planner plans)."""
        super().__init__(catalogue, scene, settings.max_repairs, prompts, planning_mode)
        self.settings = settings
        self._sleep = sleep
        key = settings.api_key()
        # Kept only to scrub it from error text; never logged or shown.
        self._secret = key
        if client is None:
            client = make_client(settings, key, "openai backend", PlanningError)
        self.client = client
        self._mode: Mode = (
            FALLBACK[0] if settings.structured_output == "auto" else settings.structured_output
        )

    @property
    def mode(self) -> Mode:
        """The structured-output mode the next request uses (`auto` settles on one)."""
        return self._mode

    # --- LLMPlanner ----------------------------------------------------------------------

    def complete(self, messages: list[Message]) -> Completion:
        """One reply, in the best structured-output mode the server accepts."""
        auto = self.settings.structured_output == "auto"
        modes = FALLBACK[FALLBACK.index(self._mode) :] if auto else (self._mode,)
        for index, mode in enumerate(modes):
            try:
                response = self._request(messages, mode)
            except openai.APIStatusError as exc:
                last = index == len(modes) - 1
                if auto and not last and exc.status_code in REJECTED_FORMAT:
                    log.info(
                        "openai server rejected response_format %s (%d); trying %s",
                        mode,
                        exc.status_code,
                        modes[index + 1],
                    )
                    continue
                raise BackendError(
                    f"openai request rejected ({exc.status_code}): {self._detail(exc)}"
                ) from None
            if self._mode != mode:
                log.info("openai structured output settled on %s", mode)
                self._mode = mode
            return self._completion(response)
        raise AssertionError("unreachable: the last mode either returns or raises")

    # --- transport -----------------------------------------------------------------------

    def _request(self, messages: list[Message], mode: Mode) -> ChatCompletion:
        """One chat completion with bounded retries on transient failures; other HTTP
        errors (4xx) propagate as `openai.APIStatusError` for `complete` to judge."""
        kwargs = self._kwargs(messages, mode)
        return create_with_retries(
            lambda: self.client.chat.completions.create(**kwargs),
            max_retries=self.settings.max_retries,
            timeout_s=self.settings.timeout_s,
            scrub=self._scrub,
            sleep=self._sleep,
        )

    def _kwargs(self, messages: list[Message], mode: Mode) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if mode == "json_schema":
            # The stable schema, not one naming this command: servers compile and cache a
            # schema, and a new one per command would cost that every time. The reply's
            # command is checked in LLMPlanner instead.
            reply = self.reply_format()
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": reply.name, "strict": True, "schema": reply.schema},
            }
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        log.debug(
            "openai request: model=%s mode=%s messages=%d", kwargs["model"], mode, len(messages)
        )
        return kwargs

    def _completion(self, response: ChatCompletion) -> Completion:
        """The reply text and token counts; a reply without text is a backend error."""
        choices = response.choices or []
        if not choices:
            raise BackendError("openai reply has no choices")
        message = choices[0].message
        text = message.content
        if not text or not text.strip():
            refusal = getattr(message, "refusal", None)
            if refusal:
                raise BackendError(f"openai model refused: {self._scrub(str(refusal))}")
            reason = getattr(choices[0], "finish_reason", None) or "unknown"
            raise BackendError(f"openai reply is empty (finish_reason: {reason})")
        if getattr(choices[0], "finish_reason", None) == "length":
            log.warning(
                "openai reply hit max_tokens=%d; it may be cut off", self.settings.max_tokens
            )
        usage: dict[str, int] = {}
        if response.usage is not None:
            usage = {
                "prompt_tokens": int(response.usage.prompt_tokens or 0),
                "completion_tokens": int(response.usage.completion_tokens or 0),
            }
        log.debug("openai reply: %d chars, usage %s", len(text), usage)
        return Completion(text, usage)

    # --- error text --------------------------------------------------------------------

    def _detail(self, exc: openai.APIStatusError) -> str:
        return error_detail(exc, self._secret)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secret)


def error_detail(exc: openai.APIStatusError, secret: str | None) -> str:
    """The server's error message, one line, short, without the key."""
    body = exc.body
    detail: object = body.get("message", body) if isinstance(body, dict) else body
    return scrub(str(detail if detail else exc.message), secret)


def scrub(text: str, secret: str | None) -> str:
    """One line, bounded, with the API key (if any) masked: servers may echo it."""
    if secret:
        text = text.replace(secret, "***")
    line = " ".join(text.split())
    return line if len(line) <= DETAIL_CHARS else line[: DETAIL_CHARS - 3] + "..."
