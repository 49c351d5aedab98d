"""POST /run_sse: ADK's request verbatim (snake_case or camelCase); 404 {"detail"} for an unknown session
and 2001 for short credits, both before any event; then the agent's event stream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from nemo_local.agent import turn as agent_turn
from nemo_local.api.deps import Caller, current_user
from nemo_local.api.envelope import error_body, error_responses
from nemo_local.api.errors import ApiError, errors_in_200, insufficient, session_not_found
from nemo_local.api.state import AppState, app_state, base_url
from nemo_local.limits import LimitExceeded
from nemo_local.store import InsufficientCredits

router = APIRouter(tags=["agent"])
MAX_PARTS = 64  # a message is one text part in practice; the body size bounds the rest


class AdkDetail(BaseModel):
    detail: str


class Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = "user"
    parts: list[Part] = Field(default_factory=list, max_length=MAX_PARTS)


class RunSSE(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    app_name: str = Field("nemo_agent", validation_alias=AliasChoices("app_name", "appName"))
    user_id: str = Field("me", validation_alias=AliasChoices("user_id", "userId"))
    session_id: str = Field(validation_alias=AliasChoices("session_id", "sessionId"))
    new_message: Message = Field(validation_alias=AliasChoices("new_message", "newMessage"))
    streaming: bool = False


@router.post(
    "/run_sse",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "ADK events, one `data:` line each"},
        404: {"model": AdkDetail, "description": "unknown session, or another user's (ADK's answer)"},
        **error_responses(401, 403, 422, 429),
    },
)
async def run_sse(
    body: RunSSE,
    request: Request,
    caller: Caller = Depends(current_user),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> Response:
    session = state.store.sessions.get(body.session_id, caller.user_id)
    if session is None:
        message = session_not_found(body.session_id).message
        if errors_in_200(request):
            return JSONResponse(error_body(1002, message))
        # ADK's answer (`detail`), with the envelope's keys beside it
        return JSONResponse(error_body(1002, message, detail=message), 404)
    text = " ".join(p.text for p in body.new_message.parts if p.text).strip()
    if not text:
        raise ApiError(422, "new_message has no text part")
    limits = state.config.limits
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.message_bytes:
        raise LimitExceeded(
            "message_bytes",
            "new_message.parts[].text",
            size,
            limits,
            f"The message is {size} bytes long (limit {limits.shown('message_bytes')}); send a shorter one",
        )
    deps = agent_turn.TurnDeps(
        store=state.store,
        composer=state.composer,
        keepalive_s=state.config.keepalive_s,
        silent_share=state.config.silent_edit_share,
        sse_cut_after=lambda: state.config.faults.sse_cut_after,
        slots=state.slots,
        limits=limits,
    )
    try:
        turn = await agent_turn.prepare(
            deps, session, caller.user_id, text, base_url(request), body.streaming
        )
    except InsufficientCredits as exc:
        raise insufficient(exc.available, exc.needed, caller.user_id, caller.anonymous) from exc
    headers: dict[str, Any] = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(agent_turn.stream(turn), media_type="text/event-stream", headers=headers)
