"""Red-team finding: a bad Range header on a file or a render download was answered by Starlette in
text/plain (400 "Range header: start must be less than end", an empty 416), outside the envelope every
other error uses. Ranges that make sense are still served as before (206)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.nemo_local.security.conftest import Client, envelope, small_png

BAD = [("bytes=5-1", 400), ("items=0-1", 400), ("bytes=é", 400), ("bytes=999999-", 416), ("bytes=-0", 416)]


@pytest.mark.parametrize(("header", "status"), BAD)
def test_a_bad_range_on_a_file_is_enveloped(strict: Client, header: str, status: int) -> None:
    user = strict.user()
    sid = user.new_session()
    png = small_png()
    up = user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=[("files", ("a.png", png))])
    url = up.json()["data"]["files"][0]["cdn_url"]
    body = envelope(httpx.get(url, headers={"Range": header.encode()}), status)
    assert "Range" in body["message"]
    if status == 416:
        assert str(len(png)) in body["message"]
    part = httpx.get(url, headers={"Range": "bytes=1-4"})
    assert part.status_code == 206 and part.content == png[1:5]
    assert part.headers["content-range"] == f"bytes 1-4/{len(png)}"


def test_a_bad_range_on_a_render_download_is_enveloped(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    rid = f"r_{uuid.uuid4().hex[:8]}"
    draft = {"t": [{"tt": 7, "sg": [{"s": 0, "d": 500, "txt": "x"}]}]}
    made = user.post(
        "/api/render/proxy/lambda",
        json={"id": rid, "sessionId": sid, "draft": draft, "output": {"format": "wav"}},
    )
    assert made.status_code == 200, made.text
    assert user.wait_render(rid)["status"] == "completed"
    path = f"/api/render/proxy/{rid}/download"

    def ranged(header: str) -> httpx.Response:
        return user.http.get(path, headers={**user.headers, "Range": header})

    whole = user.get(path)
    assert whole.status_code == 200 and whole.content.startswith(b"RIFF")
    envelope(ranged("bytes=5-1"), 400)
    body = envelope(ranged(f"bytes={len(whole.content)}-"), 416)
    assert str(len(whole.content)) in body["message"]
    assert ranged("bytes=0-3").content == b"RIFF"
