"""Liveness and the OpenAPI document."""

from __future__ import annotations

import httpx

from tests.conftest import NemoServer

CONTRACT_PATHS = {
    ("post", "/api/auth/anonymous-token"),
    ("post", "/api/tasks/me/with-session/nemo_agent"),
    ("post", "/run_sse"),
    ("post", "/api/upload-video/nemo_agent/me/{session_id}"),
    ("get", "/api/credits/balance/simple"),
    ("get", "/api/state/nemo_agent/me/{session_id}/latest"),
    ("post", "/api/render/proxy/lambda"),
    ("get", "/api/render/proxy/lambda/{render_id}"),
    ("post", "/api/render/proxy/lambda/{render_id}/cancel"),
    ("get", "/api/render/proxy/{render_id}/download"),
}


def test_healthz_answers_ok(nemo_server: NemoServer) -> None:
    resp = httpx.get(f"{nemo_server.base_url}/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_openapi_lists_every_contract_endpoint(nemo_server: NemoServer) -> None:
    doc = httpx.get(f"{nemo_server.base_url}/openapi.json").json()
    served = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert served >= CONTRACT_PATHS
    credits = doc["paths"]["/api/credits/balance/simple"]["get"]["responses"]["200"]
    assert "schema" in credits["content"]["application/json"]
    upload = doc["paths"]["/api/upload-video/nemo_agent/me/{session_id}"]["post"]["responses"]
    assert {"200", "401", "404", "413", "415"} <= set(upload)
    sse = doc["paths"]["/run_sse"]["post"]["responses"]
    assert "text/event-stream" in sse["200"]["content"] and {"401", "403", "404", "422"} <= set(sse)
