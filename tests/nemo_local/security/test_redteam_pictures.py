"""Red-team finding: a still-picture export fitted every distinct picture to the canvas before encoding
anything and kept them all (6-8 MB each at 1080p: 60 pictures +460 MB, 500 pictures ~3.8 GB of server
memory, with cancel unread meanwhile). Pictures are now fitted when their scenes are drawn, the last
16 kept.

Run in a child process so its peak memory is its own (the renderer is what the server's render thread
runs; a 500-picture draft through the API would need 500 uploads)."""

from __future__ import annotations

from pathlib import Path

from tests.nemo_local.peak_memory import render_peak

PICTURES = 60


def test_many_distinct_pictures_do_not_all_stay_in_memory(tmp_path: Path) -> None:
    from PIL import Image

    for i in range(PICTURES):
        Image.new("RGB", (64, 36), (i * 4, 90, 200 - i * 3)).save(tmp_path / f"p{i}.png")
    segs = [{"s": i * 200, "d": 200, "src": f"/files/x/p{i}.png"} for i in range(PICTURES)]
    peak = render_peak({"t": [{"tt": 0, "sg": segs}]}, tmp_path, timeout=240)
    assert abs(peak.duration - PICTURES * 0.2) < 0.1
    # all 60 fitted at once: ~590 MB; at most 16 kept: ~240 MB
    assert peak.rss_mb < 400, peak
