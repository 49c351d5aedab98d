"""An upload's files are published (a `files` row: served, kept by the start-up sweep) and recorded (an
`uploads` row: counted by the quota, listed in the session state) in one transaction, as a render's
publication and completion are (tests/nemo_local/security/test_redteam_publish.py). An error between the
two writes used to leave a served file no upload row pointed at: outside the quota, kept for ever."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from PIL import Image

from nemo_local.api.app import create_app
from nemo_local.config import ServerConfig
from nemo_local.store.media import MediaStore


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), colour).save(buf, "PNG")
    return buf.getvalue()


class InProcess:
    def __init__(self, client: httpx.AsyncClient, data_dir: Path, app: Any) -> None:
        self.client, self.data_dir, self.app = client, data_dir, app
        self.headers: dict[str, str] = {}

    async def session(self) -> str:
        anon = await self.client.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())})
        self.headers = {"Authorization": f"Bearer {anon.json()['data']['token']}"}
        made = await self.client.post(
            "/api/tasks/me/with-session/nemo_agent", json={"task_name": "p"}, headers=self.headers
        )
        return str(made.json()["data"]["session_id"])

    async def upload(self, sid: str, count: int) -> httpx.Response:
        files = [("files", (f"p{i}.png", _png((10 * i, 200, 10)), "image/png")) for i in range(count)]
        return await self.client.post(
            f"/api/upload-video/nemo_agent/me/{sid}", files=files, headers=self.headers
        )

    def rows(self, table: str) -> int:
        db = self.app.state.nemo.store.db
        return int(db.one(f"SELECT COUNT(*) AS n FROM {table}")["n"])

    def files_on_disk(self, sid: str) -> list[Path]:
        folder = self.data_dir / "uploads" / sid
        return [p for p in folder.iterdir() if p.is_file()] if folder.exists() else []


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcess]:
    app = create_app(ServerConfig(data_dir=tmp_path))
    # no lifespan: no render worker or composer pool; the app's re-raise after its 500 is ignored
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://nemo.test") as client:
        yield InProcess(client, tmp_path, app)
    app.state.nemo.store.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("fail_at", [1, 2])
async def test_an_error_between_publish_and_record_leaves_neither(
    server: InProcess, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    """Two files; recording the `fail_at`-th fails after its file was published: nothing is kept."""
    sid = await server.session()
    calls = 0
    record = MediaStore.add_upload

    def failing(self: MediaStore, *args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise RuntimeError("the disk went away between the two writes")
        record(self, *args)

    monkeypatch.setattr(MediaStore, "add_upload", failing)
    resp = await server.upload(sid, 2)
    assert resp.status_code == 500 and resp.json()["code"] == 500
    assert server.rows("files") == 0 and server.rows("uploads") == 0  # no served file without its row
    assert server.files_on_disk(sid) == []  # and no file left that no row points at
    monkeypatch.setattr(MediaStore, "add_upload", record)
    ok = await server.upload(sid, 2)  # the same session takes the upload afterwards
    assert ok.status_code == 200, ok.text
    assert server.rows("files") == 2 and server.rows("uploads") == 2
    assert len(server.files_on_disk(sid)) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("in_200", [False, True], ids=["HTTP 422", "errors_in_200"])
async def test_a_full_storage_quota_has_its_own_code(server: InProcess, in_200: bool) -> None:
    """Code 4004 (ours; the contract has none), HTTP 422: a client tells it from a malformed request's
    422 and names it (data: field, limit, value, switch)."""
    from nemo_local.limits import replace
    from nemo_local.quota import QUOTA_CODE

    config = server.app.state.nemo.config
    config.limits = replace(config.limits, storage_bytes=10)  # less than one small picture
    config.faults.errors_in_200 = in_200
    sid = await server.session()
    resp = await server.upload(sid, 1)
    assert resp.status_code == (200 if in_200 else 422)
    body = resp.json()
    assert body["code"] == QUOTA_CODE == 4004, body
    assert body["data"]["field"] == "stored files" and body["data"]["switch"] == "--max-storage-mb"
    assert body["data"]["limit"] == 10 and body["data"]["value"] > 10
    assert "storage is full" in body["message"] and "--max-storage-mb" in body["message"]
    assert server.rows("files") == 0 and server.files_on_disk(sid) == []
