"""Errors as the contract's envelope `{code, message, data}` with the HTTP status of its table; with the
`errors_in_200` switch every coded error answers HTTP 200 and only the envelope carries the code."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

HTTP_STATUS = {
    1001: 401,
    1002: 404,
    2001: 403,
    4001: 415,
    4002: 413,
    4003: 422,
    400: 400,
    402: 402,
    409: 409,
    422: 422,
    429: 429,
}


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
    body = {"code": exc.code, "message": exc.message, "data": exc.data}
    return JSONResponse(body, status_code=status, headers=exc.headers)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return envelope_error(request, exc)


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """ADK answers a malformed /run_sse body with 422 {"detail": [...]}; the rest of the API uses the envelope."""
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    if request.url.path == "/run_sse" and not errors_in_200(request):
        return JSONResponse({"detail": details}, status_code=422)
    return envelope_error(
        request,
        ApiError(422, "invalid request: " + "; ".join(d["msg"] for d in details), {"errors": details}),
    )


def session_not_found(session_id: str, why: str | None = None) -> ApiError:
    shown = session_id if len(session_id) <= 40 else session_id[:40] + "…"
    return ApiError(1002, f"Session not found: {shown}" + (f" ({why})" if why else ""))


def insufficient(available: int, needed: int, user_id: str, anonymous: bool) -> ApiError:
    data: dict[str, Any] = {"available": available, "needed": needed}
    if anonymous:
        data["register_url"] = f"https://www.nemovideo.ai/register?bind={user_id}"
    return ApiError(2001, f"Insufficient credits: {needed} needed, {available} available", data)
