"""`AsyncNemoClient`: the asyncio runner of the flows in `_flows` (the loop that drives them is `_drive`).

Pass a shared `http_client` (or an aiohttp `session`, as triggers do) and it is left open on `aclose()`
(its owner closes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx

from nemo_provider.client import _flows as flows
from nemo_provider.client._core import ClientCore, connection_error
from nemo_provider.client._drive import drive
from nemo_provider.client._http import build_http_request
from nemo_provider.client._identity import ClientIdentity
from nemo_provider.client._logging import LoggerLike
from nemo_provider.client._message import send_message
from nemo_provider.client._ops import Drain, Flow, RawResponse, RequestSpec, deadline_passed
from nemo_provider.client._retry import NO_REPEATS, RetryPolicy
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

if TYPE_CHECKING:
    import aiohttp

T = TypeVar("T")
_LOG = logging.getLogger("nemo_provider.client")


class AsyncNemoClient(ClientIdentity):
    """Asynchronous Nemo API client: the same methods as `NemoClient`, awaited."""

    # Slotted: a triggerer keeps one client per deferred task for the whole deferral.
    __slots__ = (
        "_core",
        "_http",
        "_log",
        "_owns_http",
        "_session",
        "_sleep",
        "max_retries",
        "retry_wait_cap",
        "timeout",
    )

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        client_id: str | None = None,
        *,
        language: str = "en",
        timeout: float = 30.0,
        platform: str = "airflow",
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        session: aiohttp.ClientSession | None = None,
        logger: LoggerLike | None = None,
        max_retries: int = 3,
        retry_wait_cap: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
        # A triggerer's shared aiohttp pool: every request goes out there (no streaming or uploads),
        # and no httpx client is made per trigger.
        self._session = session
        self._owns_http = http_client is None and session is None
        self._http: httpx.AsyncClient | None = (
            http_client
            if http_client is not None or session is not None
            else httpx.AsyncClient(transport=transport, timeout=timeout)
        )

    # -- lifecycle --------------------------------------------------------------------------------
    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncNemoClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- the API ----------------------------------------------------------------------------------
    async def acquire_anonymous_token(self) -> AnonymousToken:
        return await self._run(flows.acquire_token(self._core))

    async def create_session(self, task_name: str = "project", language: str | None = None) -> SessionInfo:
        return await self._run(flows.create_session(self._core, task_name, language))

    async def send_message(
        self,
        session_id: str,
        text: str,
        *,
        on_text: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
        streaming: bool = True,
        timeout: float = MESSAGE_CEILING_S,  # noqa: ASYNC109 - the ceiling is enforced inside, with anyio
        before: SessionState | None = None,
    ) -> MessageResult:
        return await self._run(
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

    async def upload(
        self,
        session_id: str,
        files: Sequence[str | os.PathLike[str]] | None = None,
        urls: Sequence[str] | None = None,
    ) -> UploadResult:
        return await self._run(flows.upload(self._core, session_id, files, urls))

    async def credits(self) -> Credits:
        return await self._run(flows.credits(self._core))

    async def state(self, session_id: str) -> SessionState:
        return await self._run(flows.state(self._core, session_id))

    async def create_render(
        self,
        session_id: str,
        draft: Draft | Mapping[str, Any],
        format: str = "mp4",
        quality: str = "high",
        render_id: str | None = None,
        *,
        rename_on_duplicate: bool = True,
    ) -> RenderStatus:
        return await self._run(
            flows.create_render(
                self._core, session_id, draft, format, quality, render_id, rename_on_duplicate
            )
        )

    async def render_status(self, render_id: str) -> RenderStatus:
        return await self._run(flows.render_status(self._core, render_id))

    async def cancel_render(self, render_id: str) -> RenderStatus:
        return await self._run(flows.cancel_render(self._core, render_id))

    async def download(self, url_or_render_id: str, dest: str | os.PathLike[str]) -> DownloadResult:
        return await self._run(flows.download(self._core, url_or_render_id, dest))

    # -- the runner -------------------------------------------------------------------------------
    async def _run(self, flow: Flow[T]) -> T:
        if self._session is not None:
            # A poller's calls: the same flow on the session, without repeats (a trigger polls again on
            # its own schedule and counts transient errors itself).
            from nemo_provider.client.polling import OnSession

            on_session = OnSession(self._core, self._session, self.timeout)
            return await drive(flow, on_session, NO_REPEATS, self._log)
        policy = RetryPolicy(max_retries=self.max_retries, wait_cap=self.retry_wait_cap)
        return await drive(flow, _Awaiting(self), policy, self._log)


class _Awaiting:
    """The async client's I/O on its ``httpx.AsyncClient``."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncNemoClient) -> None:
        self._client = client

    async def send(self, spec: RequestSpec) -> RawResponse:
        c = self._client
        http = c._http
        assert http is not None  # a client without httpx runs on its session (OnSession)
        try:
            with contextlib.ExitStack() as stack:
                request = build_http_request(http, c._core, spec, c.timeout, stack)
                response = await http.send(request, stream=spec.stream, follow_redirects=spec.raw_body)
                if not spec.stream:
                    return RawResponse(response.status_code, response.headers, response.content)
                if response.is_success:
                    return RawResponse(response.status_code, response.headers, handle=response)
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
                return RawResponse(response.status_code, response.headers, body)
        except httpx.TransportError as exc:
            raise connection_error(c._core, spec, exc, retried=c.max_retries > 0) from exc

    async def sleep(self, seconds: float) -> None:
        await self._client._sleep(seconds)

    async def drain(self, op: Drain) -> BaseException | None:
        handle: httpx.Response = op.handle
        try:
            if op.deadline is None:
                async for chunk in handle.aiter_bytes():
                    op.on_bytes(chunk)
                return None
            remaining = max(0.0, op.deadline - self._client._core.clock())
            with anyio.fail_after(remaining):
                async for chunk in handle.aiter_bytes():
                    op.on_bytes(chunk)
            return None
        except TimeoutError:
            return deadline_passed()
        except (httpx.HTTPError, httpx.StreamError, NemoStreamError) as exc:
            return exc
        finally:
            await handle.aclose()
