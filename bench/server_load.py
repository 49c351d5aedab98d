"""50 concurrent sessions, each sending a message and polling a render: p50/p99 time to the first SSE
event (target p99 <= 500 ms) and no errors. The 50 users and sessions are opened first; then all 50
send their message at once (a 4-second track each: composing, keep-alives, the tool events), read the
stream to its end, export the result and poll the render to completion. The baseline is the same
measurement for one lone session. The client uses uvloop so that its own overhead (it shares the two
cores with the server) weighs less in what is measured.
Prints ONE JSON line at the end."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_latency import Server

SESSIONS = 50
TARGET_P99_S = 0.5
MESSAGE = "generate an upbeat pop track, 4-second"


async def open_session(http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """A user with a session: set up before the timed part, as sessions exist before users speak."""
    client_id = str(uuid.uuid4())
    token = (await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": client_id})).json()["data"][
        "token"
    ]
    auth = {"Authorization": f"Bearer {token}", "X-Skill-Source": "bench"}
    sid = (await http.post("/api/tasks/me/with-session/nemo_agent", json={}, headers=auth)).json()["data"][
        "session_id"
    ]
    return auth, sid


async def one_session(http: httpx.AsyncClient, index: int, auth: dict[str, str], sid: str) -> dict[str, Any]:
    body = {"session_id": sid, "new_message": {"parts": [{"text": MESSAGE}]}, "streaming": True}
    started = time.perf_counter()
    first: float | None = None
    events = 0
    async with http.stream("POST", "/run_sse", json=body, headers=auth) as resp:
        if resp.status_code != 200:
            raise RuntimeError(f"run_sse answered {resp.status_code}")
        async for line in resp.aiter_lines():
            if line.startswith("data: "):
                events += 1
                if first is None:
                    first = time.perf_counter() - started
    state = (await http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth)).json()["data"]["state"]
    job = (await http.post("/api/render/proxy/lambda", json={"sessionId": sid, "draft": state["draft"],
           "output": {"format": "mp3", "quality": "low"}}, headers=auth)).json()  # fmt: skip
    while True:
        poll = (await http.get(f"/api/render/proxy/lambda/{job['id']}", headers=auth)).json()
        if poll["status"] in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.25)
    if poll["status"] != "completed" or first is None or events < 3:
        raise RuntimeError(f"session {index}: render {poll['status']}, {events} events")
    return {"ttfe": first}


async def run(base: str, n: int) -> tuple[list[float], int]:
    limits = httpx.Limits(max_connections=n * 2, max_keepalive_connections=n * 2)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as http:
        opened = await asyncio.gather(*(open_session(http) for _ in range(n)))
        results = await asyncio.gather(
            *(one_session(http, i, auth, sid) for i, (auth, sid) in enumerate(opened)), return_exceptions=True
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    for err in errors[:3]:
        print(f"error: {err!r}", file=sys.stderr)
    return [r["ttfe"] for r in results if isinstance(r, dict)], len(errors)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="nemo-load-") as tmp:
        server = Server(Path(tmp) / "data")
        try:
            uvloop.run(run(server.url, 1))  # warm the composer pool
            alone, _ = uvloop.run(run(server.url, 1))
            started = time.perf_counter()
            ttfe, errors = uvloop.run(run(server.url, SESSIONS))
            wall = time.perf_counter() - started
        finally:
            server.stop()
    ttfe.sort()
    p50 = statistics.median(ttfe) if ttfe else float("inf")
    p99 = ttfe[min(len(ttfe) - 1, round(0.99 * (len(ttfe) - 1)))] if ttfe else float("inf")
    baseline = alone[0] if alone else float("nan")
    print(f"{SESSIONS} sessions in {wall:.1f} s: TTFE p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
          f"(alone {baseline * 1000:.0f} ms), errors {errors}", file=sys.stderr)  # fmt: skip
    print(json.dumps({"bench": "server_load_ttfe_p99", "value": round(p99, 4), "unit": "s", "target": TARGET_P99_S,
                      "baseline": round(baseline, 4), "ratio": round(p99 / baseline, 2) if baseline else None,
                      "ok": p99 <= TARGET_P99_S and errors == 0 and len(ttfe) == SESSIONS}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
