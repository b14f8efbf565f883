"""The scripted OpenAI-compatible server now ships in the package (bench faults uses it)."""

from robot_planner.testing.fake_openai import HANG_S, FakeOpenAIServer

__all__ = ["HANG_S", "FakeOpenAIServer"]
