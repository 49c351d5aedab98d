"""URL fetching connects to the address that was checked (DNS is asked once per hop, and the host name
never reaches the HTTP client), and every redirect hop is checked again."""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from nemo_local.ingest import urls
from nemo_local.ingest.receive import BadURL, fetch_url
from nemo_local.limits import Limits
from tests.nemo_local.security.conftest import small_png


class _Handler(http.server.BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hosts.append(self.headers.get("Host", ""))
        if self.path == "/to-internal":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{self.server.server_address[1]}/a.png")
            self.end_headers()
            return
        body = small_png()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.hosts.clear()
    yield int(httpd.server_address[1])
    httpd.shutdown()


@pytest.mark.asyncio
async def test_the_connection_goes_to_the_checked_address(server: int, tmp_path: Path) -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[urls.Address]:
        asked.append(host)  # a rebinding DNS would answer differently the second time: there is none
        return [ipaddress.ip_address("127.0.0.1")]

    got = await fetch_url(
        f"http://rebind.invalid:{server}/a.png", tmp_path, Limits(), allow_private=True, resolver=resolver
    )
    assert got.path.read_bytes() == small_png() and got.filename == "a.png"
    assert asked == ["rebind.invalid"]  # resolved once; `.invalid` never resolves, so httpx did not
    assert _Handler.hosts == [f"rebind.invalid:{server}"]


@pytest.mark.asyncio
async def test_each_redirect_hop_is_checked(
    server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.1 stands in for a public address, 127.0.0.2 for an internal one."""
    monkeypatch.setattr(urls, "is_public", lambda addr: str(addr) == "127.0.0.1")
    with pytest.raises(BadURL, match=r"127\.0\.0\.2 is not public"):
        await fetch_url(f"http://127.0.0.1:{server}/to-internal", tmp_path, Limits(), allow_private=False)
    assert len(_Handler.hosts) == 1  # the internal hop was never connected to
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 (a test assertion)


@pytest.mark.parametrize(
    ("addr", "public"),
    [
        ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("::1", False),
        ("2002:7f00:1::", False), ("2002:808:808::", False),  # all of 6to4: deprecated, and a relay hop
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False), ("100.64.1.1", False),
        ("192.0.2.1", False), ("198.51.100.7", False), ("fd00:ec2::254", False), ("::", False),
    ],
)  # fmt: skip
def test_is_public(addr: str, public: bool) -> None:
    assert urls.is_public(ipaddress.ip_address(addr)) is public


def test_redact_drops_query_and_credentials() -> None:
    assert urls.redact("https://u:p@h.example/a/b.mp4?sig=1#x") == "https://h.example/a/b.mp4?…"
    assert urls.redact("http://[::1/") == "<unparseable URL>"
