"""Red-team finding: a still-picture export fitted every distinct picture to the canvas before encoding
anything and kept them all (6-8 MB each at 1080p: 60 pictures +460 MB, 500 pictures ~3.8 GB of server
memory, with cancel unread meanwhile). Pictures are now fitted when their scenes are drawn, the last
16 kept.

Run in a child process so its peak memory is its own (the renderer is what the server's render thread
runs; a 500-picture draft through the API would need 500 uploads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

PICTURES = 60
CHILD = """
import json, sys
from pathlib import Path
from PIL import Image
from nemo_local.renderer import render_draft
work, n = Path(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    Image.new("RGB", (64, 36), (i * 4, 90, 200 - i * 3)).save(work / f"p{i}.png")
segs = [{"s": i * 200, "d": 200, "src": f"/files/x/p{i}.png"} for i in range(n)]
out = render_draft({"t": [{"tt": 0, "sg": segs}]}, work / "out.mp4", fmt="mp4", quality="low",
                   resolve_media=lambda src: work / src.rsplit("/", 1)[1])
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would report the (large) pytest parent's peak
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"rss_mb": hwm // 1024,
                  "duration": out.duration_s}))
"""


def test_many_distinct_pictures_do_not_all_stay_in_memory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(PICTURES)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert abs(result["duration"] - PICTURES * 0.2) < 0.1
    # all 60 fitted at once: ~590 MB; at most 16 kept: ~240 MB
    assert result["rss_mb"] < 400, result
