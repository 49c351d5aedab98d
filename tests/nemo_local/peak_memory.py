"""One render in a child process, reporting the child's own peak memory: what a render thread of the
server would hold, without the (large) pytest process around it. VmHWM, not ru_maxrss: ru_maxrss survives
exec, so it would report the pytest parent's peak."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

_CHILD = """
import json, sys
from pathlib import Path
from nemo_local.renderer import render_draft
work, fmt, quality = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
draft = json.loads((work / "draft.json").read_text())
out = render_draft(draft, work / f"out.{fmt}", fmt=fmt, quality=quality,
                   resolve_media=lambda src: work / src.rsplit("/", 1)[-1])
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"rss_mb": hwm // 1024, "duration": out.duration_s, "size": out.size}))
"""


@dataclass(frozen=True)
class Peak:
    rss_mb: int  # the child's peak resident memory
    duration: float  # of the rendered file, seconds
    size: int  # bytes


def render_peak(
    draft: dict[str, Any],
    work: Path,
    fmt: str = "mp4",
    quality: str = "low",
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> Peak:
    """Render `draft` to `work/out.<fmt>` in a child process; a segment's `src` names a file in `work`
    by its last path part (`/files/x/p1.png` -> `work/p1.png`)."""
    (work / "draft.json").write_text(json.dumps(draft))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(work), fmt, quality],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return Peak(**json.loads(done.stdout.strip().splitlines()[-1]))
