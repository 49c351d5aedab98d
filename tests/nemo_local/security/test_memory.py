"""Memory ceilings: a 300 MB body, streamed as JSON or as an upload of one huge file, is cut off at
its limit without the server's memory growing with it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.nemo_local.security.conftest import Client, rss_kb, small_png

MB = 1024 * 1024
SENT = 300 * MB


def _stream(head: bytes, tail: bytes, total: int = SENT) -> Iterator[bytes]:
    yield head
    chunk = b"a" * MB
    for _ in range(total // MB):
        yield chunk
    yield tail


def _post(
    user_http: httpx.Client, path: str, content: Iterator[bytes], headers: dict[str, str]
) -> int | None:
    """The status of the answer, or None when the server answered and closed while we were sending."""
    try:
        return user_http.post(path, content=content, headers=headers, timeout=120).status_code
    except httpx.HTTPError:
        return None


@pytest.mark.slow
def test_a_300_mb_json_body_does_not_grow_the_server(strict: Client) -> None:
    user = strict.user()
    pid = strict.server.process.pid
    before = rss_kb(pid)
    status = _post(
        user.http,
        "/api/render/proxy/lambda",
        _stream(b'{"sessionId":"1","draft":{"x":"', b'"}}'),
        {**user.headers, "Content-Type": "application/json"},
    )
    assert status in (413, None)
    assert rss_kb(pid) - before < 64 * 1024, (before, rss_kb(pid))


@pytest.mark.slow
def test_a_300_mb_upload_does_not_grow_the_server_or_the_disk(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    pid = strict.server.process.pid
    before, files = rss_kb(pid), strict.server.files()
    head = b'--BB\r\nContent-Disposition: form-data; name="files"; filename="huge.png"\r\n\r\n' + small_png()
    status = _post(
        user.http,
        f"/api/upload-video/nemo_agent/me/{sid}",
        _stream(head, b"\r\n--BB--\r\n"),
        {**user.headers, "Content-Type": "multipart/form-data; boundary=BB"},
    )
    assert status in (413, None)
    assert rss_kb(pid) - before < 64 * 1024, (before, rss_kb(pid))
    assert strict.server.files() == files
    assert user.state(sid)["state"]["draft"] is None
