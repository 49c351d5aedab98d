"""Uploads: streamed, probed, hashed, type-checked by content, limited to 200 MB while streaming;
URL uploads refuse internal addresses unless the server was started with --allow-private-urls."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest

from nemo_local.api.state import AppState
from nemo_local.api.uploads import _early_room_on_draft
from nemo_local.limits import LimitExceeded, Limits, replace
from nemo_local.store import Store
from tests.conftest import NemoServer, start_nemo_server, stop_nemo_server
from tests.nemo_local.conftest import Api, User


def _upload(user: User, sid: str, *paths: Path, names: list[str] | None = None) -> httpx.Response:
    files = [("files", ((names or [])[i] if names else p.name, p.open("rb"))) for i, p in enumerate(paths)]
    try:
        return user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files, timeout=120)
    finally:
        for _, (_, fh) in files:
            fh.close()


def _leftovers(server: NemoServer, sid: str) -> list[Path]:
    folder = server.data_dir / "uploads" / sid
    return list(folder.iterdir()) if folder.exists() else []


def test_video_upload_is_probed_hashed_served_and_placed(api: Api, media_files: dict[str, Path]) -> None:
    user = api.user()
    sid = user.new_session()
    resp = _upload(user, sid, media_files["video"])
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["session_state_applied"] is True
    (f,) = data["files"]
    assert f["filename"] == "clip.mp4" and f["file_type"] == "video"
    assert (f["width"], f["height"]) == (320, 240)
    assert f["fps"] == pytest.approx(25, abs=0.1)
    assert f["duration"] == pytest.approx(2.0, abs=0.15)
    assert f["hash"] == hashlib.sha256(media_files["video"].read_bytes()).hexdigest()
    served = httpx.get(f["cdn_url"])  # no token needed: the path itself is unguessable
    assert served.status_code == 200 and served.content == media_files["video"].read_bytes()
    assert "token" not in f["cdn_url"] and user.token not in f["cdn_url"]
    state = user.state(sid)["state"]
    (video_track,) = [t for t in state["draft"]["t"] if t["tt"] == 0]
    (seg,) = video_track["sg"]
    assert seg["src"] == f["cdn_url"] and abs(seg["d"] - 2000) < 150
    assert state["video_infos"][0]["hash"] == f["hash"]
    assert state["canvas_config"] == {"width": 1920, "height": 1080}


def test_several_files_of_each_kind(api: Api, media_files: dict[str, Path]) -> None:
    user = api.user()
    sid = user.new_session()
    resp = _upload(user, sid, media_files["png"], media_files["wav"])
    kinds = {f["filename"]: f for f in resp.json()["data"]["files"]}
    assert kinds["still.png"]["file_type"] == "image" and kinds["still.png"]["width"] == 64
    assert kinds["tone.wav"]["file_type"] == "audio" and kinds["tone.wav"]["duration"] == pytest.approx(
        1.0, abs=0.05
    )
    tracks = {t["tt"]: t for t in user.state(sid)["state"]["draft"]["t"]}
    assert tracks[0]["sg"][0]["d"] == 5000 and tracks[1]["sg"][0]["d"] == 1000


def test_type_is_checked_by_content(
    api: Api, nemo_server: NemoServer, tmp_path: Path, media_files: dict[str, Path]
) -> None:
    user = api.user()
    sid = user.new_session()
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video at all, just text pretending to be one\n" * 20)
    for path, name in (
        (fake, "fake.mp4"),
        (media_files["video"], "clip.txt"),
        (media_files["png"], "still.mp3"),
    ):
        resp = _upload(user, sid, path, names=[name])
        assert resp.status_code == 415, name
        body = resp.json()
        assert body["code"] == 4001 and "mp4" in body["message"]
    assert _leftovers(nemo_server, sid) == []


def test_over_200_mb_is_refused_while_streaming(api: Api, nemo_server: NemoServer, tmp_path: Path) -> None:
    user = api.user()
    sid = user.new_session()
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:  # sparse: a real MP4 header, then a hole up to 201 MB
        fh.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        fh.truncate(201 * 1024 * 1024)
    resp = _upload(user, sid, big)
    assert resp.status_code == 413
    body = resp.json()
    assert body["code"] == 4002
    assert body["data"]["limit"] == 200 * 1024 * 1024 and body["data"]["size"] > body["data"]["limit"]
    assert _leftovers(nemo_server, sid) == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.mp4",
        "file:///etc/passwd",
        "http://127.0.0.1:9/a.mp4",
        "http://localhost/a.mp4",
        "http://[::1]/a.mp4",
        "http://10.1.2.3/a.mp4",
        "http://192.168.0.10/a.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://user:pw@example.com/a.mp4",
    ],
)
def test_url_uploads_refuse_internal_targets(api: Api, url: str) -> None:
    user = api.user()
    sid = user.new_session()
    resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [url], "source_type": "url"})
    assert resp.status_code == 422
    assert resp.json()["code"] == 4003


@pytest.fixture
def file_host(media_files: dict[str, Path]) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving the media files."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(media_files["video"].parent)
    )
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url_upload_with_allow_flag_and_limit(
    tmp_path: Path, file_host: str, media_files: dict[str, Path]
) -> None:
    small, large = sorted((media_files["wav"], media_files["video"]), key=lambda p: p.stat().st_size)
    limit_mb = (small.stat().st_size + large.stat().st_size) / 2 / (1024 * 1024)
    server = start_nemo_server(
        tmp_path / "data", "--allow-private-urls", "--max-upload-mb", f"{limit_mb:.6f}"
    )
    try:
        user = Api(server).user()
        sid = user.new_session()
        ok = user.post(
            f"/api/upload-video/nemo_agent/me/{sid}",
            json={"urls": [f"{file_host}/{small.name}"], "source_type": "url"},
        )
        assert ok.status_code == 200, ok.text
        (f,) = ok.json()["data"]["files"]
        assert f["filename"] == small.name and f["hash"] == hashlib.sha256(small.read_bytes()).hexdigest()
        big = user.post(
            f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [f"{file_host}/{large.name}"]}
        )
        assert big.status_code == 413 and big.json()["code"] == 4002
        assert len(_leftovers(server, sid)) == 1
    finally:
        stop_nemo_server(server)


@pytest.mark.parametrize(
    "draft",
    [
        {"t": [{"tt": 0, "sg": [{"id": "a", "s": 0, "d": 1000}] * 3}, {"tt": 1}], "d": 3000},
        {"tracks": [{"type": "video", "segments": [{"id": "a", "start_ms": 0}] * 3}, {"type": "audio"}]},
    ],
    ids=["short keys", "readable names"],
)
def test_the_draft_room_counts_segments_under_either_key(tmp_path: Path, draft: dict[str, Any]) -> None:
    """Uploads go on the session's draft: its segments are counted by the renderer's keys, so a draft
    written with readable names (`tracks`/`segments`) is not taken for an empty one."""
    store = Store(tmp_path)
    session = store.sessions.create("usr_a", "demo", "en")
    store.sessions.save_draft(session.id, draft, "imported")
    limits = replace(Limits(), draft_segments=4)
    state = cast(AppState, SimpleNamespace(store=store, config=SimpleNamespace(limits=limits)))
    try:
        _early_room_on_draft(state, session, 1)  # 3 + 1: at the limit, allowed
        with pytest.raises(LimitExceeded) as refused:
            _early_room_on_draft(state, session, 2)
    finally:
        store.close()
    assert refused.value.name == "draft_segments" and refused.value.value == 5
    assert "has 3 segments" in str(refused.value)
