"""A trigger's client (``get_async_client(shared=True)``) sends every request on the loop's one aiohttp
session: the same request definitions, parser and recoveries as any AsyncNemoClient, one keep-alive pool.

(The client's own aiohttp runner, ``poll_render_status``, is tested in tests/client/test_polling.py.)
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from nemo_provider.client.errors import NemoConnectionError, is_missing_render
from nemo_provider.hooks import _pool
from nemo_provider.hooks.nemo import NemoHook
from tests._helpers import fake_token

pytestmark = pytest.mark.timeout(60)


FIRST, SECOND = fake_token("first"), fake_token("second")


@pytest_asyncio.fixture
async def service(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A scripted service: the first status read refuses the anonymous token (1001)."""
    log: list[tuple[str, str | None, int]] = []  # (what, auth or client id, client port)
    state = {"token": FIRST, "expire_next": True}

    def port(request: web.Request) -> int:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return int(peer[1]) if peer else -1

    async def token(request: web.Request) -> web.Response:
        log.append(("token", request.headers.get("X-Client-Id"), port(request)))
        data = {"token": state["token"], "user_id": "u1", "credits": 100}
        return web.json_response({"code": 0, "data": data})

    async def status(request: web.Request) -> web.Response:
        log.append(("status", request.headers.get("Authorization"), port(request)))
        if state["expire_next"]:
            state["expire_next"], state["token"] = False, SECOND
            return web.json_response({"code": 1001, "message": "token expired"}, status=401)
        rid = request.match_info["rid"]
        if rid == "render_missing":
            return web.json_response({"code": 404, "message": "Render not found"}, status=404)
        return web.json_response({"taskId": rid, "status": "processing", "progress": 42, "output": {}})

    async def cancel(request: web.Request) -> web.Response:
        log.append(("cancel", request.headers.get("Authorization"), port(request)))
        return web.json_response({"taskId": request.match_info["rid"], "status": "cancelled"})

    app = web.Application()
    app.router.add_post("/api/auth/anonymous-token", token)
    app.router.add_get("/api/render/proxy/lambda/{rid}", status)
    app.router.add_post("/api/render/proxy/lambda/{rid}/cancel", cancel)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    base = str(srv.make_url("")).rstrip("/")
    monkeypatch.setenv(
        "AIRFLOW_CONN_NEMO_POOLED",
        json.dumps({"conn_type": "nemo", "host": base, "extra": {"client_id": "cid-pool-1"}}),
    )
    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    yield base, log
    await _pool.aclose_shared_sessions()
    await srv.close()


@pytest.mark.asyncio
async def test_every_request_of_many_triggers_goes_out_on_one_pool(service, caplog) -> None:
    base, log = service
    clients = [await NemoHook("nemo_pooled").get_async_client(shared=True) for _ in range(3)]
    first = await clients[0].render_status("render_1")  # refused (1001), token renewed, read again
    assert (first.id, first.status, first.progress) == ("render_1", "processing", 42)
    for client in clients:
        await client.render_status("render_2")
    await clients[1].cancel_render("render_2")
    for client in clients:
        await client.aclose()  # leaves the shared pool open
        assert client._session is _pool.shared_session(base)  # the seam under test

    kinds = [k for k, _, _ in log]
    assert kinds[:4] == ["token", "status", "token", "status"], "one token for three triggers, renewed once"
    assert kinds.count("token") == 2 and kinds[-1] == "cancel"
    assert ("token", "cid-pool-1") in [(k, who) for k, who, _ in log]
    assert log[3][1] == f"Bearer {SECOND}", "the refused read is repeated with the new token"
    ports = {p for _, _, p in log}
    assert len(ports) <= _pool.MAX_CONNECTIONS and len(ports) < len(log), "keep-alive: connections reused"
    assert not any(t in r.getMessage() for r in caplog.records for t in (FIRST, SECOND)), (
        "no token in any log line"
    )
    assert _pool.shared_session_count() == 1


@pytest.mark.asyncio
async def test_api_errors_are_the_clients_own(service) -> None:
    client = await NemoHook("nemo_pooled").get_async_client(shared=True)
    await client.render_status("render_1")  # past the scripted 1001
    with pytest.raises(Exception) as caught:
        await client.render_status("render_missing")
    assert is_missing_render(caught.value), caught.value


@pytest.mark.asyncio
async def test_a_network_failure_is_a_connection_error_without_the_token(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fake_token("configured")
    conn = {"conn_type": "nemo", "host": f"http://127.0.0.1:{unused_tcp_port}", "password": token}
    monkeypatch.setenv("AIRFLOW_CONN_NEMO_DOWN", json.dumps(conn))
    client = await NemoHook("nemo_down").get_async_client(shared=True)
    try:
        with pytest.raises(NemoConnectionError) as caught:
            await client.render_status("render_1")
    finally:
        await _pool.aclose_shared_sessions()
    assert token not in str(caught.value)
    assert "render status" in str(caught.value) or "127.0.0.1" in str(caught.value)


def test_the_pooled_clients_logger_is_made_once_per_key_for_the_whole_process() -> None:
    """Bound to no event loop: a loop that ends keeps nothing, and a later loop's clients get the same one."""
    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    key = ("test_pool", object())  # a key of this test's own

    async def get() -> object:
        return _pool.shared_logger(key, make)

    first, second = asyncio.run(get()), asyncio.run(get())
    assert first is second is made[0] and len(made) == 1
    assert _pool.shared_logger(("test_pool", "other"), make) is made[1]
