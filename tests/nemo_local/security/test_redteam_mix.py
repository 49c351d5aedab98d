"""Red-team findings in the audio mix: many segments over one short upload once made every segment keep
its own decoded copy (a loop copy of up to 60 s, or its whole clip buffered ahead for a fade-out), so one
free export of 500 overlapping segments asked for ~12 GB. The mix now shares one loop budget and finds a
faded clip's end by a counting pass."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np

from nemo_local.media import ffmpeg_exe
from nemo_local.renderer.mixdown import SAMPLE_RATE, mix_timeline
from nemo_local.renderer.timeline import parse_draft
from tests._helpers import wait_render
from tests.nemo_local.conftest import User
from tests.nemo_local.security.conftest import Client, rss_kb

SECONDS = 59  # just under the 60 s a looped source may be kept in memory
SEGMENTS = 20  # the hostile server's --max-segments


def _mp3(path: Path) -> bytes:
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", f"sine=f=440:d={SECONDS}", "-b:a", "32k",
         str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def test_many_segments_over_one_short_upload_keep_the_server_small(strict: Client, tmp_path: Path) -> None:
    user = strict.user()
    sid = user.new_session()
    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}", files=[("files", ("tone.mp3", _mp3(tmp_path / "t.mp3")))]
    )
    assert resp.status_code == 200, resp.text
    url = resp.json()["data"]["files"][0]["cdn_url"]
    ms = SECONDS * 1000
    half = SEGMENTS // 2
    # one segment first, so the renderer's imports (numpy, scipy, PyAV) are in the baseline
    warm = {"t": [{"tt": 1, "sg": [{"s": 0, "d": 1000, "src": url}]}]}
    assert _render_peak(strict, user, sid, warm)[0] == "completed"
    draft = {
        "t": [
            {"tt": 1, "sg": [{"s": 0, "d": ms, "src": url, "v": 0.01} for _ in range(half)]},
            # clip sound with a fade-out as long as the clip: it used to be buffered whole, ahead
            {"tt": 0, "sg": [{"s": 0, "d": ms, "src": url, "v": 0.01, "fo": ms} for _ in range(half)]},
        ]
    }
    status, before, peak = _render_peak(strict, user, sid, draft)
    assert status == "completed"
    # before the fix: ~25 MB per looped segment and ~21 MB per faded clip, ~450 MB for these 20
    assert (peak - before) < 150 * 1024, (before, peak)


def _render_peak(strict: Client, user: User, sid: str, draft: dict[str, Any]) -> tuple[str, int, int]:
    """(final status, server RSS before, peak RSS while rendering) in kB."""
    pid = strict.server.process.pid
    before = rss_kb(pid)
    resp = user.post(
        "/api/render/proxy/lambda",
        json={"sessionId": sid, "draft": draft, "output": {"format": "mp3", "quality": "low"}},
    )
    assert resp.status_code == 200, resp.text
    rid = resp.json()["id"]
    peaks = [before]
    done = wait_render(user, rid, timeout=180, on_poll=lambda body: peaks.append(rss_kb(pid)))
    return str(done["status"]), before, max(peaks)


def _tone(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(SAMPLE_RATE)
        fh.writeframes((0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())
    return path


def test_a_clip_shorter_than_its_slot_still_fades_out_at_its_own_end(tmp_path: Path) -> None:
    """The counting pass must find the clip's real end: the fade reaches silence there, not at the slot's."""
    src = _tone(tmp_path / "a.wav", 1.0)
    draft = {"t": [{"tt": 0, "sg": [{"s": 0, "d": 3000, "src": "x", "fo": 400}]}], "d": 3000}
    mix = mix_timeline(parse_draft(draft), lambda _: src)
    sr = SAMPLE_RATE
    assert np.abs(mix[int(0.3 * sr) : int(0.5 * sr)]).max() > 0.4  # full level before the fade
    assert np.abs(mix[sr - 200 : sr]).max() < 0.01  # the fade-out ends in silence at the clip's end
    assert np.abs(mix[sr:]).max() == 0.0
