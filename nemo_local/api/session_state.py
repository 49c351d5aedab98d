"""GET /api/state/nemo_agent/me/<session_id>/latest: the draft, uploads and generated media of a session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from nemo_local.api.deps import path_session
from nemo_local.api.envelope import Envelope, StateData, error_responses, ok
from nemo_local.api.state import AppState, app_state, base_url
from nemo_local.store import SessionRow

router = APIRouter(responses=error_responses(401, 404), tags=["state"])

GENERATED_KEYS = ("duration_ms", "title", "prompt", "bpm", "key", "mood", "seed", "lufs")
#: ours, beyond the contract (clients keep unknown fields): what the quality gate and manifest use
GENERATED_EXTRA_KEYS = ("genre", "loop", "instruments", "true_peak", "shape", "engine")


def video_infos(state: AppState, session_id: str, base: str) -> list[dict[str, Any]]:
    return [
        {
            "id": u["id"],
            "filename": u["filename"],
            "file_type": u["file_type"],
            "url": f"{base}/files/{u['public_id']}/{u['fname']}",
            "duration": u["duration"],
            "width": u["width"],
            "height": u["height"],
            "fps": u["fps"],
            "size": u["size"],
            "hash": u["hash"],
        }
        for u in state.store.media.uploads(session_id)
    ]


@router.get("/api/state/nemo_agent/me/{session_id}/latest", response_model=Envelope[StateData])
async def latest_state(
    request: Request,
    session: SessionRow = Depends(path_session),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> dict[str, Any]:
    base = base_url(request)
    _, draft = state.store.sessions.latest_draft(session.id)
    generated = [
        {
            "id": g["id"],
            "kind": g["kind"],
            "url": base + g["url_path"],
            **{k: g.get(k) for k in GENERATED_KEYS},
            **{k: g[k] for k in GENERATED_EXTRA_KEYS if g.get(k) is not None},
        }
        for g in state.store.media.generated(session.id)
    ]
    canvas = None
    if draft is not None:
        meta = draft.get("m", {})
        canvas = {"width": meta.get("width", 1920), "height": meta.get("height", 1080)}
    body = {
        "draft": draft,
        "video_infos": video_infos(state, session.id, base),
        "generated_media": generated,
        "canvas_config": canvas,
    }
    return ok(
        {"session_id": session.id, "task_id": session.task_id, "task_name": session.task_name, "state": body}
    )
