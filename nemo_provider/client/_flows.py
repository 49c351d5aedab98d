"""The endpoints as flows (sessions, state, uploads, renders, downloads): requests and results, no I/O.

Each function is a generator driven by ``_drive.drive``; the recoveries every call shares are in
``_call``, the chat message (the one streamed conversation turn) in ``_message``.
"""

from __future__ import annotations

import copy
import mimetypes
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from nemo_provider.client._call import acquire_token, call, credits
from nemo_provider.client._core import ClientCore
from nemo_provider.client._error_map import file_too_large, unsupported_file_type
from nemo_provider.client._ops import FilePart, Flow, RawResponse, RequestSpec, Save, Stat
from nemo_provider.client.constants import ACCEPTED_UPLOAD_EXTENSIONS, EXPORT_FORMATS, MAX_UPLOAD_BYTES
from nemo_provider.client.draft import Draft
from nemo_provider.client.errors import (
    NemoDuplicateRenderIdError,
    NemoError,
    NemoRenderError,
    NemoSessionNotFoundError,
)
from nemo_provider.client.models import (
    DownloadResult,
    RenderStatus,
    SessionInfo,
    SessionState,
    UploadResult,
)

__all__ = [
    "acquire_token",
    "cancel_render",
    "create_render",
    "create_session",
    "credits",
    "download",
    "render_status",
    "state",
    "upload",
]


def create_session(
    core: ClientCore, task_name: str = "project", language: str | None = None
) -> Flow[SessionInfo]:
    spec = RequestSpec(
        name="create session",
        method="POST",
        path="/api/tasks/me/with-session/nemo_agent",
        json={"task_name": task_name, "language": language or core.language},
    )
    data = yield from call(core, spec)
    info = SessionInfo.model_validate(data)
    if info.user_id and not core.user_id:
        core.user_id = info.user_id
    return info


def _state_spec(session_id: str) -> RequestSpec:
    return RequestSpec(
        name="state",
        method="GET",
        path=f"/api/state/nemo_agent/me/{quote(session_id, safe='')}/latest",
        idempotent=True,
        session_bound=True,
        session_id=session_id,
    )


def state(core: ClientCore, session_id: str) -> Flow[SessionState]:
    """The session's state, naming its session even when the body does not (``send_message(before=)``
    takes only a state of its own session)."""
    data = yield from call(core, _state_spec(session_id))
    read = SessionState.from_api(data)
    return read if read.session_id is not None else read.model_copy(update={"session_id": session_id})


def check_upload_file(path: str | os.PathLike[str]) -> Flow[FilePart]:
    """Refuse before sending what the service would refuse after 200 MB of upload."""
    p = Path(path)
    ext = p.suffix.lower().lstrip(".")
    if ext not in ACCEPTED_UPLOAD_EXTENSIONS:
        raise unsupported_file_type(p.name)
    size: int = yield Stat(p)  # FileNotFoundError names the path: clear enough
    if size > MAX_UPLOAD_BYTES:
        raise file_too_large(p.name, size)
    content_type = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
    return FilePart(field="files", path=p, filename=p.name, content_type=content_type)


def with_new_session(
    core: ClientCore, session_id: str, build: Callable[[str], RequestSpec]
) -> Flow[tuple[Any, str]]:
    """Run a session-bound call; on 1002 create a new session once and repeat it there.

    Only for calls that do not depend on what the old session held: upload (the files go to the new
    session, reported in ``UploadResult.session_id``) and render create (the draft travels in the
    body). Not for ``state`` (a new session's empty state would be reported as if it were the user's),
    not for ``/run_sse`` (the message refers to its session's conversation and timeline), and not for
    render polls or cancels (they do not involve a session).
    """
    try:
        data = yield from call(core, build(session_id))
        return data, session_id
    except NemoSessionNotFoundError:
        info = yield from create_session(core)
        data = yield from call(core, build(info.session_id))
        return data, info.session_id


def upload(
    core: ClientCore,
    session_id: str,
    files: Sequence[str | os.PathLike[str]] | None = None,
    urls: Sequence[str] | None = None,
) -> Flow[UploadResult]:
    # Files are checked here; URLs only by the service (CDN links often carry no extension).
    checked: list[FilePart] = []
    for f in files or ():
        checked.append((yield from check_upload_file(f)))
    parts = tuple(checked)
    url_list = [str(u) for u in urls or ()]
    if not parts and not url_list:
        raise ValueError("upload() needs at least one file path or URL.")

    def build(parts_: tuple[FilePart, ...], body: Any) -> Callable[[str], RequestSpec]:
        def _spec(sid: str) -> RequestSpec:
            return RequestSpec(
                name="upload",
                method="POST",
                path=f"/api/upload-video/nemo_agent/me/{quote(sid, safe='')}",
                files=parts_,
                json=body,
                session_bound=True,
                session_id=sid,
            )

        return _spec

    result = UploadResult(files=[], session_state_applied=False, session_id=session_id)
    sid = session_id
    batches: list[tuple[tuple[FilePart, ...], Any]] = []
    if parts:
        batches.append((parts, None))
    if url_list:
        batches.append(((), {"urls": url_list, "source_type": "url"}))
    for batch_parts, body in batches:
        data, sid = yield from with_new_session(core, sid, build(batch_parts, body))
        one = UploadResult.model_validate(data if isinstance(data, dict) else {})
        result.files.extend(one.files)
        for key, value in (one.model_extra or {}).items():
            setattr(result, key, value)  # fields the service added are kept
        result.session_state_applied = result.session_state_applied or one.session_state_applied
    result.session_id = sid
    return result


