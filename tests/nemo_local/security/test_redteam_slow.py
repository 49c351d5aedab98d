"""Red-team finding (slowloris): a request body had no time bound. A client that sent its headers and
then nothing, or a byte now and then, kept its connection, its half-written upload file and its share
of the user's quota for as long as it liked (75 s and counting, three ways at once). A body must now
bring 16 KB (or its end) every --body-idle-seconds (2 s on this server): else 408, connection closed,
nothing kept."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from nemo_local.api.envelope import ERROR_KEYS
from tests.nemo_local.conftest import User
from tests.nemo_local.security.conftest import Client, Hostile, read_http_response, small_png

IDLE_S = 2.0  # SMALL_LIMITS' --body-idle-seconds


def _request(server: Hostile, user: User, path: str, ctype: str, length: int) -> tuple[socket.socket, bytes]:
    parts = urlsplit(server.base_url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {user.token}\r\n"
        f"Content-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    return sock, head


def _answer(sock: socket.socket, started: float) -> tuple[float, int, dict[str, str], dict[str, Any]]:
    """(seconds until the answer began, status, headers, JSON body) of the one response, read by its
    Content-Length; then the connection must be closed (a FIN, or a reset when the server closed with
    unread bytes of ours, as after a drip)."""
    sock.settimeout(20)
    data = sock.recv(65536)
    took = time.monotonic() - started
    status, headers, body = read_http_response(sock, data)
    try:
        rest = sock.recv(65536)
    except ConnectionResetError:
        rest = b""
    assert rest == b"", rest  # closed, nothing more (a timeout here would raise)
    return took, status, headers, json.loads(body)


def _stalled_json(server: Hostile, user: User, sid: str, stop: threading.Event) -> Any:
    sock, head = _request(server, user, "/api/render/proxy/lambda", "application/json", 4000)
    with sock:
        started = time.monotonic()
        sock.sendall(head + f'{{"sessionId": "{sid}", "draft": {{'.encode())
        return _answer(sock, started)


def _upload_start(server: Hostile, user: User, sid: str, name: str) -> tuple[Any, bytes]:
    """A socket with an upload's headers and the start of its one 500 KB file (a PNG) ready to send."""
    path = f"/api/upload-video/nemo_agent/me/{sid}"
    sock, head = _request(server, user, path, "multipart/form-data; boundary=BB", 500_000)
    part = f'--BB\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'.encode()
    return sock, head + part + small_png()


def _stalled_upload(server: Hostile, user: User, sid: str, stop: threading.Event) -> Any:
    sock, start = _upload_start(server, user, sid, "big.png")
    with sock:
        started = time.monotonic()
        sock.sendall(start + b"\0" * 100_000)
        return _answer(sock, started)


def _dripped_upload(server: Hostile, user: User, sid: str, stop: threading.Event) -> Any:
    """A byte every 0.1 s: never idle for long, but far below 16 KB per interval."""
    sock, start = _upload_start(server, user, sid, "drip.png")
    with sock:
        started = time.monotonic()
        sock.sendall(start)

        def drip() -> None:
            while not stop.wait(0.1):
                try:
                    sock.sendall(b"\0")
                except OSError:
                    return

        threading.Thread(target=drip, daemon=True).start()
        return _answer(sock, started)


def test_stalled_and_dripped_bodies_are_cut_off_and_leave_nothing(strict: Client) -> None:
    user = strict.user()
    sids = [user.new_session() for _ in range(3)]
    stop = threading.Event()
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(attack, strict.server, user, sid, stop)
                for attack, sid in zip((_stalled_json, _stalled_upload, _dripped_upload), sids, strict=True)
            ]
            answers = [f.result(timeout=60) for f in futures]
    finally:
        stop.set()
    for took, status, headers, body in answers:
        assert status == 408, body
        assert IDLE_S * 0.9 < took < IDLE_S + 10, took  # cut off at the limit, not never
        assert headers.get("connection") == "close" and headers["content-type"] == "application/json"
        assert tuple(body) == ERROR_KEYS and body["code"] == 408, body  # the one envelope
        assert body["data"]["switch"] == "--body-idle-seconds", body
        assert "stopped coming" in body["message"]
    for sid in sids:  # no half-written upload stays, nothing went on a draft, no render was created
        folder = strict.server.data_dir / "uploads" / sid
        assert not folder.exists() or not [p for p in folder.iterdir() if p.is_file()]
        assert user.state(sid)["state"]["draft"] is None
    assert user.credits()["available"] == 100


def _connect(server: Hostile) -> socket.socket:
    parts = urlsplit(server.base_url)
    return socket.create_connection((parts.hostname, parts.port))


def _half_headers(server: Hostile) -> Any:
    with _connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
        return _answer(sock, started)


def _silent(server: Hostile) -> Any:
    """Connects and never sends a byte: closed, with the same 408."""
    with _connect(server) as sock:
        started = time.monotonic()
        return _answer(sock, started)


def _half_next_request(server: Hostile) -> Any:
    """A complete request, answered on a kept-alive connection, then half of the next one."""
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(20)
        first = b""
        while not first.endswith(b'{"status":"ok"}'):  # the whole first answer, however it is split
            chunk = sock.recv(65536)
            assert chunk, first
            first += chunk
        assert first.startswith(b"HTTP/1.1 200"), first
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")
        return _answer(sock, started)


def test_headers_that_never_end_are_cut_off(strict: Client) -> None:
    """uvicorn has no deadline on request headers: half a request line held a connection for ever."""
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(a, strict.server) for a in (_half_headers, _silent, _half_next_request)]
        answers = [f.result(timeout=60) for f in futures]
    for took, status, headers, body in answers:
        assert status == 408, body
        assert IDLE_S * 0.9 < took < 2 * IDLE_S + 10, took  # one to two intervals
        assert headers["connection"] == "close" and headers["content-type"] == "application/json"
        assert tuple(body) == ERROR_KEYS and body["code"] == 408, body  # the one envelope
        assert body["data"]["field"] == "headers", body
        assert body["data"]["switch"] == "--body-idle-seconds" and "did not arrive" in body["message"]
