"""Red-team finding (log flooding): a client hanging up in the middle of its upload was logged as an
unhandled error, with two tracebacks (nemo_local's and uvicorn's, 55 lines) per hang-up; a client
hanging up in a loop filled the log at no cost to itself. It is one INFO line now, and nothing is kept."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from tests.nemo_local.conftest import wait_for
from tests.nemo_local.security.conftest import Client, small_png

HANGUPS = 3


def test_a_client_hanging_up_mid_upload_is_one_info_line(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    parts = urlsplit(strict.server.base_url)
    start = len(strict.server.log())
    path = f"/api/upload-video/nemo_agent/me/{sid}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user.token}\r\n"
        "Content-Type: multipart/form-data; boundary=BB\r\nContent-Length: 900000\r\n\r\n"
    ).encode()
    part = b'--BB\r\nContent-Disposition: form-data; name="files"; filename="h.png"\r\n\r\n' + small_png()
    for _ in range(HANGUPS):
        with socket.create_connection((parts.hostname, parts.port)) as sock:
            sock.sendall(head + part + b"\0" * 50_000)  # then hangs up, 850 KB short
    log = wait_for(
        "the hang-ups in the log",
        lambda: (text := strict.server.log()[start:]).count("client hung up during POST") >= HANGUPS and text,
        timeout=30,
    )
    assert "Traceback" not in log and "unhandled error" not in log and "Exception in ASGI" not in log, log
    folder = strict.server.data_dir / "uploads" / sid
    assert not folder.exists() or not [p for p in folder.iterdir() if p.is_file()]
    assert user.state(sid)["state"]["draft"] is None
