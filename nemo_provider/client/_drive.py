"""The one drive loop: runs a flow to its end for every runner (httpx sync, httpx async, aiohttp polls).

A runner supplies a ``Performer`` (three small I/O methods); everything else is here, once: feeding
results back, throwing ``NemoError`` into the flow at the point that caused it, answering ``Backoff``
from the runner's ``RetryPolicy``, logging waits, and the little file I/O the flows need (an upload's
size, a download written to disk).

The loop is a coroutine. The sync runner's performer blocks instead of awaiting, so its coroutine
never suspends and :func:`run_sync` completes it with a single ``send`` and no event loop: one loop
for both worlds, rather than a copy per runner that can drift.
"""

from __future__ import annotations

import os
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from nemo_provider.client._logging import LoggerLike
from nemo_provider.client._ops import Backoff, Drain, Flow, RawResponse, RequestSpec, Save, Send, Sleep
from nemo_provider.client._retry import RetryPolicy
from nemo_provider.client.errors import NemoConnectionError, NemoError
from nemo_provider.client.models import DownloadResult

T = TypeVar("T")


class Performer(Protocol):
    """The I/O of one runner. ``send`` raises ``NemoConnectionError`` for a network failure."""

    async def send(self, spec: RequestSpec) -> RawResponse: ...

    async def sleep(self, seconds: float) -> None: ...

    async def drain(self, op: Drain) -> BaseException | None:
        """Read the body into ``op.on_bytes``; the exception that ended it early, or None. Closes it."""
        ...


async def drive(flow: Flow[T], io: Performer, policy: RetryPolicy, log: LoggerLike) -> T:
    """Perform each operation ``flow`` yields with ``io`` and send back its result; return the flow's."""
    result: Any = None
    error: NemoError | None = None
    while True:
        try:
            op = flow.send(result) if error is None else flow.throw(error)
        except StopIteration as done:
            return done.value
        result, error = None, None
        try:
            if isinstance(op, Send):
                result = await io.send(op.spec)
            elif isinstance(op, Backoff):
                wait = policy.delay(op.attempt)
                result = wait is not None
                if wait is not None:
                    log.warning(
                        "Nemo API %s failed (attempt %d); retrying in %.1f s.", op.name, op.attempt, wait
                    )
                    await io.sleep(wait)
            elif isinstance(op, Sleep):
                log.warning("Nemo API %s: waiting %.0f s before the one retry.", op.why, op.seconds)
                await io.sleep(op.seconds)
            elif isinstance(op, Drain):
                result = await io.drain(op)
            elif isinstance(op, Save):
                result = await save(op, io)
            else:
                result = op.path.stat().st_size
        except NemoError as exc:
            error = exc


async def save(op: Save, io: Performer) -> DownloadResult:
    """Write a downloaded body next to its target as ``.part``, then rename; nothing kept if it broke."""
    target = op.dest / op.name if op.dest.is_dir() else op.dest
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as fh:  # noqa: ASYNC230 - local disk, written as the chunks arrive

        def write(chunk: bytes) -> None:
            fh.write(chunk)

        broke = await io.drain(Drain(op.handle, write))
    if broke is not None:
        partial.unlink(missing_ok=True)
        raise NemoConnectionError(
            f"The download broke before the end ({type(broke).__name__}); nothing was kept. Try again.",
        )
    os.replace(partial, target)
    return DownloadResult(path=target, size=target.stat().st_size)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Complete a coroutine whose awaits never suspend (the sync performer blocks), without a loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a synchronous Nemo runner suspended: its performer must block, never await I/O")
