"""Export: create, poll (shape A), cancel, download; the full conversation generate -> edit -> state ->
render -> download, with the file probed; request errors; the free-plan 402."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from nemo_local.media import probe
from tests.nemo_local.conftest import Api

TITLE_DRAFT = {"t": [{"tt": 7, "sg": [{"id": "t1", "s": 0, "d": 1000, "txt": "Hi"}]}], "d": 1000, "m": {}}


def test_full_conversation_to_a_downloaded_video(
    api: Api, tmp_path: Path, media_files: dict[str, Path]
) -> None:
    user = api.user()
    sid = user.new_session()
    up = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        files=[("files", ("clip.mp4", media_files["video"].read_bytes()))],
    )
    assert up.status_code == 200
    assert user.say(sid, "generate a calm lo-fi track, 4-second").parts("functionResponse")
    assert user.say(sid, "lower the music to 35%").parts("functionResponse")
    draft = user.state(sid)["state"]["draft"]
    rid = f"render_{uuid.uuid4().hex}"
    created = user.post(
        "/api/render/proxy/lambda",
        json={"id": rid, "sessionId": sid, "draft": draft, "output": {"format": "mp4", "quality": "low"}},
    )
    assert created.status_code == 200 and created.json() == {"id": rid, "status": "pending", "progress": 0.0}
    polls: list[dict[str, Any]] = []
    done = user.wait_render(rid, seen=polls)
    assert done["status"] == "completed", done.get("error")
    assert done["taskId"] == rid and done["progress"] == 100 and done["error"] is None
    seen = [poll["progress"] for poll in polls]
    assert all(b >= a for a, b in itertools.pairwise(seen))
    url = done["output"]["url"]
    assert user.token not in url
    assert url.endswith(f"/{rid}.mp4"), url  # the caller's id, never the server's rnd_ key
    out = tmp_path / "export.mp4"
    out.write_bytes(httpx.get(url).content)
    info = probe(out)
    assert info.has_video and info.has_audio and info.video_codec == "h264"
    assert abs(info.duration - draft["d"] / 1000) < 0.5
    assert out.stat().st_size == done["output"]["size"]
    fallback = user.get(f"/api/render/proxy/{rid}/download")
    assert fallback.status_code == 200 and fallback.content == out.read_bytes()
    for served in (fallback, httpx.get(url)):
        assert served.headers["content-disposition"] == f'attachment; filename="{rid}.mp4"'
    other = api.user()
    assert other.get(f"/api/render/proxy/{rid}/download").status_code == 404
    assert other.get(f"/api/render/proxy/lambda/{rid}").status_code == 404


def test_audio_only_export(api: Api, tmp_path: Path) -> None:
    user = api.user()
    sid = user.new_session()
    user.say(sid, "generate an upbeat pop track, 4-second")
    draft = user.state(sid)["state"]["draft"]
    rid = user.post(
        "/api/render/proxy/lambda", json={"sessionId": sid, "draft": draft, "output": {"format": "mp3"}}
    ).json()["id"]
    done = user.wait_render(rid)
    assert done["status"] == "completed", done.get("error")
    out = tmp_path / "a.mp3"
    out.write_bytes(httpx.get(done["output"]["url"]).content)
    info = probe(out)
    assert info.has_audio and not info.has_video and abs(info.duration - 4) < 0.5


def test_request_errors(api: Api) -> None:
    user = api.user()
    sid = user.new_session()
    rid = f"render_{uuid.uuid4().hex}"
    body = {"id": rid, "sessionId": sid, "draft": TITLE_DRAFT, "output": {"format": "mp3"}}
    assert user.post("/api/render/proxy/lambda", json=body).status_code == 200
    dup = user.post("/api/render/proxy/lambda", json=body)
    assert dup.status_code == 409 and "Duplicate" in dup.json()["message"]
    bad_fmt = user.post("/api/render/proxy/lambda", json={**body, "id": None, "output": {"format": "exe"}})
    assert bad_fmt.status_code == 422 and bad_fmt.json()["code"] == 422
    empty = user.post("/api/render/proxy/lambda", json={"sessionId": sid, "draft": {"t": []}})
    assert empty.status_code == 422
    unknown = user.get("/api/render/proxy/lambda/render_nope")
    assert unknown.status_code == 404 and unknown.json()["code"] == 404
    not_done = user.post("/api/render/proxy/lambda", json={"sessionId": sid, "draft": TITLE_DRAFT}).json()[
        "id"
    ]
    early = user.get(f"/api/render/proxy/{not_done}/download")
    assert early.status_code in (200, 409)  # 409 while it is not completed


READABLE_DRAFT = {
    "tracks": [
        {"type": "text", "segments": [{"id": "t1", "start_ms": 0, "duration_ms": 1000, "text": "Hi"}]}
    ],
    "duration_ms": 1000,
    "metadata": {},
}


def test_a_draft_with_readable_keys_renders_like_the_short_one(api: Api) -> None:
    """The renderer reads `tracks`/`segments`/... as well as `t`/`sg`; the API once refused such a draft
    as having nothing to export. One reader now decides both."""
    user = api.user()
    sid = user.new_session()
    body = {"sessionId": sid, "draft": READABLE_DRAFT, "output": {"format": "mp4", "quality": "low"}}
    created = user.post("/api/render/proxy/lambda", json=body)
    assert created.status_code == 200, created.text
    done = user.wait_render(created.json()["id"])
    assert done["status"] == "completed", done.get("error")
    assert abs(done["output"]["duration"] - 1.0) < 0.2


@pytest.mark.parametrize(
    ("draft", "reason"),
    [
        ({"t": [{"tt": 0, "sg": [{"id": "v1", "s": 0, "d": 1000}]}]}, "has no media source"),
        ({"t": [{"tt": 7, "sg": [{"id": "t1", "s": 0, "d": 1000, "txt": "  "}]}]}, "no segments to render"),
        ({"tracks": []}, "has no tracks"),
    ],
)
def test_a_draft_the_renderer_cannot_render_is_refused_at_creation(
    api: Api, draft: dict[str, Any], reason: str
) -> None:
    """Not accepted, charged and then failed: 422 with the renderer's own reason, and no render exists."""
    user = api.user()
    sid = user.new_session()
    before = user.credits()
    rid = f"render_{uuid.uuid4().hex}"
    resp = user.post("/api/render/proxy/lambda", json={"id": rid, "sessionId": sid, "draft": draft})
    assert resp.status_code == 422, resp.text
    assert reason in resp.json()["message"] and resp.json()["data"]["field"] == "draft"
    assert user.get(f"/api/render/proxy/lambda/{rid}").status_code == 404
    assert user.credits() == before


