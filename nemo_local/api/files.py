"""GET /files/<public_id>/<name>: media and finished renders at unguessable paths, no token in the URL."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from nemo_local.api.errors import ApiError
from nemo_local.api.state import AppState, app_state
from nemo_local.store import paths

router = APIRouter(tags=["files"])


@router.get("/files/{public_id}/{name}", response_class=FileResponse)
async def public_file(public_id: str, name: str, state: AppState = Depends(app_state)) -> FileResponse:  # noqa: B008
    if not paths.is_valid(paths.public_id, public_id) or not paths.is_valid(paths.public_name, name):
        raise ApiError(404, "File not found", http_status=404)
    found = state.store.media.public_file(public_id)
    if found is None or found.name != name or not found.path.is_file():
        raise ApiError(404, "File not found", http_status=404)
    return FileResponse(found.path, media_type=found.content_type, filename=found.name)
