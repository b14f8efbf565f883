"""The transformers VQA backend: a tiny ViLT built here, injected fake pipelines, load errors.

No weights are downloaded: a 2-layer ViLT with random weights (seed 0), a BERT tokenizer over
a hand-written vocabulary and a ViLT image processor are saved to a temporary directory.

transformers 5 removed the `visual-question-answering` pipeline task (the backend's default),
so loading that directory through `TransformersVqa(settings)` is an expected failure while the
installed transformers lacks the task (strict: it flags itself once the backend is fixed). The
real model is still run end to end through the backend's ranked-answer path by injecting a
callable that does what transformers 4's VQA pipeline did (processor, forward pass, sigmoid,
top-k labels). Everything else uses plain fake pipelines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    BertTokenizerFast,
    ViltConfig,
    ViltForQuestionAnswering,
    ViltImageProcessor,
    ViltProcessor,
)

from robot_planner.monitor.base import VqaAnswer, VqaError, parse_yes_no
from robot_planner.monitor.config import TransformersVqaSettings
from robot_planner.monitor.transformers_vqa import PROMPT_SUFFIX, TransformersVqa
from robot_planner.world.facts import Fact
from robot_planner.world.observation import CameraFrame, Observation

pytestmark = pytest.mark.timeout(120)

FACT = Fact.parse("holding(left_arm,red_block)")
QUESTION = "is the red block in the gripper?"
VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "is",
    "the",
    "red",
    "block",
    "in",
    "gripper",
    "?",
    "yes",
    "no",
]
ID2LABEL = {0: "yes", 1: "no", 2: "red"}


def observation() -> Observation:
    return Observation(
        stamp=0.0,
        frame=CameraFrame(
            name="overhead",
            stamp=0.0,
            rgb=np.zeros((240, 320, 3), np.uint8),
            depth=np.ones((240, 320), np.float32),
            K=np.eye(3),
            world_from_camera=np.eye(4),
        ),
        grippers={},
    )


def assert_sane(result: VqaAnswer) -> None:
    assert isinstance(result, VqaAnswer)
    assert result.answer in (True, False, None)
    assert 0.0 <= result.confidence <= 1.0
    if result.answer is None:
        assert result.confidence == 0.0


def assert_one_line(exc: BaseException) -> None:
    message = str(exc)
    assert message
    assert "\n" not in message
    assert "Traceback" not in message


# --- a tiny real ViLT ----------------------------------------------------------------


@pytest.fixture(scope="module")
def vilt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer ViLT, its processor and tokenizer, saved to disk."""
    directory = tmp_path_factory.mktemp("tiny_vilt")
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), model_max_length=40)
    image_processor = ViltImageProcessor(size={"shortest_edge": 64}, size_divisor=32)
    processor = ViltProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = ViltConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        image_size=64,
        patch_size=32,
        max_position_embeddings=40,
        num_labels=3,
        id2label=ID2LABEL,
        label2id={label: i for i, label in ID2LABEL.items()},
    )
    torch.manual_seed(0)
    model = ViltForQuestionAnswering(config).eval()
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


class ViltRanker:
    """What transformers 4's `visual-question-answering` pipeline did for a classifier
    head: encode image and question, run the model, sigmoid the logits, top-k labels."""

    def __init__(self, directory: Path):
        self.processor = ViltProcessor.from_pretrained(directory)
        self.model = ViltForQuestionAnswering.from_pretrained(directory).eval()
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *, image: Image.Image, question: str, top_k: int) -> list[dict]:
        self.calls.append({"image": image, "question": question, "top_k": top_k})
        inputs = self.processor(
            images=image, text=question, return_tensors="pt", padding=True, truncation=True
        )
        with torch.no_grad():
            logits = self.model(**inputs).logits
        probs = logits.sigmoid()[0]
        scores, ids = probs.topk(min(top_k, self.model.config.num_labels))
        labels = self.model.config.id2label
        return [
            {"score": score, "answer": labels[i]}
            for score, i in zip(scores.tolist(), ids.tolist(), strict=True)
        ]


