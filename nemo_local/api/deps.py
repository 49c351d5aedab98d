"""Bearer-token authentication: the token names the user; sessions are looked up for that user only."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request

from nemo_local.api.errors import ApiError, session_not_found
from nemo_local.api.state import AppState, app_state
from nemo_local.store import RenderRow, SessionRow, paths


@dataclass(frozen=True)
class Caller:
    user_id: str
    anonymous: bool


async def current_user(request: Request, state: AppState = Depends(app_state)) -> Caller:  # noqa: B008
    """Async on purpose: a token lookup is a sub-millisecond indexed read, cheaper on the event loop than
    a hop through the thread pool, which queues under load and delays the first SSE event."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(1001, "Missing bearer token")
    info = state.store.tokens.lookup(token.strip())
    if info is None:
        raise ApiError(1001, "Invalid token")
    if info.expired:
        raise ApiError(1001, "Token expired")
    return Caller(info.user_id, info.kind == "anonymous")


def own_session(state: AppState, caller: Caller, session_id: str) -> SessionRow:
    """Another user's session is indistinguishable from a missing one: 1002 either way. A malformed id
    is never looked up (it cannot exist) but answers 1002 as well, saying why."""
    if not paths.is_valid(paths.session_id, session_id):
        raise session_not_found(session_id, paths.SESSION_RULE)
    session = state.store.sessions.get(session_id, caller.user_id)
    if session is None:
        raise session_not_found(session_id)
    return session


async def path_session(
    session_id: str,
    caller: Caller = Depends(current_user),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> SessionRow:
    """The caller's session named in the path; a dependency so every route answers a stranger's id alike."""
    return own_session(state, caller, session_id)


async def path_render(
    render_id: str,
    caller: Caller = Depends(current_user),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> RenderRow:
    """The caller's render named in the path. Names are per user, so another user's render of the same
    name is simply not there: render ids can't be probed."""
    try:
        paths.render_name(render_id)
    except paths.InvalidId as exc:
        raise ApiError(422, str(exc), {"field": "render_id", "rule": exc.rule}) from exc
    job = state.store.renders.find(caller.user_id, render_id)
    if job is None:
        raise ApiError(404, f"Render not found: {render_id}", http_status=404)
    return job
