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

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError("llama-cpp-python is not installed: pip install llama-cpp-python") \
                from exc
        self.name = f"llama-cpp:{path.name}"
        self.path = path
        self.n_ctx = n_ctx
        self._lock = FairLock()  # first come, first served: UI and API requests alike
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
