"""The MCP server at /mcp: ask, search_articles and get_article as tools, behind the API's auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.api.auth import ApiAuth
from qa.api.errors import error_response, to_api_error
from qa.api.jobs import Jobs
from qa.api.models import ArticleOut, AskResponse, Filters, PassageOut
from qa.engine import Engine
from qa.errors import QAError

T = TypeVar("T")


def build_mcp(engine: Engine, jobs: Jobs) -> MCPServer:
    async def call(fn: Callable[..., T], *args: Any) -> T:
        """In the API's threads; a QAError reaches the agent as a tool error with its message
        (it names the fix)."""
        try:
            return await jobs.run(fn, *args)
        except QAError as exc:
            raise ToolError(to_api_error(exc).message) from exc

    server = MCPServer(name="qa", instructions="Answers questions about a news archive with "
                       "cited, verified quotes; searches and reads its articles.")

    @server.tool()
    async def ask(question: str, top_k: int | None = None, sources: list[str] | None = None,
            since: str | None = None, until: str | None = None) -> AskResponse:
        """Answer a question from the news articles. The answer's [n] markers refer to the
        citations, each an exact quote of an article (article_id, start, end offsets); when
        the articles do not answer it, `refused` is true."""
        filters = Filters(sources=sources, since=since, until=until).model_dump()
        return AskResponse.of(await call(engine.ask, question, top_k, filters))

    @server.tool()
    async def search_articles(query: str, top_k: int | None = None,
                        sources: list[str] | None = None, since: str | None = None,
                        until: str | None = None) -> list[PassageOut]:
        """The passages of the news articles nearest to a query (no answer written), nearest
        first, with their article_id for get_article."""
        filters = Filters(sources=sources, since=since, until=until).model_dump()
        found = await call(engine.retrieve, query, top_k, filters)
        return [PassageOut(**p.to_dict()) for p in found]

    @server.tool()
    async def get_article(article_id: str) -> ArticleOut:
        """One article's full text and metadata: what citation offsets point into."""
        a = await call(engine.article, article_id)
        return ArticleOut(id=a.id, title=a.title, text=a.text, url=a.url, date=a.date,
                          source=a.source, author=a.author, source_path=a.source_path)

    return server


class _Guarded:
    """The MCP endpoint behind `ApiAuth`: a refused request gets the API's JSON 401."""

    def __init__(self, app: ASGIApp, auth: ApiAuth) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.auth.user(Request(scope))
        except Exception as exc:  # noqa: BLE001 - refused: answered as JSON
            await error_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def mcp_routes(engine: Engine, auth: ApiAuth, jobs: Jobs,
               host: str) -> tuple[list[Route], Any]:
    """The /mcp route and the lifespan that runs its session manager."""
    server = build_mcp(engine, jobs)
    app = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True,
                                     json_response=True, host=host)
    routes = [Route(r.path, endpoint=_Guarded(r.endpoint, auth), methods=r.methods)
              for r in app.routes if isinstance(r, Route)]

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return routes, lifespan
