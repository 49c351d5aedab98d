"""Fault injection for provider tests: an ASGI middleware for request-level faults (429 bursts, a 5xx
rate, slow responses) and the admin endpoint that flips every switch, guarded by the admin token."""

from __future__ import annotations

import asyncio
import hmac
import math
import threading
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from nemo_local.api.envelope import error_bytes, send_error
from nemo_local.api.errors import ApiError
from nemo_local.api.state import AppState, app_state
from nemo_local.config import FaultSwitches, FaultUpdate

EXEMPT_PREFIXES = ("/healthz", "/admin", "/openapi.json", "/docs", "/redoc")

router = APIRouter(tags=["admin"])


class FaultMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._count = 0

    def _decide(self, faults: FaultSwitches) -> int | None:
        """The injected status for this request, if any; the 5xx share is exact and evenly spread."""
        with self._lock:
            if faults.burst_429 > 0:
                faults.burst_429 -= 1
                return 429
            pct = round(faults.error_rate * 1000)
            if pct:
                n = self._count
                self._count += 1
                if math.floor((n + 1) * pct / 1000) > math.floor(n * pct / 1000):
                    return 503
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        faults: FaultSwitches = scope["app"].state.nemo.config.faults
        if faults.slow_ms:
            await asyncio.sleep(faults.slow_ms / 1000)
        status = self._decide(faults)
        if status is None:
            await self.app(scope, receive, send)
            return
        if status == 429:
            payload = error_bytes(429, "Rate limited (injected); retry after 1 s")
            http = 200 if faults.errors_in_200 else 429
            await send_error(send, http, payload, [(b"retry-after", b"1")])
        else:
            await send_error(send, 503, error_bytes(503, "Service unavailable (injected)"))


def require_admin(request: Request, state: AppState = Depends(app_state)) -> None:  # noqa: B008
    expected = state.config.admin_token
    given = request.headers.get("x-admin-token", "")
    if not expected:
        raise ApiError(
            403, "the admin endpoint is disabled (start the server with --admin-token)", http_status=403
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "admin token required (X-Admin-Token)", http_status=401)


@router.get("/admin/faults", dependencies=[Depends(require_admin)], response_model=FaultSwitches)
def get_faults(state: AppState = Depends(app_state)) -> FaultSwitches:  # noqa: B008
    return state.config.faults


@router.post("/admin/faults", dependencies=[Depends(require_admin)])
def set_faults(update: FaultUpdate, state: AppState = Depends(app_state)) -> dict[str, Any]:  # noqa: B008
    """Change any switch (omitted ones keep their value); `expire_tokens_now` / `lose_sessions_now` act once."""
    faults = state.config.faults
    with state.config.fault_lock:
        for name, value in update.model_dump(exclude={"expire_tokens_now", "lose_sessions_now"}).items():
            if value is not None:
                setattr(faults, name, value)
    applied: dict[str, int] = {}
    if update.expire_tokens_now:
        applied["tokens_expired"] = state.store.tokens.expire_all()
    if update.lose_sessions_now:
        applied["sessions_lost"] = state.store.sessions.lose_all()
    return {"faults": faults.model_dump(), "applied": applied}