def test_tiny_vilt_answers_through_the_ranked_path(vilt_dir):
    ranker = ViltRanker(vilt_dir)
    vqa = TransformersVqa(TransformersVqaSettings(model=str(vilt_dir), device="cpu"), ranker)
    first = vqa.answer(observation(), QUESTION, FACT)
    second = vqa.answer(observation(), QUESTION, FACT)
    assert_sane(first)
    assert first == second  # eval mode, fixed weights: deterministic
    # the real model ranks all three labels, two of which are yes/no: always an answer
    assert first.answer is not None
    assert first.confidence > 0.0
    assert first.evidence in ("model answered 'yes'", "model answered 'no'")
    call = ranker.calls[0]
    assert call["image"].size == (320, 240)
    assert call["image"].mode == "RGB"
    assert call["question"] == QUESTION
    assert call["top_k"] == 5
    # the reported confidence is the model's own score for that label
    ranked = ranker(image=call["image"], question=QUESTION, top_k=3)
    expected = next(r for r in ranked if r["answer"] in ("yes", "no"))
    assert first.answer is (expected["answer"] == "yes")
    assert first.confidence == pytest.approx(expected["score"])


def test_tiny_vilt_loads_from_a_directory_with_the_default_task(vilt_dir):
    """transformers 5 has no VQA pipeline task: the backend loads the model itself and
    ranks answers as the pipeline did (checked against the reference ranker)."""
    settings = TransformersVqaSettings(model=str(vilt_dir), device="cpu")
    assert settings.task == "visual-question-answering"
    vqa = TransformersVqa(settings)
    result = vqa.answer(observation(), QUESTION, FACT)
    assert_sane(result)
    reference = TransformersVqa(settings, ViltRanker(vilt_dir)).answer(
        observation(), QUESTION, FACT
    )
    assert result.answer is reference.answer
    assert result.confidence == pytest.approx(reference.confidence)


# --- injected fake pipelines: ranked answers -----------------------------------------


def ranked_vqa(output: Any, **settings: Any) -> TransformersVqa:
    def pipeline(**kwargs: Any) -> Any:
        if isinstance(output, BaseException):
            raise output
        return output

    return TransformersVqa(TransformersVqaSettings(**settings), pipeline)


def test_best_yes_no_answer_wins_even_when_not_ranked_first():
    output = [{"answer": "red", "score": 0.5}, {"answer": "no", "score": 0.3}]
    result = ranked_vqa(output).answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (False, pytest.approx(0.3))
    assert result.evidence == "model answered 'no'"


def test_first_yes_no_answer_is_used_not_a_later_one():
    output = [
        {"answer": "red", "score": 0.6},
        {"answer": "yes", "score": 0.2},
        {"answer": "no", "score": 0.1},
    ]
    result = ranked_vqa(output).answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (True, pytest.approx(0.2))


def test_no_yes_no_answer_is_unknown():
    output = [{"answer": "red", "score": 0.7}, {"answer": "blue", "score": 0.2}]
    result = ranked_vqa(output).answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (None, 0.0)
    assert result.evidence == "model gave no yes/no answer"


def test_empty_ranking_is_unknown():
    assert ranked_vqa([]).answer(observation(), QUESTION, FACT) == VqaAnswer(
        None, 0.0, "model gave no yes/no answer"
    )


def test_single_dict_output_and_missing_score():
    # generative VQA models (BLIP) answer without a score: the default confidence applies
    result = ranked_vqa({"answer": "Yes"}, default_confidence=0.65).answer(
        observation(), QUESTION, FACT
    )
    assert (result.answer, result.confidence) == (True, pytest.approx(0.65))


@pytest.mark.parametrize(("score", "expected"), [(1.7, 1.0), (-0.2, 0.0), ("0.4", 0.4)])
def test_scores_are_clamped_to_unit_interval(score, expected):
    result = ranked_vqa([{"answer": "yes", "score": score}]).answer(observation(), QUESTION, FACT)
    assert result.answer is True
    assert result.confidence == pytest.approx(expected)