def render_status(core: ClientCore, render_id: str) -> Flow[RenderStatus]:
    spec = RequestSpec(
        name="render status",
        method="GET",
        path=f"/api/render/proxy/lambda/{quote(render_id, safe='')}",
        idempotent=True,
    )
    data = yield from call(core, spec)
    return RenderStatus.from_api(data, render_id)


def cancel_render(core: ClientCore, render_id: str) -> Flow[RenderStatus]:
    spec = RequestSpec(
        name="render cancel",
        method="POST",
        path=f"/api/render/proxy/lambda/{quote(render_id, safe='')}/cancel",
        idempotent=True,  # cancelling twice is the same as once
    )
    data = yield from call(core, spec)
    if not (isinstance(data, dict) and data.get("status")):
        data = {**(data if isinstance(data, dict) else {}), "status": "cancelled"}
    return RenderStatus.from_api(data, render_id)


def create_render(
    core: ClientCore,
    session_id: str,
    draft: Draft | Mapping[str, Any],
    format: str = "mp4",
    quality: str = "high",
    render_id: str | None = None,
    rename_on_duplicate: bool = True,
) -> Flow[RenderStatus]:
    """``rename_on_duplicate=False`` for a caller whose id already names its one render (a trigger
    that may have started it before a restart): a duplicate then means "started", never "start another"."""
    fmt = format.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unsupported export format {format!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
    parsed = draft if isinstance(draft, Draft) else Draft.from_wire(draft)
    if not parsed.is_exportable:
        raise NemoRenderError(
            "The timeline has no segments, so there is nothing to export. Generate or add media first "
            f"({parsed.summary()}).",
            render_id=render_id,
        )
    wire = parsed.to_wire() if isinstance(draft, Draft) else copy.deepcopy(dict(draft))
    rid = render_id or core.new_render_id()

    def build(rid_: str) -> Callable[[str], RequestSpec]:
        def _spec(sid: str) -> RequestSpec:
            return RequestSpec(
                name="render create",
                method="POST",
                path="/api/render/proxy/lambda",
                json={
                    "id": rid_,
                    "sessionId": sid,
                    "draft": wire,
                    "output": {"format": fmt, "quality": quality},
                },
                session_bound=True,
                session_id=sid,
                idempotent=False,  # never repeated with the same id after a network error
            )

        return _spec

    try:
        data, _sid = yield from with_new_session(core, session_id, build(rid))
    except NemoDuplicateRenderIdError:
        if not rename_on_duplicate:
            raise
        rid = core.new_render_id()
        data, _sid = yield from with_new_session(core, session_id, build(rid))
    status = RenderStatus.from_api(data, rid)
    return status


def download_spec(core: ClientCore, url: str) -> RequestSpec:
    absolute = urljoin(core.base_url + "/", url) if url.startswith("/") else url
    own = core.is_own_origin(absolute)
    return RequestSpec(
        name="download",
        method="GET",
        path=absolute,
        authenticated=own,
        foreign=not own,
        idempotent=True,
        stream=True,
        raw_body=True,
    )


def proxy_download_path(render_id: str) -> str:
    return f"/api/render/proxy/{quote(render_id, safe='')}/download"


def open_download(core: ClientCore, url_or_render_id: str) -> Flow[tuple[RawResponse, str | None]]:
    """Open the file: the render's output URL, else (or if that fails) the API's `/download` route."""
    target = url_or_render_id
    render_id: str | None = None
    if not target.startswith(("http://", "https://", "/")):
        render_id = target
        status = yield from render_status(core, render_id)
        if status.status != "completed" and status.url is None:
            raise NemoRenderError(
                f"Render {render_id} is {status.status}, not completed: nothing to download yet."
                + (f" Error: {status.error}" if status.error else ""),
                render_id=render_id,
                status=status.status,
            )
        target = status.url or proxy_download_path(render_id)
    try:
        raw = yield from call(core, download_spec(core, target))
        return raw, render_id
    except NemoError:
        if render_id is None or target == proxy_download_path(render_id):
            raise
    raw = yield from call(core, download_spec(core, proxy_download_path(render_id)))
    return raw, render_id


def download(core: ClientCore, url_or_render_id: str, dest: str | os.PathLike[str]) -> Flow[DownloadResult]:
    """Stream the file to `dest` (a file path, or an existing directory to put it in).

    The runner writes the file (``Save``); the flow only picks the name a directory would give it.
    """
    raw, render_id = yield from open_download(core, url_or_render_id)
    served = Path(str(getattr(getattr(raw.handle, "url", None), "path", "") or "")).name
    name = served if "." in served else f"{render_id or 'nemo-download'}.bin"
    result: DownloadResult = yield Save(raw.handle, Path(dest), name)
    return result
