"""GET /api/credits/balance/simple: available, frozen (held by running work) and their total."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from nemo_local.api.deps import Caller, current_user
from nemo_local.api.envelope import CreditsData, Envelope, error_responses, ok
from nemo_local.api.state import AppState, app_state

router = APIRouter(responses=error_responses(401), tags=["credits"])


@router.get("/api/credits/balance/simple", response_model=Envelope[CreditsData])
async def balance(
    caller: Caller = Depends(current_user),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> dict[str, Any]:
    bal = state.store.credits.balance(caller.user_id)
    return ok({"available": bal.available, "frozen": bal.frozen, "total": bal.total})
