"""One pooled ``httpx.AsyncClient`` per (event loop, base URL) for the triggers of one triggerer process.

A triggerer runs hundreds of triggers in one event loop. Opening a client (and a TCP/TLS connection)
per trigger or per poll is what makes HTTP-polling triggers expensive; sharing one pool per base URL
keeps connections alive across polls and triggers. Keyed by loop because an ``httpx.AsyncClient`` is
bound to the loop it first ran in; the per-loop map is weak so a finished loop frees its clients.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

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
