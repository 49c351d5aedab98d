"""Make the UI's Test button work for a Nemo connection without a port.

Airflow 3.3's connection form sends ``"port": 0`` when the port is empty (even when the field is hidden),
while the stored connection has no port. The test endpoint then sees a different destination and,
without a newly typed password, answers 400 "The host or port to test differs from the stored
connection" ("Bad Request" in the UI). A Nemo connection's address is the URL in Host; port 0 is not a
destination. This root middleware removes ``port: 0`` from ``POST /api/v2/connections/test`` bodies
for ``conn_type == "nemo"`` only, the way Airflow already treats an empty string: the host is still
compared, so stored credentials are still only tested against their own host.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TEST_PATH_SUFFIX = "/api/v2/connections/test"
#: A test body is a few hundred bytes; anything larger is passed through untouched.
MAX_BODY = 64 * 1024


def without_port_zero(body: bytes) -> bytes:
    """The test request body with ``port: 0`` dropped for Nemo connections (unchanged otherwise)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("conn_type") != "nemo" or data.get("port") not in (0, "0"):
        return body
    del data["port"]
    return json.dumps(data).encode()


class NemoConnectionTestMiddleware:
    """ASGI middleware: rewrites only the connection-test POST, streams everything else through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or not str(scope.get("path", "")).endswith(TEST_PATH_SUFFIX)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body"))
            if size > MAX_BODY:
                break
        body = b"".join(chunks)
        if not more:  # the whole body was read: rewrite it and its length
            body = without_port_zero(body)
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            scope = {**scope, "headers": headers}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        await self.app(scope, replay, send)
