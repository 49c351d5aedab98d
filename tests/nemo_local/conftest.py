"""Helpers for talking to a real nemo_local server over HTTP (httpx only: the provider's client is a
separate program and the server must stand on its own), plus small media files made with ffmpeg."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._helpers import TERMINAL, wait_render
from tests.conftest import NemoServer, start_nemo_server, stop_nemo_server

ADMIN = "test-admin-token"
POLL_S = 0.05


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    """The condition's first truthy value, polled every 50 ms; AssertionError naming `what` after
    `timeout` (a condition wait: no test sleeps for a fixed time instead)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(POLL_S)


@dataclass
class Stream:
    """One /run_sse response, parsed: data events in order, plus comment (keep-alive) lines."""

    status: int
    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    body: str = ""

    @property
    def texts(self) -> list[str]:
        """Final (non-partial) texts, which is what a reader that avoids duplicates shows."""
        return [
            p["text"]
            for e in self.events
            if not e.get("partial") and "content" in e
            for p in e["content"]["parts"]
            if "text" in p
        ]

    def parts(self, kind: str) -> list[dict[str, Any]]:
        return [
            p[kind]
            for e in self.events
            if not e.get("partial")
            for p in e.get("content", {}).get("parts", [])
            if kind in p
        ]


class User:
    """A user of the server with their own anonymous or named token."""

    def __init__(self, http: httpx.Client, token: str, user_id: str) -> None:
        self.http, self.token, self.user_id = http, token, user_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Skill-Source": "tests"}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, headers=self.headers, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def new_session(self) -> str:
        resp = self.post(
            "/api/tasks/me/with-session/nemo_agent", json={"task_name": "project", "language": "en"}
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["data"]["session_id"])

    def credits(self) -> dict[str, int]:
        resp = self.get("/api/credits/balance/simple")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["data"])

    def state(self, session_id: str) -> dict[str, Any]:
        resp = self.get(f"/api/state/nemo_agent/me/{session_id}/latest")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["data"])

    def wait_render(
        self,
        render_id: str,
        statuses: Collection[str] = TERMINAL,
        timeout: float = 120.0,
        seen: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Poll the render until its status is one of `statuses` (finished, by default) and return that
        poll's body (shape A, or shape B's envelope under the fault switch); every poll goes to `seen`.
        The loop is tests/_helpers.wait_render (the one render wait of the suite)."""
        return wait_render(
            self, render_id, statuses, timeout=timeout, on_poll=seen.append if seen is not None else None
        )

    def say(self, session_id: str, text: str, streaming: bool = False) -> Stream:
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]},
            "streaming": streaming,
        }
        out = Stream(status=0)
        with self.http.stream(
            "POST",
            "/run_sse",
            json=body,
            headers={**self.headers, "Accept": "text/event-stream"},
            timeout=120,
        ) as resp:
            out.status = resp.status_code
            raw = "".join(resp.iter_text())
        out.body = raw
        if out.status != 200 or not resp.headers.get("content-type", "").startswith("text/event-stream"):
            return out
        for block in raw.split("\n\n"):
            for line in block.splitlines():
                if line.startswith("data: "):
                    out.events.append(json.loads(line[6:]))
                elif line.startswith(":"):
                    out.comments.append(line)
        return out


class Api:
    def __init__(self, server: NemoServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=60)

    def user(self, client_id: str | None = None) -> User:
        resp = self.http.post(
            "/api/auth/anonymous-token", headers={"X-Client-Id": client_id or str(uuid.uuid4())}
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        return User(self.http, data["token"], data["user_id"])

    def faults(self, **switches: Any) -> dict[str, Any]:
        resp = self.http.post("/admin/faults", json=switches, headers={"X-Admin-Token": ADMIN})
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def api(nemo_server: NemoServer) -> Iterator[Api]:
    client = Api(nemo_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NemoServer]:
    """A module's own server whose switches tests flip (and reset) through /admin/faults."""
    data_dir = tmp_path_factory.mktemp("nemo-faults")
    server = start_nemo_server(data_dir, "--keepalive-seconds", "0.05", "--silent-edit-share", "0")
    yield server
    stop_nemo_server(server)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def fault_api(fault_server: NemoServer) -> Iterator[Api]:
    client = Api(fault_server)
    yield client
    client.faults(
        burst_429=0, error_rate=0.0, slow_ms=0, sse_cut_after=0, render_fail=False, render_stuck=False,
        errors_in_200=False, render_shape_b=False,
    )  # fmt: skip
    client.close()


def _ffmpeg(*args: str) -> None:
    from nemo_local.media import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 2 s 320x240 video with sound, a 1 s WAV and a PNG, made once per test session."""
    d = tmp_path_factory.mktemp("nemo-media")
    video = d / "clip.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2", "-f", "lavfi", "-i",
        "sine=frequency=440:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        str(video),
    )  # fmt: skip
    wav = d / "tone.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=1", str(wav))
    png = d / "still.png"
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(png)
    return {"video": video, "wav": wav, "png": png}
