"""One error envelope: every refusal, whichever layer writes it (a FastAPI handler, the raw-ASGI guard and
fault middlewares, a file response, the HTTP protocol below the app), has the body `error_body` builds,
and nothing in nemo_local builds one by hand (a hand-built copy is how the shapes drifted apart)."""

from __future__ import annotations

import ast
import json
import uuid
from pathlib import Path

import httpx
import pytest

from nemo_local.api.app import create_app
from nemo_local.api.envelope import ERROR_KEYS, error_body, error_bytes
from nemo_local.config import ServerConfig
from nemo_local.limits import replace
from tests.conftest import REPO_ROOT

SOURCE = REPO_ROOT / "nemo_local"
BUILDER = SOURCE / "api" / "envelope.py"


def assert_error_envelope(resp: httpx.Response, status: int, code: int, extra: tuple[str, ...] = ()) -> None:
    """Exactly the envelope's keys (plus `extra`), typed as the contract says, in JSON."""
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/json")
    assert int(resp.headers["content-length"]) == len(resp.content)
    body = resp.json()
    assert tuple(body) == ERROR_KEYS + extra, body
    assert body["code"] == code
    assert isinstance(body["message"], str) and 10 < len(body["message"]) < 1000
    assert body["data"] is None or isinstance(body["data"], dict)


def _dict_keys(node: ast.Dict) -> set[str]:
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def test_no_error_envelope_is_built_by_hand() -> None:
    """Every `{"code": ..., "message": ...}` literal of nemo_local is in the envelope module."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path == BUILDER:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Dict) and {"code", "message"} <= _dict_keys(node):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert not found, f"hand-built error envelopes (use nemo_local.api.envelope.error_body): {found}"


def test_the_bytes_form_is_the_same_envelope() -> None:
    data = {"field": "headers", "limit": 1}
    assert json.loads(error_bytes(431, "too many header bytes", data)) == error_body(
        431, "too many header bytes", data
    )
    assert tuple(error_body(1002, "Session not found: 1", detail="x")) == (*ERROR_KEYS, "detail")


@pytest.fixture
def app_config(tmp_path: Path) -> ServerConfig:
    config = ServerConfig(data_dir=tmp_path)
    config.limits = replace(config.limits, body_bytes=1024)
    return config


@pytest.mark.asyncio
async def test_every_app_level_refusal_has_the_one_shape(app_config: ServerConfig) -> None:
    app = create_app(app_config)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    # no lifespan: no render worker, no composer pool; the app's re-raise after the 500 is ignored
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://nemo.test") as client:
        anon = await client.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())})
        token = anon.json()["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        cases: list[tuple[httpx.Response, int, int, tuple[str, ...]]] = [
            (await client.post("/api/auth/anonymous-token"), 400, 400, ()),  # ApiError
            (await client.get("/api/credits/balance/simple"), 401, 1001, ()),
            (await client.get("/nope", headers=auth), 404, 404, ()),  # Starlette's HTTPException
            (await client.put("/api/render/proxy/lambda", headers=auth), 405, 405, ()),
            (await client.post("/api/render/proxy/lambda", json={}, headers=auth), 422, 422, ()),
            (await client.post("/run_sse", json={}, headers=auth), 422, 422, ("detail",)),
            (
                await client.post(
                    "/run_sse",
                    json={"session_id": "1" * 19, "new_message": {"parts": [{"text": "hi"}]}},
                    headers=auth,
                ),
                404,
                1002,
                ("detail",),
            ),
            # the guard middleware (raw ASGI): a declared length over the body limit
            (
                await client.post(
                    "/api/render/proxy/lambda", content=b"{" + b" " * 4096 + b"}", headers=auth
                ),
                413,
                413,
                (),
            ),
            (await client.get("/boom"), 500, 500, ()),
        ]
        # the fault middleware (raw ASGI)
        app_config.faults.burst_429 = 1
        cases.append((await client.get("/api/credits/balance/simple", headers=auth), 429, 429, ()))
        app_config.faults.error_rate = 1.0
        cases.append((await client.get("/api/credits/balance/simple", headers=auth), 503, 503, ()))
    for resp, status, code, extra in cases:
        assert_error_envelope(resp, status, code, extra)


@pytest.mark.asyncio
async def test_a_user_over_the_session_limit_is_refused_clearly(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path)
    config.limits = replace(config.limits, sessions_per_user=2)
    app = create_app(config)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://nemo.test") as client:
        anon = await client.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())})
        auth = {"Authorization": f"Bearer {anon.json()['data']['token']}"}
        path = "/api/tasks/me/with-session/nemo_agent"
        made = [await client.post(path, json={"task_name": "p"}, headers=auth) for _ in range(3)]
    app.state.nemo.store.close()
    assert [r.status_code for r in made] == [200, 200, 422]
    assert_error_envelope(made[2], 422, 422)
    body = made[2].json()
    assert body["data"] == {"field": "sessions", "limit": 2, "value": 2, "switch": "--max-sessions-per-user"}
    assert "reuse an existing session" in body["message"] and "--max-sessions-per-user" in body["message"]
