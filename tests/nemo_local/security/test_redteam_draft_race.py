"""Red-team finding (lost updates): an upload read the session's latest draft, added its files, then saved
the result as a new version, in two steps. Parallel uploads to one session each added their files to the
same version and each save replaced the others': 15 parallel one-picture uploads all answered
`session_state_applied: true`, and the draft held 12 to 14 of the pictures. The change is now made to
the latest draft in the transaction that saves it."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from nemo_local.api import uploads
from nemo_local.limits import Limits
from nemo_local.store import Store, UploadRow
from tests.nemo_local.conftest import wait_for
from tests.nemo_local.security.conftest import Client, envelope, small_png


def _row(store: Store, name: str) -> tuple[UploadRow, str]:
    path = store.path("uploads", "s") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(small_png())
    public = store.media.publish(path, name, "image/png", "usr_a")
    row = UploadRow("upl_" + name[:6], name, "image", public, 1, None, 16, 12, None, "h")
    return row, "http://x" + public.url_path


def _names(draft: dict[str, Any] | None) -> list[str]:
    assert draft is not None
    return sorted(s["m"]["name"] for t in draft["t"] if t["tt"] == 0 for s in t["sg"])  # the video track


def test_two_uploads_that_read_the_same_draft_both_stay_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: whoever reads the session's latest draft waits until the other upload has read
    it too (the interleaving that lost one upload's files); the draft must end up with both."""
    store = Store(tmp_path / "data")
    try:
        session = store.sessions.create("usr_a", "demo", "en")
        state = SimpleNamespace(store=store, config=SimpleNamespace(limits=Limits()))
        rows = [_row(store, f"pic{i}.png") for i in range(2)]
        both_read = threading.Barrier(2, timeout=5)
        real = store.sessions.latest_draft

        def latest_draft(session_id: str) -> Any:
            found = real(session_id)
            # a condition wait: both uploads have read the draft (broken when only one reads it so)
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()
            return found

        monkeypatch.setattr(store.sessions, "latest_draft", latest_draft)
        with ThreadPoolExecutor(2) as pool:
            applied = list(pool.map(lambda r: uploads._apply(state, session, [r]), rows))
        assert applied == [True, True]
        _, draft = real(session.id)
        assert _names(draft) == ["pic0.png", "pic1.png"]
        assert [v for v, _ in store.sessions.draft_history(session.id)] == [1, 2]
    finally:
        store.close()


def test_parallel_uploads_to_one_session_all_reach_its_draft(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    count = 10  # under the hostile server's 20 segments per draft

    def upload(i: int) -> Any:
        resp = user.post(
            f"/api/upload-video/nemo_agent/me/{sid}",
            files={"files": (f"p{i}.png", small_png(), "image/png")},
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]

    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(upload, range(count)))
    assert all(a["session_state_applied"] for a in answers)
    draft = user.state(sid)["state"]["draft"]
    assert _names(draft) == sorted(f"p{i}.png" for i in range(count))


def test_an_upload_while_the_music_composes_stays_on_the_draft(strict: Client) -> None:
    """The agent's turn read the draft before composing and saved the music on that copy afterwards:
    a picture uploaded meanwhile (answered `session_state_applied: true`) was gone from the draft."""
    user = strict.user()
    sid = user.new_session()
    turn: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: turn.setdefault("stream", user.say(sid, "make a calm lofi track, 60 seconds"))
    )
    thread.start()
    try:
        # the turn has read the draft and holds its credits: it is composing
        wait_for("the generation's credit hold", lambda: user.credits()["frozen"] > 0, timeout=30)
        resp = user.post(
            f"/api/upload-video/nemo_agent/me/{sid}",
            files={"files": ("pic.png", small_png(), "image/png")},
        )
        assert resp.status_code == 200 and resp.json()["data"]["session_state_applied"], resp.text
        landed_while_composing = thread.is_alive()
    finally:
        thread.join(timeout=120)
    assert not thread.is_alive() and turn["stream"].status == 200
    assert landed_while_composing  # else this test saw no interleaving (a 60 s track takes ~1 s)
    draft = user.state(sid)["state"]["draft"]
    assert _names(draft) == ["pic.png"]  # the upload
    assert [s["m"]["generated"] for t in draft["t"] if t["tt"] == 1 for s in t["sg"]] == [True]  # the music
    assert user.credits()["frozen"] == 0


def test_the_draft_room_is_checked_where_the_files_are_published(tmp_path: Path) -> None:
    """The draft's segment limit was checked before the files were probed, on the draft as it was then:
    parallel uploads all passed it and 10 uploads of 3 pictures left a 30-segment draft under a limit of
    20 (unexportable). Publishing onto a draft that filled up meanwhile must refuse, storing nothing."""
    from nemo_local.ingest.receive import ReceivedFile
    from nemo_local.ingest.sniff import check_type
    from nemo_local.limits import LimitExceeded, replace

    store = Store(tmp_path / "data")
    try:
        session = store.sessions.create("usr_a", "demo", "en")
        full = {"t": [{"tt": 0, "sg": [{"id": f"s{i}", "s": 0, "d": 1000} for i in range(19)]}], "d": 1000}
        store.sessions.save_draft(session.id, full, "another upload")  # 19 of 20: one more fits
        limits = replace(Limits(), draft_segments=20)
        state = SimpleNamespace(store=store, config=SimpleNamespace(limits=limits))
        received, described = [], []
        for i in range(2):
            path = store.path("uploads", session.id) / f"p{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(small_png())
            f = ReceivedFile(f"p{i}.png", path, path.stat().st_size, check_type("p.png", small_png()))
            received.append(f)
            info = {"duration": None, "width": 16, "height": 12, "fps": None, "hash": "h"}
            described.append(info)
        with pytest.raises(LimitExceeded) as refused:
            uploads._publish(state, session, "usr_a", received, described, "http://x")
        assert refused.value.name == "draft_segments" and refused.value.value == 21
        assert store.media.uploads(session.id) == []  # nothing published, nothing counted
        assert store.db.one("SELECT COUNT(*) AS n FROM files")["n"] == 0
        assert store.sessions.latest_draft(session.id) == (1, full)
    finally:
        store.close()


def test_parallel_uploads_keep_the_draft_within_its_segment_limit(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    pictures = [("files", (f"p{i}.png", small_png(), "image/png")) for i in range(3)]

    def upload(_: int) -> httpx.Response:
        return user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=pictures)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(upload, range(10)))  # 30 pictures for a 20-segment draft
    ok = [a for a in answers if a.status_code == 200]
    for refused in (a for a in answers if a.status_code != 200):
        assert envelope(refused, 422)["data"]["switch"] == "--max-segments"
    draft = user.state(sid)["state"]["draft"]
    segments = sum(len(t["sg"]) for t in draft["t"])
    assert segments == 3 * len(ok) <= 20
    stored = [p for p in (strict.server.data_dir / "uploads" / sid).iterdir() if p.is_file()]
    assert len(stored) == segments  # a refused upload left no file behind
