"""Red-team finding, fixed: a still export drew every title overlay up front and kept them all (a large
1000-character title is ~4 MB of RGBA, so 500 of them held ~1.9 GB for one free export), and cancel was
not looked at while drawing (~18 s for 500). Titles are now drawn when first visible and dropped when
they end, at most --max-titles-at-once are visible at one instant, and cancel is checked per title."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._helpers import wait_render
from tests.conftest import REPO_ROOT
from tests.nemo_local.conftest import User
from tests.nemo_local.security.conftest import Client, Hostile, launch, stop

TITLES = 120
TEXT = ("WWWW " * 200)[:1000]
CHILD = """
import json, sys
from pathlib import Path
from nemo_local.renderer import render_draft
work, n = Path(sys.argv[1]), int(sys.argv[2])
text = ("WWWW " * 200)[:1000]
segs = [{"s": i * 100, "d": 100, "txt": text, "m": {"size": "large", "position": "center"}} for i in range(n)]
out = render_draft({"t": [{"tt": 7, "sg": segs}]}, work / "out.mp4", fmt="mp4", quality="low",
                   resolve_media=lambda src: Path(src))
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would report the (large) pytest parent's peak
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"rss_mb": hwm // 1024,
                  "duration": out.duration_s}))
"""


def test_many_large_titles_do_not_all_stay_in_memory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(TITLES)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert abs(result["duration"] - TITLES * 0.1) < 0.1
    # measured (VmHWM, 120 titles): 538 MB with every overlay kept, 112 MB drawn when visible
    assert result["rss_mb"] < 300, result


@pytest.fixture(scope="module")
def titles_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """Default limits (500 segments) and --max-titles-at-once 4."""
    root = tmp_path_factory.mktemp("nemo-titles")
    server = launch(root / "data", "--max-titles-at-once", "4", "--render-workers", "1")
    yield server
    stop(server)
    shutil.rmtree(root, ignore_errors=True)


def _render(user: User, sid: str, segs: list[dict[str, Any]]) -> str:
    body = {
        "id": f"r_{uuid.uuid4().hex[:8]}",
        "sessionId": sid,
        "draft": {"t": [{"tt": 7, "sg": segs}]},
        "output": {"format": "mp4", "quality": "low"},
    }
    resp = user.post("/api/render/proxy/lambda", json=body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def _large(i: int, start_ms: int, dur_ms: int) -> dict[str, Any]:
    return {"id": f"t{i}", "s": start_ms, "d": dur_ms, "txt": TEXT, "m": {"size": "large"}}


def test_more_titles_at_once_than_the_limit_fail_naming_it(titles_server: Hostile) -> None:
    client = Client(titles_server)
    user = client.user()
    sid = user.new_session()
    segs = [_large(i, i * 10, 1000) for i in range(5)]  # all 5 overlap at 40 ms
    before = user.credits()
    refused = user.post(
        "/api/render/proxy/lambda",
        json={"sessionId": sid, "draft": {"t": [{"tt": 7, "sg": segs}]}, "output": {"format": "mp4"}},
    )
    assert refused.status_code == 422, refused.text  # refused at creation, before any work
    message = refused.json()["message"]
    assert "titles visible at one instant" in message and "--max-titles-at-once" in message
    assert user.credits() == before
    ok = _render(user, sid, [_large(i, i * 10, 1000) for i in range(4)])  # 4 at once: within it
    assert wait_render(user, ok, ("completed", "failed", "cancelled"))["status"] == "completed"
    client.http.close()


def test_cancel_is_honoured_while_500_titles_are_drawn(titles_server: Hostile) -> None:
    client = Client(titles_server)
    user = client.user()
    sid = user.new_session()
    rid = _render(user, sid, [_large(i, i * 100, 100) for i in range(500)])
    wait_render(user, rid, ("processing",))
    time.sleep(0.3)  # let it get into the drawing (an early cancel would prove nothing)
    cancelled = time.monotonic()
    resp = user.post(f"/api/render/proxy/lambda/{rid}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled", resp.text
    # the single worker is free again once the cancelled render stopped: a short render then completes
    follow = _render(user, sid, [{"s": 0, "d": 500, "txt": "next"}])
    assert wait_render(user, follow, ("completed", "failed"))["status"] == "completed"
    waited = time.monotonic() - cancelled
    # measured before the fix: ~18 s of drawing after the cancel; now the next title checks it
    assert waited < 8, waited
    assert wait_render(user, rid, ("cancelled",))["status"] == "cancelled"
    titles_server.healthy()
    client.http.close()
