"""A scripted stand-in for NemoClient, injected through NemoHook.get_client.

It returns the client's real models, so the operators are tested against the same types the real
client produces; the end-to-end tests cover the real client against nemo_local.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nemo_provider.client.draft import Draft
from nemo_provider.client.errors import NemoAPIError, NemoConnectionError
from nemo_provider.client.models import (
    Credits,
    DownloadResult,
    GeneratedMedia,
    MessageResult,
    RenderStatus,
    SessionInfo,
    SessionState,
)
from nemo_provider.hooks.nemo import NemoHook
from nemo_provider.operators import _attempts

DRAFT_WIRE = {
    "t": [{"tt": 1, "sg": [{"id": "bgm1", "s": 0, "d": 6000, "src": "http://x/m.mp3", "v": 0.35}]}],
    "d": 6000,
    "m": {"width": 1920, "height": 1080},
}


@dataclass
class FakeNemoClient:
    """Records every call; render statuses are served from a script (last one repeats)."""

    draft: dict[str, Any] | None = field(default_factory=lambda: dict(DRAFT_WIRE))
    statuses: list[str] = field(default_factory=lambda: ["processing", "completed"])
    render_error: str | None = None
    payload: bytes = b"x" * 1234
    reported_size: int | None = None
    media: list[GeneratedMedia] = field(default_factory=list)
    credits_available: float = 100.0
    send_effect: bool = True
    send_raises: Exception | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    renders_created: int = 0
    token: str | None = None
    _render_status: dict[str, list[str]] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __enter__(self) -> FakeNemoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    def create_session(self, task_name: str = "project", language: str | None = None) -> SessionInfo:
        self.calls.append(("create_session", task_name))
        return SessionInfo(task_id="t1", session_id="1234567890123456789", user_id="u1")

    def state(self, session_id: str) -> SessionState:
        self.calls.append(("state", session_id))
        return SessionState(
            session_id=session_id,
            draft=Draft.from_wire(self.draft) if self.draft else None,
            generated_media=list(self.media),
        )

    def credits(self) -> Credits:
        self.calls.append(("credits", None))
        return Credits(available=self.credits_available, frozen=0, total=self.credits_available)

    def send_message(self, session_id: str, text: str, **kwargs: Any) -> MessageResult:
        self.calls.append(("send_message", text))
        if self.send_raises is not None:
            raise self.send_raises
        if self.send_effect:
            n = next(self._counter)
            self.media.append(GeneratedMedia(id=f"m{n}", kind="music", bpm=90, key="C", duration_ms=6000))
            self.credits_available -= 10
            self.draft = {**DRAFT_WIRE, "d": 6000 + n}
        on_text = kwargs.get("on_text")
        if on_text:
            on_text("Here is your track.")
        return MessageResult(texts=["Here is your track."], elapsed=0.1)

    def create_render(
        self,
        session_id: str,
        draft: Any,
        format: str = "mp4",
        quality: str = "high",
        render_id: str | None = None,
    ) -> RenderStatus:
        self.renders_created += 1
        rid = render_id or f"render_{next(self._counter)}"
        self.calls.append(("create_render", rid))
        self._render_status[rid] = list(self.statuses)
        return RenderStatus(id=rid, status="pending")

    def render_status(self, render_id: str) -> RenderStatus:
        self.calls.append(("render_status", render_id))
        script = self._render_status.get(render_id)
        if script is None:
            raise NemoAPIError(f"Render not found: {render_id}", code=404, http_status=404)
        status = script.pop(0) if len(script) > 1 else script[0]
        if status == "flaky":
            raise NemoConnectionError("connection reset")
        done = status == "completed"
        return RenderStatus(
            id=render_id,
            status=status,  # type: ignore[arg-type]
            progress=100.0 if done else 40.0,
            url=f"http://nemo.test/files/{render_id}.mp4" if done else None,
            size=(self.reported_size or len(self.payload)) if done else None,
            duration=6.0 if done else None,
            error=self.render_error if status == "failed" else None,
        )

    def cancel_render(self, render_id: str) -> RenderStatus:
        self.calls.append(("cancel_render", render_id))
        self._render_status[render_id] = ["cancelled"]
        return RenderStatus(id=render_id, status="cancelled")

    def download(self, url_or_render_id: str, dest: str | Path) -> DownloadResult:
        self.calls.append(("download", url_or_render_id))
        Path(dest).write_bytes(self.payload)
        return DownloadResult(path=Path(dest), size=len(self.payload))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class FakeTI:
    """Just enough of a RuntimeTaskInstance for the operators: identity and XCom."""

    def __init__(self, try_number: int = 1) -> None:
        self.dag_id = "dag"
        self.run_id = "run"
        self.task_id = "task"
        self.map_index = -1
        self.try_number = try_number
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> FakeNemoClient:
    client = FakeNemoClient()
    monkeypatch.setattr(NemoHook, "get_client", lambda self, **kw: client)
    return client


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> _attempts.InMemoryBackend:
    backend = _attempts.InMemoryBackend()
    monkeypatch.setattr(_attempts, "default_backend", backend)
    return backend


@pytest.fixture
def ti() -> FakeTI:
    return FakeTI()


@pytest.fixture
def new_try():
    """Build the task instance of a later try of the same task (same identity, next try number)."""

    def _make(previous: FakeTI) -> FakeTI:
        return FakeTI(try_number=previous.try_number + 1)

    return _make
