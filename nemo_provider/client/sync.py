"""`NemoClient`: the synchronous runner of the flows in `_flows` (the API itself lives there).

Its I/O is blocking httpx; the loop that drives a flow is the shared one in `_drive`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from nemo_provider.client import _flows as flows
from nemo_provider.client._core import ClientCore, connection_error
from nemo_provider.client._drive import drive, run_sync
from nemo_provider.client._http import build_http_request
from nemo_provider.client._identity import ClientIdentity
from nemo_provider.client._logging import LoggerLike
from nemo_provider.client._message import send_message
from nemo_provider.client._ops import Drain, Flow, RawResponse, RequestSpec, deadline_passed
from nemo_provider.client._retry import RetryPolicy
from nemo_provider.client.constants import MESSAGE_CEILING_S
from nemo_provider.client.draft import Draft
from nemo_provider.client.errors import NemoStreamError
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

T = TypeVar("T")
_LOG = logging.getLogger("nemo_provider.client")


class NemoClient(ClientIdentity):
    """Synchronous Nemo API client. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        client_id: str | None = None,
        *,
        language: str = "en",
        timeout: float = 30.0,
        platform: str = "airflow",
        transport: httpx.BaseTransport | None = None,
        logger: LoggerLike | None = None,
        max_retries: int = 3,
        retry_wait_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        token_source: str | None = None,
    ) -> None:
        self._core = ClientCore(
            base_url,
            token,
            client_id,
            language=language,
            platform=platform,
            token_source=token_source,
            clock=clock,
        )
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_wait_cap = retry_wait_cap
        self._sleep = sleep
        self._log: LoggerLike = logger or _LOG
        self._http = httpx.Client(transport=transport, timeout=timeout)

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NemoClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the API ----------------------------------------------------------------------------------
    def acquire_anonymous_token(self) -> AnonymousToken:
        return self._run(flows.acquire_token(self._core))

    def create_session(self, task_name: str = "project", language: str | None = None) -> SessionInfo:
        return self._run(flows.create_session(self._core, task_name, language))

    def send_message(
        self,
        session_id: str,
        text: str,
        *,
        on_text: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
        streaming: bool = True,
        timeout: float = MESSAGE_CEILING_S,
        before: SessionState | None = None,
    ) -> MessageResult:
        """Send one message; never re-sent, since a repeat is charged twice.

        ``before``: the session's state the caller has just read (what ``state(session_id)`` returned),
        so the client does not read it again (it compares the draft against it after a turn without
        text). A state of another session, or naming none, is a ValueError before anything is sent.
        """
        return self._run(
            send_message(
                self._core,
                session_id,
                text,
                on_text=on_text,
                on_progress=on_progress,
                streaming=streaming,
                timeout=timeout,
                logger=self._log,
                before=before,
            )
        )

    def upload(
        self,
        session_id: str,
        files: Sequence[str | os.PathLike[str]] | None = None,
        urls: Sequence[str] | None = None,
    ) -> UploadResult:
        return self._run(flows.upload(self._core, session_id, files, urls))

    def credits(self) -> Credits:
        return self._run(flows.credits(self._core))

    def state(self, session_id: str) -> SessionState:
        return self._run(flows.state(self._core, session_id))

    def create_render(
        self,
        session_id: str,
        draft: Draft | Mapping[str, Any],
        format: str = "mp4",
        quality: str = "high",
        render_id: str | None = None,
        *,
        rename_on_duplicate: bool = True,
    ) -> RenderStatus:
        return self._run(
            flows.create_render(
                self._core, session_id, draft, format, quality, render_id, rename_on_duplicate
            )
        )

    def render_status(self, render_id: str) -> RenderStatus:
        return self._run(flows.render_status(self._core, render_id))

    def cancel_render(self, render_id: str) -> RenderStatus:
        return self._run(flows.cancel_render(self._core, render_id))

    def download(self, url_or_render_id: str, dest: str | os.PathLike[str]) -> DownloadResult:
        return self._run(flows.download(self._core, url_or_render_id, dest))

    # -- the runner -------------------------------------------------------------------------------
    def _run(self, flow: Flow[T]) -> T:
        policy = RetryPolicy(max_retries=self.max_retries, wait_cap=self.retry_wait_cap)
        return run_sync(drive(flow, _Blocking(self), policy, self._log))


class _Blocking:
    """The sync client's I/O, written as coroutines that never suspend (see ``_drive.run_sync``)."""

    def __init__(self, client: NemoClient) -> None:
        self._client = client

    async def send(self, spec: RequestSpec) -> RawResponse:
        c = self._client
        try:
            with contextlib.ExitStack() as stack:
                request = build_http_request(c._http, c._core, spec, c.timeout, stack)
                response = c._http.send(request, stream=spec.stream, follow_redirects=spec.raw_body)
                if not spec.stream:
                    return RawResponse(response.status_code, response.headers, response.content)
                if response.is_success:
                    return RawResponse(response.status_code, response.headers, handle=response)
                try:
                    body = response.read()
                finally:
                    response.close()
                return RawResponse(response.status_code, response.headers, body)
        except httpx.TransportError as exc:
            raise connection_error(c._core, spec, exc, retried=c.max_retries > 0) from exc

    async def sleep(self, seconds: float) -> None:
        self._client._sleep(seconds)

    async def drain(self, op: Drain) -> BaseException | None:
        """Read the body; at the deadline a watchdog shuts the socket down to wake the blocked read.

        A thread cannot cancel a blocking read, but `shutdown()` on its socket makes it return at
        once, so a silent stream ends at the ceiling instead of one read timeout later. Transports
        without a real socket (tests) fall back to the per-chunk deadline check and the read timeout.
        """
        handle: httpx.Response = op.handle
        fired = threading.Event()
        watchdog = self._watchdog(handle, op.deadline, fired)
        try:
            for chunk in handle.iter_bytes():
                op.on_bytes(chunk)
            return deadline_passed() if fired.is_set() else None
        except (httpx.HTTPError, httpx.StreamError, NemoStreamError) as exc:
            return deadline_passed() if fired.is_set() else exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
            handle.close()

    def _watchdog(
        self, handle: httpx.Response, deadline: float | None, fired: threading.Event
    ) -> threading.Timer | None:
        stream = handle.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if deadline is None or not isinstance(sock, socket.socket):
            return None

        def stop() -> None:
            fired.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(max(0.0, deadline - self._client._core.clock()), stop)
        timer.daemon = True
        timer.start()
        return timer
