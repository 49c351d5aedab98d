"""The body idle rule, in process (tests/nemo_local/security/test_redteam_slow.py holds it over HTTP): the
time a body spends waiting in receive() may reach --body-idle-seconds before 16 KB have come, the app's
own work between reads does not count, and one deadline serves the whole body (no task per chunk)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from nemo_local.api.guard import BODY_PROGRESS_BYTES, BodyLimitMiddleware, BodyStalled
from nemo_local.limits import Limits, replace

IDLE_S = 0.3
MULTIPART = [(b"content-type", b"multipart/form-data; boundary=x")]


def _scope(idle: float = IDLE_S, in_200: bool = False) -> Scope:
    limits = replace(Limits(), body_idle_seconds=idle)
    config = SimpleNamespace(limits=limits, faults=SimpleNamespace(errors_in_200=in_200))
    app = SimpleNamespace(state=SimpleNamespace(nemo=SimpleNamespace(config=config)))
    return {"type": "http", "app": app, "headers": MULTIPART, "path": "/upload"}


def _client(chunks: list[tuple[float, int]], then_stall: bool = False) -> Receive:
    """A client sending (delay before it, size) chunks, then the end (or nothing, for ever)."""
    queue = list(chunks)

    async def receive() -> Message:
        if not queue:
            await asyncio.Event().wait()  # a client that stopped sending
        delay, size = queue.pop(0)
        if delay:
            await asyncio.sleep(delay)
        return {"type": "http.request", "body": b"\0" * size, "more_body": bool(queue) or then_stall}

    return receive


def _reader(between_s: float = 0.0) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An app reading the whole body, working `between_s` after each chunk."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if not message.get("more_body"):
                return
            if between_s:
                await asyncio.sleep(between_s)

    return app


async def _noop_send(message: Message) -> None:
    return None


async def _run(receive: Receive, app: Any = None) -> float:
    started = time.monotonic()
    await BodyLimitMiddleware(app or _reader())(_scope(), receive, _noop_send)
    return time.monotonic() - started


@pytest.mark.asyncio
async def test_a_stalled_body_is_cut_off_after_the_idle_interval() -> None:
    started = time.monotonic()
    with pytest.raises(BodyStalled) as caught:
        await _run(_client([(0, 1024)], then_stall=True))
    took = time.monotonic() - started
    assert IDLE_S * 0.9 < took < IDLE_S + 2.0, took
    assert caught.value.error.data["value"] == 1024  # what had been received


@pytest.mark.asyncio
async def test_a_drip_is_cut_off_though_it_never_stops() -> None:
    drip = [(IDLE_S / 6, 10)] * 100  # a chunk every 50 ms, far below 16 KB per interval
    started = time.monotonic()
    with pytest.raises(BodyStalled):
        await _run(_client(drip))
    took = time.monotonic() - started
    assert IDLE_S * 0.9 < took < IDLE_S + 2.0, took


@pytest.mark.asyncio
async def test_the_apps_own_work_between_reads_does_not_count() -> None:
    """Reads that return at once, the app working 2 intervals after each: the client was never slow."""
    took = await _run(_client([(0, 1024)] * 3), _reader(between_s=2 * IDLE_S))
    assert took >= 4 * IDLE_S  # it ran to the end, through the app's work


@pytest.mark.asyncio
async def test_steady_progress_is_never_cut_off() -> None:
    """16 KB every half interval for three intervals: each 16 KB begins a new interval."""
    took = await _run(_client([(IDLE_S / 2, BODY_PROGRESS_BYTES)] * 6))
    assert took >= 3 * IDLE_S * 0.9


@pytest.mark.asyncio
async def test_one_deadline_for_the_whole_body_not_a_task_per_chunk() -> None:
    """asyncio.wait_for started a task per receive(): 65,536 of them for 1 GB in 16 KB chunks."""
    loop = asyncio.get_running_loop()
    created = 0

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        nonlocal created
        created += 1
        return asyncio.Task(coro, loop=loop, **kw)

    loop.set_task_factory(counting)
    try:
        await _run(_client([(0, BODY_PROGRESS_BYTES)] * 2000))
    finally:
        loop.set_task_factory(None)
    assert created == 0


@pytest.mark.asyncio
async def test_a_cancel_from_elsewhere_is_not_taken_for_a_stall() -> None:
    task = asyncio.ensure_future(_run(_client([(0, 1024)], then_stall=True)))
    await asyncio.sleep(IDLE_S / 3)  # the read is waiting now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
@pytest.mark.parametrize(("in_200", "status"), [(False, 400), (True, 200)])
async def test_an_invalid_content_length_is_a_coded_400_that_follows_the_errors_in_200_switch(
    in_200: bool, status: int
) -> None:
    """As every coded error: with the compatibility switch on, HTTP 200 and the code in the envelope."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {**_scope(in_200=in_200), "headers": [*MULTIPART, (b"content-length", b"12abc")]}
    await BodyLimitMiddleware(_reader())(scope, _client([(0, 10)]), send)
    start, body = sent
    assert start["status"] == status
    envelope = json.loads(body["body"])
    assert envelope["code"] == 400 and "Content-Length" in envelope["message"]
