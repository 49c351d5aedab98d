"""No request can destroy data: render ids like `..` and `.` (which once made the worker's cleanup
remove the whole data dir) are refused before anything is stored; ids are per user, so a 409 never
reveals another user's render; another user's files survive every attack."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.nemo_local.conftest import User
from tests.nemo_local.security.conftest import Client, envelope, small_png

TITLE_DRAFT = {"t": [{"tt": 7, "sg": [{"id": "t1", "s": 0, "d": 1000, "txt": "Hi"}]}], "d": 1000, "m": {}}


def _canary(client: Client) -> tuple[User, str, bytes]:
    """Another user's upload, which must still be served after the attack."""
    owner = client.user()
    sid = owner.new_session()
    png = small_png()
    up = owner.post(f"/api/upload-video/nemo_agent/me/{sid}", files=[("files", ("canary.png", png))])
    assert up.status_code == 200, up.text
    return owner, up.json()["data"]["files"][0]["cdn_url"], png


@pytest.mark.parametrize("rid", ["..", ".", "../..", "./x", "a/../..", "..\\..", "%2e%2e", "\u2025"])
def test_dot_render_ids_are_refused_and_nothing_is_lost(strict: Client, rid: str) -> None:
    _owner, canary_url, png = _canary(strict)
    user = strict.user()
    sid = user.new_session()
    before = user.credits()
    resp = user.post(
        "/api/render/proxy/lambda",
        json={"id": rid, "sessionId": sid, "draft": TITLE_DRAFT, "output": {"format": "mp3"}},
    )
    body = envelope(resp, 422)
    assert body["data"]["field"] == "id" and "render id" in body["message"]
    assert user.credits() == before
    assert httpx.get(canary_url).content == png  # another user's file survived
    assert user.get(f"/api/state/nemo_agent/me/{sid}/latest").status_code == 200


@pytest.mark.parametrize("path", ["/api/render/proxy/lambda/..", "/api/render/proxy/lambda/%2e%2e/cancel"])
def test_dot_ids_in_paths_never_reach_a_render(strict: Client, path: str) -> None:
    user = strict.user()
    # httpx would normalise the dots away; send the raw path
    with httpx.Client(base_url=strict.server.base_url) as raw:
        request = raw.build_request("POST" if path.endswith("cancel") else "GET", "/", headers=user.headers)
        request.url = request.url.copy_with(raw_path=path.encode())
        resp = raw.send(request)
    assert resp.status_code in (404, 422), resp.text
    assert resp.json()["code"] in (404, 422) and "message" in resp.json()


def test_render_ids_are_per_user_and_a_409_says_nothing_about_others(strict: Client) -> None:
    alice, bob = strict.user(), strict.user()
    rid = f"render_{uuid.uuid4().hex[:8]}"
    sessions = {u.user_id: u.new_session() for u in (alice, bob)}
    for user in (alice, bob):
        body = {
            "id": rid,
            "sessionId": sessions[user.user_id],
            "draft": TITLE_DRAFT,
            "output": {"format": "mp3"},
        }
        assert user.post("/api/render/proxy/lambda", json=body).status_code == 200
    again = alice.post(
        "/api/render/proxy/lambda",
        json={
            "id": rid,
            "sessionId": sessions[alice.user_id],
            "draft": TITLE_DRAFT,
            "output": {"format": "mp3"},
        },
    )
    assert envelope(again, 409)["message"].startswith("Duplicate render id: you already have")
    # bob's render is his own: cancelling it leaves alice's untouched
    bob.post(f"/api/render/proxy/lambda/{rid}/cancel")
    assert alice.get(f"/api/render/proxy/lambda/{rid}").json()["status"] != "cancelled"
    assert bob.get(f"/api/render/proxy/lambda/{rid}").json()["taskId"] == rid
    mallory = strict.user()
    assert envelope(mallory.get(f"/api/render/proxy/lambda/{rid}"), 404)["message"].startswith(
        "Render not found"
    )
