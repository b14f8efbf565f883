"""VQA with a local model (no network).

Two kinds of model: `visual-question-answering` (ViLT, BLIP: a ranked list of short
answers with scores; the score of the yes/no answer is the confidence) and
`image-text-to-text` (chat VLMs through the transformers pipeline: generated text,
parsed for a leading yes/no). transformers 5 dropped the VQA pipeline task, so
`VqaModel` does what it did (processor, model, sigmoid, top-k; generation for BLIP).
The model is loaded once, from a local directory or the hub cache; nothing is
downloaded when the machine is offline.
"""

from __future__ import annotations

import logging
from typing import Any

from robot_planner.monitor.base import VqaAnswer, VqaError, parse_yes_no
from robot_planner.monitor.config import TransformersVqaSettings
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation

log = logging.getLogger(__name__)

PROMPT_SUFFIX = " Answer yes or no."


class VqaModel:
    """A VQA model directory as a callable with the old pipeline's interface:
    ``(image=, question=, top_k=) -> [{"answer": str, "score": float}, ...]``."""

    def __init__(self, directory: str, device: str, max_new_tokens: int):
        import torch
        from transformers import AutoModelForVisualQuestionAnswering, AutoProcessor

        self._torch = torch
        self.processor = AutoProcessor.from_pretrained(directory)
        model = AutoModelForVisualQuestionAnswering.from_pretrained(directory)
        self.model = model.to(device).eval()
        self.max_new_tokens = max_new_tokens

    def __call__(self, *, image: Any, question: str, top_k: int = 5) -> list[dict[str, Any]]:
        inputs = self.processor(
            images=image, text=question, return_tensors="pt", padding=True, truncation=True
        ).to(self.model.device)
        with self._torch.no_grad():
            if self.model.can_generate():  # BLIP: a generated answer, no score
                ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
                text = self.processor.batch_decode(ids, skip_special_tokens=True)[0]
                return [{"answer": text.strip()}]
            probs = self.model(**inputs).logits.sigmoid()[0]
        scores, ids = probs.topk(min(top_k, probs.numel()))
        labels = self.model.config.id2label
        return [
            {"answer": labels[i], "score": score}
            for score, i in zip(scores.tolist(), ids.tolist(), strict=True)
        ]


class TransformersVqa:
    """`VqaBackend` over `transformers.pipeline`."""

    name = "transformers"

    def __init__(self, settings: TransformersVqaSettings, pipeline: Any = None):
        """`pipeline` is injectable for tests; otherwise built from `settings.model`."""
        self.settings = settings
        if pipeline is None:
            pipeline = self._load(settings)
        self.pipeline = pipeline

    @staticmethod
    def _load(settings: TransformersVqaSettings) -> Any:
        if not settings.model:
            raise VqaError(
                "transformers VQA: no model: set transformers.model in the monitor config "
                "to a local model directory"
            )
        try:
            import torch
            from transformers import pipeline
        except ImportError as exc:  # pragma: no cover - both are pinned requirements
            raise VqaError(f"transformers VQA needs torch and transformers: {exc}") from None
        device = settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            if settings.task == "visual-question-answering":
                return VqaModel(settings.model, device, settings.max_new_tokens)
            return pipeline(settings.task, model=settings.model, device=device)
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
            line = " ".join(str(exc).strip("'\"").split())[:200]
            raise VqaError(
                f"transformers VQA: cannot load model {settings.model!r}: {line}"
            ) from None

    def answer(self, observation: Observation, question: str, fact: Fact) -> VqaAnswer:
        from PIL import Image

        try:
            image = Image.fromarray(observation.frame.rgb)
            if self.settings.task == "visual-question-answering":
                return self._ranked(self.pipeline(image=image, question=question, top_k=5))
            return self._generated(image, question)
        except VqaError:
            raise
        except Exception as exc:  # a model may fail in many ways; the monitor must not
            line = " ".join(str(exc).split())[:200]
            raise VqaError(f"transformers VQA failed: {type(exc).__name__}: {line}") from None

    def _ranked(self, results: Any) -> VqaAnswer:
        """The best-scored answer that is a yes or a no; unknown when none is."""
        if isinstance(results, dict):
            results = [results]
        if not isinstance(results, list):
            raise VqaError(f"transformers VQA: unexpected pipeline output {type(results)}")
        for item in results:
            if not isinstance(item, dict):
                continue
            answer = parse_yes_no(item.get("answer"))
            if answer is not None:
                score = item.get("score", self.settings.default_confidence)
                confidence = min(1.0, max(0.0, float(score)))
                return VqaAnswer(answer, confidence, f"model answered {item.get('answer')!r}")
        return VqaAnswer(None, 0.0, "model gave no yes/no answer")

    def _generated(self, image: Any, question: str) -> VqaAnswer:
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": image},
                    {"type": "text", "text": question + PROMPT_SUFFIX},
                ],
            }
        ]
        out = self.pipeline(
            text=messages, max_new_tokens=self.settings.max_new_tokens, return_full_text=False
        )
        text = out[0].get("generated_text", "") if isinstance(out, list) and out else ""
        if isinstance(text, list):  # chat format: the last message is the reply
            text = text[-1].get("content", "") if text and isinstance(text[-1], dict) else ""
        if isinstance(text, list):  # content as parts: [{"type": "text", "text": ...}]
            text = " ".join(str(part.get("text", "")) for part in text if isinstance(part, dict))
        answer = parse_yes_no(text)
        snippet = " ".join(str(text).split())[:60]
        if answer is None:
            return VqaAnswer(None, 0.0, f"model said {snippet!r}")
        return VqaAnswer(answer, self.settings.default_confidence, f"model said {snippet!r}")
