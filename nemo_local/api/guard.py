"""Request bodies are bounded while they stream in, never after being read: a declared Content-Length
over the limit is refused before a byte is read, and a body that grows past it (chunked, or lying about
its length) is cut off at the limit. The limit is `--max-body-mb` for JSON bodies; a multipart upload
may carry `--max-upload-files` files of `--max-upload-mb` each (the upload code checks each file)."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nemo_local.limits import MB, LimitExceeded, Limits

MULTIPART_OVERHEAD = 1 * MB  # part headers and boundaries around the files


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body crossed its limit. An HTTPException on purpose: FastAPI's body
    reader re-raises those instead of turning them into a generic 400, so the envelope handler sees it."""

    def __init__(self, error: LimitExceeded) -> None:
        super().__init__(status_code=413, detail=str(error))
        self.error = error


def body_limit(limits: Limits, content_type: str) -> tuple[int, str]:
    """(bytes, limit name) a request with this content type may send."""
    if content_type.lower().startswith("multipart/"):
        return limits.upload_files * limits.upload_file_bytes + MULTIPART_OVERHEAD, "upload_file_bytes"
    return limits.body_bytes, "body_bytes"


def too_large(limits: Limits, name: str, size: int | None, allowed: int) -> LimitExceeded:
    shown = f"{allowed / MB:g} MB"
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
        limits: Limits = scope["app"].state.nemo.config.limits
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        allowed, name = body_limit(limits, ctype)
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
                await _answer(send, 413, {"code": 413, "message": str(error), "data": error.data})
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
