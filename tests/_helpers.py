"""Helpers shared by test folders (not fixtures): the one loop that waits for a nemo_local render, tokens
of the service's shape made per run, and a transport that records what a client sends."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

import httpx


def fake_token(label: str) -> str:
    """A token of the service's shape (``nmv_usr_...``), made per run: no token-like literal is committed
    (a fixed one reads as a leaked credential to secret scanners and reviewers alike)."""
    return f"nmv_usr_{label}_{secrets.token_hex(4)}"


def attributes(obj: object) -> dict[str, Any]:
    """Every attribute an object holds, in its ``__dict__`` and in the slots of its classes (``vars()``
    sees only the first, and a slotted object has none)."""
    found = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                found[name] = getattr(obj, name)
    return found


class Recorder(httpx.HTTPTransport):
    """A real transport that keeps each request (body read) on its way to the server: a client built
    with ``transport=Recorder()`` shows what a path really costs the service."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return super().handle_request(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


#: A render's statuses after which it never changes.
TERMINAL = ("completed", "failed", "cancelled")


class _User(Protocol):
    def get(self, path: str, **kw: Any) -> Any: ...


def render_status_body(user: _User, render_id: str) -> dict[str, Any]:
    """GET the render's status; the body as nemo_local sends it (``status`` at top level or in ``data``)."""
    body: dict[str, Any] = dict(user.get(f"/api/render/proxy/lambda/{render_id}").json())
    if "status" not in body and isinstance(body.get("data"), dict):
        body["status"] = body["data"].get("status")
    return body


def wait_render(
    user: _User,
    render_id: str,
    until: Collection[str] = TERMINAL,
    *,
    timeout: float = 120.0,
    interval: float = 0.05,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll the render until its status is one of ``until`` (a condition wait with a generous bound);
    ``on_poll`` sees every body (progress, memory). Fails naming the last status it saw."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = render_status_body(user, render_id)
        if on_poll is not None:
            on_poll(body)
        if body.get("status") in until:
            return body
        time.sleep(interval)
    raise AssertionError(f"render {render_id} never reached {sorted(until)} in {timeout:.0f}s (last: {body})")
