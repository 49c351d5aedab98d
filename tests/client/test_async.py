"""AsyncNemoClient runs the same flows: check the async runner on every kind of operation."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from nemo_provider.client import (
    AsyncNemoClient,
    NemoAuthError,
    NemoConnectionError,
    NemoError,
    NemoRateLimitError,
    NemoServerError,
    NemoSessionNotFoundError,
    NemoStreamError,
)
from tests._helpers import attributes, fake_token

from .conftest import BASE
from .fake_api import BrokenStream, FakeNemo, recorded

SID = "7234567890123456789"
DRAFT = {"t": [{"tt": 1, "sg": [{"s": 0, "d": 4000, "v": 0.5}]}]}


class AsyncSleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(fake: FakeNemo, sleeps: AsyncSleeps | None = None, **kw: object) -> AsyncNemoClient:
    return AsyncNemoClient(
        BASE,
        transport=httpx.MockTransport(fake),
        sleep=sleeps if sleeps is not None else AsyncSleeps(),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEMO_TOKEN", raising=False)


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["code", "success", "bare"])
async def test_endpoints(form: str, tmp_path: Path) -> None:
    fake = FakeNemo(form)
    fake.draft = DRAFT
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"ID3xyz")
    async with make(fake, client_id="cid") as c:
        info = await c.create_session()
        assert (await c.credits()).available == 90
        state = await c.state(info.session_id)
        assert state.draft is not None and state.draft.to_wire() == DRAFT
        uploaded = await c.upload(info.session_id, files=[audio])
        assert [f.filename for f in uploaded.files] == ["a.mp3"]
        render = await c.create_render(info.session_id, state.draft)
        status = await c.render_status(render.id)
        assert status.status == "completed" and status.url is not None
        assert (await c.cancel_render(render.id)).status == "cancelled"
        result = await c.download(render.id, tmp_path / "out.mp4")
        assert result.path.read_bytes() == b"cdn-bytes!!"
    assert fake.requests[0].headers["X-Client-Id"] == "cid"
    assert all(
        r.headers["X-Skill-Source"] == "airflow-provider-nemo"
        for r in fake.requests
        if r.url.host != "cdn.example.net"
    )
    assert c.token_is_anonymous and "nmv_usr" not in repr(c)


@pytest.mark.asyncio
async def test_injected_http_client_is_shared_and_left_open() -> None:
    fake = FakeNemo()
    shared = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    try:
        for _ in range(2):
            async with AsyncNemoClient(BASE, token="t0ken-abc", http_client=shared) as c:
                await c.credits()
        assert not shared.is_closed
        assert len(fake.requests) == 2
    finally:
        await shared.aclose()


@pytest.mark.asyncio
async def test_recovery_paths() -> None:
    fake = FakeNemo()
    sleeps = AsyncSleeps()
    fake.script("GET /api/credits/balance/simple", fake.error(1001, 401, "", "envelope"))
    fake.script("GET /api/credits/balance/simple", httpx.Response(429, headers={"Retry-After": "3"}))
    fake.script("POST /api/render/proxy/lambda", fake.error(1002, 404))
    async with make(fake, sleeps) as c:
        assert (await c.credits()).total == 100  # 1001 -> new anonymous token, then 429 -> wait 3 s
        assert fake.tokens_issued == 2 and sleeps == [3.0]
        await c.create_render(SID, DRAFT)
    bodies = [
        json.loads(b)
        for r, b in zip(fake.requests, fake.bodies, strict=True)
        if r.url.path.endswith("lambda")
    ]
    assert [b["sessionId"] for b in bodies] == [SID, "7000000000000000001"]


@pytest.mark.asyncio
async def test_failures_raise_the_named_errors() -> None:
    fake = FakeNemo()
    sleeps = AsyncSleeps()
    fake.script("GET /api/credits/balance/simple", httpx.Response(503), times=3)
    fake.script("GET /api/credits/balance/simple", httpx.Response(429), times=2)
    fake.script("GET /api/credits/balance/simple", fake.error(1001, 401))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake.script("POST /run_sse", refuse)
    async with make(fake, sleeps, token=fake_token("mine"), max_retries=2) as c:
        with pytest.raises(NemoServerError):
            await c.credits()
        assert len(sleeps) == 2  # backoff between the three attempts
        with pytest.raises(NemoRateLimitError):
            await c.credits()
        with pytest.raises(NemoAuthError, match="configured"):
            await c.credits()
        with pytest.raises(NemoConnectionError):
            await c.send_message(SID, "hello")
    assert len(fake.requests_to("POST", "/run_sse")) == 1


@pytest.mark.asyncio
async def test_send_message_streaming_and_silent() -> None:
    fake = FakeNemo()
    fake.sse_body = recorded("probe_02_text_streaming.sse")
    shown: list[str] = []
    async with make(fake) as c:
        result = await c.send_message(SID, "text hello there", on_text=shown.append)
        assert len(result.texts) == 1 and "".join(shown) == result.texts[0]
        fake.sse_body = recorded("tool_only_silent.sse")
        fake.draft_after_message = {"t": [{"tt": 7, "sg": [{"s": 0, "d": 3000, "txt": "Urban Dreams"}]}]}
        silent = await c.send_message(SID, "silent: add a title")
    assert silent.draft_changed is True
    assert silent.timeline_summary == 'Timeline (1 track): 1. Title: "Urban Dreams" (0-3s)'


@pytest.mark.asyncio
async def test_404_before_stream_and_broken_stream() -> None:
    fake = FakeNemo()
    fake.script("POST /run_sse", httpx.Response(404, content=recorded("unknown_session.body")))
    fake.script(
        "POST /run_sse",
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=BrokenStream([b'data: {"type": "text", "content": "part"}\n\n']),
        ),
    )
    async with make(fake) as c:
        with pytest.raises(NemoSessionNotFoundError):
            await c.send_message(SID, "hi")
        with pytest.raises(NemoStreamError) as info:
            await c.send_message(SID, "hi")
    assert info.value.partial is not None and info.value.partial.texts == ["part"]
    assert len(fake.requests_to("POST", "/run_sse")) == 2  # one per call: nothing re-sent


class HangingStream(httpx.AsyncByteStream):
    """Sends one keep-alive, then stays silent until the reader gives up."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b": ping\n\n"
        await self.closed.wait()

    async def aclose(self) -> None:
        self.closed.set()


