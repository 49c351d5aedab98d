"""POST /api/auth/anonymous-token: 100 credits for 7 days, one token per client id, per-IP limits."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Depends, Request

from nemo_local.api.envelope import AnonymousTokenData, Envelope, error_responses, iso, ok
from nemo_local.api.errors import ApiError
from nemo_local.api.state import AppState, app_state, client_ip
from nemo_local.config import ANONYMOUS_CREDITS, ANONYMOUS_TTL_S

router = APIRouter(responses=error_responses(400, 429), tags=["auth"])
_issue_lock = threading.Lock()


@router.post("/api/auth/anonymous-token", response_model=Envelope[AnonymousTokenData])
async def anonymous_token(request: Request, state: AppState = Depends(app_state)) -> dict[str, Any]:  # noqa: B008
    client_id = request.headers.get("x-client-id", "").strip()
    if not client_id or len(client_id) > 64:
        raise ApiError(400, "Missing or invalid X-Client-Id header (a UUID, at most 64 characters)")
    ip = client_ip(request)
    cfg = state.config
    with _issue_lock:
        tokens = state.store.tokens
        if not _known(state, client_id):
            window_start = time.time() - cfg.anon_ip_window_s
            if tokens.count_new_by_ip(ip, window_start) >= cfg.anon_ip_limit:
                raise ApiError(
                    429,
                    "Too many anonymous tokens from this address; try again later",
                    headers={"Retry-After": "60"},
                )
        issued = tokens.anonymous(client_id, ip, ANONYMOUS_TTL_S, ANONYMOUS_CREDITS)
    balance = state.store.credits.balance(issued.user_id)
    return ok(
        {
            "token": issued.token,
            "user_id": issued.user_id,
            "expires_at": iso(issued.expires_at),
            "credits": balance.available,
        }
    )


def _known(state: AppState, client_id: str) -> bool:
    row = state.store.db.one(
        "SELECT 1 FROM tokens WHERE client_id=? AND kind='anonymous' AND expires_at>?",
        (client_id, time.time()),
    )
    return row is not None
