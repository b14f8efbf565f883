"""Monitor configuration (`config/monitor.yaml`): detector thresholds and VQA backends.

Untrusted like every YAML file: strict pydantic models, one-line `ConfigError`s. API
keys are never in the file, only the name of the environment variable holding one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from robot_planner.monitor.detector import DetectorConfig
from robot_planner.world.loading import load_yaml_model

VqaName = Literal["geometric", "openai", "transformers", "oracle"]
#: The backend used when none is named: offline perception on camera pixels. Never the
#: oracle, which reads the simulator's state and exists only to score the others.
DEFAULT_VQA: VqaName = "geometric"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenAIVqaSettings(_Strict):
    """An OpenAI-compatible vision chat model (OpenAI, vLLM, Ollama with a VLM, ...)."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    #: A monitor answer is useful only while it is fresh: keep the timeout short.
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_retries: int = Field(1, ge=0, le=5)
    max_tokens: int = Field(120, ge=8, le=4096)
    #: Image detail hint (OpenAI's low detail is 512x512, cheap and fast).
    detail: Literal["low", "high", "auto"] = "low"
    #: Confidence given to a plain yes/no reply that states none.
    default_confidence: float = Field(0.8, ge=0, le=1)

    def api_key(self) -> str | None:
        """The key from the environment (never stored in config, never logged)."""
        return os.environ.get(self.api_key_env) or None


class TransformersVqaSettings(_Strict):
    """A local model directory (or cached hub id) run through a transformers pipeline."""

    model: str | None = None
    #: `visual-question-answering` (ViLT, BLIP: one-word answers with scores) or
    #: `image-text-to-text` (chat VLMs: generated text, parsed for yes/no).
    task: Literal["visual-question-answering", "image-text-to-text"] = "visual-question-answering"
    device: Literal["cpu", "cuda", "auto"] = "auto"
    max_new_tokens: int = Field(16, ge=1, le=512)
    default_confidence: float = Field(0.8, ge=0, le=1)


class MonitorConfig(_Strict):
    """Everything the monitor needs: which backend, how eager, how sure."""

    vqa: VqaName = DEFAULT_VQA
    mode: Literal["on", "after-skill", "off"] = "on"
    debounce: int = Field(2, ge=1, le=20)
    min_confidence: float = Field(0.6, ge=0, le=1)
    confirm_period_s: float = Field(0.1, gt=0, le=10)
    max_period_s: float | None = Field(0.2, gt=0, le=60)
    #: Backend errors and timeouts: go on unmonitored with a warning event, or fail.
    on_vqa_error: Literal["continue", "fail"] = "continue"
    #: A question to a model backend (openai, transformers) not answered in this time is
    #: an error; the geometric backend and the oracle are local and bounded.
    vqa_timeout_s: float = Field(10.0, gt=0, le=300)
    #: Check that objects no running task changes stay put (collateral constraints).
    collateral: bool = True
    openai: OpenAIVqaSettings = OpenAIVqaSettings()
    transformers: TransformersVqaSettings = TransformersVqaSettings()

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        # YAML 1.1 reads a bare `on`/`off` as a boolean; take it as the user meant it.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    def detector(self) -> DetectorConfig:
        """The detector's part of this configuration."""
        return DetectorConfig(
            mode=self.mode,
            debounce=self.debounce,
            min_confidence=self.min_confidence,
            confirm_period_s=self.confirm_period_s,
            max_period_s=self.max_period_s,
            on_vqa_error=self.on_vqa_error,
            collateral=self.collateral,
        )


def load_monitor_config(path: str | Path | None = None) -> MonitorConfig:
    """The packaged config/monitor.yaml, or the given file; `ConfigError` on problems."""
    from robot_planner.resources import share_dir

    return load_yaml_model(
        Path(path) if path else share_dir() / "config" / "monitor.yaml",
        MonitorConfig,
        "monitor config",
    )