@pytest.mark.asyncio
async def test_ceiling_cancels_a_silent_stream() -> None:
    fake = FakeNemo()
    stream = HangingStream()
    fake.script(
        "POST /run_sse", httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)
    )
    async with make(fake) as c:
        with pytest.raises(NemoStreamError, match="timed out"):
            await c.send_message(SID, "slow", timeout=0.3)
    assert stream.closed.is_set()


@pytest.mark.asyncio
async def test_no_token_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = fake_token("ASYNCSECRET")
    fake = FakeNemo()
    fake.script(
        "GET /api/credits/balance/simple", httpx.Response(500, json={"detail": f"bad {secret}"}), times=5
    )
    caplog.set_level(logging.DEBUG)
    async with make(fake, token=secret, max_retries=1) as c:
        with pytest.raises(NemoError) as info:
            await c.credits()
        seen = [repr(c), str(info.value), repr(info.value), str(attributes(c))]
    seen += [r.getMessage() for r in caplog.records]
    assert not any("ASYNCSECRET" in s for s in seen)


@pytest.mark.asyncio
async def test_send_message_takes_the_state_the_caller_holds() -> None:
    fake = FakeNemo()
    async with make(fake) as c:
        before = await c.state(SID)
        result = await c.send_message(SID, "hello", before=before)
    assert result.texts and len(fake.requests_to("GET", "/api/state")) == 1, "only the caller's own read"


def test_what_a_deferred_trigger_holds_keeps_its_state_in_slots() -> None:
    """A triggerer keeps one client (with its core) and one error budget per deferred task for the whole
    deferral, a thousand at a time (bench/trigger_density.py): none of them carries a __dict__."""
    from nemo_provider.client.errors import TransientErrorBudget

    c = AsyncNemoClient(BASE, token=fake_token("slots"), session=object())  # type: ignore[arg-type]
    for obj in (c, c._core, TransientErrorBudget(3)):
        assert not hasattr(obj, "__dict__"), type(obj).__name__
    with pytest.raises(AttributeError):
        c.stray = 1  # type: ignore[attr-defined]
    assert attributes(c)["timeout"] == 30.0 and attributes(c._core)["client_id"] is None
