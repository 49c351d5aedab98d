"""The API, once: every request, the response parser and the recovery rules, with no I/O.

Each endpoint is a generator ("flow") that yields operations and receives their results:

* `Send(spec)` -> `RawResponse` (the runner adds headers, does the HTTP exchange and the tenacity
  backoff for calls that are safe to repeat);
* `Sleep(seconds)` -> None (429 waits; injectable so tests never really sleep);
* `Drain(handle, on_bytes)` -> the exception that ended the body early, or None.

`NemoClient` and `AsyncNemoClient` are two thin runners of the same flows, so the API (paths,
bodies, envelope handling, 1001/1002/400/429 recovery) exists exactly once.

Which calls may be repeated, and why:

* Network errors and 5xx: only idempotent calls are retried with backoff (GETs, the anonymous token,
  whose client id returns the same token, and render cancel). Never `/run_sse` (a repeated message is
  charged twice), never render create (the first may have started), never upload or session create.
* 1001 / 429 / 400-missing-client-id: the server refused the request before doing anything, so one
  repeat is safe for every call, `/run_sse` included (it was not accepted).
* 1002 (session not found): a new session is created and the call repeated only where the call does
  not depend on what the old session held: upload (the files go to the new session, reported in
  `UploadResult.session_id`) and render create (the draft travels in the body). Not for `state`
  (a new session's empty state would be reported as if it were the user's), not for `/run_sse`
  (the message refers to the conversation and timeline of its session; sending it elsewhere would
  run a different request, and once the stream is accepted nothing is ever repeated), and not for
  render polls or cancels (they do not involve a session).
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import json
import mimetypes
import os
import secrets
import time
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import httpx
from pydantic import SecretStr
from tenacity import retry_if_exception_type, retry_if_result, stop_after_attempt, wait_exponential

import nemo_provider
from nemo_provider.client._logging import LoggerLike
from nemo_provider.client.constants import (
    ACCEPTED_UPLOAD_EXTENSIONS,
    DEFAULT_BASE_URL,
    DEFAULT_RETRY_AFTER_S,
    EXPORT_FORMATS,
    MAX_UPLOAD_BYTES,
    MESSAGE_CEILING_S,
    SKILL_SOURCE,
)
from nemo_provider.client.draft import Draft
from nemo_provider.client.errors import (
    ErrorContext,
    NemoAPIError,
    NemoAuthError,
    NemoConnectionError,
    NemoDuplicateRenderIdError,
    NemoError,
    NemoInsufficientCreditsError,
    NemoMissingClientIdError,
    NemoRateLimitError,
    NemoRenderError,
    NemoSessionNotFoundError,
    NemoStreamError,
    error_for,
    file_too_large,
    insufficient_credits,
    scrub,
    unsupported_file_type,
)
from nemo_provider.client.models import (
    AnonymousToken,
    Credits,
    DownloadResult,
    MessageResult,
    RenderStatus,
    SessionInfo,
    SessionState,
    UploadResult,
)
from nemo_provider.client.sse import MessageAccumulator

T = TypeVar("T")

#: How much longer than the message ceiling a single socket read may block before httpx gives up.
READ_TIMEOUT_GRACE_S = 5.0


# --------------------------------------------------------------------------------------------------
# Operations exchanged between flows and runners
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilePart:
    """A multipart file the runner opens (per attempt) and streams from disk."""

    field: str
    path: Path
    filename: str
    content_type: str


@dataclass(frozen=True)
class RequestSpec:
    """One HTTP request, described; the runner adds headers and performs it."""

    name: str
    method: str
    path: str  # a path on the API, or an absolute URL (downloads)
    json: Any = None
    files: tuple[FilePart, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True
    idempotent: bool = False
    stream: bool = False
    session_bound: bool = False  # a bare 404 means "session not found"
    session_id: str | None = None
    read_timeout: float | None = None
    raw_body: bool = False  # success bodies are not envelopes (file downloads)
    foreign: bool = False  # not the API (a CDN): its statuses are not Nemo error codes


@dataclass
class RawResponse:
    """What the runner got back. For a successful streamed request `handle` is the open response."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    handle: Any = None


@dataclass(frozen=True)
class Send:
    spec: RequestSpec


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Drain:
    """Feed an open streamed body to `on_bytes` until it ends; the runner closes the handle.

    `deadline` (time.monotonic) lets a runner that can cancel reads (async) enforce it exactly; the
    sync runner relies on the read timeout and on `on_bytes` checking the clock.
    """

    handle: Any
    on_bytes: Callable[[bytes], None]
    deadline: float | None = None


