"""Partial uploads never stay: a client that hangs up mid-upload leaves no file, and a server killed
mid-upload removes the half-written file at its next start (while every completed upload survives)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.nemo_local.conftest import User, wait_for
from tests.nemo_local.security.conftest import Client, Hostile, launch, small_png, stop


def _start_upload(server: Hostile, user: User, sid: str) -> socket.socket:
    """A multipart upload of a PNG that announces 900 KB and sends its first 300 KB, then stalls."""
    png = small_png()
    head = b'--BB\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n\r\n'
    total = len(head) + 900 * 1024 + len(b"\r\n--BB--\r\n")
    parts = urlsplit(server.base_url)
    sock = socket.create_connection((parts.hostname, parts.port))
    request = (
        f"POST /api/upload-video/nemo_agent/me/{sid} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {user.token}\r\nContent-Type: multipart/form-data; boundary=BB\r\n"
        f"Content-Length: {total}\r\n\r\n"
    ).encode()
    sock.sendall(request + head + png + b"\0" * (300 * 1024 - len(png)))
    return sock


def _partials(server: Hostile, sid: str) -> list[Path]:
    folder = server.data_dir / "uploads" / sid
    return [p for p in folder.iterdir() if p.name.endswith("_big.png")] if folder.exists() else []


def test_a_client_hanging_up_mid_upload_leaves_no_file(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    sock = _start_upload(strict.server, user, sid)
    try:
        wait_for(
            "the upload being written", lambda: _partials(strict.server, sid), timeout=15
        )  # the upload is being written...
    finally:
        sock.close()  # ...and the client goes away
    wait_for("the partial file removed", lambda: not _partials(strict.server, sid), timeout=15)
    assert user.state(sid)["state"]["draft"] is None


@pytest.mark.slow
def test_a_server_killed_mid_upload_sweeps_the_partial_file_at_start(tmp_path: Path) -> None:
    server = launch(tmp_path / "data")
    try:
        http = httpx.Client(base_url=server.base_url, timeout=30)
        token = http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "sweep-test"}).json()["data"]
        user = User(http, token["token"], token["user_id"])
        sid = user.new_session()
        kept = user.post(
            f"/api/upload-video/nemo_agent/me/{sid}", files=[("files", ("kept.png", small_png()))]
        )
        assert kept.status_code == 200, kept.text
        kept_url = kept.json()["data"]["files"][0]["cdn_url"]
        sock = _start_upload(server, user, sid)
        wait_for("the upload being written", lambda: _partials(server, sid), timeout=15)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        sock.close()
        assert _partials(server, sid)  # the kill left it behind...
    finally:
        stop(server)
    again = launch(tmp_path / "data")
    try:
        assert not _partials(again, sid)  # ...and the next start removed it
        path = urlsplit(kept_url).path
        assert httpx.get(again.base_url + path).content == small_png()  # the completed upload is intact
        assert "start-up sweep: removed 1" in again.log()
    finally:
        stop(again)
