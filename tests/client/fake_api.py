"""A scripted in-memory Nemo API for httpx.MockTransport (works for the sync and async clients)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from tests._helpers import fake_token

DATA = Path(__file__).resolve().parent.parent / "data" / "adk-sse"

Responder = Callable[[httpx.Request], httpx.Response]


def recorded(name: str) -> bytes:
    return (DATA / name).read_bytes()


class FakeNemo:
    """Answers like the contract; `script()` queues one-off responses for a "METHOD /path" key."""

    def __init__(self, form: str = "code") -> None:
        self.form = form
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.scripts: dict[str, list[Responder]] = defaultdict(list)
        self.tokens_issued = 0
        self.sessions_created = 0
        self.draft: dict[str, Any] | None = {"t": [{"tt": 1, "sg": [{"s": 0, "d": 4000, "v": 0.5}]}]}
        self.draft_after_message: dict[str, Any] | None = None
        self.sse_body: bytes = recorded("text_plain.sse")
        self.render_shape = "A"
        self.files: dict[str, bytes] = {}
        self._anon_prefix = fake_token("anon")  # tokens of the service's shape, made per run

    def anon_token(self, n: int) -> str:
        """The n-th anonymous token this fake hands out (1-based)."""
        return f"{self._anon_prefix}{n}"

    # -- scripting ----------------------------------------------------------------------------------
    def script(self, key: str, *responders: Responder | httpx.Response, times: int = 1) -> None:
        for _ in range(times):
            for r in responders:
                self.scripts[key].append(r if callable(r) else (lambda _req, r=r: r))

    def ok(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
        if self.form == "code":
            body: Any = {"code": 0, "message": "ok", "data": data}
        elif self.form == "success":
            body = {"success": True, "data": data}
        else:
            body = data
        return httpx.Response(status, json=body, headers=headers)

    def error(self, code: int, http_status: int, message: str = "", mode: str = "status") -> httpx.Response:
        """mode "status": the HTTP status and a bare body; "envelope": HTTP 200 with the code."""
        if mode == "envelope":
            return httpx.Response(200, json={"code": code, "message": message, "data": None})
        return httpx.Response(http_status, json={"detail": message} if message else {})

    def requests_to(self, method: str, prefix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.startswith(prefix)]

    # -- the server -----------------------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.requests.append(request)
        self.bodies.append(body)
        key = f"{request.method} {request.url.path}"
        for script_key in (key, f"{request.method} *{_family(request.url.path)}"):
            if self.scripts.get(script_key):
                return self.scripts[script_key].pop(0)(request)
        return self.default(request, body)

    def default(self, request: httpx.Request, body: bytes) -> httpx.Response:
        path = request.url.path
        m = request.method
        if m == "POST" and path == "/api/auth/anonymous-token":
            self.tokens_issued += 1
            return self.ok(
                {
                    "token": self.anon_token(self.tokens_issued),
                    "user_id": "user-7",
                    "expires_at": 1,
                    "credits": 100,
                }
            )
        if m == "POST" and path == "/api/tasks/me/with-session/nemo_agent":
            self.sessions_created += 1
            return self.ok(
                {
                    "task_id": "t1",
                    "session_id": f"700000000000000000{self.sessions_created}",
                    "user_id": "user-7",
                }
            )
        if m == "GET" and path == "/api/credits/balance/simple":
            return self.ok({"available": 90, "frozen": 10, "total": 100})
        if m == "GET" and path.startswith("/api/state/nemo_agent/me/"):
            sid = path.split("/")[5]
            return self.ok(
                {"session_id": sid, "task_id": "t1", "task_name": "project", "state": {"draft": self.draft}}
            )
        if m == "POST" and path.startswith("/api/upload-video/nemo_agent/me/"):
            payload = (
                json.loads(body)
                if request.headers.get("content-type", "").startswith("application/json")
                else None
            )
            if payload is not None:
                files = [{"filename": u.rsplit("/", 1)[-1], "cdn_url": u} for u in payload["urls"]]
            else:
                files = [{"filename": n, "file_type": "audio"} for n in _multipart_names(body)]
            return self.ok({"files": files, "session_state_applied": True})
        if m == "POST" and path == "/api/render/proxy/lambda":
            rid = json.loads(body)["id"]
            return self.ok({"id": rid, "status": "pending", "progress": 0})
        if m == "GET" and path.startswith("/api/render/proxy/lambda/"):
            rid = path.rsplit("/", 1)[-1]
            if self.render_shape == "A":
                return httpx.Response(
                    200,
                    json={
                        "taskId": rid,
                        "status": "completed",
                        "progress": 100,
                        "output": {"url": f"https://cdn.example.net/{rid}.mp4", "duration": 4.0, "size": 11},
                        "error": None,
                    },
                )
            return httpx.Response(
                200,
                json={
                    "success": True,
                    "data": {"id": rid, "status": "processing", "progress": 40, "outputUrl": None},
                },
            )
        if m == "POST" and path.endswith("/cancel"):
            return self.ok({"id": path.split("/")[-2], "status": "cancelled", "progress": 10})
        if m == "GET" and path.endswith("/download"):
            return httpx.Response(200, content=b"proxied-bytes")
        if m == "GET" and request.url.host == "cdn.example.net":
            return httpx.Response(200, content=self.files.get(path, b"cdn-bytes!!"))
        if m == "POST" and path == "/run_sse":
            if self.draft_after_message is not None:
                self.draft = self.draft_after_message
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=self.sse_body)
        return httpx.Response(404, json={"detail": f"no route {m} {path}"})


def _family(path: str) -> str:
    """Key families for scripts that should match any id: "/api/state", "/api/upload-video", ..."""
    parts = path.split("/")
    return "/".join(parts[:3]) if len(parts) > 3 else path


def _multipart_names(body: bytes) -> list[str]:
    names = []
    for line in body.split(b"\r\n"):
        if line.startswith(b"Content-Disposition") and b"filename=" in line:
            names.append(line.split(b'filename="', 1)[1].split(b'"', 1)[0].decode())
    return names


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends `chunks` and then fails like a dropped connection."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        raise httpx.ReadError("connection reset")

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for c in self.chunks:
            yield c
        raise httpx.ReadError("connection reset")
