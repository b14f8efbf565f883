"""The transformers backend in goal mode and its forced command, on a tiny random model.

As in test_transformers_backend: no weights are downloaded; a byte-level BPE is trained
here on what the model reads and writes, a 1-layer GPT-2 gets random weights, and a bias
on `"` and `]` keeps strings and arrays short. xgrammar compiles the goal schema, so
every reply is a goal-shaped JSON object; the reply opens with the request's command,
fed rather than sampled, so even a random model cannot answer for another command.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from robot_planner.planning.base import PlanningError, PlanRequest
from robot_planner.planning.config import TransformersSettings
from robot_planner.planning.llm import Completion
from robot_planner.planning.prompt import Message, PromptBuilder
from robot_planner.planning.transformers_backend import TransformersPlanner
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

EOS = "<|endoftext|>"
COMMAND = "put the red block in the right bin"


@pytest.fixture(scope="module")
def prompts(catalogue: Catalogue, scene: Scene) -> PromptBuilder:
    return PromptBuilder(catalogue, scene)


@pytest.fixture(scope="module")
def tokenizer(prompts: PromptBuilder) -> PreTrainedTokenizerFast:
    corpus = [
        prompts.goal_system(),
        json.dumps(prompts.goal_schema()),
        prompts.system(),
        json.dumps(prompts.schema()),
    ]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        corpus, vocab_size=1500, min_frequency=2, special_tokens=[EOS], show_progress=False
    )
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token=EOS, pad_token=EOS)


@pytest.fixture(scope="module")
def model(tokenizer: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=8192,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    gpt = GPT2LMHeadModel(config).eval()
    bias = torch.zeros(len(tokenizer))
    for token, logit in {'"': 6.0, "]": 2.0}.items():
        bias[tokenizer.convert_tokens_to_ids(token)] = logit
    gpt.lm_head.bias = torch.nn.Parameter(bias, requires_grad=False)
    return gpt


class CountingPlanner(TransformersPlanner):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.calls: list[Completion] = []

    def complete(self, messages: list[Message]) -> Completion:
        completion = super().complete(messages)
        self.calls.append(completion)
        return completion


def _planner(catalogue, scene, model, tokenizer, mode: str, seed: int) -> CountingPlanner:
    settings = TransformersSettings(
        max_new_tokens=1024, device="cpu", max_repairs=1, temperature=1.0
    )
    return CountingPlanner(
        settings, catalogue, scene, model, tokenizer, seed=seed, planning_mode=mode
    )


@pytest.mark.parametrize("mode", ["goal", "dag"])
def test_every_reply_is_for_the_command_sent(catalogue, scene, prompts, model, tokenizer, mode):
    """Whatever the random model samples, each reply parses, follows the mode's schema
    and names the request's command; the outcome is a plan or a one-line refusal that is
    never about another command."""
    schema = prompts.goal_schema() if mode == "goal" else prompts.schema()
    outcomes = []
    for seed in range(3):
        planner = _planner(catalogue, scene, model, tokenizer, mode, seed)
        try:
            result = planner.plan(PlanRequest(COMMAND, scene.initial_facts()))
            outcomes.append("planned")
            assert result.plan.command == COMMAND
            assert result.guesses == ["the transformers model's reading of the command"]
        except PlanningError as exc:
            message = str(exc)
            assert "\n" not in message
            assert "the reply plans" not in message and "names no command" not in message
            outcomes.append(message)
        assert planner.calls
        for completion in planner.calls:
            data = json.loads(completion.text)
            jsonschema.Draft202012Validator(schema).validate(data)
            assert data["command"] == COMMAND
            assert completion.text.startswith(json.dumps({"command": COMMAND})[:-1] + ", ")
            assert 0 < completion.usage["completion_tokens"] <= 1024
    assert len(outcomes) == 3


def test_goal_grammar_is_compiled_once_per_schema(catalogue, scene, model, tokenizer):
    planner = _planner(catalogue, scene, model, tokenizer, "goal", 0)
    first = planner.grammar()
    assert planner.grammar() is first
    planner.planning_mode = "dag"
    assert planner.grammar() is not first  # the plan schema: its own compiled grammar
    assert set(planner._grammars) == {"goal", "task_plan"}
