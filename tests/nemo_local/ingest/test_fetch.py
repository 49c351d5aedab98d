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
from nemo_local.ingest.fetch import fetch_url
from nemo_local.ingest.receive import BadURL
from nemo_local.limits import LimitExceeded, Limits
from nemo_local.quota import QUOTA_CODE, Room
from tests.nemo_local.security.conftest import small_png


class _Handler(http.server.BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hosts.append(self.headers.get("Host", ""))
        if self.path == "/to-internal":
            self.send_response(302)
            port = self.server.server_address[1]  # type: ignore[index]
            self.send_header("Location", f"http://127.0.0.2:{port}/a.png")
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
async def test_a_url_upload_is_counted_against_the_users_room(server: int, tmp_path: Path) -> None:
    """Several URLs of one request share the room; the one that passes it is refused, nothing kept."""
    size = len(small_png())
    room = Room(used=0, limits=Limits(storage_bytes=size + size // 2))
    url = f"http://127.0.0.1:{server}/a.png"
    first = await fetch_url(url, tmp_path, Limits(), allow_private=True, room=room)
    assert first.size == size and room.adding == size
    with pytest.raises(LimitExceeded) as refused:
        await fetch_url(url, tmp_path, Limits(), allow_private=True, room=room, index=1)
    assert refused.value.name == "storage_bytes" and refused.value.code == QUOTA_CODE == 4004
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.path.name]  # noqa: ASYNC240


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


def _tls_files(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (and its key), as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.mark.asyncio
@pytest.mark.parametrize(("served_as", "ok"), [("pinned.test", True), ("someone-else.test", False)])
async def test_https_to_a_pinned_address_still_verifies_the_host_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served_as: str, ok: bool
) -> None:
    """The connection goes to the checked IP, but TLS is verified against the URL's host name (SNI):
    a certificate for another name is refused, so pinning never weakens HTTPS."""
    import ssl

    import httpx

    from nemo_local.ingest import fetch as fetching

    cert, key = _tls_files(tmp_path, served_as)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(cert))  # trust only this test's certificate
    real = httpx.AsyncClient
    monkeypatch.setattr(fetching.httpx, "AsyncClient", lambda **kw: real(**kw, verify=client_ctx))
    port = httpd.server_address[1]
    dest = tmp_path / "got"
    dest.mkdir()
    try:
        fetch = fetch_url(
            f"https://pinned.test:{port}/a.png",
            dest,
            Limits(),
            allow_private=True,
            resolver=lambda host, _port: [ipaddress.ip_address("127.0.0.1")],
        )
        if ok:
            got = await fetch
            assert got.path.read_bytes() == small_png()
        else:
            with pytest.raises(BadURL, match="ConnectError"):
                await fetch
    finally:
        httpd.shutdown()
