"""One pooled ``httpx.AsyncClient`` per (event loop, base URL) for the triggers of one triggerer process.

A triggerer runs hundreds of triggers in one event loop. Opening a client (and a TCP/TLS connection)
per trigger or per poll is what makes HTTP-polling triggers expensive; sharing one pool per base URL
keeps connections alive across polls and triggers. Keyed by loop because an ``httpx.AsyncClient`` is
bound to the loop it first ran in; the per-loop map is weak so a finished loop frees its clients.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def shared_http_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    """The running loop's pooled client for ``base_url``, created on first use.

    Must be called from inside a running event loop. Connections are capped so that a burst of polls
    queues briefly instead of opening hundreds of sockets.
    """
    import httpx

    loop = asyncio.get_running_loop()
    per_loop = _registry.setdefault(loop, {})
    client = per_loop.get(base_url)
    if client is None or client.is_closed:
        transport = _pooled_transport()
        client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), transport=transport)
        per_loop[base_url] = client
        _transports.setdefault(loop, {})[base_url] = transport
        _close_on_loop_shutdown(loop)
    return client


_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def _close_on_loop_shutdown(loop: asyncio.AbstractEventLoop) -> None:
    """Park one task per loop that closes the loop's pools when it is cancelled.

    Nothing tells a library that an event loop is ending, but ``asyncio.run`` and ``asyncio.Runner``
    (the triggerer's loop, pytest-asyncio's loops) cancel every pending task and wait for them before
    closing the loop. Without this, the aiohttp connectors are garbage-collected unclosed and aiohttp
    prints "Unclosed connector" at interpreter exit.
    """
    task = _closers.get(loop)
    if task is not None and not task.done():
        return
    _closers[loop] = loop.create_task(_close_when_cancelled(), name="nemo-shared-pool-closer")


async def _close_when_cancelled() -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await _close_pools(asyncio.get_running_loop())


def shared_aiohttp_session(base_url: str) -> Any:
    """The aiohttp session under the running loop's pooled client for ``base_url`` (None if none yet)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    transport = _transports.get(loop, {}).get(base_url)
    return transport.session() if transport is not None else None


#: Connections per pool. A few keep-alive connections carry thousands of short polls; more only adds
#: sockets and server load.
MAX_CONNECTIONS = 8


def _pooled_transport() -> httpx.AsyncBaseTransport:
    """An httpx transport over one keep-alive aiohttp connection pool.

    The client speaks httpx; this only swaps what carries the bytes. httpcore (httpx's own pool)
    re-scans its queue against every connection whenever one frees up and goes through anyio for each
    socket call, which made a poll cost ~2-4 ms of CPU with hundreds of triggers in one loop (measured by
    bench/trigger_density.py); aiohttp's pool and C parser do the same poll for a fraction of that.
    Responses are streamed (the connection goes back to the pool when httpx closes the response) and
    aiohttp's errors are raised as httpx's, so the client's retry and error mapping are unchanged.
    """
    import aiohttp
    import httpx
    from multidict import CIMultiDict

    class _Stream(httpx.AsyncByteStream):
        def __init__(self, response: aiohttp.ClientResponse) -> None:
            self._response = response

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            try:
                async for chunk in self._response.content.iter_chunked(64 * 1024):
                    yield chunk
            except aiohttp.ClientPayloadError as err:
                raise httpx.RemoteProtocolError(str(err)) from err
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                raise httpx.ReadError(str(err)) from err

        async def aclose(self) -> None:
            self._response.release()

    class _AiohttpTransport(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self._session: aiohttp.ClientSession | None = None

        def session(self) -> aiohttp.ClientSession:
            return self._get_session()

        def _get_session(self) -> aiohttp.ClientSession:
            if self._session is None or self._session.closed:
                connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=MAX_CONNECTIONS)
                # httpx decodes content-encoding itself: aiohttp must hand over the raw bytes.
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    auto_decompress=False,
                    cookie_jar=aiohttp.DummyCookieJar(),  # the API uses bearer tokens, not cookies
                )
            return self._session

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            t = request.extensions.get("timeout") or {}
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=t.get("connect"), sock_read=t.get("read"), connect=t.get("pool")
            )
            body: Any = request.content if isinstance(request.stream, httpx.ByteStream) else request.stream
            try:
                response = await self._get_session().request(
                    request.method,
                    str(request.url),
                    headers=CIMultiDict(request.headers.multi_items()),
                    data=body or None,
                    allow_redirects=False,
                    timeout=timeout,
                    skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
                )
            except asyncio.TimeoutError as err:
                raise httpx.ConnectTimeout(f"timed out: {request.method} {request.url.path}") from err
            except aiohttp.ClientConnectorError as err:
                raise httpx.ConnectError(str(err)) from err
            except aiohttp.ClientError as err:
                raise httpx.ReadError(str(err)) from err
            return httpx.Response(
                status_code=response.status,
                headers=list(response.raw_headers),
                stream=_Stream(response),
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
            )

        async def aclose(self) -> None:
            if self._session is not None:
                await self._session.close()

    return _AiohttpTransport()


def shared_client_count() -> int:
    """How many pooled clients the running loop holds (for tests and the density benchmark)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return 0
    return len(_registry.get(loop, {}))


async def aclose_shared_clients() -> None:
    """Close the running loop's pooled clients now (they are also closed when the loop shuts down)."""
    await _close_pools(asyncio.get_running_loop())  # the parked closer stays for pools made later


async def _close_pools(loop: asyncio.AbstractEventLoop) -> None:
    _transports.pop(loop, None)
    for client in _registry.pop(loop, {}).values():
        await client.aclose()


_tokens: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], Any]] = (
    weakref.WeakKeyDictionary()
)
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def shared_anonymous_token(base_url: str, client_id: str, acquire: Callable[[], Awaitable[T]]) -> T:
    """One anonymous-token request per (base URL, client id) per loop, however many triggers start.

    The service hands the same token back for the same client id anyway; asking once instead of once
    per trigger saves a request per trigger when a triggerer starts with hundreds of them.
    """
    loop = asyncio.get_running_loop()
    tokens = _tokens.setdefault(loop, {})
    key = (base_url, client_id)
    if key not in tokens:
        lock = _locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())
        async with lock:
            if key not in tokens:
                tokens[key] = await acquire()
    return tokens[key]
