"""OpenAI's chat completions over the Engine: `POST /v1/chat/completions`, `GET /v1/models`.

The last user message is the question; earlier turns are the history it is condensed against.
A streamed answer sends SSE comments while the model writes, then the verified text (the text
the citations number) and a final chunk with the citations: what the model first wrote may be
cut or renumbered by verification, so it is not what clients should show.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.types import Send

from qa.api.auth import ApiAuth
from qa.api.chat_models import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChatRequest,
    Choice,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
)
from qa.api.errors import JSONErrorRoute, error_body, to_api_error
from qa.api.jobs import Jobs
from qa.api.models import citations_of
from qa.api.rest import ERRORS, filters_of
from qa.engine import Engine
from qa.errors import QuestionError
from qa.records import Answer

History = list[tuple[str, str]]
Events = Iterator[str | Answer]


def split_turns(messages: list[ChatMessage]) -> tuple[str, History]:
    """The question (the last message, the user's) and the (question, answer) turns before."""
    if messages[-1].role != "user":
        raise QuestionError("The last message must be the user's question (role \"user\").")
    history: History = []
    asked: str | None = None
    for m in messages[:-1]:
        if m.role == "user":
            asked = m.text()
        elif m.role == "assistant" and asked is not None:
            history.append((asked, m.text()))
            asked = None
    return messages[-1].text(), history


class ClosingStream(StreamingResponse):
    """Closes its body at once when the client goes away, so the answer's generator (and the
    LLM slot it holds) is released then, not when the garbage collector gets to it."""

    async def stream_response(self, send: Send) -> None:
        async with aclosing(self.body_iterator):  # type: ignore[type-var]
            await super().stream_response(send)


def _event(chunk: ChatCompletionChunk | dict[str, Any]) -> str:
    data = chunk if isinstance(chunk, dict) else chunk.model_dump(mode="json", exclude_none=True)
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _pieces(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+$", text)


async def _sse(first: str | Answer, events: Events, question: str,
               jobs: Jobs) -> AsyncIterator[str]:
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: Delta, **extra: Any) -> str:
        return _event(ChatCompletionChunk(id=cid, created=created, choices=[
            ChunkChoice(delta=delta, finish_reason="stop" if extra else None)], **extra))

    try:
        yield chunk(Delta(role="assistant", content=""))
        event = first
        while isinstance(event, str):
            yield ": writing\n\n"  # a keep-alive; a client gone is noticed at the next one
            event = await jobs.step(next, events, None)
        if isinstance(event, Answer):
            for piece in _pieces(event.text):
                yield chunk(Delta(content=piece))
            yield chunk(Delta(), citations=citations_of(event), refused=event.refused,
                        question=question)
        yield "data: [DONE]\n\n"
    except Exception as exc:  # noqa: BLE001 - after the 200, a failure is an error event
        yield _event(error_body(to_api_error(exc)))
    finally:
        events.close()  # type: ignore[attr-defined]


def chat_router(engine: Engine, auth: ApiAuth, jobs: Jobs) -> APIRouter:
    r = APIRouter(prefix="/v1", route_class=JSONErrorRoute, responses=ERRORS,
                  dependencies=[Depends(auth.user)], tags=["openai"])

    @r.get("/models", response_model=ModelList, summary="The one model: qa")
    def models() -> ModelList:
        return ModelList(data=[ModelCard(owned_by=engine.settings.llm_backend)])

    stream_doc = {"text/event-stream": {"schema": {
        "$ref": "#/components/schemas/ChatCompletionChunk"}}}

    @r.post("/chat/completions", response_model=ChatCompletion,
            summary="OpenAI chat completions, with citations",
            responses={200: {"content": stream_doc,
                             "description": "A ChatCompletion, or with `stream: true` "
                             "server-sent ChatCompletionChunk events ending in `[DONE]`."}})
    async def completions(req: ChatRequest) -> Any:
        question, history = split_turns(req.messages)
        filters = filters_of(req.filters)
        if req.stream:
            standalone, first, events = await jobs.answer(
                _start, engine, question, history, req.top_k, filters)
            return ClosingStream(_sse(first, events, standalone, jobs),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

        def condensed_answer() -> tuple[str, Answer]:
            standalone = engine.condense(question, history)
            return standalone, engine.ask(standalone, req.top_k, filters)

        standalone, answer = await jobs.answer(condensed_answer)
        return ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()),
            choices=[Choice(message=AssistantMessage(content=answer.text))],
            citations=citations_of(answer), refused=answer.refused, question=standalone)

    return r


def _start(engine: Engine, question: str, history: History, top_k: int | None,
           filters: dict[str, Any] | None) -> tuple[str, str | Answer, Events]:
    """Condense, retrieve and take the first event before any byte is sent, so that an empty
    question or a missing index is an HTTP error, not a broken stream."""
    standalone = engine.condense(question, history)
    events = engine.stream(standalone, top_k, filters)
    try:
        return standalone, next(events), events
    except BaseException:
        events.close()
        raise
