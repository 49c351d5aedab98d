"""URL uploads without server-side request forgery: only http(s), never to a non-public address (loopback,
private, link-local, shared, reserved, documentation, multicast, cloud metadata, and the IPv6 forms that
embed one: IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64) unless the operator explicitly allowed it.

The host is resolved once, here, and the connection then goes to the address that was checked (the
caller pins it: see `Target.pinned_url`), so a DNS answer that changes between the check and the
connection (rebinding) cannot redirect the fetch. Every redirect hop is checked the same way.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
MAX_URL_CHARS = 2048

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[Address]]

_BLOCKED = [
    ipaddress.ip_network(n)
    for n in (
        # IPv4 ranges that are not the public internet (is_global misses some of them)
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        # IPv6: all of ::/8 (unspecified, loopback, IPv4-compatible, -mapped and -translated (SIIT,
        # ::ffff:0:0:0/96), which is_global misses), NAT64, discard, Teredo, 6to4, ULA, link-local,
        # site-local, multicast, documentation (old and new), SRv6 SIDs
        "::/8", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2002::/16",
        "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
]  # fmt: skip
_METADATA_ADDRESSES = {"169.254.169.254", "fd00:ec2::254", "100.100.100.200"}


class URLRefused(ValueError):
    """The URL may not be fetched by this server."""


def is_public(addr: Address) -> bool:
    """True only for an address on the public internet, IPv6 forms that embed an IPv4 included."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or (addr.sixtofour if addr.sixtofour else None)
        if embedded is not None and not is_public(embedded):
            return False
        if addr.teredo is not None:
            return False
    if str(addr) in _METADATA_ADDRESSES:
        return False
    if any(addr.version == net.version and addr in net for net in _BLOCKED):
        return False
    return bool(addr.is_global)


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (blocking: call it from a thread)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise URLRefused(f"cannot resolve host {host!r}") from exc
    out: list[Address] = []
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if addr not in out:
            out.append(addr)
    if not out:
        raise URLRefused(f"cannot resolve host {host!r}")
    return out


def redact(url: str) -> str:
    """The URL as it may appear in a log: no query string, fragment or credentials (presigned URLs
    carry their signature in the query)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    shown_host = f"[{host}]" if ":" in host else host
    query = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, shown_host + port, parts.path, "", "")) + query


@dataclass(frozen=True)
class Target:
    """A URL that passed the check, with the address the connection must use."""

    url: str
    parts: SplitResult
    host: str
    port: int
    address: Address

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name (send `host_header` along)."""
        addr = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        default = 443 if self.parts.scheme == "https" else 80
        netloc = addr if self.port == default else f"{addr}:{self.port}"
        return urlunsplit((self.parts.scheme, netloc, self.parts.path or "/", self.parts.query, ""))

    @property
    def host_header(self) -> str:
        default = 443 if self.parts.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """The target of `url`, or URLRefused unless it is http(s) to a public address (any address when the
    operator allowed private ones). Resolves the host once; connect to `Target.address` only."""
    if not isinstance(url, str) or not url.strip():
        raise URLRefused("the URL is empty")
    if len(url) > MAX_URL_CHARS:
        raise URLRefused(f"the URL is longer than {MAX_URL_CHARS} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise URLRefused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        explicit_port = parts.port
    except ValueError as exc:  # "Port out of range", "Invalid IPv6 URL"
        raise URLRefused(f"the URL is malformed ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise URLRefused(f"only http and https URLs can be uploaded, not {parts.scheme or 'no scheme'!r}")
    if not host:
        raise URLRefused("the URL has no host")
    if parts.username or parts.password:
        raise URLRefused("URLs with credentials are refused")
    if host.lower().rstrip(".") in METADATA_HOSTS and not allow_private:
        raise URLRefused("cloud metadata addresses are refused")
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    if port == 0:
        raise URLRefused("the URL's port is 0")
    addresses = resolver(host, port)
    if not allow_private:
        for addr in addresses:
            if not is_public(addr):
                raise URLRefused(f"address {addr} is not public (loopback, private, link-local or metadata)")
    return Target(url, parts, host, port, addresses[0])
