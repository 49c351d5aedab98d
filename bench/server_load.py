"""50 concurrent sessions, each sending a message and polling a render: p50/p99 time to the first SSE
event (target p99 <= 500 ms) and no errors. The 50 users and sessions are opened first; then all 50
send their message at once (a 4-second track each: composing, keep-alives, the tool events), read the
stream to its end, export the result and poll the render to completion. The baseline is the same
measurement for one lone session. The client shares the two cores with the server, so the timed
part is lean: the 50 requests are pre-built and written back to back on raw connections, and each
response is read as bytes (httpx is used for everything else).
Prints ONE JSON line at the end."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

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


@dataclass
class RawRequest:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    payload: bytes


async def raw_sse(host: str, port: int, auth: dict[str, str], sid: str) -> RawRequest:
    """A connection with the /run_sse request ready to go: the timed part only writes and reads bytes,
    so the 50 requests leave at once and the client's own overhead stays out of what is measured."""
    reader, writer = await asyncio.open_connection(host, port)
    body = json.dumps(
        {"session_id": sid, "new_message": {"parts": [{"text": MESSAGE}]}, "streaming": True}
    ).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in auth.items())
    request = (
        f"POST /run_sse HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n{head}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    return RawRequest(reader, writer, request)


async def read_stream(raw: RawRequest, started: float) -> tuple[float | None, int, int]:
    """(time to the first `data:` event, events seen, HTTP status) for one response read to its end."""
    first: float | None = None
    events = 0
    status = 0
    buffer = b""
    while True:
        chunk = await raw.reader.read(65536)
        if not chunk:
            break
        if first is None and b"data: " in buffer + chunk:
            first = time.perf_counter() - started
        buffer += chunk
    if buffer.startswith(b"HTTP/1.1 "):
        status = int(buffer[9:12])
    events = buffer.count(b"\ndata: ")
    raw.writer.close()
    return first, events, status


async def export_and_poll(http: httpx.AsyncClient, auth: dict[str, str], sid: str) -> str:
    state = (await http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth)).json()["data"]["state"]
    job = (await http.post("/api/render/proxy/lambda", json={"sessionId": sid, "draft": state["draft"],
           "output": {"format": "mp3", "quality": "low"}}, headers=auth)).json()  # fmt: skip
    while True:
        poll = (await http.get(f"/api/render/proxy/lambda/{job['id']}", headers=auth)).json()
        if poll["status"] in ("completed", "failed", "cancelled"):
            return str(poll["status"])
        await asyncio.sleep(0.25)


async def run(base: str, n: int) -> tuple[list[float], int]:
    limits = httpx.Limits(max_connections=n * 2, max_keepalive_connections=n * 2)
    url = httpx.URL(base)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as http:
        opened = await asyncio.gather(*(open_session(http) for _ in range(n)))
        ready = await asyncio.gather(*(raw_sse(url.host, url.port or 80, auth, sid) for auth, sid in opened))
        reads = []
        for raw in ready:  # all requests leave back to back
            started = time.perf_counter()
            raw.writer.write(raw.payload)
            reads.append(read_stream(raw, started))
        streamed = await asyncio.gather(*reads, return_exceptions=True)
        renders = await asyncio.gather(
            *(export_and_poll(http, auth, sid) for auth, sid in opened), return_exceptions=True
        )
    ttfe: list[float] = []
    errors = 0
    for i, (got, render) in enumerate(zip(streamed, renders, strict=True)):
        if (
            isinstance(got, BaseException)
            or got[0] is None
            or got[2] != 200
            or got[1] < 3
            or render != "completed"
        ):
            errors += 1
            if errors <= 3:
                print(f"session {i}: stream {got!r}, render {render!r}", file=sys.stderr)
            continue
        ttfe.append(got[0])
    return ttfe, errors


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
