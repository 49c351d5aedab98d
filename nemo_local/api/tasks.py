"""POST /api/tasks/me/with-session/nemo_agent: a new project session for the caller."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from nemo_local.api.deps import Caller, current_user
from nemo_local.api.envelope import Envelope, SessionData, error_responses, ok
from nemo_local.api.state import AppState, app_state
from nemo_local.limits import LimitExceeded
from nemo_local.store import SessionsFull

router = APIRouter(responses=error_responses(401, 422), tags=["sessions"])


class CreateSession(BaseModel):
    task_name: str = "project"
    language: str = "en"


@router.post("/api/tasks/me/with-session/nemo_agent", response_model=Envelope[SessionData])
async def create_session(
    body: CreateSession = Body(default_factory=CreateSession),  # noqa: B008
    caller: Caller = Depends(current_user),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> dict[str, Any]:
    limits = state.config.limits
    try:
        session = state.store.sessions.create(
            caller.user_id,
            body.task_name[:200] or "project",
            body.language[:16] or "en",
            max_sessions=limits.sessions_per_user,
        )
    except SessionsFull as exc:
        raise LimitExceeded(
            "sessions_per_user",
            "sessions",
            exc.count,
            limits,
            f"This user has {exc.count} sessions, the most one may create "
            f"(limit {limits.shown('sessions_per_user')}); reuse an existing session",
        ) from exc
    return ok({"task_id": session.task_id, "session_id": session.id, "user_id": caller.user_id})
