"""The one drive loop and the one retry policy, with a scripted performer (no HTTP, no real sleeping).

Every runner (httpx sync, httpx async, aiohttp polls) is `drive(flow, performer, policy, log)`; these
tests run the same flows through it both ways (`run_sync` and an event loop) and assert the requests
sent, the waits asked for and what is raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from nemo_provider.client import _call, _flows
from nemo_provider.client._core import ClientCore
from nemo_provider.client._drive import drive, run_sync
from nemo_provider.client._ops import Drain, Flow, RawResponse, RequestSpec
from nemo_provider.client._retry import NO_REPEATS, RetryPolicy
from nemo_provider.client.constants import MAX_UPLOAD_BYTES
from nemo_provider.client.errors import (
    NemoConnectionError,
    NemoFileTooLargeError,
    NemoRateLimitError,
    NemoServerError,
    NemoSessionNotFoundError,
)
from tests._helpers import fake_token

BASE = "https://mega-api-prod.nemovideo.ai"
LOG = logging.getLogger("test.drive")
DEFAULT = RetryPolicy()  # the clients' own: 3 repeats, 0.5 s, 1 s, 2 s
DRAFT = {"t": [{"tt": 1, "sg": [{"s": 0, "d": 1000}]}]}
CREDITS = {"code": 0, "data": {"available": 7, "frozen": 0, "total": 7}}


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> RawResponse:
    return RawResponse(status, headers or {}, json.dumps(data).encode())


class Body(list[Any]):
    """An open streamed body: its chunks (an exception breaks it) and the URL it was served from."""

    def __init__(self, path: str, *chunks: bytes | BaseException) -> None:
        super().__init__(chunks)
        self.url = SimpleNamespace(path=path)


class Scripted:
    """A performer answering each Send from a script; records sends and sleeps (never sleeps)."""

    def __init__(self, *answers: RawResponse | BaseException | Callable[[RequestSpec], Any]) -> None:
        self.answers = list(answers)
        self.sent: list[RequestSpec] = []
        self.slept: list[float] = []

    async def send(self, spec: RequestSpec) -> RawResponse:
        self.sent.append(spec)
        answer = self.answers.pop(0)
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(spec)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def drain(self, op: Drain) -> BaseException | None:
        for chunk in op.handle:
            if isinstance(chunk, BaseException):
                return chunk
            op.on_bytes(chunk)
        return None


def run(mode: str, flow: Flow[Any], io: Scripted, policy: RetryPolicy = DEFAULT) -> Any:
    """The same loop, completed without an event loop (the sync client) or on one (the async ones)."""
    coro = drive(flow, io, policy, LOG)
    return run_sync(coro) if mode == "sync" else asyncio.run(coro)


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def core() -> ClientCore:
    return ClientCore(BASE, fake_token("fixed"), "cid")


# -- the policy --------------------------------------------------------------------------------------
def test_policy_doubles_from_half_a_second_up_to_the_cap_then_stops() -> None:
    policy = RetryPolicy(max_retries=5, wait_cap=3.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, None]
    assert [RetryPolicy().delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, None]
    assert NO_REPEATS.delay(1) is None


# -- transient failures: backed off for idempotent calls only ----------------------------------------
@MODES
def test_5xx_on_an_idempotent_call_is_backed_off_then_succeeds(mode: str) -> None:
    io = Scripted(ok({}, 503), ok({"code": 502}), ok(CREDITS))  # HTTP 5xx, then a 5xx envelope code
    credits = run(mode, _call.credits(core()), io)
    assert credits.available == 7
    assert len(io.sent) == 3 and io.slept == [0.5, 1.0]


@MODES
def test_persisting_failure_is_sent_max_retries_plus_one_times_then_raised(mode: str) -> None:
    cause = OSError("reset by peer")
    failure = NemoConnectionError("could not reach")
    failure.__cause__ = cause
    io = Scripted(failure, failure, failure, failure)
    with pytest.raises(NemoConnectionError) as info:
        run(mode, _call.credits(core()), io, RetryPolicy(max_retries=2, wait_cap=30.0))
    assert len(io.sent) == 3 and io.slept == [0.5, 1.0]
    assert info.value.__cause__ is cause, "the network error behind it is kept"


@MODES
def test_calls_that_are_not_idempotent_are_never_repeated_after_a_5xx_or_network_error(mode: str) -> None:
    io = Scripted(ok({}, 500))
    with pytest.raises(NemoServerError):
        run(mode, _flows.create_session(core()), io)
    io2 = Scripted(NemoConnectionError("refused"))
    with pytest.raises(NemoConnectionError):
        run(mode, _flows.create_render(core(), "s1", DRAFT, render_id="render_1"), io2)
    assert (len(io.sent), io.slept, len(io2.sent), io2.slept) == (1, [], 1, [])


@MODES
def test_a_poller_policy_raises_the_first_transient_failure(mode: str) -> None:
    io = Scripted(ok({}, 503), ok({"id": "render_1", "status": "processing"}))
    with pytest.raises(NemoServerError):
        run(mode, _flows.render_status(core(), "render_1"), io, NO_REPEATS)
    assert len(io.sent) == 1 and io.slept == []


# -- refusals: remedied once, whatever the policy -----------------------------------------------------
@MODES
def test_429_waits_the_servers_retry_after_once_even_with_no_repeats(mode: str) -> None:
    io = Scripted(ok({}, 429, {"Retry-After": "7"}), ok(CREDITS))
    assert run(mode, _call.credits(core()), io, NO_REPEATS).available == 7
    assert io.slept == [7.0] and len(io.sent) == 2
    io2 = Scripted(ok({}, 429), ok({}, 429))
    with pytest.raises(NemoRateLimitError):
        run(mode, _call.credits(core()), io2)
    assert io2.slept == [30.0] and len(io2.sent) == 2, "one repeat only"


@MODES
def test_a_transient_failure_after_a_remedy_starts_a_new_run_of_backoffs(mode: str) -> None:
    io = Scripted(ok({}, 503), ok({}, 429, {"Retry-After": "2"}), ok({}, 503), ok(CREDITS))
    assert run(mode, _call.credits(core()), io, RetryPolicy(max_retries=1)).available == 7
    assert io.slept == [0.5, 2.0, 0.5]


@MODES
def test_1002_on_render_create_moves_to_a_new_session_once(mode: str) -> None:
    io = Scripted(
        ok({"code": 1002}),
        ok({"code": 0, "data": {"task_id": "t", "session_id": "s2"}}),
        lambda spec: ok({"code": 0, "data": {"id": spec.json["id"], "status": "pending"}}),
    )
    status = run(mode, _flows.create_render(core(), "s1", DRAFT, render_id="render_9"), io)
    assert status.id == "render_9"
    assert [s.json.get("sessionId") for s in io.sent if s.name == "render create"] == ["s1", "s2"]
    io2 = Scripted(ok({"code": 1002}))
    with pytest.raises(NemoSessionNotFoundError):
        run(mode, _flows.state(core(), "s1"), io2)  # a new session's empty state is not the user's
    assert len(io2.sent) == 1


# -- downloads: the flow names the file, the runner writes it -----------------------------------------
def test_the_download_flow_yields_save_and_writes_nothing_itself(tmp_path: Path) -> None:
    flow = _flows.download(core(), "https://cdn.example.net/clip.mp4", tmp_path)
    send = next(flow)
    op = flow.send(RawResponse(200, {}, handle=Body("/clip.mp4", b"ab")))
    assert type(op).__name__ == "Save" and op.dest == tmp_path and op.name == "clip.mp4"
    assert list(tmp_path.iterdir()) == [], "the flow did no file I/O"
    assert send.spec.foreign and not send.spec.authenticated


@MODES
def test_the_runner_writes_the_download_and_keeps_nothing_of_a_broken_one(mode: str, tmp_path: Path) -> None:
    io = Scripted(RawResponse(200, {}, handle=Body("/clip.mp4", b"ab", b"cd")))
    result = run(mode, _flows.download(core(), "https://cdn.example.net/clip.mp4", tmp_path), io)
    assert result.path == tmp_path / "clip.mp4" and result.path.read_bytes() == b"abcd" and result.size == 4
    io2 = Scripted(RawResponse(200, {}, handle=Body("/x.mp4", b"ab", ConnectionResetError())))
    with pytest.raises(NemoConnectionError, match="nothing was kept"):
        run(mode, _flows.download(core(), "https://cdn.example.net/x.mp4", tmp_path / "x.mp4"), io2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_the_upload_flow_asks_for_file_sizes_instead_of_reading_the_disk(tmp_path: Path) -> None:
    missing = tmp_path / "not-there.mp4"
    flow = _flows.upload(core(), "s1", [missing])
    op = next(flow)  # no FileNotFoundError: the flow did not look at the disk
    assert type(op).__name__ == "Stat" and op.path == missing
    with pytest.raises(NemoFileTooLargeError) as info:
        flow.send(MAX_UPLOAD_BYTES + 1)
    assert info.value.size == MAX_UPLOAD_BYTES + 1


@MODES
def test_the_runner_answers_stat_from_the_disk(mode: str, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"0" * 10)
    io = Scripted(ok({"code": 0, "data": {"files": [{"filename": "clip.mp4"}]}}))
    result = run(mode, _flows.upload(core(), "s1", [clip]), io)
    assert [f.filename for f in result.files] == ["clip.mp4"]
    assert [p.path for p in io.sent[0].files] == [clip]
    with pytest.raises(FileNotFoundError, match=r"gone\.mp4"):
        run(mode, _flows.upload(core(), "s1", [tmp_path / "gone.mp4"]), Scripted())


# -- the loop itself -------------------------------------------------------------------------------------
def test_run_sync_refuses_a_performer_that_really_suspends() -> None:
    class Suspends(Scripted):
        async def send(self, spec: RequestSpec) -> RawResponse:
            await asyncio.sleep(0)
            return ok(CREDITS)

    with pytest.raises(RuntimeError, match="must block"):
        run("sync", _call.credits(core()), Suspends())


def test_backoff_is_logged_with_the_request_and_the_wait(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="test.drive")
    run("sync", _call.credits(core()), Scripted(ok({}, 502), ok(CREDITS)))
    assert [r.getMessage() for r in caplog.records] == [
        "Nemo API credits failed (attempt 1); retrying in 0.5 s."
    ]
