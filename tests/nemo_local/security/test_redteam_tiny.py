"""Red-team finding: a video export shorter than one frame (a segment of 1 ms) failed deep inside a
pipeline: as "internal error (StopIteration)" for a clip, and with ffmpeg's message for a title, which
named the server's data dir. It now fails at once saying how long a frame is; no path in any error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nemo_local.media import ffmpeg_exe
from tests.nemo_local.security.conftest import Client


def _clip(path: Path) -> bytes:
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=s=160x120:r=30:d=1", "-f", "lavfi",
         "-i", "sine=d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.mark.parametrize(
    ("kind", "fmt", "ms"), [("clip", "mp4", 16), ("clip", "gif", 34), ("title", "mp4", 1)]
)
def test_a_video_export_shorter_than_a_frame_fails_saying_so(
    strict: Client, tmp_path: Path, kind: str, fmt: str, ms: int
) -> None:
    user = strict.user()
    sid = user.new_session()
    if kind == "clip":
        resp = user.post(
            f"/api/upload-video/nemo_agent/me/{sid}", files=[("files", ("c.mp4", _clip(tmp_path / "c.mp4")))]
        )
        assert resp.status_code == 200, resp.text
        seg = {"s": 0, "d": ms, "src": resp.json()["data"]["files"][0]["cdn_url"]}
        tt = 0
    else:
        seg, tt = {"s": 0, "d": ms, "txt": "hello"}, 7
    body = {"sessionId": sid, "draft": {"t": [{"tt": tt, "sg": [seg]}]}, "output": {"format": fmt}}
    resp = user.post("/api/render/proxy/lambda", json=body)
    assert resp.status_code == 200, resp.text
    done = user.wait_render(resp.json()["id"])
    assert done["status"] == "failed"
    assert "shorter than one video frame" in done["error"], done
    assert "internal" not in done["error"] and str(strict.server.data_dir) not in done["error"]