Op = Send | Sleep | Drain
Flow = Generator[Op, Any, T]


def _render_id_stamp() -> int:
    """Microseconds plus 3 random digits: two processes planning a render at the same moment (mapped
    exports) never share an id, and a trigger finding "its" id never waits for another task's render."""
    return time.time_ns() // 1000 * 1000 + secrets.randbelow(1000)


def new_render_id() -> str:
    """`render_<digits>`, like the service's own ids: the one scheme for every id this provider plans."""
    return f"render_{_render_id_stamp()}"


# --------------------------------------------------------------------------------------------------
# Client state shared by the flows (no I/O)
# --------------------------------------------------------------------------------------------------
class ClientCore:
    """Token, client id and user id of one client, plus the headers and URLs derived from them."""

    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        client_id: str | None,
        *,
        language: str = "en",
        platform: str = "airflow",
        token_source: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # As the vendor's own skills do: an explicit URL, else NEMO_API_URL, else production.
        self.base_url = (base_url or os.environ.get("NEMO_API_URL") or DEFAULT_BASE_URL).rstrip("/")
        given = token or None
        chosen = given or os.environ.get("NEMO_TOKEN") or None
        self._token: SecretStr | None = SecretStr(chosen) if chosen else None
        self.token_is_anonymous = False
        if token_source is not None:
            self.token_source = token_source
        elif given:
            self.token_source = "the token given to the client"  # noqa: S105 - a label
        else:
            self.token_source = "the NEMO_TOKEN environment variable"  # noqa: S105 - a label
        self.client_id = client_id or None
        self.language = language
        self.platform = platform
        self.user_id: str | None = None
        self.clock = clock
        self._last_render_ms = 0

    # -- token ------------------------------------------------------------------------------------
    @property
    def token(self) -> str | None:
        return self._token.get_secret_value() if self._token is not None else None

    def set_anonymous_token(self, token: AnonymousToken) -> None:
        self._token = token.token
        self.token_is_anonymous = True
        if token.user_id:
            self.user_id = token.user_id

    def drop_token(self) -> None:
        self._token = None

    def ensure_client_id(self) -> str:
        if not self.client_id:
            self.client_id = str(uuid.uuid4())
        return self.client_id

    # -- requests ---------------------------------------------------------------------------------
    @property
    def origin(self) -> tuple[str, str, int | None]:
        return _origin(self.base_url)

    def url_for(self, spec: RequestSpec) -> str:
        if spec.path.startswith(("http://", "https://")):
            return spec.path
        return self.base_url + spec.path

    def is_own_origin(self, url: str) -> bool:
        return _origin(url) == self.origin

    def headers_for(self, spec: RequestSpec) -> dict[str, str]:
        """Attribution, client id and bearer token go only to the API's own origin, never to a CDN."""
        url = self.url_for(spec)
        headers: dict[str, str] = {}
        if self.is_own_origin(url):
            headers["X-Skill-Source"] = SKILL_SOURCE
            headers["X-Skill-Version"] = nemo_provider.__version__
            headers["X-Skill-Platform"] = self.platform
            if self.client_id:
                headers["X-Client-Id"] = self.client_id
            if spec.authenticated and self._token is not None:
                headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        headers.update(spec.headers)
        return headers

    def error_context(self, session_id: str | None = None) -> ErrorContext:
        return ErrorContext(
            base_url=self.base_url,
            token_is_anonymous=self.token_is_anonymous,
            token_source=self.token_source,
            user_id=self.user_id,
            session_id=session_id,
            secrets=tuple(s for s in (self.token,) if s),
        )

    def new_render_id(self) -> str:
        """A :func:`new_render_id`, strictly increasing within this client so a retry gets a new id."""
        self._last_render_ms = max(_render_id_stamp(), self._last_render_ms + 1)
        return f"render_{self._last_render_ms}"

    def __repr__(self) -> str:
        kind = "anonymous" if self.token_is_anonymous else ("configured" if self._token else "none")
        return f"ClientCore(base_url={self.base_url!r}, token=<{kind}>)"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