def test_cancel_a_running_render(api: Api) -> None:
    user = api.user()
    sid = user.new_session()
    user.say(sid, "generate a calm piano track, 60-second")
    draft = user.state(sid)["state"]["draft"]
    rid = user.post(
        "/api/render/proxy/lambda",
        json={"sessionId": sid, "draft": draft, "output": {"format": "mp4", "quality": "high"}},
    ).json()["id"]
    cancelled = user.post(f"/api/render/proxy/lambda/{rid}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert user.wait_render(rid)["status"] == "cancelled"
    assert user.get(f"/api/render/proxy/{rid}/download").status_code == 409


def test_free_plan_export_needs_attribution_once_credits_are_spent(api: Api) -> None:
    user = api.user()
    sid = user.new_session()
    for _ in range(10):
        assert user.say(sid, "generate a calm lo-fi track, 1-second").parts("functionResponse")
    assert user.credits()["available"] == 0
    refused = api.http.post(
        "/api/render/proxy/lambda",
        json={"sessionId": sid, "draft": TITLE_DRAFT, "output": {"format": "mp3"}},
        headers={"Authorization": f"Bearer {user.token}"},
    )
    assert refused.status_code == 402 and refused.json()["code"] == 402
    assert (
        user.post(
            "/api/render/proxy/lambda",
            json={"sessionId": sid, "draft": TITLE_DRAFT, "output": {"format": "mp3"}},
        ).status_code
        == 200
    )
    short = user.say(sid, "generate a calm lo-fi track, 1-second")
    assert short.status == 403


def test_render_ids_are_per_user_and_never_paths(api: Api) -> None:
    """Two users choosing the same id each get their own render; nothing reveals the other's; ids
    like '..' are refused before anything is stored."""
    alice, bob = api.user(), api.user()
    rid = f"render_{uuid.uuid4().hex}"
    for user in (alice, bob):
        sid = user.new_session()
        body = {"id": rid, "sessionId": sid, "draft": TITLE_DRAFT, "output": {"format": "mp3"}}
        created = user.post("/api/render/proxy/lambda", json=body)
        assert created.status_code == 200, created.text
        assert created.json()["id"] == rid
    assert alice.wait_render(rid)["status"] == "completed"
    assert bob.wait_render(rid)["status"] == "completed"
    a_url = alice.get(f"/api/render/proxy/lambda/{rid}").json()["output"]["url"]
    b_url = bob.get(f"/api/render/proxy/lambda/{rid}").json()["output"]["url"]
    assert a_url != b_url
    sid = alice.new_session()
    for bad in ("..", ".", "../x", "a/b", "-x", "x" * 200):
        refused = alice.post(
            "/api/render/proxy/lambda", json={"id": bad, "sessionId": sid, "draft": TITLE_DRAFT}
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["data"]["field"] == "id"
    poll = alice.get("/api/render/proxy/lambda/.hidden")
    assert poll.status_code == 422 and poll.json()["data"]["field"] == "render_id"
