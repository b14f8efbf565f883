"""Planning with a local causal LM (Hugging Face transformers) and constrained decoding.

Every emitted token is masked by an xgrammar matcher compiled from the plan JSON
schema (or, in goal mode, the goal schema), so the reply is always well-formed JSON in
the schema's shape: known skills, robots, objects and facts only. The reply opens with
the request's command, fed to the model rather than sampled, so a local model cannot
plan another command. What the schema cannot say (dependencies, reach,
preconditions) is still checked by the validator in `LLMPlanner`, which also runs the
repair loop. The model is loaded lazily with `local_files_only=True`: this backend never
touches the network. The decoding loop is ours (not `generate()`) so that grammar
termination, the token budget and the context limit are exact and reported plainly.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
import xgrammar as xgr

from robot_planner.planning.base import PlanningError
from robot_planner.planning.config import TransformersSettings
from robot_planner.planning.llm import BackendError, Completion, LLMPlanner
from robot_planner.planning.prompt import Message, PromptBuilder
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.scene import Scene

log = logging.getLogger(__name__)

#: Longest library error text quoted in an error line.
DETAIL_CHARS = 200


def _one_line(exc: BaseException) -> str:
    """An exception as one bounded line (library errors can span pages)."""
    line = " ".join(str(exc).split()) or type(exc).__name__
    return line if len(line) <= DETAIL_CHARS else line[: DETAIL_CHARS - 3] + "..."


def resolve_device(choice: str) -> torch.device:
    """`auto` is cuda when torch sees a GPU, else cpu; `cuda` without one is an error
    now rather than a crash inside the first forward pass."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise PlanningError("transformers backend: device 'cuda' asked for, but no GPU is visible")
    return torch.device(choice)


def plain_prompt(messages: list[Message]) -> str:
    """Blocks of "role: content" ending with "assistant:", for tokenizers without a
    chat template (base models)."""
    blocks = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n\n".join([*blocks, "assistant:"])


def _looks_like_path(name: str) -> bool:
    """A model name meant as a directory (not a hub id like `org/model`)."""
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1


