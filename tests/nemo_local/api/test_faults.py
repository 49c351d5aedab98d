"""Each fault switch, flipped through the admin endpoint (and the CLI flags once), does what it says."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests._helpers import fake_token
from tests.conftest import start_nemo_server, stop_nemo_server
from tests.nemo_local.conftest import Api, User

TITLE_DRAFT = {"t": [{"tt": 7, "sg": [{"id": "t1", "s": 0, "d": 1000, "txt": "Hi"}]}], "d": 1000, "m": {}}


def test_admin_endpoint_needs_the_admin_token(fault_api: Api) -> None:
    assert fault_api.http.get("/admin/faults").status_code == 401
    assert (
        fault_api.http.post(
            "/admin/faults", json={"slow_ms": 5}, headers={"X-Admin-Token": "wrong"}
        ).status_code
        == 401
    )
    user = fault_api.user()
    assert fault_api.http.get("/admin/faults", headers={"X-Admin-Token": user.token}).status_code == 401
    got = fault_api.http.get("/admin/faults", headers={"X-Admin-Token": "test-admin-token"}).json()
    assert got["slow_ms"] == 0 and got["render_fail"] is False


def test_429_burst_then_recovery(fault_api: Api) -> None:
    user = fault_api.user()
    fault_api.faults(burst_429=2)
    first, second, third = (user.get("/api/credits/balance/simple") for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.json()["code"] == 429 and first.headers["Retry-After"] == "1"
    assert third.status_code == 200


def test_5xx_rate_is_exact(fault_api: Api) -> None:
    user = fault_api.user()
    fault_api.faults(error_rate=0.5)
    codes = [user.get("/api/credits/balance/simple").status_code for _ in range(10)]
    assert codes.count(503) == 5 and codes.count(200) == 5
    assert fault_api.http.get("/healthz").status_code == 200


def test_slow_responses(fault_api: Api) -> None:
    user = fault_api.user()
    fault_api.faults(slow_ms=400)
    started = time.monotonic()
    assert user.get("/api/credits/balance/simple").status_code == 200
    assert time.monotonic() - started >= 0.4


def test_errors_in_200_keep_the_envelope_code(fault_api: Api) -> None:
    fault_api.faults(errors_in_200=True)
    bad = {"Authorization": f"Bearer {fake_token('bad')}"}
    resp = fault_api.http.get("/api/credits/balance/simple", headers=bad)
    assert resp.status_code == 200 and resp.json()["code"] == 1001
    user = fault_api.user()
    sse = user.say("1111111111111111111", "hello")
    assert sse.status == 200 and json.loads(sse.body)["code"] == 1002
    missing = fault_api.http.post("/api/auth/anonymous-token")
    assert missing.status_code == 200 and missing.json()["code"] == 400


def test_expire_tokens_now(fault_api: Api) -> None:
    user = fault_api.user()
    assert user.get("/api/credits/balance/simple").status_code == 200
    applied = fault_api.faults(expire_tokens_now=True)["applied"]
    assert applied["tokens_expired"] >= 1
    resp = user.get("/api/credits/balance/simple")
    assert resp.status_code == 401 and resp.json()["code"] == 1001 and "expired" in resp.json()["message"]
    assert fault_api.user().get("/api/credits/balance/simple").status_code == 200


def test_lose_sessions_now(fault_api: Api) -> None:
    user = fault_api.user()
    sid = user.new_session()
    fault_api.faults(lose_sessions_now=True)
    resp = user.get(f"/api/state/nemo_agent/me/{sid}/latest")
    assert resp.status_code == 404 and resp.json()["code"] == 1002
    assert user.new_session() != sid


def test_sse_cut_mid_way(fault_api: Api) -> None:
    user = fault_api.user()
    sid = user.new_session()
    fault_api.faults(sse_cut_after=2)
    events = []
    body = {"session_id": sid, "new_message": {"parts": [{"text": "hello there"}]}, "streaming": True}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        user.http.stream("POST", "/run_sse", json=body, headers=user.headers) as resp,
    ):
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("data: "):
                events.append(line)
    assert len(events) == 2


def test_render_fail(fault_api: Api) -> None:
    user = fault_api.user()
    sid = user.new_session()
    fault_api.faults(render_fail=True)
    created = user.post(
        "/api/render/proxy/lambda",
        json={"id": f"render_{uuid.uuid4().hex}", "sessionId": sid, "draft": TITLE_DRAFT},
    )
    assert created.status_code == 200 and created.json()["status"] == "pending"
    body = user.wait_render(created.json()["id"], {"failed", "completed"}, timeout=30)
    assert body["status"] == "failed" and "injected" in body["error"]


def test_render_stuck_until_cancelled(fault_api: Api) -> None:
    user = fault_api.user()
    sid = user.new_session()
    fault_api.faults(render_stuck=True)
    rid = user.post("/api/render/proxy/lambda", json={"sessionId": sid, "draft": TITLE_DRAFT}).json()["id"]
    body = user.wait_render(rid, {"processing"})
    assert body["progress"] < 100
    cancelled = user.post(f"/api/render/proxy/lambda/{rid}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert user.wait_render(rid, {"cancelled"})["status"] == "cancelled"


def test_render_shape_b(fault_api: Api) -> None:
    user = fault_api.user()
    sid = user.new_session()
    fault_api.faults(render_shape_b=True, render_fail=True)
    rid = user.post("/api/render/proxy/lambda", json={"sessionId": sid, "draft": TITLE_DRAFT}).json()["id"]
    body = user.wait_render(rid, {"failed"})
    assert body["success"] is True
    assert set(body["data"]) >= {"id", "status", "progress", "outputUrl", "createdAt", "completedAt"}
    assert body["data"]["id"] == rid and "taskId" not in body


def test_cli_flags_set_the_switches_and_one_shot_faults(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_nemo_server(data)
    try:
        api = Api(server)
        user = api.user()
        sid = user.new_session()
    finally:
        stop_nemo_server(server)
    flags = ["--fault-429-burst", "1", "--fault-5xx-rate", "0.25", "--fault-slow-ms", "10", "--fault-sse-cut-after", "3",
             "--fault-render-fail", "--fault-render-stuck", "--fault-errors-in-200", "--fault-render-shape-b",
             "--fault-expire-tokens", "--fault-lose-sessions"]  # fmt: skip
    server = start_nemo_server(data, *flags)
    try:
        api = Api(server)
        got = api.http.get("/admin/faults", headers={"X-Admin-Token": "test-admin-token"}).json()
        assert got == {"burst_429": 1, "error_rate": 0.25, "slow_ms": 10, "sse_cut_after": 3, "render_fail": True,
                       "render_stuck": True, "errors_in_200": True, "render_shape_b": True}  # fmt: skip
        api.faults(burst_429=0, error_rate=0.0)
        expired = User(api.http, user.token, user.user_id).get("/api/credits/balance/simple")
        assert expired.status_code == 200 and expired.json()["code"] == 1001
        fresh = api.user()
        lost = fresh.get(f"/api/state/nemo_agent/me/{sid}/latest")
        assert lost.json()["code"] == 1002
    finally:
        stop_nemo_server(server)
