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
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        per_loop[base_url] = client
    return client


def shared_client_count() -> int:
    """How many pooled clients the running loop holds (for tests and the density benchmark)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return 0
    return len(_registry.get(loop, {}))


async def aclose_shared_clients() -> None:
    """Close the running loop's pooled clients (tests and benchmarks; triggerers just exit)."""
    loop = asyncio.get_running_loop()
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