class TransformersPlanner(LLMPlanner):
    """`LLMPlanner` over a local transformers model with xgrammar-constrained decoding."""

    name = "transformers"

    def __init__(
        self,
        settings: TransformersSettings,
        catalogue: Catalogue,
        scene: Scene,
        model: Any = None,
        tokenizer: Any = None,
        *,
        prompts: PromptBuilder | None = None,
        seed: int | None = None,
        planning_mode: str = "dag",
    ):
        """`model` and `tokenizer` are injectable (both or neither) so tests and callers
        that already hold a model skip loading; `seed` makes sampling reproducible;
        `planning_mode` is ``dag`` or ``goal`` (see `LLMPlanner`)."""
        super().__init__(catalogue, scene, settings.max_repairs, prompts, planning_mode)
        self.settings = settings
        self.seed = seed
        if (model is None) != (tokenizer is None):
            raise PlanningError("transformers backend: give both model and tokenizer, or neither")
        if model is None:
            self._check_source(settings.model)
            self.device = resolve_device(settings.device)
        else:
            # An injected model stays where its owner put it.
            self.device = next(model.parameters()).device
        self.model = model
        self.tokenizer = tokenizer
        self._grammars: dict[str, xgr.CompiledGrammar] = {}
        self._rng: torch.Generator | None = None

    @staticmethod
    def _check_source(name: str | None) -> None:
        """Fail at construction on what can be known without loading anything."""
        if not name:
            raise PlanningError(
                "transformers backend: no model: set transformers.model to a local model "
                "directory or a cached hub id"
            )
        path = Path(name).expanduser()
        if _looks_like_path(name) and not path.is_dir():
            raise PlanningError(f"transformers backend: model directory {name} does not exist")

    # --- loading -----------------------------------------------------------------------

    def _load(self) -> None:
        """Load tokenizer and model from disk or the local hub cache, never the network."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        name = str(Path(self.settings.model or "").expanduser())
        dtype: Any = "auto" if self.device.type == "cuda" else torch.float32
        log.info("loading %s on %s", name, self.device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(name, local_files_only=True, dtype=dtype)
            model = model.to(self.device).eval()
        except (OSError, ValueError, ImportError, RuntimeError) as exc:
            # OSError: not on disk / not cached; ValueError: unknown architecture;
            # ImportError: a missing tokenizer library; RuntimeError: device or memory.
            raise BackendError(
                f"cannot load model {name} (local files only, no download): {_one_line(exc)}"
            ) from None
        self.model = model
        self.tokenizer = tokenizer

    def _ensure_loaded(self) -> tuple[Any, Any]:
        if self.model is None or self.tokenizer is None:
            self._load()
        return self.model, self.tokenizer

    def _stop_token_ids(self) -> list[int]:
        """EOS ids from the tokenizer and the model's generation config (chat models
        often end turns with a token other than the tokenizer's eos)."""
        ids: list[int] = []
        candidates: list[Any] = [self.tokenizer.eos_token_id]
        generation_config = getattr(self.model, "generation_config", None)
        candidates.append(getattr(generation_config, "eos_token_id", None))
        for value in candidates:
            for token in value if isinstance(value, list | tuple) else [value]:
                if isinstance(token, int) and token not in ids:
                    ids.append(token)
        return ids

    def grammar(self) -> xgr.CompiledGrammar:
        """The reply's schema (plan or goal) compiled for this tokenizer, once per planner
        and schema: compiling precomputes token masks over the whole vocabulary, far more
        work than a step. The schema is the stable one (any command): the command is
        forced as a prefix instead (`_forced_prefix`), so no per-command compile."""
        reply = self.reply_format()
        if reply.name not in self._grammars:
            model, tokenizer = self._ensure_loaded()
            # Compact JSON with ", " and ": " (json.dumps style, as in the prompt's
            # examples): no whitespace choices, so fewer tokens and no runaway padding.
            try:
                info = xgr.TokenizerInfo.from_huggingface(
                    tokenizer,
                    vocab_size=model.config.vocab_size,
                    stop_token_ids=self._stop_token_ids() or None,
                )
                compiler = xgr.GrammarCompiler(info)
                self._grammars[reply.name] = compiler.compile_json_schema(
                    json.dumps(reply.schema), any_whitespace=False
                )
            except (RuntimeError, ValueError) as exc:
                raise BackendError(
                    f"cannot compile the {reply.name} schema: {_one_line(exc)}"
                ) from None
        return self._grammars[reply.name]

    # --- LLMPlanner --------------------------------------------------------------------

    def prompt_text(self, messages: list[Message]) -> str:
        """The chat template's rendering when the tokenizer has one, else plain text."""
        _, tokenizer = self._ensure_loaded()
        if not getattr(tokenizer, "chat_template", None):
            return plain_prompt(messages)
        try:
            return tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
        except Exception as exc:  # jinja raises from the template itself
            if messages and messages[0]["role"] == "system" and len(messages) > 1:
                # Some templates (e.g. Gemma) refuse a system role: fold it into the user turn.
                first = {"role": "user", "content": f"{messages[0]['content']}\n\n"}
                first["content"] += messages[1]["content"]
                try:
                    return tokenizer.apply_chat_template(
                        [first, *messages[2:]], add_generation_prompt=True, tokenize=False
                    )
                except Exception:
                    pass
            raise BackendError(f"chat template failed: {_one_line(exc)}") from None

    def complete(self, messages: list[Message]) -> Completion:
        """One grammar-constrained reply; a reply the budget cuts off is an error, not
        half a plan."""
        model, tokenizer = self._ensure_loaded()
        grammar = self.grammar()
        text = self.prompt_text(messages)
        templated = bool(getattr(tokenizer, "chat_template", None))
        # A rendered chat template already holds its BOS; a plain prompt gets the default.
        encoded = tokenizer(text, return_tensors="pt", add_special_tokens=not templated)
        prompt_ids = encoded["input_ids"].to(self.device)
        n_prompt = int(prompt_ids.shape[1])
        budget = self._budget(n_prompt)
        forced = self._forced_prefix()
        try:
            tokens, finished = self._decode(model, grammar, prompt_ids, budget, forced)
        except torch.OutOfMemoryError:
            raise BackendError(
                f"out of memory generating from a {n_prompt}-token prompt"
            ) from None
        except RuntimeError as exc:
            raise BackendError(f"generation failed: {_one_line(exc)}") from None
        if not finished:
            raise BackendError(
                f"reply cut off at {budget} new tokens before the plan JSON was complete; "
                "raise transformers.max_new_tokens"
            )
        reply = tokenizer.decode(
            tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        usage = {"prompt_tokens": n_prompt, "completion_tokens": len(tokens)}
        log.debug("transformers reply: %d chars, usage %s", len(reply), usage)
        return Completion(reply, usage)

    # --- decoding ----------------------------------------------------------------------

    def _forced_prefix(self) -> list[int]:
        """The tokens of ``{"command": "<the request's command>", `` when a `plan` call
        is running: fed, not sampled, so the reply is about the command sent. Compact
        JSON as the grammar expects (no whitespace choices). Empty outside a plan call."""
        command = self.reply_format().command
        if command is None:
            return []
        text = '{"command": ' + json.dumps(command, ensure_ascii=False) + ", "
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _budget(self, n_prompt: int) -> int:
        """max_new_tokens, shrunk to what the model's context has room for."""
        budget = self.settings.max_new_tokens
        context = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(context, int) and context > 0:
            room = context - n_prompt
            if room <= 0:
                raise BackendError(
                    f"prompt is {n_prompt} tokens, the model's context is {context}"
                )
            if room < budget:
                log.warning("only %d of max_new_tokens=%d fit the model's context", room, budget)
                budget = room
        return budget

    def _generator(self) -> torch.Generator | None:
        """One seeded stream per planner: a run is reproducible, yet a repair attempt
        does not replay the first attempt's draws."""
        if self.seed is None:
            return None
        if self._rng is None:
            self._rng = torch.Generator(device=self.device)
            self._rng.manual_seed(self.seed)
        return self._rng

    @torch.inference_mode()
    def _decode(
        self,
        model: Any,
        grammar: xgr.CompiledGrammar,
        prompt_ids: torch.Tensor,
        budget: int,
        forced: list[int] | None = None,
    ) -> tuple[list[int], bool]:
        """Greedy (temperature 0) or sampled decoding with the grammar mask applied to
        every step's logits, after the `forced` tokens (part of the reply, counted in
        the budget). Returns the reply's tokens and whether the grammar finished (the
        JSON is complete) within `budget` tokens."""
        temperature = self.settings.temperature
        generator = self._generator() if temperature > 0 else None
        # Ends as soon as the JSON closes: no stop token needed, one forward pass saved.
        matcher = xgr.GrammarMatcher(grammar, terminate_without_stop_token=True)
        bitmask = xgr.allocate_token_bitmask(1, grammar.tokenizer_info.vocab_size)
        tokens: list[int] = []
        for token in forced or []:
            if not matcher.accept_token(token):
                # A tokenizer whose pieces the grammar cannot follow: sample the command
                # instead (LLMPlanner still refuses a reply for another command).
                log.warning("cannot force the command prefix with this tokenizer")
                matcher.reset()
                tokens = []
                break
            tokens.append(token)
        cache = None
        step_ids = prompt_ids
        if tokens:
            step_ids = torch.cat([prompt_ids, torch.tensor([tokens], device=prompt_ids.device)], 1)
        for _ in range(budget - len(tokens)):
            out = model(input_ids=step_ids, cache=cache, use_cache=True, logits_to_keep=1)
            cache = out.cache
            logits = out.logits[:, -1, :].float()
            matcher.fill_next_token_bitmask(bitmask)
            xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device))
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                token = int(torch.multinomial(probs, 1, generator=generator).item())
            else:
                token = int(torch.argmax(logits, dim=-1).item())
            if not matcher.accept_token(token):
                raise BackendError(f"the grammar refused token {token} (mask not applied?)")
            tokens.append(token)
            if matcher.is_terminated():
                return tokens, True
            step_ids = torch.tensor([[token]], device=prompt_ids.device)
        return tokens, False