# --------------------------------------------------------------------------------------------------
# The response parser (one for everything)
# --------------------------------------------------------------------------------------------------
def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = None
    for key, val in headers.items():
        if key.lower() == "retry-after":
            value = val.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _as_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _message_of(body: dict[str, Any]) -> str:
    for key in ("message", "msg", "error", "detail", "error_message", "errorMessage"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
        if isinstance(value, list) and value:
            return json.dumps(value)[:300]
    return ""


def parse_response(raw: RawResponse, spec: RequestSpec, ctx: ErrorContext) -> Any:
    """Return the payload of a successful response or raise the matching `NemoError`.

    Envelope forms: `{"code": 0, "message", "data"}`, `{"success": true, "data"}` and bare objects.
    A JSON body with a `code` is classified by that code whatever the HTTP status (the service may
    answer 200 with an error code); otherwise the HTTP status decides.
    """
    ok_status = 200 <= raw.status < 300
    if ok_status and (spec.raw_body or raw.handle is not None):
        return raw
    if spec.foreign:
        host = urlsplit(spec.path).hostname or "?"
        raise NemoAPIError(
            f"Fetching the file from {host} failed with HTTP {raw.status} (the link may have expired). "
            "Download by render id to use the API's own download route.",
            http_status=raw.status,
        )
    text = raw.body.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    retry_after = _retry_after(raw.headers)

    def fail(code: int | None, message: str, data: Any = None) -> NemoError:
        return error_for(
            code,
            raw.status,
            message,
            ctx,
            data=data,
            retry_after=retry_after,
            session_bound=spec.session_bound,
        )

    if isinstance(body, dict):
        code = _as_code(body.get("code")) if "code" in body else None
        if "code" in body and code is not None:
            if code == 0 and ok_status:
                return body.get("data", {k: v for k, v in body.items() if k not in ("code", "message")})
            if code != 0:
                raise fail(code, _message_of(body), body.get("data"))
        if isinstance(body.get("success"), bool):
            data = body.get("data")
            if body["success"] and ok_status:
                return data if data is not None else {k: v for k, v in body.items() if k != "success"}
            if not body["success"] and isinstance(data, dict) and "status" in data and ok_status:
                return data  # a render that failed is a status to report, not a transport error
            raise fail(None, _message_of(body) or "request failed", data)
        if ok_status:
            return body
        raise fail(None, _message_of(body), body)
    if ok_status:
        if body is None and not text.strip():
            return {}
        if body is not None:
            return body
        raise NemoAPIError(
            f"The Nemo API answered {spec.name} with a body that is not JSON: "
            f"{scrub(text[:200], ctx.secrets)!r}. Check the connection host (is it the API?).",
            http_status=raw.status,
        )
    raise fail(None, text[:300] if body is None else json.dumps(body)[:300])


# --------------------------------------------------------------------------------------------------
# The generic call: one request plus the recoveries every endpoint shares
# --------------------------------------------------------------------------------------------------
def call(core: ClientCore, spec: RequestSpec) -> Flow[Any]:
    """Perform `spec`, repeating once after 1001 (anonymous token), 400 (missing client id), 429.

    These refusals happen before the server does any work, so one repeat is safe for any call.
    """
    auth_retried = client_id_retried = rate_retried = False
    while True:
        if spec.authenticated and core.token is None:
            yield from acquire_token(core)
        raw = yield Send(spec)
        try:
            return parse_response(raw, spec, core.error_context(spec.session_id))
        except NemoAuthError:
            if spec.authenticated and core.token_is_anonymous and not auth_retried:
                auth_retried = True
                core.drop_token()
                continue
            raise
        except NemoMissingClientIdError:
            if not client_id_retried:
                client_id_retried = True
                if not core.client_id:
                    core.ensure_client_id()
                else:
                    core.client_id = str(uuid.uuid4())
                continue
            raise
        except NemoRateLimitError as err:
            if not rate_retried:
                rate_retried = True
                wait = err.retry_after if err.retry_after is not None else DEFAULT_RETRY_AFTER_S
                yield Sleep(wait)
                continue
            raise
        except NemoInsufficientCreditsError as err:
            if err.available is None and spec.name != "credits":
                try:
                    balance = yield from credits(core)
                except NemoError:
                    raise err from None
                raise insufficient_credits(
                    core.error_context(spec.session_id), balance.available, err.http_status
                ) from None
            raise


def with_new_session(
    core: ClientCore, session_id: str, build: Callable[[str], RequestSpec]
) -> Flow[tuple[Any, str]]:
    """Run a session-bound call; on 1002 create a new session once and repeat it there."""
    try:
        data = yield from call(core, build(session_id))
        return data, session_id
    except NemoSessionNotFoundError:
        info = yield from create_session(core)
        data = yield from call(core, build(info.session_id))
        return data, info.session_id


# --------------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------------
def acquire_token(core: ClientCore) -> Flow[AnonymousToken]:
    core.ensure_client_id()  # sent as X-Client-Id by headers_for(), so a regenerated id is used on retry
    spec = RequestSpec(
        name="anonymous token",
        method="POST",
        path="/api/auth/anonymous-token",
        authenticated=False,
        idempotent=True,  # one token per client id: asking again returns the same one
    )
    data = yield from call(core, spec)
    token = AnonymousToken.model_validate(data)
    core.set_anonymous_token(token)
    return token


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


def credits(core: ClientCore) -> Flow[Credits]:
    spec = RequestSpec(name="credits", method="GET", path="/api/credits/balance/simple", idempotent=True)
    data = yield from call(core, spec)
    return Credits.model_validate(data)


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
    data = yield from call(core, _state_spec(session_id))
    return SessionState.from_api(data)


def check_upload_file(path: str | os.PathLike[str]) -> FilePart:
    """Refuse before sending what the service would refuse after 200 MB of upload."""
    p = Path(path)
    ext = p.suffix.lower().lstrip(".")
    if ext not in ACCEPTED_UPLOAD_EXTENSIONS:
        raise unsupported_file_type(p.name)
    size = p.stat().st_size  # FileNotFoundError names the path: clear enough
    if size > MAX_UPLOAD_BYTES:
        raise file_too_large(p.name, size)
    content_type = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
    return FilePart(field="files", path=p, filename=p.name, content_type=content_type)


def upload(
    core: ClientCore,
    session_id: str,
    files: Sequence[str | os.PathLike[str]] | None = None,
    urls: Sequence[str] | None = None,
) -> Flow[UploadResult]:
    # Files are checked here; URLs only by the service (CDN links often carry no extension).
    parts = tuple(check_upload_file(f) for f in files or ())
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


def open_message_stream(
    core: ClientCore, session_id: str, text: str, *, streaming: bool, read_timeout: float
) -> Flow[RawResponse]:
    spec = RequestSpec(
        name="run_sse",
        method="POST",
        path="/run_sse",
        json={
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]},
            "streaming": streaming,
        },
        headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
        stream=True,
        session_bound=True,
        session_id=session_id,
        idempotent=False,
        read_timeout=read_timeout,
    )
    raw = yield from call(core, spec)
    assert isinstance(raw, RawResponse)
    return raw


