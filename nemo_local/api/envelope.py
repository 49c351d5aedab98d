"""The envelope, success and error, built in one place; and small response models that keep the OpenAPI
document true. Every error body of nemo_local (FastAPI handlers, the raw-ASGI middlewares, the HTTP
protocol below the app) is `error_body`'s, so a client reads one shape whatever refused the request."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from starlette.types import Send

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    code: int = 0
    message: str = "success"
    data: T


def ok(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "success", "data": data}


ERROR_KEYS = ("code", "message", "data")  # every error body has exactly these (ADK's paths add `detail`)


def error_body(code: int, message: str, data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The one error envelope: the contract's `code`, a message saying what to do, `data` (what was wrong,
    the limit...) or None. `extra` keys go beside them: only ADK's `detail` on /run_sse."""
    return {"code": code, "message": message, "data": data, **extra}


def error_bytes(code: int, message: str, data: dict[str, Any] | None = None, **extra: Any) -> bytes:
    """`error_body` as JSON bytes, for answers written below FastAPI (raw ASGI, the HTTP protocol)."""
    return json.dumps(error_body(code, message, data, **extra)).encode()


async def send_error(
    send: Send,
    status: int,
    payload: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer an `error_bytes` payload over raw ASGI (middlewares and responses that cannot raise)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


class AnonymousTokenData(BaseModel):
    token: str
    user_id: str
    expires_at: str
    credits: int


class SessionData(BaseModel):
    task_id: str
    session_id: str
    user_id: str


class CreditsData(BaseModel):
    available: int
    frozen: int
    total: int


class UploadedFileData(BaseModel):
    filename: str
    file_type: str
    cdn_url: str
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    hash: str
    size: int


class UploadData(BaseModel):
    files: list[UploadedFileData]
    session_state_applied: bool


class StateBody(BaseModel):
    draft: dict[str, Any] | None
    video_infos: list[dict[str, Any]]
    generated_media: list[dict[str, Any]]
    canvas_config: dict[str, Any] | None


class StateData(BaseModel):
    session_id: str
    task_id: str
    task_name: str
    state: StateBody


class RenderCreated(BaseModel):
    id: str
    status: str
    progress: float


class RenderOutput(BaseModel):
    url: str | None = None
    duration: float | None = None
    size: int | None = None


class RenderShapeA(BaseModel):
    """The current poll shape; with the `render_shape_b` switch the older {success, data} shape instead."""

    taskId: str
    status: str
    progress: float
    output: RenderOutput | None = None
    error: str | None = None


class ErrorEnvelope(BaseModel):
    """Every error: the contract's code (1001, 1002, 2001, 4001, 4002, 400, 402, 429) or ours (4003, 4004,
    409, 422, 503, 507...)."""

    code: int
    message: str
    data: dict[str, Any] | None = None


_DESCRIPTIONS = {
    400: "missing X-Client-Id (code 400)",
    401: "token invalid or expired (code 1001)",
    402: "export blocked on the free plan (code 402)",
    403: "out of credits (code 2001)",
    404: "session not found (code 1002) or render not found (code 404)",
    409: "duplicate render id, or render not completed (code 409)",
    413: "file too large (code 4002) or request body too large (code 413)",
    415: "unsupported file type (code 4001)",
    422: "invalid request or over a limit (code 422; data names the field and the limit), URL refused "
    "(code 4003) or the user's storage quota full (code 4004; data: field, limit, value, switch)",
    429: "rate limited, or too much of this user's work running (code 429, Retry-After)",
    507: "the server's disk is under its free-space floor (code 507; data names the limit)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the errors a route can answer (HTTP 200 + code with the errors_in_200 switch)."""
    return {s: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[s]} for s in statuses}
