"""Hostile media in a draft fails the render with a reason through a real server (never "internal
error"): a picture that declares 20000x20000 pixels, and one that cannot be read. The upload check is the
first line (harden-api's); these pictures stand for files that got past it (an older server, a raised
limit, a file changed on disk), so the renderer must refuse them itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import NemoServer
from tests.nemo_local.conftest import Api
from tests.nemo_local.renderer.helpers import png_header_only


def _stored_copy(data_dir: Path, content: bytes) -> Path:
    found = [p for p in data_dir.rglob("*") if p.is_file() and p.stat().st_size == len(content)]
    found = [p for p in found if p.read_bytes() == content]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(("kind", "reason"), [("huge", "megapixels"), ("broken", "cannot read")])
def test_bad_picture_in_a_draft_fails_with_a_reason(
    nemo_server: NemoServer, media_files: dict[str, Path], tmp_path: Path, kind: str, reason: str
) -> None:
    api = Api(nemo_server)
    try:
        user = api.user()
        sid = user.new_session()
        content = media_files["png"].read_bytes() + kind.encode()  # unique bytes: find our stored copy
        files = [("files", ("still.png", content))]
        assert user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files).status_code == 200
        stored = _stored_copy(nemo_server.data_dir, content)
        if kind == "huge":
            stored.write_bytes(png_header_only(tmp_path / "h.png", 20000, 20000).read_bytes())
        else:
            stored.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100)
        draft = user.state(sid)["state"]["draft"]
        before = user.credits()
        body = {"id": f"render_bad_{kind}", "sessionId": sid, "draft": draft}
        rid = user.post("/api/render/proxy/lambda", json=body).json()["id"]
        result = user.wait_render(rid, timeout=60)
        assert result["status"] == "failed"
        assert reason in result["error"] and "internal error" not in result["error"]
        assert user.credits()["available"] == before["available"]  # a refused render costs nothing
        assert user.get("/healthz").status_code == 200
    finally:
        api.close()
