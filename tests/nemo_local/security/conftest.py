"""Hostile-input fixtures: real nemo_local servers on 127.0.0.1 with small limits (so every limit can be
crossed in milliseconds), their logs captured to a file (so tests can read what was logged), and a local
HTTP server that misbehaves on purpose (drips bytes, redirects forever, serves presigned-looking URLs)."""

from __future__ import annotations

import http.server
import io
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from nemo_local.api.envelope import ERROR_KEYS
from tests.conftest import REPO_ROOT
from tests.nemo_local.conftest import ADMIN, User

# The limits the hostile server runs with; tests cross each of them.
SMALL_LIMITS = {
    "--max-body-mb": "1",
    "--max-message-kb": "16",
    "--max-upload-mb": "1",
    "--max-upload-files": "3",
    "--max-filename-chars": "100",
    "--max-picture-mp": "4",
    "--max-tracks": "5",
    "--max-segments": "20",
    "--max-export-seconds": "60",
    "--url-fetch-seconds": "2",
    "--url-max-redirects": "2",
    "--body-idle-seconds": "2",
    "--max-renders-per-user": "1",
    "--max-generations-per-user": "1",
}
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Hostile:
    """A server of the security suite: its URL, data dir, process and log file."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def files(self) -> set[Path]:
        """Every file under the folders requests write to directly (uploads, media, tmp). Not renders/:
        renders of earlier tests may still be running there, and a refused render is checked through
        the API (it does not exist)."""
        out: set[Path] = set()
        for folder in ("uploads", "media", "tmp"):
            out |= {p for p in (self.data_dir / folder).rglob("*") if p.is_file()}
        return out

    def healthy(self) -> None:
        resp = httpx.get(f"{self.base_url}/healthz", timeout=5)
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
        assert self.process.poll() is None
        assert (self.data_dir / "nemo_local.sqlite3").is_file() and (self.data_dir / "secret.key").is_file()


def launch(data_dir: Path, *args: str, timeout: float = 60.0, open_files: int | None = None) -> Hostile:
    """A server on `data_dir` with `args`; `open_files` lowers its open-file limit (RLIMIT_NOFILE)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}.log"
    log_fh = log_path.open("wb")
    cmd = [
        sys.executable, "-m", "nemo_local", "serve", "--host", "127.0.0.1", "--port", "0",
        "--data-dir", str(data_dir), "--admin-token", ADMIN, *args,
    ]  # fmt: skip

    if open_files is not None:  # set in the child itself, then exec the server (no preexec_fn)
        limit = (
            "import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({n}, {n})); "
            "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
        ).format(n=int(open_files))
        cmd = [sys.executable, "-c", limit, *cmd[1:]]
    proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    log_fh.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            server = Hostile(match.group(1), data_dir, proc, log_path)
            server.healthy()
            return server
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nemo-local did not start:\n" + log_path.read_text(errors="replace"))


def stop(server: Hostile) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


def _limit_args() -> list[str]:
    return [x for pair in SMALL_LIMITS.items() for x in pair]


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """Small limits, the SSRF check on (no --allow-private-urls)."""
    root = tmp_path_factory.mktemp("nemo-hostile")
    server = launch(root / "data", *_limit_args())
    yield server
    stop(server)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """Small limits and --allow-private-urls, so URL uploads can reach the misbehaving local server."""
    root = tmp_path_factory.mktemp("nemo-loopback")
    server = launch(root / "data", *_limit_args(), "--allow-private-urls")
    yield server
    stop(server)
    shutil.rmtree(root, ignore_errors=True)


class Client:
    """httpx against one server, users made on demand."""

    def __init__(self, server: Hostile) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=60)

    def user(self) -> User:
        resp = self.http.post("/api/auth/anonymous-token", headers={"X-Client-Id": str(uuid.uuid4())})
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        return User(self.http, data["token"], data["user_id"])

    def faults(self, **switches: Any) -> None:
        resp = self.http.post("/admin/faults", json=switches, headers={"X-Admin-Token": ADMIN})
        assert resp.status_code == 200, resp.text


