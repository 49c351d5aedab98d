"""One pooled aiohttp session per (event loop, base URL) for the triggers of one triggerer process.

A triggerer runs hundreds of triggers in one event loop. Opening a session (and a TCP/TLS connection)
per trigger or per poll is what makes HTTP-polling triggers expensive (the http provider's
``HttpSensorTrigger`` and the dbt Cloud trigger open one per poll); sharing one keep-alive pool per
base URL makes a poll one small request on an open connection. aiohttp, not httpx: with a thousand
triggers, httpx's request building and httpcore's pool (which re-scans its queue against every
connection whenever one frees up) cost more CPU per poll than the http provider's trigger itself
(measured with bench/trigger_density.py). Every request of a trigger goes out on this one session
(``AsyncNemoClient(session=...)``), so there is one HTTP path.

Sessions are bound to the loop they were made in, so they and the tokens are kept per loop, in one weak
map: an ended loop frees its sessions, and its tokens with them. The pooled clients' loggers are bound
to no loop and are kept per process (``shared_logger``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import aiohttp

T = TypeVar("T")

#: Connections per pool. A few keep-alive connections carry thousands of short polls; more only adds
#: sockets and server load.
MAX_CONNECTIONS = 8


@dataclass
class _LoopState:
    """What the triggers of one event loop share."""

    sessions: dict[str, aiohttp.ClientSession] = field(default_factory=dict)
    tokens: dict[tuple[str, str], Any] = field(default_factory=dict)
    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    closer_parked: bool = False


#: No value may keep a reference to its loop once the loop has ended, or the loop is never freed:
#: the closer task (which does) is held in ``_closers`` only until the loop's shutdown ends it, and
#: closing clears the sessions and the (loop-bound) locks.
_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
_closers: set[asyncio.Task[None]] = set()
#: The one logger per key (the hook's class and logger name) that the pooled clients log through.
_loggers: dict[Hashable, Any] = {}


def _state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        state = _loops[loop] = _LoopState()
    return state


def shared_session(base_url: str) -> aiohttp.ClientSession:
    """The running loop's pooled session for ``base_url``, created on first use.

    Must be called from inside a running event loop. Connections are capped so that a burst of polls
    queues briefly instead of opening hundreds of sockets.
    """
    import aiohttp

    state = _state()
    session = state.sessions.get(base_url)
    if session is None or session.closed:
        session = state.sessions[base_url] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=MAX_CONNECTIONS),
            cookie_jar=aiohttp.DummyCookieJar(),  # the API uses bearer tokens, not cookies
        )
        if not state.closer_parked:
            state.closer_parked = True
            closer = asyncio.get_running_loop().create_task(
                _close_when_cancelled(state), name="nemo-pool-closer"
            )
            _closers.add(closer)
            closer.add_done_callback(_closers.discard)
    return session


async def _close_when_cancelled(state: _LoopState) -> None:
    """Close the loop's sessions when the loop shuts down.

    Nothing tells a library that an event loop is ending, but ``asyncio.run`` and ``asyncio.Runner``
    (the triggerer's loop, pytest-asyncio's loops) cancel every pending task and wait for them before
    closing the loop: this parked task is cancelled then. Without it the connectors would be
    garbage-collected unclosed, and aiohttp prints "Unclosed connector" at interpreter exit.
    """
    try:
        await asyncio.Event().wait()
    finally:
        await _close(state)


async def _close(state: _LoopState) -> None:
    sessions, state.sessions = state.sessions, {}
    state.tokens.clear()
    state.locks.clear()
    for session in sessions.values():
        await session.close()


def shared_session_count() -> int:
    """How many pooled sessions the running loop holds (for tests)."""
    try:
        state = _loops.get(asyncio.get_running_loop())
    except RuntimeError:
        return 0
    return len(state.sessions) if state else 0


async def aclose_shared_sessions() -> None:
    """Close the running loop's sessions and forget its tokens now (also done when the loop ends)."""
    await _close(_state())  # the parked closer stays for sessions made later


async def shared_anonymous_token(base_url: str, client_id: str, acquire: Callable[[], Awaitable[T]]) -> T:
    """One anonymous-token request per (base URL, client id) per loop, however many triggers start.

    The service hands the same token back for the same client id anyway; asking once instead of once
    per trigger saves a request per trigger when a triggerer starts with hundreds of them.
    """
    state = _state()
    key = (base_url, client_id)
    if key not in state.tokens:
        async with state.locks.setdefault(key, asyncio.Lock()):
            if key not in state.tokens:
                state.tokens[key] = await acquire()
    token: T = state.tokens[key]
    return token


def shared_logger(key: Hashable, make: Callable[[], T]) -> T:
    """The one logger for ``key``, made by ``make()`` on first use, for the clients on the pool.

    A trigger keeps its client, and so the logger it was given, for the whole deferral: a logger per
    trigger is ~350 B each in a triggerer holding a thousand. Loggers are bound to no event loop, so
    this map is the process's, not the loop's.
    """
    log: T | None = _loggers.get(key)
    if log is None:
        log = _loggers[key] = make()
    return log
