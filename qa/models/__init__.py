"""The model layer: LLM backends behind one interface (chosen by settings) and the embedder.

    llm = make_llm(settings)             # LlamaCppLLM (bundled GGUF) or OpenAILLM
    text = complete(llm, messages, 256)  # or: for delta in llm.stream(messages, 256)
    vectors = Embedder.from_settings(settings).encode(["a passage"])
"""

from __future__ import annotations

from qa.config import Settings
from qa.models.base import (
    LLM,
    BaseLLM,
    Message,
    ScriptedLLM,
    choose,
    complete,
    until_runaway,
    without_loops,
)
from qa.models.bundled import model_path
from qa.models.embed import Embedder, backend_hint

__all__ = [
    "LLM",
    "BaseLLM",
    "Embedder",
    "Message",
    "ScriptedLLM",
    "backend_hint",
    "choose",
    "complete",
    "llm_name",
    "make_llm",
    "model_path",
    "until_runaway",
    "without_loops",
]


def llm_name(settings: Settings) -> str:
    """The language model the settings choose, as a status line or `qa stats` names it."""
    if settings.llm_backend == "openai":
        return f"{settings.openai_model or 'default model'} at {settings.openai_base_url}"
    if settings.llm_model_path:
        return settings.llm_model_path.name
    return f"{settings.llm_model} (llama.cpp)"


def make_llm(settings: Settings) -> LLM:
    """The backend the settings name; each is imported only when chosen (the `openai` client
    takes a while to import and the local model is never needed with a server)."""
    if settings.llm_backend == "openai":
        from qa.models.openai import OpenAILLM

        return OpenAILLM(settings)
    from qa.models.llama_cpp import LlamaCppLLM

    return LlamaCppLLM.shared(settings)
