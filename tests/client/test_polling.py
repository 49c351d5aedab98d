"""poll_render_status performs the client's own render-status flow on a caller's aiohttp session."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from nemo_provider.client import AsyncNemoClient, poll_render_status
from nemo_provider.client.errors import (
    NemoAuthError,
    NemoConnectionError,
    NemoServerError,
    NemoSessionNotFoundError,
)
from nemo_provider.client.models import AnonymousToken
from tests._helpers import fake_token

pytestmark = pytest.mark.timeout(30)


STALE, FRESH, FIXED = fake_token("stale"), fake_token("fresh"), fake_token("fixed")


@pytest_asyncio.fixture
async def server() -> Any:
    seen: list[tuple[str, str | None]] = []
    state = {"refuse_next": True}

    async def token(request: web.Request) -> web.Response:
        seen.append(("token", request.headers.get("X-Client-Id")))
        return web.json_response({"code": 0, "data": {"token": FRESH, "user_id": "u9"}})

    async def status(request: web.Request) -> web.Response:
        seen.append(("status", request.headers.get("Authorization")))
        if state["refuse_next"]:
            state["refuse_next"] = False
            return web.json_response({"code": 1001, "message": "token expired"}, status=401)
        rid = request.match_info["rid"]
        if rid == "render_busy":
            return web.json_response({"detail": "busy"}, status=503)
        if rid == "render_gone":
            return web.json_response({"code": 1002, "message": "no such session"}, status=404)
        return web.json_response({"taskId": rid, "status": "processing", "progress": 17, "output": {}})

    app = web.Application()
    app.router.add_post("/api/auth/anonymous-token", token)
    app.router.add_get("/api/render/proxy/lambda/{rid}", status)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        yield str(srv.make_url("")).rstrip("/"), seen
    finally:
        await srv.close()


@pytest.mark.asyncio
async def test_adopted_anonymous_token_is_renewed_like_the_clients_own(server) -> None:
    base, seen = server
    client = AsyncNemoClient(base_url=base, client_id="cid-7")
    client.set_anonymous_token(AnonymousToken(token=STALE, user_id="u1"))
    assert client.token_is_anonymous and client.user_id == "u1"
    async with aiohttp.ClientSession() as session:
        status = await poll_render_status(client, session, "render_3")
    await client.aclose()
    assert (status.id, status.status, status.progress) == ("render_3", "processing", 17)
    assert seen == [
        ("status", f"Bearer {STALE}"),
        ("token", "cid-7"),
        ("status", f"Bearer {FRESH}"),
    ]
    assert client.token == FRESH


@pytest.mark.asyncio
async def test_api_errors_are_the_clients_errors(server) -> None:
    base, _ = server
    client = AsyncNemoClient(base_url=base, token=FIXED)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(NemoAuthError):  # a refused configured token is not renewed
            await poll_render_status(client, session, "render_3")
        with pytest.raises(NemoSessionNotFoundError):
            await poll_render_status(client, session, "render_gone")
    await client.aclose()


@pytest.mark.asyncio
async def test_a_5xx_is_raised_at_once_the_poller_polls_again_itself(server) -> None:
    base, seen = server
    client = AsyncNemoClient(base_url=base, token=FIXED)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(NemoAuthError):
            await poll_render_status(client, session, "render_3")  # the server's scripted 1001 first
        seen.clear()
        with pytest.raises(NemoServerError):
            await poll_render_status(client, session, "render_busy")
    await client.aclose()
    assert seen == [("status", f"Bearer {FIXED}")], "sent once: no backoff inside a poll"


@pytest.mark.asyncio
async def test_network_failure_is_a_connection_error_without_the_token(unused_tcp_port: int) -> None:
    secret = fake_token("secret")
    client = AsyncNemoClient(base_url=f"http://127.0.0.1:{unused_tcp_port}", token=secret)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(NemoConnectionError) as caught:
            await poll_render_status(client, session, "render_1")
    await client.aclose()
    assert secret not in str(caught.value)


def test_plain_client_use_does_not_import_aiohttp() -> None:
    code = (
        "import sys; from nemo_provider.client import AsyncNemoClient, NemoClient, poll_render_status;"
        "NemoClient(token='t').close(); print('aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
