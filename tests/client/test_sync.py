"""NemoClient against a scripted API (httpx.MockTransport): endpoints, envelopes, streams, downloads, secrets.

The error table and every repeat rule are in test_recovery.py.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

import nemo_provider
from nemo_provider.client import (
    Draft,
    NemoAPIError,
    NemoClient,
    NemoDuplicateRenderIdError,
    NemoError,
    NemoFileTooLargeError,
    NemoRenderError,
    NemoSessionNotFoundError,
    NemoStreamError,
    NemoUnsupportedFileTypeError,
    SessionState,
)
from tests._helpers import fake_token

from .conftest import BASE, Sleeps
from .fake_api import BrokenStream, FakeNemo, recorded

SID = "7234567890123456789"
DRAFT = {"t": [{"tt": 1, "sg": [{"id": "a", "s": 0, "d": 4000, "v": 0.5, "m": {"title": "Calm"}}]}], "zz": 1}


def make(fake: FakeNemo, sleeps: Sleeps | None = None, **kw: object) -> NemoClient:
    return NemoClient(
        BASE, transport=httpx.MockTransport(fake), sleep=sleeps if sleeps is not None else Sleeps(), **kw
    )  # type: ignore[arg-type]


# -- headers and tokens --------------------------------------------------------------------------------
def test_every_request_carries_attribution_and_the_bearer(client: NemoClient, fake: FakeNemo) -> None:
    client.credits()
    client.state(SID)
    anon, *rest = fake.requests
    assert anon.url.path == "/api/auth/anonymous-token"
    assert anon.headers["X-Client-Id"] == "cid-1"
    assert "authorization" not in anon.headers
    for req in fake.requests:
        assert req.headers["X-Skill-Source"] == "airflow-provider-nemo"
        assert req.headers["X-Skill-Version"] == nemo_provider.__version__
        assert req.headers["X-Skill-Platform"] == "airflow"
    assert [r.headers["Authorization"] for r in rest] == [f"Bearer {fake.anon_token(1)}"] * 2
    assert client.token_is_anonymous and client.user_id == "user-7"


def test_explicit_token_wins_over_env_and_anonymous(fake: FakeNemo, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env, explicit = fake_token("fromenv"), fake_token("explicit")
    monkeypatch.setenv("NEMO_TOKEN", from_env)
    with make(fake, token=explicit, platform="custom") as c:
        c.credits()
    with make(fake) as c2:
        c2.credits()
    assert [r.headers["Authorization"] for r in fake.requests] == [
        f"Bearer {explicit}",
        f"Bearer {from_env}",
    ]
    assert fake.requests[0].headers["X-Skill-Platform"] == "custom"
    assert fake.tokens_issued == 0


def test_generated_client_id_is_a_uuid(fake: FakeNemo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    with make(fake) as c:
        c.credits()
    cid = fake.requests[0].headers["X-Client-Id"]
    assert len(cid) == 36 and cid.count("-") == 4 and c.client_id == cid


# -- endpoints in all three envelope forms ------------------------------------------------------------
@pytest.mark.parametrize("form", ["code", "success", "bare"])
def test_endpoints_in_every_envelope_form(form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    fake = FakeNemo(form)
    fake.draft = DRAFT
    with make(fake, client_id="c") as c:
        token = c.acquire_anonymous_token()
        assert token.user_id == "user-7" and token.credits == 100
        info = c.create_session("my-task", language="zh")
        assert info.session_id == "7000000000000000001" and info.task_id == "t1"
        credits = c.credits()
        assert (credits.available, credits.frozen, credits.total) == (90, 10, 100)
        state = c.state(SID)
        assert state.draft is not None and state.draft.to_wire() == DRAFT and state.session_id == SID
        render = c.create_render(SID, state.draft, format="mp3", quality="medium")
        assert render.status == "pending" and render.id.startswith("render_")
        cancelled = c.cancel_render(render.id)
        assert cancelled.status == "cancelled" and cancelled.id == render.id
    session_body = json.loads(fake.bodies[1])
    assert session_body == {"task_name": "my-task", "language": "zh"}
    render_body = json.loads(fake.bodies[4])
    assert render_body == {
        "id": render.id,
        "sessionId": SID,
        "draft": DRAFT,
        "output": {"format": "mp3", "quality": "medium"},
    }
    assert render.id[len("render_") :].isdigit()


def test_render_status_reads_both_shapes(client: NemoClient, fake: FakeNemo) -> None:
    a = client.render_status("render_1")
    assert (a.status, a.url, a.size, a.duration, a.progress) == (
        "completed",
        "https://cdn.example.net/render_1.mp4",
        11,
        4.0,
        100.0,
    )
    fake.render_shape = "B"
    b = client.render_status("render_2")
    assert (b.id, b.status, b.progress, b.url) == ("render_2", "processing", 40.0, None)


def test_render_ids_are_unique_and_timestamped(client: NemoClient) -> None:
    ids = {client.create_render(SID, DRAFT).id for _ in range(5)}
    assert len(ids) == 5


def test_render_of_an_empty_draft_is_refused_before_sending(client: NemoClient, fake: FakeNemo) -> None:
    with pytest.raises(NemoRenderError, match="nothing to export"):
        client.create_render(SID, {"t": []})
    with pytest.raises(ValueError, match="mp4"):
        client.create_render(SID, DRAFT, format="exe")
    assert fake.requests_to("POST", "/api/render") == []


def test_duplicate_render_id_retries_once_with_a_new_id(client: NemoClient, fake: FakeNemo) -> None:
    fake.script("POST /api/render/proxy/lambda", fake.error(3005, 400, "duplicate render id", "envelope"))
    status = client.create_render(SID, DRAFT, render_id="render_1")
    sent = [
        json.loads(b)["id"]
        for r, b in zip(fake.requests, fake.bodies, strict=True)
        if r.url.path.endswith("lambda")
    ]
    assert sent[0] == "render_1" and sent[1] != "render_1" and status.id == sent[1]
    fake.script("POST /api/render/proxy/lambda", httpx.Response(409, json={"detail": "exists"}), times=2)
    with pytest.raises(NemoDuplicateRenderIdError):
        client.create_render(SID, DRAFT)


# -- upload ---------------------------------------------------------------------------------------------
class SpyTransport(httpx.MockTransport):
    """Sees the request body stream before MockTransport reads it into memory."""

    def __init__(self, handler: FakeNemo) -> None:
        super().__init__(handler)
        self.streams: list[object] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.streams.append(request.stream)
        return super().handle_request(request)


def test_upload_body_is_a_stream_over_open_files(fake: FakeNemo, tmp_path: Path) -> None:
    f = tmp_path / "song.wav"
    f.write_bytes(b"RIFF" + b"\1" * 5000)
    spy = SpyTransport(fake)
    with NemoClient(BASE, token="t0ken-abc", transport=spy) as c:
        c.upload(SID, files=[f])
    stream = spy.streams[0]
    assert isinstance(stream, httpx._multipart.MultipartStream)
    file_fields = [fld for fld in stream.fields if isinstance(fld, httpx._multipart.FileField)]
    assert [fld.filename for fld in file_fields] == ["song.wav"]
    assert all(hasattr(fld.file, "read") for fld in file_fields)  # an open file, read in chunks
    assert all(getattr(fld.file, "closed", False) for fld in file_fields)  # and closed after the send


def test_upload_files_sends_multipart(client: NemoClient, fake: FakeNemo, tmp_path: Path) -> None:
    a = tmp_path / "voice.mp3"
    a.write_bytes(b"ID3" + b"\0" * 1000)
    b = tmp_path / "clip.MP4"
    b.write_bytes(b"\0" * 2000)
    result = client.upload(SID, files=[a, str(b)])
    assert [f.filename for f in result.files] == ["voice.mp3", "clip.MP4"]
    assert result.session_state_applied and result.session_id == SID
    req = fake.requests_to("POST", "/api/upload-video")[0]
    assert req.url.path == f"/api/upload-video/nemo_agent/me/{SID}"
    assert req.headers["content-type"].startswith("multipart/form-data")
    body = fake.bodies[fake.requests.index(req)]
    assert body.count(b'name="files"') == 2 and b"\0" * 2000 in body


def test_upload_urls_sends_json(client: NemoClient, fake: FakeNemo) -> None:
    result = client.upload(SID, urls=["https://x.example/a.mp4"])
    req = fake.requests_to("POST", "/api/upload-video")[0]
    assert json.loads(fake.bodies[fake.requests.index(req)]) == {
        "urls": ["https://x.example/a.mp4"],
        "source_type": "url",
    }
    assert result.files[0].cdn_url == "https://x.example/a.mp4"


def test_upload_checks_type_and_size_before_sending(
    client: NemoClient, fake: FakeNemo, tmp_path: Path
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    with pytest.raises(NemoUnsupportedFileTypeError, match="mp4, mov"):
        client.upload(SID, files=[bad])
    big = tmp_path / "big.mov"
    with open(big, "wb") as fh:
        fh.truncate(200 * 1024 * 1024 + 1)  # sparse: no real disk use
    with pytest.raises(NemoFileTooLargeError) as info:
        client.upload(SID, files=[big])
    assert info.value.size == 200 * 1024 * 1024 + 1 and "200.0 MB" in str(info.value)
    with pytest.raises(ValueError):
        client.upload(SID)
    assert fake.requests == []


def test_upload_recreates_an_expired_session_once(client: NemoClient, fake: FakeNemo, tmp_path: Path) -> None:
    f = tmp_path / "a.wav"
    f.write_bytes(b"RIFF")
    fake.script(
        f"POST /api/upload-video/nemo_agent/me/{SID}", fake.error(1002, 404, "no session", "envelope")
    )
    result = client.upload(SID, files=[f])
    assert result.session_id == "7000000000000000001"
    paths = [r.url.path for r in fake.requests_to("POST", "/api/upload-video")]
    assert paths == [
        f"/api/upload-video/nemo_agent/me/{SID}",
        "/api/upload-video/nemo_agent/me/7000000000000000001",
    ]
    assert b"RIFF" in fake.bodies[fake.requests.index(fake.requests_to("POST", "/api/upload-video")[1])]


# -- send_message ------------------------------------------------------------------------------------------
def test_send_message_streaming_shows_chunks_once(client: NemoClient, fake: FakeNemo) -> None:
    fake.sse_body = recorded("text_streaming.sse")
    shown: list[str] = []
    result = client.send_message(SID, "hello there", on_text=shown.append)
    full = "Hi! Tell me what background music you need: mood, length, and where it will play."
    assert "".join(shown) == full
    assert result.texts == [full] and result.timeline_summary is None
    body = json.loads(fake.bodies[fake.requests.index(fake.requests_to("POST", "/run_sse")[0])])
    assert body == {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": SID,
        "new_message": {"role": "user", "parts": [{"text": "hello there"}]},
        "streaming": True,
    }
    assert fake.requests_to("POST", "/run_sse")[0].headers["Accept"] == "text/event-stream"


def test_silent_turn_reports_the_timeline_change(client: NemoClient, fake: FakeNemo) -> None:
    fake.sse_body = recorded("tool_only_silent.sse")
    fake.draft_after_message = {
        "t": [
            {"tt": 1, "sg": [{"s": 0, "d": 4000, "v": 0.5}]},
            {"tt": 7, "sg": [{"s": 0, "d": 3000, "txt": "Hi"}]},
        ]
    }
    notes: list[str] = []
    result = client.send_message(SID, "silent: add a title", on_progress=notes.append)
    assert result.texts == [] and result.draft_changed is True
    assert result.timeline_summary == Draft.from_wire(fake.draft_after_message).summary()
    assert [c.name for c in result.tool_calls] == ["edit_timeline"]
    assert any("timeline changed" in n for n in notes)
    assert len(fake.requests_to("GET", "/api/state")) == 2


def test_a_state_the_caller_holds_is_not_read_again_and_still_decides_draft_changed(
    client: NemoClient, fake: FakeNemo
) -> None:
    fake.sse_body = recorded("tool_only_silent.sse")
    before = client.state(SID)
    fake.draft_after_message = before.draft.to_wire() if before.draft is not None else None
    reads = len(fake.requests_to("GET", "/api/state"))
    result = client.send_message(SID, "silent: nothing to change", before=before)
    assert len(fake.requests_to("GET", "/api/state")) == reads + 1, "only the read after the silent turn"
    assert result.texts == [] and result.draft_changed is False
    # against a different "before" the same turn is a change: the caller's state is what is compared
    emptier = before.model_copy(update={"draft": None})
    assert client.send_message(SID, "silent again", before=emptier).draft_changed is True


def test_a_state_of_another_session_is_refused_before_anything_is_sent(
    client: NemoClient, fake: FakeNemo
) -> None:
    other = client.state("1111111111111111111")
    with pytest.raises(ValueError, match="1111111111111111111"):
        client.send_message(SID, "hi", before=other)
    assert fake.requests_to("POST", "/run_sse") == []


@pytest.mark.parametrize(
    ("before", "says"),
    [
        (SessionState(), "a state naming no session"),  # built by hand: whose draft would it compare?
        ({"session_id": SID}, "a state naming no session"),  # a dict is no state
    ],
    ids=["no-session-id", "not-a-state"],
)
def test_a_state_naming_no_session_is_refused_before_anything_is_read_or_sent(
    client: NemoClient, fake: FakeNemo, before: object, says: str
) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        client.send_message(SID, "hi", before=before)  # type: ignore[arg-type]
    assert f"state({SID!r}) returned" in str(caught.value), "names what to pass instead"
    assert fake.requests == []


def test_a_state_read_from_a_body_without_its_session_id_names_the_session(
    client: NemoClient, fake: FakeNemo
) -> None:
    """What state() returns is always a valid before=, whether or not the service repeats the id."""
    fake.script(
        f"GET /api/state/nemo_agent/me/{SID}/latest", fake.ok({"task_id": "t1", "state": {"draft": None}})
    )
    before = client.state(SID)
    assert before.session_id == SID and len(fake.requests_to("GET", "/api/state")) == 1
    assert not fake.scripts[f"GET /api/state/nemo_agent/me/{SID}/latest"], "the body without the id was read"
    fake.sse_body = recorded("tool_only_silent.sse")
    assert client.send_message(SID, "silent", before=before).texts == []
    assert len(fake.requests_to("POST", "/run_sse")) == 1


def test_silent_turn_without_change(client: NemoClient, fake: FakeNemo) -> None:
    fake.sse_body = recorded("probe_06_tool_only_nonstreaming.sse")
    result = client.send_message(SID, "toolonly chill piano", streaming=False)
    assert result.draft_changed is False and result.errors == []
    assert result.timeline_summary is not None and result.timeline_summary.startswith("Timeline (1 track)")


def test_unknown_session_404_before_stream(client: NemoClient, fake: FakeNemo) -> None:
    fake.script(
        "POST /run_sse",
        httpx.Response(
            404, content=recorded("unknown_session.body"), headers={"content-type": "application/json"}
        ),
    )
    with pytest.raises(NemoSessionNotFoundError, match=SID):
        client.send_message(SID, "hi")
    assert len(fake.requests_to("POST", "/run_sse")) == 1 and fake.sessions_created == 0


def test_broken_stream_is_reported_with_state_and_never_resent(client: NemoClient, fake: FakeNemo) -> None:
    first = recorded("text_streaming.sse").split(b"\n\n")[0] + b"\n\n"
    fake.script(
        "POST /run_sse",
        httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=BrokenStream([first])),
    )
    with pytest.raises(NemoStreamError, match="NOT re-sent") as info:
        client.send_message(SID, "hello")
    partial = info.value.partial
    assert partial is not None and partial.texts == ["Hi! Tell me what bac"]
    assert partial.timeline_summary is not None and partial.draft_changed is False
    assert len(fake.requests_to("POST", "/run_sse")) == 1


def test_message_ceiling_stops_reading(fake: FakeNemo) -> None:
    ticks = iter(range(0, 10_000, 100))
    fake.sse_body = b": ping\n\n" * 50
    with (
        make(fake, token="t0ken-abc", clock=lambda: float(next(ticks))) as c,
        pytest.raises(NemoStreamError) as info,
    ):
        c.send_message(SID, "slow", timeout=900)
    assert "timed out" in str(info.value)
    assert len(fake.requests_to("POST", "/run_sse")) == 1


# -- download ------------------------------------------------------------------------------------------
def test_download_by_render_id_uses_the_cdn_without_the_token(
    client: NemoClient, fake: FakeNemo, tmp_path: Path
) -> None:
    result = client.download("render_5", tmp_path / "out.mp4")
    assert result.size == len(b"cdn-bytes!!") and result.path.read_bytes() == b"cdn-bytes!!"
    cdn = [r for r in fake.requests if r.url.host == "cdn.example.net"]
    assert len(cdn) == 1
    assert "authorization" not in cdn[0].headers and "x-skill-source" not in cdn[0].headers


def test_download_falls_back_to_the_proxy_route(client: NemoClient, fake: FakeNemo, tmp_path: Path) -> None:
    fake.script("GET /render_6.mp4", httpx.Response(403))
    result = client.download("render_6", tmp_path)
    assert result.path.read_bytes() == b"proxied-bytes"
    proxy = fake.requests_to("GET", "/api/render/proxy/render_6/download")
    assert len(proxy) == 1 and proxy[0].headers["Authorization"].startswith("Bearer ")
    assert not list(tmp_path.glob("*.part"))


def test_download_from_an_expired_cdn_link_is_not_a_credit_error(
    client: NemoClient, fake: FakeNemo, tmp_path: Path
) -> None:
    fake.script("GET /old.mp4", httpx.Response(403))
    with pytest.raises(NemoAPIError, match=r"cdn\.example\.net failed with HTTP 403") as info:
        client.download("https://cdn.example.net/old.mp4", tmp_path / "x.mp4")
    assert type(info.value) is NemoAPIError
    assert fake.requests_to("GET", "/api/credits") == []


def test_download_api_relative_url_gets_the_token(client: NemoClient, fake: FakeNemo, tmp_path: Path) -> None:
    client.download("/api/render/proxy/render_7/download", tmp_path / "x.bin")
    assert (
        fake.requests_to("GET", "/api/render/proxy/render_7")[0].headers["Authorization"].startswith("Bearer")
    )


# -- secrets ---------------------------------------------------------------------------------------------
def test_token_never_leaks_into_reprs_errors_logs_or_urls(
    fake: FakeNemo, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    secret = fake_token("SUPERSECRET")
    fake.script(
        "GET /api/credits/balance/simple",
        httpx.Response(500, json={"detail": f"bad token {secret}"}),
        times=9,
    )
    fake.script(
        f"GET /api/state/nemo_agent/me/{SID}/latest", fake.error(1001, 401, f"token {secret} expired")
    )
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    with make(fake, token=secret, max_retries=1) as c:
        texts.append(repr(c))
        texts.append(str(c.__dict__))
        for call in (c.credits, lambda: c.state(SID)):
            with pytest.raises(NemoError) as info:
                call()
            texts += [str(info.value), repr(info.value)]
        c.send_message(SID, "hi", on_text=texts.append, on_progress=texts.append)
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.url) for r in fake.requests]
    assert texts and not any(secret in t or "SUPERSECRET" in t for t in texts)
    assert os.environ.get("NEMO_TOKEN") is None


# -- the ceiling on a real socket ---------------------------------------------------------------------
class _SilentAgent(BaseHTTPRequestHandler):
    """Answers state reads; on /run_sse sends one keep-alive and then nothing until released."""

    release: threading.Event

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"code": 0, "data": {"session_id": SID, "state": {"draft": None}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b": working\n\n")
        self.wfile.flush()
        self.release.wait(30)


def test_sync_ceiling_ends_a_silent_stream_on_time() -> None:
    release = threading.Event()
    handler = type("Handler", (_SilentAgent,), {"release": release})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with NemoClient(f"http://127.0.0.1:{server.server_address[1]}", token="t0ken-abc") as c:
            started = time.monotonic()
            with pytest.raises(NemoStreamError, match="timed out") as info:
                c.send_message(SID, "slow", timeout=0.5)
            elapsed = time.monotonic() - started
    finally:
        release.set()
        server.shutdown()
        server.server_close()
    assert 0.5 <= elapsed < 5.0  # the read timeout (a backstop) would only fire after 5.5 s
    assert (
        info.value.partial is not None and info.value.partial.timeline_summary == "Timeline (0 tracks): empty"
    )
