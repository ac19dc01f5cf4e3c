"""The remote backend: any OpenAI-compatible server, its client errors mapped to LLMError here.

The server is reached through llama-index's `OpenAILike` (the `openai` client on `httpx`) for
answers and through `httpx` for the model check; `_ERRORS` is the one table from those
libraries' exception types to the message that names the fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import openai

from qa.config import Settings
from qa.errors import LLMError
from qa.models.base import BaseLLM, Message

# First match wins, tested against the exception and its cause (`openai` raises its own
# connection errors from the `httpx` one): a connection cut mid-reply before other connection
# errors, a timeout (a subclass of APIConnectionError) before the rest of them.
_ERRORS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((httpx.RemoteProtocolError,),
     "The LLM server at {url} stopped in the middle of the answer ({exc}). Ask again; if it "
     "keeps happening, check the server's log."),
    ((openai.APITimeoutError, httpx.TimeoutException),
     "The LLM server at {url} did not answer within {timeout:g} s — is it overloaded? Raise "
     "QA_OPENAI_TIMEOUT."),
    ((openai.APIConnectionError, httpx.TransportError),
     "Cannot reach the LLM server at {url} — start it or fix QA_OPENAI_BASE_URL."),
    ((openai.NotFoundError,),
     "The LLM server at {url} does not know the model — check QA_OPENAI_MODEL ({exc})."),
    ((openai.AuthenticationError, openai.PermissionDeniedError),
     "The LLM server at {url} refused the API key — check QA_OPENAI_API_KEY."),
)
# Anything else raised while talking to the server: a status the table does not name, or a
# reply that is not the OpenAI API (the client then fails parsing it).
_OTHER = "The LLM server at {url} failed: {exc!r}"


def explain(exc: BaseException, url: str, timeout: float) -> LLMError:
    """The LLMError for an exception raised while talking to the server at `url`."""
    for kinds, message in _ERRORS:
        if isinstance(exc, kinds) or isinstance(exc.__cause__, kinds):
            return LLMError(message.format(url=url, timeout=timeout, exc=exc))
    return LLMError(_OTHER.format(url=url, exc=exc))


class OpenAILLM(BaseLLM):
    """Any OpenAI-compatible server (vLLM, Ollama /v1, llama.cpp server, LM Studio, OpenAI)."""

    def __init__(self, settings: Settings) -> None:
        from llama_index.llms.openai_like import OpenAILike

        self.base_url = settings.openai_base_url or ""
        self.model = settings.openai_model
        self.api_key = settings.openai_api_key
        self.timeout = settings.openai_timeout
        self._checked = False
        model = settings.openai_model or "default"
        self.name = f"openai:{model}@{self.base_url}"
        self.llm = OpenAILike(
            model=model, api_base=self.base_url, api_key=settings.openai_api_key,
            is_chat_model=True, timeout=settings.openai_timeout, max_retries=0, temperature=0.0,
            context_window=settings.llm_context,
        )

    @contextlib.contextmanager
    def _errors_mapped(self) -> Iterator[None]:
        """The boundary: whatever the client libraries raise leaves as an LLMError."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - mapped by type in explain(), else _OTHER
            raise explain(exc, self.base_url, self.timeout) from exc

    def check_model(self) -> None:
        """Fail early, and clearly, when the server does not serve the configured model."""
        if self._checked or not self.model:
            return
        with self._errors_mapped():
            r = httpx.get(self.base_url.rstrip("/") + "/models", timeout=self.timeout,
                          headers={"Authorization": f"Bearer {self.api_key}"})
        if r.status_code in (401, 403):
            raise LLMError(f"The LLM server at {self.base_url} refused the API key — check "
                           "QA_OPENAI_API_KEY.")
        if r.status_code == 200:
            try:
                served = [m.get("id", "") for m in r.json().get("data", [])]
            except (ValueError, AttributeError):
                served = []
            aliases = {self.model, f"{self.model}:latest", self.model.removesuffix(":latest")}
            if served and not aliases & set(served):
                raise LLMError(f"The LLM server at {self.base_url} does not serve the model "
                               f"{self.model!r}; it serves {', '.join(served)}. Fix "
                               "QA_OPENAI_MODEL.")
        self._checked = True  # servers without /models are given the benefit of the doubt

    def _chat(self, messages: list[Message]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        self.check_model()
        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def complete(self, messages: list[Message], max_tokens: int) -> str:
        """One non-streaming chat completion."""
        chat = self._chat(messages)
        with self._errors_mapped():
            reply = self.llm.chat(chat, max_tokens=max_tokens).message.content or ""
        if not reply.strip():
            raise LLMError(f"The LLM server at {self.base_url} returned an empty answer.")
        return reply

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        chat = self._chat(messages)
        got_any = False
        with self._errors_mapped():
            for part in self.llm.stream_chat(chat, max_tokens=max_tokens):
                if part.delta:
                    got_any = True
                    yield part.delta
        if not got_any:
            raise LLMError(f"The LLM server at {self.base_url} returned an empty answer.")
