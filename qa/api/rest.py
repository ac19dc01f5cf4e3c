"""The REST endpoints over one Engine: ask, retrieve, articles, health, rebuild, corpus files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from qa.api.auth import ApiAuth
from qa.api.errors import ApiError, JSONErrorRoute
from qa.api.jobs import Jobs
from qa.api.models import (
    ArticleList,
    ArticleOut,
    ArticleRow,
    AskRequest,
    AskResponse,
    CorpusFiles,
    Deleted,
    ErrorResponse,
    Filters,
    Health,
    PassageOut,
    RebuildRequest,
    RetrieveResponse,
)
from qa.engine import Engine
from qa.ui.uploads import corpus_files, delete_file


def errors(**described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses: errors(e400="…") documents a 400."""
    return {int(k[1:]): {"model": ErrorResponse, "description": v} for k, v in described.items()}


ERRORS = errors(e400="The question or a filter is invalid", e401="No valid token",
                e413="The question is too long", e422="Bad JSON or a wrong type",
                e502="The LLM backend failed", e503="No index yet, or it is unreachable")


def filters_of(filters: Filters | None) -> dict[str, Any] | None:
    return filters.model_dump() if filters else None


def rest_router(engine: Engine, auth: ApiAuth, jobs: Jobs) -> APIRouter:
    r = APIRouter(prefix="/v1", route_class=JSONErrorRoute, responses=ERRORS,
                  dependencies=[Depends(auth.user)], tags=["qa"])

    @r.post("/ask", response_model=AskResponse, summary="Answer a question, with citations")
    async def ask(req: AskRequest) -> AskResponse:
        """The verified answer and its citations: the object `qa ask --json` prints."""
        answer = await jobs.answer(engine.ask, req.question, req.top_k,
                                   filters_of(req.filters))
        return AskResponse.of(answer)

    @r.post("/retrieve", response_model=RetrieveResponse, summary="Passages only, no LLM")
    async def retrieve(req: AskRequest) -> RetrieveResponse:
        passages = await jobs.run(engine.retrieve, req.question, req.top_k,
                                  filters_of(req.filters))
        return RetrieveResponse(passages=[PassageOut(**p.to_dict()) for p in passages])

    @r.get("/articles", response_model=ArticleList, summary="The indexed articles")
    def articles() -> ArticleList:
        return ArticleList(articles=[ArticleRow(**row) for row in engine.articles()])

    @r.get("/articles/{article_id:path}", response_model=ArticleOut,
           summary="One article: the text the citation offsets point into")
    def article(article_id: str) -> ArticleOut:
        a = engine.article(article_id)
        return ArticleOut(id=a.id, title=a.title, text=a.text, url=a.url, date=a.date,
                          source=a.source, author=a.author, source_path=a.source_path)

    @r.get("/health", response_model=Health, summary="Index generation, size and model")
    def health() -> Health:
        info = engine.describe()
        state = engine.store.read_state()
        if state is None or state.generation == 0:
            return Health(status="no_index", generation=0, articles=0, chunks=0, updated=None,
                          model=info["model"])
        return Health(status="ok", generation=state.generation, articles=state.articles,
                      chunks=state.chunks, updated=state.updated_at, model=info["model"])

    @r.post("/rebuild", summary="Bring the index up to date with the corpus (admin)",
            dependencies=[Depends(auth.admin)],
            responses=errors(e403="Not an admin token", e409="A rebuild is already running"))
    def rebuild(req: RebuildRequest = Body(default_factory=RebuildRequest)) -> dict[str, Any]:  # noqa: B008
        """Incremental unless `full`; answers the summary of `qa rebuild --json`."""
        return engine.rebuild(full=req.full).to_dict()

    @r.get("/corpus", response_model=CorpusFiles, summary="The article files of the corpus")
    def files() -> CorpusFiles:
        return CorpusFiles(files=corpus_files(engine.settings.corpus_dir))

    @r.delete("/corpus/{path:path}", response_model=Deleted, dependencies=[Depends(auth.admin)],
              summary="Delete an article file from the corpus folder (admin)",
              responses=errors(e403="Not an admin token", e404="No such corpus file"))
    def delete(path: str) -> Deleted:
        """The file leaves the corpus folder; the next rebuild removes it from answers."""
        corpus = engine.settings.corpus_dir
        if path not in corpus_files(corpus):
            raise ApiError(404, f"No article file {path!r} in the corpus folder: GET /v1/corpus "
                           "lists them.", "not_found_error", "file_not_found")
        delete_file(corpus, path)
        return Deleted(deleted=path)

    return r