@pytest.fixture
def strict(hostile: Hostile) -> Iterator[Client]:
    client = Client(hostile)
    before = hostile.files()
    yield client
    hostile.healthy()
    client.http.close()
    # no partial file may stay behind (accepted uploads are the tests' own business)
    assert not {p for p in hostile.files() - before if p.suffix in (".partial", ".tmp")}


@pytest.fixture
def lenient(loopback: Hostile) -> Iterator[Client]:
    client = Client(loopback)
    yield client
    loopback.healthy()
    client.http.close()


def envelope(resp: httpx.Response, status: int, code: int | None = None) -> dict[str, Any]:
    """The response is the enveloped error it should be: JSON {code, message, data}, never a traceback."""
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers["content-type"].startswith("application/json"), resp.text[:200]
    body = resp.json()
    # exactly the one envelope's keys (nemo_local.api.envelope.error_body), ADK's `detail` beside them
    assert tuple(k for k in body if k != "detail") == ERROR_KEYS, body
    assert body["data"] is None or isinstance(body["data"], dict), body
    assert body["code"] == (status if code is None else code), body
    assert "Traceback" not in resp.text
    assert isinstance(body["message"], str) and 10 < len(body["message"]) < 1000
    return dict(body)


def read_http_response(sock: Any, data: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of one raw HTTP response on ``sock``, the body read to its
    Content-Length (``data``: what was already received)."""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` but carries one row of data: its header reads instantly,
    decoding it would need width x height bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * min(width, 1024))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def small_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 200, 10)).save(buf, "PNG")
    return buf.getvalue()


BOMB_MB = 256


def gzip_bomb() -> bytes:
    """A PNG's signature and BOMB_MB MB of zeros, gzipped twice: about 600 bytes, sent with
    `Content-Encoding: gzip, gzip` (a client that decodes it holds the whole BOMB_MB MB at once)."""
    import gzip
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\x00" * (16 * 1024 * 1024)
    inner = [packer.compress(b"\x89PNG\r\n\x1a\n")]
    inner += [packer.compress(zeros) for _ in range(BOMB_MB // 16)]
    inner.append(packer.flush())
    return gzip.compress(b"".join(inner), 9)


class _Misbehaving(http.server.BaseHTTPRequestHandler):
    """/ok.png, /drip (a byte every 0.3 s, for ever), /loop (redirects to itself), /to-internal
    (redirects to 127.0.0.2), /big (more than the upload limit), /bomb.png (gzip_bomb, whatever the
    request's Accept-Encoding); records the Host headers it saw."""

    seen_hosts: ClassVar[list[str]] = []
    bomb: ClassVar[bytes | None] = None

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen_hosts.append(self.headers.get("Host", ""))
        path = self.path.split("?", 1)[0]
        if path == "/bomb.png":
            if _Misbehaving.bomb is None:
                _Misbehaving.bomb = gzip_bomb()
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip, gzip")
            self.send_header("Content-Length", str(len(_Misbehaving.bomb)))
            self.end_headers()
            self.wfile.write(_Misbehaving.bomb)
        elif path == "/ok.png":
            body = small_png()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/drip":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(small_png()[:16])
            try:
                for _ in range(200):
                    time.sleep(0.3)
                    self.wfile.write(b"\x00")
                    self.wfile.flush()
            except OSError:
                pass
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        elif path == "/big":
            self.send_response(200)
            self.end_headers()
            try:
                self.wfile.write(small_png()[:16])
                for _ in range(64):
                    self.wfile.write(b"\x00" * 65536)
            except OSError:
                pass
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture(scope="session")
def bad_host() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


__all__ = ["Client", "Hostile", "envelope", "png_header", "rss_kb", "small_png"]
