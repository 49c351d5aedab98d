"""Request bodies are bounded while they stream in, never after being read: a declared Content-Length
over the limit is refused before a byte is read, and a body that grows past it (chunked, or lying about
its length) is cut off at the limit. The limit is `--max-body-mb` for JSON bodies; a multipart upload
may carry `--max-upload-files` files of `--max-upload-mb` each (the upload code checks each file); a
`/run_sse` body may be a few times the message limit (JSON escapes) and no more, since FastAPI parses
and validates it on the event loop: capped, that costs milliseconds, not seconds."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nemo_local.limits import MB, LimitExceeded, Limits

MULTIPART_OVERHEAD = 1 * MB  # part headers and boundaries around the files
SSE_BODY_FACTOR = 8  # "\u4e5d" is 6 bytes of JSON for 3 bytes of UTF-8; parts have keys around them
SSE_BODY_OVERHEAD = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body crossed its limit. An HTTPException on purpose: FastAPI's body
    reader re-raises those instead of turning them into a generic 400, so the envelope handler sees it."""

    def __init__(self, error: LimitExceeded) -> None:
        super().__init__(status_code=413, detail=str(error))
        self.error = error


def body_limit(limits: Limits, content_type: str, path: str = "") -> tuple[int, str]:
    """(bytes, limit name) a request with this content type to this path may send."""
    if content_type.lower().startswith("multipart/"):
        return limits.upload_files * limits.upload_file_bytes + MULTIPART_OVERHEAD, "upload_file_bytes"
    if path == "/run_sse":
        sse = SSE_BODY_FACTOR * limits.message_bytes + SSE_BODY_OVERHEAD
        if sse < limits.body_bytes:
            return sse, "message_bytes"
    return limits.body_bytes, "body_bytes"


def too_large(limits: Limits, name: str, size: int | None, allowed: int) -> LimitExceeded:
    shown = f"{allowed / MB:g} MB" if allowed >= MB else f"{allowed / 1024:g} KB"
    said = f"{size} bytes" if size is not None else "more"
    return LimitExceeded(
        name,
        "body",
        size,
        limits,
        f"The request body is too large ({said}; this request may send at most {shown})",
        code=413,
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = scope["app"].state.nemo.config
        limits: Limits = config.limits
        in_200 = bool(config.faults.errors_in_200)  # the fault switch: coded errors answer HTTP 200
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        allowed, name = body_limit(limits, ctype, scope.get("path", ""))
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _answer(
                    send, 400, {"code": 400, "message": "Invalid Content-Length header", "data": None}
                )
                return
            if size > allowed:
                error = too_large(limits, name, size, allowed)
                body = {"code": 413, "message": str(error), "data": error.data}
                await _answer(send, 200 if in_200 else 413, body)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowed:
                    raise BodyTooLarge(too_large(limits, name, None, allowed))
            return message

        await self.app(scope, limited, send)


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
