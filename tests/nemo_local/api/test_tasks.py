"""Sessions: numeric ids, owned by their token's user; another user's session answers 1002."""

from __future__ import annotations

from tests.nemo_local.conftest import Api


def test_create_session_returns_numeric_id_and_ids(api: Api) -> None:
    user = api.user()
    resp = user.post("/api/tasks/me/with-session/nemo_agent", json={"task_name": "demo", "language": "zh"})
    data = resp.json()["data"]
    assert resp.json()["code"] == 0
    assert data["session_id"].isdigit() and 18 <= len(data["session_id"]) <= 20
    assert data["task_id"]
    assert data["user_id"] == user.user_id
    state = user.state(data["session_id"])
    assert state["task_name"] == "demo"
    assert state["state"]["draft"] is None


def test_two_users_are_isolated(api: Api) -> None:
    alice, bob = api.user(), api.user()
    sid = alice.new_session()
    for resp in (
        bob.get(f"/api/state/nemo_agent/me/{sid}/latest"),
        bob.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": ["https://example.com/a.mp4"]}),
        bob.post(
            "/api/render/proxy/lambda",
            json={"sessionId": sid, "draft": {"t": [{"tt": 7, "sg": [{"txt": "x"}]}]}},
        ),
    ):
        assert resp.status_code == 404
        assert resp.json()["code"] == 1002
    sse = bob.say(sid, "hello")
    assert sse.status == 404
    assert alice.state(sid)["session_id"] == sid


def test_unknown_session_answers_1002(api: Api) -> None:
    user = api.user()
    resp = user.get("/api/state/nemo_agent/me/1234567890123456789/latest")
    assert resp.status_code == 404
    assert resp.json()["code"] == 1002
