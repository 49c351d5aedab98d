"""Disk: a user's uploads and finished exports count against --max-storage-mb, and an upload or render
over it is refused with the enveloped error before anything is stored, rendered or charged; while the
disk is under --min-free-disk-mb free, uploads and renders are refused the same way (507)."""

from __future__ import annotations

import io
import os
import shutil
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from nemo_local.quota import QUOTA_CODE
from tests.nemo_local.conftest import User
from tests.nemo_local.security.conftest import Client, Hostile, envelope, launch, small_png, stop

QUOTA_KB = 40


def _noise_png(kb: int) -> bytes:
    """A PNG of about `kb` KB: random pixels do not compress."""
    from PIL import Image

    side = int((kb * 1024 / 3) ** 0.5) + 1
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def quota(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("nemo-quota")
    server = launch(root / "data", "--max-storage-mb", str(QUOTA_KB / 1024))
    yield server
    stop(server)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """A free-space floor far above what any disk has: the server sees its disk as full."""
    root = tmp_path_factory.mktemp("nemo-full")
    server = launch(root / "data", "--min-free-disk-mb", str(10**9))
    yield server
    stop(server)
    shutil.rmtree(root, ignore_errors=True)


def _upload(user: User, sid: str, name: str, data: bytes) -> httpx.Response:
    return user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=[("files", (name, data))])


def _render(user: User, sid: str) -> httpx.Response:
    body = {
        "id": f"r_{uuid.uuid4().hex[:8]}",
        "sessionId": sid,
        "draft": {"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "hello"}]}]},
        "output": {"format": "mp4", "quality": "low"},
    }
    return user.post("/api/render/proxy/lambda", json=body)


def _stored(server: Hostile) -> set[str]:
    return {str(p) for folder in ("uploads", "media") for p in (server.data_dir / folder).rglob("*")}


def test_uploads_and_exports_count_against_the_users_quota(quota: Hostile) -> None:
    client = Client(quota)
    user, other = client.user(), client.user()
    sid = user.new_session()
    assert _upload(user, sid, "small.png", small_png()).status_code == 200
    before, credits = _stored(quota), user.credits()
    too_big = _noise_png(QUOTA_KB + 8)
    body = envelope(_upload(user, sid, "big.png", too_big), 422, QUOTA_CODE)
    assert "--max-storage-mb" in body["message"] and body["data"]["switch"] == "--max-storage-mb"
    assert body["data"]["value"] > body["data"]["limit"] == int(QUOTA_KB * 1024)
    assert _stored(quota) == before and user.credits() == credits  # nothing kept, nothing charged
    # a finished export is counted too: render until the user's files are over the quota
    for _ in range(10):
        resp = _render(user, sid)
        if resp.status_code != 200:
            break
        assert user.wait_render(resp.json()["id"])["status"] == "completed"
    body = envelope(resp, 422, QUOTA_CODE)
    assert "storage is full" in body["message"] and "--max-storage-mb" in body["message"]
    assert (
        envelope(_upload(user, sid, "small.png", small_png()), 422, QUOTA_CODE)["data"]["switch"]
        == "--max-storage-mb"
    )
    # the quota is per user: another user still uploads and renders
    osid = other.new_session()
    assert _upload(other, osid, "small.png", small_png()).status_code == 200
    assert _render(other, osid).status_code == 200
    quota.healthy()
    client.http.close()


def test_an_upload_is_cut_off_where_it_passes_the_quota_not_after(quota: Hostile) -> None:
    """A body far over what the user has left (but under the per-file limit) is refused while it
    streams: the error counts only the bytes received up to the quota, never the whole 8 MB."""
    client = Client(quota)
    user = client.user()
    sid = user.new_session()
    head = b'--BB\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n\r\n' + small_png()

    def stream() -> Iterator[bytes]:
        yield head
        for _ in range(128):
            yield b"\x00" * 65536
        yield b"\r\n--BB--\r\n"

    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        content=stream(),
        headers={"Content-Type": "multipart/form-data; boundary=BB"},
    )
    body = envelope(resp, 422, QUOTA_CODE)
    assert "storage is full" in body["message"] and body["data"]["switch"] == "--max-storage-mb"
    limit = int(QUOTA_KB * 1024)
    assert limit < body["data"]["value"] < limit + 1024 * 1024, body["data"]  # cut at the quota
    assert not [p for p in (quota.data_dir / "uploads" / sid).rglob("*") if p.is_file()]  # nothing kept
    assert user.state(sid)["state"]["draft"] is None
    quota.healthy()
    client.http.close()


