"""The OpenAI chat-completions shapes the API speaks, with qa's citations as extra fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.api.models import CitationOut, Filters

MODEL = "qa"


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's request; sampling options (temperature, max_tokens, …) are accepted and
    ignored: the answer is the verified one whatever they say."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(MODEL, description="Any name; `GET /v1/models` lists `qa`.")
    messages: list[ChatMessage] = Field(
        min_length=1, description="The last user message is the question; earlier user and "
        "assistant turns are the history a follow-up is read against.")
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=50, description="qa: passages given to the model.")
    filters: Filters | None = Field(None, description="qa: which articles to search.")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class QAFields(BaseModel):
    """What qa adds to OpenAI's response (top level; the final chunk when streaming)."""

    citations: list[CitationOut] = Field(
        description="The sources the answer's `[n]` markers refer to, with the exact quote and "
        "its offsets in the article text.")
    refused: bool = Field(description="True when the articles do not support an answer; the "
                          "content then says so and `citations` is empty.")
    question: str = Field(description="The question answered: the last user message, "
                          "rewritten to stand alone when it follows earlier turns.")


class ChatCompletion(QAFields):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL
    choices: list[Choice]


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer. The last one has `finish_reason: "stop"`
    and carries `citations`, `refused` and `question`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL
    choices: list[ChunkChoice]
    citations: list[CitationOut] | None = None
    refused: bool | None = None
    question: str | None = None


class ModelCard(BaseModel):
    id: str = MODEL
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = Field("qa", description="The LLM backend behind it, e.g. llama-cpp.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
