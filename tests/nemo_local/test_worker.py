"""Restart persistence: a render running when the server stops is resumed on restart, or failed with a
reason once it has been interrupted too often; it never stays 'processing'. Sessions and tokens survive."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NemoServer, start_nemo_server, stop_nemo_server
from tests.nemo_local.conftest import Api

TITLE_DRAFT = {"t": [{"tt": 7, "sg": [{"id": "t1", "s": 0, "d": 1000, "txt": "Hi"}]}], "d": 1000, "m": {}}


def _stop_cleanly(server: NemoServer) -> None:
    stop_nemo_server(server)
    assert server.process.returncode == 0


def test_render_interrupted_twice_ends_failed_with_a_reason(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_nemo_server(data, "--fault-render-stuck")
    api = Api(server)
    user = api.user("restart-client")
    sid = user.new_session()
    rid = user.post(
        "/api/render/proxy/lambda", json={"id": "render_restart_1", "sessionId": sid, "draft": TITLE_DRAFT}
    ).json()["id"]
    user.wait_render(rid, {"processing"}, timeout=60)
    _stop_cleanly(server)

    server = start_nemo_server(data, "--fault-render-stuck")
    user = Api(server).user("restart-client")  # same client id: the same token back after a restart
    assert user.state(sid)["session_id"] == sid
    user.wait_render(rid, {"processing"}, timeout=60)  # resumed once
    _stop_cleanly(server)

    server = start_nemo_server(data)
    try:
        user = Api(server).user("restart-client")
        body = user.wait_render(rid, {"failed", "completed", "cancelled"}, timeout=10)
        assert body["status"] == "failed" and "restart" in body["error"]
        assert user.credits()["total"] == 100
    finally:
        stop_nemo_server(server)


def test_render_running_at_shutdown_is_resumed_and_completes(
    tmp_path: Path, media_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    server = start_nemo_server(data, "--fault-render-stuck")
    user = Api(server).user("resume-client")
    sid = user.new_session()
    files = [("files", ("clip.mp4", media_files["video"].read_bytes()))]
    assert user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files).status_code == 200
    body = {
        "id": "render_resume_1",
        "sessionId": sid,
        "draft": user.state(sid)["state"]["draft"],
        "output": {"format": "mp4", "quality": "low"},
    }
    rid = user.post("/api/render/proxy/lambda", json=body).json()["id"]
    user.wait_render(rid, {"processing"}, timeout=60)
    _stop_cleanly(server)

    server = start_nemo_server(data)
    try:
        user = Api(server).user("resume-client")
        done = user.wait_render(rid, {"completed", "failed", "cancelled"}, timeout=60)
        assert done["status"] == "completed", done["error"]
        assert done["output"]["size"] > 0
    finally:
        stop_nemo_server(server)


def test_a_crash_is_reported_as_internal_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import nemo_local.renderer
    from nemo_local.config import ServerConfig
    from nemo_local.store import Store
    from nemo_local.worker import RenderWorker

    def crash(*_: Any, **__: Any) -> Any:
        raise KeyError("src")

    monkeypatch.setattr(nemo_local.renderer, "render_draft", crash)
    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 100).user_id
    session = store.sessions.create(user, "p", "en")
    job = store.renders.create("r1", user, session.id, TITLE_DRAFT, "mp4", "low")
    RenderWorker(store, ServerConfig(data_dir=tmp_path))._render(job, threading.Event())
    failed = store.renders.get(job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error == "render failed: internal error (KeyError); see the nemo-local log"
    assert any(job.id in r.getMessage() and r.exc_info for r in caplog.records)
    store.close()
