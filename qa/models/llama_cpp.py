"""The local backend: llama.cpp in-process, loaded without its AMX kernels where they crash."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from qa.config import Settings
from qa.errors import LLMError, ModelError
from qa.models.base import BaseLLM, Message
from qa.models.bundled import model_path
from qa.models.fifo import FairLock


def has_amx_kernels() -> bool:
    """Was this llama.cpp built with its AMX matrix kernels (`-march=native` on a Xeon with AMX)?

    In llama-cpp-python 0.3.36 those kernels kill the process with SIGILL at the first prompt:
    the tile configuration they load is built on the stack and optimized away, so the first tile
    instruction finds no configuration. They were not faster than AVX-512 here either.
    """
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_extra_buffers() -> Iterator[None]:
    """Load a model with llama.cpp's extra buffer types (AMX, weight repacking) turned off.

    `Llama()` has no argument for `use_extra_bufts`; it takes its model parameters from
    `llama_model_default_params()`, which is wrapped for the duration of the load.
    """
    import llama_cpp.llama as llama_module

    with _PARAMS_LOCK:
        original = llama_module.llama_cpp.llama_model_default_params

        def params() -> Any:
            p = original()
            p.use_extra_bufts = False
            return p

        llama_module.llama_cpp.llama_model_default_params = params
        try:
            yield
        finally:
            llama_module.llama_cpp.llama_model_default_params = original


class LlamaCppLLM(BaseLLM):
    """llama.cpp in-process. One model per process; calls are serialized (not thread-safe)."""

    _instances: ClassVar[dict[tuple[Any, ...], LlamaCppLLM]] = {}
    _instances_lock = threading.Lock()
    # One llama.cpp job at a time in the process, whichever model (answers and verdicts use
    # two): each uses every core. First come, first served: UI and API requests alike.
    _slot: ClassVar[FairLock] = FairLock()

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError("llama-cpp-python is not installed: pip install llama-cpp-python") \
                from exc
        self.name = f"llama-cpp:{path.name}"
        self.path = path
        self.n_ctx = n_ctx
        self._lock = self._slot
        self._formatter: Any = None
        self.amx_disabled = has_amx_kernels()
        try:
            with _without_extra_buffers() if self.amx_disabled else contextlib.nullcontext():
                self.llama = Llama(
                    model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_batch=512,
                    flash_attn=True,
                    verbose=False,
                )
        except Exception as exc:
            raise ModelError(f"llama.cpp cannot load {path}: {exc}") from exc

    @classmethod
    def shared(cls, settings: Settings) -> LlamaCppLLM:
        path = model_path(settings)
        threads = settings.llm_threads or os.cpu_count() or 1
        key = (str(path), settings.llm_context, threads)
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(path, settings.llm_context, threads)
            return cls._instances[key]

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False))

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        with self._lock:
            try:
                for part in self.llama.create_chat_completion(
                    messages=messages, stream=True, temperature=0.0, top_p=1.0,
                    max_tokens=max_tokens, repeat_penalty=1.05,
                ):
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise LLMError(f"The local model failed: {exc}. Lower top_k or raise "
                               "QA_LLM_CONTEXT.") from exc

    def choose(self, messages: list[Message], options: tuple[str, ...]) -> dict[str, float]:
        """How likely the reply starts with each option, every token of it, normalized over
        the options (no generation: one prompt evaluation, then the options' own tokens).

        An option's first token alone cannot tell apart options that start alike: "The
        Harbour Gazette" and "The Valley Courier" share the token "The" and would score 0.5
        each. (For the verdict words of the news set it changed 1 answer of 71: the lean to
        "Inconsistent" there is the model's, not its first token "In".)"""
        import numpy as np

        with self._lock:
            try:
                tokens = self._prompt_tokens(messages)
                if len(tokens) >= self.n_ctx:
                    raise ValueError(f"the prompt has {len(tokens)} tokens, the context "
                                     f"{self.n_ctx}")
                self._evaluate(tokens)
                after_prompt = self._log_probs()
                scores = []
                for option in options:
                    ids = self.llama.tokenize(option.encode("utf-8"), add_bos=False)
                    score = after_prompt[ids[0]]
                    for prev, token in zip(ids, ids[1:], strict=False):
                        self.llama.eval([prev])
                        score += self._log_probs()[token]
                    self.llama.n_tokens = len(tokens)  # the option's tokens are dropped
                    scores.append(score)
                # The logits now are an option's, not the prompt's: a reply to this same
                # prompt must evaluate its last token again.
                self.llama._requires_eval = True
            except (ValueError, RuntimeError) as exc:
                raise LLMError(f"The local model failed: {exc}. Lower top_k or raise "
                               "QA_LLM_CONTEXT.") from exc
        weights = np.exp(np.array(scores) - max(scores))
        return dict(zip(options, (float(w) for w in weights / weights.sum()), strict=True))

    def _evaluate(self, tokens: list[int]) -> None:
        """Evaluate `tokens`, keeping the part of the cache that already holds their start (as
        `create_chat_completion` does): two calls over the same sources read them once."""
        llama = self.llama
        kept = 0
        for cached, token in zip(llama.input_ids[:llama.n_tokens], tokens, strict=False):
            if cached != token:
                break
            kept += 1
        kept = min(kept, len(tokens) - 1)  # the last token is evaluated for its logits
        if kept == 0:
            llama.reset()
        llama.n_tokens = kept  # `eval` drops the cache past n_tokens
        llama.eval(tokens[kept:])

    def _log_probs(self) -> Any:
        """Log-probabilities of the next token after the last one evaluated."""
        import numpy as np
        from llama_cpp import llama_cpp as api

        logits = np.ctypeslib.as_array(api.llama_get_logits_ith(self.llama.ctx, -1),
                                       shape=(self.llama.n_vocab(),)).astype(np.float64)
        top = logits.max()
        return logits - top - np.log(np.exp(logits - top).sum())

    def _prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The tokens `create_chat_completion` would evaluate for these messages: the model's
        own chat template, ready for the assistant's reply."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self._formatter is None:
            template = self.llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise LLMError(f"{self.path.name} has no chat template; use a chat model.")
            model = self.llama._model
            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=model.token_get_text(self.llama.token_eos()),
                bos_token=model.token_get_text(self.llama.token_bos()))
        prompt = self._formatter(messages=messages).prompt
        return self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
