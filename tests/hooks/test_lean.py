"""The lean poll runner performs the client's own flow: same request, same parser, same recoveries."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from nemo_provider.client import AsyncNemoClient
from nemo_provider.client.errors import NemoConnectionError, NemoError
from nemo_provider.hooks import _pool
from nemo_provider.hooks._lean import lean_render_status

pytestmark = pytest.mark.timeout(30)


def _app(log: list[tuple[str, str | None]]) -> web.Application:
    state = {"token": "nmv_usr_first", "expire_first": True}

    async def token(request: web.Request) -> web.Response:
        log.append(("token", request.headers.get("X-Client-Id")))
        return web.json_response(
            {"code": 0, "data": {"token": state["token"], "user_id": "u1", "credits": 100}}
        )

    async def status(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        log.append(("status", auth))
        if state["expire_first"]:
            state["expire_first"], state["token"] = False, "nmv_usr_second"
            return web.json_response({"code": 1001, "message": "token expired"}, status=401)
        rid = request.match_info["rid"]
        if rid == "render_missing":
            return web.json_response({"code": 404, "message": "no such render"}, status=404)
        body = {"taskId": rid, "status": "processing", "progress": 42, "output": {}}
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/api/auth/anonymous-token", token)
    app.router.add_get("/api/render/proxy/lambda/{rid}", status)
    return app


@pytest_asyncio.fixture
async def server() -> Any:
    log: list[tuple[str, str | None]] = []
    srv = TestServer(_app(log), host="127.0.0.1")
    await srv.start_server()
    yield srv, log
    await srv.close()
    await _pool.aclose_shared_clients()


def _client(base: str) -> AsyncNemoClient:
    http = _pool.shared_http_client(base, 5)
    return AsyncNemoClient(base_url=base, client_id="cid-1", http_client=http)


@pytest.mark.asyncio
async def test_reads_shape_a_and_recovers_an_expired_anonymous_token(server) -> None:
    srv, log = server
    base = str(srv.make_url("")).rstrip("/")
    client = _client(base)
    status = await lean_render_status(client, "render_1")
    assert (status.id, status.status, status.progress) == ("render_1", "processing", 42)
    # token acquired, first poll refused with 1001, new token acquired once, poll repeated with it
    assert [k for k, _ in log] == ["token", "status", "token", "status"]
    assert log[-1][1] == "Bearer nmv_usr_second"
    assert ("token", "cid-1") in log


@pytest.mark.asyncio
async def test_errors_are_the_clients_errors(server) -> None:
    srv, _ = server
    base = str(srv.make_url("")).rstrip("/")
    client = _client(base)
    await lean_render_status(client, "render_1")  # past the scripted 1001
    with pytest.raises(NemoError):
        await lean_render_status(client, "render_missing")


@pytest.mark.asyncio
async def test_network_failure_is_a_connection_error(unused_tcp_port: int) -> None:
    base = f"http://127.0.0.1:{unused_tcp_port}"
    client = AsyncNemoClient(base_url=base, token="nmv_usr_x", http_client=_pool.shared_http_client(base, 2))
    try:
        with pytest.raises(NemoConnectionError):
            await lean_render_status(client, "render_1")
    finally:
        await _pool.aclose_shared_clients()


@pytest.mark.asyncio
async def test_without_a_shared_pool_it_is_the_clients_own_call() -> None:
    class Plain:
        base_url = "http://nowhere.invalid"

        async def render_status(self, render_id: str) -> str:
            return f"client:{render_id}"

    assert await lean_render_status(Plain(), "render_7") == "client:render_7"  # type: ignore[arg-type]