def test_non_dict_items_are_skipped():
    output = ["yes", None, 3, {"answer": "no", "score": 0.9}]
    result = ranked_vqa(output).answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (False, pytest.approx(0.9))


def test_pipeline_exception_is_a_one_line_vqa_error():
    error = RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB\n  at frame 3")
    with pytest.raises(VqaError, match=r"^transformers VQA failed: RuntimeError: CUDA") as info:
        ranked_vqa(error).answer(observation(), QUESTION, FACT)
    assert_one_line(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_pipeline_vqa_error_passes_through_unchanged():
    error = VqaError("already explained")
    with pytest.raises(VqaError) as info:
        ranked_vqa(error).answer(observation(), QUESTION, FACT)
    assert info.value is error


def test_long_exception_message_is_truncated():
    with pytest.raises(VqaError) as info:
        ranked_vqa(ValueError("x" * 1000)).answer(observation(), QUESTION, FACT)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("output", ["yes", None, 0.9, b"no", ("yes", 0.9)])
def test_weird_ranked_output_types_are_vqa_errors(output):
    with pytest.raises(VqaError, match="unexpected pipeline output") as info:
        ranked_vqa(output).answer(observation(), QUESTION, FACT)
    assert_one_line(info.value)


def test_non_numeric_score_is_a_vqa_error_not_a_crash():
    with pytest.raises(VqaError, match="ValueError") as info:
        ranked_vqa([{"answer": "yes", "score": "high"}]).answer(observation(), QUESTION, FACT)
    assert_one_line(info.value)


# --- injected fake pipelines: generated text -----------------------------------------


class FakeChatPipeline:
    def __init__(self, output: Any):
        self.output = output
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if isinstance(self.output, BaseException):
            raise self.output
        return self.output


def generated_vqa(output: Any, **settings: Any) -> tuple[TransformersVqa, FakeChatPipeline]:
    fake = FakeChatPipeline(output)
    settings = {"task": "image-text-to-text", **settings}
    return TransformersVqa(TransformersVqaSettings(**settings), fake), fake


def test_generated_yes_uses_default_confidence_and_sends_chat_messages():
    vqa, fake = generated_vqa(
        [{"generated_text": "Yes, it is."}], default_confidence=0.7, max_new_tokens=7
    )
    result = vqa.answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (True, pytest.approx(0.7))
    assert result.evidence == "model said 'Yes, it is.'"
    (call,) = fake.calls
    assert call["max_new_tokens"] == 7
    assert call["return_full_text"] is False
    (message,) = call["text"]
    assert message["role"] == "user"
    image_part, text_part = message["content"]
    assert image_part["type"] == "image"
    assert isinstance(image_part["image"], Image.Image)
    assert image_part["image"].size == (320, 240)
    assert text_part == {"type": "text", "text": QUESTION + PROMPT_SUFFIX}


def test_generated_default_confidence_from_default_settings():
    vqa, _ = generated_vqa([{"generated_text": "Yes, it is."}])
    result = vqa.answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (True, pytest.approx(0.8))


def test_generated_chat_list_form_uses_last_message():
    output = [
        {
            "generated_text": [
                {"role": "user", "content": "yes or no?"},
                {"role": "assistant", "content": "no"},
            ]
        }
    ]
    result = generated_vqa(output)[0].answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (False, pytest.approx(0.8))


def test_generated_unclear_text_is_unknown():
    vqa, _ = generated_vqa([{"generated_text": "I cannot see a gripper in this image."}])
    result = vqa.answer(observation(), QUESTION, FACT)
    assert (result.answer, result.confidence) == (None, 0.0)
    assert result.evidence.startswith("model said 'I cannot see")


def test_generated_evidence_is_one_short_line():
    vqa, _ = generated_vqa([{"generated_text": "no\n\n" + "because " * 50}])
    result = vqa.answer(observation(), QUESTION, FACT)
    assert result.answer is False
    assert "\n" not in result.evidence
    assert len(result.evidence) < 100


@pytest.mark.parametrize(
    "output",
    [
        None,
        "yes",
        [],
        ["yes"],
        [None],
        [{}],
        [{"generated_text": None}],
        [{"generated_text": []}],
        [{"generated_text": ["no"]}],
        [{"generated_text": [{"role": "assistant"}]}],
        [{"generated_text": [{"role": "assistant", "content": [{"type": "text"}]}]}],
    ],
)
def test_weird_generated_output_is_never_evidence(output):
    """Odd shapes give either a VqaError or an unknown answer, never a crash or a verdict."""
    vqa, _ = generated_vqa(output)
    try:
        result = vqa.answer(observation(), QUESTION, FACT)
    except VqaError as exc:
        assert_one_line(exc)
    else:
        assert (result.answer, result.confidence) == (None, 0.0)


def test_generated_pipeline_exception_is_a_one_line_vqa_error():
    vqa, _ = generated_vqa(TypeError("unexpected keyword\nargument 'return_full_text'"))
    with pytest.raises(VqaError, match="TypeError") as info:
        vqa.answer(observation(), QUESTION, FACT)
    assert_one_line(info.value)


# --- loading errors ------------------------------------------------------------------


def test_no_model_is_a_vqa_error_naming_the_setting():
    with pytest.raises(VqaError, match=r"transformers\.model") as info:
        TransformersVqa(TransformersVqaSettings(model=None))
    assert_one_line(info.value)


def test_empty_model_string_is_the_same_error():
    with pytest.raises(VqaError, match=r"transformers\.model"):
        TransformersVqa(TransformersVqaSettings(model=""))


@pytest.mark.parametrize("task", ["visual-question-answering", "image-text-to-text"])
def test_empty_model_directory_is_a_one_line_vqa_error(tmp_path, task):
    empty = tmp_path / "empty_model"
    empty.mkdir()
    settings = TransformersVqaSettings(model=str(empty), device="cpu", task=task)
    with pytest.raises(VqaError, match="cannot load model") as info:
        TransformersVqa(settings)
    assert_one_line(info.value)
    assert str(empty) in str(info.value)
    assert info.value.__cause__ is None


def test_missing_model_directory_is_a_one_line_vqa_error(tmp_path):
    settings = TransformersVqaSettings(model=str(tmp_path / "nowhere"), device="cpu")
    with pytest.raises(VqaError, match="cannot load model") as info:
        TransformersVqa(settings)
    assert_one_line(info.value)


def test_injected_pipeline_skips_loading():
    # no model configured, but nothing is loaded when a pipeline is given
    vqa = TransformersVqa(TransformersVqaSettings(), pipeline=lambda **_: [])
    assert vqa.name == "transformers"
    assert vqa.answer(observation(), QUESTION, FACT).answer is None


# --- parse_yes_no --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("yes", True),
        ("YES!", True),
        ("  yes  ", True),
        ("Yes, it is.", True),
        ("**Yes**", True),
        ('"yes"', True),
        ("yes: the block is held", True),
        ("true", True),
        ("y", True),
        ("1", True),
        ("yeah", True),
        ("Correct.", True),
        ("no.", False),
        ("No", False),
        ("No, the gripper is empty.", False),
        ("**No**", False),
        ("false", False),
        ("n", False),
        ("0", False),
        ("nope", False),
        ("incorrect", False),
        ("", None),
        ("   ", None),
        (".", None),
        ("maybe", None),
        ("maybe yes", None),
        ("I think yes", None),
        ("not sure", None),
        ("yesterday", None),
        ("nothing", None),
        (None, None),
        (1, None),
        (0, None),
        (0.9, None),
        (["yes"], None),
        ({"answer": "yes"}, None),
        (True, True),
        (False, False),
    ],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected
