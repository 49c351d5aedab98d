"""Anonymous tokens: 100 credits, 7 days, the same client id gets its token back, per-IP limit, 400."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from tests._helpers import fake_token
from tests.conftest import NemoServer, start_nemo_server, stop_nemo_server


def test_anonymous_token_has_credits_and_a_week(nemo_server: NemoServer) -> None:
    resp = httpx.post(
        f"{nemo_server.base_url}/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["code"] == 0
    data = body["data"]
    assert data["token"].startswith("nmv_usr_")
    assert data["credits"] == 100
    expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - datetime.now(timezone.utc) - timedelta(days=7)) < timedelta(minutes=5)


def test_same_client_id_gets_the_same_token(nemo_server: NemoServer) -> None:
    cid = str(uuid.uuid4())
    url = f"{nemo_server.base_url}/api/auth/anonymous-token"
    first = httpx.post(url, headers={"X-Client-Id": cid}).json()["data"]
    second = httpx.post(url, headers={"X-Client-Id": cid}).json()["data"]
    other = httpx.post(url, headers={"X-Client-Id": str(uuid.uuid4())}).json()["data"]
    assert first["token"] == second["token"]
    assert first["user_id"] == second["user_id"]
    assert other["token"] != first["token"]


def test_missing_client_id_answers_400(nemo_server: NemoServer) -> None:
    resp = httpx.post(f"{nemo_server.base_url}/api/auth/anonymous-token")
    assert resp.status_code == 400
    assert resp.json()["code"] == 400
    too_long = httpx.post(
        f"{nemo_server.base_url}/api/auth/anonymous-token", headers={"X-Client-Id": "x" * 65}
    )
    assert too_long.json()["code"] == 400


def test_per_ip_limit_answers_429_but_returning_clients_still_get_theirs(tmp_path: Path) -> None:
    server = start_nemo_server(tmp_path / "data", "--anon-ip-limit", "2")
    try:
        url = f"{server.base_url}/api/auth/anonymous-token"
        ids = [str(uuid.uuid4()) for _ in range(3)]
        assert httpx.post(url, headers={"X-Client-Id": ids[0]}).status_code == 200
        assert httpx.post(url, headers={"X-Client-Id": ids[1]}).status_code == 200
        refused = httpx.post(url, headers={"X-Client-Id": ids[2]})
        assert refused.status_code == 429
        assert refused.json()["code"] == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert httpx.post(url, headers={"X-Client-Id": ids[0]}).status_code == 200
    finally:
        stop_nemo_server(server)


def test_bad_or_missing_bearer_answers_1001(nemo_server: NemoServer) -> None:
    url = f"{nemo_server.base_url}/api/credits/balance/simple"
    for headers in ({}, {"Authorization": f"Bearer {fake_token('nope')}"}, {"Authorization": "Basic abc"}):
        resp = httpx.get(url, headers=headers)
        assert resp.status_code == 401
        assert resp.json()["code"] == 1001
