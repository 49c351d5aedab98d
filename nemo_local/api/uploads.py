"""POST /api/upload-video/nemo_agent/me/<session_id>: multipart files streamed to disk, or URLs fetched
under the same rules; each file is type-checked by content, probed, hashed and put on the draft."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request

from nemo_local.agent import drafts
from nemo_local.api.deps import Caller, current_user, path_session
from nemo_local.api.envelope import Envelope, UploadData, error_responses, ok
from nemo_local.api.errors import ApiError
from nemo_local.api.state import AppState, app_state, base_url
from nemo_local.ingest.fetch import URL_REFUSED, fetch_url
from nemo_local.ingest.receive import (
    BadUpload,
    BadURL,
    ReceivedFile,
    UnsupportedType,
    receive_multipart,
    safe_name,
    too_many_files,
)
from nemo_local.ingest.sniff import ACCEPTED_EXTENSIONS
from nemo_local.limits import LimitExceeded, Limits, check_pixels
from nemo_local.media.content_types import content_type
from nemo_local.quota import Room, check_free_disk, storage_room
from nemo_local.renderer.timeline import segment_count
from nemo_local.store import SessionRow, UploadRow

router = APIRouter(responses=error_responses(401, 404, 413, 415, 422, 507), tags=["upload"])
IMAGE_SECONDS = 5.0
ACCEPTED_TEXT = ", ".join(e for e in ACCEPTED_EXTENSIONS if e != "jpeg")


def _image_size(f: ReceivedFile) -> tuple[int, int]:
    """Width and height from the picture's header (the formats uploads accept)."""
    from nemo_local.media.pictures import header_size

    size = header_size(f.path, ("PNG", "JPEG", "GIF", "WEBP"))
    if size is None:
        raise UnsupportedType(f.filename, "the image cannot be decoded")
    return size


def _check_pixels(f: ReceivedFile, index: int, info: dict[str, Any], limits: Limits) -> None:
    """A picture (or a video's frame) larger than the pixel limit is refused here, at upload, rather
    than failing the render later with an out-of-memory 'internal error'."""
    width, height = info.get("width") or 0, info.get("height") or 0
    check_pixels(
        width,
        height,
        f"files[{index}]",
        limits,
        f"{f.filename} is {width}x{height} = {width * height / 1e6:.1f} megapixels "
        f"(limit {limits.shown('picture_pixels')}); scale it down",
    )


def _describe(f: ReceivedFile, index: int, limits: Limits) -> dict[str, Any]:
    """Probe and hash (blocking; run in a thread). Raises UnsupportedType when the media cannot be read,
    LimitExceeded when it has too many pixels."""
    from nemo_local.media import ProbeError, probe, sha256_file

    assert f.sniffed is not None
    info: dict[str, Any] = {"duration": None, "width": None, "height": None, "fps": None}
    try:
        found = probe(f.path)
        info.update(duration=found.duration or None, width=found.width, height=found.height, fps=found.fps)
        if f.sniffed.kind == "video" and not found.has_video:
            raise UnsupportedType(f.filename, "no video stream")
        if f.sniffed.kind == "audio" and not found.has_audio:
            raise UnsupportedType(f.filename, "no audio stream")
    except ProbeError as exc:
        if f.sniffed.kind != "image":
            raise UnsupportedType(f.filename, "the media cannot be decoded") from exc
    if f.sniffed.kind == "image" and not (info["width"] and info["height"]):
        info["width"], info["height"] = _image_size(f)
    if f.sniffed.kind == "image":
        info.update(duration=None, fps=None)
    _check_pixels(f, index, info, limits)
    info["hash"] = sha256_file(f.path)
    return info


def _discard(files: list[ReceivedFile]) -> None:
    """Remove files received for a request that failed; no row points at them, so nothing else would."""
    for f in files:
        with contextlib.suppress(FileNotFoundError):
            f.path.unlink()


def _refused(exc: UnsupportedType | BadURL | BadUpload) -> ApiError:
    """The envelope of an upload refused for its content (limits are LimitExceeded, answered as such)."""
    if isinstance(exc, UnsupportedType):
        accepted = ACCEPTED_TEXT.split(", ")
        return ApiError(
            4001, f"Unsupported file type ({exc}). Accepted: {ACCEPTED_TEXT}", {"accepted": accepted}
        )
    if isinstance(exc, BadURL):
        return ApiError(URL_REFUSED, f"URL refused: {exc}")
    return ApiError(422, f"Upload refused: {exc}", {"field": "files"})


async def _receive(request: Request, state: AppState, dest: Path, room: Room) -> list[ReceivedFile]:
    limits = state.config.limits
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/"):
        return await receive_multipart(ctype, request.stream(), dest, limits, room)
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deep
        raise ApiError(422, "expected multipart field 'files' or JSON {\"urls\": [...]}") from exc
    urls = body.get("urls") if isinstance(body, dict) else None
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise ApiError(422, "expected multipart field 'files' or JSON {\"urls\": [...]}")
    if len(urls) > limits.upload_files:
        raise too_many_files(len(urls), limits)
    got: list[ReceivedFile] = []
    try:
        for i, url in enumerate(urls):
            got.append(
                await fetch_url(url, dest, limits, state.config.allow_private_urls, index=i, room=room)
            )
    except BaseException:
        _discard(got)
        raise
    return got


def _room_on_draft(limits: Limits, draft: dict[str, Any] | None, adding: int) -> None:
    """Uploads go on the session's draft; refuse the upload (nothing published) when the draft would
    then hold more segments than a draft may have to be exported."""
    present = segment_count(draft)  # short keys or readable names, as the renderer reads them
    if present + adding > limits.draft_segments:
        raise LimitExceeded(
            "draft_segments",
            "files",
            present + adding,
            limits,
            f"The session's draft has {present} segments; {adding} more would pass the limit of "
            f"{limits.shown('draft_segments')} segments per draft. Start a new session",
        )


