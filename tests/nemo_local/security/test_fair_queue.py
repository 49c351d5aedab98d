"""One user cannot starve the others: renders are picked fairly across users (not first come first
served), and a render running longer than --max-render-seconds fails naming that limit, its folder
freed. A real server with one render worker; the render_stuck fault keeps renders 'processing' until
the wall-clock limit stops them, so the order of service is seen without real long renders."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.nemo_local.conftest import User, wait_for
from tests.nemo_local.security.conftest import Client, Hostile, launch, stop

RENDER_SECONDS = 2


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("nemo-fair")
    server = launch(
        root / "data", "--render-workers", "1", "--max-render-seconds", str(RENDER_SECONDS),
        "--max-renders-per-user", "8",
    )  # fmt: skip
    yield server
    stop(server)
    shutil.rmtree(root, ignore_errors=True)


def _queue(user: User, sid: str) -> str:
    body = {
        "id": f"r_{uuid.uuid4().hex[:8]}",
        "sessionId": sid,
        "draft": {"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "hello"}]}]},
        "output": {"format": "mp4", "quality": "low"},
    }
    resp = user.post("/api/render/proxy/lambda", json=body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def _status(user: User, rid: str) -> dict[str, Any]:
    resp = user.get(f"/api/render/proxy/lambda/{rid}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_another_users_render_starts_before_a_long_queue_drains(one_worker: Hostile) -> None:
    client = Client(one_worker)
    client.faults(render_stuck=True)
    a, b = client.user(), client.user()
    a_sid, b_sid = a.new_session(), b.new_session()
    try:
        a_ids = [_queue(a, a_sid) for _ in range(4)]
        wait_for("A's first render to start", lambda: _status(a, a_ids[0])["status"] == "processing")
        b_id = _queue(b, b_sid)  # queued after all four of A's
        started = time.monotonic()
        # A's first render is stopped by the wall-clock limit; the next one to run is B's, not A's second
        wait_for("B's render to start", lambda: _status(b, b_id)["status"] == "processing")
        assert [_status(a, rid)["status"] for rid in a_ids[1:]] == ["pending"] * 3
        first = _status(a, a_ids[0])
        assert first["status"] == "failed", first
        assert time.monotonic() - started < 30  # one render's cap, not A's whole queue
    finally:
        client.faults(render_stuck=False)
        for rid in a_ids:
            a.post(f"/api/render/proxy/lambda/{rid}/cancel")
        b.post(f"/api/render/proxy/lambda/{b_id}/cancel")
        client.http.close()


def test_a_render_over_the_wall_clock_limit_fails_naming_it_and_frees_its_folder(
    one_worker: Hostile,
) -> None:
    client = Client(one_worker)
    client.faults(render_stuck=True)
    user = client.user()
    sid = user.new_session()
    try:
        rid = _queue(user, sid)
        wait_for("the render to start", lambda: _status(user, rid)["status"] == "processing")
        started = time.monotonic()
        wait_for("the render to fail", lambda: _status(user, rid)["status"] == "failed")
        elapsed = time.monotonic() - started
        error = _status(user, rid)["error"]
        assert f"{RENDER_SECONDS} s" in error and "render_seconds" in error, error
        assert "--max-render-seconds" in error, error
        assert elapsed < RENDER_SECONDS + 10, elapsed
        # its folder is gone: only renders still pending or running (none) keep one
        wait_for(
            "the render folders to be freed",
            lambda: not [p for p in (one_worker.data_dir / "renders").iterdir() if p.is_dir()],
            timeout=10,
        )
    finally:
        client.faults(render_stuck=False)
        client.http.close()
    one_worker.healthy()
