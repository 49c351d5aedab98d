"""Red-team findings (HTTP/1.1 pipelining): httptools parses a whole read at once, so requests pipelined
behind the one being answered are parsed, each into a request cycle kept in uvicorn's queue, and the
header cap (64 KB) counted only the bytes of a request that began after a response was complete.

- 19 MB of pipelined `GET /healthz` on one connection grew the server from 0.4 to 1.2 GB, kept after
  the connection closed; now more than PIPELINED_REQUESTS queued behind the one being answered are
  dropped, that one completes, then a 503 envelope and the connection closes.
- Headers of a request pipelined behind a download in progress had no bound: 400 MB of them grew the
  server by 450 MB. They are now counted too: the server stops reading at the cap, and the 431 comes
  once the download is complete (written in its middle, it would corrupt it)."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

from nemo_local.limits import HEADER_BYTES, PIPELINED_REQUESTS
from tests.nemo_local.security.conftest import Client, rss_kb

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def _connect(client: Client, rcvbuf: int | None = None) -> socket.socket:
    parts = urlsplit(client.server.base_url)
    sock = socket.socket()
    if rcvbuf is not None:  # a client that reads slowly: the server's response stays in progress
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((parts.hostname, parts.port))
    sock.settimeout(30)
    return sock


class _Reader:
    """Raw HTTP/1.1 responses off one socket, one after the other (bodies by Content-Length)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, bytearray()

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        self.buf += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes] | None:
        """The next response, or None once the server closed the connection."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return None
        end = self.buf.index(b"\r\n\r\n")
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        size = int(headers["content-length"])
        while len(self.buf) < end + 4 + size:
            assert self._fill(), "closed in the middle of a response"
        body = bytes(self.buf[end + 4 : end + 4 + size])
        del self.buf[: end + 4 + size]
        return int(lines[0].split()[1]), headers, body


def _refusal(resp: tuple[int, dict[str, str], bytes] | None, status: int, field: str) -> dict[str, Any]:
    assert resp is not None
    got, headers, body = resp
    assert got == status and headers["content-type"] == "application/json", (got, body[:200])
    assert headers["connection"] == "close"
    data = json.loads(body)
    assert data["code"] == status and data["data"]["field"] == field, data
    return dict(data)


def test_a_few_pipelined_requests_are_all_answered(strict: Client) -> None:
    with _connect(strict) as sock:
        sock.sendall(HEALTHZ * 8)
        reader = _Reader(sock)
        answers = [reader.response() for _ in range(8)]
    assert [a[0] if a else None for a in answers] == [200] * 8


def test_a_flood_of_pipelined_requests_is_cut_off(strict: Client) -> None:
    pid = strict.server.process.pid
    before = rss_kb(pid)
    flood = 20_000  # 700 KB of requests in one write
    with _connect(strict) as sock:
        sock.sendall(HEALTHZ * flood)
        reader = _Reader(sock)
        statuses = []
        while (resp := reader.response()) is not None and resp[0] == 200:
            statuses.append(resp[0])
        body = _refusal(resp, 503, "pipelined requests")
        assert body["data"]["limit"] == PIPELINED_REQUESTS and "pipelined" in body["message"]
        assert reader.response() is None  # then closed
    assert 1 <= len(statuses) < flood // 10  # the queued ones were dropped, not answered
    assert rss_kb(pid) - before < 64 * 1024  # KB: not the ~30 MB that 20,000 queued cycles held
    strict.server.healthy()


def test_headers_pipelined_behind_a_download_are_capped(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    stream = user.say(sid, "make a calm lofi track, 60 seconds")  # ~10 MB of WAV to download
    assert stream.status == 200, stream.body[:300]
    draft = user.state(sid)["state"]["draft"]
    path = urlsplit(draft["t"][0]["sg"][0]["src"]).path
    pid = strict.server.process.pid
    with _connect(strict, rcvbuf=4096) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        reader = _Reader(sock)
        assert reader._fill()  # the download has begun: its response is in progress
        before = rss_kb(pid)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
        sent, limit = 0, 64 * 1024 * 1024
        sock.settimeout(1)  # the server stops reading: the socket buffers fill and a send blocks
        try:
            while sent < limit:
                sock.sendall(line * 1024)
                sent += len(line) * 1024
        except TimeoutError:
            pass
        sock.settimeout(30)
        grew = rss_kb(pid) - before
        assert sent < limit // 4, sent  # read no further than the cap (and the socket buffers)
        assert grew < 32 * 1024, grew  # KB
        download = reader.response()  # the download is whole, then the 431
        assert download is not None and download[0] == 200
        assert len(download[2]) == int(download[1]["content-length"]) > 6 * 1024 * 1024
        body = _refusal(reader.response(), 431, "headers")
        assert body["data"]["limit"] == HEADER_BYTES
    strict.server.healthy()


def _chunked(user: Any, path: str, ctype: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user.token}\r\n"
        f"Content-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()


def test_a_chunked_bodys_trailers_are_capped(strict: Client) -> None:
    """After a chunked body's last chunk come trailers, which httptools and uvicorn keep like headers:
    200 MB of them grew the server by 212 MB (a 408 came only once the idle interval had passed)."""
    user = strict.user()
    pid = strict.server.process.pid
    with _connect(strict) as sock:
        head = _chunked(user, "/api/tasks/me/with-session/nemo_agent", "application/json")
        sock.sendall(head + b"2\r\n{}\r\n0\r\n")
        before = rss_kb(pid)
        line = b"X-Trailer: " + b"a" * 1000 + b"\r\n"
        sent, limit = 0, 64 * 1024 * 1024
        sock.settimeout(1)  # refused: the server reads no more, and a send blocks or is reset
        try:
            while sent < limit:
                sock.sendall(line * 1024)
                sent += len(line) * 1024
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            pass
        sock.settimeout(30)
        assert sent < limit // 4, sent
        assert rss_kb(pid) - before < 32 * 1024  # KB
        body = _refusal(_Reader(sock).response(), 431, "headers")
        assert "trailers" in body["message"]
    strict.server.healthy()


def test_a_chunked_upload_with_a_few_trailers_is_stored(strict: Client) -> None:
    from tests.nemo_local.security.conftest import small_png

    user = strict.user()
    sid = user.new_session()
    part = (
        b'--BB\r\nContent-Disposition: form-data; name="files"; filename="c.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + small_png() + b"\r\n--BB--\r\n"
    )
    path = f"/api/upload-video/nemo_agent/me/{sid}"
    with _connect(strict) as sock:
        head = _chunked(user, path, "multipart/form-data; boundary=BB")
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(part[i : i + 7]), part[i : i + 7]) for i in range(0, len(part), 7)
        )
        sock.sendall(head + chunks + b"0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n")
        resp = _Reader(sock).response()
    assert resp is not None and resp[0] == 200, resp
    assert [f["filename"] for f in json.loads(resp[2])["data"]["files"]] == ["c.png"]
