"""The transformers backend with xgrammar-constrained decoding, on a tiny model built here.

No weights are downloaded: a byte-level BPE tokenizer is trained on the prompt, the
schema and the example plans, and a 1-layer GPT-2 gets random weights (seed 0). The
grammar guarantees the *shape* of the reply, not its *length*: a random model has no
reason to ever close a string, so greedy decoding on it loops inside the first string
until the budget ends (tested below: that is an explicit "cut off" error, never half a
plan handed to the parser). Most tests therefore use the same random model with two
added logit biases, on the `"` and `]` tokens, so strings and arrays end after a few
items and a reply is tens to a few hundred tokens; everything else stays random.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from robot_planner.plan.validation import validate_plan
from robot_planner.planning import transformers_backend
from robot_planner.planning.base import PlanningError, PlanRequest, PlanResult
from robot_planner.planning.config import PlannerConfig, TransformersSettings, make_planner
from robot_planner.planning.llm import BackendError, Completion
from robot_planner.planning.prompt import Message, PromptBuilder
from robot_planner.planning.transformers_backend import (
    TransformersPlanner,
    plain_prompt,
    resolve_device,
)
from robot_planner.resources import share_dir
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene

ROOT = Path(__file__).resolve().parent.parent
EOS = "<|endoftext|>"
COMMAND = "put the red block in the right bin"
#: The settings' default; ample for the biased model below (its replies are 20-500 tokens).
BUDGET = 1024
#: What LLMPlanner says when a reply is not JSON: constrained decoding must rule these out.
PARSE_ERRORS = ("no JSON object", "not valid JSON")
#: Logits added to `"` and `]`: strings then end after a few tokens, arrays after a few
#: items (without the second, greedy decoding appends constraints for ever).
CLOSING_BIAS = {'"': 6.0, "]": 2.0}


# --- the tiny model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def prompts(catalogue: Catalogue, scene: Scene) -> PromptBuilder:
    return PromptBuilder(catalogue, scene)


@pytest.fixture(scope="module")
def schema(prompts: PromptBuilder) -> dict[str, Any]:
    return prompts.schema()


@pytest.fixture(scope="module")
def tokenizer(prompts: PromptBuilder) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on what the model reads and writes (a few hundred
    merges), so the ~14 kB system prompt is some 4.4k tokens."""
    corpus = [prompts.system(), json.dumps(prompts.schema())]
    corpus += [p.read_text() for p in sorted((ROOT / "examples" / "plans").glob("*.json"))]
    corpus.append((share_dir() / "config" / "domains" / "tabletop" / "examples.json").read_text())
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        corpus, vocab_size=1500, min_frequency=2, special_tokens=[EOS], show_progress=False
    )
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token=EOS, pad_token=EOS)