def _early_room_on_draft(state: AppState, session: SessionRow, adding: int) -> None:
    """The draft's room as it is now, before the files are probed (a cheap early refusal; the rule is
    applied again to the latest draft in the transaction that publishes them)."""
    _, draft = state.store.sessions.latest_draft(session.id)
    _room_on_draft(state.config.limits, draft, adding)


def _apply(state: AppState, session: SessionRow, rows: list[tuple[UploadRow, str]]) -> bool:
    """Put uploaded media on the draft: video/pictures on the video track, audio on the audio track;
    on the latest draft, in the transaction that saves it (parallel uploads each keep their files, and
    their segments together stay within the draft's limit: raises LimitExceeded otherwise)."""

    def change(draft: dict[str, Any] | None) -> dict[str, Any] | None:
        _room_on_draft(state.config.limits, draft, len(rows))
        draft = draft or drafts.empty_draft(session.task_name)
        before = json.dumps(draft, sort_keys=True)
        for row, url in rows:
            meta = {"name": row.filename, "upload_id": row.id, "width": row.width, "height": row.height}
            if row.file_type == "audio":
                draft = drafts.add_audio(
                    draft, url, int((row.duration or 0) * 1000), {"name": row.filename, "upload_id": row.id}
                )
            else:
                seconds = row.duration if row.file_type == "video" and row.duration else IMAGE_SECONDS
                draft = drafts.add_visual(draft, url, int(seconds * 1000), meta)
        return None if json.dumps(draft, sort_keys=True) == before else draft

    return state.store.sessions.update_draft(session.id, change, "upload") is not None


@router.post("/api/upload-video/nemo_agent/me/{session_id}", response_model=Envelope[UploadData])
async def upload(
    request: Request,
    session: SessionRow = Depends(path_session),  # noqa: B008
    caller: Caller = Depends(current_user),  # noqa: B008
    state: AppState = Depends(app_state),  # noqa: B008
) -> dict[str, Any]:
    limits = state.config.limits
    # before a byte is read: a full disk or a full quota refuses the upload; while the files stream in,
    # the user's room (the quota less what is kept) cuts them off as soon as they pass it
    check_free_disk(state.store.data_dir, limits, "this upload")
    room = await asyncio.to_thread(storage_room, state.store, caller.user_id, limits, state.uploads_in_flight)
    try:
        return await _upload(request, session, caller, state, room)
    finally:
        room.release()  # whatever happened: stored files are counted by the database from now on


async def _upload(
    request: Request, session: SessionRow, caller: Caller, state: AppState, room: Room
) -> dict[str, Any]:
    limits = state.config.limits
    dest = state.store.path("uploads", session.id)
    await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=True)
    try:
        received = await _receive(request, state, dest, room)
    except (UnsupportedType, BadURL, BadUpload) as exc:
        raise _refused(exc) from exc
    if not received:
        raise ApiError(422, "no file in the request (multipart field 'files')")
    try:
        await asyncio.to_thread(_early_room_on_draft, state, session, len(received))
        # what is stored now (other uploads may have finished), what others still stream in, and ours
        await asyncio.to_thread(room.settle, state.store)
    except BaseException:
        _discard(received)
        raise
    try:
        described = [await asyncio.to_thread(_describe, f, i, limits) for i, f in enumerate(received)]
    except BaseException as exc:
        _discard(received)  # also when the client hangs up mid-probe: nothing would ever own these files
        if isinstance(exc, UnsupportedType):
            raise _refused(exc) from exc
        raise
    base = base_url(request)
    try:
        rows, applied = _publish(state, session, caller.user_id, received, described, base)
    except BaseException:
        _discard(received)  # nothing was published: no row points at them
        raise
    room.release()  # published: the database counts these bytes now
    out = [
        {
            "filename": row.filename, "file_type": row.file_type, "cdn_url": url, "duration": row.duration,
            "width": row.width, "height": row.height, "fps": row.fps, "hash": row.hash, "size": row.size,
        }
        for row, url in rows
    ]  # fmt: skip
    return ok({"files": out, "session_state_applied": applied})


def _publish(
    state: AppState,
    session: SessionRow,
    user_id: str,
    received: list[ReceivedFile],
    described: list[dict[str, Any]],
    base: str,
) -> tuple[list[tuple[UploadRow, str]], bool]:
    """Every file's public row and its upload row, for all the request's files, and the draft with them
    on it, in one transaction (as a render's publication and completion are): an error or a kill between
    the writes used to leave a served file without its upload row, which the quota does not count and
    the start-up sweep keeps; and a draft with no room left refuses the upload with nothing stored.
    Synchronous on purpose: no await inside, so a client hanging up cannot cut it in two. Returns the
    rows and whether the draft changed."""
    rows = []
    with state.store.db.tx():
        for f, info in zip(received, described, strict=True):
            assert f.sniffed is not None
            name = safe_name(f.filename)
            public = state.store.media.publish(f.path, name, content_type(f.sniffed.ext), user_id)
            row = UploadRow(
                "upl_" + secrets.token_hex(6), f.filename, f.sniffed.kind, public, f.size,
                info["duration"], info["width"], info["height"], info["fps"], info["hash"],
            )  # fmt: skip
            state.store.media.add_upload(session.id, user_id, row)
            rows.append((row, base + public.url_path))
        applied = _apply(state, session, rows)
    return rows, applied
