"""The catch-all: a bug in a route answers an enveloped 500 (the traceback goes to the log only)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from nemo_local.api.app import create_app
from nemo_local.config import ServerConfig


@pytest.mark.asyncio
async def test_an_unexpected_exception_is_an_enveloped_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(ServerConfig(data_dir=tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    # no lifespan: no render worker, no composer pool; the app's re-raise after answering is ignored
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://nemo.test") as client:
        with caplog.at_level(logging.ERROR, logger="nemo_local.api"):
            resp = await client.get("/boom")
        missing = await client.get("/api/render/proxy/lambda/x", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 500
    assert resp.json() == {
        "code": 500,
        "message": "internal error (RuntimeError); see the nemo-local log",
        "data": None,
    }
    assert "secret internals" not in resp.text
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)
    assert missing.status_code == 401 and missing.json()["code"] == 1001
