"""Red-team finding, fixed: a still export drew every title overlay up front and kept them all (a large
1000-character title is ~4 MB of RGBA, so 500 of them held ~1.9 GB for one free export), and cancel was
not looked at while drawing (~18 s for 500). Titles are now drawn when first visible and dropped when
they end, at most --max-titles-at-once are visible at one instant, and cancel is checked per title."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.nemo_local.conftest import User
from tests.nemo_local.peak_memory import render_peak
from tests.nemo_local.security.conftest import Client, Hostile, launch, stop

TITLES = 120
TEXT = ("WWWW " * 200)[:1000]


def test_many_large_titles_do_not_all_stay_in_memory(tmp_path: Path) -> None:
    segs = [
        {"s": i * 100, "d": 100, "txt": TEXT, "m": {"size": "large", "position": "center"}}
        for i in range(TITLES)
    ]
    peak = render_peak({"t": [{"tt": 7, "sg": segs}]}, tmp_path)
    assert abs(peak.duration - TITLES * 0.1) < 0.1
    # measured (VmHWM, 120 titles): 538 MB with every overlay kept, 112 MB drawn when visible
    assert peak.rss_mb < 300, peak


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
    assert user.wait_render(ok, ("completed", "failed", "cancelled"))["status"] == "completed"
    client.http.close()


def test_cancel_is_honoured_while_500_titles_are_drawn(titles_server: Hostile) -> None:
    client = Client(titles_server)
    user = client.user()
    sid = user.new_session()
    rid = _render(user, sid, [_large(i, i * 100, 100) for i in range(500)])
    user.wait_render(rid, ("processing",))
    time.sleep(0.3)  # let it get into the drawing (an early cancel would prove nothing)
    cancelled = time.monotonic()
    resp = user.post(f"/api/render/proxy/lambda/{rid}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled", resp.text
    # the single worker is free again once the cancelled render stopped: a short render then completes
    follow = _render(user, sid, [{"s": 0, "d": 500, "txt": "next"}])
    assert user.wait_render(follow, ("completed", "failed"))["status"] == "completed"
    waited = time.monotonic() - cancelled
    # measured before the fix: ~18 s of drawing after the cancel; now the next title checks it
    assert waited < 8, waited
    assert user.wait_render(rid, ("cancelled",))["status"] == "cancelled"
    titles_server.healthy()
    client.http.close()
