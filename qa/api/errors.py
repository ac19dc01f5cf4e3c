"""The one mapping from an exception to the API's JSON error (OpenAI's `error` object).

    QuestionTooLongError -> 413      QuestionError, ConfigError, CorpusError -> 400
    ArticleMissingError  -> 404      IndexMissingError -> 503, the fix: rebuild the index
    IndexBusyError       -> 409      IndexError_, ModelError -> 503
    LLMError             -> 502      bad JSON, wrong types -> 422 naming the field
    anything else        -> 500, a generic message; the details go to the server log
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from qa.errors import (
    ArticleMissingError,
    ConfigError,
    CorpusError,
    IndexBusyError,
    IndexError_,
    IndexMissingError,
    LLMError,
    ModelError,
    QAError,
    QuestionError,
    QuestionTooLongError,
)

log = logging.getLogger(__name__)

# Subclasses before their bases: the first match wins.
STATUS: list[tuple[type[QAError], int, str, str]] = [
    (QuestionTooLongError, 413, "invalid_request_error", "question_too_long"),
    (QuestionError, 400, "invalid_request_error", "invalid_question"),
    (ArticleMissingError, 404, "not_found_error", "article_not_found"),
    (IndexMissingError, 503, "service_unavailable", "no_index"),
    (IndexBusyError, 409, "conflict_error", "rebuild_running"),
    (IndexError_, 503, "service_unavailable", "index_unavailable"),
    (ModelError, 503, "service_unavailable", "model_unavailable"),
    (LLMError, 502, "api_error", "llm_unavailable"),
    (ConfigError, 400, "invalid_request_error", "invalid_value"),
    (CorpusError, 400, "invalid_request_error", "corpus_error"),
]
UNEXPECTED = "Something went wrong unexpectedly. Try again; if it persists, check the server log."
REBUILD_HINT = " (Over the API: POST /v1/rebuild with an admin token.)"


class ApiError(Exception):
    """An error the API answers with as it stands (auth, unknown routes)."""

    def __init__(self, status: int, message: str, type_: str, code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = (
            status, message, type_, code, param)
        self.headers = headers


def to_api_error(exc: BaseException) -> ApiError:
    """The ApiError of any exception; an unexpected one is logged with its traceback."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, QAError):
        for cls, status, type_, code in STATUS:
            if isinstance(exc, cls):
                message = str(exc)
                if cls is IndexMissingError:
                    message += REBUILD_HINT
                return ApiError(status, message, type_, code)
        return ApiError(500, str(exc), "api_error", "qa_error")
    if isinstance(exc, RequestValidationError):
        return _invalid(exc)
    if isinstance(exc, HTTPException):
        return ApiError(exc.status_code, str(exc.detail), "invalid_request_error")
    log.error("unexpected error in the HTTP API", exc_info=exc)
    return ApiError(500, UNEXPECTED, "api_error", "internal_error")


def _invalid(exc: RequestValidationError) -> ApiError:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        message = "The request body is not valid JSON: send a JSON object."
    else:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in errors)
        message = f"Invalid request ({problems}). See /openapi.json for the fields."
    return ApiError(422, message, "invalid_request_error", "invalid_value", field)


def error_body(err: ApiError) -> dict[str, Any]:
    return {"error": {"message": err.message, "type": err.type, "param": err.param,
                      "code": err.code}}


def error_response(exc: BaseException) -> JSONResponse:
    err = to_api_error(exc)
    return JSONResponse(error_body(err), status_code=err.status, headers=err.headers)


class JSONErrorRoute(APIRoute):
    """A route whose every failure, validation included, is answered by `error_response`
    (only the API's routes: Gradio's own keep their handlers)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - every failure leaves as a JSON error
                return error_response(exc)

        return guarded
