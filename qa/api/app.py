"""The API's routes on the UI's server: what `launch` passes to Gradio's FastAPI app."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.routing import BaseRoute

from qa.api.auth import ApiAuth
from qa.api.chat import chat_router
from qa.api.chat_models import ChatCompletionChunk
from qa.api.errors import ApiError, JSONErrorRoute
from qa.api.jobs import Jobs
from qa.api.mcp_server import mcp_routes
from qa.api.rest import rest_router
from qa.config import Settings
from qa.engine import Engine

TITLE = "qa HTTP API"
DESCRIPTION = (
    "Questions over the news articles, answered with verified citations. "
    "`POST /v1/chat/completions` speaks OpenAI's chat completions; the citations come in the "
    "extra top-level `citations` field (of the last chunk when streaming). Send `Authorization: "
    "Bearer <token>` when the server has QA_API_TOKENS. Errors are `{\"error\": {\"message\", "
    "\"type\", \"param\", \"code\"}}`. MCP tools (ask, search_articles, get_article) at /mcp."
)


def api_app_kwargs(engine: Engine, settings: Settings) -> dict[str, Any]:
    """FastAPI arguments that put the API on the app Gradio builds: one port, one process."""
    auth = ApiAuth.from_settings(settings)
    jobs = Jobs()
    api = [chat_router(engine, auth, jobs), rest_router(engine, auth, jobs)]
    routes: list[BaseRoute] = [route for r in api for route in r.routes]
    mcp, lifespan = mcp_routes(engine, auth, jobs, settings.host)
    schema = _openapi(routes)

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(schema)

    extra = APIRouter(route_class=JSONErrorRoute)
    extra.add_api_route("/openapi.json", openapi, include_in_schema=False)
    extra.add_api_route("/v1/{path:path}", _unknown, include_in_schema=False,
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return {"routes": [*routes, *mcp, *extra.routes], "lifespan": lifespan,
            "openapi_url": None}


async def _unknown(request: Request) -> None:
    raise ApiError(404, f"No {request.method} {request.url.path} in this API: see "
                   "/openapi.json for the endpoints.", "not_found_error", "unknown_url")


def _openapi(routes: list[BaseRoute]) -> dict[str, Any]:
    """The API's schema (Gradio's own routes left out), with the stream chunk's schema too."""
    schema = get_openapi(title=TITLE, version="1", description=DESCRIPTION, routes=routes)
    _, defs = models_json_schema([(ChatCompletionChunk, "serialization")],
                                 ref_template="#/components/schemas/{model}")
    schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    return schema