def test_under_the_free_disk_floor_uploads_and_renders_are_refused(full_disk: Hostile) -> None:
    client = Client(full_disk)
    user = client.user()
    sid = user.new_session()
    before, credits = _stored(full_disk), user.credits()
    up = envelope(_upload(user, sid, "small.png", small_png()), 507)
    assert "--min-free-disk-mb" in up["message"] and up["data"]["switch"] == "--min-free-disk-mb"
    render = envelope(_render(user, sid), 507)
    assert "disk is nearly full" in render["message"] and render["data"]["field"] == "free disk space"
    assert _stored(full_disk) == before and user.credits() == credits
    assert not list((full_disk.data_dir / "renders").iterdir())  # no render was created
    full_disk.healthy()
    client.http.close()


def test_parallel_uploads_of_one_user_share_one_quota(quota: Hostile) -> None:
    """Red-team finding: each upload measured the quota against what was stored when it began, so
    uploads running side by side each had the whole room: four 31 KB uploads under a 40 KB quota kept
    two (62 KB). The bytes a user's uploads are still receiving now count for all of them."""
    client = Client(quota)
    user = client.user()
    sid = user.new_session()
    parallel = 4
    pngs = [_noise_png(30) for _ in range(parallel)]
    assert all(QUOTA_KB * 1024 // 2 < len(p) < QUOTA_KB * 1024 for p in pngs)  # one fits, two don't
    all_sent = threading.Barrier(parallel)
    answers: list[httpx.Response | None] = [None] * parallel

    def upload(i: int) -> None:
        def body() -> Iterator[bytes]:
            yield b'--BB\r\nContent-Disposition: form-data; name="files"; filename="p.png"\r\n\r\n' + pngs[i]
            all_sent.wait(30)  # every upload has sent its file before any of them ends
            yield b"\r\n--BB--\r\n"

        with httpx.Client(base_url=quota.base_url, timeout=60) as http:
            answers[i] = http.post(
                f"/api/upload-video/nemo_agent/me/{sid}",
                content=body(),
                headers={**user.headers, "Content-Type": "multipart/form-data; boundary=BB"},
            )

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = [a.status_code if a is not None else None for a in answers]
    assert statuses.count(200) == 1, statuses
    for answer in answers:
        assert answer is not None
        if answer.status_code != 200:
            assert envelope(answer, 422, QUOTA_CODE)["data"]["switch"] == "--max-storage-mb"
    kept = [p for p in (quota.data_dir / "uploads" / sid).rglob("*") if p.is_file()]
    assert len(kept) == 1 and sum(p.stat().st_size for p in kept) <= QUOTA_KB * 1024
    assert len(user.state(sid)["state"]["video_infos"]) == 1
    # the refused uploads hold nothing afterwards: once the kept file is counted, the room left is free
    assert (
        envelope(_upload(user, sid, "big.png", pngs[0]), 422, QUOTA_CODE)["data"]["switch"]
        == "--max-storage-mb"
    )
    assert _upload(user, sid, "small.png", small_png()).status_code == 200
    quota.healthy()
    client.http.close()


def test_the_drafts_renders_keep_count_against_the_quota(quota: Hostile) -> None:
    """Red-team finding: every render keeps its draft (up to the 1 MB body limit: unknown keys are
    kept), whatever its outcome, and nothing counted it. Renders that fail at once (media not on this
    server) could fill the database without end; their drafts now count against the quota."""
    client = Client(quota)
    user = client.user()
    sid = user.new_session()
    junk = "x" * (QUOTA_KB * 1024 // 3)
    draft = {"t": [{"tt": 1, "sg": [{"s": 0, "d": 500, "src": "/files/nowhere/a.wav"}]}], "notes": junk}
    statuses = []
    for _ in range(5):
        body = {
            "id": f"r_{uuid.uuid4().hex[:8]}",
            "sessionId": sid,
            "draft": draft,
            "output": {"format": "wav"},
        }
        resp = user.post("/api/render/proxy/lambda", json=body)
        statuses.append(resp.status_code)
        if resp.status_code != 200:
            break
        assert user.wait_render(resp.json()["id"])["status"] == "failed"
    assert statuses == [200, 200, 200, 422], statuses  # the third draft fills the 40 KB
    assert "storage is full" in envelope(resp, 422, QUOTA_CODE)["message"]
    quota.healthy()
    client.http.close()