def _draft_wire(s: SessionState | None) -> dict[str, Any] | None:
    return s.draft.to_wire() if s is not None and s.draft is not None else None


def send_message(
    core: ClientCore,
    session_id: str,
    text: str,
    *,
    on_text: Callable[[str], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    streaming: bool = True,
    timeout: float = MESSAGE_CEILING_S,
    logger: LoggerLike | None = None,
) -> Flow[MessageResult]:
    """Send one message and read the reply; never sends it twice.

    The state is read before sending so a silent turn (no text at all, ~30 % of edits) can still be
    reported: the state is read again and the draft compared. A stream that breaks is reported as a
    `NemoStreamError` carrying what arrived and the timeline read afterwards.
    """
    started = core.clock()
    before = yield from state(core, session_id)  # also: 1002 surfaces here, before anything is sent
    # The ceiling is enforced by the runners (a watchdog / a cancel scope); the read timeout is a backstop.
    raw = yield from open_message_stream(
        core, session_id, text, streaming=streaming, read_timeout=timeout + READ_TIMEOUT_GRACE_S
    )
    acc = MessageAccumulator(
        on_text=on_text,
        on_progress=on_progress,
        clock=core.clock,
        started=started,
        timeout=timeout,
        logger=logger,
    )
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def on_bytes(chunk: bytes) -> None:
        acc.feed_text(decoder.decode(chunk))

    broke: BaseException | None = yield Drain(raw.handle, on_bytes, deadline=started + timeout)
    if broke is None:
        acc.feed_text(decoder.decode(b"", final=True))
    result = acc.finish(session_id=session_id)
    if broke is not None or not result.texts:
        try:
            after: SessionState | None = yield from state(core, session_id)
        except NemoError:
            after = None
        if after is not None:
            before_wire, after_wire = _draft_wire(before), _draft_wire(after)
            result.draft_changed = before_wire != after_wire
            result.timeline_summary = (
                after.draft.summary() if after.draft is not None else "Timeline (0 tracks): empty"
            )
            if broke is None and on_progress is not None:
                what = "The timeline changed" if result.draft_changed else "The timeline did not change"
                on_progress(f"The agent answered without text. {what}: {result.timeline_summary}")
    result.elapsed = core.clock() - started
    if broke is not None:
        reason = "timed out" if isinstance(broke, NemoStreamError) else f"broke ({type(broke).__name__})"
        summary = f" Timeline now: {result.timeline_summary}" if result.timeline_summary else ""
        raise NemoStreamError(
            f"The reply stream {reason} after {result.elapsed:.0f} s. The message was NOT re-sent (a repeat "
            f"is charged twice); check the session before sending again.{summary}",
            partial=result,
        )
    return result


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
    """Stream the file to `dest` (a file path, or an existing directory to put it in)."""
    raw, render_id = yield from open_download(core, url_or_render_id)
    target = Path(dest)
    if target.is_dir():
        handle_url = str(getattr(getattr(raw.handle, "url", None), "path", "") or "")
        name = Path(handle_url).name if handle_url and "." in Path(handle_url).name else ""
        target = target / (name or f"{render_id or 'nemo-download'}.bin")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as fh:

        def write(chunk: bytes) -> None:
            fh.write(chunk)

        broke = yield Drain(raw.handle, write)
    if broke is not None:
        partial.unlink(missing_ok=True)
        raise NemoConnectionError(
            f"The download broke before the end ({type(broke).__name__}); nothing was kept. Try again.",
        )
    os.replace(partial, target)
    return DownloadResult(path=target, size=target.stat().st_size)


# --------------------------------------------------------------------------------------------------
# Transport retry policy (tenacity), the same for both runners
# --------------------------------------------------------------------------------------------------
def retry_policy(spec: RequestSpec, max_retries: int, wait_cap: float, logger: LoggerLike) -> dict[str, Any]:
    """Exponential backoff on network errors and 5xx, for calls that are safe to repeat only."""

    def log_retry(state: Any) -> None:
        logger.warning(
            "Nemo API %s failed (attempt %d); retrying with backoff.", spec.name, state.attempt_number
        )

    return {
        "retry": retry_if_exception_type(httpx.TransportError) | retry_if_result(_is_server_error),
        "stop": stop_after_attempt(max(1, max_retries + 1) if spec.idempotent else 1),
        "wait": wait_exponential(multiplier=0.5, min=0.5, max=wait_cap),
        "before_sleep": log_retry,
        "retry_error_callback": _last_outcome,
        "reraise": True,
    }


def build_http_request(
    http: httpx.Client | httpx.AsyncClient,
    core: ClientCore,
    spec: RequestSpec,
    default_timeout: float,
    stack: contextlib.ExitStack,
) -> httpx.Request:
    """The httpx request for a spec, the same for both runners (building a request does no I/O).

    Upload files are opened in ``stack`` and handed to httpx as file objects, so the body is
    streamed from disk in chunks rather than read into memory.
    """
    timeout = httpx.Timeout(default_timeout, read=spec.read_timeout) if spec.read_timeout else default_timeout
    files = [
        (part.field, (part.filename, stack.enter_context(open(part.path, "rb")), part.content_type))  # noqa: SIM115 - streamed in chunks, closed by the caller's stack
        for part in spec.files
    ]
    return http.build_request(
        spec.method,
        core.url_for(spec),
        headers=core.headers_for(spec),
        json=spec.json if not files else None,
        files=files or None,
        timeout=timeout,
    )


def _is_server_error(raw: Any) -> bool:
    """HTTP 5xx, or a 5xx envelope code (a server that answers errors with HTTP 200)."""
    if not isinstance(raw, RawResponse):
        return False
    if raw.status >= 500:
        return True
    if (
        raw.handle is not None
        or not raw.body
        or len(raw.body) > 65536
        or not raw.body.lstrip().startswith(b"{")
    ):
        return False
    try:
        code = _as_code(json.loads(raw.body).get("code"))
    except (ValueError, AttributeError):
        return False
    return code is not None and 500 <= code <= 599


def _last_outcome(retry_state: Any) -> Any:
    return retry_state.outcome.result()


def connection_error(core: ClientCore, spec: RequestSpec, exc: BaseException) -> NemoConnectionError:
    """A network failure, worded by whether the request may have reached the server."""
    where = _origin(core.url_for(spec))
    host = f"{where[0]}://{where[1]}" + (f":{where[2]}" if where[2] not in (80, 443) else "")
    detail = scrub(str(exc) or type(exc).__name__, core.error_context().secrets)
    if spec.idempotent:
        advice = "It was retried with backoff. Check the connection host and the network."
    else:
        advice = (
            "It was not repeated automatically, because repeating it is not safe; it may or may not have "
            "reached the service. Check the connection host and the network."
        )
    return NemoConnectionError(
        f"Could not complete {spec.name} with the Nemo API at {host}: {detail}. {advice}"
    )
