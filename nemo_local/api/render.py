"""Export: create a render job, poll it (shape A, or B by switch), cancel it, download the file."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from nemo_local.api.deps import Caller, current_user, own_session, path_render
from nemo_local.api.draft_check import DraftInvalid, check_draft
from nemo_local.api.envelope import RenderCreated, RenderShapeA, error_responses, iso
from nemo_local.api.errors import ApiError
from nemo_local.api.files import RangedFile
from nemo_local.api.state import AppState, app_state, base_url
from nemo_local.limits import Busy
from nemo_local.quota import check_free_disk, check_storage
from nemo_local.renderer import formats as renderer_formats
from nemo_local.store import ActiveRendersFull, DuplicateRenderId, RenderRow, paths

router = APIRouter(responses=error_responses(401, 402, 404, 409, 413, 422, 429, 507), tags=["render"])
# the renderer's own table (a light module: the pipelines load only when a render runs)
FORMATS = tuple(renderer_formats.FORMATS)
QUALITIES = tuple(renderer_formats.QUALITIES)


class OutputSpec(BaseModel):
    format: str = "mp4"
    quality: str = "high"


class CreateRender(BaseModel):
    id: str | None = None
    sessionId: str
    draft: dict[str, Any]
    output: OutputSpec = Field(default_factory=OutputSpec)


def render_body(request: Request, job: RenderRow) -> dict[str, Any]:
    state: AppState = request.app.state.nemo
    published = job.public_id and job.file_name
    url = f"{base_url(request)}/files/{job.public_id}/{job.file_name}" if published else None
    if state.config.faults.render_shape_b:
        data = {
            "id": job.name, "status": job.status, "progress": job.progress, "outputUrl": url,
            "createdAt": iso(job.created_at), "completedAt": iso(job.completed_at), "error": job.error,
        }  # fmt: skip
        return {"success": True, "data": data}
    output = {"url": url, "duration": job.duration, "size": job.size} if url else None
    return {
        "taskId": job.name,
        "status": job.status,
        "progress": job.progress,
        "output": output,
        "error": job.error,
    }


@router.post("/api/render/proxy/lambda", response_model=RenderCreated)
async def create_render(
    request: Request,
    body: CreateRender = Body(...),  # noqa: B008
    caller: Caller = Depends(current_user),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> dict[str, Any]:
    if body.id is not None:
        try:
            paths.render_name(body.id)
        except paths.InvalidId as exc:
            raise ApiError(422, str(exc), {"field": "id", "rule": exc.rule}) from exc
    session = own_session(state, caller, body.sessionId)
    fmt, quality = body.output.format.lower(), body.output.quality.lower()
    if fmt not in FORMATS:
        raise ApiError(422, f"unsupported output format {fmt!r}; one of {', '.join(FORMATS)}")
    if quality not in QUALITIES:
        raise ApiError(422, f"unsupported quality {quality!r}; one of {', '.join(QUALITIES)}")
    limits = state.config.limits
    try:
        # off the event loop: a draft may be megabytes of JSON; the renderer's own reader has the last word
        await asyncio.to_thread(check_draft, body.draft, limits)
    except DraftInvalid as exc:
        raise ApiError(422, f"invalid draft: {exc}", {"field": exc.field}) from exc
    # before the render exists or anything is charged: a full quota or disk refuses it with the limit
    check_free_disk(state.store.data_dir, limits, "this render")
    await asyncio.to_thread(check_storage, state.store, caller.user_id, limits, 1, state.uploads_in_flight)
    spent = caller.anonymous and state.store.credits.balance(caller.user_id).available <= 0
    if spent and not request.headers.get("x-skill-source"):
        raise ApiError(402, "Export is blocked on the free plan without attribution headers")
    render_id = body.id or f"render_{int(time.time() * 1000)}_{secrets.token_hex(3)}"
    try:
        job = state.store.renders.create(
            render_id,
            caller.user_id,
            session.id,
            body.draft,
            fmt,
            quality,
            max_active=limits.renders_per_user,
        )
    except DuplicateRenderId as exc:
        # names are per user: this only ever says that the caller's own render has this id
        raise ApiError(409, f"Duplicate render id: you already have a render {render_id}") from exc
    except ActiveRendersFull as exc:
        raise Busy("renders_per_user", exc.active, limits, "renders") from exc
    state.renders.submit(job.id)
    return {"id": job.name, "status": job.status, "progress": job.progress}


@router.get("/api/render/proxy/lambda/{render_id}", response_model=RenderShapeA | dict[str, Any])
async def poll_render(
    request: Request,
    job: RenderRow = Depends(path_render),  # noqa: B008
) -> dict[str, Any]:
    return render_body(request, job)


@router.post("/api/render/proxy/lambda/{render_id}/cancel", response_model=RenderShapeA | dict[str, Any])
async def cancel_render(
    request: Request,
    job: RenderRow = Depends(path_render),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> dict[str, Any]:
    state.renders.cancel(job.id)
    return render_body(request, state.store.renders.get(job.id) or job)


@router.get("/api/render/proxy/{render_id}/download", response_class=FileResponse)
async def download_render(
    job: RenderRow = Depends(path_render),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> FileResponse:
    render_id = job.name
    if job.status != "completed" or not job.public_id:
        raise ApiError(409, f"Render {render_id} is {job.status}, not completed")
    public = state.store.media.public_file(job.public_id)
    if public is None or not public.path.is_file():
        raise ApiError(404, f"The file of render {render_id} is gone", http_status=404)
    # named by the caller's id (checked by paths.RENDER_NAME when the render was created), never our key
    return RangedFile(public.path, media_type=public.content_type, filename=f"{render_id}.{job.format}")
