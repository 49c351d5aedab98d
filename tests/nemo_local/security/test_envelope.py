"""Every failure is an enveloped answer naming what was wrong: FastAPI's own `{"detail": ...}` errors,
bodies that are not JSON, not UTF-8 or nested too deep, unknown routes (also with `%2F`), truncated
multipart bodies and malformed URLs; never a traceback or a plain-text 500."""

from __future__ import annotations

import httpx
import pytest

from tests.nemo_local.security.conftest import Client, envelope, small_png

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"[" * 100_000, 400, "JSON"),
        (b'{"sessionId": "\xff\xfe", "draft": {}}', 400, "UTF-8"),
        (b'{"sessionId": ', 422, "not valid JSON"),
        (b'{"sessionId": "1", "draft": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", 400, "nested"),
        (b"null", 422, "invalid request"),
        (b'{"draft": []}', 422, "sessionId"),
    ],
)
def test_unreadable_bodies_are_enveloped(strict: Client, body: bytes, status: int, words: str) -> None:
    user = strict.user()
    resp = user.post("/api/render/proxy/lambda", content=body, headers=JSON)
    assert words in envelope(resp, status)["message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/render/proxy/lambda/a%2Fb", 404),
        ("GET", "/api/state/nemo_agent/me/1%2F..%2F2/latest", 404),
        ("GET", "/nope", 404),
        ("DELETE", "/healthz", 405),
        ("PUT", "/api/render/proxy/lambda", 405),
    ],
)
def test_routing_errors_are_enveloped(strict: Client, method: str, path: str, status: int) -> None:
    user = strict.user()
    with httpx.Client(base_url=strict.server.base_url) as raw:
        request = raw.build_request(method, "/", headers=user.headers)
        request.url = request.url.copy_with(raw_path=path.encode())
        resp = raw.send(request)
    body = envelope(resp, status)
    assert "detail" not in body


def test_sse_validation_keeps_adk_detail_beside_the_envelope(strict: Client) -> None:
    user = strict.user()
    resp = user.post("/run_sse", json={"app_name": "nemo_agent"})
    body = envelope(resp, 422)
    assert isinstance(body["detail"], list) and "session_id" in body["message"]


def test_a_truncated_multipart_body_leaves_nothing(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    png = small_png()
    before = strict.server.files()
    raw = b'--XX\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n' + png[:40]
    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        content=raw,
        headers={"Content-Type": "multipart/form-data; boundary=XX"},
    )
    assert "truncated" in envelope(resp, 422)["message"]
    assert strict.server.files() == before
    assert user.state(sid)["state"]["draft"] is None
    garbage = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        content=b"not multipart at all",
        headers={"Content-Type": "multipart/form-data; boundary=XX"},
    )
    assert garbage.status_code in (200, 422) and garbage.json()["code"] in (422,)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/",
        "http://[::1/",
        "http://[::1]:0/a.png",
        "http://" + "a" * 3000 + ".com/",
        "http://exa mple.com/a.png",
        "javascript:alert(1)",
        "",
    ],
)
def test_malformed_urls_are_refused_clearly(strict: Client, url: str) -> None:
    user = strict.user()
    sid = user.new_session()
    resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [url]})
    body = envelope(resp, 422, 4003)
    assert body["message"].startswith("URL refused")


def test_a_non_latin1_multipart_header_is_refused_clearly(strict: Client) -> None:
    """It used to raise inside the multipart parser (a plain-text 500)."""
    user = strict.user()
    sid = user.new_session()
    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        content=b"--\xc3\xa9\r\n",
        headers={"Content-Type": b"multipart/form-data; boundary=\xc3\xa9"},  # type: ignore[dict-item]
    )
    assert resp.status_code in (415, 422), resp.text
    assert resp.json()["code"] in (4001, 422) and "Traceback" not in resp.text
