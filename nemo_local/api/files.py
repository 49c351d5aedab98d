"""GET /files/<public_id>/<name>: media and finished renders at unguessable paths, no token in the URL;
range-served by Starlette's FileResponse, whose answers to a bad Range header go in the envelope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from nemo_local.api.envelope import error_bytes, send_error
from nemo_local.api.errors import ApiError
from nemo_local.api.state import AppState, app_state
from nemo_local.store import paths

router = APIRouter(tags=["files"])


class RangedFile(FileResponse):
    """A FileResponse whose refusals of a Range header (400 malformed, 416 outside the file), which
    Starlette writes in text/plain, are the envelope like every other error (a red-team finding)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused: dict[str, Any] = {}

        async def enveloped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (400, 416):
                refused.update(status=message["status"], headers=dict(message.get("headers") or []))
                return
            if refused and message["type"] == "http.response.body":
                await send_refusal(refused, message.get("body", b""))
                return
            await send(message)

        async def send_refusal(refused: dict[str, Any], text: bytes) -> None:
            status = refused["status"]
            if status == 416:
                size = refused["headers"].get(b"content-range", b"").decode("latin-1").rpartition("/")[2]
                message = f"The Range asked for starts beyond the end of the file ({size} bytes)"
            else:
                shown = text.decode("utf-8", "replace")[:120].rstrip(".")
                message = f"The Range header is not understood ({shown}); send bytes=<first>-<last>"
            headers = []
            if b"content-range" in refused["headers"]:
                headers.append((b"content-range", refused["headers"][b"content-range"]))
            await send_error(send, status, error_bytes(status, message), headers)

        await super().__call__(scope, receive, enveloped)


@router.get("/files/{public_id}/{name}", response_class=FileResponse)
async def public_file(public_id: str, name: str, state: AppState = Depends(app_state)) -> FileResponse:  # noqa: B008
    if not paths.is_valid(paths.public_id, public_id) or not paths.is_valid(paths.public_name, name):
        raise ApiError(404, "File not found", http_status=404)
    found = state.store.media.public_file(public_id)
    if found is None or found.name != name or not found.path.is_file():
        raise ApiError(404, "File not found", http_status=404)
    return RangedFile(found.path, media_type=found.content_type, filename=found.name)
