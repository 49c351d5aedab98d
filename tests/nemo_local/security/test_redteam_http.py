"""Red-team findings below the ASGI app (uvicorn with httptools):

- Headers had no size cap: a million 1 KB headers (1 GB) were accepted in 1.6 s and grew the server by
  1.1 GB, kept after the request (a few such requests and the machine is out of memory). The request
  line and headers may now hold limits.HEADER_BYTES (64 KB): more is answered 431 and closed.
- A request uvicorn could not parse (a negative Content-Length, both Content-Length and
  Transfer-Encoding, a NUL in the path) was answered in text/plain, outside the envelope.
- Connections were not capped below the open-file limit (see the last test)."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from nemo_local.limits import HEADER_BYTES
from tests.nemo_local.conftest import wait_for
from tests.nemo_local.security.conftest import Client, Hostile, launch, read_http_response, rss_kb, stop

MB = 1024 * 1024
OPEN_FILES = 512  # the flooded server's open-file limit (its cap is then 384 connections)


def _connect(server: Hostile) -> socket.socket:
    parts = urlsplit(server.base_url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.settimeout(20)
    return sock


def _response(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One whole response (by its Content-Length), read before the server resets the connection."""
    status, headers, body = read_http_response(sock)
    return status, headers, json.loads(body)


def test_headers_over_64_kb_are_a_431_in_the_envelope(strict: Client) -> None:
    with _connect(strict.server) as sock:
        headers = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(HEADER_BYTES // 1000 + 8))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        status, head, body = _response(sock)
    assert status == 431 and head["connection"] == "close" and head["content-type"] == "application/json"
    assert body["code"] == 431 and body["data"]["field"] == "headers" and "64 KB" in body["message"]


def test_a_flood_of_headers_does_not_grow_the_server(strict: Client) -> None:
    pid = strict.server.process.pid
    before = rss_kb(pid)
    line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
    flood = line * 1024  # 1 MB per send
    with _connect(strict.server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sent = [0]

        def push() -> None:
            try:
                for _ in range(200):  # 200 MB of headers, unless the server stops reading first
                    sock.sendall(flood)
                    sent[0] += 1
            except OSError:
                pass

        pusher = threading.Thread(target=push, daemon=True)
        started = time.monotonic()
        pusher.start()
        status, _, body = _response(sock)
        pusher.join(30)
    assert status == 431 and body["code"] == 431
    assert sent[0] < 50, sent  # the server stopped reading near the cap, not after 200 MB
    assert time.monotonic() - started < 10
    assert rss_kb(pid) - before < 32 * 1024, (before, rss_kb(pid))  # all of it kept: +220 MB
    strict.server.healthy()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /api/render/proxy/lambda HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
        b"POST /api/render/proxy/lambda HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /api/render/proxy/lambda/a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
    ids=["negative-length", "length-and-chunked", "nul-in-path", "http2-preface"],
)
def test_an_unparsable_request_is_a_400_in_the_envelope(strict: Client, request_bytes: bytes) -> None:
    with _connect(strict.server) as sock:
        sock.sendall(request_bytes)
        status, head, body = _response(sock)
    assert status == 400 and head["content-type"] == "application/json" and head["connection"] == "close"
    assert body["code"] == 400 and body["message"].startswith("The request is not valid HTTP/1.1")


def test_a_connection_flood_is_refused_before_the_server_runs_out_of_files(tmp_path: Path) -> None:
    """Red-team finding: one client held 19,000 idle connections against a 20,000 open-file limit; at the
    limit the server can open nothing (database, uploads, ffmpeg). Past limits.connection_cap of its
    limit, a new connection is answered 503 and closed at once, and the server keeps working."""
    from nemo_local.limits import connection_cap

    server = launch(tmp_path / "data", open_files=OPEN_FILES)
    flood: list[socket.socket] = []
    try:
        for _ in range(connection_cap(OPEN_FILES) + 40):
            sock = _connect(server)
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # half a request, held open
            flood.append(sock)
        with _connect(server) as late:
            late.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, head, body = _response(late)
        assert status == 503 and head["content-type"] == "application/json", body
        assert body["code"] == 503 and body["data"]["limit"] == connection_cap(OPEN_FILES)
        for sock in flood:
            sock.close()
        flood.clear()
        # the flood gone, the server answers again, and it could still open its files meanwhile
        wait_for("the server answering again", lambda: _healthz(server), timeout=20)
        server.healthy()
        assert "Too many open files" not in server.log()
    finally:
        for sock in flood:
            sock.close()
        stop(server)


def _healthz(server: Hostile) -> bool:
    try:
        return httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
