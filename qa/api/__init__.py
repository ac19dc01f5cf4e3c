"""The headless HTTP API, served with the UI: OpenAI chat completions with citations, REST, MCP.

`api_app_kwargs(engine, settings)` gives the routes; `qa.ui.launch(..., api=...)` serves them.

    app          the routes put together, the OpenAPI schema, unknown /v1 URLs
    chat         POST /v1/chat/completions (streamed or not), GET /v1/models
    chat_models  OpenAI's request, response and chunk shapes, plus qa's citation fields
    rest         /v1/ask, /v1/retrieve, /v1/articles, /v1/health, /v1/rebuild, /v1/corpus
    models       the REST bodies and the citation record the API returns
    auth         bearer tokens (QA_API_TOKENS), admin tokens, loopback-only when no auth
    errors       the one mapping from an exception to the JSON error and its status
    jobs         the worker threads engine calls run in, apart from the page's
    mcp_server   /mcp: ask, search_articles, get_article as MCP tools
"""

from qa.api.app import api_app_kwargs

__all__ = ["api_app_kwargs"]
