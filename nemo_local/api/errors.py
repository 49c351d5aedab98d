"""Errors as the contract's envelope `{code, message, data}` with the HTTP status of its table; with the
`errors_in_200` switch every coded error answers HTTP 200 and only the envelope carries the code."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from nemo_local.api.envelope import error_body
from nemo_local.limits import Busy, LimitExceeded
from nemo_local.quota import QUOTA_CODE, QUOTA_HTTP_STATUS
from nemo_local.store.paths import InvalidId

log = logging.getLogger("nemo_local.api")

HTTP_STATUS = {
    1001: 401,
    1002: 404,
    2001: 403,
    4001: 415,
    4002: 413,
    4003: 422,
    QUOTA_CODE: QUOTA_HTTP_STATUS,  # 4004, ours: the user's storage quota is full
    400: 400,
    402: 402,
    409: 409,
    422: 422,
    413: 413,
    429: 429,
}
MAX_SHOWN = 200  # characters of a client's value an error message repeats


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.headers = headers or {}
        self.http_status = http_status or HTTP_STATUS.get(code, 500)


def errors_in_200(request: Request) -> bool:
    return bool(request.app.state.nemo.config.faults.errors_in_200)


def envelope_error(request: Request, exc: ApiError) -> JSONResponse:
    status = 200 if errors_in_200(request) and exc.http_status < 500 else exc.http_status
    return JSONResponse(error_body(exc.code, exc.message, exc.data), status_code=status, headers=exc.headers)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return envelope_error(request, exc)


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] or [str(p) for p in loc]
    return ".".join(parts)[:MAX_SHOWN]


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """Name each field that was wrong. /run_sse keeps ADK's `detail` list next to the envelope keys, so an
    ADK client reads what it expects and ours reads the code."""
    assert isinstance(exc, RequestValidationError)
    details = []
    for e in exc.errors():
        msg = str(e.get("msg", ""))[:MAX_SHOWN]
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error", "")
            msg = f"the body is not valid JSON ({reason})" if reason else "the body is not valid JSON"
            details.append({"loc": ["body"], "field": "body", "msg": msg})
            continue
        field = _loc(e.get("loc", ()))
        details.append({"loc": [str(p)[:MAX_SHOWN] for p in e.get("loc", ())], "field": field, "msg": msg})
    message = "invalid request: " + "; ".join(
        str(d["msg"]) if d["field"] == "body" and "JSON" in str(d["msg"]) else f"{d['field']}: {d['msg']}"
        for d in details
    )
    error = ApiError(422, message, {"errors": details, "field": details[0]["field"] if details else None})
    if request.url.path == "/run_sse" and not errors_in_200(request):
        return JSONResponse(error_body(422, message, error.data, detail=details), status_code=422)
    return envelope_error(request, error)


_HTTP_MESSAGES = {
    400: "The request body could not be read: it must be UTF-8 JSON, nested at most a few hundred levels",
    404: "No such endpoint: {method} {path} (see /docs for the API)",
    405: "Method {method} is not allowed on {path}",
}


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own errors (unknown route, wrong method, unreadable body, a body cut off
    at its limit) in the envelope instead of `{"detail": ...}`."""
    assert isinstance(exc, HTTPException)
    limit = getattr(exc, "error", None)
    if isinstance(limit, LimitExceeded):
        response = await limit_handler(request, limit)
        response.headers.update(exc.headers or {})  # e.g. Connection: close after a stalled body
        return response
    template = _HTTP_MESSAGES.get(exc.status_code)
    path = request.url.path[:MAX_SHOWN]
    message = template.format(method=request.method, path=path) if template else str(exc.detail)[:MAX_SHOWN]
    headers = dict(exc.headers or {})
    return envelope_error(
        request, ApiError(exc.status_code, message, None, headers, http_status=exc.status_code)
    )


async def limit_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LimitExceeded)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
    status = HTTP_STATUS.get(exc.code, exc.code)  # a contract code (4002-4004) has its table's status
    return envelope_error(request, ApiError(exc.code, str(exc), exc.data, headers, http_status=status))


async def invalid_id_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidId)
    field = exc.kind.replace(" ", "_")
    return envelope_error(request, ApiError(422, str(exc), {"field": field, "rule": exc.rule}))


async def unicode_handler(request: Request, exc: Exception) -> JSONResponse:
    """JSON may spell a lone UTF-16 surrogate (`"\\ud800"`), which is not Unicode: SQLite, hashing and
    drawing refuse to encode it. That is the client's text, not a bug: 422, wherever it was found."""
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in exc.reason:
        message = (
            "A text in the request contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not "
            "valid Unicode; send the text as UTF-8"
        )
        return envelope_error(request, ApiError(422, message, {"field": "body"}))
    return await unexpected_handler(request, exc)


CLIENT_GONE = 499  # nginx's "client closed request": never sent (nobody reads it), only for the record


async def client_gone_handler(request: Request, exc: Exception) -> Response:
    """The client hung up while its body was coming (whatever was received is discarded by the code
    that read it): one INFO line, not an error. Logged as an unhandled error, each hang-up wrote two
    tracebacks (ours and uvicorn's, 55 lines): a client hanging up in a loop filled the log (red team)."""
    log.info("client hung up during %s %s", request.method, request.url.path[:MAX_SHOWN])
    return Response(status_code=CLIENT_GONE)


async def unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    """A bug, not a bad request: logged with its traceback, answered in the envelope without one."""
    log.error("unhandled error on %s %s", request.method, request.url.path[:MAX_SHOWN], exc_info=exc)
    message = f"internal error ({type(exc).__name__}); see the nemo-local log"
    return JSONResponse(error_body(500, message), status_code=500)


def session_not_found(session_id: str, why: str | None = None) -> ApiError:
    shown = session_id if len(session_id) <= 40 else session_id[:40] + "…"
    return ApiError(1002, f"Session not found: {shown}" + (f" ({why})" if why else ""))


def insufficient(available: int, needed: int, user_id: str, anonymous: bool) -> ApiError:
    data: dict[str, Any] = {"available": available, "needed": needed}
    if anonymous:
        data["register_url"] = f"https://www.nemovideo.ai/register?bind={user_id}"
    return ApiError(2001, f"Insufficient credits: {needed} needed, {available} available", data)
