"""The HTTP API's request and response bodies (pydantic), so /openapi.json documents them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.records import Answer, Citation, Passage


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(None, description="Only articles from these sources.")
    since: str | None = Field(None, description="Only articles dated on or after (YYYY-MM-DD).")
    until: str | None = Field(None, description="Only articles dated on or before (YYYY-MM-DD).")


class CitationOut(BaseModel):
    """A numbered source of an answer: the `[n]` markers of the text point here, and
    `quote == article text[start:end]` of `GET /v1/articles/{article_id}`."""

    number: int = Field(description="The n of the `[n]` markers in the answer text.")
    article_id: str = Field(description="Id of the article (`GET /v1/articles/{article_id}`).")
    title: str = Field(description="The article's title.")
    url: str = Field(description="The article's URL, or \"\" when the corpus has none.")
    date: str = Field(description="The article's date, YYYY-MM-DD, or \"\" when unknown.")
    source: str = Field(description="The outlet that published the article, or \"\".")
    source_path: str = Field(description="The corpus file the article came from.")
    quote: str = Field(description="The cited sentence(s), exactly as in the article text.")
    start: int = Field(description="Offset of the quote's first character in the article text.")
    end: int = Field(description="Offset just past the quote's last character.")
    score: float = Field(description="Retrieval score of the cited passage.")

    @classmethod
    def of(cls, c: Citation, passages: list[Passage]) -> CitationOut:
        source = next((p.source for p in passages if p.article_id == c.article_id), "")
        return cls(number=c.number, article_id=c.article_id, title=c.title, url=c.url,
                   date=c.date, source=source, source_path=c.source_path, quote=c.quote,
                   start=c.start, end=c.end, score=c.score)


def citations_of(answer: Answer) -> list[CitationOut]:
    return [CitationOut.of(c, answer.passages) for c in answer.citations]


class PassageOut(BaseModel):
    """A retrieved passage: `text == article text[start:end]`."""

    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    url: str
    date: str
    source: str
    source_path: str
    score: float


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="A question about the articles.")
    top_k: int | None = Field(None, ge=1, le=50, description="Passages given to the model.")
    filters: Filters | None = None


class AskResponse(BaseModel):
    """The object of `qa ask --json`."""

    answer: str = Field(description="The verified answer, with `[n]` citation markers; a "
                        "refusal says the articles do not answer it.")
    refused: bool = Field(description="True when the articles do not support an answer.")
    citations: list[CitationOut]
    seconds: float

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        return cls(answer=answer.text, refused=answer.refused, citations=citations_of(answer),
                   seconds=round(answer.seconds, 3))


class RetrieveResponse(BaseModel):
    passages: list[PassageOut] = Field(description="Nearest first.")


class ArticleRow(BaseModel):
    article_id: str
    title: str
    date: str
    source: str
    url: str
    source_path: str
    chunks: int


class ArticleList(BaseModel):
    articles: list[ArticleRow] = Field(description="Newest first.")


class ArticleOut(BaseModel):
    """An article: `text` is the string every citation's start/end point into."""

    id: str
    title: str
    text: str
    url: str
    date: str
    source: str
    author: str
    source_path: str


class Health(BaseModel):
    status: Literal["ok", "no_index"]
    generation: int = Field(description="The committed index generation (0: no index yet).")
    articles: int
    chunks: int
    updated: str | None = Field(description="When the index was last rebuilt.")
    model: str = Field(description="The LLM behind the answers.")


class RebuildRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full: bool = Field(False, description="Re-embed every article, not only changed ones.")


class CorpusFiles(BaseModel):
    files: list[str] = Field(description="Paths relative to the corpus folder.")


class Deleted(BaseModel):
    deleted: str = Field(description="The corpus file removed.")
    rebuild: str = Field("POST /v1/rebuild to remove its articles from answers.",
                         description="What makes the deletion take effect.")


class ErrorBody(BaseModel):
    message: str = Field(description="What went wrong and how to fix it.")
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error of the API, in OpenAI's shape."""

    error: ErrorBody


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