def _gpt2(tokenizer: PreTrainedTokenizerFast, n_positions: int = 8192) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def random_model(tokenizer: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    """Random weights, nothing else."""
    return _gpt2(tokenizer)


@pytest.fixture(scope="module")
def closing_model(tokenizer: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    """The same random weights plus a bias towards `"` and `]` (see module doc)."""
    model = _gpt2(tokenizer)
    bias = torch.zeros(len(tokenizer))
    for token, logit in CLOSING_BIAS.items():
        bias[tokenizer.convert_tokens_to_ids(token)] = logit
    model.lm_head.bias = torch.nn.Parameter(bias, requires_grad=False)
    return model


class CountingPlanner(TransformersPlanner):
    """Records every generation (its messages and reply)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[list[Message], Completion]] = []

    def complete(self, messages: list[Message]) -> Completion:
        completion = super().complete(messages)
        self.calls.append((messages, completion))
        return completion


def _settings(**kwargs: Any) -> TransformersSettings:
    values: dict[str, Any] = {"max_new_tokens": BUDGET, "device": "cpu", "max_repairs": 1}
    values.update(kwargs)
    return TransformersSettings(**values)


def _request(scene: Scene) -> PlanRequest:
    return PlanRequest(COMMAND, scene.initial_facts())


@contextmanager
def _counting_forward(model: torch.nn.Module) -> Iterator[list[int]]:
    """A list that grows by one per forward pass of `model` (one per generated token)."""
    seen: list[int] = []
    handle = model.register_forward_hook(lambda *_: seen.append(1))
    try:
        yield seen
    finally:
        handle.remove()


# --- constrained decoding ------------------------------------------------------------------


@pytest.mark.parametrize(("temperature", "seed"), [(0.0, 0), (0.7, 1), (1.0, 2), (1.5, 3)])
def test_constrained_reply_is_schema_valid_json(
    catalogue, scene, prompts, schema, tokenizer, closing_model, temperature, seed
):
    planner = TransformersPlanner(
        _settings(temperature=temperature), catalogue, scene, closing_model, tokenizer, seed=seed
    )
    completion = planner.complete(prompts.messages(_request(scene)))
    data = json.loads(completion.text)  # the whole reply, not an object fished out of prose
    jsonschema.Draft202012Validator(schema).validate(data)
    assert completion.text == completion.text.strip()
    assert completion.usage["prompt_tokens"] > 1000  # the system prompt is in there
    assert 0 < completion.usage["completion_tokens"] <= BUDGET


@pytest.mark.parametrize("seed", [0, 2])
def test_unbiased_random_model_still_emits_schema_valid_json(
    catalogue, scene, prompts, schema, tokenizer, random_model, seed
):
    """Sampling from the plain random model: strings run long, but end; what comes out
    is still a plan-shaped JSON document."""
    planner = TransformersPlanner(
        _settings(temperature=1.0, max_new_tokens=2500),
        catalogue,
        scene,
        random_model,
        tokenizer,
        seed=seed,
    )
    completion = planner.complete(prompts.messages(_request(scene)))
    jsonschema.Draft202012Validator(schema).validate(json.loads(completion.text))
    assert completion.usage["completion_tokens"] <= 2500


def test_greedy_is_deterministic_and_sampling_follows_the_seed(
    catalogue, scene, prompts, tokenizer, closing_model
):
    messages = prompts.messages(_request(scene))

    def make(temperature: float, seed: int | None) -> TransformersPlanner:
        settings = _settings(temperature=temperature)
        return TransformersPlanner(settings, catalogue, scene, closing_model, tokenizer, seed=seed)

    def reply(temperature: float, seed: int | None) -> str:
        return make(temperature, seed).complete(messages).text

    assert reply(0.0, None) == reply(0.0, 7)
    assert reply(1.0, 5) == reply(1.0, 5)
    assert len({reply(1.0, seed) for seed in range(4)}) > 1
    # One seeded stream per planner: a second call (a repair round) draws afresh, and
    # the whole sequence is reproducible.
    first, again = make(1.0, 5), make(1.0, 5)
    replies = [first.complete(messages).text for _ in range(2)]
    assert replies[0] != replies[1]
    assert [again.complete(messages).text for _ in range(2)] == replies


def test_budget_cut_off_is_an_error_not_half_a_plan(
    catalogue, scene, prompts, tokenizer, random_model
):
    """Greedy on the unbiased random model never leaves the first string: after exactly
    max_new_tokens the JSON is incomplete, and the backend says so instead of passing a
    fragment on (which would come back as a parse error and a pointless repair)."""
    planner = CountingPlanner(
        _settings(max_new_tokens=16, max_repairs=2), catalogue, scene, random_model, tokenizer
    )
    with (
        _counting_forward(random_model) as steps,
        pytest.raises(BackendError, match="cut off at 16 new tokens"),
    ):
        planner.complete(prompts.messages(_request(scene)))
    assert len(steps) == 16
    with pytest.raises(PlanningError) as info:
        planner.plan(_request(scene))
    message = str(info.value)
    assert "transformers backend: reply cut off at 16 new tokens" in message
    assert "max_new_tokens" in message and "\n" not in message
    assert not any(p in message for p in PARSE_ERRORS)
    assert planner.calls == []  # a backend error ends planning: no repair round


# --- the planner around it --------------------------------------------------------------


def _last_problem(message: str) -> str:
    match = re.search(r"last problem: (.*)$", message)
    assert match, message
    return match.group(1)


def test_replies_reach_the_validator_and_repairs_are_counted(
    catalogue, scene, tokenizer, closing_model
):
    """Whatever the random model says is valid JSON, so the outcome is a validated plan,
    a refusal, or the validator's own complaint, after exactly max_repairs+1 generations.
    Across these seeds at least one goes through the repair round."""
    outcomes = []
    for temperature, seed in [(0.0, 0), (0.7, 0), (1.0, 1), (1.0, 2), (1.5, 3)]:
        planner = CountingPlanner(
            _settings(temperature=temperature, max_repairs=1),
            catalogue,
            scene,
            closing_model,
            tokenizer,
            seed=seed,
        )
        request = _request(scene)
        try:
            result = planner.plan(request)
        except PlanningError as exc:
            message = str(exc)
            assert "\n" not in message
            assert not any(p in message for p in PARSE_ERRORS), message
            if "refused the command (no goal, no tasks)" in message:
                # A refusal ends planning at once, in the first or the repair round.
                assert 1 <= len(planner.calls) <= 2
                last = json.loads(planner.calls[-1][1].text)
                assert last["tasks"] == [] and last["goal"] == []
                outcomes.append("refused")
                continue
            if "reply cut off at" in message:
                # A random model may ramble past the budget: said plainly, not passed on.
                assert f"cut off at {BUDGET} new tokens" in message
                assert "max_new_tokens" in message
                outcomes.append("cut off")
                continue
            assert "gave no valid plan in 2 attempt(s)" in message
            assert len(planner.calls) == 2
            # The repair round sent the first reply back with the validator's lines.
            first, second = planner.calls
            assert len(first[0]) == 2 and len(second[0]) == 4
            assert second[0][2] == {"role": "assistant", "content": first[1].text}
            # The complaint is the validator's own verdict on the last reply.
            report = validate_plan(second[1].text, catalogue, scene, request.state)
            assert not report.ok
            assert _last_problem(message) == report.errors[0]
            outcomes.append("repaired")
        else:
            assert isinstance(result, PlanResult)
            assert result.backend == "transformers"
            assert result.attempts == len(planner.calls)
            assert validate_plan(json.dumps(result.plan.to_dict()), catalogue, scene).ok
            outcomes.append("planned")
        for _, completion in planner.calls:
            assert 0 < completion.usage["completion_tokens"] <= BUDGET
    assert "repaired" in outcomes, outcomes


# --- prompts ---------------------------------------------------------------------------------


def test_plain_prompt_without_chat_template(catalogue, scene, tokenizer, random_model):
    planner = TransformersPlanner(_settings(), catalogue, scene, random_model, tokenizer)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert planner.prompt_text(messages) == "system: S\n\nuser: U\n\nassistant:"
    assert plain_prompt(messages).endswith("assistant:")


def test_chat_template_is_used_when_present(
    catalogue, scene, prompts, schema, tokenizer, closing_model
):
    templated = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.backend_tokenizer, eos_token=EOS, pad_token=EOS
    )
    templated.chat_template = (
        "{% for m in messages %}<<{{ m['role'] }}>>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<<assistant>>{% endif %}"
    )
    # Sampled, not greedy: greedy decoding of a random model can loop inside a number.
    planner = TransformersPlanner(
        _settings(temperature=1.0, max_new_tokens=2500),
        catalogue,
        scene,
        closing_model,
        templated,
        seed=0,
    )
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert planner.prompt_text(messages) == "<<system>>S\n<<user>>U\n<<assistant>>"
    completion = planner.complete(prompts.messages(_request(scene)))
    jsonschema.Draft202012Validator(schema).validate(json.loads(completion.text))


def test_template_refusing_system_role_gets_it_folded_into_the_user_turn(
    catalogue, scene, tokenizer, random_model
):
    templated = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.backend_tokenizer, eos_token=EOS, pad_token=EOS
    )
    templated.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "[{{ m['role'] }}]{{ m['content'] }}{% endfor %}[assistant]"
    )
    planner = TransformersPlanner(_settings(), catalogue, scene, random_model, templated)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert planner.prompt_text(messages) == "[user]S\n\nU[assistant]"


# --- configuration and loading ---------------------------------------------------------------


def test_no_model_configured_is_one_clear_line(catalogue, scene):
    with pytest.raises(PlanningError) as info:
        TransformersPlanner(TransformersSettings(), catalogue, scene)
    message = str(info.value)
    assert message.startswith("transformers backend: no model")
    assert "transformers.model" in message and "\n" not in message
    with pytest.raises(PlanningError, match="no model"):
        make_planner(PlannerConfig(backend="transformers"), catalogue, scene)


def test_missing_model_directory_is_one_clear_line(catalogue, scene, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(PlanningError) as info:
        TransformersPlanner(TransformersSettings(model=str(missing)), catalogue, scene)
    assert str(info.value) == f"transformers backend: model directory {missing} does not exist"


def test_uncached_hub_id_fails_at_first_use_without_network(catalogue, scene):
    planner = TransformersPlanner(
        TransformersSettings(model="robot-planner-tests/no-such-model", device="cpu"),
        catalogue,
        scene,
    )
    with pytest.raises(PlanningError) as info:
        planner.plan(PlanRequest(COMMAND, scene.initial_facts()))
    message = str(info.value)
    assert message.startswith(
        "transformers backend: cannot load model robot-planner-tests/no-such-model "
        "(local files only, no download)"
    )
    assert "\n" not in message


def test_only_one_of_model_and_tokenizer_is_refused(catalogue, scene, random_model):
    with pytest.raises(PlanningError, match="both model and tokenizer"):
        TransformersPlanner(_settings(), catalogue, scene, model=random_model)


def test_model_loads_lazily_from_a_local_directory(
    catalogue, scene, prompts, schema, tokenizer, random_model, tmp_path
):
    random_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    planner = TransformersPlanner(
        _settings(model=str(tmp_path), temperature=1.0, max_new_tokens=2500),
        catalogue,
        scene,
        seed=0,
    )
    assert planner.model is None  # nothing loaded yet
    completion = planner.complete(prompts.messages(_request(scene)))
    assert planner.device == torch.device("cpu")
    loaded = planner.model.state_dict()["lm_head.weight"]
    assert torch.equal(loaded, random_model.state_dict()["lm_head.weight"])
    jsonschema.Draft202012Validator(schema).validate(json.loads(completion.text))


def test_device_choice(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(transformers_backend.torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda") == torch.device("cuda")
    monkeypatch.setattr(transformers_backend.torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(PlanningError, match="no GPU"):
        resolve_device("cuda")


def test_prompt_longer_than_the_context_is_refused(catalogue, scene, prompts, tokenizer):
    short = _gpt2(tokenizer, n_positions=512)
    planner = TransformersPlanner(_settings(), catalogue, scene, short, tokenizer)
    with pytest.raises(BackendError, match=r"prompt is \d+ tokens, the model's context is 512"):
        planner.complete(prompts.messages(_request(scene)))


def test_budget_shrinks_to_the_context_left(catalogue, scene, prompts, tokenizer, caplog):
    n_prompt = len(tokenizer(plain_prompt(prompts.messages(_request(scene))))["input_ids"])
    model = _gpt2(tokenizer, n_positions=n_prompt + 20)
    planner = TransformersPlanner(_settings(), catalogue, scene, model, tokenizer)
    with (
        caplog.at_level(logging.WARNING, logger=transformers_backend.__name__),
        pytest.raises(BackendError, match="cut off at 20 new tokens"),
    ):
        planner.complete(prompts.messages(_request(scene)))
    assert "only 20 of max_new_tokens=1024" in caplog.text
