"""Renders against a real server: cancel stops ffmpeg and frees the disk within seconds; a SIGKILLed
server leaves no child process behind, and the next server on the data dir sweeps its leftovers."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import NemoServer, start_nemo_server, stop_nemo_server
from tests.nemo_local.conftest import Api, User, wait_for

BOUND_S = 10.0  # "within seconds", generous for a loaded 2-core machine


def _living(procs: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def _ffmpegs(server: NemoServer) -> list[psutil.Process]:
    try:
        kids = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in _living(kids) if "ffmpeg" in p.name()]


def _long_render(user: User, clip: Path, render_id: str) -> str:
    """A 5-minute portrait export of a small clip: minutes of x264 work, so it is surely mid-encode."""
    sid = user.new_session()
    files = [("files", ("clip.mp4", clip.read_bytes()))]
    assert user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files).status_code == 200
    draft = user.state(sid)["state"]["draft"]
    segment = draft["t"][0]["sg"][0]
    segment["d"] = 300_000
    draft["t"][0]["sg"] = [segment]
    draft["d"] = 300_000
    draft["m"] = {**(draft.get("m") or {}), "width": 1080, "height": 1920}
    body = {"id": render_id, "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
    response = user.post("/api/render/proxy/lambda", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _status(user: User, rid: str) -> dict[str, Any]:
    return dict(user.get(f"/api/render/proxy/lambda/{rid}").json())


def test_cancel_mid_encode_stops_ffmpeg_and_removes_the_job_folder(
    tmp_path: Path, media_files: dict[str, Path]
) -> None:
    server = start_nemo_server(tmp_path / "data")
    try:
        user = Api(server).user("cancel-client")
        rid = _long_render(user, media_files["video"], "render_cancel_long")
        encoders = wait_for("ffmpeg encoding", lambda: _ffmpegs(server), timeout=60)
        job_dirs = [p for p in (server.data_dir / "renders").iterdir() if p.is_dir()]
        assert len(job_dirs) == 1 and any(job_dirs[0].rglob("*"))
        assert user.post(f"/api/render/proxy/lambda/{rid}/cancel").status_code == 200
        wait_for("ffmpeg gone", lambda: not _living(encoders), timeout=BOUND_S)
        wait_for("job folder removed", lambda: not job_dirs[0].exists(), timeout=BOUND_S)
        assert _status(user, rid)["status"] == "cancelled"
        assert user.get("/healthz").status_code == 200
    finally:
        stop_nemo_server(server)


def test_sigkilled_server_leaves_no_child_and_restart_cleans_up(
    tmp_path: Path, media_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    server = start_nemo_server(data)
    user = Api(server).user("kill-client")
    rid = _long_render(user, media_files["video"], "render_kill_long")
    wait_for("ffmpeg encoding", lambda: _ffmpegs(server), timeout=60)

    def ffmpeg_and_composers() -> list[psutil.Process]:
        kids = _living(psutil.Process(server.process.pid).children(recursive=True))
        names = [p.name() for p in kids]
        return kids if any("ffmpeg" in n for n in names) and any("python" in n for n in names) else []

    kids = wait_for("ffmpeg and composer workers running", ffmpeg_and_composers, timeout=60)
    record = data / "run" / "children"
    assert any(record.glob("*.json")), "running children are recorded in the data dir"
    work_dirs = [p for p in (data / "renders").glob("*/work/*") if p.is_dir()]
    assert work_dirs
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    wait_for("no child outlives the server", lambda: not _living(kids), timeout=BOUND_S)

    # leftovers of the crash (and of older runs) the next start must remove
    ghost = data / "renders" / "ghost_render"
    (ghost / "work").mkdir(parents=True)
    (ghost / "work" / "frame.yuv").write_bytes(b"\0" * 1024)
    orphan = subprocess.Popen(["sleep", "60"])  # stands for a child that escaped the death signal
    try:
        from nemo_local.media import children

        started = children.start_time(orphan.pid)
        (record / f"{orphan.pid}-{started}.json").write_text(
            json.dumps(
                {"pid": orphan.pid, "start": started, "kind": "ffmpeg", "server_pid": server.process.pid}
            )
        )
        server = start_nemo_server(data)
        try:
            assert orphan.wait(timeout=BOUND_S) == -signal.SIGKILL
            assert not ghost.exists()
            assert all(not p.exists() for p in work_dirs)
            user = Api(server).user("kill-client")
            body = wait_for("the interrupted render resumes", lambda: _status(user, rid), timeout=5)
            assert body["status"] in ("pending", "processing")
            assert user.post(f"/api/render/proxy/lambda/{rid}/cancel").status_code == 200
            wait_for(
                "resumed render cancelled and cleaned",
                lambda: not any((data / "renders").iterdir()),
                timeout=BOUND_S,
            )
        finally:
            stop_nemo_server(server)
    finally:
        orphan.kill()
        orphan.wait()
