"""`NemoClient`: the synchronous runner of the flows in `_requests` (the API itself lives there)."""

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
from tenacity import Retrying

from nemo_provider.client import _requests as api
from nemo_provider.client._identity import ClientIdentity
from nemo_provider.client._logging import LoggerLike
from nemo_provider.client.constants import MESSAGE_CEILING_S
from nemo_provider.client.draft import Draft
from nemo_provider.client.errors import NemoError, NemoStreamError
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
        self._core = api.ClientCore(
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
        return self._run(api.acquire_token(self._core))

    def create_session(self, task_name: str = "project", language: str | None = None) -> SessionInfo:
        return self._run(api.create_session(self._core, task_name, language))

    def send_message(
        self,
        session_id: str,
        text: str,
        *,
        on_text: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
        streaming: bool = True,
        timeout: float = MESSAGE_CEILING_S,
    ) -> MessageResult:
        """Send one message; never re-sent, since a repeat is charged twice."""
        return self._run(
            api.send_message(
                self._core,
                session_id,
                text,
                on_text=on_text,
                on_progress=on_progress,
                streaming=streaming,
                timeout=timeout,
                logger=self._log,
            )
        )

    def upload(
        self,
        session_id: str,
        files: Sequence[str | os.PathLike[str]] | None = None,
        urls: Sequence[str] | None = None,
    ) -> UploadResult:
        return self._run(api.upload(self._core, session_id, files, urls))

    def credits(self) -> Credits:
        return self._run(api.credits(self._core))

    def state(self, session_id: str) -> SessionState:
        return self._run(api.state(self._core, session_id))

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
            api.create_render(self._core, session_id, draft, format, quality, render_id, rename_on_duplicate)
        )

    def render_status(self, render_id: str) -> RenderStatus:
        return self._run(api.render_status(self._core, render_id))

    def cancel_render(self, render_id: str) -> RenderStatus:
        return self._run(api.cancel_render(self._core, render_id))

    def download(self, url_or_render_id: str, dest: str | os.PathLike[str]) -> DownloadResult:
        return self._run(api.download(self._core, url_or_render_id, dest))

    # -- the runner -------------------------------------------------------------------------------
    def _run(self, flow: api.Flow[T]) -> T:
        try:
            op = next(flow)
            while True:
                if isinstance(op, api.Send):
                    try:
                        result: Any = self._send(op.spec)
                    except NemoError as exc:
                        op = flow.throw(exc)
                        continue
                elif isinstance(op, api.Sleep):
                    self._log.warning("Nemo API rate limit: waiting %.0f s before the one retry.", op.seconds)
                    self._sleep(op.seconds)
                    result = None
                else:
                    result = self._drain(op)
                op = flow.send(result)
        except StopIteration as stop:
            return stop.value

    def _send(self, spec: api.RequestSpec) -> api.RawResponse:
        retrying = Retrying(
            sleep=self._sleep,
            **api.retry_policy(spec, self.max_retries, self.retry_wait_cap, self._log),
        )
        try:
            raw: api.RawResponse = retrying(self._send_once, spec)
        except httpx.TransportError as exc:
            raise api.connection_error(self._core, spec, exc) from exc
        return raw

    def _send_once(self, spec: api.RequestSpec) -> api.RawResponse:
        with contextlib.ExitStack() as stack:
            request = api.build_http_request(self._http, self._core, spec, self.timeout, stack)
            response = self._http.send(request, stream=spec.stream, follow_redirects=spec.raw_body)
            if not spec.stream:
                return api.RawResponse(response.status_code, response.headers, response.content)
            if response.is_success:
                return api.RawResponse(response.status_code, response.headers, handle=response)
            try:
                body = response.read()
            finally:
                response.close()
            return api.RawResponse(response.status_code, response.headers, body)

    def _drain(self, op: api.Drain) -> BaseException | None:
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
            return _timed_out() if fired.is_set() else None
        except (httpx.HTTPError, httpx.StreamError, NemoStreamError) as exc:
            return _timed_out() if fired.is_set() else exc
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

        timer = threading.Timer(max(0.0, deadline - self._core.clock()), stop)
        timer.daemon = True
        timer.start()
        return timer


def _timed_out() -> NemoStreamError:
    return NemoStreamError("No end of the reply within the ceiling.", code="timeout")
