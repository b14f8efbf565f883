"""Planner configuration (`config/planner.yaml`) and the backend factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from robot_planner.planning.base import Planner
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.loading import load_yaml_model
from robot_planner.world.scene import Scene

Backend = Literal["offline", "openai", "transformers", "auto"]
#: When a plan waits for a person's approval before the robots move (planner node).
Confirm = Literal["never", "ambiguous", "always"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenAISettings(_Strict):
    """An OpenAI-compatible chat-completions endpoint."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_s: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(2, ge=0, le=10)
    max_repairs: int = Field(2, ge=0, le=10)
    temperature: float = Field(0.0, ge=0, le=2)
    structured_output: Literal["json_schema", "json_object", "text", "auto"] = "auto"
    max_tokens: int = Field(4096, ge=64, le=65536)

    def api_key(self) -> str | None:
        """The key from the environment (never stored in config, never logged)."""
        return os.environ.get(self.api_key_env) or None


class TransformersSettings(_Strict):
    """A local causal LM with xgrammar-constrained decoding."""

    model: str | None = None
    device: Literal["cpu", "cuda", "auto"] = "auto"
    max_new_tokens: int = Field(1024, ge=16, le=32768)
    max_repairs: int = Field(1, ge=0, le=10)
    temperature: float = Field(0.0, ge=0, le=2)


class PlannerConfig(_Strict):
    backend: Backend = "auto"
    #: LLM backends: `dag` = the model writes the task plan; `goal` = the model reads the
    #: command into goal facts and the domain-independent planner plans (the offline
    #: planner always works that way).
    mode: Literal["dag", "goal"] = "dag"
    openai: OpenAISettings = OpenAISettings()
    transformers: TransformersSettings = TransformersSettings()
    #: never: plans run at once; ambiguous: ask when the backend had to guess (an LLM
    #: plan, a pronoun with two candidates); always: every command's plan waits.
    confirm: Confirm = "never"
    confirm_timeout_s: float = Field(30.0, ge=1, le=600)

    def resolved_backend(self) -> str:
        """`auto` becomes openai when a key or base_url is configured, else offline."""
        if self.backend != "auto":
            return self.backend
        if self.openai.base_url or self.openai.api_key():
            return "openai"
        return "offline"


def load_planner_config(path: str | Path | None = None) -> PlannerConfig:
    """The packaged config/planner.yaml, or the given file; `ConfigError` on problems."""
    from robot_planner.resources import share_dir

    return load_yaml_model(
        Path(path) if path else share_dir() / "config" / "planner.yaml",
        PlannerConfig,
        "planner config",
    )


def make_planner(config: PlannerConfig, catalogue: Catalogue, scene: Scene) -> Planner:
    """Build the configured backend (imports heavy libraries only when chosen)."""
    backend = config.resolved_backend()
    if backend == "openai":
        from robot_planner.planning.openai_backend import OpenAIPlanner

        return OpenAIPlanner(config.openai, catalogue, scene, planning_mode=config.mode)
    if backend == "transformers":
        from robot_planner.planning.transformers_backend import TransformersPlanner

        return TransformersPlanner(
            config.transformers, catalogue, scene, planning_mode=config.mode
        )
    from robot_planner.planning.offline import OfflinePlanner

    return OfflinePlanner(catalogue, scene)
